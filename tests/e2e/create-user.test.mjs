// Journey 4 of issue 2: an operator creates a user who can then sign in. admin opens 用户管理 → 新建用户,
// submits the form empty and then half filled (GOV.UK error summary, one message per field, typed values
// kept), then correctly; the new civil servant signs in in a fresh browser context and is told that the
// account has no roles yet; secadmin grants 经办人 and the new user's workbench no longer says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../api/lib/server.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import {
	backend,
	USERS,
	t,
	visit,
	clickAndWait,
	pathOf,
	signIn,
	signOut,
	h1,
	flashText,
	sideNav,
	errorSummary,
	checkErrorSummary,
	optionValue,
	Findings,
} from './lib/pages.mjs';

// A journey that hangs (a navigation that never comes) fails instead of blocking the run.
const TIMEOUT = 90_000;
let srv;
let browser;

before(async () => {
	srv = await startServer({ backend });
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
});

const NEW_USER = {
	login: 'zhaoyu.e2e',
	name: '赵宇',
	password: 'Lanhua#2026go',
	org: '贵阳市发展和改革委员会',
	phone: '13800009901',
	email: 'zhaoyu@example.gov.cn',
};

test(`admin creates a civil servant who can then sign in; secadmin grants 经办人 (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const admin = await newPage(browser);
	let userId;
	try {
		await signIn(admin, srv.url, USERS.admin);
		const nav = await sideNav(admin);
		assert.ok(nav.sections['系统管理'], `admin's side navigation: ${JSON.stringify(nav)}`);
		await clickAndWait(admin, admin.locator('nav.side-nav').getByRole('link', { name: '用户管理', exact: true }));
		assert.equal(pathOf(admin), '/admin/users');
		assert.equal(await h1(admin), '用户管理');
		await findings.axe(admin, 'the user list');

		await clickAndWait(admin, admin.locator('main').getByRole('link', { name: '新建用户', exact: true }));
		assert.equal(pathOf(admin), '/admin/users/new');
		assert.equal(await h1(admin), '新建用户');
		assert.equal(await errorSummary(admin), null);
		const form = admin.locator('main form[action="/admin/users/new"]');
		const create = form.getByRole('button', { name: '创建用户', exact: true });
		assert.equal(
			await form.getByLabel('用户类型').inputValue(),
			'civil_servant',
			'机关工作人员 is preselected'
		);
		await findings.axe(admin, 'the new-user form');

		// 1. Empty: every required field says what is missing, and the summary lists them all.
		let res = await clickAndWait(admin, create);
		assert.ok(res.status() >= 400 && res.status() < 500, `an empty form answered ${res.status()}`);
		assert.equal(pathOf(admin), '/admin/users/new');
		assert.match(await admin.title(), /^错误：新建用户 - /);
		let { summary, errs } = await checkErrorSummary(admin, findings, 'the new-user form submitted empty');
		assert.equal(summary.focused, true, 'focus is on the error summary');
		const empty = Object.fromEntries(errs.map((e) => [e.id, e.message]));
		tc.diagnostic(`errors for an empty form: ${JSON.stringify(empty)}`);
		// An empty required field says that it is required (rule.required, "请填写{label}"), as on
		// /account/password, not that its format is wrong or that it is too short.
		for (const [id, label] of [
			['f-login', '登录名'],
			['f-name', '姓名'],
			['f-password', '初始密码'],
			['f-org_id', '所属机构'],
		]) {
			assert.ok(id in empty || id === 'f-org_id', `${id} left empty is not reported: ${JSON.stringify(empty)}`);
			findings.expect(
				empty[id] === `请填写${label}`,
				`the new-user form submitted empty: ${id} (${label}) says ${JSON.stringify(empty[id] ?? null)}, ` +
					`expected "请填写${label}"`
			);
		}
		await findings.axe(admin, 'the new-user form with errors (empty)');

		// 2. Half filled: the typed values come back, the passwords do not, only the rest is in error.
		await form.getByLabel('姓名', { exact: true }).fill(NEW_USER.name);
		await form.getByLabel('联系电话').fill(NEW_USER.phone);
		await form.getByLabel('电子邮箱').fill(NEW_USER.email);
		await form.getByLabel('初始密码').fill(NEW_USER.password);
		await form.getByLabel('再次输入新密码').fill('Different#2026x');
		res = await clickAndWait(admin, create);
		assert.ok(res.status() >= 400 && res.status() < 500, `a half-filled form answered ${res.status()}`);
		({ summary, errs } = await checkErrorSummary(admin, findings, 'the new-user form, half filled'));
		assert.equal(await form.getByLabel('姓名', { exact: true }).inputValue(), NEW_USER.name);
		assert.equal(await form.getByLabel('联系电话').inputValue(), NEW_USER.phone);
		assert.equal(await form.getByLabel('电子邮箱').inputValue(), NEW_USER.email);
		assert.equal(await form.getByLabel('用户类型').inputValue(), 'civil_servant');
		assert.equal(await form.getByLabel('初始密码').inputValue(), '', 'passwords are never sent back');
		assert.equal(await form.getByLabel('再次输入新密码').inputValue(), '');
		const ids = errs.map((e) => e.id);
		assert.ok(!ids.includes('f-name'), `姓名 was given: ${JSON.stringify(errs)}`);
		assert.ok(!ids.includes('f-phone') && !ids.includes('f-email'), JSON.stringify(errs));
		assert.ok(ids.includes('f-password_again'), `the passwords differ: ${JSON.stringify(errs)}`);
		assert.equal(errs.find((e) => e.id === 'f-password_again').message, '两次输入的密码不一致');
		// GOV.UK: every problem at once, so that one correction round is enough.
		for (const [id, label] of [
			['f-login', '登录名'],
			['f-org_id', '所属机构'],
		])
			findings.expect(
				ids.includes(id),
				`the new-user form, half filled (no 登录名, no 所属机构, passwords differ): ${id} (${label}) is ` +
					`not reported, only ${JSON.stringify(errs.map((e) => [e.id, e.message]))}`
			);
		await findings.axe(admin, 'the new-user form with errors (half filled)');

		// 3. Correct: login, name, kind 机关工作人员, an organisation, the password twice.
		await form.getByLabel('登录名').fill(NEW_USER.login);
		await form.getByLabel('姓名', { exact: true }).fill(NEW_USER.name);
		await form.getByLabel('用户类型').selectOption({ label: '机关工作人员' });
		const orgSelect = form.getByLabel('所属机构');
		await orgSelect.selectOption(await optionValue(orgSelect, NEW_USER.org));
		await form.getByLabel('初始密码').fill(NEW_USER.password);
		await form.getByLabel('再次输入新密码').fill(NEW_USER.password);
		res = await clickAndWait(admin, create);
		assert.equal(res.status(), 200);
		const m = /^\/admin\/users\/(\d+)$/.exec(pathOf(admin));
		assert.ok(m, `after creating we are at ${admin.url()}`);
		userId = m[1];
		assert.equal(await flashText(admin), '用户已创建。');
		assert.equal((await admin.locator('h1').innerText()).replace(/\s+/g, ' ').trim(), `${NEW_USER.name} ${NEW_USER.login}`);
		const dl = admin.locator('main dl.summary');
		assert.match(await dl.innerText(), /机关工作人员/);
		assert.match(await dl.innerText(), new RegExp(NEW_USER.org));
		assert.match(await dl.locator('div', { hasText: '角色' }).locator('dd').innerText(), /暂无/);
		await findings.axe(admin, 'the new user\'s page');
	} finally {
		await admin.context().close();
	}

	// The new user, in a fresh browser context: the workbench, with no roles yet.
	const user = await newPage(browser);
	try {
		await signIn(user, srv.url, NEW_USER);
		assert.equal(await h1(user), '工作台');
		assert.equal((await user.locator('main .lead').innerText()).trim(), '您好，' + NEW_USER.name);
		assert.equal(await user.getByText(t('workbench.no_roles'), { exact: true }).count(), 1, 'says: no roles yet');
		await findings.axe(user, 'the workbench of a user without roles');

		// secadmin grants 经办人 at the user's department.
		const sec = await newPage(browser);
		try {
			await signIn(sec, srv.url, USERS.secadmin);
			await visit(sec, srv.url, '/admin/users?q=' + encodeURIComponent(NEW_USER.login));
			await clickAndWait(sec, sec.locator('main table').getByRole('link', { name: NEW_USER.login, exact: true }));
			assert.equal(pathOf(sec), `/admin/users/${userId}`);
			const roles = sec.locator('main form[action$="/roles"]');
			await roles.getByLabel('增加角色').selectOption({ label: '经办人' });
			const scope = roles.getByLabel('授权范围');
			await scope.selectOption(await optionValue(scope, NEW_USER.org));
			await findings.axe(sec, 'the user page as secadmin');
			await clickAndWait(sec, roles.getByRole('button', { name: '保存角色', exact: true }));
			assert.equal(pathOf(sec), `/admin/users/${userId}`);
			assert.equal(await flashText(sec), '角色已保存。');
			assert.deepEqual(
				(await sec.locator('main dl.summary .tag').allInnerTexts()).map((s) => s.trim()),
				[`经办人 @ ${NEW_USER.org}`]
			);
			await findings.axe(sec, 'the user page after granting a role');
			await signOut(sec);
		} finally {
			await sec.context().close();
		}

		// The same session of the new user now has a role: no more "no roles" hint; 我的工作 is there.
		await visit(user, srv.url, '/workbench');
		assert.equal(await user.getByText(t('workbench.no_roles'), { exact: true }).count(), 0);
		const nav = await sideNav(user);
		assert.deepEqual(
			nav.sections['我的工作']?.map((l) => l.text),
			['工作台', '我的待办', '发起办件', '消息通知', '本单位监察', '我的证书', '修改密码'],
			JSON.stringify(nav)
		);
		// 经办人 may read organisations
		assert.deepEqual(nav.sections['系统管理']?.map((l) => l.text), ['机构管理'], JSON.stringify(nav));
		await findings.axe(user, 'the workbench of the new 经办人');
	} finally {
		await user.context().close();
	}
	findings.assertNone();
});

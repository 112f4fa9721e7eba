// Journey 5 of issue 2: the administration pages render what they should and pass axe-core — users
// (search, one user), organisations (the tree, the new-organisation form) as admin; roles and one role as
// secadmin; the audit records, one record and the chain verification as auditor; changing one's own
// password; the 404 page, and the 403 page a clerk gets for /admin/users.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../api/lib/server.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import {
	backend,
	USERS,
	visit,
	clickAndWait,
	pathOf,
	signIn,
	signOut,
	submitLogin,
	h1,
	flashText,
	sideNav,
	errorSummary,
	checkErrorSummary,
	englishInMain,
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

// Texts of the cells of the main table, row by row.
async function tableRows(page) {
	return page
		.locator('main table tbody tr')
		.evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
}

test(`admin: users (search, one user), the organisation tree, a new organisation (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, USERS.admin);
		const nav = await sideNav(page);
		assert.deepEqual(
			nav.sections['系统管理']?.map((l) => l.text),
			['用户管理', '机构管理', '应用接入', '流程定义', '工作日历', '通知发件箱'],
			'admin manages users, organisations, applications and operations, not roles or audit (三员分立)'
		);

		await visit(page, srv.url, '/admin/users');
		assert.equal(await h1(page), '用户管理');
		const all = await tableRows(page);
		assert.ok(all.length >= 30, `the demo city has ${all.length} users on the first page`);
		await findings.axe(page, 'the user list');

		const search = page.getByRole('search');
		await search.getByLabel('按登录名或姓名查找').fill('陈静');
		await clickAndWait(page, search.getByRole('button', { name: '查找', exact: true }));
		assert.equal(pathOf(page), '/admin/users?q=' + encodeURIComponent('陈静'));
		assert.equal(await page.getByRole('search').getByLabel('按登录名或姓名查找').inputValue(), '陈静');
		const found = await tableRows(page);
		assert.deepEqual(found, [['chenjing.fgw', '陈静', '机关工作人员', '贵阳市发展和改革委员会', '正常']]);
		await findings.axe(page, 'the user list searched for 陈静');

		await clickAndWait(page, page.locator('main table').getByRole('link', { name: 'chenjing.fgw', exact: true }));
		assert.match(pathOf(page), /^\/admin\/users\/\d+$/);
		assert.equal((await page.locator('h1').innerText()).replace(/\s+/g, ' ').trim(), '陈静 chenjing.fgw');
		const summary = await page.locator('main dl.summary').innerText();
		assert.match(summary, /贵阳市发展和改革委员会/);
		assert.match(summary, /经办人 @ 贵阳市发展和改革委员会/);
		assert.equal(await page.locator('main form[action$="/roles"]').count(), 0, 'admin cannot grant roles');
		assert.equal(await page.getByRole('heading', { name: '基本信息', exact: true }).count(), 1);
		await findings.axe(page, 'a user page (admin)');

		await visit(page, srv.url, '/admin/users?q=' + encodeURIComponent('没有这个人'));
		assert.deepEqual(await tableRows(page), [['暂无']]);

		// The organisation tree: the city first, children indented one level deeper than their parent.
		await visit(page, srv.url, '/admin/orgs');
		assert.equal(await h1(page), '机构管理');
		const tree = await page.locator('main table tbody tr').evaluateAll((rows) =>
			rows.map((r) => ({
				name: r.cells[0].textContent.trim(),
				depth: Number((/depth-(\d+)/.exec(r.cells[0].className) || [])[1]),
				indent: parseFloat(getComputedStyle(r.cells[0]).paddingLeft),
			}))
		);
		assert.ok(tree.length > 50, `${tree.length} organisations`);
		assert.deepEqual(tree[0], { ...tree[0], name: '贵阳市', depth: 0 });
		const nanming = tree.find((o) => o.name === '南明区');
		const huaguoyuan = tree.find((o) => o.name === '花果园街道');
		assert.ok(nanming && huaguoyuan, 'the tree lists 南明区 and 花果园街道');
		assert.equal(nanming.depth, 1);
		assert.equal(huaguoyuan.depth, 2);
		assert.ok(
			tree.indexOf(huaguoyuan) > tree.indexOf(nanming),
			'a street comes after its district in the tree'
		);
		assert.ok(
			tree[0].indent < nanming.indent && nanming.indent < huaguoyuan.indent,
			`the tree is indented by depth (padding ${tree[0].indent}, ${nanming.indent}, ${huaguoyuan.indent}px)`
		);
		// 姓名 is a person's name; an organisation has a 名称.
		const orgNameHeader = (await page.locator('main table thead th').first().innerText()).trim();
		findings.expect(
			orgNameHeader !== '姓名',
			`/admin/orgs: the organisations' name column is headed "${orgNameHeader}" (a person's name, ` +
				`field.name), not 名称`
		);
		await findings.axe(page, 'the organisation tree');

		await clickAndWait(page, page.locator('main').getByRole('link', { name: '新建机构', exact: true }));
		assert.equal(pathOf(page), '/admin/orgs/new');
		assert.equal(await h1(page), '新建机构');
		const form = page.locator('main form[action="/admin/orgs/new"]');
		assert.equal(await form.getByLabel('机构类型').inputValue(), 'department');
		assert.ok((await form.getByLabel('上级机构').locator('option').count()) > 50);
		const orgNameLabel = (await form.locator('label[for="f-name"]').innerText()).trim();
		findings.expect(
			orgNameLabel !== '姓名',
			`/admin/orgs/new: the organisation's name field is labelled "${orgNameLabel}" (a person's name, ` +
				`field.name), not 名称`
		);
		await findings.axe(page, 'the new-organisation form');

		// An empty name is refused with the error summary.
		await form.getByLabel('代码', { exact: true }).fill('520100-e2e');
		await clickAndWait(page, form.getByRole('button', { name: '保存', exact: true }));
		assert.equal(pathOf(page), '/admin/orgs/new');
		await checkErrorSummary(page, findings, 'the new-organisation form without a name');
		assert.equal(await form.getByLabel('代码', { exact: true }).inputValue(), '520100-e2e', 'the typed code is kept');
		await findings.axe(page, 'the new-organisation form with errors');

		await clickAndWait(page, page.locator('main').getByRole('link', { name: '返回机构列表', exact: true }));
		await clickAndWait(page, page.locator('main table').getByRole('link', { name: '南明区', exact: true }));
		assert.match(pathOf(page), /^\/admin\/orgs\/\d+$/);
		assert.equal(await h1(page), '南明区');
		assert.match(await page.locator('main dl.summary').innerText(), /520102/);
		await findings.axe(page, 'an organisation page');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`secadmin: the roles and one role (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, USERS.secadmin);
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '角色管理', exact: true }));
		assert.equal(pathOf(page), '/admin/roles');
		assert.equal(await h1(page), '角色管理');
		const rows = await tableRows(page);
		const codes = rows.map((r) => r[0]);
		for (const c of ['sys_admin', 'sec_admin', 'auditor', 'dept_admin', 'clerk', 'leader'])
			assert.ok(codes.includes(c), `role ${c} is listed (${codes.join(', ')})`);
		const clerkRow = rows.find((r) => r[0] === 'clerk');
		assert.equal(clerkRow[1], '经办人');
		assert.ok(Number(clerkRow[3]) >= 10, `经办人 has ${clerkRow[3]} holders`);
		const roleNameHeader = (await page.locator('main table thead th').nth(1).innerText()).trim();
		findings.expect(
			roleNameHeader !== '姓名',
			`/admin/roles: the roles' name column is headed "${roleNameHeader}" (a person's name, field.name), not 名称`
		);
		await findings.axe(page, 'the role list');

		await clickAndWait(page, page.locator('main table').getByRole('link', { name: 'clerk', exact: true }));
		assert.match(pathOf(page), /^\/admin\/roles\/\d+$/);
		assert.equal(await h1(page), '经办人');
		const checked = await page
			.locator('main input[name="perm"]:checked')
			.evaluateAll((boxes) => boxes.map((b) => b.value).sort());
		assert.deepEqual(checked, ['iam.org.read', 'supervise.respond', 'workbench.use']);
		assert.equal(await page.locator('main fieldset legend').innerText(), '权限');
		assert.equal(await page.locator('main').getByRole('button', { name: '保存', exact: true }).count(), 1);
		const roleNameLabel = (await page.locator('main label[for="f-name"]').innerText()).trim();
		findings.expect(
			roleNameLabel !== '姓名',
			`/admin/roles/{id}: the role's name field is labelled "${roleNameLabel}" (a person's name, field.name), ` +
				`not 名称`
		);
		await findings.axe(page, 'a role page (clerk)');

		await visit(page, srv.url, '/admin/roles/new');
		assert.equal(await h1(page), '新建角色');
		await findings.axe(page, 'the new-role form');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`auditor: the audit records, one record, the chain verification (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, USERS.auditor);
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '审计记录', exact: true }));
		assert.equal(pathOf(page), '/audit');
		assert.equal(await h1(page), '审计记录');
		const rows = await tableRows(page);
		assert.ok(rows.length > 0 && rows[0].length === 5, `audit rows: ${JSON.stringify(rows.slice(0, 3))}`);
		// the auditor's own sign-in is among the newest records
		assert.ok(
			rows.some((r) => r[2].includes('auditor')),
			`the auditor's sign-in is recorded: ${JSON.stringify(rows.slice(0, 5))}`
		);
		await findings.axe(page, 'the audit records');

		const first = page.locator('main table tbody tr').first().locator('a');
		const seq = (await first.innerText()).trim();
		await clickAndWait(page, first);
		assert.equal(pathOf(page), '/audit/' + seq);
		assert.equal(await h1(page), '审计记录 ' + seq);
		assert.match(await page.locator('main dl.summary').innerText(), /记录哈希（SM3）/);
		assert.match(await page.locator('main code.hash').last().innerText(), /^[0-9a-f]{64}$/);
		await findings.axe(page, 'an audit record');

		await visit(page, srv.url, '/audit');
		await clickAndWait(page, page.locator('main').getByRole('link', { name: '核验审计链', exact: true }));
		assert.equal(pathOf(page), '/audit/verify');
		assert.equal(await h1(page), '核验审计链');
		const verdict = page.locator('main .notice[role="status"]');
		assert.equal(await verdict.count(), 1, 'a verdict in a status region');
		assert.match(await verdict.innerText(), /审计链完整/);
		assert.equal(await page.locator('main .error-summary').count(), 0);
		const nums = await page.locator('main dl.summary dd').allInnerTexts();
		assert.ok(Number(nums[0]) > 0, `records: ${nums[0]}`);
		await findings.axe(page, 'the audit verification');

		// The filter form keeps what was asked.
		await visit(page, srv.url, '/audit?actor=auditor');
		assert.equal(await page.getByRole('search').getByLabel('操作人').inputValue(), 'auditor');
		await findings.axe(page, 'the audit records filtered by actor');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`a clerk changes the password: wrong current one first, then correctly (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const user = USERS.xuqian;
	const newPassword = 'Qingshan#2027';
	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, user);
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '修改密码', exact: true }));
		assert.equal(pathOf(page), '/account/password');
		assert.equal(await h1(page), '修改密码');
		assert.equal(await errorSummary(page), null);
		await findings.axe(page, 'the change-password form');

		const form = page.locator('main form[action="/account/password"]');
		const fill = async (current, next, again) => {
			await form.getByLabel('当前密码').fill(current);
			await form.getByLabel('新密码', { exact: true }).fill(next);
			await form.getByLabel('再次输入新密码').fill(again);
			return clickAndWait(page, form.getByRole('button', { name: '修改密码', exact: true }));
		};

		const res = await fill('Wrong#Current1', newPassword, newPassword);
		assert.ok(res.status() >= 400 && res.status() < 500, `a wrong current password answered ${res.status()}`);
		assert.equal(pathOf(page), '/account/password');
		const { summary, errs } = await checkErrorSummary(page, findings, 'the change-password form, wrong current password', {
			fields: ['current'],
		});
		assert.equal(summary.focused, true, 'focus is on the error summary');
		assert.equal(errs[0].message, '当前密码不正确');
		assert.equal(await form.getByLabel('当前密码').inputValue(), '', 'passwords are never sent back');
		await findings.axe(page, 'the change-password form with errors');

		await fill(user.password, newPassword, newPassword);
		assert.equal(pathOf(page), '/workbench');
		assert.equal(await flashText(page), '密码已修改。');
		await findings.axe(page, 'the workbench with the password-changed notice');

		// The new password is the one that works now.
		await signOut(page);
		await visit(page, srv.url, '/login');
		await submitLogin(page, user.login, user.password, { expectPath: '/login' });
		assert.ok(await errorSummary(page), 'the old password is refused');
		await submitLogin(page, user.login, newPassword, { expectPath: '/workbench' });
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`the 404 page, and the 403 page of a clerk opening /admin/users (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser);
	try {
		await visit(page, srv.url, '/no/such/page', { status: 404 });
		assert.equal(await h1(page), '页面不存在');
		assert.match(await page.title(), /^页面不存在 - /);
		assert.equal(await page.locator('main').getByRole('link', { name: '首页', exact: true }).count(), 1);
		assert.match(await page.locator('main').innerText(), /请求编号：\s*\S+/);
		// The page explains in Chinese; the server's English diagnostic is for the log, not for citizens.
		for (const html of await englishInMain(page))
			findings.expect(false, `the 404 page shows English text in a zh-CN page, without lang="en": ${html}`);
		await findings.axe(page, 'the 404 page');

		await signIn(page, srv.url, USERS.zhoujun);
		await visit(page, srv.url, '/admin/users', { status: 403 });
		assert.equal(pathOf(page), '/admin/users');
		assert.equal(await h1(page), '没有访问权限');
		assert.equal(await page.locator('main table').count(), 0, 'no user list leaks into the 403 page');
		assert.equal((await page.locator('header .header-user').innerText()).trim(), USERS.zhoujun.name);
		for (const html of await englishInMain(page))
			findings.expect(false, `the 403 page shows English text in a zh-CN page, without lang="en": ${html}`);
		await findings.axe(page, 'the 403 page');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

// Journeys 1 and 2 of issue 2: a civil servant signs in, works on the workbench and signs out; a clerk
// who types a wrong password five times is locked out, and then even the right password is refused.
// Every page on the way is checked with axe-core. Backend from env YIZHAN_TEST_BACKEND.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../api/lib/server.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import {
	backend,
	USERS,
	t,
	visit,
	pathOf,
	submitLogin,
	signOut,
	h1,
	flashText,
	headerButton,
	sideNav,
	errorSummary,
	fieldErrors,
	checkErrorSummary,
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

test(`a civil servant signs in, sees the workbench and signs out (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const user = USERS.chenjing;
	const page = await newPage(browser);
	try {
		// The workbench is for signed-in users: it sends us to the sign-in page, which will bring us back.
		await visit(page, srv.url, '/workbench');
		assert.equal(pathOf(page), '/login?next=%2Fworkbench');
		assert.equal(await h1(page), '登录');
		assert.equal(await page.locator('main input[name="next"]').inputValue(), '/workbench');
		assert.equal(await errorSummary(page), null, 'a fresh sign-in page shows no errors');
		await findings.axe(page, 'the sign-in page');

		await submitLogin(page, user.login, user.password, { expectPath: '/workbench' });
		assert.equal(await h1(page), '工作台');
		assert.match(await page.title(), /^工作台 - /);
		assert.equal((await page.locator('main .lead').innerText()).trim(), '您好，' + user.name);
		assert.equal((await page.locator('header .header-user').innerText()).trim(), user.name);
		// a clerk has roles: no "no roles" hint
		assert.equal(await page.getByText(t('workbench.no_roles')).count(), 0);
		assert.equal(
			(await page.locator('#todo-title + .empty').innerText()).trim(),
			t('workbench.todo_empty')
		);
		const nav = await sideNav(page);
		assert.ok(nav, 'the workbench has a side navigation');
		assert.equal(nav.label, '工作台导航');
		assert.deepEqual(nav.sections['我的工作'], [
			{ text: '工作台', href: '/workbench', current: 'page' },
			{ text: '我的待办', href: '/inbox', current: null },
			{ text: '发起办件', href: '/flows', current: null },
			{ text: '消息通知', href: '/notifications', current: null },
			{ text: '本单位监察', href: '/supervise/mine', current: null },
			{ text: '盖章', href: '/seal', current: null }, // 陈静 also applies her department's seal (印章使用人)
			{ text: '我的证书', href: '/pki/mine', current: null },
			{ text: '修改密码', href: '/account/password', current: null },
		]);
		// the header now offers 退出 instead of 登录
		assert.equal(await page.locator('header a.header-link', { hasText: '登录' }).count(), 0);
		await findings.axe(page, 'the workbench');

		await signOut(page);
		assert.equal(await flashText(page), '您已安全退出。');
		assert.equal(await page.locator('header').getByRole('link', { name: '登录', exact: true }).count(), 1);
		assert.equal(await headerButton(page, '退出').count(), 0, 'no 退出 button after signing out');
		await findings.axe(page, 'the home page with the sign-out notice');

		// The notice is shown once, and the session is gone.
		await visit(page, srv.url, '/');
		assert.equal(await flashText(page), null, 'the sign-out notice is shown only once');
		await visit(page, srv.url, '/workbench');
		assert.equal(pathOf(page), '/login?next=%2Fworkbench', '/workbench after signing out');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`five wrong passwords lock a clerk out, then the right one is refused too (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const user = USERS.huangli;
	const page = await newPage(browser);
	try {
		await visit(page, srv.url, '/login');
		for (let i = 1; i <= 5; i++) {
			const res = await submitLogin(page, user.login, `Wrong#Pass${i}`, { expectPath: '/login' });
			assert.ok(res.status() >= 400 && res.status() < 500, `attempt ${i} answered ${res.status()}`);
			const summary = await errorSummary(page);
			assert.ok(summary, `attempt ${i}: no error summary`);
			assert.equal(summary.links.length, 1, `attempt ${i}: ${JSON.stringify(summary.links)}`);
			assert.equal(summary.links[0].href, '#f-password', `attempt ${i}: the summary points at the password`);
			if (i < 5) {
				assert.equal(summary.links[0].text, '登录名或密码错误', `attempt ${i}`);
				assert.doesNotMatch(summary.links[0].text, /锁定/, `attempt ${i} must not lock yet`);
			} else {
				assert.match(summary.links[0].text, /锁定/, 'the fifth failure locks the account');
			}
			// what was typed as login name is kept, the password is not
			assert.equal(await page.locator('#f-login').inputValue(), user.login);
			assert.equal(await page.locator('#f-password').inputValue(), '');
			if (i === 1) await findings.axe(page, 'the sign-in page with a wrong password');
		}
		const { summary } = await checkErrorSummary(page, findings, 'the sign-in page, account locked', {
			fields: ['password'],
		});
		assert.equal(summary.focused, true, 'focus is on the error summary (web/static/js/site.js)');
		assert.match(await page.title(), /^错误：登录 - /);
		const [pw] = await fieldErrors(page);
		assert.equal(pw.message, t('rule.locked'));
		await findings.axe(page, 'the sign-in page, account locked');

		// Locked means locked: the right password is refused with the same message.
		await submitLogin(page, user.login, user.password, { expectPath: '/login' });
		const again = await errorSummary(page);
		assert.ok(again, 'the right password of a locked account shows an error summary');
		assert.equal(again.links.length, 1);
		assert.equal(again.links[0].href, '#f-password');
		assert.match(again.links[0].text, /锁定/);
		assert.equal(await page.locator('header .header-user').count(), 0, 'not signed in');
		await visit(page, srv.url, '/workbench');
		assert.equal(pathOf(page), '/login?next=%2Fworkbench', 'no session after the refused login');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

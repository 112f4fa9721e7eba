// Journey 6 of issue 2: the site works without JavaScript (progressive enhancement): with scripts turned
// off a civil servant gets the error summary for a wrong password, signs in, reaches the workbench and
// signs out, and the 长辈模式 toggle still works. Every page is checked with axe-core, on a copy of its
// no-script DOM (axe cannot run where JavaScript is off; see Findings in lib/pages.mjs).
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
	submitLogin,
	signOut,
	h1,
	flashText,
	headerButton,
	sideNav,
	errorSummary,
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

test(`without JavaScript: sign in (after a wrong password), the workbench, sign out (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc, { javaScript: false });
	const user = USERS.sunlei;
	const page = await newPage(browser, { javaScriptEnabled: false });
	try {
		await visit(page, srv.url, '/workbench');
		assert.equal(pathOf(page), '/login?next=%2Fworkbench');
		// The page has a script (site.js, which moves the focus to an error summary); here it cannot run,
		// as the unfocused error summary below shows.
		assert.equal(await page.locator('script[src="/static/js/site.js"]').count(), 1);
		await findings.axe(page, 'the sign-in page (no JavaScript)');

		await submitLogin(page, user.login, 'Wrong#Pass1', { expectPath: '/login' });
		const { summary } = await checkErrorSummary(page, findings, 'the sign-in page with a wrong password (no JavaScript)', {
			fields: ['password'],
		});
		assert.equal(summary.links[0].text, '登录名或密码错误');
		assert.equal(summary.focused, false, 'without site.js nothing moves the focus');
		assert.equal(await page.locator('main input[name="next"]').inputValue(), '/workbench', 'next survives an error');
		await findings.axe(page, 'the sign-in page with a wrong password (no JavaScript)');

		await submitLogin(page, user.login, user.password, { expectPath: '/workbench' });
		assert.equal(await h1(page), '工作台');
		assert.equal((await page.locator('main .lead').innerText()).trim(), '您好，' + user.name);
		assert.equal((await page.locator('header .header-user').innerText()).trim(), user.name);
		const nav = await sideNav(page);
		assert.deepEqual(nav.sections['我的工作']?.map((l) => l.text), ['工作台', '我的待办', '发起办件', '消息通知', '本单位监察', '我的证书', '修改密码']);
		await findings.axe(page, 'the workbench (no JavaScript)');

		// 长辈模式 is a plain form too.
		await clickAndWait(page, headerButton(page, '长辈模式'));
		assert.equal(pathOf(page), '/workbench');
		assert.match((await page.getAttribute('html', 'class')) ?? '', /(^|\s)elder(\s|$)/);
		await clickAndWait(page, headerButton(page, '退出长辈模式'));
		assert.doesNotMatch((await page.getAttribute('html', 'class')) ?? '', /elder/);

		await signOut(page);
		assert.equal(await flashText(page), '您已安全退出。');
		await findings.axe(page, 'the home page with the sign-out notice (no JavaScript)');
		await visit(page, srv.url, '/workbench');
		assert.equal(pathOf(page), '/login?next=%2Fworkbench', '/workbench after signing out');
		assert.equal(await errorSummary(page), null);
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

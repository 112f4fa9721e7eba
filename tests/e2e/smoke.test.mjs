// Browser smoke test: chromium reaches a real server, and the home page is titled, Chinese and accessible.
// Backend from env YIZHAN_TEST_BACKEND (sqlite by default; postgresql needs YIZHAN_TEST_PG).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../api/lib/server.mjs';
import { launchBrowser, newPage, checkA11y, assertNoViolations } from './lib/browser.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
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

test(`chromium loads /healthz from the server (${backend})`, async () => {
	const page = await newPage(browser);
	const res = await page.goto(srv.url + '/healthz');
	assert.equal(res.status(), 200);
	assert.equal((await page.textContent('body')).trim(), 'ok');
	await page.context().close();
});

test('the home page has a title, lang="zh-CN" and no WCAG 2.1 AA violations', async () => {
	const page = await newPage(browser);
	const res = await page.goto(srv.url + '/');
	assert.equal(res.status(), 200, `GET / answered ${res.status()}`);
	const title = await page.title();
	assert.ok(title.trim().length > 0, 'the page title is empty');
	assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
	assertNoViolations(await checkA11y(page), '/');
	await page.context().close();
});

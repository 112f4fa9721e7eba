// The working-day calendar page: a clerk sees this month and the next with days off and make-up working
// days marked, but no import form; the administrator uploads a file that is not a notice (an error
// summary pointing at the file control), then a second 2026 notice: the page says which days changed and
// how many deadlines moved, and the new notice is listed. Pages pass axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../api/lib/server.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import { backend, USERS, visit, clickAndWait, signIn, h1, checkErrorSummary, Findings } from './lib/pages.mjs';

const TIMEOUT = 90_000;
let srv;
let browser;

before(async () => {
	srv = await startServer({ backend, testClock: true, extraArgs: ['--test-clock-start', '2026-09-21T10:00:00+08:00'] });
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
});

test(`the calendar page: months, notices and an import (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const clerk = await newPage(browser);
	try {
		await signIn(clerk, srv.url, USERS.huangli);
		await visit(clerk, srv.url, '/admin/calendar');
		assert.equal(await h1(clerk), '工作日历');
		assert.equal((await clerk.locator('#office-hours').innerText()).trim(), '办公时间（按工作小时计算的时限使用）：9:00-12:00,13:30-17:30');
		// September and October 2026: National Day off, Saturday 10-10 worked
		const oct = clerk.locator('main table.month', { has: clerk.locator('caption', { hasText: '2026-10' }) });
		const cell = (n) => oct.locator('td', { has: clerk.locator('.day-num', { hasText: new RegExp(`^${n}$`) }) });
		assert.match(await cell(1).innerText(), /休/);
		assert.match(await cell(1).innerText(), /国庆节/);
		assert.match(await cell(10).innerText(), /调休上班/);
		assert.equal(await clerk.locator('form[action="/admin/calendar"]').count(), 0, 'a clerk cannot import');
		await findings.axe(clerk, 'the calendar as a clerk sees it');
	} finally {
		await clerk.context().close();
	}

	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, { login: 'admin', password: 'Admin@2026!' });
		await visit(page, srv.url, '/admin/calendar');
		await page.setInputFiles('#f-notice', { name: 'notice.json', mimeType: 'application/json', buffer: Buffer.from('{"year": "x"}') });
		await clickAndWait(page, page.getByRole('button', { name: '导入' }));
		await checkErrorSummary(page, findings, 'a file that is not a notice', { fields: ['notice'] });
		await findings.axe(page, 'the calendar import with an error');

		const notice = {
			year: 2026,
			papers: ['https://www.gov.cn/test'],
			days: [
				{ name: '国庆节', date: '2026-10-08', isOffDay: true },
				{ name: '国庆节', date: '2026-10-10', isOffDay: false },
			],
		};
		await page.setInputFiles('#f-notice', { name: '2026.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(notice)) });
		await clickAndWait(page, page.getByRole('button', { name: '导入' }));
		const status = (await page.locator('main .notice[role="status"]').innerText()).trim();
		assert.match(status, /通知已导入/);
		assert.match(status, /2026-10-08/);
		assert.equal(await page.locator('main section[aria-labelledby="notices-title"] tbody tr').first().locator('td').nth(3).innerText(), 'import');
		await findings.axe(page, 'the calendar after an import');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

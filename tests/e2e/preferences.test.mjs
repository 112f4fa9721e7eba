// Journey 3 of issue 2: the visitor's preferences in the site header. 长辈模式 (age-friendly mode) makes
// the text larger, is remembered across pages (cookie yz_elder) and is turned off again with 退出长辈模式;
// the language toggle switches the pages to English (cookie yz_lang) and back to Chinese.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../api/lib/server.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import {
	backend,
	t,
	visit,
	clickAndWait,
	pathOf,
	h1,
	headerButton,
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

// Computed font sizes in CSS pixels of body text: the <body>, the lead paragraph and a card's paragraph.
async function fontSizes(page) {
	return page.evaluate(() => {
		const px = (sel) => parseFloat(getComputedStyle(document.querySelector(sel)).fontSize);
		return { body: px('body'), lead: px('main .lead'), card: px('main .card p') };
	});
}

async function htmlClass(page) {
	return (await page.getAttribute('html', 'class')) ?? '';
}

async function cookie(page, name) {
	const all = await page.context().cookies();
	return all.find((c) => c.name === name)?.value;
}

test(`长辈模式 enlarges the text, survives navigation and can be turned off (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser);
	try {
		await visit(page, srv.url, '/');
		assert.equal(await htmlClass(page), '', 'standard mode at first');
		const before = await fontSizes(page);
		const on = headerButton(page, '长辈模式');
		assert.equal(await on.count(), 1);
		await findings.axe(page, 'the home page');

		await clickAndWait(page, on);
		assert.equal(pathOf(page), '/', 'the toggle brings us back to the page we were on');
		assert.match(await htmlClass(page), /(^|\s)elder(\s|$)/);
		assert.equal(await cookie(page, 'yz_elder'), '1');
		const larger = await fontSizes(page);
		for (const k of Object.keys(before))
			assert.ok(larger[k] > before[k], `${k} text: ${larger[k]}px in 长辈模式, ${before[k]}px before`);
		const off = headerButton(page, '退出长辈模式');
		assert.equal(await off.count(), 1, 'the toggle now offers 退出长辈模式');
		assert.equal(await headerButton(page, '长辈模式').count(), 0);
		await findings.axe(page, 'the home page in 长辈模式');

		// Another page, reached by a link: still in 长辈模式.
		await clickAndWait(page, page.locator('header').getByRole('link', { name: '登录', exact: true }));
		assert.equal(pathOf(page), '/login');
		assert.match(await htmlClass(page), /(^|\s)elder(\s|$)/, '长辈模式 is kept on /login');
		const loginFont = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
		assert.equal(loginFont, larger.body, 'the same enlarged body text on /login');
		await findings.axe(page, 'the sign-in page in 长辈模式');

		// Off again, from this page: back to /login in standard size.
		await clickAndWait(page, headerButton(page, '退出长辈模式'));
		assert.equal(pathOf(page), '/login');
		assert.doesNotMatch(await htmlClass(page), /elder/);
		assert.equal(await cookie(page, 'yz_elder'), '0');
		await visit(page, srv.url, '/');
		assert.deepEqual(await fontSizes(page), before, 'the home page is back to the standard sizes');
		assert.equal(await headerButton(page, '长辈模式').count(), 1);
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`the language toggle switches to English and back to 中文 (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser);
	try {
		await visit(page, srv.url, '/');
		assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
		const en = headerButton(page, 'English');
		assert.equal(await en.getAttribute('lang'), 'en', 'the button naming English is marked lang="en"');

		await clickAndWait(page, en);
		assert.equal(pathOf(page), '/');
		assert.equal(await page.getAttribute('html', 'lang'), 'en');
		assert.equal(await cookie(page, 'yz_lang'), 'en');
		assert.equal((await page.locator('main .lead').innerText()).trim(), t('home.lead', 'en'));
		assert.equal(await page.locator('#home-services').innerText(), t('home.sections', 'en'));
		assert.match(await page.title(), new RegExp('^' + t('home.title', 'en') + ' - '));
		const header = page.locator('header.site-header');
		assert.equal(await header.getByRole('link', { name: t('nav.login', 'en'), exact: true }).count(), 1);
		assert.equal(await headerButton(page, t('prefs.elder_on', 'en')).count(), 1);
		const zh = headerButton(page, '中文');
		assert.equal(await zh.getAttribute('lang'), 'zh-CN', 'the button naming 中文 is marked lang="zh-CN"');
		await findings.axe(page, 'the home page in English');

		// English sticks on the next page too.
		await visit(page, srv.url, '/login');
		assert.equal(await page.getAttribute('html', 'lang'), 'en');
		assert.equal(await h1(page), t('login.title', 'en'));
		await findings.axe(page, 'the sign-in page in English');

		await clickAndWait(page, headerButton(page, '中文'));
		assert.equal(pathOf(page), '/login');
		assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
		assert.equal(await h1(page), '登录');
		assert.equal(await cookie(page, 'yz_lang'), 'zh-CN');
		await visit(page, srv.url, '/');
		assert.equal((await page.locator('main .lead').innerText()).trim(), t('home.lead'));
		assert.equal(await headerButton(page, 'English').count(), 1);
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

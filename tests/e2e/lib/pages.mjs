// Shared pieces of the browser journeys: demo users, the message catalogues, signing in and out,
// submitting forms, reading a GOV.UK error summary, and a findings log for what is wrong on a page.
//
//   const findings = new Findings(tc);                // tc: the node:test context
//   const page = await newPage(browser);
//   await signIn(page, srv.url, USERS.chenjing);      // lands on /workbench
//   await findings.axe(page, 'the workbench');        // axe-core, WCAG 2.0/2.1 A and AA
//   ...
//   findings.assertNone();                            // at the end of the journey
//
// Functional expectations use plain assert and stop the journey at once. Problems of a page that do not
// stop the user (axe violations, error messages not tied to their field, wrong or untranslated wording)
// go to the findings instead, so that one run reports every page of the journey; they are printed as test
// diagnostics when found and fail the test at the end.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { checkA11y, formatViolations } from './browser.mjs';

export const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';

// Demo users of packs/demo-city (README.md there). Clerks (role 经办人, kind civil_servant) are used one
// per journey, so that a lockout or a password change in one test cannot disturb another.
export const USERS = {
	admin: { login: 'admin', password: 'Admin@2026!', name: '杨志远' },
	secadmin: { login: 'secadmin', password: 'SecAdmin@2026!', name: '罗婷' },
	auditor: { login: 'auditor', password: 'Auditor@2026!', name: '吴海燕' },
	chenjing: { login: 'chenjing.fgw', password: 'Yizhan@2026', name: '陈静' },
	huangli: { login: 'huangli.jyj', password: 'Yizhan@2026', name: '黄丽' },
	zhoujun: { login: 'zhoujun.gaj', password: 'Yizhan@2026', name: '周军' },
	xuqian: { login: 'xuqian.mzj', password: 'Yizhan@2026', name: '徐倩' },
	sunlei: { login: 'sunlei.rsj', password: 'Yizhan@2026', name: '孙磊' },
};

// The message catalogue the pages are rendered from, for the longer texts (web/i18n/zh-CN.json).
const i18nDir = fileURLToPath(new URL('../../../web/i18n/', import.meta.url));
const catalogues = {
	'zh-CN': JSON.parse(readFileSync(i18nDir + 'zh-CN.json', 'utf8')),
	en: JSON.parse(readFileSync(i18nDir + 'en.json', 'utf8')),
};
export function t(key, lang = 'zh-CN') {
	let v = catalogues[lang];
	for (const part of key.split('.')) v = v?.[part];
	if (typeof v !== 'string') throw new Error(`no message ${key} in ${lang}`);
	return v;
}

// ---- navigation ----

// Go to a path and insist on the final status (after redirects).
export async function visit(page, base, path, { status = 200 } = {}) {
	const res = await page.goto(base + path);
	assert.ok(res, `no response for ${path}`);
	assert.equal(res.status(), status, `GET ${path} answered ${res.status()} (at ${page.url()})`);
	return res;
}

// Click something that submits a form or follows a link, and wait until the next page has loaded;
// resolves the main document's final response (after any redirect).
export async function clickAndWait(page, locator) {
	const [res] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
	return res;
}

export function pathOf(page) {
	const u = new URL(page.url());
	return u.pathname + u.search;
}

// The buttons of the site header (elder mode, language, 退出).
export function headerButton(page, name) {
	return page.locator('header.site-header').getByRole('button', { name, exact: true });
}

// ---- signing in and out ----

// Sign in on /login (with ?next= when given); resolves the response of the page we land on.
export async function signIn(page, base, user, { next = '/workbench', expectPath = next } = {}) {
	await visit(page, base, '/login?next=' + encodeURIComponent(next));
	return submitLogin(page, user.login, user.password, { expectPath });
}

// Fill in the sign-in form already on screen and submit it. expectPath null: do not check where we land.
export async function submitLogin(page, login, password, { expectPath = null } = {}) {
	const form = page.locator('main form[action="/login"]');
	await form.getByLabel('登录名', { exact: true }).fill(login);
	await form.getByLabel('密码', { exact: true }).fill(password);
	const res = await clickAndWait(page, form.getByRole('button', { name: '登录', exact: true }));
	if (expectPath !== null)
		assert.equal(pathOf(page), expectPath, `after signing in as ${login} we are at ${page.url()}`);
	return res;
}

export async function signOut(page) {
	const res = await clickAndWait(page, headerButton(page, '退出'));
	assert.equal(pathOf(page), '/', `after 退出 we are at ${page.url()}`);
	return res;
}

// ---- reading pages ----

export async function h1(page) {
	return (await page.locator('h1').first().innerText()).trim();
}

// The flash notice (role=status in <main>), or null.
export async function flashText(page) {
	const n = page.locator('main .notice[role="status"]');
	if ((await n.count()) === 0) return null;
	return (await n.first().innerText()).trim();
}

// The GOV.UK error summary as data: role, title, links, whether it has focus. Null when there is none.
export async function errorSummary(page) {
	return page.evaluate(() => {
		const s = document.querySelector('.error-summary');
		if (!s) return null;
		const labelled = s.getAttribute('aria-labelledby');
		return {
			role: s.getAttribute('role'),
			title: (s.querySelector('h2')?.textContent || '').trim(),
			labelledBy: labelled ? (document.getElementById(labelled)?.textContent || '').trim() : null,
			focused: document.activeElement === s,
			links: [...s.querySelectorAll('a')].map((a) => ({
				text: a.textContent.trim(),
				href: a.getAttribute('href'),
			})),
		};
	});
}

// Every field of the page's forms that shows its own error message: the field's id, the message
// (without the visually hidden "错误：" prefix), and how the control is tied to it.
export async function fieldErrors(page) {
	return page.evaluate(() =>
		[...document.querySelectorAll('main .field-error')].map((f) => {
			const msg = f.querySelector('.error-message');
			const prefix = msg?.querySelector('.visually-hidden')?.textContent || '';
			const control = f.querySelector('input, select, textarea');
			return {
				id: control?.id || null,
				message: msg ? msg.textContent.trim().slice(prefix.length).trim() : null,
				messageId: msg?.id || null,
				prefix: prefix.trim(),
				describedBy: (control?.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean),
				invalid: control?.getAttribute('aria-invalid'),
			};
		})
	);
}

// Check an error summary against the fields: one link per field error, each link points at the field's
// control and says what the field itself says. Functional parts are asserted; whether each control is
// programmatically tied to its message (aria-describedby, aria-invalid, as on the sign-in page) goes to
// the findings.
export async function checkErrorSummary(page, findings, where, { fields } = {}) {
	const summary = await errorSummary(page);
	assert.ok(summary, `${where}: no error summary`);
	assert.equal(summary.role, 'alert', `${where}: the error summary's role`);
	assert.equal(summary.title, '请更正以下问题', `${where}: the error summary's title`);
	assert.equal(summary.labelledBy, '请更正以下问题', `${where}: the error summary is labelled by its title`);
	const errs = await fieldErrors(page);
	if (fields) {
		assert.deepEqual(
			errs.map((e) => e.id).sort(),
			fields.map((f) => 'f-' + f).sort(),
			`${where}: the fields marked in error`
		);
	}
	assert.equal(
		summary.links.length,
		errs.length,
		`${where}: ${summary.links.length} summary links for ${errs.length} fields in error:\n` +
			JSON.stringify({ links: summary.links, fields: errs }, null, 1)
	);
	for (const e of errs) {
		assert.ok(e.message, `${where}: field ${e.id} is marked in error but shows no message`);
		assert.equal(e.prefix, '错误：', `${where}: field ${e.id}'s message has no hidden 错误： prefix`);
		const link = summary.links.find((l) => l.href === '#' + e.id);
		assert.ok(link, `${where}: no summary link to #${e.id} (links: ${JSON.stringify(summary.links)})`);
		assert.equal(link.text, e.message, `${where}: summary link and field message of ${e.id} differ`);
		assert.equal(await page.locator('#' + e.id).count(), 1, `${where}: the link target #${e.id} is missing`);
		findings.expect(
			e.messageId && e.describedBy.includes(e.messageId),
			`${where}: the control #${e.id} is not tied to its error message` +
				` (aria-describedby="${e.describedBy.join(' ')}", message id ${e.messageId}): ` +
				`screen readers do not read "${e.message}" with the field`
		);
		findings.expect(
			e.invalid === 'true',
			`${where}: the control #${e.id} is in error but has no aria-invalid="true"`
		);
	}
	return { summary, errs };
}

// Words in Latin letters in <main> of a Chinese page that are not marked lang="en" (WCAG 3.1.2, language
// of parts): a Chinese voice reads them letter by letter. The request id paragraph (.hint) is skipped.
export async function englishInMain(page) {
	return page.evaluate(() => {
		const out = [];
		const main = document.querySelector('main');
		const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			if (!/[A-Za-z]{3,}/.test(n.textContent)) continue;
			const el = n.parentElement;
			if (el.closest('.hint, code, [aria-hidden="true"]')) continue;
			if (/^en/i.test(el.closest('[lang]')?.getAttribute('lang') || '')) continue;
			out.push(el.outerHTML.slice(0, 160));
		}
		return [...new Set(out)];
	});
}

// Option value of a <select> whose text (without the full-width indentation) is exactly `text`.
export async function optionValue(select, text) {
	const values = await select
		.locator('option')
		.evaluateAll((opts, want) => opts.filter((o) => o.textContent.trim() === want).map((o) => o.value), text);
	assert.equal(values.length, 1, `expected exactly one option "${text}", found ${values.length}`);
	return values[0];
}

// The links of a navigation landmark, grouped under its h2 section titles.
export async function sideNav(page) {
	return page.evaluate(() => {
		const nav = document.querySelector('nav.side-nav');
		if (!nav) return null;
		const out = { label: nav.getAttribute('aria-label'), sections: {} };
		let current = null;
		for (const el of nav.children) {
			if (el.tagName === 'H2') {
				current = el.textContent.trim();
				out.sections[current] = [];
			} else if (el.tagName === 'UL' && current) {
				for (const a of el.querySelectorAll('a'))
					out.sections[current].push({
						text: a.textContent.trim(),
						href: a.getAttribute('href'),
						current: a.getAttribute('aria-current'),
					});
			}
		}
		return out;
	});
}

// ---- findings ----

// checkA11y injects axe with page.addScriptTag when it can; evaluating the source through the DevTools
// protocol instead works regardless of the page's CSP, so do that first (it is what checkA11y falls
// back to anyway).
let axeSource = null;
async function injectAxe(page) {
	if (await page.evaluate(() => typeof window.axe !== 'undefined')) return;
	if (axeSource === null)
		axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
	await page.evaluate(axeSource);
	assert.ok(await page.evaluate(() => typeof window.axe !== 'undefined'), 'axe-core could not be injected');
}

// axe.run never finishes in a page whose JavaScript is disabled (its timer callbacks never fire), so a
// page of a javaScriptEnabled: false context is checked as a copy: the same URL in a fresh context with
// JavaScript on, whose main document is served from the no-script page's DOM (page.content()) and whose
// scripts are refused, so nothing changes that DOM; the stylesheet comes from the server, so colours and
// sizes are the real ones.
async function axeOnCopy(page) {
	const url = page.url();
	const html = await page.content();
	const ctx = await page.context().browser().newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
	try {
		const copy = await ctx.newPage();
		await copy.route('**/*', (route) => {
			const req = route.request();
			if (req.isNavigationRequest() && req.url() === url)
				return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html });
			if (req.resourceType() === 'script') return route.abort();
			return route.continue();
		});
		await copy.goto(url);
		await injectAxe(copy);
		return await checkA11y(copy);
	} finally {
		await ctx.close();
	}
}

export class Findings {
	// javaScript: false when the pages checked come from a context with javaScriptEnabled: false.
	constructor(t, { javaScript = true } = {}) {
		this.t = t;
		this.javaScript = javaScript;
		this.items = [];
		this.pages = 0;
	}

	// axe-core on the page as it is now; violations are recorded with the page they were found on.
	async axe(page, where) {
		this.pages++;
		let v;
		if (this.javaScript) {
			await injectAxe(page);
			v = await checkA11y(page);
		} else {
			v = await axeOnCopy(page);
		}
		if (v.length) {
			const text = `${v.length} axe violation(s) on ${where} (${pathOf(page)}):\n${formatViolations(v)}`;
			this.items.push(text);
			this.t.diagnostic(text);
		}
		return v;
	}

	expect(ok, message) {
		if (!ok) {
			this.items.push(message);
			this.t.diagnostic(message);
		}
	}

	assertNone() {
		assert.equal(
			this.items.length,
			0,
			`${this.items.length} finding(s) on the pages of this journey (accessibility, wording, form errors):\n\n` +
				this.items.join('\n\n')
		);
	}
}

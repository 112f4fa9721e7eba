// Browser tests: Debian's chromium driven by playwright-core (no browser download), axe-core for WCAG.
//
//   const browser = await launchBrowser();
//   const page = await browser.newPage();     // or newContext({ locale: 'zh-CN' }) for a fresh jar
//   await page.goto(srv.url + '/');
//   assertNoViolations(await checkA11y(page)); // WCAG 2.0/2.1 A and AA rules
//   await browser.close();
//
// Chromium is env YIZHAN_CHROMIUM (default /usr/bin/chromium). It runs headless with the switches this
// machine needs: no sandbox (we run as root), no GPU, and no background networking, component updates,
// sync or QUIC (the network is closed; without these chromium keeps trying to reach Google). Each launch
// gets its own fresh, empty profile directory: Playwright's launch() creates one and deletes it on
// close (it refuses a --user-data-dir switch; launchPersistentContext is the only way to name one).
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { readFileSync, existsSync } from 'node:fs';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);

export const chromiumPath = process.env.YIZHAN_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
	'--headless=new',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
];
export const A11Y_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

export async function launchBrowser({ args = [], ...opts } = {}) {
	if (!existsSync(chromiumPath))
		throw new Error(`chromium not found at ${chromiumPath} (apt-get install chromium, or set YIZHAN_CHROMIUM)`);
	return chromium.launch({
		executablePath: chromiumPath,
		headless: true,
		args: [...CHROMIUM_ARGS, ...args],
		timeout: 60_000,
		...opts,
	});
}

// A page in a fresh context (own cookies and storage), Chinese locale and Shanghai time by default.
export async function newPage(browser, contextOptions = {}) {
	const context = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...contextOptions });
	const page = await context.newPage();
	return page;
}

let axeSource = null;
function axeScript() {
	if (axeSource === null) axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
	return axeSource;
}

// Run axe-core on the page as it is now; resolves the list of violations (empty when it passes).
// axe.min.js comes from tests/e2e/node_modules and is injected with page.addScriptTag({content}).
// options: { tags = A11Y_TAGS, include, exclude, rules } — include/exclude are CSS selectors or lists.
export async function checkA11y(page, { tags = A11Y_TAGS, include, exclude, rules } = {}) {
	if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
		try {
			await page.addScriptTag({ content: axeScript() });
		} catch {
			// The page's Content-Security-Policy (script-src 'self', as ours is) refuses inline scripts;
			// evaluating through the DevTools protocol is not subject to it.
			await page.evaluate(axeScript());
		}
	}
	return page.evaluate(
		async ({ tags, include, exclude, rules }) => {
			const context = include || exclude ? { include: include || [document], exclude: exclude || [] } : document;
			const options = { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] };
			if (rules) options.rules = rules;
			const r = await window.axe.run(context, options);
			return r.violations.map((v) => ({
				id: v.id,
				impact: v.impact,
				help: v.help,
				helpUrl: v.helpUrl,
				nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, summary: n.failureSummary })),
			}));
		},
		{ tags, include, exclude, rules }
	);
}

// Violations as readable text: rule, impact, help, then each offending element and what to fix.
export function formatViolations(violations) {
	const out = [];
	for (const v of violations) {
		out.push(`[${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`);
		for (const n of v.nodes.slice(0, 10)) {
			out.push(`    at ${n.target.join(' ')}: ${n.html.slice(0, 200)}`);
			if (n.summary) out.push(...n.summary.split('\n').map((l) => `      ${l}`));
		}
		if (v.nodes.length > 10) out.push(`    ... and ${v.nodes.length - 10} more elements`);
	}
	return out.join('\n');
}

export function assertNoViolations(violations, where = 'page') {
	assert.equal(
		violations.length,
		0,
		`${violations.length} accessibility violation(s) on ${where}:\n${formatViolations(violations)}`
	);
}

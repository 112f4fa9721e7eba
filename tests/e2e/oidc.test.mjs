// Single sign-on journeys: an operator registers a department application on 应用接入 (a GOV.UK error
// summary first, then the secret shown once), and a civil servant signs in to that application: a small
// relying party run here with openid-client (panva) sends the browser to the platform, the platform's own
// sign-in page signs her in and sends her back with a code, the relying party exchanges it and validates
// the ID token against the JWKS, and shows her name; signing out of the application ends the platform
// session too (RP-initiated logout). Every platform page on the way is checked with axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
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
	submitLogin,
	h1,
	sideNav,
	errorSummary,
	checkErrorSummary,
	optionValue,
	Findings,
} from './lib/pages.mjs';

const TIMEOUT = 90_000;
let srv;
let browser;
let oc;
let rp; // { url, server, setClient(id, secret) }
const registered = {};

// A relying party of ~40 lines: / links to /login; /login starts the code flow with PKCE; /callback
// exchanges the code and shows who signed in; /logout ends the session at the provider.
async function startRelyingParty(issuer) {
	const pending = new Map(); // state → { verifier, nonce }
	let config = null;
	let lastIdToken = null;
	const server = http.createServer(async (req, res) => {
		const base = `http://127.0.0.1:${server.address().port}`;
		const url = new URL(req.url, base);
		const html = (status, body) => {
			res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
			res.end(`<!DOCTYPE html><html lang="zh-CN"><head><title>发改委项目库</title></head><body><main>${body}</main></body></html>`);
		};
		try {
			if (url.pathname === '/') return html(200, '<h1>发改委项目库</h1><p><a href="/login">统一身份认证登录</a></p>');
			if (url.pathname === '/login') {
				const verifier = oc.randomPKCECodeVerifier();
				const state = oc.randomState();
				const nonce = oc.randomNonce();
				pending.set(state, { verifier, nonce });
				const to = oc.buildAuthorizationUrl(config, {
					redirect_uri: base + '/callback',
					scope: 'openid profile dept',
					code_challenge: await oc.calculatePKCECodeChallenge(verifier),
					code_challenge_method: 'S256',
					state,
					nonce,
				});
				res.writeHead(302, { location: to.href });
				return res.end();
			}
			if (url.pathname === '/callback') {
				const state = url.searchParams.get('state');
				const p = pending.get(state);
				pending.delete(state);
				const tokens = await oc.authorizationCodeGrant(config, url, {
					pkceCodeVerifier: p?.verifier,
					expectedState: state,
					expectedNonce: p?.nonce,
					idTokenExpected: true,
				});
				const c = tokens.claims();
				lastIdToken = tokens.id_token;
				return html(200, `<h1>欢迎，${c.name}</h1><p id="dept">${c.dept_name}</p><p id="sub">${c.sub}</p><p><a href="/logout">退出</a></p>`);
			}
			if (url.pathname === '/logout') {
				const to = oc.buildEndSessionUrl(config, { id_token_hint: lastIdToken, post_logout_redirect_uri: base + '/bye', state: 'bye' });
				res.writeHead(302, { location: to.href });
				return res.end();
			}
			if (url.pathname === '/bye') return html(200, '<h1>已退出</h1>');
			html(404, '<h1>404</h1>');
		} catch (e) {
			html(500, `<h1>登录失败</h1><pre id="error">${String(e.message)}</pre>`);
		}
	});
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${server.address().port}`,
		server,
		async setClient(id, secret) {
			config = await oc.discovery(new URL(issuer), id, secret, undefined, { execute: [oc.allowInsecureRequests] });
		},
	};
}

before(async () => {
	srv = await startServer({ backend });
	browser = await launchBrowser();
	oc = await import('openid-client');
	rp = await startRelyingParty(srv.url);
});

after(async () => {
	await browser?.close();
	await new Promise((resolve) => (rp ? rp.server.close(resolve) : resolve()));
	await srv?.cleanup();
});

test(`admin registers a department application and sees its secret once (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, USERS.admin);
		const nav = await sideNav(page);
		assert.ok(nav.sections['系统管理']?.some((l) => l.text === '应用接入' && l.href === '/admin/oidc/clients'), JSON.stringify(nav));
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '应用接入', exact: true }));
		assert.equal(pathOf(page), '/admin/oidc/clients');
		assert.equal(await h1(page), t('oidc.title'));
		assert.match(await page.locator('main').innerText(), new RegExp(srv.url.replace(/[.:/]/g, '\\$&')));
		await findings.axe(page, 'the list of applications');

		await clickAndWait(page, page.getByRole('link', { name: '登记应用', exact: true }));
		assert.equal(pathOf(page), '/admin/oidc/clients/new');
		await findings.axe(page, 'the registration form');
		// nothing filled in but a redirect address that is not allowed: every fault at once
		const form = page.locator('main form[action="/admin/oidc/clients/new"]');
		await form.getByLabel('登录回调地址').fill('http://rp.example.gov.cn/callback');
		await clickAndWait(page, form.getByRole('button', { name: '登记', exact: true }));
		const summary = await errorSummary(page);
		assert.ok(summary, 'an error summary');
		const fields = summary.links.map((l) => l.href).sort();
		assert.deepEqual(fields, ['#f-name', '#f-org_id', '#f-redirect_uris']);
		await checkErrorSummary(page, findings, 'the registration form with errors');
		await findings.axe(page, 'the registration form with errors');
		// the typed address is kept
		assert.equal(await form.getByLabel('登录回调地址').inputValue(), 'http://rp.example.gov.cn/callback');

		await form.getByLabel('应用名称').fill('发改委项目库');
		const dept = form.getByLabel('所属部门');
		await dept.selectOption(await optionValue(dept, '贵阳市发展和改革委员会'));
		await form.getByLabel('登录回调地址').fill(rp.url + '/callback');
		await form.getByLabel('退出后返回地址').fill(rp.url + '/bye');
		await form.getByLabel('可用范围（scope）').fill('openid profile dept');
		await clickAndWait(page, form.getByRole('button', { name: '登记', exact: true }));
		assert.equal(await h1(page), '应用已登记');
		const clientId = (await page.locator('#client-id').innerText()).trim();
		const secret = (await page.locator('#client-secret').innerText()).trim();
		assert.match(clientId, /^app-[0-9a-f]{16}$/);
		assert.match(secret, /^yzs_[A-Za-z0-9_-]{43}$/);
		assert.match(await page.locator('main').innerText(), new RegExp(t('oidc.secret_once').slice(0, 12)));
		await findings.axe(page, 'the secret, shown once');
		// once: the application's page does not show it again
		await clickAndWait(page, page.getByRole('link', { name: t('oidc.to_client'), exact: true }));
		assert.equal(pathOf(page), `/admin/oidc/clients/${clientId}`);
		assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');
		await findings.axe(page, "the application's page");
		Object.assign(registered, { clientId, secret });
		findings.assertNone();
	} finally {
		await page.context().close();
	}
});

test(`a civil servant signs in to the application through the platform, and out again (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	assert.ok(registered.clientId, 'the application is registered by the test before');
	await rp.setClient(registered.clientId, registered.secret);
	const findings = new Findings(tc);
	const page = await newPage(browser);
	try {
		await page.goto(rp.url + '/');
		await clickAndWait(page, page.getByRole('link', { name: '统一身份认证登录' }));
		// the platform's own sign-in page, which will go on with the application's request
		assert.equal(new URL(page.url()).origin, srv.url);
		assert.equal(new URL(page.url()).pathname, '/login');
		assert.match(await page.locator('main input[name="next"]').inputValue(), /^\/oidc\/authorize\?/);
		await findings.axe(page, 'the sign-in page for an application');
		await submitLogin(page, USERS.chenjing.login, USERS.chenjing.password);
		await page.waitForURL((u) => u.href.startsWith(rp.url + '/callback'), { timeout: 30_000 });
		// the relying party exchanged the code and validated the ID token
		assert.equal(await h1(page), '欢迎，' + USERS.chenjing.name, await page.content());
		assert.equal((await page.locator('#dept').innerText()).trim(), '贵阳市发展和改革委员会');
		const sub = (await page.locator('#sub').innerText()).trim();
		assert.notEqual(sub, USERS.chenjing.login);

		// signed in at the platform now: a second sign-in to the application asks nothing
		await page.goto(rp.url + '/login');
		await page.waitForURL((u) => u.href.startsWith(rp.url + '/callback'));
		assert.equal(await h1(page), '欢迎，' + USERS.chenjing.name);
		assert.equal((await page.locator('#sub').innerText()).trim(), sub);

		// signing out of the application ends the platform session
		await clickAndWait(page, page.getByRole('link', { name: '退出' }));
		await page.waitForURL((u) => u.href.startsWith(rp.url + '/bye'));
		assert.equal(await h1(page), '已退出');
		await visit(page, srv.url, '/workbench');
		assert.equal(pathOf(page), '/login?next=%2Fworkbench');
		findings.assertNone();
	} finally {
		await page.context().close();
	}
});

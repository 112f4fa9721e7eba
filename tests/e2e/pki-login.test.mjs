// Certificate sign-in in the browser. The server runs with an HTTPS listener beside the plain one (a
// self-signed P-256 server certificate made here by openssl). The CA operator issues an ECDSA P-256
// personal certificate of the city's P-256 CA to 陈静 (chenjing.fgw) through the API. A browser context
// that holds that certificate and its key (Playwright's clientCertificates) opens 数字证书登录 from the
// sign-in page, sees the certificate's subject, presses 使用此证书登录 and lands on the workbench as 陈静;
// another goes on to a `next` page, 我的证书. After the certificate is revoked (密钥泄露) a fresh context is
// refused on the page, the error summary naming 已吊销 and the reason. A context without a certificate
// is told how to get one, over HTTPS and over plain HTTP (where the page gives the HTTPS address).
// Every page passes axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../api/lib/server.mjs';
import { Client } from '../api/lib/client.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import { backend, USERS, t, visit, clickAndWait, pathOf, h1, errorSummary, sideNav, englishInMain, Findings } from './lib/pages.mjs';

const TIMEOUT = 120_000;
const OPERATOR = { login: 'zhaomin.ca', password: 'Yizhan@2026' };
let srv;
let browser;
let dir;
let tlsPort;
let httpsBase;
let op;
let cert; // the issued certificate's record

function openssl(args) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
	assert.equal(r.status, 0, `openssl ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
	return r.stdout;
}

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
		s.on('error', reject);
	});
}

before(async () => {
	dir = mkdtempSync(join(tmpdir(), 'yizhan-e2e-certlogin-'));
	openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.crt', '-subj', '/CN=127.0.0.1', '-days', '2']);
	tlsPort = await freePort();
	httpsBase = `https://127.0.0.1:${tlsPort}`;
	srv = await startServer({
		backend,
		extraArgs: ['--tls-listen', `127.0.0.1:${tlsPort}`, '--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'server.key')],
	});
	browser = await launchBrowser();

	// 陈静's account id, and her P-256 key and request
	const holder = new Client(srv.url);
	await holder.login(USERS.chenjing.login, USERS.chenjing.password);
	const me = await holder.get('/api/v1/me');
	assert.equal(me.status, 200);
	const holderId = (await me.json()).id;
	assert.ok(holderId, 'the holder has an id');
	openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'chenjing.key']);
	openssl(['req', '-new', '-key', 'chenjing.key', '-utf8', '-subj', '/CN=陈静', '-out', 'chenjing.csr']);
	op = new Client(srv.url);
	await op.login(OPERATOR.login, OPERATOR.password);
	const res = await op.post('/api/v1/pki/certs', {
		json: {
			ca: 'city-p256',
			profile: 'user',
			csr: readFileSync(join(dir, 'chenjing.csr'), 'utf8'),
			o: '贵阳市发展和改革委员会',
			holder_user: holderId,
		},
	});
	assert.equal(res.status, 201, await res.clone().text());
	cert = await res.json();
	assert.match(cert.pem, /^-----BEGIN CERTIFICATE-----/);
	writeFileSync(join(dir, 'chenjing.pem'), cert.pem);
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

// A fresh page over HTTPS; with the certificate when holding is true.
function httpsPage(holding) {
	const opts = { ignoreHTTPSErrors: true };
	if (holding)
		opts.clientCertificates = [{ origin: httpsBase, certPath: join(dir, 'chenjing.pem'), keyPath: join(dir, 'chenjing.key') }];
	return newPage(browser, opts);
}

async function text(page, selector) {
	return (await page.locator(selector).innerText()).replace(/\s+/g, ' ').trim();
}

const SUBMIT = '使用此证书登录';

// axe-core, and Latin words of the page not marked as such (a Chinese voice would spell them out); the
// CA's title is the pack's data, written as the CA calls itself ("市电子政务 CA（ECDSA，互通用）").
async function checkPage(findings, page, where) {
	await findings.axe(page, where);
	const en = (await englishInMain(page)).filter((h) => !h.startsWith('<dd id="cert-issuer">'));
	findings.expect(en.length === 0, `${where}: Latin words in <main> not marked lang="en": ${en.join(' | ')}`);
}

test(`a TLS client certificate signs its holder in; revoked, it is refused with the reason (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);

	// ---- from the sign-in page to 数字证书登录, and in ----
	let page = await httpsPage(true);
	try {
		await visit(page, httpsBase, '/login');
		assert.equal(await h1(page), '登录');
		await clickAndWait(page, page.locator('main').getByRole('link', { name: t('pki.login.link'), exact: true }));
		assert.equal(new URL(page.url()).pathname, '/login/certificate');
		assert.equal(await h1(page), '数字证书登录');
		assert.equal(await errorSummary(page), null);
		const subject = await text(page, '#cert-subject');
		assert.match(subject, /CN=陈静/);
		assert.match(subject, /O=贵阳市发展和改革委员会/);
		assert.equal(await text(page, '#cert-cn'), '陈静');
		assert.equal(await text(page, '#cert-serial'), cert.serial);
		assert.equal(await text(page, '#cert-issuer'), '市电子政务 CA（ECDSA，互通用）');
		await checkPage(findings, page, 'certificate sign-in with a certificate');
		const res = await clickAndWait(page, page.getByRole('button', { name: SUBMIT, exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(pathOf(page), '/workbench');
		assert.equal(await h1(page), '工作台');
		assert.equal((await page.locator('header .header-user').innerText()).trim(), USERS.chenjing.name);
		assert.equal((await page.locator('main .lead').innerText()).trim(), '您好，' + USERS.chenjing.name);
		// the session is hers: the API says who she is
		const me = await page.request.get(httpsBase + '/api/v1/me');
		assert.equal((await me.json()).login, USERS.chenjing.login);
		// signed in, the page sends her on
		await visit(page, httpsBase, '/login/certificate');
		assert.equal(pathOf(page), '/workbench');
	} finally {
		await page.context().close();
	}

	// ---- with a next page: 我的证书, which lists this very certificate ----
	page = await httpsPage(true);
	try {
		await visit(page, httpsBase, '/login/certificate?next=%2Fpki%2Fmine');
		assert.equal(await page.locator('main input[name="next"]').inputValue(), '/pki/mine');
		await clickAndWait(page, page.getByRole('button', { name: SUBMIT, exact: true }));
		assert.equal(pathOf(page), '/pki/mine');
		assert.equal(await h1(page), '我的证书');
		assert.equal(await page.locator(`#mine-city-p256-${cert.serial}`).count(), 1);
		const nav = await sideNav(page);
		assert.ok(nav.sections['我的工作'].some((l) => l.href === '/pki/mine' && l.current === 'page'), JSON.stringify(nav));
	} finally {
		await page.context().close();
	}
	// a next that leaves the site is not followed
	page = await httpsPage(true);
	try {
		await visit(page, httpsBase, '/login/certificate?next=%2F%2Fevil.example%2F');
		assert.equal(await page.locator('main input[name="next"]').inputValue(), '/workbench');
		await clickAndWait(page, page.getByRole('button', { name: SUBMIT, exact: true }));
		assert.equal(pathOf(page), '/workbench');
	} finally {
		await page.context().close();
	}

	// ---- revoked: a fresh context is refused, with the reason ----
	const rv = await op.post(`/api/v1/pki/certs/city-p256/${cert.serial}/revoke`, { json: { reason: 'keyCompromise' } });
	assert.equal(rv.status, 200, await rv.clone().text());
	page = await httpsPage(true);
	try {
		await visit(page, httpsBase, '/login/certificate');
		assert.match(await text(page, '#cert-subject'), /CN=陈静/);
		const res = await clickAndWait(page, page.getByRole('button', { name: SUBMIT, exact: true }));
		assert.equal(res.status(), 403);
		assert.equal(new URL(page.url()).pathname, '/login/certificate');
		const summary = await errorSummary(page);
		assert.ok(summary, 'a refusal shows an error summary');
		assert.equal(summary.role, 'alert');
		assert.equal(summary.title, '请更正以下问题');
		assert.equal(summary.links.length, 1);
		assert.match(summary.links[0].text, /已吊销/);
		assert.match(summary.links[0].text, /密钥泄露/);
		assert.equal(summary.links[0].text, t('pki.login.refused.revoked').replace('{label}', '密钥泄露'));
		assert.equal(summary.links[0].href, '#cert-summary');
		assert.match(await text(page, '#refusal-detail'), /revoked \(keyCompromise\)/);
		assert.equal(await text(page, '#login-state'), t('pki.login.lead_refused'));
		assert.equal(await page.getByRole('button', { name: SUBMIT }).count(), 0, 'a refused certificate offers no button');
		assert.match(await page.title(), /^错误：数字证书登录 - /);
		await checkPage(findings, page, 'certificate sign-in refused (revoked)');
		// nobody is signed in
		assert.equal(await page.locator('header .header-user').count(), 0);
		assert.equal((await page.request.get(httpsBase + '/api/v1/me')).status(), 401);
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`without a certificate the page explains how to sign in with one (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	// over HTTPS, but the browser has no certificate to present
	let page = await httpsPage(false);
	try {
		await visit(page, httpsBase, '/login/certificate');
		assert.equal(await h1(page), '数字证书登录');
		assert.equal(await text(page, '#login-state'), t('pki.login.no_cert'));
		assert.equal(await page.getByRole('button', { name: SUBMIT }).count(), 0, 'nothing to sign in with');
		assert.equal(await text(page, '#how-title'), '怎样用数字证书登录');
		assert.match(await text(page, '#how-usb-key'), /\/api\/v1\/session\/certificate/);
		assert.equal(await page.locator('main a[href="/pki"]').count(), 1, 'links to the certificate repository');
		await checkPage(findings, page, 'certificate sign-in over HTTPS without a certificate');
		await clickAndWait(page, page.getByRole('link', { name: t('pki.login.password_link'), exact: true }));
		assert.equal(new URL(page.url()).pathname, '/login');
		assert.equal(await h1(page), '登录');
	} finally {
		await page.context().close();
	}

	// over plain HTTP: the page gives the HTTPS address
	page = await newPage(browser);
	try {
		await visit(page, srv.url, '/login/certificate?next=%2Fpki%2Fmine');
		assert.equal(await text(page, '#login-state'), t('pki.login.not_tls'));
		const address = `${httpsBase}/login/certificate?next=/pki/mine`;
		assert.equal(await text(page, '#https-address'), address);
		assert.equal(await page.locator('#https-link').getAttribute('href'), address);
		assert.equal(await page.getByRole('button', { name: SUBMIT }).count(), 0);
		assert.equal(await page.locator('#password-link').getAttribute('href'), '/login?next=/pki/mine');
		await checkPage(findings, page, 'certificate sign-in over plain HTTP');
		// a POST without a certificate (a stale form, say) is refused on the page, not with an error page
		const token = (await page.context().cookies()).find((c) => c.name === 'yz_csrf')?.value;
		assert.ok(token, 'the page set its CSRF cookie');
		const r = await page.request.post(srv.url + '/login/certificate', { form: { _csrf: token, next: '/workbench' } });
		assert.equal(r.status(), 401);
		assert.ok((await r.text()).includes(t('pki.login.refused.no_cert')), 'the refusal says there was no certificate');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

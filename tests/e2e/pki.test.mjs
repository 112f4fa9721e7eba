// The PKI in the browser (the journey): anyone opens 证书信息库 (/pki), sees the four CAs of the
// demo city with their download links and the OCSP address, and downloads the city CA's certificate as
// DER (read back by the openssl CLI). The CA operator 赵敏 (zhaomin.ca) signs in, opens 签发证书 from the
// workbench navigation, pastes an ECDSA P-256 request made here by openssl, chooses the CA city-p256 and
// the profile server, enters a DNS name and lands on the new certificate (有效), which openssl verifies
// over the P-256 chain; the same form with a broken request shows the error summary naming the request
// field and keeps what was typed; on the certificate's page she revokes it for 密钥泄露 (已吊销, with the
// reason), and a second, stale copy of the page is refused with a clear message (409); 证书查询 finds the
// certificate by its CN. A second certificate is suspended (冻结/挂起) and resumed (解冻). Without
// JavaScript, an SM2 request (signed with the standard ID) becomes a personal certificate of the city CA
// and is revoked. Every page passes axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../api/lib/server.mjs';
import { Client } from '../api/lib/client.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import {
	backend,
	t,
	visit,
	clickAndWait,
	pathOf,
	signIn,
	h1,
	flashText,
	sideNav,
	checkErrorSummary,
	errorSummary,
	Findings,
} from './lib/pages.mjs';

const TIMEOUT = 120_000;
const OPERATOR = { login: 'zhaomin.ca', password: 'Yizhan@2026', name: '赵敏' };
const CN = 'zwfw.example.gov.cn';
const CAS = ['root', 'city', 'root-p256', 'city-p256'];
let srv;
let browser;
let dir;

function openssl(args, { input } = {}) {
	const r = spawnSync('openssl', args, { cwd: dir, input, encoding: 'utf8' });
	assert.equal(r.status, 0, `openssl ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
	return r.stdout;
}

before(async () => {
	dir = mkdtempSync(join(tmpdir(), 'yizhan-e2e-pki-'));
	srv = await startServer({ backend });
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

// A P-256 key and a PKCS#10 request for subject /CN=<cn>, made by openssl; resolves the PEM.
function p256Request(cn, name) {
	openssl([
		'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
		'-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`,
	]);
	return readFileSync(join(dir, `${name}.csr`), 'utf8');
}

// Texts of the cells of a table, row by row.
async function rows(page, selector) {
	return page
		.locator(`${selector} tbody tr`)
		.evaluateAll((trs) => trs.map((r) => [...r.cells].map((c) => c.innerText.replace(/\s+/g, ' ').trim())));
}

async function text(page, selector) {
	return (await page.locator(selector).innerText()).replace(/\s+/g, ' ').trim();
}

test(`the public repository lists the CAs and serves their certificates (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser);
	try {
		await visit(page, srv.url, '/pki');
		assert.equal(await h1(page), '证书信息库');
		for (const ca of CAS) {
			const sec = page.locator(`#ca-${ca}`);
			assert.equal(await sec.count(), 1, `CA ${ca} is listed`);
			for (const href of [`/pki/ca/${ca}.crt`, `/pki/ca/${ca}.pem`, `/pki/crl/${ca}.crl`])
				assert.equal(await sec.locator(`a[href="${href}"]`).count(), 1, `CA ${ca} links to ${href}`);
		}
		assert.match(await text(page, '#ca-city h3'), /^市电子政务 CA/);
		assert.match(await text(page, '#ca-city'), /SM2/);
		assert.match(await text(page, '#ca-city-p256'), /ECDSA P-256/);
		// the city CA names its parent, the root none
		assert.equal(await page.locator('#ca-city a[href="#ca-root"]').count(), 1);
		assert.match(await text(page, '#ca-root'), /无（自签名根证书）/);
		assert.equal(await text(page, '#ocsp-address'), '/pki/ocsp');
		await findings.axe(page, 'the certificate repository');

		// the city CA's certificate: a download of DER bytes that openssl reads
		const link = page.locator('#ca-city a[href="/pki/ca/city.crt"]');
		const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
		const file = join(dir, 'city-download.crt');
		await download.saveAs(file);
		const der = readFileSync(file);
		assert.equal(der[0], 0x30, 'a DER SEQUENCE');
		const subject = openssl(['x509', '-inform', 'DER', '-in', file, '-noout', '-subject', '-nameopt', 'utf8']);
		assert.match(subject, /贵阳市电子政务 CA/);
		const res = await page.request.get(srv.url + '/pki/ca/city.crt');
		assert.equal(res.status(), 200);
		assert.equal(res.headers()['content-type'], 'application/pkix-cert');
		assert.deepEqual(Buffer.from(await res.body()), der);
		// the CRL too
		const crl = await page.request.get(srv.url + '/pki/crl/city.crl');
		assert.equal(crl.status(), 200);
		assert.equal(crl.headers()['content-type'], 'application/pkix-crl');
		// the workbench pages are not public
		await visit(page, srv.url, '/pki/certs');
		assert.equal(new URL(page.url()).pathname, '/login');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`a CA operator issues, fails with a broken request, revokes, finds; suspends and resumes (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const csr = p256Request(CN, 'server');
	const page = await newPage(browser);
	let certPath;
	let serial;
	try {
		await signIn(page, srv.url, OPERATOR);
		const nav = await sideNav(page);
		const work = nav.sections['我的工作'] || [];
		assert.ok(work.some((l) => l.text === '签发证书' && l.href === '/pki/issue'), JSON.stringify(nav));
		assert.ok(work.some((l) => l.text === '证书查询' && l.href === '/pki/certs'), JSON.stringify(nav));

		// ---- (b) issue from a P-256 request ----
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '签发证书', exact: true }));
		assert.equal(pathOf(page), '/pki/issue');
		assert.equal(await h1(page), '签发证书');
		await findings.axe(page, 'the issue form');
		const form = page.locator('main form[action="/pki/issue"]');
		await form.getByLabel('签发机构', { exact: true }).selectOption('city-p256');
		await form.getByLabel('证书类型', { exact: true }).selectOption('server');
		await form.getByLabel('证书请求', { exact: true }).fill(csr);
		await form.getByLabel('域名', { exact: true }).fill(CN);
		let res = await clickAndWait(page, form.getByRole('button', { name: '签发证书', exact: true }));
		assert.equal(res.status(), 200);
		const m = /^\/pki\/certs\/city-p256\/([0-9A-F]+)$/.exec(pathOf(page));
		assert.ok(m, `after issuing we are at ${page.url()}`);
		certPath = pathOf(page);
		serial = m[1];
		assert.equal(await flashText(page), t('pki.flash.issued'));
		assert.equal(await h1(page), `数字证书 ${CN}`);
		assert.equal(await text(page, '#cert-status'), '有效');
		assert.equal(await text(page, '#cert-serial'), serial);
		assert.match(await text(page, '#cert-summary'), /服务器证书/);
		const pem = await page.locator('#cert-pem').innerText();
		assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
		// the download link is the API's DER, which a signed-in browser may fetch
		const dl = page.locator('#cert-download');
		assert.equal(await dl.getAttribute('href'), `/api/v1/pki/certs/city-p256/${serial}.crt`);
		const crt = await page.request.get(srv.url + (await dl.getAttribute('href')));
		assert.equal(crt.status(), 200);
		assert.equal(crt.headers()['content-type'], 'application/pkix-cert');
		writeFileSync(join(dir, 'server.der'), Buffer.from(await crt.body()));
		// openssl checks it over the P-256 chain, and that it is the key of the request
		for (const ca of ['root-p256', 'city-p256']) {
			const r = await page.request.get(`${srv.url}/pki/ca/${ca}.pem`);
			writeFileSync(join(dir, `${ca}.pem`), await r.text());
		}
		openssl(['x509', '-inform', 'DER', '-in', 'server.der', '-out', 'server.pem']);
		assert.match(openssl(['verify', '-CAfile', 'root-p256.pem', '-untrusted', 'city-p256.pem', 'server.pem']), /server.pem: OK/);
		assert.match(openssl(['x509', '-in', 'server.pem', '-noout', '-ext', 'subjectAltName']), new RegExp(`DNS:${CN.replace(/\./g, '\\.')}`));
		assert.equal(
			openssl(['x509', '-in', 'server.pem', '-noout', '-pubkey']),
			openssl(['pkey', '-in', 'server.key', '-pubout'])
		);
		assert.equal(pem.trim(), readFileSync(join(dir, 'server.pem'), 'utf8').trim());
		await findings.axe(page, 'the new certificate');

		// ---- (c) a broken request: the summary names the request field, the form keeps the input ----
		await visit(page, srv.url, '/pki/issue');
		await form.getByLabel('签发机构', { exact: true }).selectOption('city-p256');
		await form.getByLabel('证书类型', { exact: true }).selectOption('server');
		const broken = csr.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!broken!!!!');
		assert.notEqual(broken, csr);
		await form.getByLabel('证书请求', { exact: true }).fill(broken);
		await form.getByLabel('域名', { exact: true }).fill(CN);
		res = await clickAndWait(page, form.getByRole('button', { name: '签发证书', exact: true }));
		assert.equal(res.status(), 400);
		assert.equal(pathOf(page), '/pki/issue');
		const { summary } = await checkErrorSummary(page, findings, 'a broken request', { fields: ['csr'] });
		assert.equal(summary.links[0].href, '#f-csr');
		assert.equal(summary.links[0].text, '证书请求无法识别，请粘贴完整的证书请求文本');
		assert.match(await page.title(), /^错误：签发证书 - /);
		assert.equal(await form.getByLabel('签发机构', { exact: true }).inputValue(), 'city-p256');
		assert.equal(await form.getByLabel('证书类型', { exact: true }).inputValue(), 'server');
		assert.equal(await form.getByLabel('域名', { exact: true }).inputValue(), CN);
		assert.equal((await form.getByLabel('证书请求', { exact: true }).inputValue()).trim(), broken.trim());
		await findings.axe(page, 'the issue form with a broken request');
		// nothing chosen, nothing pasted: each field says what is missing
		await visit(page, srv.url, '/pki/issue');
		res = await clickAndWait(page, form.getByRole('button', { name: '签发证书', exact: true }));
		assert.equal(res.status(), 400);
		const empty = await checkErrorSummary(page, findings, 'an empty issue form', { fields: ['ca', 'profile'] });
		assert.deepEqual(empty.summary.links.map((l) => l.text), ['请选择签发机构', '请选择证书类型']);

		// ---- (d) revoke for key compromise; a stale page is refused ----
		const stale = await page.context().newPage();
		await visit(stale, srv.url, certPath);
		await visit(page, srv.url, certPath);
		const revoke = page.locator(`main form[action="${certPath}/revoke"]`);
		assert.equal(await page.locator(`main form[action="${certPath}/resume"]`).count(), 0, 'a valid certificate has nothing to resume');
		// no reason chosen
		res = await clickAndWait(page, revoke.getByRole('button', { name: '吊销证书', exact: true }));
		assert.equal(res.status(), 400);
		const noReason = await checkErrorSummary(page, findings, 'a revocation without a reason', { fields: ['reason'] });
		assert.equal(noReason.summary.links[0].text, '请选择原因');
		assert.equal(await text(page, '#cert-status'), '有效');
		await findings.axe(page, 'a revocation without a reason');
		await revoke.getByLabel('原因', { exact: true }).selectOption({ label: '密钥泄露' });
		res = await clickAndWait(page, revoke.getByRole('button', { name: '吊销证书', exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(pathOf(page), certPath);
		assert.equal(await flashText(page), t('pki.flash.revoked'));
		assert.equal(await text(page, '#cert-status'), '已吊销');
		assert.equal(await text(page, '#cert-reason'), '密钥泄露');
		assert.equal(await page.locator('main form').count(), 0, 'a revoked certificate cannot change again');
		await findings.axe(page, 'the revoked certificate');
		const staleForm = stale.locator(`main form[action="${certPath}/revoke"]`);
		await staleForm.getByLabel('原因', { exact: true }).selectOption({ label: '已被取代' });
		res = await clickAndWait(stale, staleForm.getByRole('button', { name: '吊销证书', exact: true }));
		assert.equal(res.status(), 409);
		const refused = await errorSummary(stale);
		assert.ok(refused, 'revoking a revoked certificate: no error summary');
		assert.equal(refused.role, 'alert');
		assert.deepEqual(refused.links, [{ text: t('pki.error.revoked'), href: '#cert-status' }]);
		assert.equal(await text(stale, '#cert-status'), '已吊销');
		assert.equal(await text(stale, '#cert-reason'), '密钥泄露');
		await findings.axe(stale, 'revoking a revoked certificate');
		await stale.close();

		// ---- (e) the search finds it by its CN ----
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '证书查询', exact: true }));
		assert.equal(pathOf(page), '/pki/certs');
		assert.equal(await h1(page), '证书查询');
		const search = page.locator('main form[action="/pki/certs"]');
		await search.getByLabel('姓名/名称、序列号或密钥标识', { exact: true }).fill(CN);
		await clickAndWait(page, search.getByRole('button', { name: '查找', exact: true }));
		assert.match(pathOf(page), /^\/pki\/certs\?q=zwfw\.example\.gov\.cn/);
		const found = await rows(page, '#certs');
		assert.equal(found.length, 1, JSON.stringify(found));
		assert.deepEqual(found[0].slice(0, 5), [serial, CN, '服务器证书', '市电子政务 CA（ECDSA，互通用）', '已吊销']);
		await findings.axe(page, 'the certificate search');
		// by serial, in lower case, and filtered by status
		await visit(page, srv.url, `/pki/certs?q=${serial.toLowerCase()}`);
		assert.equal((await rows(page, '#certs'))[0][0], serial);
		await visit(page, srv.url, `/pki/certs?q=${CN}&status=valid`);
		assert.deepEqual(await rows(page, '#certs'), [[t('pki.certs.none')]]);
		assert.equal(await page.locator('#f-status').inputValue(), 'valid');
		await visit(page, srv.url, `/pki/certs?q=${CN}`);
		await clickAndWait(page, page.locator('#certs').getByRole('link', { name: serial, exact: true }));
		assert.equal(pathOf(page), certPath);

		// ---- suspend and resume another certificate ----
		const api = new Client(srv.url);
		await api.login(OPERATOR.login, OPERATOR.password);
		const issued = await api.post('/api/v1/pki/certs', {
			json: { ca: 'city-p256', profile: 'server', csr: p256Request('gw.example.gov.cn', 'gw'), dns: ['gw.example.gov.cn'] },
		});
		assert.equal(issued.status, 201, await issued.clone().text());
		const gw = await issued.json();
		const gwPath = `/pki/certs/city-p256/${gw.serial}`;
		await visit(page, srv.url, gwPath);
		const hold = page.locator(`main form[action="${gwPath}/revoke"]`);
		await hold.getByLabel('原因', { exact: true }).selectOption({ label: '冻结/挂起' });
		await clickAndWait(page, hold.getByRole('button', { name: '吊销证书', exact: true }));
		assert.equal(await flashText(page), t('pki.flash.suspended'));
		assert.equal(await text(page, '#cert-status'), '已冻结');
		assert.equal(await text(page, '#cert-reason'), '冻结/挂起');
		// suspended: it can be resumed, or revoked for good, but not suspended again
		const reasons = await page.locator('#f-reason option').allInnerTexts();
		assert.ok(!reasons.includes('冻结/挂起'), JSON.stringify(reasons));
		await findings.axe(page, 'a suspended certificate');
		await clickAndWait(page, page.locator(`main form[action="${gwPath}/resume"]`).getByRole('button', { name: '解冻', exact: true }));
		assert.equal(await flashText(page), t('pki.flash.resumed'));
		assert.equal(await text(page, '#cert-status'), '有效');
		assert.equal(await page.locator('#cert-reason').count(), 0);
		assert.equal(await page.locator(`main form[action="${gwPath}/resume"]`).count(), 0);
	} finally {
		await page.context().close();
	}

	// a clerk without the PKI permissions sees neither the links nor the pages (only 我的证书, as everyone)
	const clerk = await newPage(browser);
	try {
		await signIn(clerk, srv.url, { login: 'chenjing.fgw', password: 'Yizhan@2026' });
		const nav = await sideNav(clerk);
		const pkiLinks = Object.values(nav.sections).flat().filter((l) => l.href.startsWith('/pki/'));
		assert.deepEqual(pkiLinks.map((l) => l.href), ['/pki/mine'], JSON.stringify(nav));
		await visit(clerk, srv.url, '/pki/issue', { status: 403 });
		await visit(clerk, srv.url, certPath, { status: 403 });
	} finally {
		await clerk.context().close();
	}
	findings.assertNone();
});

test(`without JavaScript: an SM2 request becomes a personal certificate, which is revoked (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc, { javaScript: false });
	openssl(['genpkey', '-algorithm', 'SM2', '-out', 'sm2.key']);
	openssl(['req', '-new', '-key', 'sm2.key', '-utf8', '-subj', '/CN=李娜', '-sm3', '-sigopt', 'distid:1234567812345678', '-out', 'sm2.csr']);
	const csr = readFileSync(join(dir, 'sm2.csr'), 'utf8');
	const page = await newPage(browser, { javaScriptEnabled: false });
	try {
		await signIn(page, srv.url, OPERATOR);
		await visit(page, srv.url, '/pki/issue');
		const form = page.locator('main form[action="/pki/issue"]');
		await form.getByLabel('签发机构', { exact: true }).selectOption({ label: '市电子政务 CA' });
		await form.getByLabel('证书类型', { exact: true }).selectOption({ label: '个人证书（公务人员）' });
		await form.getByLabel('证书请求', { exact: true }).fill(csr);
		await form.getByLabel('单位（O）', { exact: true }).fill('贵阳市大数据发展管理局');
		// a DNS name is not part of a personal certificate
		await form.getByLabel('域名', { exact: true }).fill('lina.example.gov.cn');
		let res = await clickAndWait(page, form.getByRole('button', { name: '签发证书', exact: true }));
		assert.equal(res.status(), 400);
		const { summary } = await checkErrorSummary(page, findings, 'a DNS name on a personal certificate (no JavaScript)', { fields: ['dns'] });
		assert.equal(summary.links[0].text, '所选证书类型不包含域名，请留空');
		await findings.axe(page, 'the issue form with an error (no JavaScript)');
		await form.getByLabel('域名', { exact: true }).fill('');
		res = await clickAndWait(page, form.getByRole('button', { name: '签发证书', exact: true }));
		assert.equal(res.status(), 200);
		assert.match(pathOf(page), /^\/pki\/certs\/city\/[0-9A-F]+$/);
		assert.equal(await h1(page), '数字证书 李娜');
		assert.equal(await text(page, '#cert-status'), '有效');
		assert.match(await text(page, '#cert-summary'), /个人证书（公务人员）/);
		assert.match(await text(page, '#cert-summary'), /O=贵阳市大数据发展管理局/);
		await findings.axe(page, 'a personal certificate (no JavaScript)');
		const revoke = page.locator('main form[action$="/revoke"]');
		await revoke.getByLabel('原因', { exact: true }).selectOption({ label: '停止使用' });
		await clickAndWait(page, revoke.getByRole('button', { name: '吊销证书', exact: true }));
		assert.equal(await flashText(page), t('pki.flash.revoked'));
		assert.equal(await text(page, '#cert-status'), '已吊销');
		assert.equal(await text(page, '#cert-reason'), '停止使用');
		await findings.axe(page, 'a revoked personal certificate (no JavaScript)');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

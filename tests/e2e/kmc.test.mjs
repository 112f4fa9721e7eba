// The key management centre in the browser (the issue's journey). The CA operator 赵敏 (zhaomin.ca)
// certifies two SM2 signing keys of the holder 陈静 through the API, from requests openssl made with the
// standard ID. The KMC operator 方晴 (fangqing.kmc) opens 密钥管理 from the workbench: creates and rotates a
// data key (an empty and a malformed purpose first: the error summary), issues the holder's encryption key
// pair on 签发加密密钥对 (an empty form and an encryption certificate given as the signing certificate
// first) and downloads the envelope, which openssl opens with the holder's signing key alone to the
// certificate's own key; the archive lists it. She files a recovery request for it from the archive (an
// incomplete form first) to the holder's second signing certificate. 罗伟 approves from 密钥恢复审批;
// releasing is then refused in the page (1 of 2), and his second approval from a stale copy of the page
// is refused (422, distinct); 周敏 approves; 方晴 releases the key and downloads the envelope, which
// openssl opens with the second signing key to the same private key; a second release from a stale page
// is refused (409). A requester who is also an approver cannot approve her own request (422,
// not-requester), and an approver's no, given with its reason, closes a request. Without JavaScript an
// encryption key pair is issued and its envelope downloaded. Every page passes axe-core.
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
	englishInMain,
	Findings,
} from './lib/pages.mjs';

const TIMEOUT = 180_000;
const PW = 'Yizhan@2026';
const ID = '1234567812345678';
const CA_OP = { login: 'zhaomin.ca', password: PW, name: '赵敏' };
const OPERATOR = { login: 'fangqing.kmc', password: PW, name: '方晴' };
const LUO = { login: 'luowei.dsjj', password: PW, name: '罗伟' };
const ZHOU = { login: 'zhoumin.bgt', password: PW, name: '周敏' };
const TIAN = { login: 'tianjing.gaj', password: PW, name: '田静' };
const S = {}; // what the journeys hand on to each other
let srv;
let browser;
let dir;

function openssl(args, { ok = true } = {}) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
	if (ok) assert.equal(r.status, 0, `openssl ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
	return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
}

async function json(res, status) {
	const text = await res.text();
	assert.equal(res.status, status, text);
	return JSON.parse(text);
}

// ---- a minimal DER reader and writer (enough for SM2EnvelopedKey and SEC1) ----

function tlv(buf, at = 0) {
	let len = buf[at + 1];
	let hl = 2;
	if (len & 0x80) {
		const n = len & 0x7f;
		len = 0;
		for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i];
		hl += n;
	}
	return { tag: buf[at], body: at + hl, end: at + hl + len, bytes: buf.subarray(at, at + hl + len), value: buf.subarray(at + hl, at + hl + len) };
}

function children(buf, t) {
	const out = [];
	for (let at = t.body; at < t.end; ) {
		const c = tlv(buf, at);
		out.push(c);
		at = c.end;
	}
	return out;
}

function der(tag, value) {
	const n = value.length;
	const head = n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : [tag, 0x82, n >> 8, n & 0xff];
	return Buffer.concat([Buffer.from(head), value]);
}

// Open a downloaded envelope (GB/T 35276 SM2EnvelopedKey, DER) with openssl alone, as
// tests/api/kmc.test.mjs does: the key file decrypts the SM4 key, SM4-ECB the private scalar, and a SEC1
// key of that scalar without its public key gives openssl's own d·G. Resolves the scalar (hex) and the
// SubjectPublicKeyInfo PEM openssl computes.
function openEnvelope(file, keyFile, name) {
	const env = readFileSync(join(dir, file));
	const top = tlv(env);
	assert.equal(top.tag, 0x30, 'a DER SEQUENCE');
	assert.equal(top.end, env.length, 'nothing after the SEQUENCE');
	const [alg, cipher, pub, encd] = children(env, top);
	assert.deepEqual([...alg.value], [0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x68, 0x01], 'symAlgID sm4-ecb');
	assert.equal(cipher.tag, 0x30, 'symEncryptedKey is an SM2Cipher');
	assert.equal(pub.tag, 0x03);
	assert.equal(encd.tag, 0x03);
	assert.match(openssl(['asn1parse', '-inform', 'DER', '-in', file]).out, /1\.2\.156\.10197\.1\.104\.1|sm4-ecb/i);
	writeFileSync(join(dir, `${name}.sym.ct`), cipher.bytes);
	openssl(['pkeyutl', '-decrypt', '-inkey', keyFile, '-in', `${name}.sym.ct`, '-out', `${name}.sym`]);
	const sym = readFileSync(join(dir, `${name}.sym`));
	assert.equal(sym.length, 16, 'an SM4 key');
	writeFileSync(join(dir, `${name}.encd`), encd.value.subarray(1));
	openssl(['enc', '-d', '-sm4-ecb', '-nopad', '-K', sym.toString('hex'), '-in', `${name}.encd`, '-out', `${name}.d`]);
	const d = readFileSync(join(dir, `${name}.d`));
	assert.equal(d.length, 32);
	const sm2curve = Buffer.from([0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d]);
	writeFileSync(join(dir, `${name}.sec1.der`), der(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x01]), der(0x04, d), der(0xa0, sm2curve)])));
	const spki = openssl(['pkey', '-inform', 'DER', '-in', `${name}.sec1.der`, '-pubout']).out;
	return { d: d.toString('hex'), spki, cipher: `${name}.sym.ct` };
}

async function text(page, selector) {
	return (await page.locator(selector).innerText()).replace(/\s+/g, ' ').trim();
}

// Texts of the cells of a table row, by the row's id.
async function row(page, id) {
	return page.locator(`#${id}`).evaluate((r) => [...r.cells].map((c) => c.innerText.replace(/\s+/g, ' ').trim()));
}

// Download the envelope of a result page into dir/<name>; checks it is the page's own text.
async function downloadEnvelope(page, name) {
	const link = page.locator('#envelope-download');
	const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
	assert.match(download.suggestedFilename(), /^SM2EnvelopedKey-[0-9A-F]+(-recovery-\d+)?\.der$/);
	await download.saveAs(join(dir, name));
	const bytes = readFileSync(join(dir, name));
	const shown = (await page.locator('#envelope-text').textContent()).replace(/\s+/g, '');
	assert.equal(bytes.toString('base64'), shown, 'the file is the envelope the page shows');
	return download.suggestedFilename();
}

// The summary of a refusal that is no field's: one link, the message, where it points.
async function refusal(page, findings, where) {
	const s = await errorSummary(page);
	assert.ok(s, `${where}: no error summary`);
	assert.equal(s.role, 'alert');
	assert.equal(s.title, '请更正以下问题');
	assert.equal(s.links.length, 1, JSON.stringify(s.links));
	assert.equal(await page.locator(s.links[0].href).count(), 1, `${where}: the summary's link target ${s.links[0].href} is missing`);
	await findings.axe(page, where);
	return s.links[0].text;
}

async function noEnglish(page, findings, where) {
	const en = await englishInMain(page);
	findings.expect(en.length === 0, `${where}: Latin words not marked lang="en": ${en.join(' | ')}`);
}

before(async () => {
	dir = mkdtempSync(join(tmpdir(), 'yizhan-e2e-kmc-'));
	srv = await startServer({ backend });
	browser = await launchBrowser();
	for (const k of ['holder', 'holder2']) {
		openssl(['genpkey', '-algorithm', 'SM2', '-out', `${k}.key`]);
		openssl(['req', '-new', '-key', `${k}.key`, '-utf8', '-subj', '/CN=陈静', '-sm3', '-sigopt', `distid:${ID}`, '-out', `${k}.csr`]);
	}
	// the holder's two signing certificates, certified by the CA operator through the API
	const ca = new Client(srv.url);
	await ca.login(CA_OP.login, CA_OP.password);
	for (const k of ['holder', 'holder2'])
		S[k] = await json(
			await ca.post('/api/v1/pki/certs', {
				json: {
					ca: 'city',
					profile: 'user',
					csr: readFileSync(join(dir, `${k}.csr`), 'utf8'),
					o: '贵阳市发展和改革委员会',
					id_number: '11010519491231002X',
					email: 'chenjing.fgw@example.gov.cn',
				},
			}),
			201
		);
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

test(`the KMC operator keeps data keys and issues a holder's encryption key pair (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser, { acceptDownloads: true });
	try {
		await signIn(page, srv.url, OPERATOR);
		const nav = await sideNav(page);
		const work = nav.sections['我的工作'] || [];
		assert.ok(work.some((l) => l.text === '密钥管理' && l.href === '/pki/kmc'), JSON.stringify(nav));
		assert.ok(!work.some((l) => l.href === '/pki/kmc/recoveries'), 'an operator is no approver');
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '密钥管理', exact: true }));
		assert.equal(pathOf(page), '/pki/kmc');
		assert.equal(await h1(page), '密钥管理中心');
		assert.deepEqual(await row(page, 'data-key-list tbody tr'), [t('kmc.datakeys.none')]);
		await findings.axe(page, 'the key management centre');
		await noEnglish(page, findings, 'the key management centre');

		// ---- data keys: the purpose is checked, then a key is made and rotated ----
		const form = page.locator('main form[action="/pki/kmc/data-keys"]');
		let res = await clickAndWait(page, form.getByRole('button', { name: '新建数据密钥', exact: true }));
		assert.equal(res.status(), 400);
		let errs = await checkErrorSummary(page, findings, 'a data key without a purpose', { fields: ['purpose'] });
		assert.equal(errs.summary.links[0].text, '请填写用途');
		await findings.axe(page, 'a data key without a purpose');
		await form.getByLabel('用途', { exact: true }).fill('Not Allowed!');
		res = await clickAndWait(page, form.getByRole('button', { name: '新建数据密钥', exact: true }));
		assert.equal(res.status(), 400);
		errs = await checkErrorSummary(page, findings, 'a malformed purpose', { fields: ['purpose'] });
		assert.equal(errs.summary.links[0].text, t('kmc.rule.pattern').replace('{label}', '用途'));
		assert.equal(await form.getByLabel('用途', { exact: true }).inputValue(), 'Not Allowed!');
		await form.getByLabel('用途', { exact: true }).fill('registry.person.id_number');
		res = await clickAndWait(page, form.getByRole('button', { name: '新建数据密钥', exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(pathOf(page), '/pki/kmc');
		assert.equal(await flashText(page), t('kmc.flash.datakey_created'));
		const keyId = (await page.locator('#data-key-list tbody tr code').first().innerText()).trim();
		assert.match(keyId, /^dk-[0-9a-f]{16}$/);
		let cells = await row(page, `dk-${keyId}`);
		assert.equal(cells[1], 'registry.person.id_number');
		assert.match(cells[2], /^1 启用于/);
		await clickAndWait(page, page.locator(`#dk-${keyId}`).getByRole('button', { name: `轮换 ${keyId}`, exact: true }));
		assert.equal(await flashText(page), t('kmc.flash.datakey_rotated'));
		cells = await row(page, `dk-${keyId}`);
		assert.match(cells[2], /^2 启用于/);
		await findings.axe(page, 'the data keys after a rotation');
		// the page shows what the API lists, never the material
		const api = new Client(srv.url);
		await api.login(OPERATOR.login, OPERATOR.password);
		const listed = await json(await api.get('/api/v1/pki/kmc/data-keys'), 200);
		assert.deepEqual(listed.items.map((k) => [k.key_id, k.version]), [[keyId, 2]]);

		// ---- the encryption key pair: an empty form, a certificate that is not a signing one, then issued ----
		await clickAndWait(page, page.getByRole('link', { name: '为持有人签发加密密钥对', exact: true }));
		assert.equal(pathOf(page), '/pki/kmc/enc-keys/new');
		assert.equal(await h1(page), '签发加密密钥对');
		await findings.axe(page, 'the encryption key pair form');
		const issue = page.locator('main form[action="/pki/kmc/enc-keys/new"]');
		res = await clickAndWait(page, issue.getByRole('button', { name: '签发加密密钥对', exact: true }));
		assert.equal(res.status(), 400);
		errs = await checkErrorSummary(page, findings, 'an empty encryption key pair form', { fields: ['ca', 'serial'] });
		assert.deepEqual(errs.summary.links.map((l) => l.text), ['请选择签发机构', '请填写签名证书序列号']);
		await findings.axe(page, 'an empty encryption key pair form');
		await issue.getByLabel('签发机构', { exact: true }).selectOption({ label: '市电子政务 CA' });
		await issue.getByLabel('签名证书序列号', { exact: true }).fill('XYZ');
		res = await clickAndWait(page, issue.getByRole('button', { name: '签发加密密钥对', exact: true }));
		assert.equal(res.status(), 400);
		errs = await checkErrorSummary(page, findings, 'a serial that is not hex', { fields: ['serial'] });
		assert.equal(errs.summary.links[0].text, '签名证书序列号应为十六进制数字（0–9、A–F）');
		assert.equal(await issue.getByLabel('签发机构', { exact: true }).inputValue(), 'city');
		await issue.getByLabel('签名证书序列号', { exact: true }).fill(S.holder.serial.toLowerCase());
		res = await clickAndWait(page, issue.getByRole('button', { name: '签发加密密钥对', exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(await h1(page), '加密密钥对已签发');
		assert.equal(await text(page, '#cert-cn'), '陈静');
		assert.equal(await text(page, '#signing-serial'), S.holder.serial);
		const encSerial = await text(page, '#cert-serial');
		assert.match(encSerial, /^[0-9A-F]+$/);
		assert.match(await text(page, '#cert-summary'), /O=贵阳市发展和改革委员会/);
		assert.match(await text(page, '.panel'), /只有持有人的签名私钥/);
		await findings.axe(page, 'the issued encryption key pair');
		await noEnglish(page, findings, 'the issued encryption key pair');
		writeFileSync(join(dir, 'enc.pem'), await page.locator('#cert-pem').innerText());
		// the envelope as a file: opened with the holder's signing key to the certificate's own key
		await downloadEnvelope(page, 'issued.der');
		const issued = openEnvelope('issued.der', 'holder.key', 'issued');
		const encPub = openssl(['x509', '-in', 'enc.pem', '-noout', '-pubkey']).out;
		assert.equal(issued.spki, encPub, 'the envelope carries the private key of the encryption certificate');
		// only the holder's key opens it
		assert.notEqual(openssl(['pkeyutl', '-decrypt', '-inkey', 'holder2.key', '-in', issued.cipher, '-out', 'x'], { ok: false }).code, 0);
		const ku = openssl(['x509', '-in', 'enc.pem', '-noout', '-ext', 'keyUsage']).out;
		assert.match(ku, /Key Encipherment/);
		assert.doesNotMatch(ku, /Digital Signature/);
		// the API names the same certificate as the holder's archived encryption key
		const arch = await json(await api.get(`/api/v1/pki/kmc/enc-keys?serial=${S.holder.serial}`), 200);
		assert.deepEqual(arch.items.map((x) => x.serial), [encSerial]);
		S.enc = { serial: encSerial, d: issued.d, pub: encPub };

		// an encryption certificate is nobody's signing certificate
		await visit(page, srv.url, '/pki/kmc/enc-keys/new');
		await issue.getByLabel('签发机构', { exact: true }).selectOption('city');
		await issue.getByLabel('签名证书序列号', { exact: true }).fill(encSerial);
		res = await clickAndWait(page, issue.getByRole('button', { name: '签发加密密钥对', exact: true }));
		assert.equal(res.status(), 400);
		errs = await checkErrorSummary(page, findings, 'an encryption certificate as the signing certificate', { fields: ['serial'] });
		assert.equal(errs.summary.links[0].text, '签名证书序列号对应的不是签名证书，请填写持有人签名证书的序列号');

		// the archive lists it, without any key
		await visit(page, srv.url, '/pki/kmc');
		cells = await row(page, `enc-city-${encSerial}`);
		assert.deepEqual(cells.slice(0, 4), ['陈静', encSerial, '市电子政务 CA', S.holder.serial]);
		assert.doesNotMatch(await page.content(), /PRIVATE KEY/);
		await findings.axe(page, 'the archive');
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`recovery: two of three approvers, refused before, refused twice, released once (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	assert.ok(S.enc, 'the first journey issued the encryption key pair');
	const findings = new Findings(tc);
	const op = await newPage(browser, { acceptDownloads: true });
	const luo = await newPage(browser);
	const zhou = await newPage(browser);
	try {
		// ---- 方晴 files the request from the archive ----
		await signIn(op, srv.url, OPERATOR);
		await visit(op, srv.url, '/pki/kmc');
		await clickAndWait(op, op.locator(`#enc-city-${S.enc.serial}`).getByRole('link', { name: new RegExp(`^申请恢复`) }));
		assert.equal(pathOf(op), `/pki/kmc/recoveries/new?ca=city&serial=${S.enc.serial}`);
		assert.equal(await h1(op), '提出密钥恢复申请');
		await findings.axe(op, 'the recovery request form');
		await noEnglish(op, findings, 'the recovery request form');
		const form = op.locator('main form[action="/pki/kmc/recoveries/new"]');
		assert.equal(await form.getByLabel('加密证书的签发机构', { exact: true }).inputValue(), 'city');
		assert.equal(await form.getByLabel('加密证书序列号', { exact: true }).inputValue(), S.enc.serial);
		let res = await clickAndWait(op, form.getByRole('button', { name: '提交恢复申请', exact: true }));
		assert.equal(res.status(), 400);
		const errs = await checkErrorSummary(op, findings, 'an incomplete recovery request', { fields: ['reason', 'recipient_serial'] });
		assert.deepEqual(errs.summary.links.map((l) => l.text), ['请填写恢复原因', '请填写接收证书序列号']);
		await findings.axe(op, 'an incomplete recovery request');
		await form.getByLabel('恢复原因', { exact: true }).fill('持有人智能密码钥匙丢失，需解密归档的历史公文');
		await form.getByLabel('接收证书序列号', { exact: true }).fill(S.holder2.serial);
		res = await clickAndWait(op, form.getByRole('button', { name: '提交恢复申请', exact: true }));
		assert.equal(res.status(), 200);
		const m = /^\/pki\/kmc\/recoveries\/(\d+)$/.exec(pathOf(op));
		assert.ok(m, `after the request we are at ${op.url()}`);
		const id = Number(m[1]);
		const detail = `/pki/kmc/recoveries/${id}`;
		assert.equal(await flashText(op), t('kmc.flash.requested'));
		assert.match(await text(op, '#recovery-status'), /^待审批/);
		assert.equal(await text(op, '#recovery-count'), '0 / 2');
		assert.match(await text(op, '#recovery-requester'), /^方晴 · /);
		assert.equal(await op.locator(`main form[action="${detail}/approve"]`).count(), 0, 'the operator holds no approver right');
		assert.equal(await text(op, '#release-hint'), t('kmc.recovery.release_wait'));
		await findings.axe(op, 'a new recovery request');
		await noEnglish(op, findings, 'a new recovery request');

		// ---- 罗伟 approves from 密钥恢复审批; a stale copy of the page stays open ----
		await signIn(luo, srv.url, LUO);
		const nav = await sideNav(luo);
		assert.ok((nav.sections['我的工作'] || []).some((l) => l.text === '密钥恢复审批' && l.href === '/pki/kmc/recoveries'), JSON.stringify(nav));
		await clickAndWait(luo, luo.locator('nav.side-nav').getByRole('link', { name: '密钥恢复审批', exact: true }));
		assert.equal(await h1(luo), '密钥恢复');
		const cells = await row(luo, `recovery-${id}`);
		assert.deepEqual(cells.slice(1, 6), ['陈静', S.enc.serial, '方晴', '待审批', '0 / 2']);
		await findings.axe(luo, 'the pending recovery requests');
		await clickAndWait(luo, luo.locator(`#recovery-${id}`).getByRole('link'));
		assert.equal(pathOf(luo), detail);
		await findings.axe(luo, 'a recovery request for an approver');
		const stale = await luo.context().newPage();
		await visit(stale, srv.url, detail);
		const approve = luo.locator(`main form[action="${detail}/approve"]`);
		await approve.getByLabel(/^审批意见/).fill('已核实持有人身份');
		await clickAndWait(luo, approve.getByRole('button', { name: '批准恢复', exact: true }));
		assert.equal(pathOf(luo), detail);
		assert.equal(await flashText(luo), t('kmc.flash.approved'));
		assert.equal(await text(luo, '#recovery-count'), '1 / 2');
		assert.match(await text(luo, '#approval-list'), /罗伟 已批准/);
		assert.equal(await text(luo, '#already-approved'), t('kmc.recovery.already_approved'));
		assert.equal(await luo.locator(`main form[action="${detail}/approve"]`).count(), 0);
		await findings.axe(luo, 'a request the approver has approved');

		// ---- one of two: 方晴 cannot release yet ----
		await visit(op, srv.url, detail);
		res = await clickAndWait(op, op.locator(`main form[action="${detail}/release"]`).getByRole('button', { name: '发放密钥', exact: true }));
		assert.equal(res.status(), 409);
		assert.equal(await refusal(op, findings, 'a release with one approval'), t('kmc.refusal.quorum').replaceAll('{got}', '1'));
		assert.match(await text(op, '#recovery-status'), /^待审批/);

		// ---- 罗伟 again, from the stale page: he counts once ----
		res = await clickAndWait(stale, stale.locator(`main form[action="${detail}/approve"]`).getByRole('button', { name: '批准恢复', exact: true }));
		assert.equal(res.status(), 422);
		assert.equal(await refusal(stale, findings, 'a second approval by the same approver'), t('kmc.refusal.distinct'));
		assert.equal(await text(stale, '#recovery-count'), '1 / 2');
		await stale.close();

		// ---- 周敏 approves: the request is approved ----
		await signIn(zhou, srv.url, ZHOU);
		await visit(zhou, srv.url, '/pki/kmc/recoveries');
		await clickAndWait(zhou, zhou.locator(`#recovery-${id}`).getByRole('link'));
		await clickAndWait(zhou, zhou.locator(`main form[action="${detail}/approve"]`).getByRole('button', { name: '批准恢复', exact: true }));
		assert.equal(await flashText(zhou), t('kmc.flash.approved_quorum'));
		assert.match(await text(zhou, '#recovery-status'), /^已批准，待发放/);
		assert.equal(await text(zhou, '#recovery-count'), '2 / 2');
		assert.equal(await zhou.locator('main form').count(), 0, 'an approved request takes no more decisions');
		await findings.axe(zhou, 'an approved request');
		// the approval ran on the flow engine: the instance is closed as approved
		const flowLink = await zhou.locator(`a[href^="/flows/instances/"]`).getAttribute('href');
		const inst = new Client(srv.url);
		await inst.login(ZHOU.login, ZHOU.password);
		const view = await json(await inst.get(`/api/v1/flow-instances/${flowLink.split('/').pop()}`), 200);
		assert.equal(view.status, 'closed');
		assert.equal(view.outcome, 'approved');

		// ---- 方晴 releases once: the envelope opens with the second signing key ----
		await visit(op, srv.url, detail);
		const staleOp = await op.context().newPage();
		await visit(staleOp, srv.url, detail);
		res = await clickAndWait(op, op.locator(`main form[action="${detail}/release"]`).getByRole('button', { name: '发放密钥', exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(await h1(op), '密钥已发放');
		assert.equal(await text(op, '#recipient-serial'), S.holder2.serial);
		await findings.axe(op, 'the released key');
		await noEnglish(op, findings, 'the released key');
		const file = await downloadEnvelope(op, 'recovered.der');
		assert.equal(file, `SM2EnvelopedKey-${S.enc.serial}-recovery-${id}.der`);
		const rec = openEnvelope('recovered.der', 'holder2.key', 'recovered');
		assert.equal(rec.d, S.enc.d, 'the recovered key is the archived key');
		assert.equal(rec.spki, S.enc.pub);
		assert.notEqual(openssl(['pkeyutl', '-decrypt', '-inkey', 'holder.key', '-in', rec.cipher, '-out', 'x'], { ok: false }).code, 0, 'the old signing key does not open it');

		// ---- a second release is refused ----
		res = await clickAndWait(staleOp, staleOp.locator(`main form[action="${detail}/release"]`).getByRole('button', { name: '发放密钥', exact: true }));
		assert.equal(res.status(), 409);
		assert.equal(await refusal(staleOp, findings, 'a second release'), t('kmc.refusal.released'));
		assert.match(await text(staleOp, '#recovery-status'), /^已发放/);
		assert.equal(await staleOp.locator('main form').count(), 0);
		assert.equal(await text(staleOp, '#released-note'), t('kmc.recovery.released_note'));
		await staleOp.close();
		await visit(zhou, srv.url, '/pki/kmc/recoveries?status=released');
		assert.equal((await row(zhou, `recovery-${id}`))[4], '已发放');
		await findings.axe(zhou, 'the released requests');
		S.id = id;
	} finally {
		for (const p of [op, luo, zhou]) await p.context().close();
	}
	findings.assertNone();
});

test(`a requester who approves cannot approve her own request; an approver's no closes it (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	assert.ok(S.enc, 'the first journey issued the encryption key pair');
	const findings = new Findings(tc);
	// 田静 also becomes a KMC operator: the rule, not the roles, keeps her from approving herself
	const sec = new Client(srv.url);
	await sec.login('secadmin', 'SecAdmin@2026!');
	const users = await json(await sec.get('/api/v1/users?q=tianjing.gaj'), 200);
	const u = users.items.find((x) => x.login === TIAN.login);
	await json(
		await sec.put(`/api/v1/users/${u.id}/roles`, {
			json: {
				roles: [
					{ role: 'kmc_approver', scope: '520100' },
					{ role: 'kmc_operator', scope: '520100' },
				],
			},
		}),
		200
	);
	const tian = await newPage(browser);
	const luo = await newPage(browser);
	try {
		await signIn(tian, srv.url, TIAN);
		await visit(tian, srv.url, `/pki/kmc/recoveries/new?ca=city&serial=${S.enc.serial}`);
		const form = tian.locator('main form[action="/pki/kmc/recoveries/new"]');
		await form.getByLabel('恢复原因', { exact: true }).fill('核查归档公文');
		await form.getByLabel('接收证书序列号', { exact: true }).fill(S.holder2.serial);
		await clickAndWait(tian, form.getByRole('button', { name: '提交恢复申请', exact: true }));
		const id = Number(/(\d+)$/.exec(pathOf(tian))[1]);
		const detail = `/pki/kmc/recoveries/${id}`;
		assert.equal(await text(tian, '#own-request'), t('kmc.recovery.own_request'));
		assert.equal(await tian.locator(`main form[action="${detail}/approve"]`).count(), 0);
		await findings.axe(tian, 'her own request, for an approver');
		// the form's own POST, as a page without the note would send it
		const csrf = await tian.locator('main form input[name="_csrf"]').first().inputValue();
		const own = await tian.request.post(srv.url + `${detail}/approve`, { form: { _csrf: csrf, comment: '' }, maxRedirects: 0 });
		assert.equal(own.status(), 422);
		assert.ok((await own.text()).includes(t('kmc.refusal.not-requester')));

		// 罗伟 says no: first without a reason
		await signIn(luo, srv.url, LUO);
		await visit(luo, srv.url, detail);
		const refuse = luo.locator(`main form[action="${detail}/refuse"]`);
		let res = await clickAndWait(luo, refuse.getByRole('button', { name: '不同意', exact: true }));
		assert.equal(res.status(), 400);
		const errs = await checkErrorSummary(luo, findings, 'a refusal without a reason', { fields: ['reason'] });
		assert.equal(errs.summary.links[0].text, '请填写不同意的理由');
		await findings.axe(luo, 'a refusal without a reason');
		await refuse.getByLabel('不同意的理由', { exact: true }).fill('申请理由不充分');
		res = await clickAndWait(luo, refuse.getByRole('button', { name: '不同意', exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(await flashText(luo), t('kmc.flash.refused'));
		assert.match(await text(luo, '#recovery-status'), /^已拒绝/);
		assert.equal(await luo.locator('main form').count(), 0);
		await findings.axe(luo, 'a refused request');
		// nothing is released
		await visit(tian, srv.url, detail);
		assert.equal(await tian.locator(`main form[action="${detail}/release"]`).count(), 0);
	} finally {
		for (const p of [tian, luo]) await p.context().close();
	}
	// people without the KMC's rights see neither the links nor the pages
	const clerk = await newPage(browser);
	try {
		await signIn(clerk, srv.url, { login: 'chenjing.fgw', password: PW });
		const nav = await sideNav(clerk);
		assert.ok(!Object.values(nav.sections).flat().some((l) => l.href.startsWith('/pki/kmc')), JSON.stringify(nav));
		await visit(clerk, srv.url, '/pki/kmc', { status: 403 });
		await visit(clerk, srv.url, '/pki/kmc/recoveries', { status: 403 });
	} finally {
		await clerk.context().close();
	}
	findings.assertNone();
});

test(`without JavaScript: an encryption key pair is issued and its envelope downloaded (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc, { javaScript: false });
	const page = await newPage(browser, { javaScriptEnabled: false, acceptDownloads: true });
	try {
		await signIn(page, srv.url, OPERATOR);
		await visit(page, srv.url, '/pki/kmc/enc-keys/new');
		const issue = page.locator('main form[action="/pki/kmc/enc-keys/new"]');
		await issue.getByLabel('签发机构', { exact: true }).selectOption({ label: '市电子政务 CA' });
		let res = await clickAndWait(page, issue.getByRole('button', { name: '签发加密密钥对', exact: true }));
		assert.equal(res.status(), 400);
		await checkErrorSummary(page, findings, 'no signing certificate (no JavaScript)', { fields: ['serial'] });
		await findings.axe(page, 'the encryption key pair form with an error (no JavaScript)');
		await issue.getByLabel('签名证书序列号', { exact: true }).fill(S.holder2.serial);
		res = await clickAndWait(page, issue.getByRole('button', { name: '签发加密密钥对', exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(await h1(page), '加密密钥对已签发');
		assert.equal(await text(page, '#signing-serial'), S.holder2.serial);
		await findings.axe(page, 'the issued encryption key pair (no JavaScript)');
		writeFileSync(join(dir, 'enc2.pem'), await page.locator('#cert-pem').innerText());
		const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#envelope-download').click()]);
		await download.saveAs(join(dir, 'issued2.der'));
		const opened = openEnvelope('issued2.der', 'holder2.key', 'issued2');
		assert.equal(opened.spki, openssl(['x509', '-in', 'enc2.pem', '-noout', '-pubkey']).out);
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

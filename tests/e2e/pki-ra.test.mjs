// The RA procedure in the browser (flow pki.cert-request, packs/demo-city/flows/pki.cert-request.json):
// the holder 陈静 (chenjing.fgw) has no certificate yet (我的证书 says so); the acceptance point's clerk
// 孙丽 (sunli.zwfw) starts 数字证书申请 from 发起办件 with the holder, the subject, the citizen ID, a PKCS#10
// request made here by openssl (SM2, signed with the standard ID) and the evidence — first with the
// request missing, which the error summary names; the RA officer 钱浩 (qianhao.ra) finds it in the
// workbench's to-do area and approves it (审核通过); the CA operator 赵敏 (zhaomin.ca) opens it from 我的待办
// and issues it (签发证书), the certificate being made with that step; 陈静 opens 我的证书 from the
// workbench navigation, sees the certificate (name, CA, type, status, validity, serial) and downloads it:
// the bytes are DER that openssl reads, with her key and her name. Another clerk's 我的证书 stays empty.
// Every page passes axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../api/lib/server.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import { backend, USERS, t, visit, clickAndWait, pathOf, signIn, h1, flashText, sideNav, checkErrorSummary, englishInMain, Findings } from './lib/pages.mjs';

const TIMEOUT = 180_000;
const PW = 'Yizhan@2026';
const who = (login, password = PW) => ({ login, password });
const TITLE = '陈静 个人证书申请（浏览器）';
let srv;
let browser;
let dir;

function openssl(args) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
	assert.equal(r.status, 0, `openssl ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
	return r.stdout;
}

before(async () => {
	dir = mkdtempSync(join(tmpdir(), 'yizhan-e2e-ra-'));
	srv = await startServer({ backend });
	browser = await launchBrowser();
	openssl(['genpkey', '-algorithm', 'SM2', '-out', 'holder.key']);
	openssl(['req', '-new', '-key', 'holder.key', '-utf8', '-subj', '/CN=陈静', '-sm3', '-sigopt', 'distid:1234567812345678', '-out', 'holder.csr']);
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

// Sign in on a fresh page, run fn(page), close it.
async function as(user, fn) {
	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, user);
		return await fn(page);
	} finally {
		await page.context().close();
	}
}

// The form of the viewer's open task (the first one on the page).
function taskForm(page) {
	return page.locator('main section.panel form:has(input[name="cmd"][value="complete"])').first();
}

async function completeTask(page, outcome) {
	const form = taskForm(page);
	await form.getByLabel(outcome, { exact: true }).check();
	await clickAndWait(page, form.getByRole('button', { name: '提交办理' }));
	assert.equal(pathOf(page), '/inbox', 'after completing a task, back to the inbox');
	assert.ok(await flashText(page), 'a notice confirms the completion');
}

async function statusText(page) {
	return (await page.locator('main dl.summary div', { hasText: '状态' }).locator('dd').innerText()).trim();
}

// The rows of 我的证书 as cell texts.
async function mineRows(page) {
	return page
		.locator('#mine tbody tr')
		.evaluateAll((trs) => trs.map((r) => [...r.cells].map((c) => c.innerText.replace(/\s+/g, ' ').trim())));
}

// axe-core, and Latin words of the page not marked as such (a Chinese voice would spell them out).
async function checkPage(findings, page, where) {
	await findings.axe(page, where);
	const en = await englishInMain(page);
	findings.expect(en.length === 0, `${where}: Latin words in <main> not marked lang="en": ${en.join(' | ')}`);
}

async function openMine(page) {
	const nav = await sideNav(page);
	const link = nav.sections['我的工作']?.find((l) => l.text === '我的证书');
	assert.ok(link, `我的证书 in 我的工作: ${JSON.stringify(nav)}`);
	assert.equal(link.href, '/pki/mine');
	await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '我的证书', exact: true }));
	assert.equal(pathOf(page), '/pki/mine');
	assert.equal(await h1(page), '我的证书');
}

test(`acceptance point → RA → CA in the browser; the holder downloads from 我的证书 (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const csr = readFileSync(join(dir, 'holder.csr'), 'utf8');

	// ---- the holder has no certificate yet ----
	await as(USERS.chenjing, async (page) => {
		await openMine(page);
		assert.equal(await page.locator('#mine').count(), 0, 'no table without certificates');
		const empty = (await page.locator('#mine-empty').innerText()).replace(/\s+/g, ' ');
		assert.match(empty, new RegExp(t('pki.mine.none')));
		await checkPage(findings, page, '我的证书 without certificates');
	});

	// ---- the acceptance point registers the request ----
	let url;
	await as(who('sunli.zwfw'), async (page) => {
		await visit(page, srv.url, '/flows');
		await clickAndWait(page, page.getByRole('link', { name: '数字证书申请', exact: true }));
		assert.equal(pathOf(page), '/flows/pki.cert-request/start');
		assert.equal(await h1(page), '数字证书申请');
		await page.getByLabel('办件标题').fill(TITLE);
		await page.getByLabel('持有人账号').fill('chenjing.fgw');
		await page.getByLabel('证书名称（姓名或机构、应用名称）').fill('陈静');
		await page.getByLabel('证书类型').selectOption('user');
		await page.getByLabel('所在单位').fill('贵阳市发展和改革委员会');
		await page.getByLabel('公民身份号码（个人证书）').fill('11010519491231002X');
		await page.getByLabel('身份核验和证明材料记录').fill('核验居民身份证原件一致；单位介绍信编号 发改〔2026〕12 号。');
		// the request forgotten: the summary names it, and what was typed stays
		await clickAndWait(page, page.getByRole('button', { name: '提交', exact: true }));
		await checkErrorSummary(page, findings, 'a certificate request without the PKCS#10 request', { fields: ['data-csr'] });
		assert.equal(await page.getByLabel('持有人账号').inputValue(), 'chenjing.fgw');
		assert.equal(await page.getByLabel('证书类型').inputValue(), 'user');
		await findings.axe(page, 'the certificate request with an error');
		await page.getByLabel('证书请求（PKCS#10，PEM）').fill(csr);
		await clickAndWait(page, page.getByRole('button', { name: '提交', exact: true }));
		assert.match(pathOf(page), /^\/flows\/instances\/\d+$/);
		url = pathOf(page);
		assert.match(await statusText(page), /办理中/);
		await findings.axe(page, 'the certificate request as the acceptance point sees it');
	});

	// ---- the RA approves, from the workbench's to-do area ----
	await as(who('qianhao.ra'), async (page) => {
		const todo = page.locator('main section[aria-labelledby="todo-title"] li', { hasText: TITLE });
		assert.equal(await todo.count(), 1, 'the RA officer has the request to do');
		assert.match(await todo.innerText(), /RA 审核/);
		await clickAndWait(page, todo.getByRole('link', { name: TITLE }));
		assert.equal(pathOf(page), url);
		// the evidence and the request are on the page for the review
		assert.match(await page.locator('main').innerText(), /发改〔2026〕12 号/);
		await findings.axe(page, 'the request with the RA officer\'s task');
		await completeTask(page, '审核通过');
	});

	// ---- the CA operator issues it, from 我的待办 ----
	await as(who('zhaomin.ca'), async (page) => {
		await visit(page, srv.url, '/inbox?box=todo');
		await clickAndWait(page, page.locator('main table a', { hasText: TITLE }).first());
		assert.equal(pathOf(page), url);
		await findings.axe(page, 'the request with the CA operator\'s task');
		await completeTask(page, '签发证书');
		await visit(page, srv.url, url);
		assert.match(await statusText(page), /办结/);
	});

	// ---- the holder finds it in 我的证书 and downloads it ----
	await as(USERS.chenjing, async (page) => {
		await openMine(page);
		const rows = await mineRows(page);
		assert.equal(rows.length, 1, JSON.stringify(rows));
		const [cn, ca, profile, status, validity, serial, dl] = rows[0];
		assert.equal(cn, '陈静');
		assert.equal(ca, '市电子政务 CA');
		assert.equal(profile, '个人证书（公务人员）');
		assert.equal(status, '有效');
		assert.match(validity, /^\d{4}-\d\d-\d\d \d\d:\d\d 至 \d{4}-\d\d-\d\d \d\d:\d\d$/);
		assert.match(serial, /^[0-9A-F]{16,}$/);
		assert.match(dl, /^下载证书/);
		await checkPage(findings, page, '我的证书 with a certificate');

		const link = page.locator(`#mine-city-${serial} a[download]`);
		assert.equal(await link.getAttribute('href'), `/api/v1/pki/mine/city/${serial}.crt`);
		const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
		assert.equal(download.suggestedFilename(), `${serial}.crt`);
		const file = join(dir, 'mine.crt');
		await download.saveAs(file);
		const der = readFileSync(file);
		assert.equal(der[0], 0x30, 'a DER SEQUENCE');
		const text = openssl(['x509', '-inform', 'DER', '-in', 'mine.crt', '-noout', '-subject', '-serial', '-nameopt', 'utf8']);
		assert.match(text, /CN\s*=\s*陈静/);
		assert.match(text, new RegExp(`serial=${serial}`, 'i'));
		// her key, from her request
		assert.equal(
			openssl(['x509', '-inform', 'DER', '-in', 'mine.crt', '-noout', '-pubkey']).trim(),
			openssl(['pkey', '-in', 'holder.key', '-pubout']).trim()
		);
	});

	// ---- nobody else holds it ----
	await as(USERS.huangli, async (page) => {
		await openMine(page);
		assert.equal(await page.locator('#mine').count(), 0);
		assert.equal(await page.locator('#mine-empty').count(), 1);
	});
	findings.assertNone();
});

// Electronic seals in the browser (the journey): the seal administrator 陶然 (taoran.bgt) opens
// 电子印章 from the workbench navigation, submits the empty form (the error summary names the department,
// the name and the image), then makes 贵阳市发展和改革委员会公章 from a small PNG made here with zlib; the
// department's clerk 陈静 (chenjing.fgw) opens 盖章, uploads a tiny PDF made here, lands on 盖章完成 with
// a reference and downloads <name>.ses; then anyone, signed out, follows 签章验证 from the public
// certificate repository (/pki), uploads the PDF and the .ses and reads 签章有效 with the seal's picture
// (decoded by the browser), the department, the TSA's trusted time and the certificate valid then; a
// tampered copy of the PDF gives 文件已被篡改 naming the hash; a .ses that is not one gives the error
// summary on the signature field. Every page passes axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { startServer } from '../api/lib/server.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import { backend, visit, clickAndWait, pathOf, signIn, signOut, h1, flashText, sideNav, checkErrorSummary, Findings } from './lib/pages.mjs';

const TIMEOUT = 120_000;
const ADMIN = { login: 'taoran.bgt', password: 'Yizhan@2026', name: '陶然' };
const CLERK = { login: 'chenjing.fgw', password: 'Yizhan@2026', name: '陈静' };
const SEAL = '贵阳市发展和改革委员会公章';
const DEPT = '贵阳市发展和改革委员会';
let srv;
let browser;
let dir;

// A w × h RGB PNG: a red ring on white, written with zlib.
function png(w, h) {
	const table = Array.from({ length: 256 }, (_, n) => {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		return c >>> 0;
	});
	const crc = (buf) => {
		let c = 0xffffffff;
		for (const b of buf) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
		return (c ^ 0xffffffff) >>> 0;
	};
	const chunk = (type, data) => {
		const len = Buffer.alloc(4);
		len.writeUInt32BE(data.length);
		const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
		const c = Buffer.alloc(4);
		c.writeUInt32BE(crc(td));
		return Buffer.concat([len, td, c]);
	};
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(w, 0);
	ihdr.writeUInt32BE(h, 4);
	ihdr[8] = 8;
	ihdr[9] = 2;
	const rows = [];
	for (let y = 0; y < h; y++) {
		const row = [0];
		for (let x = 0; x < w; x++) {
			const d = Math.hypot(x - w / 2, y - h / 2);
			const ring = d < w / 2 - 1 && d > w / 2 - 5;
			row.push(...(ring ? [210, 20, 20] : [255, 255, 255]));
		}
		rows.push(Buffer.from(row));
	}
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', ihdr),
		chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
		chunk('IEND', Buffer.alloc(0)),
	]);
}

// A one-page PDF.
function pdf(text) {
	const stream = `BT /F1 12 Tf 20 50 Td (${text}) Tj ET`;
	const objs = [
		'<< /Type /Catalog /Pages 2 0 R >>',
		'<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
		'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
		`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
		'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
	];
	let out = '%PDF-1.4\n';
	const offsets = [];
	objs.forEach((o, i) => {
		offsets.push(out.length);
		out += `${i + 1} 0 obj\n${o}\nendobj\n`;
	});
	const xref = out.length;
	out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
	for (const off of offsets) out += `${String(off).padStart(10, '0')} 00000 n \n`;
	out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
	return Buffer.from(out, 'latin1');
}

const DOC = pdf('Guiyang DRC notice No. 12 of 2026');
const FILE_NAME = '关于重点项目的通知.pdf';

before(async () => {
	dir = mkdtempSync(join(tmpdir(), 'yizhan-e2e-seal-'));
	srv = await startServer({ backend });
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

async function text(page, selector) {
	return (await page.locator(selector).innerText()).replace(/\s+/g, ' ').trim();
}

// Whether the <img> has been decoded by the browser (a broken data: URI has no natural size).
async function imageShown(locator) {
	return locator.evaluate((img) => img.complete && img.naturalWidth > 0);
}

test(`a seal made, a PDF sealed, verified on the public page; a tampered copy fails (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const page = await newPage(browser);
	let ses;
	try {
		// ---- the seal administrator makes the seal ----
		await signIn(page, srv.url, ADMIN);
		const nav = await sideNav(page);
		const work = nav.sections['我的工作'] || [];
		assert.ok(work.some((l) => l.text === '电子印章' && l.href === '/seals'), JSON.stringify(nav));
		assert.ok(!work.some((l) => l.href === '/seal'), 'the seal administrator does not apply seals');
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '电子印章', exact: true }));
		assert.equal(pathOf(page), '/seals');
		assert.equal(await h1(page), '电子印章');
		await findings.axe(page, 'the seals (none yet)');
		const form = page.locator('main form[action="/seals"]');
		let res = await clickAndWait(page, form.getByRole('button', { name: '制作印章', exact: true }));
		assert.equal(res.status(), 400);
		await checkErrorSummary(page, findings, 'an empty seal form', { fields: ['org_id', 'name', 'picture'] });
		await findings.axe(page, 'the seal form with errors');
		// the department by its name (options are indented by the tree's depth)
		const options = await form.locator('#f-org_id option').evaluateAll((os) => os.map((o) => ({ value: o.value, text: o.textContent.trim() })));
		const dept = options.find((o) => o.text === DEPT);
		assert.ok(dept, `the department is offered: ${JSON.stringify(options.slice(0, 5))}`);
		await form.getByLabel('部门', { exact: true }).selectOption(dept.value);
		await form.getByLabel('印章名称', { exact: true }).fill(SEAL);
		res = await clickAndWait(page, form.getByRole('button', { name: '制作印章', exact: true }));
		assert.equal(res.status(), 400);
		const { summary } = await checkErrorSummary(page, findings, 'a seal without its image', { fields: ['picture'] });
		assert.equal(summary.links[0].text, '请选择印模图像（PNG 或 JPEG）');
		assert.equal(await form.getByLabel('印章名称', { exact: true }).inputValue(), SEAL, 'the form keeps the name');
		await form.getByLabel('部门', { exact: true }).selectOption(dept.value);
		await page.setInputFiles('#f-picture', { name: 'seal.png', mimeType: 'image/png', buffer: png(64, 64) });
		res = await clickAndWait(page, form.getByRole('button', { name: '制作印章', exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(pathOf(page), '/seals');
		assert.equal(await flashText(page), '电子印章已制作。');
		const row = page.locator('#seals tbody tr').first();
		assert.match(await row.innerText(), new RegExp(`${SEAL}[\\s\\S]*${DEPT}[\\s\\S]*有效`));
		assert.ok(await imageShown(row.locator('img')), 'the seal image is shown in the list');
		await findings.axe(page, 'the seals');
		await signOut(page);

		// ---- the clerk seals a PDF ----
		await signIn(page, srv.url, CLERK);
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '盖章', exact: true }));
		assert.equal(pathOf(page), '/seal');
		assert.equal(await h1(page), '盖章');
		await findings.axe(page, 'the sealing form');
		const apply = page.locator('main form[action="/seal"]');
		assert.ok(await apply.getByLabel(`${SEAL}（${DEPT}）`).isChecked(), 'the one seal is chosen');
		await page.setInputFiles('#f-file', { name: FILE_NAME, mimeType: 'application/pdf', buffer: DOC });
		res = await clickAndWait(page, apply.getByRole('button', { name: '盖章', exact: true }));
		assert.equal(res.status(), 200);
		assert.match(pathOf(page), /^\/seal\/done\/\d+$/);
		assert.equal(await h1(page), '盖章完成');
		assert.equal(await flashText(page), '已盖章。');
		assert.equal(await text(page, '#done-file'), FILE_NAME);
		assert.match(await text(page, '#done-reference'), /^\d+$/);
		await findings.axe(page, 'the sealed confirmation');
		const link = page.locator('#ses-download');
		const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
		assert.equal(download.suggestedFilename(), `${FILE_NAME}.ses`);
		const sesPath = join(dir, 'doc.ses');
		await download.saveAs(sesPath);
		ses = readFileSync(sesPath);
		assert.equal(ses[0], 0x30, 'a DER SEQUENCE');
		await signOut(page);
	} finally {
		await page.context().close();
	}

	// ---- anyone verifies it ----
	const anon = await newPage(browser);
	try {
		await visit(anon, srv.url, '/pki');
		await clickAndWait(anon, anon.locator('#verify-link a'));
		assert.equal(pathOf(anon), '/verify');
		assert.equal(await h1(anon), '签章验证');
		await findings.axe(anon, 'the verification page');
		const vform = anon.locator('main form[action="/verify"]');
		await anon.setInputFiles('#f-file', { name: FILE_NAME, mimeType: 'application/pdf', buffer: DOC });
		await anon.setInputFiles('#f-signature', { name: `${FILE_NAME}.ses`, mimeType: 'application/octet-stream', buffer: ses });
		let res = await clickAndWait(anon, vform.getByRole('button', { name: '验证', exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(await text(anon, '#verdict'), '签章有效');
		assert.match(await text(anon, '#verify-signer'), new RegExp(DEPT));
		assert.match(await text(anon, '#verify-seal'), new RegExp(SEAL));
		const pic = anon.locator('#seal-picture');
		assert.equal(await pic.getAttribute('alt'), `印章图像：${SEAL}`);
		assert.ok(await imageShown(pic), 'the seal picture is decoded by the browser');
		assert.match(await text(anon, '#verify-time'), /\d{4}-\d{2}-\d{2} \d{2}:\d{2}（时间戳服务提供的可信时间）/);
		assert.equal(await text(anon, '#verify-cert'), '有效');
		assert.match(await text(anon, '#verify-document'), /与签章中的杂凑值一致/);
		await findings.axe(anon, 'a valid seal');

		// a tampered copy
		const forged = Buffer.from(DOC);
		forged[forged.indexOf('12')] = '3'.charCodeAt(0);
		await anon.setInputFiles('#f-file', { name: FILE_NAME, mimeType: 'application/pdf', buffer: forged });
		await anon.setInputFiles('#f-signature', { name: `${FILE_NAME}.ses`, mimeType: 'application/octet-stream', buffer: ses });
		res = await clickAndWait(anon, vform.getByRole('button', { name: '验证', exact: true }));
		assert.equal(res.status(), 200);
		assert.equal(await text(anon, '#verdict'), '文件已被篡改');
		assert.match(await text(anon, '#verify-reason'), /文件内容与签章时不一致/);
		assert.match(await text(anon, '#verify-reason'), /the document's SM3 hash does not match the sealed hash/);
		assert.match(await text(anon, '#verify-document'), /与签章中的杂凑值不一致/);
		await findings.axe(anon, 'a tampered file');

		// not a seal at all
		await anon.setInputFiles('#f-file', { name: FILE_NAME, mimeType: 'application/pdf', buffer: DOC });
		await anon.setInputFiles('#f-signature', { name: 'x.ses', mimeType: 'application/octet-stream', buffer: Buffer.from('not a seal') });
		res = await clickAndWait(anon, vform.getByRole('button', { name: '验证', exact: true }));
		assert.equal(res.status(), 400);
		const { summary } = await checkErrorSummary(anon, findings, 'a file that is no seal', { fields: ['signature'] });
		assert.equal(summary.links[0].text, '所选的签章文件不是有效的电子签章（.ses）或数字签名（.p7s）');
		await findings.axe(anon, 'the verification page with an error');
	} finally {
		await anon.context().close();
	}
	findings.assertNone();
});

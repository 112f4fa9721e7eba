// Signatures and electronic seals over HTTP, checked by an independent tool where one exists, the openssl
// CLI: the seal administrator 陶然 (taoran.bgt) makes a seal for 贵阳市发展和改革委员会 from a PNG made here
// with zlib; the department's clerk 陈静 (chenjing.fgw) applies it to a small PDF (multipart) and to a hash
// (JSON), and `openssl asn1parse` reads the SES_Signature (GB/T 38540 v4: "ES", version 4, SM2-with-SM3);
// anyone verifies at POST /api/v1/verify without signing in — valid with the seal's picture and the TSA's
// time, a changed file is "tampered" naming the SM3 hash, bytes that are no signature are a 400
// problem+json naming the part; another department's clerk (no pki.seal.use) can neither apply the seal
// nor fetch the .ses; an ECDSA application signer's detached signature is accepted by `openssl cms -verify -binary
// -content FILE -inform DER -CAfile chain.pem` and refused for a changed file; an SM2 one is printed by
// `openssl cms -cmsout -print` and verified by ours; a revoked seal is refused, and what it sealed before
// stays "valid when signed, revoked later".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { startServer } from './lib/server.mjs';
import { expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const PW = 'Yizhan@2026';
let srv;
let dir;
let admin;
let clerk;
let other;
let fgw;
let sealId;

function openssl(args, { ok = true } = {}) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
	if (ok && r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
	return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
}

// A w × h RGB PNG, red, written with zlib.
function png(w, h) {
	const crcTable = Array.from({ length: 256 }, (_, n) => {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		return c >>> 0;
	});
	const crc = (buf) => {
		let c = 0xffffffff;
		for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
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
	for (let y = 0; y < h; y++) rows.push(Buffer.from([0, ...Array(w).fill([200, 20, 20]).flat()]));
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', ihdr),
		chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
		chunk('IEND', Buffer.alloc(0)),
	]);
}

// A one-page PDF that readers open.
function pdf(text) {
	const objs = [
		'<< /Type /Catalog /Pages 2 0 R >>',
		'<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
		'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
		null,
		'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
	];
	const stream = `BT /F1 12 Tf 20 50 Td (${text}) Tj ET`;
	objs[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
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

function form(parts) {
	const fd = new FormData();
	for (const [name, v] of Object.entries(parts)) {
		if (v && typeof v === 'object' && v.bytes) fd.append(name, new Blob([v.bytes]), v.name);
		else fd.append(name, String(v));
	}
	return fd;
}

async function verify(file, signature, fileName = 'doc.pdf') {
	const res = await fetch(srv.url + '/api/v1/verify', {
		method: 'POST',
		body: form({ file: { bytes: file, name: fileName }, signature: { bytes: signature, name: 'sig.ses' } }),
	});
	return res;
}

const DOC = pdf('Guiyang DRC notice 2026');

before(async () => {
	srv = await startServer({ backend });
	dir = mkdtempSync(join(tmpdir(), 'yizhan-seal-'));
	for (const c of ['root-p256', 'city-p256']) {
		const res = await fetch(`${srv.url}/pki/ca/${c}.pem`);
		assert.equal(res.status, 200);
		writeFileSync(join(dir, `${c}.pem`), await res.text());
	}
	writeFileSync(join(dir, 'chain-p256.pem'), readFileSync(join(dir, 'root-p256.pem')) + readFileSync(join(dir, 'city-p256.pem')));
	writeFileSync(join(dir, 'doc.pdf'), DOC);
	const forged = Buffer.from(DOC);
	forged[forged.indexOf('2026')] = '3'.charCodeAt(0);
	writeFileSync(join(dir, 'forged.pdf'), forged);
	admin = await signIn(srv.url, 'taoran.bgt', PW);
	clerk = await signIn(srv.url, 'chenjing.fgw', PW);
	other = await signIn(srv.url, 'huangli.jyj', PW);
	const orgs = await expectJson(await admin.get('/api/v1/orgs?q=520100-fgw'), 200);
	fgw = orgs.items.find((o) => o.code === '520100-fgw').id;
});

after(async () => {
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

test(`a seal is made, applied and verified (${backend})`, async () => {
	// a picture that is not an image is refused naming the field
	let p = await expectProblem(
		await admin.post('/api/v1/pki/seals', { multipart: form({ org_id: fgw, name: '贵阳市发展和改革委员会公章', picture: { bytes: Buffer.from('GIF89a'), name: 'x.gif' } }) }),
		400
	);
	assert.equal(p.errors[0].field, 'picture');
	// a clerk may not make seals
	await expectProblem(await clerk.post('/api/v1/pki/seals', { json: { org_id: fgw, name: 'x' } }), 403);
	const made = await expectJson(
		await admin.post('/api/v1/pki/seals', {
			multipart: form({ org_id: fgw, name: '贵阳市发展和改革委员会公章', width_mm: 42, picture: { bytes: png(40, 40), name: 'seal.png' } }),
		}),
		201
	);
	sealId = made.id;
	assert.equal(made.picture_type, 'PNG');
	assert.equal(made.width_px, 40);
	assert.equal(made.height_mm, 42);
	assert.equal(made.org_name, '贵阳市发展和改革委员会');
	assert.equal(made.status, 'active');
	// seen by the department's clerk with its picture, not by another department's
	const mine = await expectJson(await clerk.get('/api/v1/pki/seals'), 200);
	assert.deepEqual(
		mine.items.map((s) => s.id),
		[sealId]
	);
	const one = await expectJson(await clerk.get(`/api/v1/pki/seals/${sealId}`), 200);
	assert.match(one.picture, /^data:image\/png;base64,iVBORw0KGgo/);
	// 黄丽 of 教育局 may apply no seal at all
	await expectProblem(await other.get('/api/v1/pki/seals'), 403);
	// the seal's certificate is one of the city CA's, under the seal profile
	const ca = await signIn(srv.url, 'zhaomin.ca', PW);
	const certs = await expectJson(await ca.get('/api/v1/pki/certs?profile=seal&ca=city'), 200);
	assert.ok(certs.items.some((c) => c.serial === made.serial && c.cn === '贵阳市发展和改革委员会公章'));

	// applied to the PDF by the clerk: the SES_Signature comes back
	await expectProblem(
		await other.post(`/api/v1/pki/seals/${sealId}/apply`, { multipart: form({ file: { bytes: DOC, name: 'doc.pdf' } }) }),
		403
	);
	let res = await clerk.post(`/api/v1/pki/seals/${sealId}/apply`, {
		multipart: form({ file: { bytes: DOC, name: '关于重点项目的通知.pdf' } }),
	});
	assert.equal(res.status, 201, await res.clone().text());
	assert.equal(res.headers.get('content-type'), 'application/octet-stream');
	assert.match(res.headers.get('content-disposition'), /filename\*=UTF-8''%E5%85%B3.*\.pdf\.ses/);
	const sigId = res.headers.get('x-signature-id');
	const ses = Buffer.from(await res.arrayBuffer());
	writeFileSync(join(dir, 'doc.ses'), ses);
	// openssl reads it as DER: TBS_Sign version 4, SES_Header "ES" 4, SM2-with-SM3, a GeneralizedTime
	const parsed = openssl(['asn1parse', '-inform', 'DER', '-in', 'doc.ses', '-i']).out;
	assert.match(parsed, /IA5STRING\s*:ES\n/);
	assert.match(parsed, /INTEGER\s*:04\n/);
	assert.match(parsed, /OBJECT\s*:SM2-with-SM3/);
	assert.match(parsed, /UTF8STRING\s*:贵阳市发展和改革委员会公章/);
	assert.match(parsed, /GENERALIZEDTIME/);
	assert.match(parsed, /IA5STRING\s*:%E5%85%B3/); // the file name, percent-encoded UTF-8
	// timeStamp [0]: a BIT STRING holding our TSA's token over the signature
	const tsAt = /^\s*(\d+):d=2\s+hl=\d+\s+l=\s*\d+ prim:\s+BIT STRING\s*$/m.exec(parsed.split(/cont \[ 0 \]/)[1] || '');
	assert.ok(tsAt, 'a BIT STRING inside timeStamp [0]');
	const token = openssl(['asn1parse', '-inform', 'DER', '-in', 'doc.ses', '-strparse', tsAt[1]]).out;
	assert.match(token, /OBJECT\s*:pkcs7-signedData/);
	assert.match(token, /OBJECT\s*:id-smime-ct-TSTInfo/);
	// fetched again by its maker; not by another department
	res = await clerk.get(`/api/v1/pki/signatures/${sigId}.ses`);
	assert.equal(res.status, 200);
	assert.deepEqual(Buffer.from(await res.arrayBuffer()), ses);
	await expectProblem(await other.get(`/api/v1/pki/signatures/${sigId}.ses`), 404);
	const meta = await expectJson(await clerk.get(`/api/v1/pki/signatures/${sigId}`), 200);
	assert.equal(meta.hash, createHash('sm3').update(DOC).digest('hex'));
	assert.equal(meta.file_name, '关于重点项目的通知.pdf');

	// verified by anyone
	const v = await expectJson(await verify(DOC, ses), 200);
	assert.equal(v.verdict, 'valid', JSON.stringify(v));
	assert.equal(v.valid, true);
	assert.equal(v.kind, 'seal');
	assert.equal(v.seal.name, '贵阳市发展和改革委员会公章');
	assert.equal(v.seal.department, '贵阳市发展和改革委员会');
	assert.match(v.seal.picture, /^data:image\/png;base64,/);
	assert.equal(v.trusted_time, true);
	assert.match(v.timestamp.tsa, /时间戳服务/);
	assert.equal(v.certificate.at_signing, 'valid');
	assert.equal(v.document.matches, true);
	assert.equal(v.document.file_name, '关于重点项目的通知.pdf');
	assert.equal(v.signer.ca, 'city');
	// a changed file: tampered, the SM3 hash named
	const t = await expectJson(await verify(readFileSync(join(dir, 'forged.pdf')), ses), 200);
	assert.equal(t.verdict, 'tampered');
	assert.equal(t.valid, false);
	assert.equal(t.failed_check, 'document_hash');
	assert.equal(t.reason, "the document's SM3 hash does not match the sealed hash");
	// a changed seal: invalid, the check named
	const bad = Buffer.from(ses);
	bad[bad.length - 200] ^= 0x01;
	const b = await verify(DOC, bad);
	if (b.status === 200) assert.notEqual((await b.json()).verdict, 'valid');
	else await expectProblem(b, 400);
	// no signature at all
	p = await expectProblem(await verify(DOC, Buffer.from('not a signature')), 400);
	assert.equal(p.errors[0].field, 'signature');
	p = await expectProblem(await verify(DOC, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05])), 400);
	assert.equal(p.errors[0].field, 'signature');
	assert.match(p.errors[0].got, /toSign/);
	// a missing part
	res = await fetch(srv.url + '/api/v1/verify', { method: 'POST', body: form({ file: { bytes: DOC, name: 'a.pdf' } }) });
	p = await expectProblem(res, 400);
	assert.equal(p.errors[0].field, 'signature');

	// by its hash alone (JSON), the same document verifies
	res = await clerk.post(`/api/v1/pki/seals/${sealId}/apply`, {
		json: { sm3: createHash('sm3').update(DOC).digest('hex'), file_name: 'doc.pdf' },
	});
	assert.equal(res.status, 201);
	const ses2 = Buffer.from(await res.arrayBuffer());
	assert.equal((await expectJson(await verify(DOC, ses2), 200)).verdict, 'valid');
	p = await expectProblem(await clerk.post(`/api/v1/pki/seals/${sealId}/apply`, { json: { sha256: 'ab'.repeat(32) } }), 400);
	assert.equal(p.errors[0].field, 'sm3');
});

test(`detached signatures: ECDSA checked by openssl cms, SM2 by ours (${backend})`, async () => {
	const ec = await expectJson(await admin.post('/api/v1/pki/signers', { json: { org_id: fgw, name: '发展改革委公文系统', alg: 'ecdsa-p256' } }), 201);
	assert.equal(ec.ca, 'city-p256');
	const sm2 = await expectJson(await admin.post('/api/v1/pki/signers', { json: { org_id: fgw, name: '发展改革委公文系统', alg: 'sm2' } }), 201);
	assert.equal(sm2.ca, 'city');
	const listed = await expectJson(await clerk.get('/api/v1/pki/signers'), 200);
	assert.equal(listed.items.length, 2);

	let res = await clerk.post('/api/v1/pki/sign', { multipart: form({ signer_id: ec.id, file: { bytes: DOC, name: 'doc.pdf' } }) });
	assert.equal(res.status, 201, await res.clone().text());
	assert.equal(res.headers.get('content-type'), 'application/pkcs7-signature');
	writeFileSync(join(dir, 'doc.p7s'), Buffer.from(await res.arrayBuffer()));
	const ok = openssl(['cms', '-verify', '-binary', '-content', 'doc.pdf', '-inform', 'DER', '-in', 'doc.p7s', '-CAfile', 'chain-p256.pem', '-out', 'out.bin']);
	assert.match(ok.out, /Verification successful/);
	const forged = openssl(['cms', '-verify', '-binary', '-content', 'forged.pdf', '-inform', 'DER', '-in', 'doc.p7s', '-CAfile', 'chain-p256.pem', '-out', 'out.bin'], { ok: false });
	assert.notEqual(forged.code, 0);
	assert.match(forged.out, /digest failure|Verification failure/);
	// the signed attributes and the time-stamp token as openssl prints them
	const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'doc.p7s']).out;
	assert.match(printed, /signingTime/);
	assert.match(printed, /id-smime-aa-signingCertificateV2/);
	assert.match(printed, /id-smime-aa-timeStampToken/);
	assert.match(printed, /ecdsa-with-SHA256/);
	let v = await expectJson(await verify(DOC, readFileSync(join(dir, 'doc.p7s'))), 200);
	assert.equal(v.verdict, 'valid');
	assert.equal(v.kind, 'signature');
	assert.equal(v.signer.cn, '发展改革委公文系统');
	assert.equal(v.trusted_time, true);
	v = await expectJson(await verify(readFileSync(join(dir, 'forged.pdf')), readFileSync(join(dir, 'doc.p7s'))), 200);
	assert.equal(v.verdict, 'tampered');
	assert.match(v.reason, /SHA-256 hash does not match the signed messageDigest/);

	// SM2, by hash: openssl prints it (it cannot verify SM2 with the standard ID), ours verifies
	res = await clerk.post('/api/v1/pki/sign', { json: { signer_id: sm2.id, sm3: createHash('sm3').update(DOC).digest('hex'), file_name: 'doc.pdf' } });
	assert.equal(res.status, 201);
	writeFileSync(join(dir, 'sm2.p7s'), Buffer.from(await res.arrayBuffer()));
	assert.match(openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'sm2.p7s']).out, /SM2-with-SM3/);
	v = await expectJson(await verify(DOC, readFileSync(join(dir, 'sm2.p7s'))), 200);
	assert.equal(v.verdict, 'valid');
	assert.equal(v.document.hash_alg, 'sm3');
	// the wrong hash for the signer, and a signer outside the caller's scope
	let p = await expectProblem(await clerk.post('/api/v1/pki/sign', { json: { signer_id: sm2.id, sha256: 'ab'.repeat(32) } }), 400);
	assert.equal(p.errors[0].field, 'sm3');
	await expectProblem(await other.post('/api/v1/pki/sign', { json: { signer_id: sm2.id, sm3: 'ab'.repeat(32) } }), 403);
});

test(`a revoked seal: refused from then on, valid for what it sealed before (${backend})`, async () => {
	const before = readFileSync(join(dir, 'doc.ses'));
	await expectJson(await admin.post(`/api/v1/pki/seals/${sealId}/revoke`, { json: { reason: 'cessationOfOperation' } }), 200);
	await expectProblem(await admin.post(`/api/v1/pki/seals/${sealId}/revoke`, { json: {} }), 409);
	await expectProblem(
		await clerk.post(`/api/v1/pki/seals/${sealId}/apply`, { multipart: form({ file: { bytes: DOC, name: 'doc.pdf' } }) }),
		409
	);
	const v = await expectJson(await verify(DOC, before), 200);
	assert.equal(v.verdict, 'valid');
	assert.equal(v.certificate.status, 'revoked');
	assert.equal(v.certificate.at_signing, 'valid');
	assert.equal(v.certificate.revoked_later, true);
	assert.equal(v.certificate.reason, 'cessationOfOperation');
});

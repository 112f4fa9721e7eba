// The time-stamping authority (RFC 3161) at POST /pki/tsa, checked by an independent tool, the openssl
// CLI: requests made by `openssl ts -query`, answers read by `openssl ts -reply -text`, ECDSA P-256
// tokens verified by `openssl ts -verify` over the city-p256 chain (with and without a nonce, chosen by
// ?alg=ecdsa or by our ECDSA policy), and refused for tampered data. OpenSSL 3.0 prints SM2 tokens but
// cannot verify them, so SM2 tokens are verified by our verifier through `yizhan pki ts-verify`. Bad
// input is answered with a TimeStampResp that rejects it, never with an HTTP error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, runCli } from './lib/server.mjs';
import { dataArgs, expectJson, signIn, sql } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const CA_OPERATOR = ['zhaomin.ca', 'Yizhan@2026'];
const POLICY_SM2 = '1.3.6.1.4.1.32473.3161.1';
const POLICY_ECDSA = '1.3.6.1.4.1.32473.3161.2';
const DOC = '贵阳市人民政府关于公布 2026 年政务服务事项清单的通知\n';
let srv;
let dir;

function openssl(args, { ok = true } = {}) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
	if (ok && r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
	return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
}

async function derToPem(path, file) {
	const res = await fetch(srv.url + path);
	assert.equal(res.status, 200, `${path}: ${res.status}`);
	writeFileSync(join(dir, file + '.der'), Buffer.from(await res.arrayBuffer()));
	openssl(['x509', '-inform', 'DER', '-in', file + '.der', '-out', file + '.pem']);
}

// POST a request file to /pki/tsa (query: '?alg=ecdsa' or ''); the answer is written to out.
async function stamp(reqFile, out, query = '') {
	const res = await fetch(srv.url + '/pki/tsa' + query, {
		method: 'POST',
		headers: { 'content-type': 'application/timestamp-query' },
		body: readFileSync(join(dir, reqFile)),
	});
	assert.equal(res.status, 200);
	assert.equal(res.headers.get('content-type'), 'application/timestamp-reply');
	const bytes = Buffer.from(await res.arrayBuffer());
	writeFileSync(join(dir, out), bytes);
	return bytes;
}

before(async () => {
	srv = await startServer({ backend });
	dir = mkdtempSync(join(tmpdir(), 'yizhan-tsa-'));
	for (const c of ['root-p256', 'city-p256', 'city']) await derToPem(`/pki/ca/${c}.crt`, c);
	writeFileSync(join(dir, 'chain-p256.pem'), readFileSync(join(dir, 'root-p256.pem')) + readFileSync(join(dir, 'city-p256.pem')));
	writeFileSync(join(dir, 'doc.txt'), DOC);
	writeFileSync(join(dir, 'forged.txt'), DOC.replace('2026', '2027'));
	// the TSA certificates are certificates of their CA like any other: the CA operator finds them
	const op = await signIn(srv.url, ...CA_OPERATOR);
	for (const ca of ['city-p256', 'city']) {
		const list = await expectJson(await op.get(`/api/v1/pki/certs?profile=tsa&ca=${ca}`), 200);
		assert.equal(list.items.length, 1, `one TSA certificate of ${ca}`);
		const der = await op.get(`/api/v1/pki/certs/${ca}/${list.items[0].serial}.crt`);
		assert.equal(der.status, 200);
		writeFileSync(join(dir, `tsa-${ca}.der`), Buffer.from(await der.arrayBuffer()));
		openssl(['x509', '-inform', 'DER', '-in', `tsa-${ca}.der`, '-out', `tsa-${ca}.pem`]);
	}
});

after(async () => {
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

test(`the TSA certificates: timeStamping alone, critical (${backend})`, () => {
	for (const ca of ['city-p256', 'city']) {
		const t = openssl(['x509', '-in', `tsa-${ca}.pem`, '-noout', '-ext', 'extendedKeyUsage,keyUsage']).out;
		assert.match(t, /X509v3 Extended Key Usage: critical\s*\n\s*Time Stamping\s*\n/);
		assert.match(t, /Digital Signature, Non Repudiation/);
	}
	// OpenSSL's purpose check for time-stamp signers accepts the ECDSA one over the chain
	assert.match(
		openssl(['verify', '-purpose', 'timestampsign', '-CAfile', 'root-p256.pem', '-untrusted', 'city-p256.pem', 'tsa-city-p256.pem']).out,
		/tsa-city-p256.pem: OK/
	);
});

test(`ECDSA P-256 time-stamps verified by openssl ts -verify (${backend})`, async () => {
	// without a nonce, asking for the certificate, the signer chosen by ?alg=ecdsa
	openssl(['ts', '-query', '-data', 'doc.txt', '-sha256', '-cert', '-no_nonce', '-out', 'q1.tsq']);
	await stamp('q1.tsq', 'r1.tsr', '?alg=ecdsa');
	let text = openssl(['ts', '-reply', '-in', 'r1.tsr', '-text']).out;
	assert.match(text, /Status: Granted\./);
	assert.match(text, new RegExp(`Policy OID: ${POLICY_ECDSA.replaceAll('.', '\\.')}`));
	assert.match(text, /Hash Algorithm: sha256/);
	assert.match(text, /Accuracy: 0x01 seconds, unspecified millis, unspecified micros/);
	assert.match(text, /Ordering: no/);
	assert.match(text, /Nonce: unspecified/);
	assert.match(text, /Time stamp: \w{3} [ \d]\d \d\d:\d\d:\d\d(\.\d{1,3})? \d{4} GMT/);
	assert.match(text, /TSA: DirName:\/C=CN\//);
	const ok = openssl(['ts', '-verify', '-data', 'doc.txt', '-in', 'r1.tsr', '-CAfile', 'chain-p256.pem', '-untrusted', 'tsa-city-p256.pem']);
	assert.match(ok.out, /Verification: OK/);
	// the token carries the certificate it was asked for: the chain alone is enough
	assert.match(openssl(['ts', '-verify', '-data', 'doc.txt', '-in', 'r1.tsr', '-CAfile', 'chain-p256.pem']).out, /Verification: OK/);
	// changed data fails
	const bad = openssl(['ts', '-verify', '-data', 'forged.txt', '-in', 'r1.tsr', '-CAfile', 'chain-p256.pem', '-untrusted', 'tsa-city-p256.pem'], {
		ok: false,
	});
	assert.notEqual(bad.code, 0);
	assert.doesNotMatch(bad.out, /Verification: OK/);
	assert.match(bad.out, /message imprint mismatch/);
	// against the SM2 chain it fails too
	const wrong = openssl(['ts', '-verify', '-data', 'doc.txt', '-in', 'r1.tsr', '-CAfile', 'city.pem'], { ok: false });
	assert.notEqual(wrong.code, 0);

	// with a nonce, no certificate, the signer chosen by our ECDSA policy (no ?alg)
	openssl(['ts', '-query', '-data', 'doc.txt', '-sha256', '-tspolicy', POLICY_ECDSA, '-out', 'q2.tsq']);
	const nonce = /Nonce: (0x[0-9A-F]+)/.exec(openssl(['ts', '-query', '-in', 'q2.tsq', '-text']).out)[1];
	await stamp('q2.tsq', 'r2.tsr');
	text = openssl(['ts', '-reply', '-in', 'r2.tsr', '-text']).out;
	assert.match(text, /Status: Granted\./);
	assert.match(text, new RegExp(`Nonce: ${nonce}\\b`));
	// the request file makes openssl check the imprint and the nonce
	assert.match(
		openssl(['ts', '-verify', '-queryfile', 'q2.tsq', '-in', 'r2.tsr', '-CAfile', 'chain-p256.pem', '-untrusted', 'tsa-city-p256.pem']).out,
		/Verification: OK/
	);
	assert.match(
		openssl(['ts', '-verify', '-data', 'doc.txt', '-in', 'r2.tsr', '-CAfile', 'chain-p256.pem', '-untrusted', 'tsa-city-p256.pem']).out,
		/Verification: OK/
	);
	// another request's nonce does not match this answer
	openssl(['ts', '-query', '-data', 'doc.txt', '-sha256', '-out', 'q3.tsq']);
	const other = openssl(['ts', '-verify', '-queryfile', 'q3.tsq', '-in', 'r2.tsr', '-CAfile', 'chain-p256.pem', '-untrusted', 'tsa-city-p256.pem'], {
		ok: false,
	});
	assert.notEqual(other.code, 0);
	assert.match(other.out, /nonce mismatch/);
	// our verifier agrees on both
	const cli = await runCli(['pki', 'ts-verify', '--in', join(dir, 'r2.tsr'), '--file', join(dir, 'doc.txt'), '--ca', 'city-p256', ...dataArgs(srv)]);
	assert.equal(cli.code, 0, cli.stdout + cli.stderr);
	assert.match(cli.stdout, /Verification: OK/);
});

test(`SM2 time-stamps: printed by openssl, verified by yizhan pki ts-verify (${backend})`, async () => {
	openssl(['ts', '-query', '-data', 'doc.txt', '-sm3', '-cert', '-out', 'q4.tsq']);
	const nonce = /Nonce: (0x[0-9A-F]+)/.exec(openssl(['ts', '-query', '-in', 'q4.tsq', '-text']).out)[1];
	await stamp('q4.tsq', 'r4.tsr');
	const text = openssl(['ts', '-reply', '-in', 'r4.tsr', '-text']).out;
	assert.match(text, /Status: Granted\./);
	assert.match(text, new RegExp(`Policy OID: ${POLICY_SM2.replaceAll('.', '\\.')}`));
	assert.match(text, /Hash Algorithm: sm3/);
	assert.match(text, /Accuracy: 0x01 seconds/);
	assert.match(text, new RegExp(`Nonce: ${nonce}\\b`));
	// the token's signer is SM2 with SM3 (as openssl sees the SignedData)
	openssl(['ts', '-reply', '-in', 'r4.tsr', '-token_out', '-out', 'tok4.der']);
	const p7 = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'tok4.der']).out;
	assert.match(p7, /eContentType: id-smime-ct-TSTInfo/);
	assert.match(p7, /algorithm: SM2-with-SM3 \(1\.2\.156\.10197\.1\.501\)/);
	assert.match(p7, /id-smime-aa-signingCertificateV2/);

	const verify = (args) => runCli(['pki', 'ts-verify', ...args, ...dataArgs(srv)]);
	let r = await verify(['--in', join(dir, 'r4.tsr'), '--file', join(dir, 'doc.txt'), '--ca', 'city']);
	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout, /Verification: OK/);
	const info = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1));
	assert.equal(info.hash_alg, 'sm3');
	assert.equal(info.policy, POLICY_SM2);
	assert.equal(info.signature, 'SM3withSM2');
	assert.equal(info.accuracy_s, 1);
	assert.equal(BigInt('0x' + info.nonce), BigInt(nonce));
	assert.match(info.signer, /时间戳服务/);
	// the bare token, the CA given as a file
	r = await verify(['--in', join(dir, 'tok4.der'), '--file', join(dir, 'doc.txt'), '--ca-file', join(dir, 'city.pem')]);
	assert.equal(r.code, 0, r.stdout + r.stderr);
	// changed data, or the wrong CA, fail and say why
	r = await verify(['--in', join(dir, 'r4.tsr'), '--file', join(dir, 'forged.txt'), '--ca', 'city']);
	assert.equal(r.code, 1);
	assert.match(r.stdout, /Verification: FAILED: the data's sm3 hash differs from the token's message imprint/);
	r = await verify(['--in', join(dir, 'r4.tsr'), '--file', join(dir, 'doc.txt'), '--ca', 'city-p256']);
	assert.equal(r.code, 1);
	assert.match(r.stdout, /Verification: FAILED: the TSA certificate/);
	// a SHA-256 imprint is answered by SM2 as well when nothing asks for ECDSA
	openssl(['ts', '-query', '-data', 'doc.txt', '-sha256', '-no_nonce', '-out', 'q5.tsq']);
	await stamp('q5.tsq', 'r5.tsr');
	assert.match(openssl(['ts', '-reply', '-in', 'r5.tsr', '-text']).out, new RegExp(`Policy OID: ${POLICY_SM2.replaceAll('.', '\\.')}`));
	r = await verify(['--in', join(dir, 'r5.tsr'), '--file', join(dir, 'doc.txt')]);
	assert.equal(r.code, 0, r.stdout + r.stderr);
});

test(`bad input is answered with a rejection, not an HTTP error (${backend})`, async () => {
	const post = async (body, query = '') => {
		const res = await fetch(srv.url + '/pki/tsa' + query, { method: 'POST', headers: { 'content-type': 'application/timestamp-query' }, body });
		assert.equal(res.status, 200);
		assert.equal(res.headers.get('content-type'), 'application/timestamp-reply');
		return Buffer.from(await res.arrayBuffer());
	};
	const reply = (bytes, file) => {
		writeFileSync(join(dir, file), bytes);
		return openssl(['ts', '-reply', '-in', file, '-text']).out;
	};
	// garbage: rejection (2) with badDataFormat
	let t = reply(await post(Buffer.from('garbage')), 'bad1.tsr');
	assert.match(t, /Status: Rejected\./);
	assert.match(t, /Failure info: the data submitted has the wrong format/);
	assert.match(t, /not a DER TimeStampReq/);
	// SHA-1: badAlg
	openssl(['ts', '-query', '-data', 'doc.txt', '-sha1', '-out', 'q6.tsq']);
	t = reply(await post(readFileSync(join(dir, 'q6.tsq'))), 'bad2.tsr');
	assert.match(t, /Status: Rejected\./);
	assert.match(t, /Failure info: unrecognized or unsupported algorithm identifier/);
	// a policy that is not ours: unacceptedPolicy
	openssl(['ts', '-query', '-data', 'doc.txt', '-sha256', '-tspolicy', '1.2.3.4', '-out', 'q7.tsq']);
	t = reply(await post(readFileSync(join(dir, 'q7.tsq'))), 'bad3.tsr');
	assert.match(t, /Failure info: the requested TSA policy is not supported by the TSA/);
	// an unknown signer
	t = reply(await post(readFileSync(join(dir, 'q1.tsq')), '?alg=rsa'), 'bad4.tsr');
	assert.match(t, /Failure info: transaction not permitted or supported/);
	// a body that is too large is the HTTP layer's 413
	const big = await fetch(srv.url + '/pki/tsa', { method: 'POST', body: Buffer.alloc(70000) });
	assert.equal(big.status, 413);
});

test(`every token is recorded (${backend})`, () => {
	// q1, q2, q4, q5 and the CLI's none: four tokens; rejections are not recorded
	assert.equal(sql(srv, 'SELECT COUNT(*) FROM pki_tsa_log'), '4');
	const algs = sql(srv, 'SELECT hash_alg FROM pki_tsa_log ORDER BY gen_time, serial').split('\n').sort();
	assert.deepEqual(algs, ['sha256', 'sha256', 'sha256', 'sm3']);
});

// The city CA through HTTP, checked by an independent tool, the openssl CLI: the CA certificates at
// /pki/ca/, certificates issued by the CA operator from PKCS#10 requests made by openssl (SM2 with the
// standard ID, and ECDSA P-256), `openssl verify` over both chains, `openssl crl` and `openssl ocsp`
// against the platform before and after a revocation (the ECDSA CA; OpenSSL 3.0 cannot check SM2
// CRL/OCSP signatures with the standard ID, tests/pki/test_pki.c does that with our verifier), OCSP
// by GET, and bad input: malformed or empty-ID requests, unknown CAs, garbage OCSP, missing rights.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, runCli } from './lib/server.mjs';
import { DEMO, dataArgs, expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const CA_OPERATOR = ['zhaomin.ca', 'Yizhan@2026'];
const ID = '1234567812345678';
let srv;
let dir;

function openssl(args, { input, ok = true } = {}) {
	const r = spawnSync('openssl', args, { cwd: dir, input, encoding: 'utf8' });
	if (ok && r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
	return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
}

async function fetchTo(path, file) {
	const res = await fetch(srv.url + path);
	assert.equal(res.status, 200, `${path}: ${res.status}`);
	const bytes = Buffer.from(await res.arrayBuffer());
	writeFileSync(join(dir, file), bytes);
	return { res, bytes };
}

async function caPem(name) {
	await fetchTo(`/pki/ca/${name}.crt`, `${name}.der`);
	openssl(['x509', '-inform', 'DER', '-in', `${name}.der`, '-out', `${name}.pem`]);
}

before(async () => {
	srv = await startServer({ backend });
	dir = mkdtempSync(join(tmpdir(), 'yizhan-pki-'));
	for (const c of ['root', 'city', 'root-p256', 'city-p256']) await caPem(c);
	writeFileSync(join(dir, 'chain-p256.pem'), readFileSync(join(dir, 'root-p256.pem')) + readFileSync(join(dir, 'city-p256.pem')));
	// requests made by openssl, not by us
	openssl(['genpkey', '-algorithm', 'SM2', '-out', 'sm2.key']);
	openssl(['req', '-new', '-key', 'sm2.key', '-utf8', '-subj', '/CN=张三', '-sm3', '-sigopt', `distid:${ID}`, '-out', 'sm2.csr']);
	openssl(['req', '-new', '-key', 'sm2.key', '-utf8', '-subj', '/CN=张三', '-sm3', '-out', 'sm2-noid.csr']);
	openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key']);
	openssl(['req', '-new', '-key', 'ec.key', '-subj', '/CN=zwfw.example.gov.cn', '-out', 'ec.csr']);
});

after(async () => {
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

test(`the CAs at their standard places (${backend})`, async () => {
	const idx = await expectJson(await fetch(srv.url + '/pki/ca/'), 200);
	assert.deepEqual(idx.cas.map((c) => c.name), ['root', 'city', 'root-p256', 'city-p256']);
	const city = idx.cas.find((c) => c.name === 'city');
	assert.equal(city.alg, 'sm2');
	assert.equal(city.signature, 'SM3withSM2');
	assert.equal(city.parent, 'root');
	assert.equal(city.crl, '/pki/crl/city.crl');
	const { res } = await fetchTo('/pki/ca/city.crt', 'city-again.der');
	assert.equal(res.headers.get('content-type'), 'application/pkix-cert');
	const text = openssl(['x509', '-in', 'city.pem', '-noout', '-text']).out;
	assert.match(text, /Signature Algorithm: SM2-with-SM3/);
	assert.match(text, /CA:TRUE, pathlen:0/);
	const pem = await (await fetch(srv.url + '/pki/ca/city.pem')).text();
	assert.equal(pem, readFileSync(join(dir, 'city.pem'), 'utf8'));
	await expectProblem(await fetch(srv.url + '/pki/ca/nowhere.crt'), 404);
	await expectProblem(await fetch(srv.url + '/pki/crl/nowhere.crl'), 404);
});

test(`issue, verify with openssl, revoke, and see the CRL and OCSP change (${backend})`, async () => {
	const op = await signIn(srv.url, ...CA_OPERATOR);
	// SM2: a civil servant's signing certificate with the GM/T 0015 ID-number extension
	const sm2 = await expectJson(
		await op.post('/api/v1/pki/certs', {
			json: {
				ca: 'city',
				profile: 'user',
				csr: readFileSync(join(dir, 'sm2.csr'), 'utf8'),
				o: '贵阳市发展和改革委员会',
				id_number: '11010519491231002X',
				email: 'zhangsan@example.gov.cn',
			},
		}),
		201
	);
	assert.equal(sm2.cn, '张三');
	assert.equal(sm2.status, 'valid');
	writeFileSync(join(dir, 'sm2.pem'), sm2.pem);
	const t = openssl(['x509', '-in', 'sm2.pem', '-noout', '-text']).out;
	assert.match(t, /1\.2\.156\.10260\.4\.1\.1:\s*\n\s*\.\.11010519491231002X/);
	assert.match(t, /URI:.*\/pki\/crl\/city\.crl/);
	// openssl verify sets the SM2 ID only on the certificate it is asked about, so each link of the
	// chain is checked on its own: the city CA under the root, the holder's certificate under the
	// city CA; without the ID the same check fails
	assert.match(openssl(['verify', '-vfyopt', `distid:${ID}`, '-CAfile', 'root.pem', 'city.pem']).out, /city.pem: OK/);
	assert.match(openssl(['verify', '-vfyopt', `distid:${ID}`, '-partial_chain', '-CAfile', 'city.pem', 'sm2.pem']).out, /sm2.pem: OK/);
	const noid = openssl(['verify', '-partial_chain', '-CAfile', 'city.pem', 'sm2.pem'], { ok: false });
	assert.notEqual(noid.code, 0, 'an SM2 signature checked with the empty ID must fail');

	// ECDSA: a server certificate, the whole chain in one openssl verify
	const ec = await expectJson(
		await op.post('/api/v1/pki/certs', {
			json: { ca: 'city-p256', profile: 'server', csr: readFileSync(join(dir, 'ec.csr'), 'utf8'), dns: ['zwfw.example.gov.cn'] },
		}),
		201
	);
	writeFileSync(join(dir, 'ec.pem'), ec.pem);
	assert.match(openssl(['verify', '-CAfile', 'root-p256.pem', '-untrusted', 'city-p256.pem', 'ec.pem']).out, /ec.pem: OK/);
	const exts = openssl(['x509', '-in', 'ec.pem', '-noout', '-ext', 'subjectAltName,extendedKeyUsage']).out;
	assert.match(exts, /DNS:zwfw.example.gov.cn/);
	assert.match(exts, /TLS Web Server Authentication/);

	// the certificate is found, as JSON and as DER
	const got = await expectJson(await op.get(`/api/v1/pki/certs/city-p256/${ec.serial}`), 200);
	assert.equal(got.serial, ec.serial);
	const der = await op.get(`/api/v1/pki/certs/city-p256/${ec.serial}.crt`);
	assert.equal(der.status, 200);
	assert.equal(der.headers.get('content-type'), 'application/pkix-cert');
	const list = await expectJson(await op.get('/api/v1/pki/certs?q=' + encodeURIComponent('张')), 200);
	assert.ok(list.items.some((c) => c.serial === sm2.serial));
	assert.equal(list.items.find((c) => c.serial === sm2.serial).id_number, '110105********002X', 'masked in lists');

	// before: good, and the CRL lists nothing
	const ocsp = () =>
		openssl(['ocsp', '-issuer', 'city-p256.pem', '-cert', 'ec.pem', '-url', `${srv.url}/pki/ocsp`, '-CAfile', 'chain-p256.pem', '-no_nonce']).out;
	let o = ocsp();
	assert.match(o, /Response verify OK/);
	assert.match(o, /ec.pem: good/);
	await fetchTo('/pki/crl/city-p256.crl', 'city-p256.crl');
	let crl = openssl(['crl', '-inform', 'DER', '-in', 'city-p256.crl', '-CAfile', 'city-p256.pem', '-noout', '-text']).out;
	assert.match(crl, /verify OK/);
	assert.doesNotMatch(crl, new RegExp(ec.serial));

	// revoke: the answer and the CRL change at once on this node
	const rv = await expectJson(await op.post(`/api/v1/pki/certs/city-p256/${ec.serial}/revoke`, { json: { reason: 'keyCompromise' } }), 200);
	assert.equal(rv.status, 'revoked');
	assert.equal(rv.reason, 'keyCompromise');
	o = ocsp();
	assert.match(o, /Response verify OK/);
	assert.match(o, /ec.pem: revoked/);
	assert.match(o, /Reason: keyCompromise/);
	await fetchTo('/pki/crl/city-p256.crl', 'city-p256.crl');
	crl = openssl(['crl', '-inform', 'DER', '-in', 'city-p256.crl', '-CAfile', 'city-p256.pem', '-noout', '-text']).out;
	assert.match(crl, /verify OK/);
	assert.match(crl, new RegExp(`Serial Number: ${ec.serial}[\\s\\S]*Key Compromise`));
	assert.match(crl, /CRL Number: \s*\n\s*2/);
	await expectProblem(await op.post(`/api/v1/pki/certs/city-p256/${ec.serial}/revoke`, { json: { reason: 'superseded' } }), 409);

	// SM2: suspend, seen in the SM2 CRL (parsed by openssl), then resumed
	await expectJson(await op.post(`/api/v1/pki/certs/city/${sm2.serial}/revoke`, { json: { reason: 'certificateHold' } }), 200);
	await fetchTo('/pki/crl/city.crl', 'city.crl');
	const sm2crl = openssl(['crl', '-inform', 'DER', '-in', 'city.crl', '-noout', '-text']).out;
	assert.match(sm2crl, /Signature Algorithm: SM2-with-SM3/);
	assert.match(sm2crl, new RegExp(`Serial Number: ${sm2.serial}[\\s\\S]*Certificate Hold`));
	const res = await expectJson(await op.post(`/api/v1/pki/certs/city/${sm2.serial}/resume`, {}), 200);
	assert.equal(res.status, 'valid');
	await fetchTo('/pki/crl/city.crl', 'city.crl');
	assert.doesNotMatch(openssl(['crl', '-inform', 'DER', '-in', 'city.crl', '-noout', '-text']).out, new RegExp(sm2.serial));

	// renewal: the same holder, key and subject, a new serial; superseding revokes the old one
	const renewed = await expectJson(await op.post(`/api/v1/pki/certs/city/${sm2.serial}/renew`, { json: { supersede: true } }), 201);
	assert.notEqual(renewed.serial, sm2.serial);
	assert.equal(renewed.cn, '张三');
	assert.equal(renewed.id_number, '11010519491231002X');
	writeFileSync(join(dir, 'renewed.pem'), renewed.pem);
	assert.equal(
		openssl(['x509', '-in', 'renewed.pem', '-noout', '-pubkey']).out,
		openssl(['x509', '-in', 'sm2.pem', '-noout', '-pubkey']).out,
		'the same key'
	);
	assert.match(openssl(['x509', '-in', 'renewed.pem', '-noout', '-ext', 'subjectAltName']).out, /zhangsan@example.gov.cn/);
	const old = await expectJson(await op.get(`/api/v1/pki/certs/city/${sm2.serial}`), 200);
	assert.equal(old.status, 'revoked');
	assert.equal(old.reason, 'superseded');
	await expectProblem(await op.post(`/api/v1/pki/certs/city/${sm2.serial}/renew`, { json: {} }), 409);

	// OCSP by GET (RFC 6960 A.1): the same answer for the same request
	openssl(['ocsp', '-issuer', 'city-p256.pem', '-cert', 'ec.pem', '-no_nonce', '-reqout', 'req.der']);
	const b64 = readFileSync(join(dir, 'req.der')).toString('base64');
	await fetchTo('/pki/ocsp/' + encodeURIComponent(b64), 'resp.der');
	const g = openssl(['ocsp', '-respin', 'resp.der', '-issuer', 'city-p256.pem', '-cert', 'ec.pem', '-CAfile', 'chain-p256.pem']).out;
	assert.match(g, /Response verify OK/);
	assert.match(g, /ec.pem: revoked/);

	// the command line sees the same certificates
	const cli = await runCli(['pki', 'list', '--ca', 'city-p256', ...dataArgs(srv)]);
	assert.equal(cli.code, 0, cli.stderr);
	assert.match(cli.stdout, new RegExp(`${ec.serial}\\s+revoked`));

	// the audit chain recorded each step
	const auditor = await signIn(srv.url, ...DEMO.auditor);
	const a = await expectJson(await auditor.get('/api/v1/audit?action=pki.cert.revoke'), 200);
	assert.ok(a.items.some((r) => r.object === `pki_cert:city-p256/${ec.serial}`));
});

test(`bad input and missing rights (${backend})`, async () => {
	const op = await signIn(srv.url, ...CA_OPERATOR);
	let p = await expectProblem(await op.post('/api/v1/pki/certs', { json: { ca: 'city', profile: 'user', csr: 'not a request' } }), 400);
	assert.equal(p.errors[0].field, 'csr');
	p = await expectProblem(
		await op.post('/api/v1/pki/certs', { json: { ca: 'city', profile: 'user', csr: readFileSync(join(dir, 'sm2-noid.csr'), 'utf8') } }),
		400
	);
	assert.equal(p.errors[0].field, 'csr');
	assert.equal(p.errors[0].rule, 'signature');
	p = await expectProblem(
		await op.post('/api/v1/pki/certs', { json: { ca: 'nowhere', profile: 'user', csr: readFileSync(join(dir, 'sm2.csr'), 'utf8') } }),
		400
	);
	assert.equal(p.errors[0].field, 'ca');
	p = await expectProblem(
		await op.post('/api/v1/pki/certs', {
			json: { ca: 'city', profile: 'user', csr: readFileSync(join(dir, 'sm2.csr'), 'utf8'), id_number: '110105194912310021' },
		}),
		400
	);
	assert.equal(p.errors[0].field, 'id_number');
	assert.match(p.errors[0].expected, /X/);
	await expectProblem(await op.post('/api/v1/pki/certs/city/ZZZ/revoke', { json: { reason: 'keyCompromise' } }), 400);
	await expectProblem(await op.post('/api/v1/pki/certs/city/ABCDEF/revoke', { json: { reason: 'keyCompromise' } }), 404);
	p = await expectProblem(await op.post('/api/v1/pki/certs/city/ABCDEF/revoke', { json: { reason: 'tired' } }), 400);
	assert.equal(p.errors[0].field, 'reason');
	// OCSP: garbage → an OCSPResponse with malformedRequest (1)
	const bad = await fetch(srv.url + '/pki/ocsp', { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from('garbage') });
	assert.equal(bad.status, 200);
	assert.deepEqual([...Buffer.from(await bad.arrayBuffer())], [0x30, 0x03, 0x0a, 0x01, 0x01]);
	// a clerk may not issue, nor read the certificate list; nobody signed out may
	const clerk = await signIn(srv.url, ...DEMO.clerkFgw);
	await expectProblem(await clerk.post('/api/v1/pki/certs', { json: { ca: 'city', profile: 'user', csr: 'x' } }), 403);
	await expectProblem(await clerk.get('/api/v1/pki/certs'), 403);
	assert.equal((await fetch(srv.url + '/api/v1/pki/certs')).status, 401);
	// profiles: faults named by path
	p = await expectProblem(
		await op.put('/api/v1/pki/profiles', { json: { profiles: [{ name: 'x', title: 'X', validity_days: 0, key_usage: ['everything'], subject: { cn: 'required' } }] } }),
		400
	);
	assert.deepEqual(
		p.errors.map((x) => x.field),
		['profiles[0].validity_days', 'profiles[0].key_usage[0]']
	);
});

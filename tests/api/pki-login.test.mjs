// Sign-in by certificate. Over the HTTPS listener with a TLS client certificate (ECDSA P-256 from the
// city's P-256 CA, as browsers use); and with an SM2 USB key that signs a one-time challenge, the
// signature made by the openssl CLI with the standard ID. A revoked or suspended certificate is refused
// with the reason, a challenge is good once, an empty-ID SM2 signature or another key's signature is
// refused, and a certificate without an account or from another CA signs nobody in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './lib/server.mjs';
import { DEMO, expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
let srv;
let dir;
let tlsPort;
let op;
let holderId;

function openssl(args) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
	if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stdout}${r.stderr}`);
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

// POST over TLS, optionally with a client certificate; resolves {status, json, cookie}
function tlsPost(path, { cert, key, body } = {}) {
	return new Promise((resolve, reject) => {
		const data = body ? JSON.stringify(body) : '';
		const req = https.request(
			{
				host: '127.0.0.1',
				port: tlsPort,
				path,
				method: 'POST',
				rejectUnauthorized: false,
				cert: cert ? readFileSync(join(dir, cert)) : undefined,
				key: key ? readFileSync(join(dir, key)) : undefined,
				headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : { 'content-length': 0 },
			},
			(res) => {
				let text = '';
				res.setEncoding('utf8');
				res.on('data', (d) => (text += d));
				res.on('end', () => {
					let json = null;
					try {
						json = JSON.parse(text);
					} catch {
						/* not JSON */
					}
					const cookie = (res.headers['set-cookie'] || []).map((c) => c.split(';')[0]).find((c) => c.startsWith('yz_sid='));
					resolve({ status: res.statusCode, json, cookie, type: res.headers['content-type'] });
				});
			}
		);
		req.on('error', reject);
		req.end(data);
	});
}

async function me(cookie) {
	const r = await fetch(srv.url + '/api/v1/me', { headers: { cookie } });
	assert.equal(r.status, 200);
	return r.json();
}

async function issue(ca, csr, holder) {
	const c = await expectJson(
		await op.post('/api/v1/pki/certs', { json: { ca, profile: 'user', csr: readFileSync(join(dir, csr), 'utf8'), holder_user: holder } }),
		201
	);
	writeFileSync(join(dir, `${csr}.pem`), c.pem);
	return c;
}

before(async () => {
	dir = mkdtempSync(join(tmpdir(), 'yizhan-certlogin-'));
	openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.crt', '-subj', '/CN=127.0.0.1', '-days', '2']);
	tlsPort = await freePort();
	srv = await startServer({
		backend,
		extraArgs: ['--tls-listen', `127.0.0.1:${tlsPort}`, '--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'server.key')],
	});
	op = await signIn(srv.url, 'zhaomin.ca', 'Yizhan@2026');
	const holder = await signIn(srv.url, ...DEMO.clerkFgw);
	holderId = (await expectJson(await holder.get('/api/v1/me'), 200)).id;
	assert.ok(holderId, 'the holder has an id');
	// keys and requests made by openssl
	openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key']);
	openssl(['req', '-new', '-key', 'ec.key', '-subj', '/CN=chenjing', '-out', 'ec.csr']);
	openssl(['genpkey', '-algorithm', 'SM2', '-out', 'sm2.key']);
	openssl(['req', '-new', '-key', 'sm2.key', '-subj', '/CN=chenjing', '-sm3', '-sigopt', 'distid:1234567812345678', '-out', 'sm2.csr']);
	openssl(['genpkey', '-algorithm', 'SM2', '-out', 'other.key']);
});

after(async () => {
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

test(`a TLS client certificate signs its holder in; revoked and suspended ones are refused (${backend})`, async () => {
	const cert = await issue('city-p256', 'ec.csr', holderId);
	const ok = await tlsPost('/api/v1/session/certificate', { cert: 'ec.csr.pem', key: 'ec.key' });
	assert.equal(ok.status, 201, JSON.stringify(ok.json));
	assert.equal(ok.json.method, 'tls-certificate');
	assert.equal(ok.json.certificate, `city-p256/${cert.serial}`);
	assert.ok(ok.cookie, 'a session cookie');
	assert.equal((await me(ok.cookie)).login, 'chenjing.fgw');
	// without a certificate, over TLS or not
	const none = await tlsPost('/api/v1/session/certificate');
	assert.equal(none.status, 401);
	await expectProblem(await fetch(srv.url + '/api/v1/session/certificate', { method: 'POST' }), 401);
	// suspended, then revoked: refused with the reason
	await expectJson(await op.post(`/api/v1/pki/certs/city-p256/${cert.serial}/revoke`, { json: { reason: 'certificateHold' } }), 200);
	const held = await tlsPost('/api/v1/session/certificate', { cert: 'ec.csr.pem', key: 'ec.key' });
	assert.equal(held.status, 403);
	assert.match(held.json.detail, /suspended/);
	await expectJson(await op.post(`/api/v1/pki/certs/city-p256/${cert.serial}/revoke`, { json: { reason: 'keyCompromise' } }), 200);
	const revoked = await tlsPost('/api/v1/session/certificate', { cert: 'ec.csr.pem', key: 'ec.key' });
	assert.equal(revoked.status, 403);
	assert.match(revoked.json.detail, /revoked \(keyCompromise\)/);
	// a self-made certificate is nobody
	openssl(['req', '-x509', '-key', 'ec.key', '-out', 'self.pem', '-subj', '/CN=chenjing', '-days', '1']);
	const self = await tlsPost('/api/v1/session/certificate', { cert: 'self.pem', key: 'ec.key' });
	assert.equal(self.status, 401);
	// the audit chain says how they signed in
	const auditor = await signIn(srv.url, ...DEMO.auditor);
	const a = await expectJson(await auditor.get('/api/v1/audit?action=iam.login'), 200);
	assert.ok(a.items.some((r) => r.actor === 'chenjing.fgw'));
});

test(`an SM2 USB key signs a one-time challenge (${backend})`, async () => {
	const cert = await issue('city', 'sm2.csr', holderId);
	const sign = (keyFile, challenge, id = true) => {
		writeFileSync(join(dir, 'challenge.txt'), challenge);
		const args = ['dgst', '-sm3', '-sign', keyFile, '-out', 'sig.der'];
		if (id) args.push('-sigopt', 'distid:1234567812345678');
		openssl([...args, 'challenge.txt']);
		return readFileSync(join(dir, 'sig.der')).toString('base64');
	};
	const challenge = async () => (await expectJson(await fetch(srv.url + '/api/v1/session/certificate/challenge'), 200)).challenge;
	const post = (body) => fetch(srv.url + '/api/v1/session/certificate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

	const c1 = await challenge();
	const body = { certificate: cert.pem, challenge: c1, signature: sign('sm2.key', c1) };
	const res = await post(body);
	assert.equal(res.status, 201, await res.clone().text());
	const j = await res.json();
	assert.equal(j.method, 'sm2-challenge');
	const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('yz_sid='));
	assert.equal((await me(cookie)).login, 'chenjing.fgw');
	// the same challenge again: refused
	let p = await expectProblem(await post(body), 400);
	assert.equal(p.errors[0].rule, 'used');
	// the empty ID (OpenSSL's default) and another key's signature: refused
	const c2 = await challenge();
	p = await expectProblem(await post({ certificate: cert.pem, challenge: c2, signature: sign('sm2.key', c2, false) }), 401);
	assert.match(p.detail, /1234567812345678/);
	const c3 = await challenge();
	await expectProblem(await post({ certificate: cert.pem, challenge: c3, signature: sign('other.key', c3) }), 401);
	// a forged challenge
	p = await expectProblem(await post({ certificate: cert.pem, challenge: c3.replace(/.$/, (x) => (x === 'a' ? 'b' : 'a')), signature: sign('sm2.key', c3) }), 400);
	assert.equal(p.errors[0].field, 'challenge');
	// a certificate without an account signs nobody in
	const orphan = await expectJson(
		await op.post('/api/v1/pki/certs', { json: { ca: 'city', profile: 'user', csr: readFileSync(join(dir, 'sm2.csr'), 'utf8') } }),
		201
	);
	const c4 = await challenge();
	p = await expectProblem(await post({ certificate: orphan.pem, challenge: c4, signature: sign('sm2.key', c4) }), 401);
	assert.match(p.detail, /no account/);
});

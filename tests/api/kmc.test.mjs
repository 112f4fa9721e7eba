// The key management centre through HTTP, checked by the openssl CLI: a civil servant's SM2 signing
// key and request are made by openssl and certified by the CA operator; the KMC operator has the
// encryption key pair of the dual certificate made, archived and certified under user-enc — `openssl
// verify` accepts the encryption certificate under the city CA — and its envelope (GB/T 35276
// SM2EnvelopedKey, DER) is opened by openssl alone: `pkeyutl -decrypt` with the holder's signing key
// gives the SM4 key, `enc -sm4-ecb` the private scalar, and `pkey -pubout` of that scalar (with no
// public key given, so openssl computes d·G) is the certificate's public key. Signing keys are never
// escrowed. Recovery: one approval is refused (409 with the rule), an approver approving twice (422) and
// a requester approving their own request (422) are refused, two approvers — one through the KMC's
// route, one through the flow engine's own command — approve, the key is released once in an envelope
// to the holder's new certificate (opened again by openssl), and an approver's no closes a request.
// Data keys: created, rotated, listed without material; the KEK file apart from the CA's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const PW = 'Yizhan@2026';
const ID = '1234567812345678';
let srv;
let dir;
const as = {};
const S = {}; // what the tests hand on to each other

function openssl(args, { ok = true } = {}) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
	if (ok && r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
	return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
}

// ---- a minimal DER reader and writer (enough for SM2EnvelopedKey and SEC1) ----

function tlv(buf, at = 0) {
	const tag = buf[at];
	let len = buf[at + 1];
	let hl = 2;
	if (len & 0x80) {
		const n = len & 0x7f;
		len = 0;
		for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i];
		hl += n;
	}
	return { tag, start: at, body: at + hl, end: at + hl + len, bytes: buf.subarray(at, at + hl + len), value: buf.subarray(at + hl, at + hl + len) };
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

// Open an envelope with openssl only: the holder's key file decrypts the SM4 key, SM4-ECB the scalar;
// a SEC1 key of that scalar alone (no public key) gives openssl's own d·G. Returns the SPKI PEM it
// computes, and the public key the envelope encloses (04 || x || y).
function openEnvelope(b64, keyFile, name) {
	const env = Buffer.from(b64, 'base64');
	const top = tlv(env);
	assert.equal(top.tag, 0x30);
	assert.equal(top.end, env.length, 'nothing after the SEQUENCE');
	const [alg, cipher, pub, encd] = children(env, top);
	assert.equal(alg.tag, 0x30);
	assert.deepEqual([...alg.value], [0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x68, 0x01], 'symAlgID sm4-ecb');
	assert.equal(cipher.tag, 0x30, 'symEncryptedKey is an SM2Cipher SEQUENCE');
	assert.equal(pub.tag, 0x03);
	assert.equal(pub.value.length, 66);
	assert.equal(encd.tag, 0x03);
	assert.equal(encd.value.length, 33);
	writeFileSync(join(dir, `${name}.env.der`), env);
	const parsed = openssl(['asn1parse', '-inform', 'DER', '-in', `${name}.env.der`]).out;
	assert.match(parsed, /1\.2\.156\.10197\.1\.104\.1|sm4-ecb/i);
	writeFileSync(join(dir, `${name}.sym.ct`), cipher.bytes);
	openssl(['pkeyutl', '-decrypt', '-inkey', keyFile, '-in', `${name}.sym.ct`, '-out', `${name}.sym`]);
	const sym = readFileSync(join(dir, `${name}.sym`));
	assert.equal(sym.length, 16, 'an SM4 key');
	writeFileSync(join(dir, `${name}.encd`), encd.value.subarray(1));
	openssl(['enc', '-d', '-sm4-ecb', '-nopad', '-K', sym.toString('hex'), '-in', `${name}.encd`, '-out', `${name}.d`]);
	const d = readFileSync(join(dir, `${name}.d`));
	assert.equal(d.length, 32);
	// ECPrivateKey ::= SEQUENCE { 1, d, [0] sm2 curve } — no publicKey: openssl computes it
	const sm2curve = Buffer.from([0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d]);
	const sec1 = der(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x01]), der(0x04, d), der(0xa0, sm2curve)]));
	writeFileSync(join(dir, `${name}.sec1.der`), sec1);
	const spki = openssl(['pkey', '-inform', 'DER', '-in', `${name}.sec1.der`, '-pubout']).out;
	return { spki, enclosed: pub.value.subarray(1) };
}

function certPublicKey(pemFile) {
	return openssl(['x509', '-in', pemFile, '-pubkey', '-noout']).out;
}

before(async () => {
	srv = await startServer({ backend });
	dir = mkdtempSync(join(tmpdir(), 'yizhan-kmc-'));
	for (const c of ['root', 'city']) {
		const res = await fetch(`${srv.url}/pki/ca/${c}.pem`);
		assert.equal(res.status, 200);
		writeFileSync(join(dir, `${c}.pem`), await res.text());
	}
	for (const k of ['holder', 'holder2', 'stranger']) openssl(['genpkey', '-algorithm', 'SM2', '-out', `${k}.key`]);
	for (const k of ['holder', 'holder2'])
		openssl(['req', '-new', '-key', `${k}.key`, '-utf8', '-subj', '/CN=陈静', '-sm3', '-sigopt', `distid:${ID}`, '-out', `${k}.csr`]);
	for (const login of ['zhaomin.ca', 'fangqing.kmc', 'luowei.dsjj', 'zhoumin.bgt', 'tianjing.gaj']) as[login] = await signIn(srv.url, login, PW);
	as.secadmin = await signIn(srv.url, ...DEMO.secadmin);
	as.auditor = await signIn(srv.url, ...DEMO.auditor);
	as.citizen = await signIn(srv.url, ...DEMO.citizen);
	// the holder's signing certificate, from a request openssl made
	const issue = async (csr) =>
		expectJson(
			await as['zhaomin.ca'].post('/api/v1/pki/certs', {
				json: {
					ca: 'city',
					profile: 'user',
					csr: readFileSync(join(dir, csr), 'utf8'),
					o: '贵阳市发展和改革委员会',
					id_number: '11010519491231002X',
					email: 'chenjing.fgw@example.gov.cn',
				},
			}),
			201
		);
	S.sign = await issue('holder.csr');
	S.sign2 = await issue('holder2.csr');
});

after(async () => {
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

test(`an encryption key pair for the holder of a signing certificate, opened by openssl (${backend})`, async () => {
	const op = as['fangqing.kmc'];
	const res = await op.post('/api/v1/pki/kmc/enc-keys', { json: { ca: 'city', serial: S.sign.serial } });
	const out = await expectJson(res, 201);
	assert.equal(res.headers.get('cache-control'), 'no-store');
	const cert = out.certificate;
	assert.equal(cert.profile, 'user-enc');
	assert.equal(cert.cn, '陈静');
	assert.equal(cert.id_number, '11010519491231002X');
	assert.deepEqual(out.recipient, { ca: 'city', serial: S.sign.serial });
	assert.match(out.envelope_format, /GB\/T 35276 SM2EnvelopedKey/);
	assert.equal(out.key_id, cert.key_id);
	S.enc = cert;
	writeFileSync(join(dir, 'enc.pem'), cert.pem);
	// under the city CA, with the standard SM2 ID; an encryption certificate, no signing key usage
	assert.match(openssl(['verify', '-vfyopt', `distid:${ID}`, '-partial_chain', '-CAfile', 'city.pem', 'enc.pem']).out, /enc.pem: OK/);
	const ku = openssl(['x509', '-in', 'enc.pem', '-noout', '-ext', 'keyUsage,subjectAltName']).out;
	assert.match(ku, /Key Encipherment/);
	assert.doesNotMatch(ku, /Digital Signature|Non Repudiation/);
	assert.match(ku, /chenjing.fgw@example.gov.cn/);
	const subj = openssl(['x509', '-in', 'enc.pem', '-noout', '-subject', '-nameopt', 'utf8']).out;
	assert.match(subj, /贵阳市发展和改革委员会/);
	// the envelope: opened with the holder's signing key by openssl alone, to the certified key
	const { spki, enclosed } = openEnvelope(out.envelope, 'holder.key', 'issued');
	assert.equal(spki, certPublicKey('enc.pem'), 'the delivered private key belongs to the encryption certificate');
	const certDer = Buffer.from(
		certPublicKey('enc.pem')
			.replace(/-----[^-]+-----/g, '')
			.replace(/\s+/g, ''),
		'base64'
	);
	assert.ok(certDer.subarray(certDer.length - 65).equals(enclosed), 'Sm2PublicKey is the certificate key');
	// another key cannot open it
	writeFileSync(join(dir, 'issued.sym.ct2'), readFileSync(join(dir, 'issued.sym.ct')));
	const wrong = openssl(['pkeyutl', '-decrypt', '-inkey', 'stranger.key', '-in', 'issued.sym.ct2', '-out', 'x'], { ok: false });
	assert.notEqual(wrong.code, 0);
	// archived, without key material in the listing
	const list = await expectJson(await op.get(`/api/v1/pki/kmc/enc-keys?serial=${S.sign.serial}`), 200);
	assert.equal(list.items.length, 1);
	assert.equal(list.items[0].serial, cert.serial);
	assert.doesNotMatch(JSON.stringify(list), /PRIVATE|sealed/i);
});

test(`signing keys are never escrowed; rights and bad input (${backend})`, async () => {
	const op = as['fangqing.kmc'];
	let p = await expectProblem(await op.post('/api/v1/pki/kmc/enc-keys', { json: { ca: 'city', serial: S.sign.serial, profile: 'user' } }), 422);
	assert.equal(p.errors[0].field, 'profile');
	assert.equal(p.errors[0].rule, 'no-signing-key-escrow');
	assert.match(p.detail, /never escrowed/);
	// an encryption certificate is no one's signing certificate
	p = await expectProblem(await op.post('/api/v1/pki/kmc/enc-keys', { json: { ca: 'city', serial: S.enc.serial } }), 400);
	assert.equal(p.errors[0].rule, 'signing-certificate');
	p = await expectProblem(await op.post('/api/v1/pki/kmc/enc-keys', { json: { ca: 'city', serial: 'ABCDEF' } }), 400);
	assert.equal(p.errors[0].field, 'serial');
	p = await expectProblem(await op.post('/api/v1/pki/kmc/enc-keys', { json: { ca: 'city' } }), 400);
	assert.equal(p.errors[0].field, 'serial');
	// the CA operator, approvers and citizens do not run the KMC
	await expectProblem(await as['zhaomin.ca'].post('/api/v1/pki/kmc/enc-keys', { json: { ca: 'city', serial: S.sign.serial } }), 403);
	await expectProblem(await as['luowei.dsjj'].post('/api/v1/pki/kmc/data-keys', { json: { purpose: 'x' } }), 403);
	await expectProblem(await as.citizen.get('/api/v1/pki/kmc/recoveries'), 403);
	await expectProblem(await new Client(srv.url).get('/api/v1/pki/kmc/data-keys'), 401);
});

test(`recovery: two of three approvers, not the requester, released once (${backend})`, async () => {
	const op = as['fangqing.kmc'];
	const body = {
		ca: 'city',
		serial: S.enc.serial,
		reason: '持有人 USBKey 丢失，需解密归档的历史公文',
		recipient_ca: 'city',
		recipient_serial: S.sign2.serial,
	};
	const created = await op.post('/api/v1/pki/kmc/recoveries', { json: body });
	let r = await expectJson(created, 201);
	assert.equal(created.headers.get('location'), `/api/v1/pki/kmc/recoveries/${r.id}`);
	assert.equal(r.status, 'open');
	assert.equal(r.needed, 2);
	assert.equal(r.requester.login, 'fangqing.kmc');
	assert.equal(r.key.serial, S.enc.serial);
	const id = r.id;
	// the approvers find it in their work inbox: it is a flow of the flow engine
	const box = await expectJson(await as['zhoumin.bgt'].get('/api/v1/inbox?box=todo'), 200);
	assert.ok(JSON.stringify(box).includes(String(r.instance_id)), 'the approver has the task');
	// the requester holds no approver right here
	await expectProblem(await op.post(`/api/v1/pki/kmc/recoveries/${id}/approve`, { json: {} }), 403);
	// one approval: not enough
	r = await expectJson(await as['luowei.dsjj'].post(`/api/v1/pki/kmc/recoveries/${id}/approve`, { json: { comment: '已核实身份' } }), 200);
	assert.equal(r.status, 'open');
	assert.equal(r.approved_by, 1);
	let p = await expectProblem(await op.post(`/api/v1/pki/kmc/recoveries/${id}/release`, { json: {} }), 409);
	assert.equal(p.errors[0].rule, 'quorum');
	assert.equal(p.errors[0].got, '1 approval');
	assert.match(p.detail, /2 approvals/);
	// the same approver again does not count twice
	p = await expectProblem(await as['luowei.dsjj'].post(`/api/v1/pki/kmc/recoveries/${id}/approve`, { json: {} }), 422);
	assert.equal(p.errors[0].rule, 'distinct');
	// the second approver through the flow engine's own command: the KMC's rules hold there too
	const inst = await expectJson(await as['zhoumin.bgt'].get(`/api/v1/flow-instances/${r.instance_id}`), 200);
	const task = inst.tasks.find((t) => t.status === 'active' && t.mine);
	assert.ok(task, 'an open approver task');
	const done = await expectJson(
		await as['zhoumin.bgt'].post(`/api/v1/flow-instances/${r.instance_id}/commands/complete`, { json: { task: task.id, outcome: 'approve' } }),
		200
	);
	assert.equal(done.status, 'closed');
	assert.equal(done.outcome, 'approved');
	r = await expectJson(await op.get(`/api/v1/pki/kmc/recoveries/${id}`), 200);
	assert.equal(r.status, 'approved');
	assert.deepEqual(r.approvals.map((a) => a.login).sort(), ['luowei.dsjj', 'zhoumin.bgt']);
	// too late for the third; approvers do not release
	await expectProblem(await as['tianjing.gaj'].post(`/api/v1/pki/kmc/recoveries/${id}/approve`, { json: {} }), 409);
	await expectProblem(await as['luowei.dsjj'].post(`/api/v1/pki/kmc/recoveries/${id}/release`, { json: {} }), 403);
	// released once, in an envelope to the new certificate; openssl opens it with the new key
	const rel = await op.post(`/api/v1/pki/kmc/recoveries/${id}/release`, { json: {} });
	const out = await expectJson(rel, 200);
	assert.equal(rel.headers.get('cache-control'), 'no-store');
	assert.deepEqual(out.recipient, { ca: 'city', serial: S.sign2.serial });
	const { spki } = openEnvelope(out.envelope, 'holder2.key', 'recovered');
	assert.equal(spki, certPublicKey('enc.pem'), 'the recovered key is the archived encryption key');
	assert.equal(readFileSync(join(dir, 'recovered.d')).toString('hex'), readFileSync(join(dir, 'issued.d')).toString('hex'));
	// the old signing key cannot open the recovery envelope
	assert.notEqual(openssl(['pkeyutl', '-decrypt', '-inkey', 'holder.key', '-in', 'recovered.sym.ct', '-out', 'x'], { ok: false }).code, 0);
	p = await expectProblem(await op.post(`/api/v1/pki/kmc/recoveries/${id}/release`, { json: {} }), 409);
	assert.match(p.detail, /released once/);
	r = await expectJson(await as['tianjing.gaj'].get(`/api/v1/pki/kmc/recoveries/${id}`), 200);
	assert.equal(r.status, 'released');
	assert.equal(r.released_by, 'fangqing.kmc');
	// every step audited
	for (const action of ['pki.kmc.recovery.request', 'pki.kmc.recovery.approve', 'pki.kmc.recovery.approved', 'pki.kmc.recovery.release']) {
		const a = await expectJson(await as.auditor.get(`/api/v1/audit?action=${action}`), 200);
		assert.ok(
			a.items.some((x) => x.object === `kmc_recovery:${id}`),
			`audit ${action}`
		);
	}
	S.body = body;
});

test(`the requester cannot approve their own request; an approver's no closes it (${backend})`, async () => {
	// 罗伟 also becomes a KMC operator: the rule, not the roles, keeps him from approving himself
	const users = await expectJson(await as.secadmin.get('/api/v1/users?q=luowei.dsjj'), 200);
	const u = users.items.find((x) => x.login === 'luowei.dsjj');
	await expectJson(
		await as.secadmin.put(`/api/v1/users/${u.id}/roles`, {
			json: {
				roles: [
					{ role: 'kmc_approver', scope: '520100' },
					{ role: 'kmc_operator', scope: '520100' },
				],
			},
		}),
		200
	);
	const luo = await signIn(srv.url, 'luowei.dsjj', PW);
	const r = await expectJson(await luo.post('/api/v1/pki/kmc/recoveries', { json: S.body }), 201);
	let p = await expectProblem(await luo.post(`/api/v1/pki/kmc/recoveries/${r.id}/approve`, { json: {} }), 422);
	assert.equal(p.errors[0].rule, 'not-requester');
	assert.match(p.detail, /requester/);
	p = await expectProblem(await as['tianjing.gaj'].post(`/api/v1/pki/kmc/recoveries/${r.id}/refuse`, { json: {} }), 400);
	assert.equal(p.errors[0].field, 'reason');
	const refused = await expectJson(await as['tianjing.gaj'].post(`/api/v1/pki/kmc/recoveries/${r.id}/refuse`, { json: { reason: '申请理由不充分' } }), 200);
	assert.equal(refused.status, 'refused');
	await expectProblem(await luo.post(`/api/v1/pki/kmc/recoveries/${r.id}/release`, { json: {} }), 409);
	await expectProblem(await as['zhoumin.bgt'].post(`/api/v1/pki/kmc/recoveries/${r.id}/approve`, { json: {} }), 409);
	const list = await expectJson(await luo.get('/api/v1/pki/kmc/recoveries?status=refused'), 200);
	assert.deepEqual(
		list.items.map((x) => x.id),
		[r.id]
	);
	// what cannot be asked for: a key that is not archived, a recipient that is not valid
	p = await expectProblem(await luo.post('/api/v1/pki/kmc/recoveries', { json: { ...S.body, serial: S.sign.serial } }), 400);
	assert.equal(p.errors[0].rule, 'archived');
	await expectJson(await as['zhaomin.ca'].post(`/api/v1/pki/certs/city/${S.sign.serial}/revoke`, { json: { reason: 'keyCompromise' } }), 200);
	p = await expectProblem(await luo.post('/api/v1/pki/kmc/recoveries', { json: { ...S.body, recipient_serial: S.sign.serial } }), 400);
	assert.equal(p.errors[0].field, 'recipient_serial');
	assert.equal(p.errors[0].rule, 'valid');
	await expectProblem(await luo.get('/api/v1/pki/kmc/recoveries/999999'), 404);
});

test(`data keys: created, rotated, listed without material; the KMC's own KEK (${backend})`, async () => {
	const op = as['fangqing.kmc'];
	const res = await op.post('/api/v1/pki/kmc/data-keys', { json: { purpose: 'registry.person.id_number' } });
	const k = await expectJson(res, 201);
	assert.match(k.key_id, /^dk-[0-9a-f]{16}$/);
	assert.equal(k.version, 1);
	assert.equal(res.headers.get('location'), `/api/v1/pki/kmc/data-keys/${k.key_id}`);
	const rot = await expectJson(await op.post(`/api/v1/pki/kmc/data-keys/${k.key_id}/rotate`, { json: {} }), 200);
	assert.equal(rot.version, 2);
	const list = await expectJson(await op.get('/api/v1/pki/kmc/data-keys'), 200);
	const item = list.items.find((x) => x.key_id === k.key_id);
	assert.equal(item.purpose, 'registry.person.id_number');
	assert.equal(item.version, 2);
	assert.deepEqual(
		item.versions.map((v) => v.version),
		[1, 2]
	);
	assert.deepEqual(Object.keys(item).sort(), ['created_at', 'key_id', 'purpose', 'version', 'versions']);
	const p = await expectProblem(await op.post('/api/v1/pki/kmc/data-keys', { json: { purpose: 'Not Allowed!' } }), 400);
	assert.equal(p.errors[0].field, 'purpose');
	await expectProblem(await op.post('/api/v1/pki/kmc/data-keys/dk-0000000000000000/rotate', { json: {} }), 404);
	// keys/kmc.kek: 48 bytes, 0600, not the CA's key-encryption key
	const kek = join(srv.dataDir, 'keys', 'kmc.kek');
	const st = statSync(kek);
	assert.equal(st.size, 48);
	assert.equal(st.mode & 0o777, 0o600);
	assert.ok(!readFileSync(kek).equals(readFileSync(join(srv.dataDir, 'keys', 'pki.kek'))));
	const a = await expectJson(await as.auditor.get('/api/v1/audit?action=pki.kmc.datakey.rotate'), 200);
	assert.ok(a.items.some((x) => x.object === `kmc_data_key:${k.key_id}`));
});

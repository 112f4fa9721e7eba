// The certificate request as a flow (packs/demo-city/flows/pki.cert-request.json): the acceptance
// point registers the applicant, the evidence and a PKCS#10 request made by openssl; the RA approves;
// the CA operator issues, and the certificate is made in the same transaction as that step; the holder
// finds it among their own certificates and downloads it, and `openssl verify` accepts it under the city
// CA. A request the CA cannot issue (an SM2 request signed with the empty ID) fails the CA's step with
// the form's field named, and the operator refuses it with a reason instead.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './lib/server.mjs';
import { DEMO, expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const PW = 'Yizhan@2026';
let srv;
let dir;
const as = {};

function openssl(args) {
	const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
	if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stdout}${r.stderr}`);
	return r.stdout + r.stderr;
}

before(async () => {
	srv = await startServer({ backend });
	dir = mkdtempSync(join(tmpdir(), 'yizhan-ra-'));
	openssl(['genpkey', '-algorithm', 'SM2', '-out', 'holder.key']);
	openssl(['req', '-new', '-key', 'holder.key', '-utf8', '-subj', '/CN=陈静', '-sm3', '-sigopt', 'distid:1234567812345678', '-out', 'good.csr']);
	openssl(['req', '-new', '-key', 'holder.key', '-utf8', '-subj', '/CN=陈静', '-sm3', '-out', 'noid.csr']);
	for (const login of ['sunli.zwfw', 'qianhao.ra', 'zhaomin.ca']) as[login] = await signIn(srv.url, login, PW);
	as.holder = await signIn(srv.url, ...DEMO.clerkFgw);
});

after(async () => {
	await srv?.cleanup();
	if (dir) rmSync(dir, { recursive: true, force: true });
});

function request(csrFile) {
	return {
		title: '陈静 个人证书申请',
		data: {
			holder: 'chenjing.fgw',
			cn: '陈静',
			profile: 'user',
			o: '贵阳市发展和改革委员会',
			id_number: '11010519491231002X',
			email: 'chenjing.fgw@example.gov.cn',
			csr: readFileSync(join(dir, csrFile), 'utf8'),
			evidence: '核验居民身份证原件一致；单位介绍信编号 发改〔2026〕12 号。',
		},
	};
}

const taskAt = (inst, step) => inst.tasks.find((t) => t.step === step && t.status === 'active');
async function complete(who, inst, step, body) {
	const t = taskAt(inst, step);
	assert.ok(t, `no open task ${step}`);
	return who.post(`/api/v1/flow-instances/${inst.id}/commands/complete`, { json: { task: t.id, ...body } });
}

test(`acceptance point → RA → CA → the holder downloads (${backend})`, async () => {
	let inst = await expectJson(await as['sunli.zwfw'].post('/api/v1/flows/pki.cert-request/instances', { json: request('good.csr') }), 201);
	// only the acceptance point may register requests
	await expectProblem(await as.holder.post('/api/v1/flows/pki.cert-request/instances', { json: request('good.csr') }), 403);
	const box = await expectJson(await as['qianhao.ra'].get('/api/v1/inbox?box=todo'), 200);
	assert.ok(box.items.some((x) => x.instance_id === inst.id || x.instance?.id === inst.id || x.id === inst.id), 'the RA sees the request');
	inst = await expectJson(await complete(as['qianhao.ra'], inst, 'review', { outcome: 'approve' }), 200);
	assert.ok(taskAt(inst, 'issue'), 'the request goes to the CA');
	inst = await expectJson(await complete(as['zhaomin.ca'], inst, 'issue', { outcome: 'issue' }), 200);
	assert.equal(inst.status, 'closed');
	assert.equal(inst.outcome, 'issued');

	const mine = await expectJson(await as.holder.get('/api/v1/pki/mine'), 200);
	assert.equal(mine.items.length, 1);
	const cert = mine.items[0];
	assert.equal(cert.cn, '陈静');
	assert.equal(cert.profile, 'user');
	assert.equal(cert.status, 'valid');
	const der = await as.holder.get(`/api/v1/pki/mine/${cert.ca}/${cert.serial}.crt`);
	assert.equal(der.status, 200);
	writeFileSync(join(dir, 'holder.der'), Buffer.from(await der.arrayBuffer()));
	openssl(['x509', '-inform', 'DER', '-in', 'holder.der', '-out', 'holder.pem']);
	const city = await fetch(srv.url + '/pki/ca/city.pem');
	writeFileSync(join(dir, 'city.pem'), await city.text());
	assert.match(openssl(['verify', '-vfyopt', 'distid:1234567812345678', '-partial_chain', '-CAfile', 'city.pem', 'holder.pem']), /holder.pem: OK/);
	// the certificate holds the holder's key
	const pub1 = openssl(['pkey', '-in', 'holder.key', '-pubout']);
	const pub2 = openssl(['x509', '-in', 'holder.pem', '-noout', '-pubkey']);
	assert.equal(pub1.trim(), pub2.trim());
	// nobody else gets it as theirs
	const other = await signIn(srv.url, ...DEMO.deptAdminFgw);
	await expectProblem(await other.get(`/api/v1/pki/mine/${cert.ca}/${cert.serial}.crt`), 404);
	assert.equal((await expectJson(await other.get('/api/v1/pki/mine'), 200)).items.length, 0);
	// the audit chain has the issuance by the CA operator
	const auditor = await signIn(srv.url, ...DEMO.auditor);
	const a = await expectJson(await auditor.get('/api/v1/audit?action=pki.cert.issue'), 200);
	assert.ok(a.items.some((r) => r.object === `pki_cert:${cert.ca}/${cert.serial}` && r.actor === 'zhaomin.ca'));
});

test(`a request the CA cannot issue fails the step, naming the field (${backend})`, async () => {
	let inst = await expectJson(await as['sunli.zwfw'].post('/api/v1/flows/pki.cert-request/instances', { json: request('noid.csr') }), 201);
	inst = await expectJson(await complete(as['qianhao.ra'], inst, 'review', { outcome: 'approve' }), 200);
	const p = await expectProblem(await complete(as['zhaomin.ca'], inst, 'issue', { outcome: 'issue' }), 400);
	assert.equal(p.errors[0].field, 'csr');
	assert.equal(p.errors[0].rule, 'signature');
	// nothing was issued and the task is still open; the operator refuses with a reason
	const again = await expectJson(await as['zhaomin.ca'].get(`/api/v1/flow-instances/${inst.id}`), 200);
	assert.ok(taskAt(again, 'issue'));
	const refused = await expectJson(
		await complete(as['zhaomin.ca'], again, 'issue', { outcome: 'refuse', comment: 'SM2 证书请求未使用标准用户标识，请申请人重新生成' }),
		200
	);
	assert.equal(refused.outcome, 'rejected');
	assert.equal((await expectJson(await as.holder.get('/api/v1/pki/mine'), 200)).items.length, 1, 'still the one certificate');
});

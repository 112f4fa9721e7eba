// Durability: kill -9 in the middle of write load loses no acknowledged write. Twelve concurrent loops
// create organisations under the city (admin session) and record the id of every 201; once at least
// 200 are acknowledged the server gets SIGKILL while requests are still in flight. After a restart every
// acknowledged org must be readable with its code, its iam.org.create audit record must be there, and
// `yizhan audit verify` must still pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runCli } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, dataArgs, expectJson, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const LOOPS = 12;
const KILL_AFTER = 200; // acknowledgements
const MAX_REQUESTS = 5000; // a bound on the load whatever happens
const MAX_MS = 60_000;
let srv;

before(async () => {
	srv = await startServer({ backend });
});

after(async () => {
	await srv?.cleanup();
});

test(`kill -9 under write load loses no acknowledged write (${backend})`, async (t) => {
	const admin = await signIn(srv.url, ...DEMO.admin);
	const city = (await expectJson(await admin.get('/api/v1/orgs?kind=city'), 200)).items[0];
	assert.equal(city.code, '520100');

	const acked = []; // {id, code}
	const failures = []; // unexpected answers while the server was up
	let sent = 0;
	let killed = null;
	const t0 = Date.now();

	async function loop(n) {
		for (let i = 0; ; i++) {
			if (killed || sent >= MAX_REQUESTS || Date.now() - t0 > MAX_MS) return;
			sent++;
			const code = `dur-${n}-${i}`;
			let res, body;
			try {
				res = await admin.post('/api/v1/orgs', {
					json: { code, name: `耐久测试机构 ${n}-${i}`, kind: 'unit', parent_id: city.id },
				});
				body = await res.text();
			} catch {
				// the connection died: only possible once the server is killed
				if (!killed) failures.push(`${code}: connection failed before the kill`);
				return;
			}
			if (res.status !== 201) {
				failures.push(`${code}: ${res.status} ${body.slice(0, 200)}`);
				return;
			}
			const o = JSON.parse(body);
			acked.push({ id: o.id, code: o.code, sent: code });
			if (acked.length >= KILL_AFTER && !killed) killed = srv.kill9();
		}
	}
	await Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n)));
	assert.deepEqual(failures, []);
	assert.ok(killed, `the server was never killed: ${acked.length} acknowledged of ${sent} sent in ${Date.now() - t0} ms`);
	const k = await killed;
	assert.equal(k.signal, 'SIGKILL');
	assert.ok(acked.length >= KILL_AFTER);
	for (const a of acked) assert.equal(a.code, a.sent);
	t.diagnostic(`${acked.length} acknowledged of ${sent} sent by ${LOOPS} loops when killed`);

	await srv.restart();
	const after = await signIn(srv.url, ...DEMO.admin);
	// every acknowledged org is there, with its code
	const missing = [];
	for (let i = 0; i < acked.length; i += 16) {
		await Promise.all(
			acked.slice(i, i + 16).map(async (a) => {
				const res = await after.get(`/api/v1/orgs/${a.id}`);
				const text = await res.text();
				if (res.status !== 200) missing.push(`${a.code} (id ${a.id}): ${res.status}`);
				else if (JSON.parse(text).code !== a.code) missing.push(`${a.code} (id ${a.id}): code ${JSON.parse(text).code}`);
			})
		);
	}
	assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged orgs lost`);

	// and each has its audit record (same transaction as the change)
	const auditor = await signIn(srv.url, ...DEMO.auditor);
	const audited = new Set();
	let cursor = null;
	do {
		const r = await expectJson(
			await auditor.get(`/api/v1/audit?action=iam.org.create&limit=200${cursor ? '&before=' + cursor : ''}`),
			200
		);
		for (const x of r.items) audited.add(x.object);
		cursor = r.next;
	} while (cursor !== null);
	const unaudited = acked.filter((a) => !audited.has(`org:${a.id}`)).map((a) => a.code);
	assert.deepEqual(unaudited, [], 'acknowledged orgs without an audit record');

	// the server still takes writes after the crash
	const more = await after.post('/api/v1/orgs', { json: { code: 'dur-after', name: '重启之后', kind: 'unit', parent_id: city.id } });
	assert.equal(more.status, 201, await more.text());

	const stopped = await srv.stop();
	assert.equal(stopped.code, 0, srv.stderr());
	const v = await runCli(['audit', 'verify', ...dataArgs(srv)]);
	assert.equal(v.code, 0, `audit verify after kill -9: exit ${v.code}\n${v.stdout}${v.stderr}`);
	assert.match(v.stdout, /audit chain sound/);
});

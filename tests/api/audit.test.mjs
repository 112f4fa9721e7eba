// The audit chain over the API and the CLI: the changes and sign-ins of this file appear with their
// action names; filters (action prefix, object, actor) and paging with the `before` cursor; a scoped
// reader sees only their subtree; /api/v1/audit/verify; and `yizhan audit verify` exits 0 on a sound
// chain and 1, naming the record, after a row is edited or deleted directly in the database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runCli } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, dataArgs, expectJson, expectProblem, signIn, sql } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
let srv;
let admin, auditor;
const S = {};

before(async () => {
	srv = await startServer({ backend });
	[admin, auditor] = await Promise.all([signIn(srv.url, ...DEMO.admin), signIn(srv.url, ...DEMO.auditor)]);
	const { items } = await expectJson(await admin.get('/api/v1/orgs?q=南明区'), 200);
	S.nm = items.find((o) => o.code === '520102');
	S.fgw = (await expectJson(await admin.get('/api/v1/orgs?q=发展和改革'), 200)).items.find((o) => o.code === '520100-fgw');
	assert.ok(S.nm && S.fgw);
});

after(async () => {
	await srv?.cleanup();
});

async function audit(client, query) {
	return expectJson(await client.get(`/api/v1/audit?${query}`), 200, `audit ${query}`);
}

// All records the auditor sees, newest first, by following the cursor.
async function everything(query = '') {
	const all = [];
	let before = '';
	for (let page = 0; page < 1000; page++) {
		const r = await audit(auditor, `limit=200${query ? '&' + query : ''}${before ? '&before=' + before : ''}`);
		all.push(...r.items);
		if (r.next === null) return all;
		before = r.next;
	}
	throw new Error('the cursor never ended');
}

function attempt(login, password) {
	return new Client(srv.url).post('/api/v1/session', { json: { login, password } });
}

test(`changes and sign-ins appear in the audit log with their action names (${backend})`, async () => {
	// a user, an org, a failed sign-in of an unknown login, a lockout, a sign-in, a sign-out
	const u = await expectJson(
		await admin.post('/api/v1/users', {
			json: { login: 'audit.subject', name: '审计对象', kind: 'civil_servant', org_id: S.fgw.id, password: 'Shenji#2026x' },
		}),
		201
	);
	S.user = u;
	const o = await expectJson(
		await admin.post('/api/v1/orgs', { json: { code: '520102-audit', name: '南明区审计测试局', kind: 'department', parent_id: S.nm.id } }),
		201
	);
	S.org = o;
	await expectProblem(await attempt('no.such.user', 'Whatever#2026'), 401);
	for (let i = 0; i < 4; i++) await expectProblem(await attempt('audit.subject', `Wrong#2026-${i}`), 401);
	await expectProblem(await attempt('audit.subject', 'Wrong#2026-4'), 423);
	const unlock = await admin.post(`/api/v1/users/${u.id}/unlock`);
	assert.equal(unlock.status, 204, await unlock.text());
	await signIn(srv.url, 'audit.subject', 'Shenji#2026x');

	const byObject = async (object) => (await audit(auditor, `object=${encodeURIComponent(object)}&limit=200`)).items;
	const userRecs = await byObject(`user:${u.id}`);
	const actions = userRecs.map((x) => x.action).reverse(); // oldest first
	assert.deepEqual(actions, [
		'iam.user.create',
		'iam.login.failed',
		'iam.login.failed',
		'iam.login.failed',
		'iam.login.failed',
		'iam.login.failed',
		'iam.user.locked',
		'iam.user.unlock',
		'iam.login',
	]);
	const create = userRecs.find((x) => x.action === 'iam.user.create');
	assert.equal(create.actor, 'admin');
	assert.equal(create.change.password, '[redacted]');
	const locked = userRecs.find((x) => x.action === 'iam.user.locked');
	assert.deepEqual(locked.change, { failures: 5, minutes: 15 });
	assert.equal(locked.actor, 'audit.subject');
	for (const x of userRecs) {
		assert.equal(x.org_path, S.fgw.path, `${x.action} org_path`);
		assert.match(x.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
		assert.equal(x.ip, '127.0.0.1');
		assert.ok(x.request_id);
	}

	const orgRecs = await byObject(`org:${o.id}`);
	assert.deepEqual(
		orgRecs.map((x) => [x.action, x.actor]),
		[['iam.org.create', 'admin']]
	);
	assert.equal(orgRecs[0].change.code, '520102-audit');
	assert.equal(orgRecs[0].org_path, o.path);

	const unknown = await byObject('login:no.such.user');
	assert.deepEqual(
		unknown.map((x) => [x.action, x.actor]),
		[['iam.login.failed', 'anonymous']]
	);
});

test('sign-out is audited (iam.logout)', async () => {
	const c = await signIn(srv.url, 'audit.subject', 'Shenji#2026x');
	const before = (await audit(auditor, `object=user:${S.user.id}&action=iam.logout`)).items.length;
	const out = await c.del('/api/v1/session');
	assert.equal(out.status, 204);
	const { items } = await audit(auditor, `object=user:${S.user.id}&action=iam.log`);
	assert.equal(items[0].action, 'iam.logout', `newest records: ${JSON.stringify(items.slice(0, 3).map((x) => x.action))}`);
	assert.equal(items[0].actor, 'audit.subject');
	assert.equal(items.filter((x) => x.action === 'iam.logout').length, before + 1);
});

test('filters: action prefix, object and actor, alone and together', async () => {
	const logins = await everything('action=iam.login');
	assert.ok(logins.length >= 3);
	for (const x of logins) assert.ok(x.action.startsWith('iam.login'), x.action);
	const kinds = new Set(logins.map((x) => x.action));
	assert.deepEqual([...kinds].sort(), ['iam.login', 'iam.login.failed']);

	const locked = await everything('action=iam.user.lock');
	assert.deepEqual(
		locked.map((x) => x.object),
		[`user:${S.user.id}`]
	);
	// the prefix is a prefix, with LIKE's wildcards taken literally
	assert.deepEqual((await audit(auditor, 'action=iam_login')).items, []);
	assert.deepEqual((await audit(auditor, 'action=%25login')).items, []);
	assert.deepEqual((await audit(auditor, 'action=login')).items, []);

	const byActor = await everything('actor=admin');
	assert.ok(byActor.length >= 2);
	for (const x of byActor) assert.equal(x.actor, 'admin');
	assert.ok(byActor.some((x) => x.action === 'iam.user.create' && x.object === `user:${S.user.id}`));
	assert.ok(byActor.some((x) => x.action === 'iam.org.create' && x.object === `org:${S.org.id}`));
	// the actor is exact, not a prefix
	assert.deepEqual((await audit(auditor, 'actor=adm')).items, []);

	const both = await everything(`actor=audit.subject&action=iam.login.failed`);
	assert.equal(both.length, 5);
	for (const x of both) assert.equal(x.object, `user:${S.user.id}`);
	const three = await everything(`actor=admin&action=iam.org&object=org:${S.org.id}`);
	assert.deepEqual(
		three.map((x) => x.action),
		['iam.org.create']
	);
});

test('paging: newest first, the before cursor, and no record lost or repeated', async () => {
	const all = await everything();
	assert.ok(all.length > 190, `only ${all.length} records`);
	// the auditor's scope is the whole city: every record, dense from the newest down to 1
	assert.deepEqual(
		all.map((x) => x.seq),
		Array.from({ length: all.length }, (_, i) => all.length - i)
	);
	// small pages give the same sequence
	const small = [];
	let cursor = null;
	let pages = 0;
	do {
		const r = await audit(auditor, `limit=37${cursor ? '&before=' + cursor : ''}`);
		assert.ok(r.items.length <= 37);
		if (r.next !== null) {
			assert.equal(r.items.length, 37);
			assert.equal(r.next, r.items[36].seq);
		}
		small.push(...r.items.map((x) => x.seq));
		cursor = r.next;
		pages++;
	} while (cursor !== null && pages < 100);
	assert.deepEqual(small, all.map((x) => x.seq));
	assert.equal(pages, Math.ceil(all.length / 37));

	// before=N starts strictly below N
	const r = await audit(auditor, 'before=100&limit=3');
	assert.deepEqual(
		r.items.map((x) => x.seq),
		[99, 98, 97]
	);
	assert.equal(r.next, 97);
	const last = await audit(auditor, 'before=3&limit=5');
	assert.deepEqual(
		last.items.map((x) => x.seq),
		[2, 1]
	);
	assert.equal(last.next, null);
	// the default page is 50, the largest 200
	assert.equal((await audit(auditor, '')).items.length, 50);
	assert.equal((await audit(auditor, 'limit=100000')).items.length, 200);

	// one record by its sequence number
	const one = await expectJson(await auditor.get(`/api/v1/audit/${all[10].seq}`), 200);
	assert.deepEqual(one, all[10]);
	await expectProblem(await auditor.get(`/api/v1/audit/${all.length + 1000}`), 404);
	await expectProblem(await auditor.get('/api/v1/audit/0'), 404);
});

test('a reader scoped to a district sees only its records', async () => {
	// tangxiaoli.nm is 领导 (leader: audit.read) of 南明区
	const leader = await signIn(srv.url, 'tangxiaoli.nm', 'Yizhan@2026');
	const mine = [];
	let cursor = null;
	do {
		const r = await audit(leader, `limit=200${cursor ? '&before=' + cursor : ''}`);
		mine.push(...r.items);
		cursor = r.next;
	} while (cursor !== null);
	assert.ok(mine.length > 0);
	for (const x of mine) assert.ok(x.org_path && x.org_path.startsWith(S.nm.path), `record ${x.seq} (${x.org_path}) is outside 南明区`);
	assert.ok(mine.some((x) => x.object === `org:${S.org.id}` && x.action === 'iam.org.create'));
	assert.ok(!mine.some((x) => x.object === `user:${S.user.id}`), 'a 发改委 user is visible from 南明区');
	// the same count as the auditor's records under that path
	const all = await everything();
	assert.equal(mine.length, all.filter((x) => x.org_path && x.org_path.startsWith(S.nm.path)).length);
	// a record outside the scope is not found
	const outside = all.find((x) => x.object === `user:${S.user.id}`);
	await expectProblem(await leader.get(`/api/v1/audit/${outside.seq}`), 404);
});

test('GET /api/v1/audit/verify: the chain is sound', async () => {
	const all = await everything();
	const v = await expectJson(await auditor.get('/api/v1/audit/verify'), 200);
	assert.equal(v.ok, true, JSON.stringify(v));
	assert.ok(v.records >= all.length, `verify counted ${v.records}, the list has ${all.length}`);
	assert.ok(v.checkpoints >= 1, 'no signed checkpoint (init signs one)');
	assert.equal(v.first_bad, undefined);
});

test('yizhan audit verify: 0 when sound; 1 naming the record after an edit or a deletion', async () => {
	const stopped = await srv.stop();
	assert.equal(stopped.code, 0, srv.stderr());
	const args = ['audit', 'verify', ...dataArgs(srv)];

	let r = await runCli(args);
	assert.equal(r.code, 0, `sound chain: exit ${r.code}\n${r.stdout}${r.stderr}`);
	const m = /audit chain sound: (\d+) records, (\d+) signed checkpoints/.exec(r.stdout);
	assert.ok(m, r.stdout);
	const records = Number(m[1]);
	assert.equal(Number(sql(srv, 'SELECT COUNT(*) FROM audit_log')), records);

	// edit the action of the user's creation record
	const n = Number(sql(srv, `SELECT seq FROM audit_log WHERE object = 'user:${S.user.id}' AND action = 'iam.user.create'`));
	assert.ok(n > 1 && n < records, `record ${n}`);
	sql(srv, `UPDATE audit_log SET action = 'iam.user.read' WHERE seq = ${n}`);
	r = await runCli(args);
	assert.equal(r.code, 1, `edited action: exit ${r.code}\n${r.stdout}${r.stderr}`);
	assert.match(r.stdout, new RegExp(`BROKEN at record ${n}:`));
	assert.match(r.stdout, new RegExp(`record ${n}: its hash does not match`));
	sql(srv, `UPDATE audit_log SET action = 'iam.user.create' WHERE seq = ${n}`);
	r = await runCli(args);
	assert.equal(r.code, 0, `restored: exit ${r.code}\n${r.stdout}${r.stderr}`);

	// edit the change document of the org's creation
	const k = Number(sql(srv, `SELECT seq FROM audit_log WHERE object = 'org:${S.org.id}'`));
	const change = sql(srv, `SELECT change FROM audit_log WHERE seq = ${k}`);
	sql(srv, `UPDATE audit_log SET change = '${change.replace('南明区审计测试局', '南明区别的局').replace(/'/g, "''")}' WHERE seq = ${k}`);
	r = await runCli(args);
	assert.equal(r.code, 1, `edited change: exit ${r.code}\n${r.stdout}`);
	assert.match(r.stdout, new RegExp(`BROKEN at record ${k}: record ${k}: its change document does not match its digest`));
	sql(srv, `UPDATE audit_log SET change = '${change.replace(/'/g, "''")}' WHERE seq = ${k}`);
	assert.equal((await runCli(args)).code, 0);

	// delete a record in the middle
	const d = n + 1;
	sql(srv, `DELETE FROM audit_log WHERE seq = ${d}`);
	r = await runCli(args);
	assert.equal(r.code, 1, `deleted row: exit ${r.code}\n${r.stdout}`);
	assert.match(r.stdout, new RegExp(`BROKEN at record ${d}: record ${d} is missing`));

	// the API says the same once the server is back
	await srv.restart();
	const a = await signIn(srv.url, ...DEMO.auditor);
	const v = await expectJson(await a.get('/api/v1/audit/verify'), 200);
	assert.equal(v.ok, false);
	assert.equal(v.first_bad, d);
	assert.match(v.reason, new RegExp(`record ${d} is missing`));
});

// Flow durability: kill -9 while clerks of four departments complete tasks concurrently. After the
// restart every acknowledged transition is in its instance's timeline, every parallel join that got all
// its arrivals fired exactly once, no notification exists twice, and the deadlines that passed while
// the program was down fire before it serves again (the restart's clock is set after them), so the very
// first answer already shows them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runCli } from './lib/server.mjs';
import { DEMO, dataArgs, expectJson, signIn, sql } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const PW = 'Yizhan@2026';
const INSTANCES = 40;
const KILL_AFTER = 70; // acknowledged completions
const MAX_MS = 60_000;
let srv;

before(async () => {
	srv = await startServer({ backend, testClock: true, extraArgs: ['--test-clock-start', '2026-11-23T10:00:00+08:00'] });
});

after(async () => {
	await srv?.cleanup();
});

const PROJECT = {
	title: '耐久测试项目',
	data: { applicant: '贵阳某建设有限公司', project: '耐久测试', investment: 100, phone: '0851-85551234' },
};

test(`kill -9 while departments complete tasks: nothing acknowledged is lost, timers fire at restart (${backend})`, async () => {
	const citizen = await signIn(srv.url, ...DEMO.citizen);
	const ids = [];
	for (let i = 0; i < INSTANCES; i++)
		ids.push((await expectJson(await citizen.post('/api/v1/flows/approval.parallel3/instances', { json: PROJECT }), 201)).id);

	// each clerk works through the instances, completing its step of each when it is open
	const clerks = [
		['linfang.zwfw', 'accept', { outcome: 'accept' }],
		['chenjing.fgw', 'fgw', { data: { fgw_opinion: '同意' } }],
		['sunjian.zrzyj', 'zrzy', { data: { zrzy_opinion: '同意' } }],
		['mayan.zjj', 'zjj', { data: { zjj_opinion: '同意' } }],
	];
	const acked = []; // {id, task, step}
	const failures = [];
	let killed = null;
	const t0 = Date.now();
	async function work(login, step, body) {
		const c = await signIn(srv.url, login, PW);
		for (let round = 0; !killed && Date.now() - t0 < MAX_MS; round++) {
			let progressed = false;
			for (const id of ids) {
				if (killed) return;
				let inst;
				try {
					const r = await c.get(`/api/v1/flow-instances/${id}`);
					if (r.status !== 200) continue;
					inst = await r.json();
				} catch {
					return; // the server is gone
				}
				const t = inst.tasks.find((x) => x.step === step && x.status === 'active');
				if (!t) continue;
				let res;
				try {
					res = await c.post(`/api/v1/flow-instances/${id}/commands/complete`, {
						json: { task: t.id, ...body },
						headers: { 'Idempotency-Key': `dur-${id}-${t.id}` },
					});
					await res.text();
				} catch {
					if (!killed) failures.push(`${login} ${id}: connection failed before the kill`);
					return;
				}
				if (res.status === 200) {
					acked.push({ id, task: t.id, step, login });
					progressed = true;
					if (acked.length >= KILL_AFTER && !killed) killed = srv.kill9();
				} else if (res.status !== 409) {
					failures.push(`${login} ${id}: ${res.status}`);
				}
			}
			if (!progressed && round > 0 && step === 'accept') return; // nothing left to accept
		}
	}
	await Promise.all(clerks.map(([login, step, body]) => work(login, step, body)));
	if (!killed) killed = srv.kill9();
	await killed;
	assert.deepEqual(failures, []);
	assert.ok(acked.length >= KILL_AFTER, `only ${acked.length} completions were acknowledged`);

	// restart a month later: every task deadline has passed meanwhile
	srv.extraArgs = ['--test-clock-start', '2026-12-28T09:00:00+08:00'];
	await srv.restart();
	const auditor = await signIn(srv.url, 'liuhongbo.city', PW);
	// the first answers already show the overdue timers fired (they fire before serving)
	let overdueTasks = 0;
	let openTasks = 0;
	for (const id of ids) {
		const inst = await expectJson(await auditor.get(`/api/v1/flow-instances/${id}`), 200);
		for (const t of inst.tasks.filter((x) => x.status === 'active')) {
			openTasks++;
			if (inst.timeline.some((h) => h.command === 'overdue' && h.token_id === t.id)) overdueTasks++;
		}
		// every acknowledged completion of this instance is in its timeline
		for (const a of acked.filter((x) => x.id === id)) {
			const h = inst.timeline.find((x) => x.command === 'complete' && x.token_id === a.task);
			assert.ok(h, `instance ${id}: the acknowledged completion of task ${a.task} (${a.step}) is lost`);
			assert.equal(h.actor, a.login);
		}
		// a join fires once: at most one 签发 task, and only when all three reviews are done
		const done = new Set(inst.tasks.filter((t) => t.status === 'done').map((t) => t.step));
		const signs = inst.tasks.filter((t) => t.step === 'sign').length;
		assert.equal(signs, ['fgw', 'zrzy', 'zjj'].every((s) => done.has(s)) ? 1 : 0, `instance ${id}`);
	}
	assert.ok(openTasks > 0);
	assert.equal(overdueTasks, openTasks, 'every open task past its deadline is marked overdue at restart');

	// no notification twice: one message per recipient, instance, task and event
	const dup = sql(
		srv,
		'SELECT COUNT(*) FROM (SELECT user_id, channel, link, subject, body FROM notify_message ' +
			'GROUP BY user_id, channel, link, subject, body HAVING COUNT(*) > 1) x'
	).trim();
	assert.equal(dup, '0');

	// and the audit chain is whole
	await srv.stop();
	const v = await runCli(['audit', 'verify', ...dataArgs(srv)]);
	assert.equal(v.code, 0, v.stdout + v.stderr);
});

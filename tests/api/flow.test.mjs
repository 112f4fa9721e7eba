// The flow engine through the API: the three demo flows end to end (parallel approval with 补正, a
// hotline ticket returned and dispatched again, a two-level publication review), form errors as 400
// with field paths, commands on a closed instance as 409 with the allowed commands, idempotent starts,
// scoped reading, definitions refused with the path of the fault, and the inbox filtered by deadline
// state after the test clock moves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { DEMO, expectJson, expectProblem, signIn, sql } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const PW = 'Yizhan@2026';
let srv;
const as = {};

// Monday 2026-11-23 10:00 in the city: the tests compute deadlines from there.
const MONDAY = '2026-11-23T10:00:00+08:00';

const LOGINS = ['linfang.zwfw', 'chenjing.fgw', 'sunjian.zrzyj', 'mayan.zjj', 'liuhongbo.city', 'heyun.xfj',
	'liangyu.zhzfj', 'huangli.jyj', 'zhangwei.fgw'];

// Sessions end after 30 idle minutes: everyone signs in again whenever the clock jumps.
async function signInAll() {
	for (const login of LOGINS) as[login] = await signIn(srv.url, login, PW);
	as.wangfang = await signIn(srv.url, ...DEMO.citizen);
	as.liqiang = await signIn(srv.url, 'liqiang', 'Shimin@2026');
	as.admin = await signIn(srv.url, ...DEMO.admin);
}

async function setClock(iso) {
	await expectJson(await as.admin.post('/api/v1/test/clock', { json: { set: iso } }), 200);
	await signInAll();
}

before(async () => {
	srv = await startServer({ backend, testClock: true });
	await signInAll();
	await setClock(MONDAY);
});

after(async () => {
	await srv?.cleanup();
});

const PROJECT = {
	title: '花果园学校新建项目',
	data: { applicant: '贵阳某建设有限公司', project: '花果园学校', investment: 12000, phone: '0851-85551234' },
};

function taskAt(inst, step) {
	return inst.tasks.find((t) => t.step === step && t.status === 'active');
}

async function command(who, id, cmd, body = {}, headers = {}) {
	return who.post(`/api/v1/flow-instances/${id}/commands/${cmd}`, { json: body, headers });
}

async function complete(who, inst, step, body = {}) {
	const t = taskAt(inst, step);
	assert.ok(t, `no open task ${step} in ${JSON.stringify(inst.tasks.map((x) => [x.step, x.status]))}`);
	return expectJson(await command(who, inst.id, 'complete', { task: t.id, ...body }), 200, `complete ${step}`);
}

test(`the parallel approval runs from application to licence, with 补正 (${backend})`, async () => {
	// bad form data: 400 with the field paths and the definition's own labels
	const bad = await expectProblem(
		await as.wangfang.post('/api/v1/flows/approval.parallel3/instances', {
			json: { title: 'x', data: { applicant: '某', investment: -1 } },
		}),
		400
	);
	const fields = bad.errors.map((x) => x.field).sort();
	assert.deepEqual(fields, ['data.applicant', 'data.investment', 'data.phone', 'data.project']);
	// unknown flows and unknown members
	await expectProblem(await as.wangfang.post('/api/v1/flows/no.such/instances', { json: PROJECT }), 404);
	await expectProblem(
		await as.wangfang.post('/api/v1/flows/approval.parallel3/instances', { json: { ...PROJECT, colour: 'red' } }),
		400
	);

	const res = await as.wangfang.post('/api/v1/flows/approval.parallel3/instances', { json: PROJECT });
	let inst = await expectJson(res, 201, 'start');
	assert.equal(res.headers.get('location'), `/api/v1/flow-instances/${inst.id}`);
	assert.equal(inst.status, 'open');
	assert.equal(inst.due_at, '2026-12-14T23:59:59+08:00'); // 15 working days from Monday
	// 45 working days; 2027 has no notice yet, so 2027-01-01 (a Friday) counts as a working day
	assert.equal(inst.statutory_at, '2027-01-25T23:59:59+08:00');
	assert.deepEqual(inst.actions.sort(), ['comment', 'withdraw']);

	// another citizen cannot see it; the window clerk finds it in the inbox
	await expectProblem(await as.liqiang.get(`/api/v1/flow-instances/${inst.id}`), 404);
	const box = await expectJson(await as['linfang.zwfw'].get('/api/v1/inbox?box=todo'), 200);
	const item = box.items.find((x) => x.instance_id === inst.id);
	assert.ok(item, 'the window clerk has the task');
	assert.equal(item.step, 'accept');
	assert.equal(item.deadline, 'soon');
	const other = await expectJson(await as['huangli.jyj'].get('/api/v1/inbox?box=todo'), 200);
	assert.equal(other.items.filter((x) => x.instance_id === inst.id).length, 0);

	// 补正: the clock stops until the applicant answers (three working days later)
	inst = await complete(as['linfang.zwfw'], inst, 'accept', { outcome: 'correction' });
	assert.equal(inst.status, 'suspended');
	assert.equal(inst.suspended.kind, 'correction');
	await setClock('2026-11-26T15:00:00+08:00');
	const mine = await expectJson(await as.wangfang.get('/api/v1/inbox?box=todo'), 200);
	assert.equal(mine.items.find((x) => x.instance_id === inst.id)?.step, 'correct');
	inst = await expectJson(await as.wangfang.get(`/api/v1/flow-instances/${inst.id}`), 200);
	inst = await complete(as.wangfang, inst, 'correct');
	assert.equal(inst.status, 'open');
	assert.equal(inst.due_at, '2026-12-17T23:59:59+08:00');

	inst = await complete(as['linfang.zwfw'], inst, 'accept', { outcome: 'accept' });
	assert.deepEqual(
		inst.tasks.filter((t) => t.status === 'active').map((t) => t.step).sort(),
		['fgw', 'zjj', 'zrzy']
	);
	// an opinion outside the options: 400 naming data.fgw_opinion
	const t = taskAt(inst, 'fgw');
	const p = await expectProblem(
		await command(as['chenjing.fgw'], inst.id, 'complete', { task: t.id, data: { fgw_opinion: '也许' } }),
		400
	);
	assert.equal(p.errors[0].field, 'data.fgw_opinion');
	inst = await complete(as['chenjing.fgw'], inst, 'fgw', { data: { fgw_opinion: '同意' } });
	inst = await complete(as['sunjian.zrzyj'], inst, 'zrzy', { data: { zrzy_opinion: '同意' } });
	inst = await expectJson(await as['mayan.zjj'].get(`/api/v1/flow-instances/${inst.id}`), 200);
	inst = await complete(as['mayan.zjj'], inst, 'zjj', { data: { zjj_opinion: '同意' } });
	inst = await expectJson(await as['liuhongbo.city'].get(`/api/v1/flow-instances/${inst.id}`), 200);
	assert.ok(taskAt(inst, 'sign'), 'all three agreed: the leader signs');
	inst = await complete(as['liuhongbo.city'], inst, 'sign', { outcome: 'approve' });
	assert.equal(inst.status, 'closed');
	assert.equal(inst.outcome, 'approved');

	// the timeline: who did what, when
	const steps = inst.timeline.filter((x) => x.command === 'complete').map((x) => [x.step, x.actor]);
	assert.deepEqual(steps, [
		['accept', 'linfang.zwfw'],
		['correct', 'wangfang'],
		['accept', 'linfang.zwfw'],
		['fgw', 'chenjing.fgw'],
		['zrzy', 'sunjian.zrzyj'],
		['zjj', 'mayan.zjj'],
		['sign', 'liuhongbo.city'],
	]);

	// closed: any command is a 409 that says what is allowed (nothing but comments)
	const c = await expectProblem(await command(as['liuhongbo.city'], inst.id, 'extend', { workdays: 1, reason: 'x' }), 409);
	assert.match(c.detail, /closed/);
	assert.deepEqual(c.allowed, []);
	// done: it is in the clerk's 已办 and the applicant's 我发起的
	const done = await expectJson(await as['chenjing.fgw'].get('/api/v1/inbox?box=done'), 200);
	assert.ok(done.items.some((x) => x.instance_id === inst.id));
	const started = await expectJson(await as.wangfang.get('/api/v1/inbox?box=mine'), 200);
	assert.ok(started.items.some((x) => x.instance_id === inst.id && x.status === 'closed'));

	// the applicant was told: in-app and by SMS (queued in the outbox)
	const rows = sql(
		srv,
		`SELECT channel FROM notify_message WHERE user_id = (SELECT id FROM iam_user WHERE login = 'wangfang') ` +
			`AND subject LIKE '办结%' ORDER BY channel`
	);
	assert.deepEqual(rows.trim().split('\n'), ['inapp', 'sms']);
});

test(`a wrong command is a 409 that lists the allowed ones (${backend})`, async () => {
	const inst = await expectJson(
		await as.wangfang.post('/api/v1/flows/approval.parallel3/instances', { json: PROJECT }),
		201
	);
	const t = taskAt(inst, 'accept');
	// the clerk may not resume a flow that is not suspended
	const p = await expectProblem(await command(as['linfang.zwfw'], inst.id, 'resume', {}), 409);
	assert.ok(p.allowed.includes(`complete ${t.id}`), JSON.stringify(p.allowed));
	assert.ok(p.allowed.includes('suspend'));
	// a clerk of another department is not a handler
	await expectProblem(await command(as['huangli.jyj'], inst.id, 'complete', { task: t.id, outcome: 'accept' }), 403);
	// unknown command, unknown argument
	await expectProblem(await command(as['linfang.zwfw'], inst.id, 'approve', {}), 404);
	const u = await expectProblem(
		await command(as['linfang.zwfw'], inst.id, 'complete', { task: t.id, outcome: 'accept', colour: 1 }),
		400
	);
	assert.equal(u.errors[0].field, 'colour');
	// an idempotent command: the same key twice, one transition
	const h = { 'Idempotency-Key': 'accept-once-1' };
	await expectJson(await command(as['linfang.zwfw'], inst.id, 'complete', { task: t.id, outcome: 'accept' }, h), 200);
	const again = await expectJson(
		await command(as['linfang.zwfw'], inst.id, 'complete', { task: t.id, outcome: 'accept' }, h),
		200
	);
	assert.equal(again.tasks.filter((x) => x.step === 'fgw').length, 1);
	// withdrawal by the applicant closes it
	const w = await expectJson(await command(as.wangfang, inst.id, 'withdraw', { reason: '项目调整' }), 200);
	assert.equal(w.outcome, 'withdrawn');
});

test(`idempotent start: the same key gives the same instance (${backend})`, async () => {
	const h = { 'Idempotency-Key': 'start-7f3a' };
	const a = await expectJson(
		await as.wangfang.post('/api/v1/flows/approval.parallel3/instances', { json: PROJECT, headers: h }),
		201
	);
	const b = await expectJson(
		await as.wangfang.post('/api/v1/flows/approval.parallel3/instances', { json: PROJECT, headers: h }),
		201
	);
	assert.equal(a.id, b.id);
});

test(`a hotline ticket is returned by the wrong unit and dispatched again (${backend})`, async () => {
	let inst = await expectJson(
		await as.liqiang.post('/api/v1/flows/hotline.ticket/instances', {
			json: {
				title: '观山湖区某小区夜间施工噪音',
				data: { caller: '李强', phone: '13900001111', category: '城市管理', content: '小区旁工地每晚十一点后仍在施工，噪音很大。', address: '观山湖区长岭南路' },
			},
		}),
		201
	);
	inst = await expectJson(await as['heyun.xfj'].get(`/api/v1/flow-instances/${inst.id}`), 200);
	inst = await complete(as['heyun.xfj'], inst, 'dispatch', { outcome: 'dispatch' });
	// the decision sent it to 综合行政执法局; they return it: it is the environment bureau's
	const t = taskAt(inst, 'handle_city');
	assert.ok(t, 'dispatched to 综合行政执法局');
	inst = await expectJson(
		await command(as['liangyu.zhzfj'], inst.id, 'return', { task: t.id, reason: '建筑施工噪音属生态环境部门职责' }),
		200
	);
	const back = taskAt(inst, 'dispatch');
	assert.ok(back, 'back at the hotline centre');
	// the hotline centre corrects the category and dispatches again: now to 生态环境局
	inst = await expectJson(await as['heyun.xfj'].get(`/api/v1/flow-instances/${inst.id}`), 200);
	inst = await complete(as['heyun.xfj'], inst, 'dispatch', { outcome: 'dispatch', data: { category: '生态环境' } });
	assert.equal(taskAt(inst, 'handle_city'), undefined);
	const env = await signIn(srv.url, 'qinlan.sthjj', PW);
	inst = await expectJson(await env.get(`/api/v1/flow-instances/${inst.id}`), 200);
	// the reply is required by the step's form
	const p = await expectProblem(await command(env, inst.id, 'complete', { task: taskAt(inst, 'handle_env').id }), 400);
	assert.equal(p.errors[0].field, 'data.reply');
	inst = await complete(env, inst, 'handle_env', { data: { reply: '已责令施工单位夜间停工，并立案调查。' } });
	inst = await expectJson(await as['heyun.xfj'].get(`/api/v1/flow-instances/${inst.id}`), 200);
	inst = await complete(as['heyun.xfj'], inst, 'revisit', { outcome: 'satisfied' });
	assert.equal(inst.outcome, 'resolved');
	const ret = inst.timeline.find((x) => x.command === 'return');
	assert.equal(ret.actor, 'liangyu.zhzfj');
	assert.equal(ret.detail.reason, '建筑施工噪音属生态环境部门职责');
	// the revisit copied the ticket to the city's leader (抄送)
	const cc = await expectJson(await as['liuhongbo.city'].get('/api/v1/inbox?box=cc'), 200);
	assert.ok(cc.items.some((x) => x.instance_id === inst.id));
});

test(`a two-level publication review goes back for revision and is published (${backend})`, async () => {
	const fgw = as['chenjing.fgw'];
	let inst = await expectJson(
		await fgw.post('/api/v1/flows/publication.review/instances', {
			json: { title: '2027年重大项目清单', data: { headline: '2027年贵阳市重大项目清单公布', column: '通知公告', body: '根据市政府工作安排，现将2027年重大项目清单予以公布。' } },
		}),
		201
	);
	// a citizen may not start it
	await expectProblem(
		await as.wangfang.post('/api/v1/flows/publication.review/instances', {
			json: { data: { headline: '测试标题', column: '通知公告', body: '测试正文测试正文测试' } },
		}),
		403
	);
	const head = as['zhangwei.fgw'];
	inst = await expectJson(await head.get(`/api/v1/flow-instances/${inst.id}`), 200);
	// sending back needs a reason
	const t = taskAt(inst, 'review1');
	const p = await expectProblem(await command(head, inst.id, 'complete', { task: t.id, outcome: 'revise' }), 400);
	assert.equal(p.errors[0].field, 'comment');
	inst = await complete(head, inst, 'review1', { outcome: 'revise', comment: '请补充项目投资总额' });
	inst = await expectJson(await fgw.get(`/api/v1/flow-instances/${inst.id}`), 200);
	inst = await complete(fgw, inst, 'revise', { data: { body: '根据市政府工作安排，现将2027年重大项目清单予以公布，总投资约1200亿元。' } });
	inst = await expectJson(await head.get(`/api/v1/flow-instances/${inst.id}`), 200);
	inst = await complete(head, inst, 'review1', { outcome: 'pass' });
	inst = await expectJson(await as['liuhongbo.city'].get(`/api/v1/flow-instances/${inst.id}`), 200);
	inst = await complete(as['liuhongbo.city'], inst, 'review2', { outcome: 'publish' });
	assert.equal(inst.outcome, 'published');
	assert.match(inst.data.body, /1200亿元/);
});

test(`the inbox filters by deadline state as the clock moves (${backend})`, async () => {
	await setClock('2026-12-07T09:00:00+08:00');
	const inst = await expectJson(
		await as.wangfang.post('/api/v1/flows/approval.parallel3/instances', { json: PROJECT }),
		201
	);
	let clerk = as['linfang.zwfw'];
	const soon = await expectJson(await clerk.get('/api/v1/inbox?box=todo&deadline=soon'), 200);
	assert.ok(soon.items.some((x) => x.instance_id === inst.id));
	// two days later the acceptance (one working day) is overdue; the timer job marks it
	await setClock('2026-12-09T09:00:00+08:00');
	clerk = as['linfang.zwfw'];
	const overdue = await expectJson(await clerk.get('/api/v1/inbox?box=todo&deadline=overdue'), 200);
	assert.ok(overdue.items.some((x) => x.instance_id === inst.id));
	const ok = await expectJson(await clerk.get('/api/v1/inbox?box=todo&deadline=ok'), 200);
	assert.ok(!ok.items.some((x) => x.instance_id === inst.id));
	await expectProblem(await clerk.get('/api/v1/inbox?box=todo&deadline=late'), 400);
	await expectProblem(await clerk.get('/api/v1/inbox?box=later'), 400);
	// the overdue timer fires within a few seconds (the job runs every second): bounded polling
	let marked = false;
	for (let i = 0; i < 100 && !marked; i++) {
		const x = await expectJson(await clerk.get(`/api/v1/flow-instances/${inst.id}`), 200);
		marked = x.timeline.some((h) => h.command === 'overdue' && h.step === 'accept');
		if (!marked) await new Promise((r) => setTimeout(r, 100));
	}
	assert.ok(marked, 'the overdue timer fired');
});

test(`definitions: faults are refused with their path; a new version pins old instances (${backend})`, async () => {
	const def = {
		key: 'test.simple',
		name: '测试流程',
		owner: '520100-dsjj',
		starters: ['signed-in'],
		start: 'a',
		steps: {
			a: { kind: 'task', name: '办理', assignee: { department: '520100-dsjj' }, next: 'end' },
			lost: { kind: 'task', name: '孤立', assignee: { department: '520100-dsjj' }, next: 'end' },
			end: { kind: 'end', name: '办结' },
		},
	};
	const p = await expectProblem(await as.admin.post('/api/v1/flows', { json: def }), 400);
	assert.ok(p.errors.some((x) => x.field === 'steps.lost' && x.rule === 'unreachable'), JSON.stringify(p.errors));
	// a clerk may not load definitions
	delete def.steps.lost;
	await expectProblem(await as['chenjing.fgw'].post('/api/v1/flows', { json: def }), 403);
	const v1 = await expectJson(await as.admin.post('/api/v1/flows', { json: def }), 201);
	assert.equal(v1.version, 1);
	const inst = await expectJson(await as.wangfang.post('/api/v1/flows/test.simple/instances', { json: { title: 't' } }), 201);
	def.steps.a.name = '办理（新）';
	const v2 = await expectJson(await as.admin.post('/api/v1/flows', { json: def }), 201);
	assert.equal(v2.version, 2);
	const old = await expectJson(await as.wangfang.get(`/api/v1/flow-instances/${inst.id}`), 200);
	assert.equal(old.flow.version, 1);
	const m = await expectJson(
		await as.admin.post('/api/v1/flows/migrate', { json: { key: 'test.simple', from: 1, to: 2, step_map: { a: 'a' } } }),
		200
	);
	assert.equal(m.moved, 1);
	const moved = await expectJson(await as.wangfang.get(`/api/v1/flow-instances/${inst.id}`), 200);
	assert.equal(moved.flow.version, 2);
});

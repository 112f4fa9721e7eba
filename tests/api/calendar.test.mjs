// The working-day calendar through the API and the command line: days around National Day 2026 with
// their make-up working days, the Nth working day after a date, bad input as 400, the stored notices,
// and a second notice for 2026 imported by an administrator: the days it changes come back, the open
// deadlines that depend on them move, and the instance's history says so. The same questions asked of
// `yizhan calendar` get the same answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, runCli } from './lib/server.mjs';
import { DEMO, dataArgs, expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
let srv;

before(async () => {
	srv = await startServer({ backend, testClock: true, extraArgs: ['--test-clock-start', '2026-11-23T10:00:00+08:00'] });
});

after(async () => {
	await srv?.cleanup();
});

test(`days, working days and bad input (${backend})`, async () => {
	const c = await signIn(srv.url, ...DEMO.clerkFgw);
	const d = await expectJson(await c.get('/api/v1/calendar/days?from=2026-09-19&to=2026-10-11'), 200);
	const by = Object.fromEntries(d.items.map((x) => [x.date, x]));
	assert.equal(by['2026-09-20'].workday, true, 'Sunday 09-20 is a make-up working day');
	assert.equal(by['2026-09-19'].workday, false);
	assert.equal(by['2026-09-25'].workday, false);
	assert.equal(by['2026-09-25'].name, '中秋节');
	for (let day = 1; day <= 7; day++) assert.equal(by[`2026-10-0${day}`].workday, false);
	assert.equal(by['2026-10-01'].name, '国庆节');
	assert.equal(by['2026-10-10'].workday, true, 'Saturday 10-10 is a make-up working day');
	assert.equal(d.workdays, d.items.filter((x) => x.workday).length);

	// the 20th working day after 2024-09-20 is 2024-10-23; counting back gives the date again
	const a = await expectJson(await c.get('/api/v1/calendar/add-workdays?date=2024-09-20&n=20'), 200);
	assert.equal(a.date, '2024-10-23');
	const b = await expectJson(await c.get('/api/v1/calendar/add-workdays?date=2024-10-23&n=-20'), 200);
	assert.equal(b.date, '2024-09-20');

	const p = await expectProblem(await c.get('/api/v1/calendar/add-workdays?date=2024-02-30&n=1'), 400);
	assert.equal(p.errors[0].field, 'date');
	await expectProblem(await c.get('/api/v1/calendar/add-workdays?date=2024-02-01&n=x'), 400);
	await expectProblem(await c.get('/api/v1/calendar/days?from=2026-01-01&to=2027-06-01'), 400);
	// signed in only
	const anon = await fetch(srv.url + '/api/v1/calendar/days?from=2026-01-01&to=2026-01-02');
	assert.equal(anon.status, 401);
});

test(`the command line agrees with the API (${backend})`, async () => {
	const c = await signIn(srv.url, ...DEMO.clerkFgw);
	for (const [date, want] of [['2026-10-01', 1], ['2026-10-10', 0], ['2020-02-03', 0], ['2020-01-31', 1], ['2020-01-23', 0]]) {
		const r = await runCli(['calendar', 'is-workday', date, ...dataArgs(srv)]);
		assert.equal(r.code, want, `is-workday ${date}: ${r.stdout}${r.stderr}`);
		const api = await expectJson(await c.get(`/api/v1/calendar/days?from=${date}&to=${date}`), 200);
		assert.equal(api.items[0].workday, want === 0);
	}
	const r = await runCli(['calendar', 'add-workdays', '2024-09-20', '20', ...dataArgs(srv)]);
	assert.equal(r.code, 0, r.stderr);
	assert.equal(r.stdout.trim(), '2024-10-23');
});

test(`a second notice for 2026 moves the open deadlines it touches (${backend})`, async () => {
	const admin = await signIn(srv.url, ...DEMO.admin);
	const citizen = await signIn(srv.url, ...DEMO.citizen);
	const inst = await expectJson(
		await citizen.post('/api/v1/flows/approval.parallel3/instances', {
			json: { title: '调休测试', data: { applicant: '某公司', project: '某项目', investment: 1, phone: '0851-85550000' } },
		}),
		201
	);
	assert.equal(inst.due_at, '2026-12-14T23:59:59+08:00');

	const before = await expectJson(await admin.get('/api/v1/calendar/notices'), 200);
	assert.ok(before.items.length >= 20, 'the shipped notices are stored');
	assert.ok(before.items.every((n) => n.origin === 'seed'));

	// the 2026 notice as holiday-cn JSON, from the calendar itself, plus two new days off
	const year = await expectJson(await admin.get('/api/v1/calendar/days?from=2026-01-01&to=2026-12-31'), 200);
	const days = year.items
		.filter((x) => {
			const wd = new Date(x.date + 'T00:00:00Z').getUTCDay();
			return x.workday === (wd === 0 || wd === 6); // differs from the week
		})
		.map((x) => ({ name: x.name || '调休', date: x.date, isOffDay: !x.workday }));
	days.push({ name: '测试', date: '2026-12-01', isOffDay: true }, { name: '测试', date: '2026-12-02', isOffDay: true });
	const notice = { year: 2026, papers: ['https://www.gov.cn/test'], days };

	const clerk = await signIn(srv.url, ...DEMO.clerkFgw);
	await expectProblem(await clerk.post('/api/v1/calendar/notices', { json: notice }), 403);
	const bad = await expectProblem(await admin.post('/api/v1/calendar/notices', { json: { year: 2026, days: [{ date: '2026-13-01' }] } }), 400);
	assert.ok(bad.errors.length > 0);

	const res = await expectJson(await admin.post('/api/v1/calendar/notices', { json: notice }), 201);
	assert.deepEqual(res.changed, ['2026-12-01', '2026-12-02']);
	assert.ok(res.deadlines_moved >= 1);
	const moved = await expectJson(await citizen.get(`/api/v1/flow-instances/${inst.id}`), 200);
	assert.equal(moved.due_at, '2026-12-16T23:59:59+08:00');
	assert.ok(moved.timeline.some((h) => h.command === 'deadline.recompute'));
	// the new calendar answers at once
	const d = await expectJson(await admin.get('/api/v1/calendar/days?from=2026-12-01&to=2026-12-01'), 200);
	assert.equal(d.items[0].workday, false);
	// the same notice again changes nothing
	const again = await expectJson(await admin.post('/api/v1/calendar/notices', { json: notice }), 200);
	assert.deepEqual(again.changed, []);
	const after = await expectJson(await admin.get('/api/v1/calendar/notices'), 200);
	assert.equal(after.items.length, before.items.length + 1);
	assert.equal(after.items.at(-1).origin, 'import');

	// the command line imports the same format (a file), and finds nothing new
	const dir = mkdtempSync(join(tmpdir(), 'yizhan-cal-'));
	try {
		writeFileSync(join(dir, '2026.json'), JSON.stringify(notice));
		const r = await runCli(['calendar', 'import', join(dir, '2026.json'), ...dataArgs(srv)]);
		assert.equal(r.code, 0, r.stdout + r.stderr);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

test(`office hours come from --office-hours; a bad value stops serve before it listens (${backend})`, async () => {
	const c = await signIn(srv.url, ...DEMO.clerkFgw);
	const d = await expectJson(await c.get('/api/v1/calendar/days?from=2026-11-23&to=2026-11-23'), 200);
	assert.equal(d.office_hours, '9:00-12:00,13:30-17:30', 'the default');

	const bad = await runCli(['serve', ...dataArgs(srv), '--listen', '127.0.0.1:0', '--office-hours', '9:00-25:00']);
	assert.notEqual(bad.code, 0, 'serve with office hours past 24:00');
	assert.match(bad.stderr, /--office-hours 9:00-25:00/);

	srv.extraArgs = [...srv.extraArgs, '--office-hours', '8:30-12:00, 14:00-18:00'];
	await srv.restart();
	const c2 = await signIn(srv.url, ...DEMO.clerkFgw);
	const d2 = await expectJson(await c2.get('/api/v1/calendar/days?from=2026-11-23&to=2026-11-23'), 200);
	assert.equal(d2.office_hours, '8:30-12:00,14:00-18:00');
});

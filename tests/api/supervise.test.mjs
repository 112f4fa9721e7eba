// Electronic supervision through a real server with --test-clock: a citizen starts the parallel
// approval, the clock moves past the acceptance deadline, and within the flow's one-second timer sweep
// the supervisor sees a yellow card; the window clerk finds it among the unit's cards, responds and
// records the correction (409 for a correction before the response and for a second response; 400 for
// an empty text; 403/404 for anyone else); counts and on-time rates; the rules (read, replace with
// field paths for faults, If-Match); escalation to the supervising unit when no response comes; and the
// Excel export read back by unzipping it here (node:zlib) and reading its sheets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { startServer } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const PW = 'Yizhan@2026';
const WAIT_MS = 20_000;
let srv;

const PROJECT = {
	title: '花果园学校新建项目',
	data: { applicant: '贵阳某建设有限公司', project: '花果园学校', investment: 12000, phone: '0851-85551234' },
};

before(async () => {
	srv = await startServer({ backend, testClock: true });
	await setClock('2026-11-23T10:00:00+08:00'); // a Monday
});

after(async () => {
	await srv?.cleanup();
});

async function setClock(iso) {
	await expectJson(await new Client(srv.url).post('/api/v1/test/clock', { json: { set: iso } }), 200);
}

// Sessions end after 30 idle minutes and the clock jumps days: sign in afresh for each step.
const as = (login, password = PW) => signIn(srv.url, login, password);
const supervisor = () => as('jiancha.bgt');

async function until(what, fn) {
	const t0 = Date.now();
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() - t0 > WAIT_MS) assert.fail(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

async function startProject(title = PROJECT.title) {
	const c = await signIn(srv.url, ...DEMO.citizen);
	return expectJson(await c.post('/api/v1/flows/approval.parallel3/instances', { json: { ...PROJECT, title } }), 201);
}

async function cardsOf(client, query = '') {
	return (await expectJson(await client.get(`/api/v1/supervise/cards${query}`), 200)).items;
}

// ---- a tiny zip reader: enough for a workbook libxlsxwriter wrote ----

function unzip(buf) {
	let eocd = -1;
	for (let i = buf.length - 22; i >= 0; i--)
		if (buf.readUInt32LE(i) === 0x06054b50) {
			eocd = i;
			break;
		}
	assert.ok(eocd >= 0, 'no end of central directory: not a zip file');
	const n = buf.readUInt16LE(eocd + 10);
	let p = buf.readUInt32LE(eocd + 16);
	const files = new Map();
	for (let k = 0; k < n; k++) {
		assert.equal(buf.readUInt32LE(p), 0x02014b50, 'central directory entry');
		const method = buf.readUInt16LE(p + 10);
		const csize = buf.readUInt32LE(p + 20);
		const nlen = buf.readUInt16LE(p + 28);
		const xlen = buf.readUInt16LE(p + 30);
		const clen = buf.readUInt16LE(p + 32);
		const local = buf.readUInt32LE(p + 42);
		const name = buf.subarray(p + 46, p + 46 + nlen).toString('utf8');
		assert.equal(buf.readUInt32LE(local), 0x04034b50, `local header of ${name}`);
		const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
		const data = buf.subarray(start, start + csize);
		files.set(name, (method === 8 ? inflateRawSync(data) : data).toString('utf8'));
		p += 46 + nlen + xlen + clen;
	}
	return files;
}

const unescapeXml = (s) =>
	s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

// The rows of sheet n (1-based) as arrays of cell texts (shared strings resolved, numbers as text).
function sheetRows(files, n) {
	const shared = [...(files.get('xl/sharedStrings.xml') || '').matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) =>
		unescapeXml([...m[1].matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((t) => t[1]).join(''))
	);
	const xml = files.get(`xl/worksheets/sheet${n}.xml`);
	assert.ok(xml, `no sheet ${n}`);
	const column = (letters) => [...letters].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;
	return [...xml.matchAll(/<row[^>]*>([\s\S]*?)<\/row>/g)].map((row) => {
		const cells = [];
		for (const c of row[1].matchAll(/<c r="([A-Z]+)\d+"([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
			const v = /<v>([\s\S]*?)<\/v>/.exec(c[3] || '');
			const at = column(c[1]);
			while (cells.length < at) cells.push('');
			cells[at] = !v ? '' : /t="s"/.test(c[2]) ? shared[Number(v[1])] : v[1];
		}
		return cells;
	});
}

// ---- the journey ----

let card; // the yellow card of the first instance

test(`a yellow card appears when the clock passes a step's deadline (${backend})`, async () => {
	const inst = await startProject();
	// nothing yet
	assert.deepEqual(await cardsOf(await supervisor()), []);
	// Wednesday: the acceptance (1 working day, due Tuesday) is overdue, the whole (15) on time
	await setClock('2026-11-25T09:00:00+08:00');
	const sup = await supervisor();
	const yellow = await until('the yellow card', async () => (await cardsOf(sup, '?colour=yellow'))[0]);
	card = yellow;
	assert.equal(yellow.state, 'open');
	assert.equal(yellow.instance.id, inst.id);
	assert.equal(yellow.step, 'accept');
	assert.equal(yellow.unit.name, '贵阳市政务服务中心');
	assert.equal(yellow.rule.code, 'yellow.step_overdue');
	assert.equal(yellow.respond_by, '2026-11-27T23:59:59+08:00');
	assert.equal(yellow.escalate_to, '520100-bgt');
	// and the prompt of the day before, shown as information only
	const prompts = await cardsOf(sup, '?state=info');
	assert.equal(prompts.length, 1);
	assert.equal(prompts[0].colour, 'prompt');
	// bad filters are field errors
	const bad = await expectProblem(await sup.get('/api/v1/supervise/cards?state=pink&from=yesterday'), 400);
	assert.deepEqual(bad.errors.map((x) => x.field).sort(), ['from', 'state']);
});

test(`only the unit answers; respond, then correct, clears the card (${backend})`, async () => {
	assert.ok(card, 'the first test made a card');
	const clerk = await as('linfang.zwfw');
	// the unit's clerk was told, with a link to the card
	const note = (await expectJson(await clerk.get('/api/v1/notifications'), 200)).items.find((m) =>
		m.subject.startsWith('电子监察黄牌')
	);
	assert.ok(note, 'the clerk has an in-app message about the card');
	assert.equal(note.link, `/supervise/cards/${card.id}`);
	const mine = (await expectJson(await clerk.get('/api/v1/supervise/my-cards?state=open'), 200)).items;
	assert.deepEqual(
		mine.map((c) => c.id),
		[card.id]
	);
	let one = await expectJson(await clerk.get(`/api/v1/supervise/cards/${card.id}`), 200);
	assert.deepEqual(one.actions, ['respond']);
	assert.deepEqual(
		one.events.map((e) => e.kind),
		['issued']
	);

	// others: another department's clerk neither sees nor answers it; the supervisor sees but may not
	// answer; a citizen has no business here
	const fgw = await as('chenjing.fgw');
	await expectProblem(await fgw.get(`/api/v1/supervise/cards/${card.id}`), 404);
	await expectProblem(await fgw.post(`/api/v1/supervise/cards/${card.id}/respond`, { json: { text: 'x' } }), 404);
	await expectProblem(await fgw.get('/api/v1/supervise/cards'), 403);
	assert.deepEqual((await expectJson(await fgw.get('/api/v1/supervise/my-cards'), 200)).items, []);
	const sup = await supervisor();
	await expectProblem(await sup.post(`/api/v1/supervise/cards/${card.id}/respond`, { json: { text: 'x' } }), 403);
	const citizen = await signIn(srv.url, ...DEMO.citizen);
	await expectProblem(await citizen.get(`/api/v1/supervise/cards/${card.id}`), 404);
	await expectProblem(await citizen.get('/api/v1/supervise/cards'), 403);

	// the order of things
	const early = await expectProblem(
		await clerk.post(`/api/v1/supervise/cards/${card.id}/correct`, { json: { text: '已整改' } }),
		409
	);
	assert.match(early.detail, /respond/);
	const empty = await expectProblem(
		await clerk.post(`/api/v1/supervise/cards/${card.id}/respond`, { json: { text: '  ' } }),
		400
	);
	assert.deepEqual(
		empty.errors.map((x) => [x.field, x.rule]),
		[['text', 'required']]
	);
	one = await expectJson(
		await clerk.post(`/api/v1/supervise/cards/${card.id}/respond`, { json: { text: '窗口人员外出培训，未及时受理。' } }),
		200
	);
	assert.equal(one.state, 'responded');
	assert.deepEqual(one.actions, ['correct']);
	await expectProblem(await clerk.post(`/api/v1/supervise/cards/${card.id}/respond`, { json: { text: '再说明' } }), 409);
	one = await expectJson(
		await clerk.post(`/api/v1/supervise/cards/${card.id}/correct`, { json: { text: '已建立窗口 AB 岗制度。' } }),
		200
	);
	assert.equal(one.state, 'cleared');
	assert.deepEqual(one.actions, []);
	assert.deepEqual(
		one.events.map((e) => [e.kind, e.actor]),
		[
			['issued', 'system:supervise'],
			['responded', 'linfang.zwfw'],
			['corrected', 'linfang.zwfw'],
		]
	);
	await expectProblem(await clerk.post(`/api/v1/supervise/cards/${card.id}/correct`, { json: { text: '又一次' } }), 409);

	// the supervisor's view of it
	const seen = await expectJson(await sup.get(`/api/v1/supervise/cards/${card.id}`), 200);
	assert.equal(seen.state, 'cleared');
	assert.deepEqual(seen.actions, []);
	// the audit chain has each step
	const auditor = await signIn(srv.url, ...DEMO.auditor);
	const acts = (await expectJson(await auditor.get(`/api/v1/audit?object=supervise-card:${card.id}`), 200)).items.map(
		(r) => r.action
	);
	assert.deepEqual(acts, ['supervise.card.correct', 'supervise.card.respond', 'supervise.card.issue']);
});

test(`counts and on-time rates within the scope (${backend})`, async () => {
	const sup = await supervisor();
	const sum = await expectJson(await sup.get('/api/v1/supervise/summary'), 200);
	assert.equal(sum.totals.yellow, 1);
	assert.equal(sum.totals.prompt, 1);
	assert.equal(sum.totals.cleared, 1);
	assert.equal(sum.totals.open, 0);
	assert.deepEqual(
		sum.by_unit.map((u) => [u.name, u.yellow, u.prompt]),
		[['贵阳市政务服务中心', 1, 1]]
	);
	assert.deepEqual(
		sum.by_flow.map((f) => [f.flow, f.flow_name]),
		[['approval.parallel3', '建设项目三部门并联审批']]
	);
	const stats = await expectJson(await sup.get('/api/v1/supervise/stats'), 200);
	assert.equal(stats.months.length, 12);
	assert.equal(stats.months[11].month, '2026-11');
	assert.equal(stats.months[11].yellow, 1);
	assert.equal(stats.totals.open, 1);
	assert.equal(stats.totals.overdue, 1);
	// a unit's summary (by org id) holds only its own
	const other = await expectJson(await sup.get(`/api/v1/supervise/cards?org=${sum.by_unit[0].id}`), 200);
	assert.equal(other.items.length, 2);
	await expectProblem(await sup.get('/api/v1/supervise/cards?org=999999'), 400);
});

test(`the rules: read, replaced as a new version, faults named by their path (${backend})`, async () => {
	const sup = await supervisor();
	const res = await sup.get('/api/v1/supervise/rules');
	const rules = await expectJson(res, 200);
	assert.equal(res.headers.get('etag'), '"1"');
	assert.equal(rules.version, 1);
	assert.equal(rules.rules.length, 8);
	assert.equal(rules.rules.find((r) => r.code === 'yellow.two_thirds').enabled, false);
	// a clerk may not change them
	const clerk = await as('linfang.zwfw');
	await expectProblem(await clerk.put('/api/v1/supervise/rules', { json: { rules: rules.rules } }), 403);
	// faults with paths
	const broken = structuredClone(rules.rules);
	broken[2].escalate_to = '000000';
	broken[0].respond_within = { workdays: 1 };
	broken[5].event = 'late';
	const p = await expectProblem(await sup.put('/api/v1/supervise/rules', { json: { rules: broken } }), 400);
	assert.deepEqual(p.errors.map((x) => [x.field, x.rule]).sort(), [
		['rules[0].respond_within', 'absent'],
		['rules[2].escalate_to', 'exists'],
		['rules[5].event', 'enum'],
	]);
	// a new version; a stale If-Match conflicts
	const on = structuredClone(rules.rules);
	on.find((r) => r.code === 'yellow.two_thirds').enabled = true;
	await expectProblem(
		await sup.put('/api/v1/supervise/rules', { json: { rules: on }, headers: { 'if-match': '"7"' } }),
		409
	);
	const put = await sup.put('/api/v1/supervise/rules', { json: { rules: on }, headers: { 'if-match': '"1"' } });
	const v2 = await expectJson(put, 200);
	assert.equal(v2.version, 2);
	assert.equal(put.headers.get('etag'), '"2"');
	// back as it was (version 3), so that the rest of the file runs on the demo rules
	assert.equal((await expectJson(await sup.put('/api/v1/supervise/rules', { json: { rules: rules.rules } }), 200)).version, 3);
});

test(`no response in time: escalated to the supervising unit, once (${backend})`, async () => {
	// Thursday 11-26 10:00 a second project; its acceptance is overdue on Monday 11-30 (due Friday)
	await setClock('2026-11-26T10:00:00+08:00');
	const inst = await startProject('观山湖区体育馆改造项目');
	await setClock('2026-11-30T09:00:00+08:00');
	const sup = await supervisor();
	const yellow = await until('the second yellow card', async () =>
		(await cardsOf(sup, '?colour=yellow&state=open')).find((c) => c.instance.id === inst.id)
	);
	assert.equal(yellow.respond_by, '2026-12-02T23:59:59+08:00');
	assert.equal(yellow.escalated, false);
	// Thursday 12-03: two working days passed without a response
	await setClock('2026-12-03T08:00:00+08:00');
	const sup2 = await supervisor();
	const esc = await until('the escalation', async () => {
		const c = await expectJson(await sup2.get(`/api/v1/supervise/cards/${yellow.id}`), 200);
		return c.escalated ? c : null;
	});
	assert.equal(esc.response_overdue, true);
	assert.deepEqual(
		esc.events.map((e) => e.kind),
		['issued', 'escalated']
	);
	const escalated = await cardsOf(sup2, '?escalated=1');
	assert.deepEqual(
		escalated.map((c) => c.id),
		[yellow.id]
	);
	// the supervising unit hears of it once
	const notes = (await expectJson(await sup2.get('/api/v1/notifications'), 200)).items.filter((m) =>
		m.subject.startsWith('督办')
	);
	assert.equal(notes.length, 1);
	assert.equal(notes[0].link, `/supervise/cards/${yellow.id}`);
});

test(`the Excel export holds the cards and the rates of the scope (${backend})`, async () => {
	const sup = await supervisor();
	const res = await sup.get('/api/v1/supervise/export.xlsx');
	assert.equal(res.status, 200, await res.clone().text());
	assert.equal(res.headers.get('content-type'), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
	assert.match(res.headers.get('content-disposition') || '', /^attachment; filename="supervision-\d{4}-\d\d-\d\d\.xlsx"$/);
	const files = unzip(Buffer.from(await res.arrayBuffer()));
	const book = files.get('xl/workbook.xml');
	assert.deepEqual(
		[...book.matchAll(/<sheet name="([^"]+)"/g)].map((m) => m[1]),
		['监察卡片', '按月按时率', '按单位按时率']
	);
	const cards = sheetRows(files, 1);
	assert.deepEqual(cards[0].slice(0, 5), ['编号', '颜色', '规则', '状态', '已督办']);
	const all = await cardsOf(sup);
	assert.equal(cards.length - 1, all.length, 'one row per card');
	const first = cards.find((r) => r[0] === String(card.id));
	assert.ok(first, `no row for card ${card.id}: ${JSON.stringify(cards)}`);
	assert.deepEqual(first.slice(1, 9), ['黄牌', '环节超期（办件整体未超期）', '已整改', '否', '花果园学校新建项目', '建设项目三部门并联审批', '窗口受理', '贵阳市政务服务中心']);
	assert.equal(first[14], '窗口人员外出培训，未及时受理。');
	assert.equal(first[15], '已建立窗口 AB 岗制度。');
	const months = sheetRows(files, 2);
	assert.equal(months.length, 13);
	assert.equal(months[12][0], '2026-12');
	// filters apply: only the escalated card
	const only = unzip(Buffer.from(await (await sup.get('/api/v1/supervise/export.xlsx?escalated=1')).arrayBuffer()));
	assert.equal(sheetRows(only, 1).length, 2);
	// not for a clerk
	await expectProblem(await (await as('linfang.zwfw')).get('/api/v1/supervise/export.xlsx'), 403);
});

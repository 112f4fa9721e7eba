// /metrics: requests counted by route and status, the latency histogram per route, and the store
// writer's counters and batch-size histogram. Counters are compared before and after a known set of
// requests, so the exact increments are asserted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, expectJson, metric, metrics, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
let srv;
let admin;

before(async () => {
	srv = await startServer({ backend });
	admin = await signIn(srv.url, ...DEMO.admin);
});

after(async () => {
	await srv?.cleanup();
});

async function scrape() {
	const res = await new Client(srv.url).get('/metrics');
	assert.equal(res.status, 200);
	assert.match(res.headers.get('content-type') || '', /^text\/plain; version=0\.0\.4/);
	const text = await res.text();
	return { text, m: metrics(text) };
}

// A response is counted just after it is sent, so a scrape right after the answer may come a moment
// early: scrape again (a bounded number of times) until the counter has reached the expected value;
// then it must be exactly that.
async function scrapeUntil(name, labels, want) {
	let s;
	for (let i = 0; i < 200; i++) {
		s = await scrape();
		if (metric(s.m, name, labels) >= want) break;
	}
	return s;
}

const REQ = 'yizhan_http_requests_total';
const LAT = 'yizhan_http_request_duration_seconds';

test(`requests are counted by route and status (${backend})`, async () => {
	const before = (await scrape()).m;
	const anon = new Client(srv.url);
	for (let i = 0; i < 3; i++) await expectJson(await admin.get('/api/v1/me'), 200);
	for (let i = 0; i < 2; i++) await (await anon.get('/api/v1/me')).text();
	await (await anon.get('/api/v1/no-such-thing')).text();
	await (await admin.request('PUT', '/api/v1/me')).text();
	await expectJson(
		await admin.post('/api/v1/orgs', { json: { code: 'metrics-1', name: '指标测试', kind: 'unit', parent_id: 1 } }),
		201
	);
	await (await anon.get('/static/css/site.css')).text();

	const want = [
		[{ route: 'GET /api/v1/me', status: '200' }, 3],
		[{ route: 'GET /api/v1/me', status: '401' }, 2],
		[{ route: 'unmatched', status: '404' }, 1],
		[{ route: 'unmatched', status: '405' }, 1],
		[{ route: 'POST /api/v1/orgs', status: '201' }, 1],
		[{ route: 'GET /static/{path...}', status: '200' }, 1],
	];
	const { m } = await scrapeUntil(REQ, { route: 'GET /static/{path...}', status: '200' }, metric(before, REQ, { route: 'GET /static/{path...}', status: '200' }) + 1);
	for (const [labels, n] of want)
		assert.equal(metric(m, REQ, labels) - metric(before, REQ, labels), n, `${REQ}${JSON.stringify(labels)}`);
	// nothing counted where nothing happened
	assert.equal(metric(m, REQ, { route: 'GET /api/v1/users', status: '200' }), 0);
});

test('the latency histogram per route is cumulative and matches the request count', async () => {
	for (let i = 0; i < 4; i++) await expectJson(await admin.get('/api/v1/orgs/1'), 200);
	const { text, m } = await scrapeUntil(REQ, { route: 'GET /api/v1/orgs/{id}', status: '200' }, 4);
	assert.match(text, /^# TYPE yizhan_http_request_duration_seconds histogram$/m);
	assert.match(text, /^# TYPE yizhan_http_requests_total counter$/m);
	const route = 'GET /api/v1/orgs/{id}';
	assert.equal(metric(m, REQ, { route, status: '200' }), 4);
	const les = ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '+Inf'];
	let prev = 0;
	for (const le of les) {
		const key = `${LAT}_bucket{route="${route}",le="${le}"}`;
		assert.ok(m.has(key), `no ${key}`);
		assert.ok(m.get(key) >= prev, `${key} is below the bucket before it`);
		prev = m.get(key);
	}
	assert.equal(prev, 4, '+Inf bucket');
	assert.equal(metric(m, `${LAT}_count`, { route }), 4);
	const sum = metric(m, `${LAT}_sum`, { route });
	assert.ok(sum > 0 && sum < 60, `sum ${sum}`);
	// every route with traffic has a histogram whose count is its requests over all statuses
	const totals = new Map();
	for (const [k, v] of m) {
		const r = /^yizhan_http_requests_total\{route="([^"]+)",status="[^"]+"\}$/.exec(k);
		if (r && r[1] !== 'unmatched' && r[1] !== 'GET /metrics') totals.set(r[1], (totals.get(r[1]) || 0) + v);
	}
	assert.ok(totals.size >= 4);
	for (const [r, n] of totals) assert.equal(metric(m, `${LAT}_count`, { route: r }), n, `${r}: histogram count vs requests`);
	assert.ok(m.has('yizhan_http_in_flight'));
});

test('the store writer reports commits, jobs and its batch-size histogram', async () => {
	const before = (await scrape()).m;
	for (let i = 0; i < 3; i++)
		await expectJson(
			await admin.post('/api/v1/orgs', { json: { code: `metrics-w${i}`, name: `写入测试${i}`, kind: 'unit', parent_id: 1 } }),
			201
		);
	const { text, m } = await scrape();
	assert.match(text, /^# TYPE yizhan_store_writer_batch_size histogram$/m);
	const B = 'yizhan_store_writer_batch_size';
	const les = ['1', '3', '7', '15', '31', '63', '127', '+Inf'];
	let prev = 0;
	for (const le of les) {
		const key = `${B}_bucket{le="${le}"}`;
		assert.ok(m.has(key), `no ${key}`);
		assert.ok(m.get(key) >= prev, `${key} not cumulative`);
		prev = m.get(key);
	}
	const batches = metric(m, 'yizhan_store_writer_batches_total');
	const jobs = metric(m, 'yizhan_store_writer_jobs_total');
	assert.equal(prev, batches, '+Inf bucket = commits');
	assert.equal(metric(m, `${B}_count`), batches);
	assert.equal(metric(m, `${B}_sum`), jobs);
	assert.ok(jobs >= batches && batches > 0);
	// the three creations were committed: at least three more jobs, at least one more commit
	assert.ok(jobs - metric(before, 'yizhan_store_writer_jobs_total') >= 3, 'writer jobs did not grow');
	assert.ok(batches - metric(before, 'yizhan_store_writer_batches_total') >= 1, 'writer commits did not grow');
	assert.ok(metric(m, 'yizhan_store_commit_seconds_total') > 0);
	assert.ok(metric(m, 'yizhan_store_read_queries_total') > 0);
	assert.equal(metric(m, 'yizhan_store_writer_queue_depth') >= 0, true);
});

// Smoke test of a real server: health, readiness, metrics, problem+json for unknown API paths, clean stop.
// Backend from env YIZHAN_TEST_BACKEND (sqlite by default; postgresql needs YIZHAN_TEST_PG).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { Client, problem } from './lib/client.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
let srv;
let c;

before(async () => {
	srv = await startServer({ backend });
	c = new Client(srv.url);
});

after(async () => {
	await srv?.cleanup();
});

test(`GET /healthz answers 200 "ok\\n" (${backend})`, async () => {
	const res = await c.get('/healthz');
	assert.equal(res.status, 200);
	assert.equal(await res.text(), 'ok\n');
});

test('GET /readyz answers 200', async () => {
	const res = await c.get('/readyz');
	const body = await res.text();
	assert.equal(res.status, 200, `readyz said ${res.status}: ${body}`);
});

test('GET /metrics is Prometheus text with the request counter', async () => {
	await c.get('/healthz'); // at least one counted request before we look
	const res = await c.get('/metrics');
	assert.equal(res.status, 200);
	assert.match(res.headers.get('content-type') || '', /^text\/plain/);
	const body = await res.text();
	assert.ok(body.includes('yizhan_http_requests_total'), `no yizhan_http_requests_total in:\n${body.slice(0, 2000)}`);
});

test('an unknown path under /api/v1/ is a 404 problem+json', async () => {
	const res = await c.get('/api/v1/no-such-thing-here');
	assert.equal(res.status, 404);
	assert.match(res.headers.get('content-type') || '', /^application\/problem\+json/);
	const p = await problem(res);
	assert.equal(p.status, 404);
});

test('the server stops cleanly on SIGTERM', async () => {
	const r = await srv.stop();
	assert.equal(r.timedOut, false, 'did not stop within 15 s of SIGTERM');
	assert.equal(r.code, 0, `exit ${r.code} signal ${r.signal}; stderr:\n${srv.stderr()}`);
});

// Asynchronous write routes (store_write_then + http_defer/http_resume): under concurrent load every
// request is answered exactly once, each answer follows its own durable row, and nothing is lost.
// The route exercised is the benchmark's (present only with --bench-routes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
let srv;

before(async () => {
	srv = await startServer({ backend, extraArgs: ['--bench-routes'] });
});

after(async () => {
	await srv?.cleanup();
});

test(`2,000 concurrent async writes are all answered with distinct ids (${backend})`, async () => {
	const N = 2000;
	const C = 48;
	const ids = new Set();
	let next = 0;
	async function loop() {
		while (next < N) {
			next++;
			const ctl = new AbortController();
			const timer = setTimeout(() => ctl.abort(), 10_000); // a lost answer fails, not hangs
			try {
				const res = await fetch(srv.url + '/api/v1/bench/rows', { method: 'POST', signal: ctl.signal });
				assert.equal(res.status, 201);
				const body = await res.json();
				assert.ok(Number.isInteger(body.id) && body.id > 0);
				assert.ok(!ids.has(body.id), `id ${body.id} answered twice`);
				ids.add(body.id);
			} finally {
				clearTimeout(timer);
			}
		}
	}
	await Promise.all(Array.from({ length: C }, loop));
	assert.equal(ids.size, N);
	// the writer committed them in batches: the metrics say so
	const m = await (await fetch(srv.url + '/metrics')).text();
	const jobs = Number(/yizhan_store_writer_jobs_total (\d+)/.exec(m)[1]);
	const batches = Number(/yizhan_store_writer_batches_total (\d+)/.exec(m)[1]);
	assert.ok(jobs >= N, `jobs ${jobs}`);
	assert.ok(batches < jobs, `no batching: ${batches} commits for ${jobs} jobs`);
});

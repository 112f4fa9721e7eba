// The peer of `flow_bench instances`: bpmn-engine (npm, the version pinned in package.json) running the
// demo approval (approval.parallel3.bpmn, the same model as packs/demo-city/flows/approval.parallel3.json)
// in memory, as fast as it goes. Each instance is one Engine over the definition parsed once
// (sourceContext: the XML is parsed and serialised once, as Yizhan compiles its definition once); every
// user task is completed as soon as it waits (the listener's `wait` event, api.signal) with the same
// outcomes and opinions flow_bench gives, and what a task reports goes into the instance's output, which
// the gateways' expressions read. CONCURRENCY instances are in flight in each of WORKERS worker threads
// (default: one per core, so it uses the machine as flow_bench does); finished instances are counted
// for DURATION seconds after a WARMUP.
//
//   node bench.mjs [--duration S] [--warmup S] [--concurrency N] [--workers N]
//
// Prints one line: "bpmn-engine VERSION instances/s RATE (N instances in S s, W workers × C in flight)".
// No state is kept anywhere: nothing is persisted (the issue compares against it "in memory").
import { availableParallelism } from 'node:os';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { Engine } from 'bpmn-engine';
import BpmnModdle from 'bpmn-moddle';
import * as elements from 'bpmn-elements';
import serializer, { TypeResolver } from 'moddle-context-serializer';

function args() {
	const o = { duration: 10, warmup: 2, concurrency: 64, workers: availableParallelism() };
	const a = process.argv.slice(2);
	for (let i = 0; i < a.length; i++) {
		const k = a[i].replace(/^--/, '');
		if (!(k in o) || i + 1 >= a.length || !(Number(a[i + 1]) > 0)) {
			console.error('usage: node bench.mjs [--duration S] [--warmup S] [--concurrency N] [--workers N]');
			process.exit(2);
		}
		o[k] = Number(a[++i]);
	}
	return o;
}

// What each handler answers: the clerk accepts, the three departments agree, the leader approves.
const answers = {
	accept: { outcome: 'accept' },
	fgw: { outcome: 'done', data: { fgw_opinion: '同意' } },
	zrzy: { outcome: 'done', data: { zrzy_opinion: '同意' } },
	zjj: { outcome: 'done', data: { zjj_opinion: '同意' } },
	sign: { outcome: 'approve' },
};
const services = {
	is: (v, want) => v === want,
	allAgreed: (o) => o.fgw_opinion === '同意' && o.zrzy_opinion === '同意' && o.zjj_opinion === '同意',
};
const startData = { applicant: '贵阳某建设有限公司', project: '花果园学校', investment: 12000, phone: '0851-85551234' };

async function sourceContext() {
	const xml = readFileSync(new URL('./approval.parallel3.bpmn', import.meta.url), 'utf8');
	const moddle = await new BpmnModdle().fromXML(xml);
	return serializer(moddle, TypeResolver(elements));
}

// One worker: keep `concurrency` instances in flight until told to stop; report completions.
async function work({ concurrency }) {
	const ctx = await sourceContext();
	const listener = new EventEmitter();
	listener.on('wait', (api) => {
		const a = answers[api.id];
		if (!a) throw new Error(`no answer for task ${api.id}`);
		api.signal(a);
	});
	// a task's report goes into the instance's output, where the gateways look
	listener.on('activity.end', (api) => {
		const out = api.content.output;
		if (api.type !== 'bpmn:UserTask' || !out) return;
		const o = api.environment.output;
		o[api.id] = out.outcome;
		if (out.data) Object.assign(o, out.data);
	});
	let done = 0;
	let stopping = false;
	let n = 0;
	function one() {
		if (stopping) return;
		const engine = new Engine({ name: `approval-${++n}`, sourceContext: ctx, services });
		engine.once('end', (execution) => {
			if (execution.environment.output.sign !== 'approve') {
				throw new Error(`instance ended without approval: ${JSON.stringify(execution.environment.output)}`);
			}
			done++;
			setImmediate(one);
		});
		engine.once('error', (err) => {
			throw err;
		});
		engine.execute({ listener, variables: { data: startData } });
	}
	parentPort.on('message', (m) => {
		if (m === 'count') parentPort.postMessage({ done });
		if (m === 'stop') {
			stopping = true;
			parentPort.postMessage({ done });
			setImmediate(() => process.exit(0));
		}
	});
	for (let i = 0; i < concurrency; i++) one();
	parentPort.postMessage({ ready: true });
}

function ask(w, what) {
	return new Promise((resolve) => {
		w.once('message', (m) => resolve(m.done));
		w.postMessage(what);
	});
}

async function main() {
	const o = args();
	const pkg = new URL('./node_modules/bpmn-engine/package.json', import.meta.url);
	const version = JSON.parse(readFileSync(pkg, 'utf8')).version;
	const workers = [];
	for (let i = 0; i < o.workers; i++) {
		const w = new Worker(new URL(import.meta.url), { workerData: { concurrency: o.concurrency } });
		w.on('error', (err) => {
			console.error(`bench.mjs: worker failed: ${err.stack || err}`);
			process.exit(1);
		});
		await new Promise((resolve) => w.once('message', resolve));
		workers.push(w);
	}
	const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));
	await sleep(o.warmup);
	const c0 = await Promise.all(workers.map((w) => ask(w, 'count')));
	const t0 = process.hrtime.bigint();
	await sleep(o.duration);
	const c1 = await Promise.all(workers.map((w) => ask(w, 'stop')));
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	const n = c1.reduce((a, b) => a + b, 0) - c0.reduce((a, b) => a + b, 0);
	console.log(
		`bpmn-engine ${version} instances/s ${(n / secs).toFixed(1)} (${n} instances in ${secs.toFixed(2)} s, ` +
			`${o.workers} workers × ${o.concurrency} in flight)`,
	);
}

if (isMainThread) await main();
else await work(workerData);

// Start and stop real `yizhan` servers for API and browser tests (Node 20, ESM, no npm dependencies).
//
//   const srv = await startServer({ backend: 'sqlite' | 'postgresql', pack, testClock, extraArgs });
//   ... fetch(srv.url + '/healthz') ...
//   await srv.cleanup();          // stops the server, drops the database, removes the data dir
//
// Each server gets a fresh data dir under the OS temp dir and, on PostgreSQL, a fresh database in the
// throwaway cluster named by env YIZHAN_TEST_PG (scripts/test starts one). `yizhan init` loads the pack
// (pack: null → init without a pack), then `yizhan serve --listen 127.0.0.1:0` is started and we wait
// for its one ready line "yizhan: serving http://127.0.0.1:PORT". The binary is env YIZHAN_BIN, or
// build/yizhan under the repository root (found from this file, not from the cwd).
//
// The handle: { url, dataDir, db, backend, proc, stop(), kill9(), restart(), cleanup(), stderr() }.
//   stop()     SIGTERM and wait for the exit; resolves { code, signal, timedOut } (a clean stop is
//              code 0; after 15 s it is killed with SIGKILL and timedOut is true).
//   kill9()    SIGKILL and wait (durability tests); resolves { code, signal }.
//   restart()  serve again on the same data dir and database (stops it first if it is running); the
//              port changes, so read srv.url again afterwards. Resolves the same handle.
//   cleanup()  stop if running, then drop the database and remove the data dir. Idempotent. With env
//              YIZHAN_KEEP_TEST_DATA=1 the data dir and database are kept (and their names printed).
//   stderr()   what the server wrote on stderr so far (the last 256 KiB), for assertion messages.
// Servers still running when the test process exits are killed and cleaned up synchronously.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
export const binary = process.env.YIZHAN_BIN || join(repoRoot, 'build', 'yizhan');

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
const STDERR_CAP = 256 * 1024;
const READY_RE = /^yizhan: serving (http:\/\/\S+)\s*$/;

const live = new Set(); // handles not yet cleaned up
const children = new Set(); // every yizhan process (init, serve, ...) started and not yet seen to exit

function track(p) {
	children.add(p);
	p.once('exit', () => children.delete(p));
	return p;
}

// On the way out (exit handler: no event loop), kill what is left and wait until it is really gone, so
// that a dying `yizhan init` or `serve` cannot write into a data dir after we removed it.
function alive(pid) {
	try {
		const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
		const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
		return state !== 'Z' && state !== 'X';
	} catch {
		return false;
	}
}
function killAllSync() {
	const pause = new Int32Array(new SharedArrayBuffer(4));
	for (const p of children) {
		try {
			p.kill('SIGKILL');
		} catch {
			// already gone
		}
	}
	const deadline = Date.now() + 5000;
	for (const p of children) while (alive(p.pid) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10);
}

function keepData() {
	return process.env.YIZHAN_KEEP_TEST_DATA === '1';
}

function checkBinary() {
	if (!existsSync(binary))
		throw new Error(`${binary} does not exist: build first (ninja -C build) or set YIZHAN_BIN`);
}

// Run the yizhan CLI to completion. Never rejects for a non-zero exit; rejects only if it cannot start.
export function runCli(args, { env = {}, input = null, timeoutMs = 120_000 } = {}) {
	checkBinary();
	return new Promise((resolve, reject) => {
		const p = track(
			spawn(binary, args, {
				cwd: repoRoot,
				env: { ...process.env, ...env },
				stdio: [input === null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
			})
		);
		const out = [];
		const err = [];
		p.stdout.on('data', (d) => out.push(d));
		p.stderr.on('data', (d) => err.push(d));
		const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
		p.on('error', (e) => {
			clearTimeout(timer);
			reject(new Error(`cannot run ${binary}: ${e.message}`));
		});
		p.on('close', (code, signal) => {
			clearTimeout(timer);
			resolve({
				code,
				signal,
				stdout: Buffer.concat(out).toString('utf8'),
				stderr: Buffer.concat(err).toString('utf8'),
			});
		});
		if (input !== null) p.stdin.end(input);
	});
}

function pgUrlFor(dbName) {
	const base = process.env.YIZHAN_TEST_PG;
	if (!base)
		throw new Error('backend postgresql needs env YIZHAN_TEST_PG (a throwaway cluster: scripts/pg-start DIR)');
	const u = new URL(base);
	u.pathname = '/' + dbName;
	return u.toString();
}

function psql(sql) {
	// The admin connection is YIZHAN_TEST_PG itself (its `postgres` database).
	execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', process.env.YIZHAN_TEST_PG, '-c', sql], {
		stdio: ['ignore', 'ignore', 'pipe'],
		timeout: 60_000,
	});
}

function createDatabase() {
	const name = `yz_t_${process.pid}_${randomBytes(4).toString('hex')}`;
	const url = pgUrlFor(name);
	try {
		psql(`CREATE DATABASE "${name}"`);
	} catch (e) {
		throw new Error(`CREATE DATABASE ${name} failed: ${e.stderr?.toString() || e.message}`);
	}
	return { name, url };
}

function dropDatabase(name) {
	psql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

function waitExit(proc, timeoutMs) {
	return new Promise((resolve) => {
		if (proc.exitCode !== null || proc.signalCode !== null) {
			resolve({ code: proc.exitCode, signal: proc.signalCode });
			return;
		}
		let timer = null;
		let timedOut = false;
		if (timeoutMs) {
			timer = setTimeout(() => {
				// Did not stop in time: force it, and say so in the result.
				timedOut = true;
				proc.kill('SIGKILL');
			}, timeoutMs);
		}
		proc.once('exit', (code, signal) => {
			if (timer) clearTimeout(timer);
			resolve({ code, signal, timedOut });
		});
	});
}

// Spawn `yizhan serve` and resolve once it printed its ready line.
function spawnServe(h) {
	const args = ['serve', '--data', h.dataDir];
	if (h.db) args.push('--db', h.db);
	args.push('--listen', '127.0.0.1:0', '--log-level', 'warn');
	// The 三员 need TOTP by default (等保 level 3); tests sign them in with passwords unless a test asks
	// for the rule (tests/api/totp.test.mjs passes the roles again in extraArgs, which come later).
	args.push('--totp-required-roles', '');
	if (h.testClock) args.push('--test-clock');
	args.push(...h.extraArgs);

	const proc = track(spawn(binary, args, { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] }));
	h.proc = proc;
	h._stderr = '';
	proc.stderr.setEncoding('utf8');
	proc.stderr.on('data', (d) => {
		h._stderr += d;
		if (h._stderr.length > STDERR_CAP) h._stderr = h._stderr.slice(-STDERR_CAP);
	});
	proc.stdout.setEncoding('utf8');

	return new Promise((resolve, reject) => {
		let buf = '';
		let settled = false;
		const cmd = `${binary} ${args.join(' ')}`;
		const fail = (why) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			const err = h._stderr.trim();
			reject(new Error(`yizhan serve ${why}\n  command: ${cmd}\n  stderr:${err ? '\n' + err : ' (empty)'}`));
		};
		const timer = setTimeout(() => {
			proc.kill('SIGKILL');
			fail(`printed no "yizhan: serving" line within ${READY_TIMEOUT_MS / 1000} s`);
		}, READY_TIMEOUT_MS);
		proc.stdout.on('data', (d) => {
			if (settled) return; // keep draining stdout so the server never blocks on it
			buf += d;
			let nl;
			while ((nl = buf.indexOf('\n')) >= 0) {
				const line = buf.slice(0, nl);
				buf = buf.slice(nl + 1);
				const m = READY_RE.exec(line);
				if (m) {
					settled = true;
					clearTimeout(timer);
					h.url = m[1].replace(/\/$/, '');
					resolve(h);
					return;
				}
			}
		});
		proc.on('error', (e) => fail(`could not start: ${e.message}`));
		proc.on('exit', (code, signal) => {
			// Wait for stderr to drain so the message shows why it died.
			proc.stderr.once('close', () => fail(`exited before it was ready (code ${code}, signal ${signal})`));
			if (proc.stderr.closed) fail(`exited before it was ready (code ${code}, signal ${signal})`);
		});
	});
}

function running(h) {
	return h.proc && h.proc.exitCode === null && h.proc.signalCode === null;
}

export async function startServer({
	backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite',
	pack = 'demo-city',
	testClock = false,
	extraArgs = [],
} = {}) {
	if (backend !== 'sqlite' && backend !== 'postgresql')
		throw new Error(`unknown backend ${backend} (sqlite or postgresql)`);
	checkBinary();
	const h = {
		backend,
		pack,
		testClock,
		extraArgs,
		url: null,
		dataDir: mkdtempSync(join(tmpdir(), 'yizhan-test-')),
		db: null,
		dbName: null,
		proc: null,
		_stderr: '',
		_cleaned: false,
	};
	live.add(h);
	h.stderr = () => h._stderr;
	h.stop = async () => {
		if (!h.proc) return { code: null, signal: null };
		if (running(h)) h.proc.kill('SIGTERM');
		return waitExit(h.proc, STOP_TIMEOUT_MS);
	};
	h.kill9 = async () => {
		if (!h.proc) return { code: null, signal: null };
		if (running(h)) h.proc.kill('SIGKILL');
		return waitExit(h.proc, 0);
	};
	h.restart = async () => {
		if (running(h)) await h.stop();
		return spawnServe(h);
	};
	h.cleanup = async () => {
		if (h._cleaned) return;
		await h.stop();
		cleanupSync(h);
	};

	try {
		if (backend === 'postgresql') {
			const { name, url } = createDatabase();
			h.dbName = name;
			h.db = url;
		}
		const initArgs = ['init'];
		if (pack !== null) initArgs.push('--pack', pack);
		initArgs.push('--data', h.dataDir);
		if (h.db) initArgs.push('--db', h.db);
		const r = await runCli(initArgs);
		if (r.code !== 0)
			throw new Error(
				`yizhan ${initArgs.join(' ')} failed (code ${r.code}, signal ${r.signal})\n${r.stderr.trim()}`
			);
		await spawnServe(h);
		return h;
	} catch (e) {
		if (running(h)) h.proc.kill('SIGKILL');
		cleanupSync(h);
		throw e;
	}
}

function cleanupSync(h) {
	if (h._cleaned) return;
	h._cleaned = true;
	live.delete(h);
	if (keepData()) {
		process.stderr.write(`yizhan test data kept: ${h.dataDir}${h.dbName ? ' and database ' + h.dbName : ''}\n`);
		return;
	}
	if (h.dbName) {
		try {
			dropDatabase(h.dbName);
		} catch (e) {
			process.stderr.write(`warning: could not drop database ${h.dbName}: ${e.stderr?.toString() || e.message}\n`);
		}
	}
	rmSync(h.dataDir, { recursive: true, force: true });
}

// Whatever the tests forgot (or a failed assertion skipped): kill and clean up on the way out.
process.on('exit', () => {
	killAllSync();
	for (const h of [...live]) cleanupSync(h);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)));

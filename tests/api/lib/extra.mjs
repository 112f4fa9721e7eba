// Helpers shared by the API test files beyond lib/server.mjs and lib/client.mjs (Node 20, ESM).
//
//   raw(srv.url, 'GET /static/../x HTTP/1.1\r\n...')  one request written verbatim on a fresh TCP
//                                                     connection (fetch and URL would normalise dot
//                                                     segments); resolves {status, headers, body}
//   signIn(url, login, password)                      a Client that is signed in
//   flip(token)                                       the same token with its first character changed
//   expectProblem(res, status)                        asserts the HTTP status and problem+json; the body
//   metrics(text) / metric(map, name, labels)         Prometheus text → Map; one sample (0 when absent)
//   usccCheck(first17)                                the GB 32100 check character
//   sql(srv, statement)                               run SQL directly on the server's database (sqlite3
//                                                     CLI on DATA/yizhan.db, or psql on its URL); stdout
//   DEMO                                              demo-city logins and passwords used by the tests
import net from 'node:net';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client, problem } from './client.mjs';

export const DEMO = {
	admin: ['admin', 'Admin@2026!'],
	secadmin: ['secadmin', 'SecAdmin@2026!'],
	auditor: ['auditor', 'Auditor@2026!'],
	deptAdminFgw: ['zhangwei.fgw', 'Yizhan@2026'], // 部门管理员 of 520100-fgw
	clerkFgw: ['chenjing.fgw', 'Yizhan@2026'], // 经办人 of 520100-fgw
	citizen: ['wangfang', 'Shimin@2026'],
};

// The same token with its first character changed: same length, wrong value.
export function flip(token) {
	return (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
}

export async function signIn(url, login, password) {
	const c = new Client(url);
	await c.login(login, password);
	return c;
}

export async function expectProblem(res, status, what = '') {
	if (res.status !== status) {
		const text = await res.text();
		assert.fail(`${what ? what + ': ' : ''}expected HTTP ${status}, got ${res.status}: ${text.slice(0, 800)}`);
	}
	return problem(res);
}

export async function expectJson(res, status, what = '') {
	const text = await res.text();
	assert.equal(res.status, status, `${what ? what + ': ' : ''}HTTP ${res.status}: ${text.slice(0, 800)}`);
	assert.match(res.headers.get('content-type') || '', /^application\/json\b/, `${what}: not JSON`);
	return JSON.parse(text);
}

// One request written byte for byte; the server must answer and may close. Times out after 10 s.
export function raw(baseUrl, request) {
	const u = new URL(baseUrl);
	return new Promise((resolve, reject) => {
		const chunks = [];
		const s = net.connect(Number(u.port), u.hostname, () => s.write(request));
		const timer = setTimeout(() => {
			s.destroy();
			reject(new Error(`no complete answer within 10 s to: ${request.split('\r\n')[0]}`));
		}, 10_000);
		const finish = () => {
			clearTimeout(timer);
			const buf = Buffer.concat(chunks);
			const end = buf.indexOf('\r\n\r\n');
			if (end < 0) {
				reject(new Error(`no HTTP answer to: ${request.split('\r\n')[0]} (got ${JSON.stringify(buf.toString())})`));
				return;
			}
			const head = buf.subarray(0, end).toString('latin1').split('\r\n');
			const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
			const headers = {};
			for (const line of head.slice(1)) {
				const i = line.indexOf(':');
				if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
			}
			resolve({ status: m ? Number(m[1]) : 0, headers, body: buf.subarray(end + 4).toString('utf8') });
		};
		s.on('data', (d) => chunks.push(d));
		s.on('end', finish);
		s.on('error', (e) => {
			clearTimeout(timer);
			if (chunks.length) finish();
			else reject(e);
		});
	});
}

// Prometheus text exposition → Map("name{a="x",b="y"}" → number), labels kept in their printed order.
export function metrics(text) {
	const m = new Map();
	for (const line of text.split('\n')) {
		if (!line || line.startsWith('#')) continue;
		const sp = line.lastIndexOf(' ');
		m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
	}
	return m;
}

export function metric(map, name, labels = null) {
	const key = labels
		? `${name}{${Object.entries(labels)
				.map(([k, v]) => `${k}="${v}"`)
				.join(',')}}`
		: name;
	return map.get(key) ?? 0;
}

// GB 32100-2015: 31-character alphabet, weights 3^i mod 31, check = (31 - sum mod 31) mod 31.
const USCC_ALPHA = '0123456789ABCDEFGHJKLMNPQRTUWXY';
export function usccCheck(first17) {
	let sum = 0;
	let w = 1;
	for (const ch of first17) {
		const v = USCC_ALPHA.indexOf(ch);
		if (v < 0) throw new Error(`not a USCC character: ${ch}`);
		sum += v * w;
		w = (w * 3) % 31;
	}
	return USCC_ALPHA[(31 - (sum % 31)) % 31];
}
export function usccWrongCheck(first17) {
	const good = usccCheck(first17);
	return USCC_ALPHA[(USCC_ALPHA.indexOf(good) + 1) % 31];
}

// Run one SQL statement on the server's own database, outside the program. stdout is returned trimmed
// (one row per line, columns separated by '|').
export function sql(srv, statement) {
	if (srv.backend === 'postgresql')
		return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', srv.db, '-c', statement], {
			encoding: 'utf8',
			timeout: 60_000,
		}).trim();
	return execFileSync('sqlite3', ['-batch', join(srv.dataDir, 'yizhan.db'), statement], {
		encoding: 'utf8',
		timeout: 60_000,
	}).trim();
}

// `yizhan <args> --data DIR [--db URL]` for a server handle.
export function dataArgs(srv) {
	return srv.db ? ['--data', srv.dataDir, '--db', srv.db] : ['--data', srv.dataDir];
}

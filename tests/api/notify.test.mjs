// Notifications through a real server: e-mail to a real SMTP catcher (npm smtp-server, installed in
// tests/e2e/node_modules) and SMS to an HTTP stand-in of the gateway, both run by this test process, so
// every delivery is observed at the receiver. Until the flow engine produces notifications, they are
// enqueued through POST /api/v1/test/notify, which exists only with --test-clock.
//
// Journeys: in-app messages (mine only, read/unread); e-mail and SMS arrive exactly as specified; a
// failing gateway is retried with backoff (moved on by the test clock), then failed, alerted, visible in
// the outbox and /metrics, and sent again by an operator; kill -9 between sending and recording: after a
// restart every message is at the receivers exactly once once duplicates are dropped by their key, at
// most twice on the wire, and nothing that was recorded as sent goes out again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { startServer, repoRoot } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, signIn, expectJson, expectProblem, metrics, metric } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const { SMTPServer } = createRequire(`${repoRoot}/tests/e2e/package.json`)('smtp-server');

const BACKOFF_MS = 1000;
const MAX_TRIES = 3;
const TIMEOUT_MS = 3000;
// a lease covers one send (timeout), a second to record it and a 5 s margin, per position in the batch
const LEASE_SLACK_MS = 60_000;
const WAIT_MS = 20_000;

// ---- the receivers ----

// Wait until cond() is true (polling), or fail after WAIT_MS saying what we waited for.
async function until(what, cond) {
	const t0 = Date.now();
	for (;;) {
		const v = await cond();
		if (v) return v;
		if (Date.now() - t0 > WAIT_MS) assert.fail(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

function headerOf(raw, name) {
	const head = raw.split('\r\n\r\n')[0].replace(/\r\n[ \t]+/g, ' ');
	const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(head);
	return m ? m[1] : null;
}

function decode2047(v) {
	return v.replace(/=\?UTF-8\?B\?([^?]*)\?=\s*/gi, (_, b64) => Buffer.from(b64, 'base64').toString('utf8'));
}

// An SMTP catcher: every message that came in full (before it is answered), and the unique ones by
// Message-ID. hold: take the message in but never answer (the sender waits until it is killed).
function smtpCatcher() {
	const c = { wire: [], unique: new Map(), hold: false, onMessage: null };
	c.server = new SMTPServer({
		authOptional: true,
		disabledCommands: ['AUTH', 'STARTTLS'],
		logger: false,
		onData(stream, session, cb) {
			const chunks = [];
			stream.on('data', (d) => chunks.push(d));
			stream.on('end', () => {
				const raw = Buffer.concat(chunks).toString('utf8');
				const m = {
					from: session.envelope.mailFrom.address,
					to: session.envelope.rcptTo.map((r) => r.address),
					body8bit: session.envelope.bodyType === '8bitmime',
					raw,
					id: headerOf(raw, 'Message-ID'),
				};
				c.wire.push(m);
				if (!c.unique.has(m.id)) c.unique.set(m.id, m);
				if (!c.hold) cb();
			});
		},
	});
	c.listen = () => new Promise((r) => c.server.listen(0, '127.0.0.1', () => r(c.server.server.address().port)));
	c.close = () => new Promise((r) => c.server.close(r));
	c.count = (id) => c.wire.filter((m) => m.id === id).length;
	return c;
}

// The SMS gateway stand-in: POST JSON {to, text, key} with Idempotency-Key; answers `status`, or
// nothing at all while hold is set.
function smsGateway() {
	const g = { wire: [], unique: new Map(), status: 200, hold: false, held: [] };
	g.server = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (d) => chunks.push(d));
		req.on('end', () => {
			const body = Buffer.concat(chunks).toString('utf8');
			const r = { path: req.url, key: req.headers['idempotency-key'], type: req.headers['content-type'], body };
			g.wire.push(r);
			if (!g.unique.has(r.key)) g.unique.set(r.key, r);
			if (g.hold) {
				g.held.push(res);
				return;
			}
			res.writeHead(g.status, { 'content-type': 'text/plain' });
			res.end(g.status < 300 ? 'ok' : 'gateway busy');
		});
	});
	g.listen = () => new Promise((r) => g.server.listen(0, '127.0.0.1', () => r(g.server.address().port)));
	g.close = () => {
		for (const res of g.held) res.destroy();
		g.server.closeAllConnections?.();
		return new Promise((r) => g.server.close(r));
	};
	g.count = (key) => g.wire.filter((r) => r.key === key).length;
	return g;
}

// ---- the server ----

let srv, smtp, sms, smtpPort, smsPort;
let admin; // holds notify.manage (granted below)

before(async () => {
	smtp = smtpCatcher();
	sms = smsGateway();
	smtpPort = await smtp.listen();
	smsPort = await sms.listen();
	srv = await startServer({
		backend,
		testClock: true,
		extraArgs: [
			'--smtp-host', '127.0.0.1',
			'--smtp-port', String(smtpPort),
			'--mail-from', 'noreply@yizhan.test',
			'--sms-gateway', `http://127.0.0.1:${smsPort}/sms`,
			'--notify-backoff-ms', String(BACKOFF_MS),
			'--notify-max-tries', String(MAX_TRIES),
			'--notify-timeout-ms', String(TIMEOUT_MS),
		],
	});
	admin = await grantNotifyManage(srv.url);
});

after(async () => {
	await srv?.cleanup();
	await smtp?.close();
	await sms?.close();
});

// notify.manage is new: the security administrator defines a role with it and grants it to admin at
// the city level, next to admin's own roles.
async function grantNotifyManage(url) {
	const sec = await signIn(url, ...DEMO.secadmin);
	const made = await sec.post('/api/v1/roles', {
		json: { code: 'notify_admin', name: '通知管理员', permissions: ['workbench.use', 'notify.manage'] },
	});
	if (made.status !== 201) {
		// a pack may define the role already; anything else is wrong
		const p = await expectProblem(made, 400, 'create the role');
		assert.deepEqual(p.errors.map((x) => [x.field, x.rule]), [['code', 'unique']]);
	}
	const found = await expectJson(await sec.get('/api/v1/users?q=admin'), 200);
	const user = found.items.find((u) => u.login === 'admin');
	const full = await expectJson(await sec.get(`/api/v1/users/${user.id}`), 200);
	const city = full.roles[0].scope;
	const roles = full.roles.map((r) => ({ role: r.role, scope: r.scope }));
	if (!roles.some((r) => r.role === 'notify_admin')) roles.push({ role: 'notify_admin', scope: city });
	await expectJson(await sec.put(`/api/v1/users/${user.id}/roles`, { json: { roles } }), 200, 'grant');
	return signIn(url, ...DEMO.admin);
}

async function enqueue(url, msg, status = 201) {
	const res = await new Client(url).post('/api/v1/test/notify', { json: msg });
	return expectJson(res, status, `enqueue ${msg.key ?? msg.channel}`);
}

// How far the server's test clock is ahead of the real one. A restarted server starts from the real
// clock again, behind the times the dead one wrote (its leases): restarted() catches up.
let clockAhead = 0;
async function advance(url, ms) {
	await expectJson(await new Client(url).post('/api/v1/test/clock', { json: { advance_ms: ms } }), 200);
	clockAhead += ms;
}

// After a kill -9: restart, catch the clock up and let the dead process's leases run out.
async function restarted() {
	await srv.restart();
	const behind = clockAhead;
	clockAhead = 0;
	await advance(srv.url, behind + LEASE_SLACK_MS);
	admin = await signIn(srv.url, ...DEMO.admin);
}

async function outboxItem(client, id) {
	return expectJson(await client.get(`/api/v1/outbox/${id}`), 200, `outbox ${id}`);
}

// Enqueue an SMS and wait until the gateway has it: proof that the delivery job ran since.
async function delivered(key) {
	await enqueue(srv.url, { channel: 'sms', to: '13800000099', body: 'marker', key });
	await until(`${key} at the gateway`, () => sms.count(key) === 1);
}

// ---- tests ----

// Each test starts with receivers that answer at once and accept.
test.beforeEach(() => {
	sms.status = 200;
	sms.hold = false;
	smtp.hold = false;
});

test(`in-app notifications: mine only, unread until read, audited (${backend})`, async () => {
	const me = await signIn(srv.url, ...DEMO.clerkFgw);
	const myId = (await expectJson(await me.get('/api/v1/me'), 200)).id;
	const first = await enqueue(srv.url, {
		channel: 'inapp',
		user_id: myId,
		subject: '您的申请已受理',
		body: '受理编号 2026-0001。',
		link: '/workbench',
		key: 'api-inapp-1',
	});
	assert.equal(first.created, true);
	// the same key again is a no-op
	const again = await enqueue(srv.url, { channel: 'inapp', user_id: myId, subject: 'x', body: 'y', key: 'api-inapp-1' }, 200);
	assert.deepEqual(again, { id: first.id, created: false });

	let list = await expectJson(await me.get('/api/v1/notifications'), 200);
	assert.equal(list.unread, 1);
	assert.equal(list.items.length, 1);
	assert.equal(list.items[0].subject, '您的申请已受理');
	assert.equal(list.items[0].link, '/workbench');
	assert.equal(list.items[0].read, false);
	assert.match(list.items[0].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);

	// somebody else neither sees it nor can mark it
	const other = await signIn(srv.url, ...DEMO.deptAdminFgw);
	assert.equal((await expectJson(await other.get('/api/v1/notifications'), 200)).items.length, 0);
	await expectProblem(await other.post(`/api/v1/notifications/${first.id}/read`), 404);
	// signed out: 401; without the CSRF token: 403
	await expectProblem(await new Client(srv.url).get('/api/v1/notifications'), 401);
	await expectProblem(await me.post(`/api/v1/notifications/${first.id}/read`, { headers: { 'x-csrf-token': null } }), 403);

	const res = await me.post(`/api/v1/notifications/${first.id}/read`);
	assert.equal(res.status, 204);
	list = await expectJson(await me.get('/api/v1/notifications'), 200);
	assert.equal(list.unread, 0);
	assert.equal(list.items[0].read, true);
	assert.equal((await expectJson(await me.get('/api/v1/notifications?unread=1'), 200)).items.length, 0);
	const marked = await expectJson(await me.post('/api/v1/notifications/read-all'), 200);
	assert.deepEqual(marked, { marked: 0 });

	const auditor = await signIn(srv.url, ...DEMO.auditor);
	const audit = await expectJson(await auditor.get(`/api/v1/audit?object=notify:${first.id}`), 200);
	assert.deepEqual(
		audit.items.map((r) => [r.action, r.actor]),
		[['notify.read', 'chenjing.fgw']]
	);
	// in-app messages are not in the outbox
	await expectProblem(await admin.get(`/api/v1/outbox/${first.id}`), 404);
});

test(`the outbox needs notify.manage, city-wide (${backend})`, async () => {
	const clerk = await signIn(srv.url, ...DEMO.clerkFgw);
	await expectProblem(await clerk.get('/api/v1/outbox'), 403);
	await expectProblem(await clerk.post('/api/v1/outbox/1/retry'), 403);
	await expectProblem(await admin.get('/api/v1/outbox?status=lost'), 400);
	const list = await expectJson(await admin.get('/api/v1/outbox'), 200);
	assert.deepEqual(Object.keys(list.counts).sort(), ['failed', 'queued', 'sending', 'sent']);
	// bad messages are refused with every fault named
	const p = await expectProblem(
		await new Client(srv.url).post('/api/v1/test/notify', { json: { channel: 'email', to: 'nobody', body: 'x' } }),
		400
	);
	assert.deepEqual(p.errors.map((e) => e.field).sort(), ['key', 'subject', 'to']);
});

test(`e-mail and SMS arrive at real receivers exactly as specified (${backend})`, async () => {
	const subject = '办件通知：您的申请已受理（第 2026-0002 号）';
	const body = '陈静您好：\n.\n您的申请已受理，请留意后续通知。\n';
	const mail = await enqueue(srv.url, { channel: 'email', to: 'chenjing.fgw@example.gov.cn', subject, body, key: 'api-mail-1' });
	const text = await enqueue(srv.url, { channel: 'sms', to: '13800000011', body: '【一站】您的申请已受理。', key: 'api-sms-1' });

	const m = await until('the e-mail at the catcher', () => smtp.unique.get('<api-mail-1@yizhan>'));
	assert.equal(m.from, 'noreply@yizhan.test');
	assert.deepEqual(m.to, ['chenjing.fgw@example.gov.cn']);
	assert.equal(m.body8bit, true, 'BODY=8BITMIME: the catcher offers 8BITMIME');
	assert.match(headerOf(m.raw, 'Subject'), /^=\?UTF-8\?B\?/);
	assert.equal(decode2047(headerOf(m.raw, 'Subject')), subject);
	assert.equal(headerOf(m.raw, 'From'), 'noreply@yizhan.test');
	assert.equal(headerOf(m.raw, 'To'), 'chenjing.fgw@example.gov.cn');
	assert.equal(headerOf(m.raw, 'Content-Type'), 'text/plain; charset=UTF-8');
	assert.equal(headerOf(m.raw, 'Content-Transfer-Encoding'), '8bit');
	assert.match(headerOf(m.raw, 'Date'), /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0800$/);
	// the lone "." line survived dot-stuffing
	assert.equal(m.raw.split('\r\n\r\n').slice(1).join('\r\n\r\n'), body.replace(/\n/g, '\r\n'));

	const s = await until('the SMS at the gateway', () => sms.unique.get('api-sms-1'));
	assert.equal(s.path, '/sms');
	assert.equal(s.type, 'application/json; charset=utf-8');
	assert.deepEqual(JSON.parse(s.body), { to: '13800000011', text: '【一站】您的申请已受理。', key: 'api-sms-1' });

	// recorded as sent, once, with the recipient masked
	const o = await until('the e-mail recorded as sent', async () => {
		const x = await outboxItem(admin, mail.id);
		return x.status === 'sent' && x;
	});
	assert.equal(o.attempts, 1);
	assert.equal(o.to, 'c***@example.gov.cn');
	const t = await until('the SMS recorded as sent', async () => {
		const x = await outboxItem(admin, text.id);
		return x.status === 'sent' && x;
	});
	assert.equal(t.to, '138****0011');
	assert.equal(smtp.count('<api-mail-1@yizhan>'), 1);
	assert.equal(sms.count('api-sms-1'), 1);
});

test(`a failing gateway: backoff, failed after ${MAX_TRIES} tries, alert, retry by an operator (${backend})`, async () => {
	sms.status = 503;
	const { id } = await enqueue(srv.url, { channel: 'sms', to: '13800000012', body: '验证码 654321', key: 'api-sms-retry' });
	await until('try 1', () => sms.count('api-sms-retry') === 1);
	let o = await until('try 1 recorded', async () => {
		const x = await outboxItem(admin, id);
		return x.attempts === 1 && x.status === 'queued' && x;
	});
	assert.equal(o.last_error, `HTTP 503 from 127.0.0.1:${smsPort}: gateway busy`);
	assert.ok(o.next_at, 'a queued message tells when it is due again');

	// due again after backoff × 2^(n-1): 1 s, then 2 s
	await advance(srv.url, BACKOFF_MS);
	await until('try 2', () => sms.count('api-sms-retry') === 2);
	await until('try 2 recorded', async () => (await outboxItem(admin, id)).attempts === 2);
	await advance(srv.url, 2 * BACKOFF_MS);
	await until('try 3', () => sms.count('api-sms-retry') === 3);
	o = await until('failed', async () => {
		const x = await outboxItem(admin, id);
		return x.status === 'failed' && x;
	});
	assert.equal(o.attempts, MAX_TRIES);
	assert.equal(o.alert, true);
	const failed = await expectJson(await admin.get('/api/v1/outbox?status=failed'), 200);
	assert.ok(failed.items.some((x) => x.id === id && x.alert));
	assert.ok(failed.alerts >= 1);
	await until('the alert in /metrics', async () => {
		const m = metrics(await (await fetch(srv.url + '/metrics')).text());
		return metric(m, 'yizhan_notify_alerts_open') >= 1 && metric(m, 'yizhan_notify_failed_total') >= 1;
	});
	// failed stays failed: an hour later the job still runs (a later message goes out) but this one
	// does not
	await advance(srv.url, 3600_000);
	sms.status = 200;
	await delivered('api-sms-marker-1');
	assert.equal(sms.count('api-sms-retry'), MAX_TRIES);
	admin = await signIn(srv.url, ...DEMO.admin); // the hour ended the idle session

	// the operator sends it again once the gateway is back
	const clerk = await signIn(srv.url, ...DEMO.clerkFgw);
	await expectProblem(await clerk.post(`/api/v1/outbox/${id}/retry`), 403);
	const r = await expectJson(await admin.post(`/api/v1/outbox/${id}/retry`), 200, 'retry');
	assert.equal(r.attempts, 0);
	assert.equal(r.alert, false);
	o = await until('sent after the retry', async () => {
		const x = await outboxItem(admin, id);
		return x.status === 'sent' && x;
	});
	assert.equal(sms.count('api-sms-retry'), MAX_TRIES + 1);
	assert.equal(sms.wire.filter((x) => x.key === 'api-sms-retry').every((x) => JSON.parse(x.body).key === 'api-sms-retry'), true);
	await expectProblem(await admin.post(`/api/v1/outbox/${id}/retry`), 409);
	const auditor = await signIn(srv.url, ...DEMO.auditor);
	const audit = await expectJson(await auditor.get(`/api/v1/audit?object=notify:${id}`), 200);
	assert.deepEqual(audit.items.map((x) => x.action), ['notify.sent', 'notify.retry', 'notify.failed']);
});

test(`kill -9 between sending and recording: exactly once after dedup, never an acknowledged one again (${backend})`, async () => {
	admin = await signIn(srv.url, ...DEMO.admin);
	// A is sent and recorded before anything happens
	const a = await enqueue(srv.url, { channel: 'sms', to: '13800000021', body: 'A', key: 'crash-a' });
	const am = await enqueue(srv.url, { channel: 'email', to: 'a@example.gov.cn', subject: 'A', body: 'A', key: 'crash-am' });
	await until('A recorded as sent', async () => (await outboxItem(admin, a.id)).status === 'sent');
	await until('AM recorded as sent', async () => (await outboxItem(admin, am.id)).status === 'sent');

	// B reaches the gateway, which does not answer; C is claimed behind it; then the process dies
	sms.hold = true;
	const b = await enqueue(srv.url, { channel: 'sms', to: '13800000022', body: 'B', key: 'crash-b' });
	const c = await enqueue(srv.url, { channel: 'sms', to: '13800000023', body: 'C', key: 'crash-c' });
	await until('B on the wire', () => sms.count('crash-b') === 1);
	await srv.kill9();
	sms.hold = false;
	for (const res of sms.held.splice(0)) res.destroy();

	// the leases of the dead process run out; then both go out (again)
	await restarted();
	await until('B recorded as sent', async () => (await outboxItem(admin, b.id)).status === 'sent');
	await until('C recorded as sent', async () => (await outboxItem(admin, c.id)).status === 'sent');

	// the same for e-mail: D is taken in by the catcher, which does not answer, and the process dies
	smtp.hold = true;
	const d = await enqueue(srv.url, { channel: 'email', to: 'd@example.gov.cn', subject: '崩溃', body: 'D', key: 'crash-d' });
	await until('D on the wire', () => smtp.count('<crash-d@yizhan>') === 1);
	await srv.kill9();
	smtp.hold = false;
	await restarted();
	await until('D recorded as sent', async () => (await outboxItem(admin, d.id)).status === 'sent');

	// at the receivers: each once after dropping repeats by key, at most twice on the wire, and the
	// ones recorded before the kills never again
	for (const key of ['crash-a', 'crash-b', 'crash-c']) assert.ok(sms.unique.has(key), key);
	for (const id of ['<crash-am@yizhan>', '<crash-d@yizhan>']) assert.ok(smtp.unique.has(id), id);
	assert.equal(sms.count('crash-a'), 1);
	assert.equal(smtp.count('<crash-am@yizhan>'), 1);
	assert.equal(sms.count('crash-b'), 2);
	assert.ok(sms.count('crash-c') >= 1 && sms.count('crash-c') <= 2);
	assert.equal(smtp.count('<crash-d@yizhan>'), 2);
	assert.equal((await outboxItem(admin, b.id)).attempts, 2);
	assert.equal((await outboxItem(admin, a.id)).attempts, 1);
	// nothing more goes out later
	await advance(srv.url, 24 * 3600_000);
	await delivered('crash-marker');
	assert.equal(sms.count('crash-a') + sms.count('crash-b'), 3);
	assert.equal(smtp.count('<crash-d@yizhan>'), 2);
});

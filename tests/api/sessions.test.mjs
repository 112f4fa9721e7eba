// Sessions: sign-in through POST /api/v1/session, /api/v1/me, one message for every wrong credential,
// lockout after 5 failures for 15 minutes, sign-out, and the 30-minute idle timeout. The server runs
// with --test-clock, so time moves only through POST /api/v1/test/clock {"advance_ms": n}; the clock is
// the whole server's, so the tests of this file run in order on one server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const MIN = 60_000;
let srv;

before(async () => {
	srv = await startServer({ backend, testClock: true });
});

after(async () => {
	await srv?.cleanup();
});

async function advance(ms) {
	const res = await new Client(srv.url).post('/api/v1/test/clock', { json: { advance_ms: ms } });
	const body = await expectJson(res, 200, 'test clock');
	assert.match(body.now, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
	return body.now;
}

// Stop the clock where it is: a slow run (sanitizers) must not move the
// 15-minute boundary while the test reasons about it to the second.
async function freezeClock() {
	const now = await advance(0);
	const res = await new Client(srv.url).post('/api/v1/test/clock', { json: { set: now } });
	await expectJson(res, 200, 'test clock set');
}

function attempt(login, password) {
	return new Client(srv.url).post('/api/v1/session', { json: { login, password } });
}

test(`sign-in answers 201 with a CSRF token and an HttpOnly yz_sid cookie (${backend})`, async () => {
	const c = new Client(srv.url);
	const res = await c.post('/api/v1/session', { json: { login: DEMO.clerkFgw[0], password: DEMO.clerkFgw[1] } });
	const body = await expectJson(res, 201, 'sign-in');
	assert.equal(typeof body.user_id, 'number');
	assert.match(body.csrf, /^[A-Za-z0-9_-]{20,}$/);
	assert.deepEqual(Object.keys(body).sort(), ['csrf', 'user_id']);

	const cookies = res.headers.getSetCookie();
	const sid = cookies.find((s) => s.startsWith('yz_sid='));
	assert.ok(sid, `no yz_sid cookie in ${JSON.stringify(cookies)}`);
	const attrs = sid.split(';').map((s) => s.trim().toLowerCase());
	assert.ok(attrs.includes('httponly'), `yz_sid is not HttpOnly: ${sid}`);
	assert.ok(attrs.includes('path=/'), `yz_sid has no Path=/: ${sid}`);
	assert.ok(attrs.includes('samesite=lax') || attrs.includes('samesite=strict'), `yz_sid has no SameSite: ${sid}`);
	assert.ok(!attrs.some((a) => a.startsWith('max-age') || a.startsWith('expires')), `yz_sid should be a session cookie: ${sid}`);
	const value = sid.slice('yz_sid='.length).split(';')[0];
	assert.ok(value.length >= 40, `session token too short: ${value}`);
	assert.ok(!value.includes(body.csrf), 'the session token holds the CSRF token');
	c.csrf = body.csrf;

	// /api/v1/me: the user, roles and permissions, and the same CSRF token
	const me = await expectJson(await c.get('/api/v1/me'), 200, '/me');
	assert.equal(me.id, body.user_id);
	assert.equal(me.login, DEMO.clerkFgw[0]);
	assert.equal(me.name, '陈静');
	assert.equal(me.kind, 'civil_servant');
	assert.equal(me.csrf, body.csrf);
	assert.equal(me.failed_logins, 0);
	assert.equal(me.locked_until, null);
	assert.match(me.last_login_at, /\+08:00$/);
	assert.equal(me.pw_hash, undefined, '/me shows the password hash');
	assert.deepEqual(
		me.roles.map((r) => [r.role, r.scope_code]),
		[
			['clerk', '520100-fgw'],
			['seal_user', '520100-fgw'], // the demo's clerk also applies her department's seal
		]
	);
	assert.deepEqual(Object.keys(me.permissions).sort(), ['iam.org.read', 'pki.seal.use', 'supervise.respond', 'workbench.use']);
	const fgwPath = me.permissions['iam.org.read'][0];
	assert.match(fgwPath, /^\/1\/\d+\/$/);
	assert.deepEqual(me.permissions['workbench.use'], [fgwPath]);
	assert.deepEqual(me.permissions['supervise.respond'], [fgwPath]);

	// the system administrator's permissions are those of sys_admin over the whole city
	const admin = await signIn(srv.url, ...DEMO.admin);
	const am = await expectJson(await admin.get('/api/v1/me'), 200);
	assert.deepEqual(am.roles.map((r) => [r.role, r.scope_code]), [['sys_admin', '520100']]);
	assert.deepEqual(am.permissions, {
		'flow.admin': ['/1/'],
		'iam.client.manage': ['/1/'],
		'iam.org.manage': ['/1/'],
		'iam.org.read': ['/1/'],
		'iam.user.manage': ['/1/'],
		'iam.user.read': ['/1/'],
		'notify.manage': ['/1/'],
		'workbench.use': ['/1/'],
	});
});

test('a wrong password and an unknown login get the same 401 answer', async () => {
	const wrongPw = await expectProblem(await attempt(DEMO.citizen[0], 'Wrong@2026x'), 401);
	const unknown = await expectProblem(await attempt('nobody.here', 'Wrong@2026x'), 401);
	for (const p of [wrongPw, unknown]) {
		delete p.request_id;
		assert.equal(p.type, '/problems/unauthenticated');
		assert.equal(p.errors, undefined);
	}
	assert.deepEqual(wrongPw, unknown);
	assert.equal(wrongPw.detail, 'wrong login or password');
	// an over-long login or password is the same answer, not a validation error that tells them apart
	const longLogin = await expectProblem(await attempt('x'.repeat(64), 'Wrong@2026x'), 401);
	assert.equal(longLogin.detail, wrongPw.detail);
	// missing fields are a 400 naming them
	const missing = await expectProblem(await new Client(srv.url).post('/api/v1/session', { json: {} }), 400);
	assert.deepEqual(missing.errors.map((e) => [e.field, e.rule]).sort(), [
		['login', 'required'],
		['password', 'required'],
	]);
	// the failures count on the account (one so far), the citizen can still sign in, which resets it
	const c = await signIn(srv.url, ...DEMO.citizen);
	const me = await expectJson(await c.get('/api/v1/me'), 200);
	assert.equal(me.failed_logins, 0);
});

test('5 failures lock the account (423), even for the right password, for 15 minutes', async () => {
	const [login, password] = DEMO.citizen; // wangfang
	await freezeClock();
	for (let i = 1; i <= 4; i++) {
		const p = await expectProblem(await attempt(login, `Wrong@2026-${i}`), 401, `failure ${i}`);
		assert.equal(p.detail, 'wrong login or password');
	}
	const fifth = await expectProblem(await attempt(login, 'Wrong@2026-5'), 423, 'failure 5');
	assert.equal(fifth.type, '/problems/locked');
	assert.match(fifth.detail, /locked/);

	const right = await expectProblem(await attempt(login, password), 423, 'right password while locked');
	assert.match(right.detail, /locked .*until \d{4}-\d\d-\d\d \d\d:\d\d/);
	const wrong = await expectProblem(await attempt(login, 'Wrong@2026-6'), 423, 'wrong password while locked');
	assert.match(wrong.detail, /locked .*until/);

	// an administrator sees the lock
	const admin = await signIn(srv.url, ...DEMO.admin);
	const list = await expectJson(await admin.get(`/api/v1/users?q=${login}&kind=citizen`), 200);
	const u = list.items.find((x) => x.login === login);
	assert.ok(u, `user ${login} not listed`);
	assert.match(u.locked_until ?? '', /\+08:00$/, `locked_until: ${u.locked_until}`);

	// other accounts are not affected
	await signIn(srv.url, ...DEMO.auditor);

	// one second short of 15 minutes: still locked
	await advance(15 * MIN - 1000);
	await expectProblem(await attempt(login, password), 423, 'after 14:59');
	// 15 minutes have passed: the right password works again
	await advance(2000);
	const ok = await attempt(login, password);
	await expectJson(ok, 201, 'after 15:01');
	const after15 = await expectJson(await admin.get(`/api/v1/users/${u.id}`), 200);
	assert.equal(after15.locked_until, null);
	assert.equal(after15.failed_logins, 0);
});

test('sign-out (DELETE /api/v1/session) is a 204; the session is gone afterwards', async () => {
	const c = await signIn(srv.url, ...DEMO.clerkFgw);
	const cookie = c.cookieHeader();
	await expectJson(await c.get('/api/v1/me'), 200);
	const res = await c.del('/api/v1/session');
	assert.equal(res.status, 204);
	assert.equal(await res.text(), '');
	const cleared = res.headers.getSetCookie().find((s) => s.startsWith('yz_sid='));
	assert.ok(cleared && /max-age=0/i.test(cleared), `yz_sid not cleared: ${cleared}`);
	assert.equal(c.cookie('yz_sid'), undefined);
	await expectProblem(await c.get('/api/v1/me'), 401, 'after sign-out');
	// the old cookie, replayed, is no longer a session either
	const replay = new Client(srv.url, { headers: { cookie } });
	await expectProblem(await replay.get('/api/v1/me'), 401, 'replayed cookie after sign-out');
	// and signing out twice is a 401, not a 500
	await expectProblem(await replay.del('/api/v1/session', { headers: { 'x-csrf-token': c.csrf } }), 401);
});

test('a session ends after 30 minutes without a request (401), not before', async () => {
	const a = await signIn(srv.url, ...DEMO.clerkFgw);
	const b = await signIn(srv.url, ...DEMO.auditor);
	await advance(29 * MIN);
	await expectJson(await a.get('/api/v1/me'), 200, 'idle 29 minutes');
	await advance(2 * MIN);
	const res = await b.get('/api/v1/me');
	const p = await expectProblem(res, 401, 'idle 31 minutes');
	assert.equal(p.type, '/problems/unauthenticated');
	// the stale cookie is cleared
	const cleared = res.headers.getSetCookie().find((s) => s.startsWith('yz_sid='));
	assert.ok(cleared && /max-age=0/i.test(cleared), `stale yz_sid not cleared: ${cleared}`);
	// a page answers with the sign-in redirect
	const b2 = new Client(srv.url, { headers: { cookie: a.cookieHeader() } });
	await advance(31 * MIN);
	const wb = await b2.get('/workbench');
	assert.equal(wb.status, 302);
	assert.equal(wb.headers.get('location'), '/login?next=%2Fworkbench');
	await wb.text();
	// signing in again works
	await signIn(srv.url, ...DEMO.auditor);
});

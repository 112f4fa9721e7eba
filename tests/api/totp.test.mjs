// TOTP as the second factor (RFC 6238: HMAC-SHA1, 6 digits, 30 s), through the JSON API and the sign-in
// pages: a clerk enrols and confirms; sign-in then takes the password and the code (in one call, or as a
// second call for the pending sign-in); a wrong code and the same code twice are refused. The server runs
// with --totp-required-roles sys_admin,sec_admin,auditor (等保 level 3: the 三员), so admin, who has no TOTP,
// is sent to enrol before anything else. Codes are computed here with node:crypto, independently of the
// server; the server's clock is the test clock (POST /api/v1/test/clock), so steps are exact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const START = '2026-03-02T09:00:00+08:00'; // on a 30-second boundary
let srv;
let now = Date.parse(START); // the server's clock, as this file moves it

before(async () => {
	srv = await startServer({ backend, testClock: true, extraArgs: ['--totp-required-roles', 'sys_admin,sec_admin,auditor'] });
	await setClock(START);
});

after(async () => {
	await srv?.cleanup();
});

async function setClock(iso) {
	const res = await new Client(srv.url).post('/api/v1/test/clock', { json: { set: iso } });
	await expectJson(res, 200, 'test clock');
	now = Date.parse(iso);
}

async function advance(ms) {
	const res = await new Client(srv.url).post('/api/v1/test/clock', { json: { advance_ms: ms } });
	await expectJson(res, 200, 'test clock');
	now += ms;
}

function base32(s) {
	const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = 0;
	let acc = 0;
	const out = [];
	for (const ch of s) {
		const v = alpha.indexOf(ch);
		assert.ok(v >= 0, `not base32: ${s}`);
		acc = (acc << 5) | v;
		bits += 5;
		if (bits >= 8) {
			out.push((acc >> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	return Buffer.from(out);
}

// RFC 4226/6238 with node:crypto: the code for the server's current step (plus offset steps).
function totp(secret, offset = 0) {
	const step = Math.floor(now / 30000) + offset;
	const msg = Buffer.alloc(8);
	msg.writeBigUInt64BE(BigInt(step));
	const h = createHmac('sha1', base32(secret)).update(msg).digest();
	const off = h[h.length - 1] & 0x0f;
	const bin = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
	return String(bin % 1_000_000).padStart(6, '0');
}

test('the code computation here matches RFC 6238 (so the test can be trusted)', () => {
	const saved = now;
	const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // "12345678901234567890"
	now = 59_000;
	assert.equal(totp(secret), '287082');
	now = 1111111109_000;
	assert.equal(totp(secret), '081804');
	now = saved;
});

const S = {};

test(`a clerk enrols: secret and otpauth URI, a wrong code refused, the right one confirms (${backend})`, async () => {
	const c = await signIn(srv.url, ...DEMO.clerkFgw);
	let st = await expectJson(await c.get('/api/v1/me/totp'), 200, 'status');
	assert.deepEqual(st, { enrolled: false, pending: false, required: false });
	const sec = await expectJson(await c.post('/api/v1/me/totp'), 200, 'begin');
	assert.match(sec.secret, /^[A-Z2-7]{32}$/);
	const uri = new URL(sec.otpauth_uri);
	assert.equal(uri.protocol, 'otpauth:');
	assert.equal(uri.host, 'totp');
	assert.match(decodeURIComponent(uri.pathname), /chenjing\.fgw$/);
	assert.equal(uri.searchParams.get('secret'), sec.secret);
	assert.equal(uri.searchParams.get('digits'), '6');
	assert.equal(uri.searchParams.get('period'), '30');
	assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
	st = await expectJson(await c.get('/api/v1/me/totp'), 200, 'status');
	assert.equal(st.pending, true);
	const wrong = String((Number(totp(sec.secret)) + 1) % 1_000_000).padStart(6, '0');
	const p = await expectProblem(await c.post('/api/v1/me/totp/confirm', { json: { code: wrong } }), 400, 'wrong code');
	assert.equal(p.errors[0].field, 'code');
	const ok = await c.post('/api/v1/me/totp/confirm', { json: { code: totp(sec.secret) } });
	assert.equal(ok.status, 204, await ok.text());
	st = await expectJson(await c.get('/api/v1/me/totp'), 200, 'status');
	assert.deepEqual(st, { enrolled: true, pending: false, required: false });
	// a second set-up while one is on: refused
	await expectProblem(await c.post('/api/v1/me/totp'), 409, 'already enrolled');
	S.secret = sec.secret;
	S.confirmCode = totp(sec.secret);
});

test('sign-in with TOTP: the password alone gives a pending sign-in; the code is the second call, once', async () => {
	const c = new Client(srv.url);
	let res = await c.post('/api/v1/session', { json: { login: DEMO.clerkFgw[0], password: DEMO.clerkFgw[1] } });
	const body = await expectJson(res, 200, 'password');
	assert.equal(body.state, 'totp_required');
	assert.match(body.pending, /^[A-Za-z0-9_-]{40,}$/);
	assert.equal(c.cookie('yz_sid'), undefined, 'no session yet');
	assert.ok(c.cookie('yz_mfa'), 'the pending sign-in is also a cookie');
	await expectProblem(await c.get('/api/v1/me'), 401, 'not signed in yet');
	// the code that confirmed the enrolment belongs to the same step: replay
	let p = await expectProblem(await c.post('/api/v1/session/totp', { json: { code: S.confirmCode } }), 401, 'replay');
	assert.equal(p.errors[0].field, 'code');
	await advance(30_000);
	p = await expectProblem(await c.post('/api/v1/session/totp', { json: { code: '000000' === totp(S.secret) ? '111111' : '000000' } }), 401, 'wrong');
	assert.equal(p.errors[0].field, 'code');
	const code = totp(S.secret);
	res = await c.post('/api/v1/session/totp', { json: { code } });
	const done = await expectJson(res, 201, 'second step');
	assert.deepEqual(Object.keys(done).sort(), ['csrf', 'user_id']);
	assert.ok(c.cookie('yz_sid'));
	assert.equal(c.cookie('yz_mfa'), undefined, 'the pending cookie is cleared');
	c.csrf = done.csrf;
	const me = await expectJson(await c.get('/api/v1/me'), 200, 'me');
	assert.equal(me.login, DEMO.clerkFgw[0]);
	// the pending sign-in is spent
	await expectProblem(await new Client(srv.url).post('/api/v1/session/totp', { json: { code, pending: body.pending } }), 401, 'spent');
	// password and code in one call: the same code again is refused, the next one works
	const one = new Client(srv.url);
	p = await expectProblem(
		await one.post('/api/v1/session', { json: { login: DEMO.clerkFgw[0], password: DEMO.clerkFgw[1], totp: code } }),
		401,
		'same code twice'
	);
	assert.equal(p.errors[0].field, 'totp');
	await advance(30_000);
	res = await one.post('/api/v1/session', { json: { login: DEMO.clerkFgw[0], password: DEMO.clerkFgw[1], totp: totp(S.secret) } });
	await expectJson(res, 201, 'one call');
	// a wrong password with a right code is a wrong password
	await advance(30_000);
	await expectProblem(
		await new Client(srv.url).post('/api/v1/session', { json: { login: DEMO.clerkFgw[0], password: 'Wrong@2026', totp: totp(S.secret) } }),
		401,
		'wrong password'
	);
});

test('the sign-in page asks for the code after the password, and signs in with it', async () => {
	const c = new Client(srv.url);
	let res = await c.get('/login?next=%2Fworkbench');
	const html = await res.text();
	const csrf = /name="_csrf" value="([^"]+)"/.exec(html)[1];
	res = await c.post('/login', { form: { _csrf: csrf, login: DEMO.clerkFgw[0], password: DEMO.clerkFgw[1], next: '/workbench' } });
	assert.equal(res.status, 303);
	assert.equal(res.headers.get('location'), '/login/totp?next=%2Fworkbench');
	res = await c.get('/login/totp?next=%2Fworkbench');
	const page = await res.text();
	assert.equal(res.status, 200);
	assert.match(page, /autocomplete="one-time-code"/);
	await advance(30_000);
	res = await c.post('/login/totp', { form: { _csrf: csrf, code: '12345', next: '/workbench' } });
	assert.equal(res.status, 401);
	assert.match(await res.text(), /error-summary/);
	res = await c.post('/login/totp', { form: { _csrf: csrf, code: totp(S.secret), next: '/workbench' } });
	assert.equal(res.status, 303);
	assert.equal(res.headers.get('location'), '/workbench');
	assert.equal((await c.get('/workbench')).status, 200);
});

test('等保 level 3: admin (sys_admin) without TOTP is sent to enrol before anything else', async () => {
	const c = new Client(srv.url);
	let res = await c.post('/api/v1/session', { json: { login: DEMO.admin[0], password: DEMO.admin[1] } });
	const body = await expectJson(res, 200, 'password');
	assert.equal(body.state, 'totp_enrolment_required');
	assert.equal(c.cookie('yz_sid'), undefined);
	await expectProblem(await c.get('/api/v1/users'), 401, 'nothing before enrolment');
	// a code without a secret gets nowhere
	await expectProblem(await c.post('/api/v1/session/totp', { json: { code: '123456' } }), 401, 'no secret yet');
	const sec = await expectJson(await c.post('/api/v1/session/totp/enrol', { json: {} }), 200, 'secret');
	const again = await expectJson(await c.post('/api/v1/session/totp/enrol', { json: { pending: body.pending } }), 200, 'same');
	assert.equal(again.secret, sec.secret, 'asking again shows the same secret');
	res = await c.post('/api/v1/session/totp', { json: { code: totp(sec.secret) } });
	const done = await expectJson(res, 201, 'enrolled and signed in');
	c.csrf = done.csrf;
	await expectJson(await c.get('/api/v1/users'), 200, 'now admin works');
	const st = await expectJson(await c.get('/api/v1/me/totp'), 200, 'status');
	assert.deepEqual(st, { enrolled: true, pending: false, required: true });
	// the holder of a role that requires it cannot remove it
	await advance(30_000);
	await expectProblem(await c.del('/api/v1/me/totp', { json: { code: totp(sec.secret) } }), 422, 'required');
	// the next sign-in asks for the code
	res = await new Client(srv.url).post('/api/v1/session', { json: { login: DEMO.admin[0], password: DEMO.admin[1] } });
	assert.equal((await expectJson(res, 200, 'again')).state, 'totp_required');
	// on the pages too: after the password, the set-up page, whatever next was asked for
	const page = new Client(srv.url);
	res = await page.get('/login');
	const csrf = /name="_csrf" value="([^"]+)"/.exec(await res.text())[1];
	res = await page.post('/login', { form: { _csrf: csrf, login: DEMO.auditor[0], password: DEMO.auditor[1], next: '/audit' } });
	assert.equal(res.status, 303);
	assert.equal(res.headers.get('location'), '/login/totp/enrol?next=%2Faudit');
	res = await page.get('/audit');
	assert.equal(res.status, 302, 'no session: the audit page sends to sign-in');
	res = await page.get('/login/totp/enrol?next=%2Faudit');
	const html = await res.text();
	assert.equal(res.status, 200);
	const secret = /id="totp-secret"[^>]*>([A-Z2-7]{32})</.exec(html)[1];
	assert.match(html, /otpauth:\/\/totp\//);
	res = await page.post('/login/totp/enrol', { form: { _csrf: csrf, code: totp(secret), next: '/audit' } });
	assert.equal(res.status, 303);
	assert.equal(res.headers.get('location'), '/audit');
	assert.equal((await page.get('/audit')).status, 200);
	// an administrator resets a clerk's lost TOTP: the password alone works again
	const me = await expectJson(await new Client(srv.url).post('/api/v1/session', { json: { login: DEMO.clerkFgw[0], password: DEMO.clerkFgw[1] } }), 200, 'clerk');
	assert.equal(me.state, 'totp_required');
	const users = await expectJson(await c.get('/api/v1/users?q=chenjing'), 200, 'users');
	const clerk = users.items.find((u) => u.login === DEMO.clerkFgw[0]);
	res = await c.del(`/api/v1/users/${clerk.id}/totp`);
	assert.equal(res.status, 204, await res.text());
	await signIn(srv.url, ...DEMO.clerkFgw);
});

test('five wrong codes lock the account like five wrong passwords', async () => {
	const user = await signIn(srv.url, ...DEMO.deptAdminFgw);
	const sec = await expectJson(await user.post('/api/v1/me/totp'), 200, 'begin');
	assert.equal((await user.post('/api/v1/me/totp/confirm', { json: { code: totp(sec.secret) } })).status, 204);
	await advance(30_000);
	const bad = totp(sec.secret) === '000000' ? '999999' : '000000';
	const c = new Client(srv.url);
	await expectJson(await c.post('/api/v1/session', { json: { login: DEMO.deptAdminFgw[0], password: DEMO.deptAdminFgw[1] } }), 200, 'pending');
	for (let i = 0; i < 4; i++) await expectProblem(await c.post('/api/v1/session/totp', { json: { code: bad } }), 401, `wrong ${i}`);
	await expectProblem(await c.post('/api/v1/session/totp', { json: { code: bad } }), 423, 'locked');
	await expectProblem(
		await new Client(srv.url).post('/api/v1/session', { json: { login: DEMO.deptAdminFgw[0], password: DEMO.deptAdminFgw[1], totp: totp(sec.secret) } }),
		423,
		'even right credentials'
	);
});

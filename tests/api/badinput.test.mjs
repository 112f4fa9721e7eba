// Bad input at the HTTP boundary: body limits, malformed JSON, unknown fields, wrong methods, CSRF on
// forms and on the API, sign-in redirects for pages and 401 for the API, and path traversal on /static/.
// One server (demo-city pack) for the whole file; backend from YIZHAN_TEST_BACKEND.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, expectProblem, flip, raw, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
let srv;
let admin; // signed-in Client of the demo system administrator

before(async () => {
	srv = await startServer({ backend });
	admin = await signIn(srv.url, ...DEMO.admin);
});

after(async () => {
	await srv?.cleanup();
});

const json = (body) => ({ body, headers: { 'content-type': 'application/json' } });

test(`a body over the route's limit is a 413 problem+json (${backend})`, async () => {
	// POST /api/v1/session allows 4096 bytes
	const anon = new Client(srv.url);
	const at = '{"login":"admin","password":"' + 'x'.repeat(4096) + '"}';
	let p = await expectProblem(await anon.post('/api/v1/session', json(at)), 413, 'session body of 4127 bytes');
	assert.equal(p.type, '/problems/too-large');
	assert.equal(p.instance, '/api/v1/session');
	assert.match(p.detail, /4096 bytes/);

	// exactly 4096 bytes is still accepted (and answered as a wrong login, not 413)
	const fill = 4096 - '{"login":"admin","password":""}'.length;
	const exact = '{"login":"admin","password":"' + 'y'.repeat(fill) + '"}';
	assert.equal(Buffer.byteLength(exact), 4096);
	const r = await anon.post('/api/v1/session', json(exact));
	assert.notEqual(r.status, 413, 'a body of exactly the limit was refused as too large');
	await r.text();

	// every other route: 1 MiB
	const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
	p = await expectProblem(await admin.post('/api/v1/orgs', json(big)), 413, 'orgs body of 1 MiB + 1');
	assert.equal(p.type, '/problems/too-large');
	assert.match(p.detail, /1048576 bytes/);
});

test('a body over the server-wide limit (32 MiB) is refused with 413 before it is read', async () => {
	// Only the headers are sent: the announced length alone is over the limit. libevent answers this
	// one itself, before any route runs, so the body is a plain HTML 413 rather than problem+json
	// (libevent 2.1 has no hook to replace it); bodies over a route's own limit are problem+json
	// (previous test).
	const r = await raw(
		srv.url,
		'POST /api/v1/session HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n' +
			`Content-Length: ${40 * 1024 * 1024}\r\nConnection: close\r\n\r\n{"login":`
	);
	assert.equal(r.status, 413, `answer: ${JSON.stringify(r)}`);
	assert.equal(r.headers.connection, 'close');
});

test('malformed JSON is a 400 whose detail names the line and column', async () => {
	const anon = new Client(srv.url);
	const p = await expectProblem(
		await anon.post('/api/v1/session', json('{"login": "admin",\n  "password": "x",,\n}')),
		400
	);
	assert.equal(p.type, '/problems/invalid');
	assert.match(p.detail, /malformed JSON at line 2, column \d+/);
	assert.equal(p.errors, undefined);

	// not an object at all
	const q = await expectProblem(await anon.post('/api/v1/session', json('[1,2]')), 400);
	assert.match(q.detail, /must be a JSON object/);

	// JSON that nests too deep is refused before parsing, with its position
	const deep = await expectProblem(await admin.post('/api/v1/orgs', json('['.repeat(100) + ']'.repeat(100))), 400);
	assert.match(deep.detail, /nested deeper than \d+ levels at line 1, column \d+/);

	// a JSON route given a form
	const f = await expectProblem(
		await admin.post('/api/v1/orgs', { body: 'code=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
		400
	);
	assert.match(f.detail, /must be JSON/);
});

test('unknown JSON fields are a 400 naming each of them (rule unknown-field)', async () => {
	const anon = new Client(srv.url);
	const p = await expectProblem(
		await anon.post('/api/v1/session', { json: { login: 'admin', password: 'x', remember: true, role: 'root' } }),
		400
	);
	const unknown = p.errors.filter((e) => e.rule === 'unknown-field').map((e) => e.field);
	assert.deepEqual(unknown.sort(), ['remember', 'role']);
	assert.equal(p.errors.length, 2, JSON.stringify(p.errors));

	const q = await expectProblem(
		await admin.post('/api/v1/orgs', {
			json: { code: 'x-1', name: 'X', kind: 'unit', parent_id: 1, colour: 'red' },
		}),
		400
	);
	assert.deepEqual(
		q.errors.filter((e) => e.rule === 'unknown-field').map((e) => e.field),
		['colour']
	);
});

test('a wrong method is a 405 with an Allow header', async () => {
	const p = await expectProblem(await admin.request('PUT', '/api/v1/me', { json: {} }), 405);
	assert.equal(p.type, '/problems/method-not-allowed');
	// the problem was built from the same response: read Allow from a fresh request
	const r = await admin.request('DELETE', '/api/v1/orgs');
	assert.equal(r.status, 405);
	assert.equal(r.headers.get('allow'), 'GET, HEAD, POST');
	await r.text();

	const me = await admin.request('PATCH', '/api/v1/me', { json: {} });
	assert.equal(me.status, 405);
	assert.equal(me.headers.get('allow'), 'GET, HEAD');
	await me.text();

	const s = await admin.request('GET', '/api/v1/session');
	assert.equal(s.status, 405);
	assert.equal(s.headers.get('allow'), 'POST, DELETE');
	await s.text();

	// pages too
	const pg = await new Client(srv.url).request('DELETE', '/login');
	assert.equal(pg.status, 405);
	assert.equal(pg.headers.get('allow'), 'GET, HEAD, POST');
	await pg.text();
});

test('a page form POST without or with a wrong _csrf is a 403 (signed out: yz_csrf double submit)', async () => {
	const c = new Client(srv.url);
	const home = await c.get('/');
	assert.equal(home.status, 200);
	await home.text();
	const token = c.cookie('yz_csrf');
	assert.ok(token && token.length >= 16, 'GET / set no yz_csrf cookie');

	for (const [path, form] of [
		['/login', { login: DEMO.admin[0], password: DEMO.admin[1] }],
		['/prefs/lang', { lang: 'en', back: '/' }],
		['/prefs/elder', { on: '1', back: '/' }],
	]) {
		const missing = await c.post(path, { form });
		assert.equal(missing.status, 403, `${path} without _csrf`);
		assert.match(missing.headers.get('content-type') || '', /^text\/html/);
		await missing.text();
		const wrong = await c.post(path, { form: { ...form, _csrf: flip(token) } });
		assert.equal(wrong.status, 403, `${path} with a wrong _csrf`);
		await wrong.text();
	}
	// the cookie alone without the form field, and the field without the cookie, are both refused
	const noCookie = new Client(srv.url);
	const r = await noCookie.post('/prefs/lang', { form: { lang: 'en', back: '/', _csrf: token } });
	assert.equal(r.status, 403, 'form token without the yz_csrf cookie');
	await r.text();
	assert.equal(noCookie.cookie('yz_lang'), undefined);

	// and the right one passes (control): /login answers with a redirect and a session cookie
	const ok = await c.post('/login', { form: { login: DEMO.admin[0], password: DEMO.admin[1], _csrf: token } });
	assert.equal(ok.status, 303);
	assert.ok(c.cookie('yz_sid'), 'no session cookie after a good form login');
	await ok.text();

	// signed in, a form must carry the session's token, not the anonymous one
	const me = await c.get('/api/v1/me');
	const sessionCsrf = (await me.json()).csrf;
	assert.notEqual(sessionCsrf, token);
	const stale = await c.post('/prefs/lang', { form: { lang: 'en', back: '/', _csrf: token } });
	assert.equal(stale.status, 403, 'signed in, the anonymous token was accepted');
	await stale.text();
	const good = await c.post('/prefs/lang', { form: { lang: 'en', back: '/', _csrf: sessionCsrf } });
	assert.equal(good.status, 303);
	await good.text();
});

test('a signed-in API POST without X-CSRF-Token, or with a wrong one, is a 403 and changes nothing', async () => {
	const body = { code: 'csrf-probe', name: 'CSRF probe', kind: 'unit', parent_id: 1 };
	let p = await expectProblem(await admin.post('/api/v1/orgs', { json: body, headers: { 'x-csrf-token': null } }), 403);
	assert.equal(p.type, '/problems/forbidden');
	assert.match(p.detail, /X-CSRF-Token/);
	p = await expectProblem(await admin.post('/api/v1/orgs', { json: body, headers: { 'x-csrf-token': flip(admin.csrf) } }), 403);
	assert.match(p.detail, /X-CSRF-Token/);
	// a prefix of the token is not the token
	p = await expectProblem(
		await admin.post('/api/v1/orgs', { json: body, headers: { 'x-csrf-token': admin.csrf.slice(0, -1) } }),
		403
	);
	// DELETE is unsafe too: the session survives a logout without the header
	p = await expectProblem(await admin.del('/api/v1/session', { headers: { 'x-csrf-token': null } }), 403);
	const me = await admin.get('/api/v1/me');
	assert.equal(me.status, 200, 'the session ended although the logout had no CSRF header');
	await me.text();
	// nothing was created
	const list = await (await admin.get('/api/v1/orgs?q=CSRF')).json();
	assert.deepEqual(
		list.items.map((o) => o.code),
		[]
	);
	// control: with the header it works
	const ok = await admin.post('/api/v1/orgs', { json: body });
	assert.equal(ok.status, 201, await ok.text());
});

test('a signed-out API POST must be JSON (a cross-site form cannot send it)', async () => {
	const anon = new Client(srv.url);
	const p = await expectProblem(
		await anon.post('/api/v1/session', {
			body: 'login=admin&password=Admin%402026!',
			headers: { 'content-type': 'application/x-www-form-urlencoded' },
		}),
		403
	);
	assert.match(p.detail, /application\/json/);
	assert.equal(anon.cookie('yz_sid'), undefined);
});

test('an unauthenticated page is a 302 to /login?next=<the encoded path>', async () => {
	const anon = new Client(srv.url);
	for (const [path, next] of [
		['/workbench', '%2Fworkbench'],
		['/admin/users', '%2Fadmin%2Fusers'],
		['/admin/users?q=li&kind=civil_servant', '%2Fadmin%2Fusers%3Fq%3Dli%26kind%3Dcivil_servant'],
		['/admin/orgs/1', '%2Fadmin%2Forgs%2F1'],
	]) {
		const r = await anon.get(path);
		assert.equal(r.status, 302, path);
		assert.equal(r.headers.get('location'), `/login?next=${next}`, path);
		await r.text();
	}
});

test('an unauthenticated API call is a 401 problem+json', async () => {
	const anon = new Client(srv.url);
	for (const [method, path] of [
		['GET', '/api/v1/me'],
		['GET', '/api/v1/users'],
		['GET', '/api/v1/orgs/1'],
		['POST', '/api/v1/orgs'],
		['GET', '/api/v1/audit'],
		['DELETE', '/api/v1/session'],
	]) {
		const res = await anon.request(method, path, method === 'POST' ? { json: {} } : {});
		const p = await expectProblem(res, 401, `${method} ${path}`);
		assert.equal(p.type, '/problems/unauthenticated');
		assert.equal(p.instance, path);
		assert.equal(res.headers.get('www-authenticate'), 'Cookie realm="yizhan"');
	}
	// a made-up session cookie is no better
	const fake = new Client(srv.url, { headers: { cookie: 'yz_sid=' + 'A'.repeat(43) } });
	await expectProblem(await fake.get('/api/v1/me'), 401);
});

test('path traversal on /static/ is a 404, however it is spelt', async () => {
	// control: the real file
	const ok = await raw(srv.url, 'GET /static/css/site.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
	assert.equal(ok.status, 200);
	assert.match(ok.headers['content-type'], /^text\/css/);

	for (const path of [
		'/static/../meson.build',
		'/static/../../etc/passwd',
		'/static/css/../../meson.build',
		'/static/css/../css/site.css', // even a dot segment that stays inside is not a file name
		'/static/./css/site.css',
		'/static/%2e%2e/meson.build',
		'/static/%2E%2E/%2E%2E/etc/passwd',
		'/static/.%2e/meson.build',
		'/static/..%2fmeson.build',
		'/static/..%2F..%2Fetc%2Fpasswd',
		'/static/css/..%2f..%2f..%2fmeson.build',
		'/static/%2e%2e%2f%2e%2e%2fmeson.build',
		'/static/..%5c..%5cmeson.build',
		'/static/%2fetc%2fpasswd',
		'/static//etc/passwd',
		'/static/css/site.css%00.png',
		'/static/%252e%252e/meson.build',
	]) {
		const r = await raw(srv.url, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
		assert.equal(r.status, 404, `${path} answered ${r.status}`);
		assert.doesNotMatch(r.body, /project\(|root:x:0:0/, `${path} leaked a file`);
	}
});

test('an encoded slash is not a path separator on /static/ (404)', async () => {
	// "css%2Fsite.css" is one segment named "css/site.css"; no file has that name.
	for (const path of ['/static/css%2Fsite.css', '/static/css%2fsite.css', '/static/js%2Fsite.js']) {
		const r = await raw(srv.url, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
		assert.equal(r.status, 404, `${path} answered ${r.status} (${r.headers['content-type']})`);
	}
});

test('traversal and dot segments under /api/ are a 404 problem+json, never another route', async () => {
	for (const path of ['/api/v1/../v1/me', '/api/v1/%2e%2e/v1/me', '/api/v1/users/..', '/api/v1/users/%2e']) {
		const r = await raw(srv.url, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
		assert.equal(r.status, 404, `${path} answered ${r.status}`);
		assert.match(r.headers['content-type'] || '', /^application\/problem\+json/, path);
	}
});

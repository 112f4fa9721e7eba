// Language and age-friendly (适老化) preferences through the page forms /prefs/lang and /prefs/elder,
// signed out (CSRF by double submit of the yz_csrf cookie that a GET of a page sets) and signed in
// (the session's token): the next page is in English, has class="elder" on <html>, and back again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, expectJson, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
let srv;

before(async () => {
	srv = await startServer({ backend });
});

after(async () => {
	await srv?.cleanup();
});

async function page(c, path = '/') {
	const res = await c.get(path);
	const html = await res.text();
	assert.equal(res.status, 200, `${path}: ${res.status}`);
	const m = /<html([^>]*)>/.exec(html);
	assert.ok(m, `${path}: no <html> tag`);
	const lang = /\blang="([^"]+)"/.exec(m[1])?.[1];
	const elder = /\bclass="[^"]*\belder\b[^"]*"/.test(m[1]);
	return { html, lang, elder };
}

async function submit(c, path, form, token) {
	const res = await c.post(path, { form: { ...form, _csrf: token } });
	await res.text();
	return res;
}

test(`signed out: English and the age-friendly mode, then back (${backend})`, async () => {
	const c = new Client(srv.url);
	let p = await page(c);
	assert.equal(p.lang, 'zh-CN');
	assert.equal(p.elder, false);
	assert.match(p.html, /跳到主要内容/);
	const token = c.cookie('yz_csrf');
	assert.ok(token, 'a page GET sets the yz_csrf cookie');
	// the form on the page carries the same token
	assert.ok(p.html.includes(`name="_csrf" value="${token}"`), 'the page form does not carry the yz_csrf token');

	let res = await submit(c, '/prefs/lang', { lang: 'en', back: '/' }, token);
	assert.equal(res.status, 303);
	assert.equal(res.headers.get('location'), '/');
	const sc = res.headers.getSetCookie().find((s) => s.startsWith('yz_lang='));
	assert.match(sc, /^yz_lang=en;/);
	assert.match(sc, /Max-Age=31536000/i);
	assert.match(sc, /HttpOnly/i);
	p = await page(c);
	assert.equal(p.lang, 'en');
	assert.equal(p.elder, false);
	assert.match(p.html, /Skip to main content/);
	assert.match(p.html, /<title>Home - /);
	assert.doesNotMatch(p.html, /跳到主要内容/);

	res = await submit(c, '/prefs/elder', { on: '1', back: '/' }, token);
	assert.equal(res.status, 303);
	assert.equal(c.cookie('yz_elder'), '1');
	p = await page(c);
	assert.equal(p.elder, true);
	assert.equal(p.lang, 'en');
	assert.match(p.html, /<html lang="en" class="elder">/);
	// the toggle now offers the way back (its label says what it does; no aria-pressed)
	assert.match(p.html, /name="on" value="0"><button[^>]*>Standard text<\/button>/);
	// other pages too
	const login = await page(c, '/login');
	assert.equal(login.lang, 'en');
	assert.equal(login.elder, true);

	res = await submit(c, '/prefs/elder', { on: '0', back: '/login' }, token);
	assert.equal(res.headers.get('location'), '/login');
	res = await submit(c, '/prefs/lang', { lang: 'zh-CN', back: '/' }, token);
	assert.equal(res.status, 303);
	p = await page(c);
	assert.equal(p.lang, 'zh-CN');
	assert.equal(p.elder, false);
});

test('bad preference values and foreign return addresses are refused', async () => {
	const c = new Client(srv.url);
	await page(c);
	const token = c.cookie('yz_csrf');
	const res = await c.post('/prefs/lang', { form: { lang: 'fr', back: '/', _csrf: token } });
	assert.equal(res.status, 400);
	assert.match(res.headers.get('content-type') || '', /^text\/html/);
	await res.text();
	assert.equal(c.cookie('yz_lang'), undefined);
	// never an open redirect
	for (const back of ['//evil.example/', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
		const r = await submit(c, '/prefs/elder', { on: '1', back }, token);
		assert.equal(r.status, 303, back);
		assert.equal(r.headers.get('location'), '/', `back=${back}`);
	}
	// a local path with a query survives
	const r = await submit(c, '/prefs/elder', { on: '1', back: '/login?next=%2Fworkbench' }, token);
	assert.equal(r.headers.get('location'), '/login?next=%2Fworkbench');
});

test('signed in: the workbench follows the preferences (the session token is the form token)', async () => {
	const c = await signIn(srv.url, ...DEMO.clerkFgw);
	const me = await expectJson(await c.get('/api/v1/me'), 200);
	let p = await page(c, '/workbench');
	assert.equal(p.lang, 'zh-CN');
	assert.ok(p.html.includes(`name="_csrf" value="${me.csrf}"`), 'the workbench form does not carry the session token');
	let res = await submit(c, '/prefs/lang', { lang: 'en', back: '/workbench' }, me.csrf);
	assert.equal(res.status, 303);
	assert.equal(res.headers.get('location'), '/workbench');
	res = await submit(c, '/prefs/elder', { on: '1', back: '/workbench' }, me.csrf);
	assert.equal(res.status, 303);
	p = await page(c, '/workbench');
	assert.equal(p.lang, 'en');
	assert.equal(p.elder, true);
	assert.match(p.html, /陈静/); // still signed in, as the same person
});

// The OpenID Connect provider driven by an independent relying party: openid-client (panva, installed in
// tests/e2e/node_modules by scripts/install-deps) discovers the provider, builds the authorisation URL with
// PKCE, exchanges the code and validates the ID token against the JWKS (signature, iss, aud, nonce), reads
// userinfo, refreshes, asks for client credentials, introspects and revokes. The test plays the browser in
// between: it follows the redirects of /oidc/authorize, signing in through the session API when the provider
// sends it to the sign-in page. Bad input: unknown clients, unregistered redirect URIs (never redirected to),
// plain PKCE, replayed codes and refresh tokens. The tests run in order on one server and build on each other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, repoRoot } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, expectJson, expectProblem, signIn } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const OIDC_CLIENT = `${repoRoot}/tests/e2e/node_modules/openid-client/build/index.js`;
// the relying party's addresses: nothing listens there, the test reads the redirects itself
const REDIRECT = 'http://127.0.0.1:9/callback';
const BYE = 'http://127.0.0.1:9/signed-out';

let srv, oc, admin, app, config, basicConfig;
const S = {}; // what the tests hand on: tokens, the browser

before(async () => {
	srv = await startServer({ backend });
	try {
		oc = await import(OIDC_CLIENT);
	} catch (e) {
		throw new Error(`cannot load openid-client (${e.message}); run scripts/install-deps`);
	}
	admin = await signIn(srv.url, ...DEMO.admin);
	const orgs = await expectJson(await admin.get('/api/v1/orgs?q=' + encodeURIComponent('发展和改革')), 200, 'orgs');
	const res = await admin.post('/api/v1/oidc/clients', {
		json: {
			name: '发改委项目管理系统',
			org_id: orgs.items[0].id,
			redirect_uris: [REDIRECT],
			post_logout_redirect_uris: [BYE],
			grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
			scopes: ['openid', 'profile', 'email', 'dept', 'projects.read'],
		},
	});
	app = await expectJson(res, 201, 'register the client');
	assert.equal(res.headers.get('location'), `/api/v1/oidc/clients/${app.client_id}`);
	config = await oc.discovery(new URL(srv.url), app.client_id, app.client_secret, undefined, {
		execute: [oc.allowInsecureRequests],
	});
	basicConfig = await oc.discovery(new URL(srv.url), app.client_id, undefined, oc.ClientSecretBasic(app.client_secret), {
		execute: [oc.allowInsecureRequests],
	});
});

after(async () => {
	await srv?.cleanup();
});

// An authorisation request built by the library, with its PKCE verifier, state and nonce.
async function authRequest(scope = 'openid profile dept email') {
	const verifier = oc.randomPKCECodeVerifier();
	const state = oc.randomState();
	const nonce = oc.randomNonce();
	const url = oc.buildAuthorizationUrl(config, {
		redirect_uri: REDIRECT,
		scope,
		code_challenge: await oc.calculatePKCECodeChallenge(verifier),
		code_challenge_method: 'S256',
		state,
		nonce,
	});
	return { url, verifier, state, nonce };
}

// The browser, signed in: GET the authorisation URL, expect the redirect back with a code.
async function codeFor(browser, req) {
	const res = await browser.get(req.url.href);
	assert.equal(res.status, 302, await res.text());
	const back = new URL(res.headers.get('location'));
	assert.equal(back.origin + back.pathname, REDIRECT);
	assert.equal(back.searchParams.get('state'), req.state);
	assert.equal(back.searchParams.get('iss'), srv.url);
	assert.ok(back.searchParams.get('code'));
	return back;
}

async function oauthError(promise) {
	try {
		await promise;
	} catch (e) {
		return e;
	}
	assert.fail('expected the provider to refuse');
}

test(`discovery: the library finds the provider, its keys and PKCE S256 (${backend})`, async () => {
	const m = config.serverMetadata();
	assert.equal(m.issuer, srv.url);
	assert.equal(m.authorization_endpoint, srv.url + '/oidc/authorize');
	assert.equal(m.token_endpoint, srv.url + '/oidc/token');
	assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
	assert.deepEqual(m.id_token_signing_alg_values_supported, ['ES256']);
	assert.ok(config.serverMetadata().supportsPKCE());
	const jwks = await expectJson(await fetch(m.jwks_uri), 200, 'jwks');
	assert.equal(jwks.keys.length, 1);
	assert.equal(jwks.keys[0].kty, 'EC');
	assert.equal(jwks.keys[0].crv, 'P-256');
	assert.equal(jwks.keys[0].d, undefined, 'the JWKS shows no private key');
	// discovery is public and answers without a session
	const res = await fetch(srv.url + '/.well-known/openid-configuration');
	assert.equal(res.status, 200);
	assert.equal(res.headers.get('access-control-allow-origin'), '*');
});

test('code flow with PKCE: sign-in page, redirect with the code, ID token validated by openid-client, userinfo', async () => {
	const req = await authRequest();
	const browser = new Client(srv.url);
	// not signed in: to the sign-in page, which will come back to the same request
	let res = await browser.get(req.url.href);
	assert.equal(res.status, 302);
	const login = new URL(res.headers.get('location'), srv.url);
	assert.equal(login.pathname, '/login');
	const next = login.searchParams.get('next');
	assert.match(next, /^\/oidc\/authorize\?/);
	const again = new URL(next, srv.url);
	for (const k of ['client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge', 'scope'])
		assert.equal(again.searchParams.get(k), req.url.searchParams.get(k), k);
	// sign in (the session API sets the same cookie the sign-in page does) and come back
	await browser.login(...DEMO.clerkFgw);
	const back = await codeFor(browser, { ...req, url: again });
	const tokens = await oc.authorizationCodeGrant(config, back, {
		pkceCodeVerifier: req.verifier,
		expectedState: req.state,
		expectedNonce: req.nonce,
		idTokenExpected: true,
	});
	assert.equal(tokens.token_type.toLowerCase(), 'bearer');
	assert.ok(tokens.refresh_token);
	const claims = tokens.claims();
	assert.equal(claims.iss, srv.url);
	assert.equal(claims.aud, app.client_id);
	assert.equal(claims.nonce, req.nonce);
	assert.equal(claims.name, '陈静');
	assert.equal(claims.dept, '520100-fgw');
	assert.equal(claims.dept_name, '贵阳市发展和改革委员会');
	assert.deepEqual(claims.amr, ['pwd']);
	assert.ok(Number.isInteger(claims.auth_time));
	assert.notEqual(claims.sub, DEMO.clerkFgw[0], 'sub is not the login');
	assert.match(claims.sub, /^[A-Za-z0-9_-]{20,}$/);
	const info = await oc.fetchUserInfo(config, tokens.access_token, claims.sub);
	assert.equal(info.sub, claims.sub);
	assert.equal(info.preferred_username, DEMO.clerkFgw[0]);
	assert.equal(info.dept, '520100-fgw');
	// signed in already: straight back with a new code, no page in between (first-party applications)
	const second = await authRequest('openid');
	const back2 = await codeFor(browser, second);
	const t2 = await oc.authorizationCodeGrant(config, back2, {
		pkceCodeVerifier: second.verifier,
		expectedState: second.state,
		expectedNonce: second.nonce,
	});
	assert.equal(t2.claims().sub, claims.sub, 'the same user has the same sub');
	assert.equal(t2.claims().name, undefined, 'without scope profile no name');
	Object.assign(S, { browser, tokens, back, req, sub: claims.sub });
});

test('a replayed code and a wrong verifier are invalid_grant; the replay revokes what the code gave', async () => {
	const e = await oauthError(
		oc.authorizationCodeGrant(config, S.back, { pkceCodeVerifier: S.req.verifier, expectedState: S.req.state })
	);
	assert.equal(e.error, 'invalid_grant', e.message);
	assert.equal(e.status, 400);
	// the tokens the first exchange gave are no good any more
	const intro = await oc.tokenIntrospection(config, S.tokens.access_token);
	assert.equal(intro.active, false);
	const r = await oauthError(oc.refreshTokenGrant(config, S.tokens.refresh_token));
	assert.equal(r.error, 'invalid_grant');
	const ui = await oauthError(oc.fetchUserInfo(config, S.tokens.access_token, S.sub));
	assert.ok(/invalid_token|401/.test(String(ui.message) + (ui.status || '') + (ui.error || '')), ui.message);

	const req = await authRequest();
	const back = await codeFor(S.browser, req);
	const w = await oauthError(
		oc.authorizationCodeGrant(config, back, { pkceCodeVerifier: oc.randomPKCECodeVerifier(), expectedState: req.state })
	);
	assert.equal(w.error, 'invalid_grant');
	// one attempt per code: the right verifier afterwards is too late
	const late = await oauthError(
		oc.authorizationCodeGrant(config, back, { pkceCodeVerifier: req.verifier, expectedState: req.state })
	);
	assert.equal(late.error, 'invalid_grant');
});

test('refresh tokens rotate; a used one again revokes the family', async () => {
	const req = await authRequest();
	const back = await codeFor(S.browser, req);
	const t0 = await oc.authorizationCodeGrant(config, back, {
		pkceCodeVerifier: req.verifier,
		expectedState: req.state,
		expectedNonce: req.nonce,
	});
	const t1 = await oc.refreshTokenGrant(config, t0.refresh_token);
	assert.ok(t1.refresh_token && t1.refresh_token !== t0.refresh_token);
	assert.equal(t1.claims().sub, S.sub);
	const t2 = await oc.refreshTokenGrant(basicConfig, t1.refresh_token);
	assert.ok(t2.refresh_token !== t1.refresh_token);
	assert.equal((await oc.tokenIntrospection(config, t2.refresh_token)).active, true);
	// t0's refresh token again: refused, and t2's tokens go with it
	const e = await oauthError(oc.refreshTokenGrant(config, t0.refresh_token));
	assert.equal(e.error, 'invalid_grant');
	assert.equal((await oc.tokenIntrospection(config, t2.refresh_token)).active, false);
	assert.equal((await oc.tokenIntrospection(config, t2.access_token)).active, false);
	const e2 = await oauthError(oc.refreshTokenGrant(config, t2.refresh_token));
	assert.equal(e2.error, 'invalid_grant');
	// the refresh of another client is not this one's
	const rf = await fetch(srv.url + '/oidc/token', {
		method: 'POST',
		headers: { 'content-type': 'application/x-www-form-urlencoded' },
		body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'nope', client_id: app.client_id, client_secret: app.client_secret }),
	});
	assert.equal(rf.status, 400);
	assert.equal((await rf.json()).error, 'invalid_grant');
});

test('client credentials (Basic and post): an access token, introspection active, revocation makes it inactive', async () => {
	const cc = await oc.clientCredentialsGrant(basicConfig, { scope: 'projects.read' });
	assert.equal(cc.scope, 'projects.read');
	assert.equal(cc.refresh_token, undefined);
	assert.equal(cc.id_token, undefined);
	const intro = await oc.tokenIntrospection(config, cc.access_token);
	assert.equal(intro.active, true);
	assert.equal(intro.client_id, app.client_id);
	assert.equal(intro.sub, app.client_id);
	assert.equal(intro.scope, 'projects.read');
	assert.ok(intro.exp > intro.iat);
	assert.ok(intro.jti);
	await oc.tokenRevocation(basicConfig, cc.access_token);
	assert.equal((await oc.tokenIntrospection(config, cc.access_token)).active, false);
	// revoking what is not a token is not an error (RFC 7009)
	await oc.tokenRevocation(config, 'not-a-token');
	// a user scope cannot be had without a user
	const bad = await oauthError(oc.clientCredentialsGrant(config, { scope: 'openid' }));
	assert.equal(bad.error, 'invalid_scope');
	// the post form works as well
	const cc2 = await oc.clientCredentialsGrant(config);
	assert.equal(cc2.scope, 'projects.read');
});

test('bad input: unknown client, wrong secret, unregistered redirect_uri (no redirect), plain PKCE, no grant', async () => {
	const m = config.serverMetadata();
	const stranger = new oc.Configuration(m, 'no-such-app', 'secret');
	oc.allowInsecureRequests(stranger);
	const e = await oauthError(oc.clientCredentialsGrant(stranger));
	assert.equal(e.error, 'invalid_client');
	assert.equal(e.status, 401);
	const wrong = new oc.Configuration(m, app.client_id, undefined, oc.ClientSecretBasic('yzs_wrong'));
	oc.allowInsecureRequests(wrong);
	// the library sees the Basic challenge (RFC 6749 §5.2) before the body
	const w = await oauthError(oc.clientCredentialsGrant(wrong));
	assert.equal(w.status, 401);
	const basic = await fetch(srv.url + '/oidc/token', {
		method: 'POST',
		headers: {
			'content-type': 'application/x-www-form-urlencoded',
			authorization: 'Basic ' + Buffer.from(`${app.client_id}:yzs_wrong`).toString('base64'),
		},
		body: 'grant_type=client_credentials',
	});
	assert.equal(basic.status, 401);
	assert.match(basic.headers.get('www-authenticate'), /^Basic realm=/);
	assert.equal((await basic.json()).error, 'invalid_client');
	// the token endpoint answers in OAuth's JSON, not problem+json
	const raw = await fetch(srv.url + '/oidc/token', {
		method: 'POST',
		headers: { 'content-type': 'application/x-www-form-urlencoded' },
		body: 'grant_type=password&username=a&password=b&client_id=' + app.client_id + '&client_secret=' + app.client_secret,
	});
	assert.equal(raw.status, 400);
	assert.match(raw.headers.get('content-type'), /^application\/json/);
	assert.equal(raw.headers.get('cache-control'), 'no-store');
	assert.equal((await raw.json()).error, 'unsupported_grant_type');
	const none = await fetch(srv.url + '/oidc/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
	assert.equal(none.status, 401);
	assert.equal((await none.json()).error, 'invalid_client');

	// authorisation requests: an unknown client and a redirect_uri not registered are shown, not redirected
	const req = await authRequest();
	for (const [k, v] of [
		['client_id', 'no-such-app'],
		['redirect_uri', 'http://127.0.0.1:9/callback/other'],
		['redirect_uri', 'https://evil.example/callback'],
	]) {
		const u = new URL(req.url);
		u.searchParams.set(k, v);
		const res = await S.browser.get(u.href);
		assert.equal(res.status, 400, `${k}=${v}`);
		assert.equal(res.headers.get('location'), null, `${k}=${v} must not redirect`);
		assert.match(await res.text(), k === 'client_id' ? /invalid_client/ : /redirect_uri/);
	}
	// the rest go back to the application with error and state
	const plain = new URL(req.url);
	plain.searchParams.set('code_challenge_method', 'plain');
	let res = await S.browser.get(plain.href);
	assert.equal(res.status, 302);
	let back = new URL(res.headers.get('location'));
	assert.equal(back.origin + back.pathname, REDIRECT);
	assert.equal(back.searchParams.get('error'), 'invalid_request');
	assert.equal(back.searchParams.get('state'), req.state);
	const noPkce = new URL(req.url);
	noPkce.searchParams.delete('code_challenge');
	noPkce.searchParams.delete('code_challenge_method');
	res = await S.browser.get(noPkce.href);
	back = new URL(res.headers.get('location'));
	assert.equal(back.searchParams.get('error'), 'invalid_request');
	const scope = new URL(req.url);
	scope.searchParams.set('scope', 'openid admin.all');
	res = await S.browser.get(scope.href);
	back = new URL(res.headers.get('location'));
	assert.equal(back.searchParams.get('error'), 'invalid_scope');
	// prompt=none without a session: login_required, not the sign-in page
	const anon = new Client(srv.url);
	const pn = new URL(req.url);
	pn.searchParams.set('prompt', 'none');
	res = await anon.get(pn.href);
	back = new URL(res.headers.get('location'));
	assert.equal(back.searchParams.get('error'), 'login_required');
	// userinfo without a token
	const ui = await fetch(srv.url + '/oidc/userinfo');
	assert.equal(ui.status, 401);
	assert.match(ui.headers.get('www-authenticate'), /^Bearer/);
});

test('RP-initiated logout: back to a registered address with state, the session and its tokens end', async () => {
	const req = await authRequest();
	const back = await codeFor(S.browser, req);
	const t = await oc.authorizationCodeGrant(config, back, {
		pkceCodeVerifier: req.verifier,
		expectedState: req.state,
		expectedNonce: req.nonce,
	});
	// an address that is not registered: shown, not followed
	let res = await S.browser.get(
		oc.buildEndSessionUrl(config, { id_token_hint: t.id_token, post_logout_redirect_uri: 'https://evil.example/' }).href
	);
	assert.equal(res.status, 400);
	assert.equal(res.headers.get('location'), null);
	assert.equal((await S.browser.get('/api/v1/me')).status, 200, 'a refused logout signs nobody out');

	const url = oc.buildEndSessionUrl(config, { id_token_hint: t.id_token, post_logout_redirect_uri: BYE, state: 'bye-1' });
	res = await S.browser.get(url.href);
	assert.equal(res.status, 302);
	const to = new URL(res.headers.get('location'));
	assert.equal(to.origin + to.pathname, BYE);
	assert.equal(to.searchParams.get('state'), 'bye-1');
	await expectProblem(await S.browser.get('/api/v1/me'), 401, 'signed out of the platform');
	const e = await oauthError(oc.refreshTokenGrant(config, t.refresh_token));
	assert.equal(e.error, 'invalid_grant');
	assert.equal((await oc.tokenIntrospection(config, t.access_token)).active, false);
	// signed out: the next authorisation asks for the sign-in page again
	res = await S.browser.get((await authRequest()).url.href);
	assert.equal(new URL(res.headers.get('location'), srv.url).pathname, '/login');
});

test('registered clients through the API: permission, scope, no secret after creation, new secret, If-Match', async () => {
	const list = await expectJson(await admin.get('/api/v1/oidc/clients'), 200, 'list');
	const mine = list.items.find((c) => c.client_id === app.client_id);
	assert.ok(mine);
	assert.equal(mine.client_secret, undefined, 'the secret is shown only once');
	assert.equal(mine.org_code, '520100-fgw');
	const clerk = await signIn(srv.url, ...DEMO.clerkFgw);
	await expectProblem(await clerk.get('/api/v1/oidc/clients'), 403, 'a clerk may not manage clients');
	const auditor = await signIn(srv.url, ...DEMO.auditor);
	await expectProblem(await auditor.post('/api/v1/oidc/clients', { json: { name: 'x' } }), 403, 'auditor');
	// validation: every fault at once
	const orgs = await expectJson(await admin.get('/api/v1/orgs?q=' + encodeURIComponent('公安')), 200, 'orgs');
	const p = await expectProblem(
		await admin.post('/api/v1/oidc/clients', {
			json: { name: '', org_id: orgs.items[0].id, redirect_uris: ['http://example.org/cb', 'ftp://x'], grant_types: ['implicit'] },
		}),
		400,
		'bad client'
	);
	const fields = p.errors.map((e) => e.field).sort();
	assert.deepEqual(fields, ['grant_types', 'name', 'redirect_uris']);
	// changes need the current version
	let res = await admin.get(`/api/v1/oidc/clients/${app.client_id}`);
	const etag = res.headers.get('etag');
	assert.match(etag, /^"\d+"$/);
	res = await admin.patch(`/api/v1/oidc/clients/${app.client_id}`, { json: { name: '项目管理系统（新）' }, headers: { 'if-match': '"999"' } });
	await expectProblem(res, 409, 'stale version');
	res = await admin.patch(`/api/v1/oidc/clients/${app.client_id}`, { json: { name: '项目管理系统（新）' }, headers: { 'if-match': etag } });
	const changed = await expectJson(res, 200, 'patch');
	assert.equal(changed.name, '项目管理系统（新）');
	// a new secret: the old one stops working at once
	const ns = await expectJson(await admin.post(`/api/v1/oidc/clients/${app.client_id}/secret`), 200, 'new secret');
	assert.ok(ns.client_secret && ns.client_secret !== app.client_secret);
	const e = await oauthError(oc.clientCredentialsGrant(config));
	assert.equal(e.error, 'invalid_client');
	const fresh = await oc.discovery(new URL(srv.url), app.client_id, ns.client_secret, undefined, { execute: [oc.allowInsecureRequests] });
	assert.ok((await oc.clientCredentialsGrant(fresh)).access_token);
	// the audit chain holds the registration, the change and the new secret
	const log = await expectJson(await auditor.get('/api/v1/audit?object=' + encodeURIComponent('oidc-client:' + app.client_id)), 200, 'audit');
	const actions = log.items.map((x) => x.action).sort();
	for (const a of ['iam.oidc.client.create', 'iam.oidc.client.secret', 'iam.oidc.client.update']) assert.ok(actions.includes(a), `${a} in ${actions}`);
});

// The OpenAPI document at /api/v1/openapi.json: valid OpenAPI 3.1 by an independent validator
// (@seriousme/openapi-schema-validator, installed in tests/e2e/node_modules by scripts/install-deps),
// and in step with the route table that `yizhan routes` prints: every API route, with its permission
// and data scope, and nothing else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runCli, repoRoot } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { dataArgs, expectJson } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
const VALIDATOR = `${repoRoot}/tests/e2e/node_modules/@seriousme/openapi-schema-validator/index.js`;
let srv;
let doc;
let routes; // [{method, pattern, perm, scope}] from `yizhan routes`

before(async () => {
	srv = await startServer({ backend });
	const res = await new Client(srv.url).get('/api/v1/openapi.json');
	doc = await expectJson(res, 200, 'openapi.json');
	const r = await runCli(['routes', ...dataArgs(srv)]);
	assert.equal(r.code, 0, r.stderr);
	routes = r.stdout
		.split('\n')
		.filter((l) => l.trim())
		.map((l) => {
			const m = /^(GET|POST|PUT|DELETE|PATCH)\s+(\S+)\s+(\S+)\s+(org|none)$/.exec(l.trim());
			assert.ok(m, `unexpected line from yizhan routes: ${l}`);
			return { method: m[1], pattern: m[2], perm: m[3], scope: m[4] };
		});
});

after(async () => {
	await srv?.cleanup();
});

async function validator() {
	try {
		const { Validator } = await import(VALIDATOR);
		return new Validator();
	} catch (e) {
		throw new Error(`cannot load the OpenAPI validator (${e.message}); run scripts/install-deps`);
	}
}

test(`openapi.json is a valid OpenAPI 3.1 document (${backend})`, async () => {
	assert.equal(doc.openapi, '3.1.0');
	assert.equal(typeof doc.info.title, 'string');
	assert.equal(typeof doc.info.version, 'string');
	const v = await validator();
	const res = await v.validate(structuredClone(doc));
	assert.equal(res.valid, true, `not valid OpenAPI: ${JSON.stringify(res.errors, null, 1)?.slice(0, 3000)}`);
	assert.equal(v.version, '3.1');
	// every $ref resolves
	assert.doesNotThrow(() => v.resolveRefs());

	// the validator is not a rubber stamp: a broken copy is refused
	const broken = structuredClone(doc);
	delete broken.info;
	broken.paths['/api/v1/me'].get.responses = 'none';
	const bad = await (await validator()).validate(broken);
	assert.equal(bad.valid, false);
});

test('every operation is well formed: unique operationId, path parameters declared, problem+json errors', async () => {
	const ids = new Set();
	for (const [path, item] of Object.entries(doc.paths)) {
		const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
		for (const [method, op] of Object.entries(item)) {
			const where = `${method.toUpperCase()} ${path}`;
			assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} twice`);
			ids.add(op.operationId);
			assert.deepEqual(
				(op.parameters || []).filter((p) => p.in === 'path').map((p) => p.name).sort(),
				[...params].sort(),
				`${where}: path parameters`
			);
			for (const p of op.parameters || []) if (p.in === 'path') assert.equal(p.required, true, `${where}: ${p.name}`);
			assert.equal(
				op.responses['400']?.content?.['application/problem+json']?.schema?.$ref,
				'#/components/schemas/Problem',
				`${where}: 400`
			);
			if (op['x-permission'] !== 'public') {
				assert.ok(op.responses['401'] && op.responses['403'], `${where}: no 401/403`);
				assert.deepEqual(op.security, [{ session: [] }], `${where}: security`);
			} else {
				assert.equal(op.security, undefined, `${where}: a public route asks for a session`);
			}
			if (['post', 'put', 'patch'].includes(method)) assert.ok(op.requestBody?.content?.['application/json'], `${where}: body`);
		}
	}
	assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['csrf', 'session']);
	assert.equal(doc.components.securitySchemes.session.name, 'yz_sid');
	assert.equal(doc.components.securitySchemes.csrf.name, 'X-CSRF-Token');
});

test('every API route of `yizhan routes` is in the document with its x-permission and x-scope', async () => {
	const api = routes.filter((r) => r.pattern.startsWith('/api/'));
	assert.ok(api.length >= 24, `only ${api.length} API routes printed`);
	const missing = [];
	for (const r of api) {
		const op = doc.paths[r.pattern]?.[r.method.toLowerCase()];
		if (!op) {
			missing.push(`${r.method} ${r.pattern}`);
			continue;
		}
		assert.equal(op['x-permission'], r.perm, `${r.method} ${r.pattern}: x-permission`);
		assert.equal(op['x-scope'], r.scope, `${r.method} ${r.pattern}: x-scope`);
	}
	assert.deepEqual(missing, [], 'API routes missing from openapi.json');

	// and the document has no operation the router does not serve
	// (a {rest...} parameter is templated {rest} in OpenAPI)
	const served = new Set(routes.map((r) => `${r.method} ${r.pattern.replace('...}', '}')}`));
	const extra = [];
	for (const [path, item] of Object.entries(doc.paths))
		for (const method of Object.keys(item)) if (!served.has(`${method.toUpperCase()} ${path}`)) extra.push(`${method} ${path}`);
	assert.deepEqual(extra, [], 'operations in openapi.json that no route serves');
	// no page route leaks into the API description
	for (const p of Object.keys(doc.paths)) assert.ok(!/^\/(admin|login|logout|workbench|prefs|static|audit)\b/.test(p), `page ${p} in openapi.json`);
	// a few known facts, so that a table and a document that are both wrong in the same way still fail
	assert.equal(doc.paths['/api/v1/users/{id}/roles'].put['x-permission'], 'iam.role.manage');
	assert.equal(doc.paths['/api/v1/users'].post['x-permission'], 'iam.user.manage');
	assert.equal(doc.paths['/api/v1/audit'].get['x-permission'], 'audit.read');
	assert.equal(doc.paths['/api/v1/audit'].get['x-scope'], 'org');
	assert.equal(doc.paths['/api/v1/session'].post['x-permission'], 'public');
	assert.equal(doc.paths['/api/v1/session'].delete['x-permission'], 'signed-in');
	assert.equal(doc.paths['/api/v1/openapi.json'].get['x-permission'], 'public');
});

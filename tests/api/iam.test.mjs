// Users, roles and organisations through the JSON API, with the separation of duties of the demo
// city: admin (sys_admin) manages orgs and users, secadmin (sec_admin) grants roles, auditor reads the
// audit log, zhangwei.fgw (dept_admin) manages the users of 发改委 only. The tests run in order on one
// server and build on each other (the user created first gets roles later); the last test checks that
// every change made here is in the audit log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { Client } from './lib/client.mjs';
import { DEMO, expectJson, expectProblem, signIn, usccCheck, usccWrongCheck } from './lib/extra.mjs';

const backend = process.env.YIZHAN_TEST_BACKEND || 'sqlite';
let srv;
let admin, secadmin, auditor, deptAdmin;
const org = {}; // code → org
const S = {}; // state shared along the file: ids of what the tests created
const changes = []; // [object, action] every change this file made, for the audit check at the end

before(async () => {
	srv = await startServer({ backend });
	[admin, secadmin, auditor, deptAdmin] = await Promise.all([
		signIn(srv.url, ...DEMO.admin),
		signIn(srv.url, ...DEMO.secadmin),
		signIn(srv.url, ...DEMO.auditor),
		signIn(srv.url, ...DEMO.deptAdminFgw),
	]);
	const list = await expectJson(await admin.get('/api/v1/orgs'), 200, 'orgs');
	for (const o of list.items) org[o.code] = o;
});

after(async () => {
	await srv?.cleanup();
});

const NEW_PW = 'Kaishi#2026x';
function newUser(over = {}) {
	return {
		login: 'test.newclerk',
		name: '测试经办人',
		kind: 'civil_servant',
		org_id: org['520100-fgw'].id,
		password: NEW_PW,
		phone: '13900000001',
		email: 'test.newclerk@example.gov.cn',
		...over,
	};
}
function fieldRules(p) {
	return (p.errors || []).map((e) => `${e.field}:${e.rule}`).sort();
}

// ---- users ----

test(`admin creates a user: 201 with a Location header (${backend})`, async () => {
	const res = await admin.post('/api/v1/users', { json: newUser() });
	const u = await expectJson(res, 201, 'create user');
	assert.equal(res.headers.get('location'), `/api/v1/users/${u.id}`);
	assert.equal(u.login, 'test.newclerk');
	assert.equal(u.name, '测试经办人');
	assert.equal(u.kind, 'civil_servant');
	assert.equal(u.org_id, org['520100-fgw'].id);
	assert.equal(u.org_name, '贵阳市发展和改革委员会');
	assert.equal(u.status, 'active');
	assert.equal(u.version, 1);
	assert.deepEqual(u.roles, []);
	assert.equal(u.password, undefined);
	assert.equal(u.pw_hash, undefined);
	S.user = u;
	changes.push([`user:${u.id}`, 'iam.user.create']);

	// readable at its Location, with its version as the ETag
	const got = await admin.get(res.headers.get('location'));
	assert.equal(got.headers.get('etag'), '"1"');
	assert.deepEqual(await expectJson(got, 200), u);
	// and the new user can sign in with the password the admin gave
	await signIn(srv.url, 'test.newclerk', NEW_PW);
	changes.push([`user:${u.id}`, 'iam.login']);
});

test('user validation errors name the field and the rule', async () => {
	const cases = [
		[{ login: 'Bad Login' }, ['login:pattern']],
		[{ login: '9starts.with.digit' }, ['login:pattern']],
		[{ login: 'ab' }, ['login:pattern']],
		[{ password: 'alllowercaseletters' }, ['password:complexity']],
		[{ password: 'Sh0rt!' }, ['password:min-length']],
		[{ login: 'test.pwlogin', password: 'Xtest.pwlogin1' }, ['password:not-login']],
		[{ org_id: undefined }, ['org_id:required']],
		[{ kind: 'citizen' }, ['org_id:forbidden']],
		[{ kind: 'wizard' }, ['kind:enum']],
		[{ phone: '12345' }, ['phone:pattern']],
		[{ email: 'not-an-email' }, ['email:pattern']],
		[{ name: '' }, ['name:required']],
		[{ org_id: 999999 }, ['org_id:exists']],
		[{ name: undefined, password: undefined }, ['name:required', 'password:required']],
	];
	for (const [over, want] of cases) {
		const body = newUser({ login: 'test.invalid', ...over });
		for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
		const p = await expectProblem(await admin.post('/api/v1/users', { json: body }), 400, JSON.stringify(over));
		assert.equal(p.type, '/problems/invalid');
		assert.deepEqual(fieldRules(p), want, JSON.stringify(over));
		for (const e of p.errors) assert.equal(typeof e.expected, 'string', `no expected for ${e.field}`);
	}
	// none of them was created
	const list = await expectJson(await admin.get('/api/v1/users?q=test.'), 200);
	assert.deepEqual(
		list.items.map((u) => u.login),
		['test.newclerk']
	);
});

test('one request with several bad fields names every one of them', async () => {
	const body = newUser({ login: 'Bad Login', password: 'alllowercaseletters' });
	delete body.org_id; // staff without an organisation
	const p = await expectProblem(await admin.post('/api/v1/users', { json: body }), 400);
	assert.deepEqual(fieldRules(p), ['login:pattern', 'org_id:required', 'password:complexity']);
});

test('a duplicate login is a 400 with rule unique', async () => {
	const p = await expectProblem(
		await admin.post('/api/v1/users', { json: newUser({ name: '另一个人', phone: '13900000002' }) }),
		400
	);
	assert.deepEqual(fieldRules(p), ['login:unique']);
	assert.equal(p.errors[0].got, 'test.newclerk');
	// a demo user's login too
	const q = await expectProblem(await admin.post('/api/v1/users', { json: newUser({ login: 'admin' }) }), 400);
	assert.deepEqual(fieldRules(q), ['login:unique']);
});

test('PATCH with the current If-Match changes the user; a stale one is a 409', async () => {
	const id = S.user.id;
	const ok = await admin.patch(`/api/v1/users/${id}`, {
		json: { name: '测试经办人甲', phone: '13900000009' },
		headers: { 'if-match': '"1"' },
	});
	const u = await expectJson(ok, 200, 'patch with If-Match "1"');
	assert.equal(u.name, '测试经办人甲');
	assert.equal(u.phone, '13900000009');
	assert.equal(u.version, 2);
	changes.push([`user:${id}`, 'iam.user.update']);

	const stale = await expectProblem(
		await admin.patch(`/api/v1/users/${id}`, { json: { name: '过时的修改' }, headers: { 'if-match': '"1"' } }),
		409,
		'patch with a stale If-Match'
	);
	assert.equal(stale.type, '/problems/conflict');
	const now = await expectJson(await admin.get(`/api/v1/users/${id}`), 200);
	assert.equal(now.name, '测试经办人甲', 'the stale PATCH changed the user');
	assert.equal(now.version, 2);

	await expectProblem(
		await admin.patch(`/api/v1/users/${id}`, { json: { name: 'x' }, headers: { 'if-match': 'W/"x"' } }),
		400,
		'a malformed If-Match'
	);
	// validation on PATCH too
	const bad = await expectProblem(
		await admin.patch(`/api/v1/users/${id}`, { json: { status: 'gone', login: 'renamed' }, headers: { 'if-match': '"2"' } }),
		400
	);
	assert.deepEqual(fieldRules(bad), ['login:unknown-field']);
	await expectProblem(await admin.patch('/api/v1/users/999999', { json: { name: 'x' } }), 404);
});

// ---- roles ----

test('secadmin grants roles with PUT; the user then holds their permissions', async () => {
	const id = S.user.id;
	const res = await secadmin.put(`/api/v1/users/${id}/roles`, {
		json: {
			roles: [
				{ role: 'clerk', scope: '520100-fgw' },
				{ role: 'leader', scope: org['520102'].id },
			],
		},
	});
	const u = await expectJson(res, 200, 'PUT roles');
	assert.deepEqual(
		u.roles.map((r) => [r.role, r.scope_code]),
		[
			['clerk', '520100-fgw'],
			['leader', '520102'],
		]
	);
	changes.push([`user:${id}`, 'iam.user.roles']);

	const c = await signIn(srv.url, 'test.newclerk', NEW_PW);
	const me = await expectJson(await c.get('/api/v1/me'), 200);
	const fgw = org['520100-fgw'].path;
	const nm = org['520102'].path;
	const perms = Object.fromEntries(Object.entries(me.permissions).map(([k, v]) => [k, [...v].sort()]));
	assert.deepEqual(perms, {
		'audit.read': [nm],
		'flow.read': [nm],
		'iam.org.read': [fgw, nm].sort(),
		'iam.user.read': [nm],
		'supervise.respond': [fgw, nm].sort(),
		'workbench.use': [fgw, nm].sort(),
	});
	// and can use them: the leader role reads users of 南明区 but not of 发改委
	const list = await expectJson(await c.get('/api/v1/users?limit=200'), 200);
	assert.ok(list.items.length > 0);
	for (const x of list.items) assert.ok(x.org_id && org_path(x.org_id).startsWith(nm), `${x.login} is outside 南明区`);
	// but cannot manage users
	await expectProblem(await c.post('/api/v1/users', { json: newUser({ login: 'test.other' }) }), 403);

	// a role that does not exist, and a scope that does not exist, name the assignment
	const p = await expectProblem(
		await secadmin.put(`/api/v1/users/${id}/roles`, { json: { roles: [{ role: 'no_such_role', scope: '520100' }] } }),
		400
	);
	assert.deepEqual(fieldRules(p), ['roles[0]:exists']);
	const q = await expectProblem(
		await secadmin.put(`/api/v1/users/${id}/roles`, {
			json: { roles: [{ role: 'clerk', scope: '520100' }, { role: 'clerk', scope: 'no-such-org' }] },
		}),
		400
	);
	assert.deepEqual(fieldRules(q), ['roles[1]:scope']);
	// the failed PUTs changed nothing
	const again = await expectJson(await admin.get(`/api/v1/users/${id}`), 200);
	assert.deepEqual(
		again.roles.map((r) => r.role),
		['clerk', 'leader']
	);
});

test('an unknown field inside a role assignment is a 400 naming it, not silently dropped', async () => {
	// A client that believes it can grant a role until a date must not get a permanent grant instead.
	// (On a demo user that no other test here looks at: huangli.jyj, 经办人 of 教育局.)
	const { items } = await expectJson(await admin.get('/api/v1/users?q=huangli.jyj'), 200);
	assert.equal(items.length, 1);
	const res = await secadmin.put(`/api/v1/users/${items[0].id}/roles`, {
		json: { roles: [{ role: 'clerk', scope: '520100-jyj', until: '2027-01-01' }] },
	});
	const text = await res.text();
	assert.equal(res.status, 400, `PUT roles with an unknown "until": ${res.status} ${text.slice(0, 300)}`);
	const p = JSON.parse(text);
	assert.ok(
		p.errors?.some((e) => e.rule === 'unknown-field' && /until/.test(e.field)),
		`errors do not name "until": ${JSON.stringify(p.errors)}`
	);
});

function org_path(id) {
	return Object.values(org).find((o) => o.id === id)?.path ?? '';
}

test('nobody changes their own roles (422)', async () => {
	const me = await expectJson(await secadmin.get('/api/v1/me'), 200);
	const p = await expectProblem(
		await secadmin.put(`/api/v1/users/${me.id}/roles`, { json: { roles: [{ role: 'sys_admin', scope: '520100' }] } }),
		422
	);
	assert.equal(p.type, '/problems/refused');
	assert.match(p.detail, /your own roles/);
	const after = await expectJson(await secadmin.get('/api/v1/me'), 200);
	assert.deepEqual(
		after.roles.map((r) => r.role),
		['sec_admin']
	);
});

test('the system administrator cannot grant roles (403)', async () => {
	const p = await expectProblem(
		await admin.put(`/api/v1/users/${S.user.id}/roles`, { json: { roles: [{ role: 'sys_admin', scope: '520100' }] } }),
		403
	);
	assert.equal(p.type, '/problems/forbidden');
	assert.match(p.detail, /iam\.role\.manage/);
	const me = await expectJson(await admin.get('/api/v1/me'), 200);
	await expectProblem(await admin.put(`/api/v1/users/${me.id}/roles`, { json: { roles: [] } }), 403);
	// nor create roles
	await expectProblem(
		await admin.post('/api/v1/roles', { json: { code: 'x', name: 'x', permissions: ['iam.role.manage'] } }),
		403
	);
});

test('a department administrator sees and manages only the users of their department', async () => {
	const fgw = org['520100-fgw'];
	const list = await expectJson(await deptAdmin.get('/api/v1/users?limit=200'), 200);
	const logins = list.items.map((u) => u.login).sort();
	assert.deepEqual(logins, ['chenjing.fgw', 'test.newclerk', 'zhangwei.fgw']);
	for (const u of list.items) assert.equal(u.org_id, fgw.id);

	// users elsewhere are not found (404), whether reading or changing them
	const adminMe = await expectJson(await admin.get('/api/v1/me'), 200);
	await expectProblem(await deptAdmin.get(`/api/v1/users/${adminMe.id}`), 404, 'read admin');
	await expectProblem(
		await deptAdmin.patch(`/api/v1/users/${adminMe.id}`, { json: { name: '改名' } }),
		404,
		'patch admin'
	);
	await expectProblem(
		await deptAdmin.post(`/api/v1/users/${adminMe.id}/password`, { json: { password: 'Hijack#2026x' } }),
		404,
		'reset the admin password'
	);
	// the admin is unchanged and can still sign in with the old password
	await signIn(srv.url, ...DEMO.admin);

	// creating a user in another org is a 403
	const p = await expectProblem(
		await deptAdmin.post('/api/v1/users', { json: newUser({ login: 'test.elsewhere', org_id: org['520100-scjgj'].id }) }),
		403
	);
	assert.match(p.detail, /outside your scope/);
	// a citizen (no org) is outside a department's scope too
	await expectProblem(
		await deptAdmin.post('/api/v1/users', {
			json: newUser({ login: 'test.citizen', kind: 'citizen', org_id: undefined }),
		}),
		403
	);
	// moving their own user out of the department is refused as well
	await expectProblem(
		await deptAdmin.patch(`/api/v1/users/${S.user.id}`, { json: { org_id: org['520100-scjgj'].id } }),
		403
	);
	// in their own department it works
	const res = await deptAdmin.post('/api/v1/users', {
		json: newUser({ login: 'test.fgw2', name: '发改委新人', phone: '13900000003', email: '' }),
	});
	const u = await expectJson(res, 201);
	assert.equal(u.org_id, fgw.id);
	assert.equal(u.email, null);
	changes.push([`user:${u.id}`, 'iam.user.create']);
	// and they cannot grant roles
	await expectProblem(await deptAdmin.put(`/api/v1/users/${u.id}/roles`, { json: { roles: [] } }), 403);
	// their organisation list is their department's subtree
	const orgs = await expectJson(await deptAdmin.get('/api/v1/orgs'), 200);
	assert.deepEqual(
		orgs.items.map((o) => o.code),
		['520100-fgw']
	);
	await expectProblem(await deptAdmin.get(`/api/v1/orgs/${org['520100'].id}`), 404);
});

test('the auditor reads the audit log but cannot manage users, roles or orgs (403)', async () => {
	const a = await expectJson(await auditor.get('/api/v1/audit?limit=5'), 200, 'auditor reads audit');
	assert.equal(a.items.length, 5);
	for (const [method, path, body] of [
		['POST', '/api/v1/users', newUser({ login: 'test.byauditor' })],
		['PATCH', `/api/v1/users/${S.user.id}`, { name: '审计员改的' }],
		['POST', `/api/v1/users/${S.user.id}/unlock`, undefined],
		['PUT', `/api/v1/users/${S.user.id}/roles`, { roles: [] }],
		['POST', '/api/v1/orgs', { code: 'by-auditor', name: 'x', kind: 'unit', parent_id: 1 }],
		['PATCH', `/api/v1/orgs/${org['520100-fgw'].id}`, { name: 'x' }],
	]) {
		const p = await expectProblem(await auditor.request(method, path, body ? { json: body } : {}), 403, `${method} ${path}`);
		assert.match(p.detail, /permission/);
	}
	// users without audit.read cannot read it
	await expectProblem(await admin.get('/api/v1/audit'), 403);
	await expectProblem(await secadmin.get('/api/v1/audit'), 403);
	await expectProblem(await deptAdmin.get('/api/v1/audit/verify'), 403);
});

// ---- organisations ----

test('the organisation list is a depth-first tree with depth', async () => {
	const { items } = await expectJson(await admin.get('/api/v1/orgs'), 200);
	assert.equal(items.length, 141, 'demo-city has 141 organisations');
	assert.equal(items[0].code, '520100');
	assert.equal(items[0].depth, 0);
	assert.equal(items[0].parent_id, null);
	const byId = new Map();
	const stack = []; // ancestors of the current item, root first
	for (const o of items) {
		assert.ok(!byId.has(o.id), `org ${o.id} listed twice`);
		if (o.parent_id !== null) {
			// depth-first: the parent is the previous item or one of its ancestors
			while (stack.length && stack[stack.length - 1].id !== o.parent_id) stack.pop();
			assert.ok(stack.length, `${o.code} does not follow its parent ${o.parent_id} in the tree order`);
			const parent = stack[stack.length - 1];
			assert.equal(o.depth, parent.depth + 1, `${o.code} depth`);
			assert.equal(o.path, `${parent.path}${o.id}/`, `${o.code} path`);
		}
		assert.equal(o.depth, o.path.split('/').length - 3, `${o.code} depth vs path`);
		byId.set(o.id, o);
		stack.push(o);
	}
	// siblings in sort order
	const kids = new Map();
	for (const o of items) {
		if (o.parent_id === null) continue;
		if (!kids.has(o.parent_id)) kids.set(o.parent_id, []);
		kids.get(o.parent_id).push(o.sort);
	}
	for (const [p, sorts] of kids)
		assert.deepEqual(sorts, [...sorts].sort((a, b) => a - b), `children of ${byId.get(p).code} out of sort order`);
	// the districts are children of the city
	assert.equal(byId.get(org['520102'].id).depth, 1);
	assert.equal(org['520102031002'].depth, 3);
});

test('admin creates an organisation under a district (201, Location)', async () => {
	const nm = org['520102'];
	const head = '11520102752999990';
	const body = {
		code: '520102-test',
		name: '贵阳市南明区测试局',
		kind: 'department',
		parent_id: nm.id,
		division_code: '520102',
		uscc: head + usccCheck(head),
		sort: 99,
	};
	const res = await admin.post('/api/v1/orgs', { json: body });
	const o = await expectJson(res, 201, 'create org');
	assert.equal(res.headers.get('location'), `/api/v1/orgs/${o.id}`);
	assert.equal(o.code, '520102-test');
	assert.equal(o.parent_id, nm.id);
	assert.equal(o.path, `${nm.path}${o.id}/`);
	assert.equal(o.uscc, body.uscc);
	assert.equal(o.kind, 'department');
	assert.equal(o.status, 'active');
	assert.equal(o.version, 1);
	S.org = o;
	changes.push([`org:${o.id}`, 'iam.org.create']);

	// it sits in the tree: inside its district's subtree, at depth 2, after the district's other children
	const { items } = await expectJson(await admin.get('/api/v1/orgs'), 200);
	const i = items.findIndex((x) => x.id === o.id);
	const d = items.findIndex((x) => x.id === nm.id);
	assert.ok(i > d, 'listed before its district');
	assert.equal(items[i].depth, 2);
	for (let k = d + 1; k < i; k++) assert.ok(items[k].path.startsWith(nm.path), `${items[k].code} between the district and its new child`);
	// and can be read back
	assert.deepEqual(await expectJson(await admin.get(`/api/v1/orgs/${o.id}`), 200), o);
});

test('a wrong USCC check character is a 400 with rule uscc', async () => {
	const head = '11520102752999981';
	for (const uscc of [head + usccWrongCheck(head), '11520102752999981I', '1152010275299998', 'ABCDEFGHIJKLMNOPQR']) {
		const p = await expectProblem(
			await admin.post('/api/v1/orgs', {
				json: { code: '520102-bad', name: '坏代码局', kind: 'department', parent_id: org['520102'].id, uscc },
			}),
			400,
			uscc
		);
		assert.deepEqual(fieldRules(p), ['uscc:uscc'], uscc);
		assert.equal(p.errors[0].got, uscc);
	}
	// the right check character passes (control)
	const ok = await admin.post('/api/v1/orgs', {
		json: { code: '520102-good', name: '好代码局', kind: 'department', parent_id: org['520102'].id, uscc: head + usccCheck(head) },
	});
	const o = await expectJson(ok, 201);
	changes.push([`org:${o.id}`, 'iam.org.create']);
});

test('a duplicate organisation code is a 400 with rule unique', async () => {
	const p = await expectProblem(
		await admin.post('/api/v1/orgs', {
			json: { code: '520102-test', name: '重复的局', kind: 'department', parent_id: org['520102'].id },
		}),
		400
	);
	assert.deepEqual(fieldRules(p), ['code:unique']);
	const q = await expectProblem(
		await admin.post('/api/v1/orgs', { json: { code: '520100', name: '另一个贵阳', kind: 'unit', parent_id: org['520102'].id } }),
		400
	);
	assert.deepEqual(fieldRules(q), ['code:unique']);
	// other org validation names its fields
	const r = await expectProblem(
		await admin.post('/api/v1/orgs', { json: { code: 'bad code!', name: '', kind: 'planet', parent_id: org['520102'].id, division_code: '52' } }),
		400
	);
	assert.deepEqual(fieldRules(r), ['code:pattern', 'division_code:pattern', 'kind:enum', 'name:required']);
	const s = await expectProblem(
		await admin.post('/api/v1/orgs', { json: { code: 'orphan', name: '孤儿', kind: 'unit', parent_id: 999999 } }),
		400
	);
	assert.deepEqual(fieldRules(s), ['parent_id:exists']);
	const t = await expectProblem(await admin.post('/api/v1/orgs', { json: { code: 'second-root', name: '第二个根', kind: 'city' } }), 400);
	assert.deepEqual(fieldRules(t), ['parent_id:required']);
});

test('PATCH changes an organisation name', async () => {
	const id = S.org.id;
	const o = await expectJson(await admin.patch(`/api/v1/orgs/${id}`, { json: { name: '贵阳市南明区测试管理局' } }), 200);
	assert.equal(o.name, '贵阳市南明区测试管理局');
	assert.equal(o.code, '520102-test');
	assert.equal(o.uscc, S.org.uscc, 'PATCH of the name changed the USCC');
	assert.equal(o.version, 2);
	changes.push([`org:${id}`, 'iam.org.update']);
	const got = await expectJson(await admin.get(`/api/v1/orgs/${id}`), 200);
	assert.equal(got.name, '贵阳市南明区测试管理局');
	const { items } = await expectJson(await admin.get('/api/v1/orgs?q=测试管理局'), 200);
	assert.deepEqual(
		items.map((x) => x.id),
		[id]
	);
	// fields that cannot change are refused by name
	const p = await expectProblem(await admin.patch(`/api/v1/orgs/${id}`, { json: { code: 'renamed', parent_id: 1 } }), 400);
	assert.deepEqual(fieldRules(p), ['code:unknown-field', 'parent_id:unknown-field']);
	await expectProblem(await admin.patch('/api/v1/orgs/999999', { json: { name: 'x' } }), 404);
});

// ---- every change above is audited ----

test('every change made above is in the audit log, for the auditor', async () => {
	assert.ok(changes.length >= 8, `only ${changes.length} changes recorded`);
	for (const [object, action] of changes) {
		const { items } = await expectJson(await auditor.get(`/api/v1/audit?object=${encodeURIComponent(object)}&limit=200`), 200);
		const hit = items.filter((x) => x.action === action);
		assert.ok(hit.length >= 1, `no ${action} on ${object}; found ${JSON.stringify(items.map((x) => x.action))}`);
		for (const x of items) assert.equal(x.object, object);
	}
	// the details of one: who did it, what changed, no secret
	const { items } = await expectJson(await auditor.get(`/api/v1/audit?object=user:${S.user.id}&action=iam.user.create`), 200);
	assert.equal(items.length, 1);
	const rec = items[0];
	assert.equal(rec.actor, 'admin');
	assert.equal(rec.change.login, 'test.newclerk');
	assert.equal(rec.change.password, '[redacted]');
	assert.ok(!JSON.stringify(rec).includes(NEW_PW), 'the password is in the audit log');
	assert.equal(rec.org_path, org['520100-fgw'].path);
	assert.match(rec.hash, /^[0-9a-f]{64}$/);
	const roles = (await expectJson(await auditor.get(`/api/v1/audit?object=user:${S.user.id}&action=iam.user.roles`), 200)).items;
	assert.equal(roles.length, 1, 'the failed PUTs of roles were audited as changes');
	assert.equal(roles[0].actor, 'secadmin');
});

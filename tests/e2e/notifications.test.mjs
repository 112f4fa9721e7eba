// Notifications in the browser: a signed-in clerk finds 消息通知 in the workbench navigation, sees two
// unread in-app notifications, marks one read, opens the other (which marks it read and follows its
// link), and filters to the unread ones; an operator holding notify.manage sees a failed SMS with its
// error and alert on 通知发件箱 and sends it again. Every page passes axe-core. The notifications are
// enqueued through POST /api/v1/test/notify (only with --test-clock) until the flow engine produces them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../api/lib/server.mjs';
import { Client } from '../api/lib/client.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import { backend, USERS, t, visit, clickAndWait, pathOf, signIn, h1, flashText, sideNav, englishInMain, Findings } from './lib/pages.mjs';

const TIMEOUT = 90_000;
let srv;
let browser;

before(async () => {
	// no SMS gateway is configured, and one try is all: an SMS fails at once
	srv = await startServer({ backend, testClock: true, extraArgs: ['--notify-max-tries', '1'] });
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
});

async function api(login, password) {
	const c = new Client(srv.url);
	await c.login(login, password);
	return c;
}

async function json(res, status) {
	const text = await res.text();
	assert.equal(res.status, status, text);
	return JSON.parse(text);
}

async function enqueue(msg) {
	return json(await new Client(srv.url).post('/api/v1/test/notify', { json: msg }), 201);
}

// Texts of the cells of the main table, row by row.
async function tableRows(page) {
	return page.locator('main table tbody tr').evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.innerText.replace(/\s+/g, ' ').trim())));
}

test(`a clerk reads notifications: unread, mark as read, open, filter (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const user = USERS.huangli;
	const me = await json(await (await api(user.login, user.password)).get('/api/v1/me'), 200);
	await enqueue({ channel: 'inapp', user_id: me.id, subject: '您的申请已受理', body: '受理编号 2026-0001。\n请留意办理进度。', link: '/workbench', key: 'e2e-1' });
	await enqueue({ channel: 'inapp', user_id: me.id, subject: '材料补正通知', body: '请补充身份证复印件。', key: 'e2e-2' });

	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, user);
		const nav = await sideNav(page);
		const link = nav.sections['我的工作']?.find((l) => l.text === '消息通知');
		assert.ok(link, `消息通知 in 我的工作: ${JSON.stringify(nav)}`);
		assert.equal(link.href, '/notifications');
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '消息通知', exact: true }));
		assert.equal(pathOf(page), '/notifications');
		assert.equal(await h1(page), '消息通知');
		assert.equal((await page.locator('main .lead').innerText()).trim(), '您有 2 条未读消息。');
		let rows = await tableRows(page);
		assert.equal(rows.length, 2);
		// newest first; lines of the body kept apart
		assert.match(rows[0][1], /^材料补正通知 请补充身份证复印件。$/);
		assert.equal(rows[0][2], '未读');
		assert.match(rows[1][1], /^您的申请已受理 受理编号 2026-0001。 ?请留意办理进度。$/);
		assert.match(rows[1][0], /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
		await findings.axe(page, 'the notifications with two unread');
		findings.expect((await englishInMain(page)).length === 0, `English words on /notifications: ${await englishInMain(page)}`);

		// mark the newest read: back on the list with a notice
		const first = page.locator('main table tbody tr').first();
		await clickAndWait(page, first.getByRole('button', { name: /^标为已读\s*：材料补正通知$/ }));
		assert.equal(pathOf(page), '/notifications');
		assert.equal(await flashText(page), t('flash.notification_read'));
		assert.equal((await page.locator('main .lead').innerText()).trim(), '您有 1 条未读消息。');
		rows = await tableRows(page);
		assert.equal(rows[0][2], '已读');
		assert.equal(await first.getByRole('button').count(), 0, 'a read message without a link has no buttons');
		await findings.axe(page, 'the notifications after marking one read');

		// only the unread
		await clickAndWait(page, page.getByRole('navigation', { name: '筛选消息' }).getByRole('link', { name: '只看未读', exact: true }));
		assert.equal(pathOf(page), '/notifications?unread=1');
		rows = await tableRows(page);
		assert.equal(rows.length, 1);
		assert.match(rows[0][1], /^您的申请已受理/);

		// 查看 marks it read and follows its link
		await clickAndWait(page, page.locator('main table').getByRole('button', { name: /^查看\s*：您的申请已受理$/ }));
		assert.equal(pathOf(page), '/workbench');
		await visit(page, srv.url, '/notifications?unread=1');
		assert.deepEqual(await tableRows(page), [['没有未读消息。']]);
		assert.equal((await page.locator('main .lead').innerText()).trim(), '没有未读消息。');
		await findings.axe(page, 'the unread notifications, none left');
		// the other user's list stays empty
		const other = await api(USERS.zhoujun.login, USERS.zhoujun.password);
		assert.equal((await json(await other.get('/api/v1/notifications'), 200)).items.length, 0);
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

test(`an operator sees a failed SMS on 通知发件箱 and sends it again (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	// notify.manage is new: secadmin defines a role with it and grants it to admin at the city level
	const sec = await api(USERS.secadmin.login, USERS.secadmin.password);
	const made = await sec.post('/api/v1/roles', { json: { code: 'notify_admin', name: '通知管理员', permissions: ['workbench.use', 'notify.manage'] } });
	// a pack may define the role already
	if (made.status !== 201) assert.deepEqual((await json(made, 400)).errors.map((x) => [x.field, x.rule]), [['code', 'unique']]);
	const adminUser = (await json(await sec.get('/api/v1/users?q=admin'), 200)).items.find((u) => u.login === 'admin');
	const full = await json(await sec.get(`/api/v1/users/${adminUser.id}`), 200);
	const roles = full.roles.map((r) => ({ role: r.role, scope: r.scope }));
	if (!roles.some((r) => r.role === 'notify_admin')) roles.push({ role: 'notify_admin', scope: full.roles[0].scope });
	await json(await sec.put(`/api/v1/users/${adminUser.id}/roles`, { json: { roles } }), 200);

	const { id } = await enqueue({ channel: 'sms', to: '13800000012', body: '您的证照已制发。', key: 'e2e-sms-1' });
	const admin = await api(USERS.admin.login, USERS.admin.password);
	const t0 = Date.now();
	while ((await json(await admin.get(`/api/v1/outbox/${id}`), 200)).status !== 'failed') {
		assert.ok(Date.now() - t0 < 20_000, 'the SMS did not fail within 20 s');
		await new Promise((r) => setTimeout(r, 100));
	}

	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, USERS.admin);
		const nav = await sideNav(page);
		assert.ok(nav.sections['系统管理']?.some((l) => l.text === '通知发件箱' && l.href === '/admin/notifications'), JSON.stringify(nav));
		await clickAndWait(page, page.locator('nav.side-nav').getByRole('link', { name: '通知发件箱', exact: true }));
		assert.equal(await h1(page), '通知发件箱');
		assert.equal(await page.locator('#alerts-title').innerText(), '失败提醒');
		const row = page.locator(`#m-${id}`);
		const cells = await row.locator('td').evaluateAll((tds) => tds.map((td) => td.textContent.trim()));
		assert.deepEqual(cells.slice(0, 6), [String(id), '短信', '138****0012', '', '发送失败', '1']);
		assert.equal(cells[7], 'no SMS gateway is configured (sms_gateway)');
		await findings.axe(page, 'the outbox with a failed SMS');

		await clickAndWait(page, row.getByRole('button', { name: new RegExp(`^重新发送\\s*：${id}$`) }));
		assert.equal(pathOf(page), '/admin/notifications?status=failed');
		assert.equal(await flashText(page), t('flash.notification_retried'));
		await findings.axe(page, 'the failed messages after the retry');
		// still no gateway: it is tried once more, fails again, and the old alert gave way to a new one
		const audited = async () => {
			const auditor = await api(USERS.auditor.login, USERS.auditor.password);
			return (await json(await auditor.get(`/api/v1/audit?object=notify:${id}`), 200)).items.map((r) => r.action);
		};
		const t1 = Date.now();
		while ((await audited()).length < 3) {
			assert.ok(Date.now() - t1 < 20_000, 'the retried SMS was not tried again within 20 s');
			await new Promise((r) => setTimeout(r, 100));
		}
		assert.deepEqual(await audited(), ['notify.failed', 'notify.retry', 'notify.failed']);
		const list = await json(await admin.get('/api/v1/outbox?status=failed'), 200);
		assert.equal(list.alerts, 1);

		// a clerk may not see the outbox
		const clerk = await newPage(browser);
		try {
			await signIn(clerk, srv.url, USERS.xuqian);
			await visit(clerk, srv.url, '/admin/notifications', { status: 403 });
			await findings.axe(clerk, 'the 403 page of the outbox');
		} finally {
			await clerk.context().close();
		}
	} finally {
		await page.context().close();
	}
	findings.assertNone();
});

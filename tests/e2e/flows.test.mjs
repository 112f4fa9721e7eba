// The three demo flows end to end in the browser, each person on their own page:
//  1. 建设项目三部门并联审批: a citizen applies (first with the required fields missing: an error summary),
//     the window clerk finds the case in the workbench's to-do area and accepts it, the three departments
//     each complete their review from 我的待办, the city's leader signs, and the citizen sees 准予许可.
//  2. 12345热线工单: the hotline centre dispatches, the wrong unit returns the ticket with a reason, the
//     centre corrects the category and dispatches again, the environment bureau replies, the revisit closes it.
//  3. 政务信息发布两级审核: a clerk drafts, the department head passes it, the office's leader publishes.
// Every kind of page (start form with errors, workbench, inbox, instance page) passes axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../api/lib/server.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import { backend, visit, clickAndWait, pathOf, signIn, h1, flashText, checkErrorSummary, Findings } from './lib/pages.mjs';

const TIMEOUT = 180_000;
const PW = 'Yizhan@2026';
const who = (login, password = PW) => ({ login, password });
let srv;
let browser;

before(async () => {
	srv = await startServer({ backend });
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
});

// Sign in on a fresh page, run fn(page), close it.
async function as(user, fn) {
	const page = await newPage(browser);
	try {
		await signIn(page, srv.url, user);
		return await fn(page);
	} finally {
		await page.context().close();
	}
}

// From 我的待办, open the case with this title.
async function openFromInbox(page, title) {
	await visit(page, srv.url, '/inbox?box=todo');
	await clickAndWait(page, page.locator('main table a', { hasText: title }).first());
	assert.match(pathOf(page), /^\/flows\/instances\/\d+$/);
	assert.equal(await h1(page), title + ' ' + (await page.locator('h1 .caption').innerText()).trim());
}

// The form of the viewer's open task (the first one on the page).
function taskForm(page) {
	return page.locator('main section.panel form:has(input[name="cmd"][value="complete"])').first();
}

async function completeTask(page, { outcome, fields = {} } = {}) {
	const form = taskForm(page);
	for (const [label, value] of Object.entries(fields)) {
		const control = form.getByLabel(label);
		if ((await control.evaluate((el) => el.tagName)) === 'SELECT') await control.selectOption({ label: value });
		else await control.fill(value);
	}
	if (outcome) await form.getByLabel(outcome, { exact: true }).check();
	await clickAndWait(page, form.getByRole('button', { name: '提交办理' }));
	assert.equal(pathOf(page), '/inbox', 'after completing a task, back to the inbox');
	assert.ok(await flashText(page), 'a notice confirms the completion');
}

async function statusText(page) {
	return (await page.locator('main dl.summary div', { hasText: '状态' }).locator('dd').innerText()).trim();
}

test(`建设项目三部门并联审批 end to end in the browser (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const title = '花果园学校新建项目（浏览器）';
	let url;
	await as(who('wangfang', 'Shimin@2026'), async (page) => {
		await visit(page, srv.url, '/flows');
		await clickAndWait(page, page.getByRole('link', { name: '建设项目三部门并联审批' }));
		assert.equal(await h1(page), '建设项目三部门并联审批');
		// nothing filled in: the error summary names every required field
		await clickAndWait(page, page.getByRole('button', { name: '提交', exact: true }));
		await checkErrorSummary(page, findings, 'the application with nothing filled in', {
			fields: ['data-applicant', 'data-project', 'data-investment', 'data-phone'],
		});
		await findings.axe(page, 'the application form with errors');
		await page.getByLabel('办件标题').fill(title);
		await page.getByLabel('申请单位').fill('贵阳某建设有限公司');
		await page.getByLabel('项目名称').fill('花果园学校');
		await page.getByLabel('总投资（万元）').fill('12000');
		await page.getByLabel('联系电话').fill('0851-85551234');
		await clickAndWait(page, page.getByRole('button', { name: '提交', exact: true }));
		assert.match(pathOf(page), /^\/flows\/instances\/\d+$/);
		url = pathOf(page);
		assert.match(await statusText(page), /办理中/);
		await findings.axe(page, 'the case as its applicant sees it');
	});

	// the window clerk: the case is in the workbench's to-do area
	await as(who('linfang.zwfw'), async (page) => {
		const todo = page.locator('main section[aria-labelledby="todo-title"] li', { hasText: title });
		assert.equal(await todo.count(), 1, 'the to-do area lists the new case');
		assert.match(await todo.innerText(), /窗口受理/);
		await findings.axe(page, 'the workbench with a to-do item');
		await clickAndWait(page, todo.getByRole('link', { name: title }));
		await findings.axe(page, 'the case with the clerk\'s task');
		await completeTask(page, { outcome: '材料齐全，受理' });
		await findings.axe(page, 'the inbox after completing a task');
	});

	// three departments in parallel, each from its inbox
	for (const [login, label] of [
		['chenjing.fgw', '发展改革委意见'],
		['sunjian.zrzyj', '自然资源和规划局意见'],
		['mayan.zjj', '住房城乡建设局意见'],
	]) {
		await as(who(login), async (page) => {
			await openFromInbox(page, title);
			// the opinion is required: submitting without it shows the error on the task's form
			await clickAndWait(page, taskForm(page).getByRole('button', { name: '提交办理' }));
			await checkErrorSummary(page, findings, `${login}'s review without an opinion`);
			await completeTask(page, { fields: { [label]: '同意' } });
		});
	}

	// the leader signs
	await as(who('liuhongbo.city'), async (page) => {
		await openFromInbox(page, title);
		await completeTask(page, { outcome: '准予许可' });
	});

	// the applicant sees the result and the whole timeline
	await as(who('wangfang', 'Shimin@2026'), async (page) => {
		await visit(page, srv.url, url);
		assert.match(await statusText(page), /办结.*准予许可/);
		const steps = await page.locator('main ol.timeline li').allInnerTexts();
		for (const name of ['林芳', '陈静', '领导签发'])
			assert.ok(steps.some((s) => s.includes(name)), `the timeline names ${name}: ${steps.join(' | ')}`);
		await visit(page, srv.url, '/inbox?box=mine');
		assert.equal(await page.locator('main table tbody tr', { hasText: title }).count(), 1);
		await findings.axe(page, 'the applicant\'s cases');
	});
	findings.assertNone();
});

test(`12345热线工单: returned by the wrong unit, dispatched again, resolved (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const title = '某小区夜间施工噪音（浏览器）';
	await as(who('liqiang', 'Shimin@2026'), async (page) => {
		await visit(page, srv.url, '/flows/hotline.ticket/start');
		await page.getByLabel('办件标题').fill(title);
		await page.getByLabel('来电人').fill('李强');
		await page.getByLabel('联系电话').fill('13900001111');
		await page.getByLabel('诉求类别').selectOption({ label: '城市管理' });
		await page.getByLabel('诉求内容').fill('小区旁工地每晚十一点后仍在施工，噪音很大。');
		await clickAndWait(page, page.getByRole('button', { name: '提交', exact: true }));
		assert.match(pathOf(page), /^\/flows\/instances\/\d+$/);
	});
	await as(who('heyun.xfj'), async (page) => {
		await openFromInbox(page, title);
		await completeTask(page, { outcome: '派单' });
	});
	// 综合行政执法局 returns it, with its reason
	await as(who('liangyu.zhzfj'), async (page) => {
		await openFromInbox(page, title);
		const more = page.locator('main details.more-actions').first();
		await more.locator('summary').click();
		await more.getByLabel('理由').fill('建筑施工噪音属生态环境部门职责');
		await clickAndWait(page, more.getByRole('button', { name: '退回上一环节' }));
		assert.equal(pathOf(page), '/inbox');
	});
	await as(who('heyun.xfj'), async (page) => {
		await openFromInbox(page, title);
		const steps = await page.locator('main ol.timeline li').allInnerTexts();
		assert.ok(steps.some((s) => s.includes('建筑施工噪音属生态环境部门职责')), steps.join(' | '));
		await completeTask(page, { outcome: '派单', fields: { '诉求类别（可更正）': '生态环境' } });
	});
	await as(who('qinlan.sthjj'), async (page) => {
		await openFromInbox(page, title);
		await completeTask(page, { fields: { 办理答复: '已责令施工单位夜间停工，并立案调查。' } });
	});
	await as(who('heyun.xfj'), async (page) => {
		await openFromInbox(page, title);
		const caseUrl = pathOf(page);
		await completeTask(page, { outcome: '满意，办结' });
		await visit(page, srv.url, caseUrl);
		assert.match(await statusText(page), /办结/);
		await findings.axe(page, 'a closed hotline ticket');
	});
	findings.assertNone();
});

test(`政务信息发布两级审核: drafted, passed, published (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	const title = '2027年重大项目清单（浏览器）';
	let url;
	await as(who('chenjing.fgw'), async (page) => {
		await visit(page, srv.url, '/flows/publication.review/start');
		await page.getByLabel('办件标题').fill(title);
		await page.locator('#f-data-headline').fill('2027年贵阳市重大项目清单公布');
		await page.getByLabel('栏目').selectOption({ label: '通知公告' });
		await page.getByLabel('正文').fill('根据市政府工作安排，现将2027年重大项目清单予以公布。');
		await clickAndWait(page, page.getByRole('button', { name: '提交', exact: true }));
		url = pathOf(page);
		assert.match(url, /^\/flows\/instances\/\d+$/);
	});
	await as(who('zhangwei.fgw'), async (page) => {
		await openFromInbox(page, title);
		await completeTask(page, { outcome: '初审通过' });
	});
	await as(who('liuhongbo.city'), async (page) => {
		await openFromInbox(page, title);
		await completeTask(page, { outcome: '同意发布' });
		await visit(page, srv.url, url);
		assert.match(await statusText(page), /办结.*已发布/);
		await findings.axe(page, 'a published review');
	});
	findings.assertNone();
});

// Electronic supervision in the browser (the journey): a citizen's application waits at the
// window; the test moves the server's clock past the acceptance deadline and waits (polling the API, no
// fixed sleep) for the flow's timer sweep; the supervisor 郑晓雯 (jiancha.bgt, 电子监察员 of 市政府办公厅)
// opens 电子监察 and sees the yellow card — in the card list, by unit, by flow type, with the on-time
// chart and its table — filters to yellow cards and opens it; the window clerk 林芳 finds it under
// 本单位监察, sends an empty response (error summary), responds, records the correction, and the card is
// cleared; the supervisor sees it cleared. Every page passes axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../api/lib/server.mjs';
import { Client } from '../api/lib/client.mjs';
import { launchBrowser, newPage } from './lib/browser.mjs';
import {
	backend,
	t,
	visit,
	clickAndWait,
	pathOf,
	signIn,
	h1,
	flashText,
	sideNav,
	checkErrorSummary,
	englishInMain,
	Findings,
} from './lib/pages.mjs';

const TIMEOUT = 120_000;
const SUPERVISOR = { login: 'jiancha.bgt', password: 'Yizhan@2026', name: '郑晓雯' };
const CLERK = { login: 'linfang.zwfw', password: 'Yizhan@2026', name: '林芳' };
let srv;
let browser;

before(async () => {
	srv = await startServer({ backend, testClock: true });
	browser = await launchBrowser();
});

after(async () => {
	await browser?.close();
	await srv?.cleanup();
});

async function json(res, status) {
	const text = await res.text();
	assert.equal(res.status, status, text);
	return JSON.parse(text);
}

async function setClock(iso) {
	await json(await new Client(srv.url).post('/api/v1/test/clock', { json: { set: iso } }), 200);
}

// Texts of the cells of a table, row by row.
async function rows(page, selector) {
	return page
		.locator(`${selector} tbody tr`)
		.evaluateAll((trs) => trs.map((r) => [...r.cells].map((c) => c.innerText.replace(/\s+/g, ' ').trim())));
}

async function cardState(page) {
	return (await page.locator('#card-state').innerText()).trim();
}

test(`a supervisor sees a yellow card after the clock moves; the unit responds and clears it (${backend})`, { timeout: TIMEOUT }, async (tc) => {
	const findings = new Findings(tc);
	// Monday 10:00: a citizen applies; the window has one working day to accept
	await setClock('2026-11-23T10:00:00+08:00');
	const citizen = new Client(srv.url);
	await citizen.login('wangfang', 'Shimin@2026');
	const inst = await json(
		await citizen.post('/api/v1/flows/approval.parallel3/instances', {
			json: {
				title: '花果园学校新建项目',
				data: { applicant: '贵阳某建设有限公司', project: '花果园学校', investment: 12000, phone: '0851-85551234' },
			},
		}),
		201
	);
	// Wednesday: the deadline (end of Tuesday) has passed; wait for the timer sweep to issue the card
	await setClock('2026-11-25T09:00:00+08:00');
	const api = new Client(srv.url);
	await api.login(SUPERVISOR.login, SUPERVISOR.password);
	const t0 = Date.now();
	let card;
	while (!(card = (await json(await api.get('/api/v1/supervise/cards?colour=yellow'), 200)).items[0])) {
		assert.ok(Date.now() - t0 < 20_000, 'no yellow card within 20 s of moving the clock');
		await new Promise((r) => setTimeout(r, 100));
	}
	assert.equal(card.instance.id, inst.id);

	// ---- the supervisor ----
	const sup = await newPage(browser);
	try {
		await signIn(sup, srv.url, SUPERVISOR);
		const nav = await sideNav(sup);
		const link = nav.sections['我的工作']?.find((l) => l.text === '电子监察');
		assert.ok(link, `电子监察 in 我的工作: ${JSON.stringify(nav)}`);
		assert.equal(link.href, '/supervise');
		assert.ok(!nav.sections['我的工作'].some((l) => l.text === '本单位监察'), 'the supervisor answers no cards');
		await clickAndWait(sup, sup.locator('nav.side-nav').getByRole('link', { name: '电子监察', exact: true }));
		assert.equal(pathOf(sup), '/supervise');
		assert.equal(await h1(sup), '电子监察');
		const list = await rows(sup, '#cards');
		const row = list.find((r) => r[0] === String(card.id));
		assert.ok(row, `card ${card.id} in the list: ${JSON.stringify(list)}`);
		assert.deepEqual(row.slice(1, 5), [
			'黄牌',
			'环节超期（办件整体未超期）',
			'花果园学校新建项目 · 窗口受理 建设项目三部门并联审批',
			'贵阳市政务服务中心',
		]);
		assert.equal(row[6], '待说明');
		// the prompt of the day before is there too, as information
		assert.ok(list.some((r) => r[1] === '提示' && r[6] === '仅提示'), JSON.stringify(list));
		// by unit and by flow type
		assert.deepEqual((await rows(sup, '#by-unit'))[0].slice(0, 4), ['贵阳市政务服务中心', '1', '0', '1']);
		assert.deepEqual((await rows(sup, '#by-flow'))[0].slice(0, 3), ['建设项目三部门并联审批', '1', '0']);
		// the chart has its title and description, and a table with the same months
		assert.equal(await sup.locator('#rate-chart title').textContent(), '近 12 个月按时办结率');
		assert.equal(await sup.locator('#rate-chart').getAttribute('role'), 'img');
		const months = await rows(sup, '#months');
		assert.equal(months.length, 12);
		assert.equal(months[11][0], '2026-11');
		assert.equal(months[11][7], '1', 'one yellow card in November');
		assert.equal(await sup.locator('main a[href^="/api/v1/supervise/export.xlsx"]').count(), 1);
		await findings.axe(sup, 'the supervision page');
		findings.expect((await englishInMain(sup)).length === 0, `English words on /supervise: ${await englishInMain(sup)}`);

		// only the yellow cards
		await sup.locator('#f-colour').selectOption({ label: '黄牌' });
		await clickAndWait(sup, sup.locator('main form[action="/supervise"]').getByRole('button', { name: '查找', exact: true }));
		assert.match(pathOf(sup), /[?&]colour=yellow(&|$)/);
		assert.deepEqual(
			(await rows(sup, '#cards')).map((r) => r[1]),
			['黄牌']
		);
		await findings.axe(sup, 'the supervision page filtered to yellow cards');
		await clickAndWait(sup, sup.locator('#cards').getByRole('link', { name: String(card.id), exact: true }));
		assert.equal(pathOf(sup), `/supervise/cards/${card.id}`);
		assert.match(await h1(sup), /^黄牌 环节超期（办件整体未超期）/);
		assert.equal(await cardState(sup), '待说明');
		assert.equal(await sup.locator('main form').count(), 0, 'the supervisor has no response form');
		await findings.axe(sup, 'a card as the supervisor sees it');
	} finally {
		await sup.context().close();
	}

	// ---- the unit ----
	const clerk = await newPage(browser);
	try {
		await signIn(clerk, srv.url, CLERK);
		const nav = await sideNav(clerk);
		assert.ok(nav.sections['我的工作']?.some((l) => l.text === '本单位监察' && l.href === '/supervise/mine'), JSON.stringify(nav));
		assert.ok(!nav.sections['我的工作'].some((l) => l.text === '电子监察'), 'a clerk does not supervise');
		await clickAndWait(clerk, clerk.locator('nav.side-nav').getByRole('link', { name: '本单位监察', exact: true }));
		assert.equal(pathOf(clerk), '/supervise/mine');
		assert.equal(await h1(clerk), '本单位监察');
		const mine = await rows(clerk, '#my-cards');
		assert.equal(mine.length, 1, JSON.stringify(mine));
		assert.deepEqual(mine[0].slice(0, 3), [String(card.id), '黄牌', '环节超期（办件整体未超期）']);
		assert.equal(mine[0][5], '2026-11-27 23:59');
		await findings.axe(clerk, "the unit's cards");
		findings.expect((await englishInMain(clerk)).length === 0, `English words on /supervise/mine: ${await englishInMain(clerk)}`);

		await clickAndWait(clerk, clerk.locator('#my-cards').getByRole('link', { name: String(card.id), exact: true }));
		assert.equal(pathOf(clerk), `/supervise/cards/${card.id}`);
		// an empty response: the error summary points at the field
		const respond = clerk.locator('main form[action$="/respond"]');
		await clickAndWait(clerk, respond.getByRole('button', { name: '提交说明', exact: true }));
		assert.equal(pathOf(clerk), `/supervise/cards/${card.id}/respond`);
		const { summary } = await checkErrorSummary(clerk, findings, 'an empty response', { fields: ['text'] });
		assert.equal(summary.links[0].text, '请填写情况说明');
		await findings.axe(clerk, 'the card with an empty response');

		await respond.getByLabel('情况说明', { exact: true }).fill('窗口人员外出培训，未及时受理。');
		await clickAndWait(clerk, respond.getByRole('button', { name: '提交说明', exact: true }));
		assert.equal(pathOf(clerk), `/supervise/cards/${card.id}`);
		assert.equal(await flashText(clerk), t('flash.supervise_responded'));
		assert.equal(await cardState(clerk), '待整改');
		assert.equal(await clerk.locator('main form[action$="/respond"]').count(), 0);
		await findings.axe(clerk, 'the card after the response');

		const correct = clerk.locator('main form[action$="/correct"]');
		await correct.getByLabel('整改情况', { exact: true }).fill('已建立窗口 AB 岗制度，并已受理该申请。');
		await clickAndWait(clerk, correct.getByRole('button', { name: '登记整改并销牌', exact: true }));
		assert.equal(await flashText(clerk), t('flash.supervise_corrected'));
		assert.equal(await cardState(clerk), '已整改');
		assert.equal(await clerk.locator('main form').count(), 0, 'nothing is left to do');
		const history = await clerk.locator('#card-events li').evaluateAll((lis) => lis.map((li) => li.innerText.replace(/\s+/g, ' ').trim()));
		assert.equal(history.length, 3);
		assert.match(history[0], /亮牌 · 环节超期（办件整体未超期）$/);
		assert.match(history[1], /作出说明 · 林芳 · 窗口人员外出培训，未及时受理。$/);
		assert.match(history[2], /登记整改，销牌 · 林芳 · 已建立窗口 AB 岗制度，并已受理该申请。$/);
		await findings.axe(clerk, 'the cleared card');
		// the cleared card left the unit's open list
		await visit(clerk, srv.url, '/supervise/mine');
		assert.deepEqual(await rows(clerk, '#my-cards'), [[t('supervise.no_cards')]]);
		await visit(clerk, srv.url, '/supervise/mine?tab=cleared');
		assert.equal((await rows(clerk, '#my-cards'))[0][0], String(card.id));
		// a clerk may not open the supervision page
		await visit(clerk, srv.url, '/supervise', { status: 403 });
	} finally {
		await clerk.context().close();
	}

	// ---- the supervisor sees it cleared ----
	const again = await newPage(browser);
	try {
		await signIn(again, srv.url, SUPERVISOR);
		await visit(again, srv.url, '/supervise');
		const row = (await rows(again, '#cards')).find((r) => r[0] === String(card.id));
		assert.equal(row[6], '已整改');
		const totals = await again.locator('#totals div').evaluateAll((ds) =>
			Object.fromEntries(ds.map((d) => [d.querySelector('dt').innerText.trim(), d.querySelector('dd').innerText.trim()]))
		);
		assert.equal(totals['已整改'], '1');
		assert.equal(totals['待说明'], '0');
		await findings.axe(again, 'the supervision page with the cleared card');
	} finally {
		await again.context().close();
	}
	findings.assertNone();
});

#!/usr/bin/env node
// Browser test of the web console and the crew page against a real rescue-dispatchd, in headless
// Debian chromium driven by playwright-core. Scenario in docs: tests/browser/README.md.
//
//   node console.test.js --daemon PATH --rescuectl PATH --screenshots DIR
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startServer } = require('./server.js');

const operatorToken = 'sample-operator-token-0001';  // from deploy/rescue-dispatchd.toml
const auditorToken = 'sample-auditor-token-00001';
// E000001 (rescue code 810331, Nan'an) is maintained by MU004. Of MU004's crews only the one we
// position is fresh (the sample's positions are from 2023), so the ranking must choose it.
const rescueCode = '810331';
const crewId = 'MU004-C02';
const crewSpot = { lat: 29.4972, lon: 106.6021 };
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];
const overallTimeoutMs = 240000;  // below the ctest TIMEOUT, so clean-up always gets to run
const waitMs = 15000;

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let k = 0; k < argv.length; k += 2) out[argv[k].replace(/^--/, '')] = argv[k + 1];
  for (const need of ['daemon', 'rescuectl', 'screenshots'])
    if (!out[need]) throw new Error(`usage: console.test.js --daemon PATH --rescuectl PATH --screenshots DIR (missing --${need})`);
  return out;
}

let step = '';
const started = Date.now();
function log(text) {
  step = text;
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

async function poll(what, fn, timeoutMs = waitMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function api(server, token, method, route, body) {
  const r = await fetch(server.base + route, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

// JS errors on a page fail the test: a broken module shows up here even when the DOM looks fine.
function watch(page, name, errors) {
  page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection to .*failed|status of 40[134]/.test(m.text()))
      errors.push(`${name} console: ${m.text()}`);
  });
}

// `role`: the role the server must report for the token, or null when sign-in must fail.
async function signInConsole(page, base, token, role) {
  await page.goto(`${base}/`);
  await page.fill('#signin-token', token);
  await page.click('#signin-form button[type=submit]');
  if (role) await page.waitForFunction((r) => document.body.dataset.role === r, role, { timeout: waitMs });
}

async function scenario(server, browser, shots) {
  const errors = [];
  const context = browser;  // a persistent context: pages, permissions and storage in one profile
  await context.grantPermissions(['geolocation'], { origin: server.base });
  // The GPS fix is somewhere else on purpose: the manual position typed later must win.
  await context.setGeolocation({ latitude: 29.56, longitude: 106.57, accuracy: 15 });
  const shot = (page, name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  log('console: a wrong token is refused at sign-in');
  const consolePage = await context.newPage();
  await consolePage.setViewportSize({ width: 1440, height: 1000 });
  watch(consolePage, 'console', errors);
  await signInConsole(consolePage, server.base, 'not-a-token', null);
  await consolePage.waitForFunction(() => document.querySelector('#signin-error').textContent.length > 0, null, { timeout: waitMs });
  check(await consolePage.isHidden('#app'), 'console stays on the sign-in form with a wrong token');
  await shot(consolePage, '01-console-wrong-token');

  log('crew page: a wrong token is refused at sign-in');
  const crewPage = await context.newPage();
  await crewPage.setViewportSize({ width: 412, height: 915 });
  watch(crewPage, 'crew', errors);
  await crewPage.goto(`${server.base}/crew`);
  await crewPage.fill('input[name=crew]', crewId);
  await crewPage.fill('input[name=token]', '0'.repeat(64));
  await crewPage.click('#signin-form button[type=submit]');
  await crewPage.waitForFunction(() => document.querySelector('#signin-error').textContent.length > 0, null, { timeout: waitMs });
  check(await crewPage.isVisible('#signin'), 'crew page back on the sign-in form');

  log('crew page: sign in and send a position by the manual fallback');
  await crewPage.fill('input[name=token]', server.crewToken(crewId));
  await crewPage.click('#signin-form button[type=submit]');
  await crewPage.waitForSelector('#conn[data-state=online]', { timeout: waitMs });
  // The shift switch shows what the server holds, sent on connect.
  await crewPage.waitForSelector('#shift-state[data-duty=on]', { timeout: waitMs });
  await crewPage.fill('input[name=lat]', String(crewSpot.lat));
  await crewPage.fill('input[name=lon]', String(crewSpot.lon));
  await crewPage.click('#manual-form button[type=submit]');
  await poll('the crew position on the server', async () => {
    const r = await api(server, auditorToken, 'GET', '/api/v1/crews');
    const c = r.json?.crews?.find((x) => x.id === crewId);
    // position_age_s is left out when it is 0, like every default in the JSON mapping.
    return c?.position && Math.abs(c.position.lat - crewSpot.lat) < 1e-6 && (c.position_age_s || 0) < 60;
  });

  log('console: operator signs in, looks the elevator up by rescue code and creates the incident');
  await signInConsole(consolePage, server.base, operatorToken, 'operator');
  await consolePage.waitForSelector('#live[data-state=connected]', { timeout: waitMs });
  await consolePage.fill('#create input[name=code]', rescueCode);
  await consolePage.click('[data-role=lookup-button]');
  await consolePage.waitForSelector('[data-role=lookup] dl.elevator', { timeout: waitMs });
  const card = await consolePage.textContent('[data-role=lookup]');
  check(card.includes('龙门浩街道'), 'the lookup shows the address');
  check(card.includes('南岸区分公司'), 'the lookup shows the maintenance unit');
  check(card.includes('物业'), 'the lookup shows the building operator');
  await consolePage.fill('#create input[name=caller_name]', '张先生');
  await consolePage.fill('#create input[name=caller_phone]', '13900000000');
  await consolePage.click('[data-role=create]');
  const row = await consolePage.waitForSelector('#board tr[data-incident-id]', { timeout: waitMs });
  const incidentId = await row.getAttribute('data-incident-id');
  const rowSel = `#board tr[data-incident-id="${incidentId}"]`;
  log(`incident ${incidentId} on the board`);
  await consolePage.waitForSelector('#detail [data-role=candidates]', { timeout: waitMs });
  check((await consolePage.textContent('#detail [data-role=candidates]')).includes(crewId), 'the ranking names the positioned crew');
  check(await consolePage.isVisible('#detail [data-role=exclusions]'), 'the detail lists exclusions with reasons');

  log('crew page: the job arrives and the crew accepts');
  const job = `#job article[data-incident-id="${incidentId}"]`;
  await crewPage.waitForSelector(`${job}[data-status=offered]`, { timeout: waitMs });
  check((await crewPage.textContent(`${job} [data-role=address]`)).includes('龙门浩街道'), 'the job shows the address');
  check((await crewPage.textContent(job)).includes('13900000000'), 'the job shows the caller');
  check((await crewPage.textContent(`${job} [data-role=distance]`)).trim().length > 0, 'the job shows a distance');
  await shot(crewPage, '02-crew-offer');
  await crewPage.click(`${job} button[data-action=accept]`);
  await crewPage.waitForSelector(`${job}[data-status=accepted]`, { timeout: waitMs });

  log('console: the incident shows accepted with the clock running');
  await consolePage.waitForSelector(`${rowSel}[data-stage=STAGE_ACCEPTED]`, { timeout: waitMs });
  check((await consolePage.textContent(`${rowSel} [data-role=crew]`)).trim() === crewId, 'the board names the crew');
  check((await consolePage.textContent(`${rowSel} [data-role=eta]`)).trim().length > 0, 'the board shows an ETA');
  const clock1 = await consolePage.textContent(`${rowSel} [data-role=clock]`);
  await consolePage.waitForFunction(([sel, before]) => document.querySelector(sel)?.textContent !== before,
    [`${rowSel} [data-role=clock]`, clock1], { timeout: 5000 });
  check(await consolePage.getAttribute(rowSel, 'data-clock') === 'ok', 'the clock is green with ~30 minutes left');
  await shot(consolePage, '03-console-accepted');

  log('console: the accepted crew is busy in the crews list and on the map');
  await poll('the crew busy on its job in /api/v1/crews', async () => {
    const r = await api(server, auditorToken, 'GET', '/api/v1/crews');
    const c = r.json?.crews?.find((x) => x.id === crewId);
    return c?.busy === true && String(c.current_incident_id) === String(incidentId);
  });
  await consolePage.waitForFunction(() => Number(document.querySelector('.legend [data-count=busy]')?.textContent) >= 1,
    null, { timeout: waitMs });

  log('crew page: departed, arrived, released');
  for (const [action, status] of [['departed', 'departed'], ['arrived', 'arrived'], ['released', 'released']]) {
    await crewPage.click(`${job} button[data-action=${action}]`);
    if (status === 'released') await crewPage.waitForSelector(`#history li[data-incident-id="${incidentId}"]`, { timeout: waitMs });
    else await crewPage.waitForSelector(`${job}[data-status=${status}]`, { timeout: waitMs });
  }
  await shot(crewPage, '04-crew-released');

  log('console and crew page: free again after release; the crew signs off and on');
  await poll('the crew free again in /api/v1/crews', async () => {
    const r = await api(server, auditorToken, 'GET', '/api/v1/crews');
    const c = r.json?.crews?.find((x) => x.id === crewId);
    return c && !c.busy && !c.current_incident_id;
  });
  await consolePage.waitForFunction(() => document.querySelector('.legend [data-count=busy]')?.textContent === '0',
    null, { timeout: waitMs });
  const offBefore = Number(await consolePage.textContent('.legend [data-count=off]'));
  await crewPage.click('#shift');
  await crewPage.waitForSelector('#shift-state[data-duty=off]', { timeout: waitMs });
  await poll('the crew off duty in /api/v1/crews', async () => {
    const r = await api(server, auditorToken, 'GET', '/api/v1/crews');
    const c = r.json?.crews?.find((x) => x.id === crewId);
    return c && !c.on_duty;
  });
  await consolePage.waitForFunction((before) => Number(document.querySelector('.legend [data-count=off]')?.textContent) > before,
    offBefore, { timeout: waitMs });
  await shot(crewPage, '04b-crew-off-duty');
  await crewPage.click('#shift');
  await crewPage.waitForSelector('#shift-state[data-duty=on]', { timeout: waitMs });

  log('console: the operator closes with a two-level cause');
  await consolePage.waitForSelector(`${rowSel}[data-stage=STAGE_RELEASED]`, { timeout: waitMs });
  await consolePage.waitForSelector('#detail [data-role=detail-stage][data-stage=STAGE_RELEASED]', { timeout: waitMs });
  await consolePage.selectOption('#detail form[data-action=close] select[name=category]', 'CAUSE_DOOR_SYSTEM');
  await consolePage.selectOption('#detail form[data-action=close] select[name=sub_cause]', 'door_lock_fault');
  await consolePage.click('#detail form[data-action=close] button');
  await consolePage.waitForSelector(`${rowSel}[data-stage=STAGE_CLOSED]`, { timeout: waitMs });
  const closedClock = await consolePage.textContent(`${rowSel} [data-role=clock]`);
  check(/\d\d:\d\d/.test(closedClock) && ['done', 'late'].includes(await consolePage.getAttribute(rowSel, 'data-clock')),
    `the closed incident shows its arrival time (${closedClock})`);
  await consolePage.waitForSelector('#detail [data-role=detail-stage][data-stage=STAGE_CLOSED]', { timeout: waitMs });
  check(await consolePage.isVisible('#detail [data-role=arrival-time]'), 'the detail shows the arrival time');
  check((await consolePage.textContent('#detail [data-role=cause]')).includes('门锁故障'), 'the detail shows the cause');
  for (const ev of ['opened', 'candidates_ranked', 'offer_made', 'offer_accepted', 'crew_arrived', 'people_released', 'closed'])
    check(await consolePage.isVisible(`#detail [data-role=timeline] tr[data-event=${ev}]`), `the timeline has ${ev}`);
  await shot(consolePage, '05-console-closed');

  log('console: English switch');
  await consolePage.click('#lang');
  check((await consolePage.textContent(`${rowSel} [data-role=stage]`)).trim() === 'Closed', 'the board speaks English after the switch');
  await shot(consolePage, '06-console-closed-en');
  await consolePage.click('#lang');

  log('auditor: same views, read-only, journal verified');
  const auditPage = await context.newPage();
  await auditPage.setViewportSize({ width: 1440, height: 1000 });
  watch(auditPage, 'auditor', errors);
  await signInConsole(auditPage, server.base, auditorToken, 'auditor');
  await auditPage.waitForSelector(rowSel, { timeout: waitMs });
  await auditPage.click(rowSel);
  await auditPage.waitForSelector('#detail [data-role=timeline]', { timeout: waitMs });
  await auditPage.waitForSelector('#verify-status[data-state=ok]', { timeout: waitMs });
  check(await auditPage.isVisible('#detail [data-role=readonly]'), 'the auditor is told the views are read-only');
  const enabled = await auditPage.$$eval('#app button', (bs) => bs.filter((b) => !b.disabled && !b.closest('fieldset:disabled'))
    .map((b) => b.id || b.dataset.role || b.textContent.trim()));
  // Reading is allowed: verify, close the detail panel. Every write control must be disabled.
  const writes = enabled.filter((name) => !['verify-run', 'close-detail'].includes(name));
  check(writes.length === 0, `no write action is enabled for the auditor (enabled: ${writes.join(', ')})`);
  const forced = await auditPage.evaluate(async ([id, token]) => {
    const r = await fetch(`/api/v1/incidents/${id}/notes`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'auditor tries to write' }),
    });
    return r.status;
  }, [incidentId, auditorToken]);
  check(forced === 403, `a forced write by the auditor gets 403 (got ${forced})`);
  await shot(auditPage, '07-auditor-readonly');

  log('console: follow-up call takes the incident off the board');
  await consolePage.bringToFront();
  await consolePage.selectOption('#detail form[data-action=follow-up] select[name=result]', 'FOLLOW_UP_SATISFIED');
  await consolePage.click('#detail form[data-action=follow-up] button');
  await consolePage.waitForSelector(rowSel, { state: 'detached', timeout: waitMs });
  await shot(consolePage, '08-console-followed-up');

  log('crew page: a job offered while the page was closed shows up, marked missed, when it comes back');
  const second = { code: '969288', lat: 29.5135, lon: 106.6850 };  // E000014, also MU004's
  await crewPage.fill('input[name=lat]', String(second.lat));
  await crewPage.fill('input[name=lon]', String(second.lon));
  await crewPage.click('#manual-form button[type=submit]');
  await poll('the crew\'s second position on the server', async () => {
    const r = await api(server, auditorToken, 'GET', '/api/v1/crews');
    const c = r.json?.crews?.find((x) => x.id === crewId);
    return c?.position && Math.abs(c.position.lat - second.lat) < 1e-6 && !c.busy;
  });
  await crewPage.close();
  const created = await api(server, operatorToken, 'POST', '/api/v1/incidents',
    { rescue_code: second.code, people_trapped: true, caller_name: '李女士', caller_phone: '13800000002' });
  check(created.status === 201, `second incident created (HTTP ${created.status})`);
  const secondId = created.json.incident_id;
  await poll('the second incident offered to the crew', async () =>
    (await api(server, auditorToken, 'GET', `/api/v1/incidents/${secondId}`)).json?.offered_crew_id === crewId);
  // The reopened page starts GPS again (a typed position lasts until reload): put the fix there.
  await context.setGeolocation({ latitude: second.lat, longitude: second.lon, accuracy: 15 });
  const crewAgain = await context.newPage();
  await crewAgain.setViewportSize({ width: 412, height: 915 });
  watch(crewAgain, 'crew (reopened)', errors);
  await crewAgain.goto(`${server.base}/crew/`);  // signed in from the phone's storage
  const job2 = `#job article[data-incident-id="${secondId}"]`;
  await crewAgain.waitForSelector(`${job2}[data-status=offered] [data-role=missed]`, { timeout: waitMs });
  check(await crewAgain.isVisible(`#history li[data-incident-id="${incidentId}"]`), 'the finished job survived the reload');
  await shot(crewAgain, '09-crew-missed-job');
  await crewAgain.click(`${job2} button[data-action=decline]`);
  await crewAgain.waitForSelector(`#history li[data-incident-id="${secondId}"]`, { timeout: waitMs });

  log('console: the second incident is cancelled as a false alarm');
  const row2 = `#board tr[data-incident-id="${secondId}"]`;
  await consolePage.click(row2);
  await consolePage.waitForSelector(`#detail form[data-action=cancel] fieldset:not([disabled])`, { timeout: waitMs });
  await consolePage.selectOption('#detail form[data-action=cancel] select[name=reason]', 'CANCEL_FALSE_ALARM');
  await consolePage.fill('#detail form[data-action=cancel] input[name=cancel_detail]', 'caller pressed by mistake');
  await consolePage.click('#detail form[data-action=cancel] button');
  await consolePage.waitForSelector(row2, { state: 'detached', timeout: waitMs });

  log("reports: this month's figures from the journal, charted, and the files to download");
  // This month in China Standard Time: the rescue closed above and the false alarm are in it.
  const cst = new Date(Date.now() + 8 * 3600 * 1000);
  const month = `${cst.getUTCFullYear()}-${String(cst.getUTCMonth() + 1).padStart(2, '0')}`;
  const fromApi = await api(server, auditorToken, 'GET', `/api/v1/reports?period=${month}`);
  check(fromApi.status === 200, `GET /api/v1/reports answers (HTTP ${fromApi.status})`);
  const totals = fromApi.json.totals;
  check(totals.incidents === 2 && totals.entrapments === 1 && totals.false_alarms === 1,
        `the report counts the two incidents: one entrapment, one false alarm (${JSON.stringify(totals)})`);
  check(fromApi.json.definitions.length > 10, 'the report carries its definitions');
  // The same tab keeps the console's session: the page opens signed in.
  await consolePage.click('#reports-link');
  await consolePage.waitForURL(/\/reports\/$/, { timeout: waitMs });
  await consolePage.fill('#period', month);
  await consolePage.click('#period-form button[type=submit]');
  await consolePage.waitForSelector(`body[data-report-ready=true][data-report-period="${month}"]`, { timeout: waitMs });
  const kpi = (id) => consolePage.textContent(`#kpis [data-kpi=${id}] .kpi-value`);
  check(await kpi('entrapments') === '1', 'the page shows the one entrapment');
  check(await kpi('on_time') === `${(fromApi.json.arrival.share_on_time * 100).toFixed(2)}%`,
        "the page's on-time share is the server's");
  for (const id of ['chart-arrival', 'chart-districts', 'chart-hours', 'chart-units']) {
    const drawn = await consolePage.evaluate((node) => {
      const el = document.getElementById(node);
      return Boolean(window.echarts && window.echarts.getInstanceByDom(el) && el.querySelector('canvas'));
    }, id);
    check(drawn, `${id} is drawn by ECharts, served by the server`);
  }
  check((await consolePage.textContent('#legend')).includes('最近秩'), 'the legend explains the figures in Chinese');
  await shot(consolePage, '10-reports-zh');
  const [download] = await Promise.all([
    consolePage.waitForEvent('download', { timeout: waitMs }),
    consolePage.click('#download-xlsx'),
  ]);
  check(download.suggestedFilename() === `report-${month}.xlsx`, `the Excel file is named for the month (${download.suggestedFilename()})`);
  const saved = path.join(shots, `report-${month}.xlsx`);
  await download.saveAs(saved);
  check(fs.readFileSync(saved).subarray(0, 2).toString() === 'PK', 'the Excel file is an xlsx (zip) workbook');
  await consolePage.click('#lang');
  await consolePage.waitForFunction(() => document.querySelector('#kpis').textContent.includes('Entrapments'), null, { timeout: waitMs });
  await shot(consolePage, '11-reports-en');

  check(errors.length === 0, `no JavaScript errors on the pages:\n  ${errors.join('\n  ')}`);
}

async function main() {
  const opts = args();
  fs.mkdirSync(opts.screenshots, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rescue-browser-test-'));
  let server = null;
  let browser = null;
  let failed = false;
  const cleanup = async () => {
    if (browser) await browser.close().catch(() => {});
    browser = null;
    if (server) await server.stop().catch(() => {});
    fs.rmSync(work, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => cleanup().finally(() => process.exit(1)));
  const guard = setTimeout(() => {
    console.error(`FAIL: overall timeout during: ${step}`);
    cleanup().finally(() => process.exit(1));
  }, overallTimeoutMs);

  try {
    log('starting rescue-dispatchd');
    server = await startServer({ daemon: opts.daemon, rescuectl: opts.rescuectl, workDir: work });
    log(`server at ${server.base}; launching chromium`);
    // A persistent context on a fresh folder: the "fresh user-data dir" the test wants.
    browser = await chromium.launchPersistentContext(path.join(work, 'profile'), {
      executablePath: '/usr/bin/chromium', headless: true, args: chromiumArgs, acceptDownloads: true,
    });
    await scenario(server, browser, opts.screenshots);
    log(`PASS: screenshots in ${opts.screenshots}`);
  } catch (e) {
    failed = true;
    console.error(`FAIL during "${step}": ${e.stack || e}`);
    if (browser) for (const [k, p] of (browser.pages ? browser.pages() : []).entries())
      await p.screenshot({ path: path.join(opts.screenshots, `failure-${k}.png`), fullPage: true }).catch(() => {});
    if (server) console.error(`--- server log (tail) ---\n${server.log().split('\n').slice(-40).join('\n')}`);
  } finally {
    clearTimeout(guard);
    await cleanup();
  }
  process.exit(failed ? 1 : 0);
}

main();

// Drives shoald's web dashboard in headless Chromium (Debian's, through playwright-core) the
// way an operator would: refused without logging in (shoald serves only login.html to a
// stranger), logs in, reads the services, drains a
// backend and enables it again, submits a broken config and finds the error at its line,
// logs out. Run by tests/e2e/test_dashboard.py, which starts the lab and shoald:
//
//   node dashboard.test.mjs --url http://127.0.0.1:PORT/ --token TOKEN --out DIR
//
// What only the lab can tell (does the drained backend really get no new connection?) is
// asked of the caller: the script prints one line `@@ask {json}` and waits for one JSON line
// on stdin, {"ok": bool, "detail": "..."}. Every step prints `ok - ...`; the first failure
// prints `not ok - ...`, saves failure.png and exits 1. A screenshot of each page goes to
// --out.

import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    out: { type: 'string', default: '.' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    service: { type: 'string', default: 'web' },
    backend: { type: 'string', default: 'rs2' },
    backends: { type: 'string', default: 'rs1,rs2,rs3' },
    // The backends are health-checked and up: each shows "up" and a passed last check.
    checked: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '15000' },  // ms for one wait in the page
  },
});
if (!opt.url || !opt.token) {
  console.error('usage: dashboard.test.mjs --url URL --token TOKEN [--out DIR]');
  process.exit(2);
}
const timeout = Number(opt.timeout);
mkdirSync(opt.out, { recursive: true });

// --- the caller's side of the conversation ------------------------------------------------
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function ask(question) {
  process.stdout.write(`@@ask ${JSON.stringify(question)}\n`);
  const { value, done } = await stdinLines.next();
  if (done) throw new Error(`no answer to ${JSON.stringify(question)}: stdin closed`);
  const answer = JSON.parse(value);
  if (!answer.ok) throw new Error(`${question.step}: ${answer.detail}`);
  return answer;
}

// --- steps --------------------------------------------------------------------------------
let page;
let stepName = '';

async function step(name, fn) {
  stepName = name;
  await fn();
  console.log(`ok - ${name}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function shot(name) {
  const file = path.join(opt.out, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`# screenshot ${file}`);
}

// The API as the page's own origin sees it: status and body of one fetch (cookies included).
function pageFetch(method, url, body) {
  return page.evaluate(async ([m, u, b]) => {
    const r = await fetch(u, { method: m, body: b, credentials: 'same-origin' });
    return { status: r.status, text: await r.text() };
  }, [method, url, body]);
}

const row = (service, backend) => page.locator(`#view tr[data-service="${service}"][data-backend="${backend}"]`);

async function confirmAction(service, backend, op, screenshot) {
  await row(service, backend).locator(`button[data-op="${op}"]`).click();
  const dialog = page.locator('dialog#confirm');
  await dialog.waitFor({ state: 'visible', timeout });
  const title = await page.locator('#confirm-title').textContent();
  check(title.includes(`${service}/${backend}`), `the dialog asks about ${title}, not ${service}/${backend}`);
  if (screenshot) await shot(screenshot);
  await page.locator('#confirm-ok').click();
  await dialog.waitFor({ state: 'hidden', timeout });
}

async function waitAdmin(service, backend, state) {
  await page.waitForFunction(([s, b, want]) => {
    const r = document.querySelector(`#view tr[data-service="${s}"][data-backend="${b}"]`);
    return r && r.querySelector('.badge.' + want) !== null;
  }, [service, backend, state], { timeout });
}

const pageErrors = [];
let browser;
try {
  browser = await chromium.launch({
    executablePath: opt.chromium,
    headless: true,
    // Root in a network namespace: Chromium's own sandbox needs user namespaces it cannot
    // get here, and the page under test is our own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 60000,
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // The browser logs every non-2xx answer as a console error; those are expected here
    // (401 before login, 422 for the refused config). Script errors are not.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
  });

  await step('a stranger gets the login page, and nothing else', async () => {
    const response = await page.goto(opt.url);
    check(response.status() === 401, `the entry page answered ${response.status()}, not 401`);
    await page.locator('#login-form').waitFor({ state: 'visible' });
    check(await page.locator('header#top').count() === 0, 'the dashboard shows before login');
    await shot('login');
  });

  await step('the API and the dashboard files are refused without a session (401)', async () => {
    for (const u of ['/v1/status', '/v1/services', '/v1/config', '/js/app.js', '/style.css']) {
      const r = await pageFetch('GET', u);
      check(r.status === 401, `${u} answered ${r.status} without a session`);
      check(!/export |:root/.test(r.text), `${u} was served without a session`);
    }
    const r = await pageFetch('POST', `/v1/services/${opt.service}/backends/${opt.backend}/drain`);
    check(r.status === 401, `drain answered ${r.status} without a session`);
  });

  await step('a wrong token is refused', async () => {
    await page.locator('#token').fill(`${opt.token}-wrong`);
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#login-error').waitFor({ state: 'visible' });
    const text = await page.locator('#login-error').textContent();
    check(/refused/i.test(text), `login error reads "${text}"`);
    check(await page.locator('header#top').count() === 0, 'the dashboard shows after a wrong token');
    const cookies = await page.context().cookies();
    check(!cookies.some((c) => c.name === 'shoal_session'), 'a wrong token got a session cookie');
    await shot('login-refused');
  });

  await step('the right token logs in, with an HttpOnly SameSite=Strict session cookie', async () => {
    await page.locator('#token').fill(opt.token);
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('header#top').waitFor({ state: 'visible' });
    const cookie = (await page.context().cookies()).find((c) => c.name === 'shoal_session');
    check(cookie, 'no shoal_session cookie after login');
    check(cookie.httpOnly, 'the session cookie is readable by scripts (not HttpOnly)');
    check(cookie.sameSite === 'Strict', `the session cookie is SameSite=${cookie.sameSite}`);
    check(!(await page.evaluate(() => document.cookie)).includes('shoal_session'), 'document.cookie shows the session');
  });

  await step('the overview shows the director, VRRP and the dataplane totals', async () => {
    await page.locator('#director').waitFor();
    const director = await page.locator('#director').textContent();
    check(/Version/.test(director) && /Uptime/.test(director) && /Workers/.test(director), `director card: ${director}`);
    await page.locator('#vrrp-card').waitFor();
    const vrrp = await page.locator('#vrrp-card').textContent();
    check(/no VRRP instances/.test(vrrp) || (await page.locator('#vrrp tbody tr').count()) > 0, `VRRP card: ${vrrp}`);
    const rx = await page.locator('.tile[data-counter="rx"] .tile-value').textContent();
    check(/\d/.test(rx), `rx tile reads "${rx}"`);
    // Connection sync is on, and no peer answers this lone director's pull: it times out.
    await page.locator('#sync-card .badge.up').waitFor();
    const sync = await page.locator('#sync-card').textContent();
    check(/224\.0\.0\.81:8848/.test(sync) && /timed_out/.test(sync), `sync card: ${sync}`);
    await shot('overview');
  });

  await step('with VRRP instances in /v1/status, the overview lists them with their state', async () => {
    // shoald does not report `vrrp` yet: the real answer gets two instances added in the
    // browser, in the shape the VRRP work will send, so that the page is ready for them.
    await page.route('**/v1/status', async (r) => {
      const real = await r.fetch();
      const status = await real.json();
      status.vrrp = [
        { name: 'vi_web', vrid: 51, state: 'master', priority: 150, peers: [{ address: '10.0.0.3', priority: 100 }] },
        { name: 'vi_gw', vrid: 52, state: 'backup', priority: 100, master: '10.0.0.3' },
      ];
      await r.fulfill({ response: real, json: status });
    });
    await page.locator('#vrrp tr[data-instance="vi_gw"]').waitFor();
    const master = await page.locator('#vrrp tr[data-instance="vi_web"]').textContent();
    check(/vi_web\s*51\s*master\s*150/.test(master) && /10\.0\.0\.3 \(100\)/.test(master), `vi_web reads "${master}"`);
    check(await page.locator('#vrrp tr[data-instance="vi_gw"] .badge.backup').count() === 1, 'vi_gw is not shown as backup');
    await shot('overview-vrrp');
    await page.unroute('**/v1/status');
    await page.locator('#no-vrrp').waitFor();
  });

  await step('the services page lists every backend with health, weight and admin state', async () => {
    await page.locator('nav a[data-route="services"]').click();
    for (const b of opt.backends.split(',')) {
      const r = row(opt.service, b);
      await r.waitFor();
      const health = (await r.locator('td.health').textContent()).trim();
      const last = (await r.locator('td.check').textContent()).trim();
      if (opt.checked) {
        check(health === 'up', `${b} health reads "${health}", not up`);
        check(/passed: .*\(\d+(\.\d+)? ms, \d+(\.\d+)? s ago\)/.test(last), `${b} last check reads "${last}"`);
      } else {
        check(/up|down|unchecked|pending/.test(health), `${b} health reads "${health}"`);
        check(last.length > 0, `${b} has no last-check text`);
      }
      const weight = (await r.locator('td.weight').textContent()).trim();
      check(/^\d+ \/ \d+$/.test(weight), `${b} weight reads "${weight}"`);
      check(await r.locator('.badge.enabled').count() === 1, `${b} is not shown enabled`);
    }
    // Traffic from the lab client, then a few polls: the charts and rates have data.
    await ask({ step: 'traffic', service: opt.service });
    await page.waitForFunction((s) => {
      const cells = [...document.querySelectorAll(`#view tr[data-service="${s}"] .totals`)];
      return cells.length > 0 && cells.some((c) => !/^0 conn/.test(c.textContent.trim()));
    }, opt.service, { timeout });
    await page.waitForTimeout(3000);
    await shot('services');
  });

  await step("the services page shows each service's scheduler, persistence and quorum", async () => {
    // The lab's service uses Maglev with neither persistence nor a quorum: the real answer gets
    // a second service added in the browser, with an LVS scheduler, persistence and a lost
    // quorum, in the shape /v1/services reports them (test_all_down.py checks that shape).
    await page.route('**/v1/services', async (r) => {
      const real = await r.fetch();
      const body = await real.json();
      const shop = structuredClone(body.services.find((s) => s.name === opt.service));
      Object.assign(shop, {
        name: 'shop', scheduler: 'wlc', hash: null,
        persistence: { timeout: 300, netmask: '255.255.255.0' },
        quorum: { up: false, healthy_weight: 1, needs: 3, hysteresis: 0 },
      });
      body.services.push(shop);
      await r.fulfill({ response: real, json: body });
    });
    const card = (name) => page.locator(`#view section.service[data-service="${name}"]`);
    await card('shop').waitFor();
    const shop = (await card('shop').locator('h2').textContent()).trim();
    check(/ · wlc · persistent 300 s mask 255\.255\.255\.0 · /.test(shop), `shop reads "${shop}"`);
    const lost = card('shop').locator('.quorum .badge.down');
    await lost.waitFor();
    check((await lost.textContent()).trim() === 'quorum 1/3 lost', `shop's quorum reads "${await lost.textContent()}"`);
    const web = (await card(opt.service).locator('h2').textContent()).trim();
    check(/ · maglev \S+ · /.test(web) && !/persistent/.test(web), `${opt.service} reads "${web}"`);
    check(await card(opt.service).locator('.quorum .badge').count() === 0, `${opt.service} shows a quorum it does not have`);
    await shot('services-quorum');
    await page.unroute('**/v1/services');
    await card('shop').waitFor({ state: 'detached' });
  });

  await step(`drain ${opt.service}/${opt.backend} through a confirmation dialog`, async () => {
    // Cancel first: nothing may happen.
    await row(opt.service, opt.backend).locator('button[data-op="drain"]').click();
    await page.locator('dialog#confirm').waitFor({ state: 'visible' });
    await page.locator('#confirm-cancel').click();
    await page.locator('dialog#confirm').waitFor({ state: 'hidden' });
    await page.waitForTimeout(1500);
    check(await row(opt.service, opt.backend).locator('.badge.enabled').count() === 1, 'cancel drained it anyway');

    await confirmAction(opt.service, opt.backend, 'drain', 'drain-confirm');
    await waitAdmin(opt.service, opt.backend, 'draining');
    const flash = await page.locator('#flash').textContent();
    check(/draining/.test(flash), `the outcome reads "${flash}"`);
  });

  await step(`the lab sees ${opt.backend} drained: no new connections reach it`, async () => {
    await ask({ step: 'drained', service: opt.service, backend: opt.backend });
    await shot('services-drained');
  });

  await step(`enable ${opt.service}/${opt.backend} from the Actions page`, async () => {
    await page.locator('nav a[data-route="actions"]').click();
    await row(opt.service, opt.backend).waitFor();
    await confirmAction(opt.service, opt.backend, 'enable');
    await waitAdmin(opt.service, opt.backend, 'enabled');
    const log = await page.locator('#action-log').textContent();
    check(/drain/.test(log) && /enable/.test(log), `the action log reads "${log}"`);
  });

  await step(`the lab sees ${opt.backend} back in service`, async () => {
    await ask({ step: 'enabled', service: opt.service, backend: opt.backend });
  });

  const other = opt.backends.split(',')[0];
  await step(`set the weight of ${opt.service}/${other} in the dialog, starting from its weight`, async () => {
    await row(opt.service, other).locator('button[data-op="weight"]').click();
    await page.locator('dialog#confirm').waitFor({ state: 'visible' });
    const input = page.locator('#confirm-weight');
    check(await input.isVisible(), 'the weight dialog has no weight field');
    const start = await input.inputValue();
    const shown = (await row(opt.service, other).locator("td.weight").textContent()).split('/')[0].trim();
    check(start === shown, `the dialog starts from weight "${start}", the page shows "${shown}"`);
    const want = Number(start) + 4;
    await input.fill(String(want));
    await page.locator('#confirm-ok').click();
    await page.locator('dialog#confirm').waitFor({ state: 'hidden' });
    await page.waitForFunction(([s, b, w]) => {
      const cell = document.querySelector(`#view tr[data-service="${s}"][data-backend="${b}"] td.weight`);
      return cell && cell.textContent.trim().startsWith(`${w} /`);
    }, [opt.service, other, want], { timeout });
    check(/weight \d+/.test(await page.locator('#action-log').textContent()), 'the log has no weight entry');
  });

  await step("an operation shoald refuses shows shoald's own error message", async () => {
    // The lab's shoald accepts every operation the page offers, so this one answer is
    // stood in for in the browser: what is tested is that the page shows {"error"} as sent.
    const message = `service '${opt.service}' has no backend named '${other}' (answer made by the test)`;
    const target = `**/v1/services/${opt.service}/backends/${other}/disable`;
    await page.route(target, (r) => r.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: message }) }));
    await confirmAction(opt.service, other, 'disable');
    await page.locator('#flash.error').waitFor({ state: 'visible' });
    const flash = await page.locator('#flash').textContent();
    check(flash.includes(message), `the page shows "${flash}"`);
    const failed = await page.locator('#action-log tr.failed').first().textContent();
    check(failed.includes(message) && /refused/.test(failed), `the log shows "${failed}"`);
    await page.unroute(target);
    await shot('actions');
  });

  let badLine = 0;
  await step('an invalid candidate config is refused with the error at its line', async () => {
    await page.locator('nav a[data-route="config"]').click();
    const candidate = page.locator('textarea[aria-label="candidate configuration"]');
    await page.waitForFunction(() => {
      const t = document.querySelector('textarea[aria-label="candidate configuration"]');
      return t && t.value.length > 0;
    }, null, { timeout });
    const text = await candidate.inputValue();
    const lines = text.split('\n');
    badLine = lines.findIndex((l) => /^\s*forwarding:\s*dr\b/.test(l)) + 1;
    check(badLine > 0, 'the running config has no "forwarding: dr" line to break');
    lines[badLine - 1] = lines[badLine - 1].replace(/forwarding:\s*dr\b/, 'forwarding: teleport');
    await candidate.fill(lines.join('\n'));
    await page.locator('button#validate').click();
    await page.locator('#verdict').waitFor();
    const verdict = await page.locator('#verdict').textContent();
    check(/Not valid/.test(verdict), `validation verdict reads "${verdict}"`);
    const item = page.locator(`.problems.error li[data-line="${badLine}"]`);
    check(await item.count() >= 1, `no error listed at line ${badLine}: ${await page.locator('#config-outcome').textContent()}`);
    const message = await item.first().textContent();
    check(/teleport|forwarding/.test(message), `the error at line ${badLine} reads "${message}"`);
    check(await page.locator(`#candidate .gutter div[data-line="${badLine}"].error`).count() === 1, `line ${badLine} is not marked in the gutter`);
    check(await page.locator(`#candidate .mark.error[data-line="${badLine}"]`).count() === 1, `line ${badLine} is not highlighted`);
    // The highlight sits on the line itself: same height on screen as the gutter's number.
    const [g, m] = await Promise.all([
      page.locator(`#candidate .gutter div[data-line="${badLine}"]`).boundingBox(),
      page.locator(`#candidate .mark.error[data-line="${badLine}"]`).boundingBox()]);
    check(g && m && Math.abs(g.y - m.y) < 2, `highlight at y=${m?.y}, line number at y=${g?.y}`);
    await item.first().locator('a').click();  // jumps to the line: selects it in the editor
    const selected = await candidate.evaluate((t) => t.value.slice(t.selectionStart, t.selectionEnd));
    check(selected.includes('teleport'), `clicking the error selected "${selected}"`);
    await shot('config-invalid');
  });

  await step('applying the invalid config is refused and the running config stays', async () => {
    const before = await page.locator('textarea[aria-label="running configuration"]').inputValue();
    await page.locator('button#apply').click();
    await page.locator('dialog#confirm').waitFor({ state: 'visible' });
    await page.locator('#confirm-ok').click();
    await page.waitForFunction(() => /Refused/.test(document.querySelector('#verdict')?.textContent ?? ''), null, { timeout });
    check(await page.locator(`.problems.error li[data-line="${badLine}"]`).count() >= 1, 'the refusal does not show the error line');
    const r = await pageFetch('GET', '/v1/config');
    check(JSON.parse(r.text).text === before, 'the running config changed after a refused apply');
  });

  const reweighed = opt.backends.split(',').at(-1);
  let newWeight = 0;
  await step(`a valid candidate (${opt.service}/${reweighed} reweighed) validates with its diff, then applies`, async () => {
    await page.locator('button#reset').click();
    const candidate = page.locator('textarea[aria-label="candidate configuration"]');
    await page.waitForFunction(() => !/teleport/.test(document.querySelector('textarea[aria-label="candidate configuration"]').value), null, { timeout });
    const lines = (await candidate.inputValue()).split('\n');
    const svc = lines.findIndex((l) => new RegExp(`-\\s*name:\\s*${opt.service}\\b`).test(l));
    const b = lines.findIndex((l, i) => i > svc && new RegExp(`name:\\s*${reweighed}\\b`).test(l));
    const w = lines.findIndex((l, i) => i > b && /^\s*weight:\s*\d+\s*$/.test(l));
    check(svc >= 0 && b > svc && w > b, `no weight line for ${opt.service}/${reweighed} in the running config`);
    const oldWeight = Number(lines[w].match(/\d+/)[0]);
    newWeight = oldWeight + 1;
    lines[w] = lines[w].replace(/\d+/, String(newWeight));
    await candidate.fill(lines.join('\n'));
    await page.locator('button#validate').click();
    await page.waitForFunction(() => /^Valid/.test(document.querySelector('#verdict')?.textContent ?? ''), null, { timeout });
    check(await page.locator('#candidate .gutter div.error').count() === 0, 'error marks remain on a valid config');
    const diff = await page.locator('#diff').textContent();
    const want = `service ${opt.service}: backend ${reweighed}: weight ${oldWeight} -> ${newWeight}`;
    check(diff.includes(want), `the diff reads "${diff}", not "${want}"`);
    check(!/null|undefined/.test(await page.locator('#config-outcome').textContent()), 'the outcome shows null/undefined');
    await shot('config-valid');

    await page.locator('button#apply').click();
    await page.locator('dialog#confirm').waitFor({ state: 'visible' });
    await page.locator('#confirm-ok').click();
    await page.waitForFunction(() => /^Applied/.test(document.querySelector('#verdict')?.textContent ?? ''), null, { timeout });
    await page.waitForFunction((want) => document.querySelector('textarea[aria-label="running configuration"]').value === want,
      lines.join('\n'), { timeout });
  });

  await step(`shoald runs the applied config: ${reweighed} weighs ${newWeight}`, async () => {
    await ask({ step: 'applied', service: opt.service, backend: reweighed, weight: newWeight });
    await page.locator('nav a[data-route="services"]').click();
    await page.waitForFunction(([s, b, w]) => {
      const cell = document.querySelector(`#view tr[data-service="${s}"][data-backend="${b}"] td.weight`);
      return cell && cell.textContent.trim() === `${w} / ${w}`;
    }, [opt.service, reweighed, newWeight], { timeout });
  });

  await step('a lost session brings the login page back, and the login returns to the page', async () => {
    await page.locator('nav a[data-route="services"]').click();
    await row(opt.service, opt.backend).waitFor();
    await page.context().clearCookies();
    await page.locator('#login-form').waitFor({ state: 'visible', timeout });
    const text = await page.locator('#login-error').textContent();
    check(/session has ended/.test(text), `login page reads "${text}"`);
    await page.locator('#token').fill(opt.token);
    await page.locator('#login-form button[type=submit]').click();
    await row(opt.service, opt.backend).waitFor();
    check(new URL(page.url()).hash === '#/services', `back at ${page.url()}, not on the services page`);
  });

  await step('logging out ends the session on the server', async () => {
    const cookie = (await page.context().cookies()).find((c) => c.name === 'shoal_session');
    await page.locator('#logout').click();
    await page.locator('#login-form').waitFor({ state: 'visible' });
    const note = await page.locator('#login-note').textContent();
    check(/Logged out/.test(note), `login page reads "${note}"`);
    // The old cookie, sent again by hand, no longer opens anything.
    await page.context().addCookies([{ ...cookie }]);
    const r = await pageFetch('GET', '/v1/status');
    check(r.status === 401, `the logged-out session still answers ${r.status}`);
  });

  await step('no script errors in the page', async () => {
    check(pageErrors.length === 0, pageErrors.join('\n'));
  });
  console.log('# all steps passed');
} catch (e) {
  console.log(`not ok - ${stepName}: ${e.message.split('\n').slice(0, 8).join('\n# ')}`);
  if (pageErrors.length) console.log(`# page errors:\n# ${pageErrors.join('\n# ')}`);
  if (page) {
    try {
      await shot('failure');
    } catch { /* the browser may be gone */ }
  }
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  process.stdin.destroy();
}

// Browser tests of calport's web UI: headless Chromium driven by playwright-core.
//
// Run by crates/calport-cli/tests/ui.rs, which seeds Radicale and Xandikos, starts
// `calport serve` with a fresh data directory and passes everything through the
// environment (see ENV below). It expects a calport with no admin password set yet, and on
// Radicale alice's one calendar "Calendar" (EVENTS events) and bob's "Work" (WORK_EVENTS
// events) and "Shared" (holding CONFLICT_UID); on Xandikos (`--defaults`) empty calendars
// "Work" and "Shared". Standalone, against such a setup:
//   BASE_URL=http://127.0.0.1:8080 RADICALE_URL=… XANDIKOS_URL=… node ui-tests/run.mjs
// Screenshots go to SCREENSHOT_DIR (docs/screenshots/); on a failure, a screenshot and the
// HTML of each page go to OUTPUT_DIR (ui-tests/output/).
//
// Scenarios:
//   1. first start: admin password, sign out, a wrong password is refused, sign in;
//   2. accounts (a wrong password first: the connection test says so; fixed: the test lists
//      the collections), a "Copy once" job, its preview, start, live progress to 100 %
//      without a page load, counts that match the destination;
//   3. pause and resume a run from the run page;
//   4. a conflict made between two runs of a two-way "Ask me" job, resolved from the
//      Conflicts page (keep B): B's version is then on both servers;
//   5. Webhooks in: a source added from the form (an API validation message first), its
//      key shown once; a pushed event lands in Xandikos' Shared and shows in the event
//      mappings and history; a conflict with a second "Ask me" source settled with "Keep
//      existing"; a new key (the old one is refused); the second source deleted;
//   6. screenshots of every page at desktop (1280×900) and phone (390×844) width.
// Every wait is bounded; each step is printed. Exit code 0: everything passed.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

function need(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.error(`run.mjs: set ${name} (see the header of ui-tests/run.mjs)`);
    process.exit(2);
  }
  return value;
}

const ENV = {
  base: need('BASE_URL').replace(/\/+$/, ''),
  radicale: need('RADICALE_URL'),
  alice: need('RADICALE_USER', 'alice'),
  alicePassword: need('RADICALE_PASSWORD', 'alicepw'),
  bob: need('RADICALE_USER2', 'bob'),
  bobPassword: need('RADICALE_PASSWORD2', 'bobpw'),
  xandikos: need('XANDIKOS_URL'),
  chromium: need('CHROMIUM', '/usr/bin/chromium'),
  screenshots: need('SCREENSHOT_DIR', path.resolve('docs/screenshots')),
  output: need('OUTPUT_DIR', path.resolve('ui-tests/output')),
  events: Number(need('EVENTS', '40')),
  workEvents: Number(need('WORK_EVENTS', '200')),
  xandikosCalendar: need('XANDIKOS_CALENDAR', '/user/calendars/calendar/'),
  radicaleShared: need('RADICALE_SHARED', '/bob/shared/'),
  xandikosWork: need('XANDIKOS_WORK', '/user/calendars/work/'),
  xandikosShared: need('XANDIKOS_SHARED', '/user/calendars/shared/'),
  conflictUid: need('CONFLICT_UID', 'shared-000'),
  bSummary: need('B_SUMMARY', 'Edited on B (Xandikos)'),
};
const A_SUMMARY = 'Edited on A (Radicale)';
const ADMIN_PASSWORD = 'correct horse battery staple';

/** Bounds of every wait, in ms. */
const T = {
  action: 15_000, // a click, a fill, an element to appear
  test: 30_000, // a connection test
  run: 90_000, // a run to finish
  http: 10_000, // one request to a DAV server
  total: 210_000, // the whole script
};

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

const started = Date.now();
function step(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** Polls `fn` until it returns something truthy; throws after `timeout` ms. */
async function until(what, fn, { timeout = T.action, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let last = null;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : last !== null ? ` (last: ${JSON.stringify(last)})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

// ---------------------------------------------------------------------------------------
// DAV servers, directly (to check what the UI claims, and to make a conflict)
// ---------------------------------------------------------------------------------------

function basic(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

const BOB = basic(ENV.bob, ENV.bobPassword);
const NOBODY = basic('user', 'unused');

async function dav(method, url, { auth, headers = {}, body } = {}) {
  const response = await fetch(url, {
    method,
    headers: { Authorization: auth, ...headers },
    body,
    signal: AbortSignal.timeout(T.http),
  });
  const text = await response.text();
  return { status: response.status, text, etag: response.headers.get('etag') };
}

const PROPFIND = '<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>';

/** The item hrefs of a collection (members that are not collections themselves). */
async function members(collectionUrl, auth) {
  const r = await dav('PROPFIND', collectionUrl, {
    auth, headers: { Depth: '1', 'Content-Type': 'application/xml; charset=utf-8' }, body: PROPFIND,
  });
  check(r.status === 207, `PROPFIND ${collectionUrl} answered ${r.status}`);
  const own = new URL(collectionUrl).pathname;
  return [...r.text.matchAll(/<(?:[\w-]+:)?href>([^<]+)<\/(?:[\w-]+:)?href>/g)]
    .map((m) => m[1].trim().replace(/&amp;/g, '&'))
    .map((href) => new URL(href, collectionUrl).pathname)
    .filter((p) => p !== own && !p.endsWith('/'));
}

/** The item with `uid` in a collection: its URL, body and etag. */
async function findItem(collectionUrl, uid, auth) {
  const uidLine = new RegExp(`^UID:${escapeRegExp(uid)}\\r?$`, 'm');
  for (const p of await members(collectionUrl, auth)) {
    const url = new URL(p, collectionUrl).href;
    const r = await dav('GET', url, { auth });
    if (r.status === 200 && uidLine.test(r.text)) return { url, body: r.text, etag: r.etag };
  }
  throw new Error(`no item with UID ${uid} in ${collectionUrl}`);
}

function summaryOf(body) {
  const m = /^SUMMARY[^:\r\n]*:(.*)$/m.exec(body);
  return m ? m[1].trim() : null;
}

/** Changes an item's SUMMARY on its server (a plain edit, as a calendar app would make). */
async function editSummary(item, summary, auth) {
  const body = item.body.replace(/^SUMMARY([^:\r\n]*):.*$/m, `SUMMARY$1:${summary}`);
  check(body !== item.body, `the item at ${item.url} has a SUMMARY to edit`);
  const headers = { 'Content-Type': 'text/calendar; charset=utf-8' };
  if (item.etag) headers['If-Match'] = item.etag;
  const r = await dav('PUT', item.url, { auth, headers, body });
  check(r.status >= 200 && r.status < 300, `PUT ${item.url} answered ${r.status}: ${r.text}`);
}

const onXandikos = (p) => new URL(p, ENV.xandikos).href;
const onRadicale = (p) => new URL(p, ENV.radicale).href;

// ---------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------

const problems = []; // uncaught page errors and server errors: the run fails on any
const pages = {}; // name → page, for the failure artefacts

function watch(page, name) {
  pages[name] = page;
  page.setDefaultTimeout(T.action);
  page.setDefaultNavigationTimeout(T.action);
  page.on('pageerror', (err) => {
    problems.push(`${name}: uncaught error in the page: ${err.message}`);
    console.error(`[${name}] page error: ${err.stack || err.message}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') console.error(`[${name}] console.${msg.type()}: ${msg.text()}`);
    if (/Content Security Policy/i.test(msg.text())) problems.push(`${name}: ${msg.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 500) {
      problems.push(`${name}: ${response.request().method()} ${response.url()} answered ${response.status()}`);
    }
  });
}

async function shoot(page, name) {
  const file = path.join(ENV.screenshots, `${name}.png`);
  // Toasts come and go: leave them out so that the pictures only change with the UI. (The
  // screenshot's `style` option would inject a style sheet, which the page's CSP refuses.)
  await page.evaluate(() => document.querySelectorAll('#toasts > *').forEach((t) => t.remove()));
  await page.mouse.move(0, 0); // no hover highlight on whatever was clicked last
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide', timeout: T.action });
  step(`  screenshot ${path.relative(process.cwd(), file)}`);
}

const byTestId = (page, id) => page.getByTestId(id, { exact: true });

/** Waits until a page of the app has rendered: its title, no loading spinner in `main`. */
async function settled(page, title) {
  const heading = page.locator('main .page-title').first();
  if (title) await heading.filter({ hasText: new RegExp(`^\\s*${escapeRegExp(title)}\\s*$`) }).waitFor();
  else await heading.waitFor();
  await page.locator('main .page > .loading').waitFor({ state: 'detached' });
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Goes to a route of the single-page app by its hash (no page load). */
async function route(page, hash, title) {
  await page.evaluate((h) => { window.location.hash = h; }, hash);
  await settled(page, title);
}

/** Clicks the label of a radio button or checkbox given by its test id, checks the result. */
async function choose(page, testid) {
  const input = byTestId(page, testid);
  const id = await input.getAttribute('id');
  await page.locator(`label[for="${id}"]`).click();
  check(await input.isChecked(), `${testid} is checked after clicking its label`);
}

/** Sets a checkbox given by its test id by clicking its label when it differs. */
async function setCheck(page, testid, value) {
  const input = byTestId(page, testid);
  if (await input.isChecked() !== value) {
    const id = await input.getAttribute('id');
    await page.locator(`label[for="${id}"]`).click();
  }
  check(await input.isChecked() === value, `${testid} is ${value ? 'checked' : 'unchecked'}`);
}

/** Starts the job shown on a job page (for real or as a preview); returns the run id. */
async function startFromJobPage(page, preview) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => /\/api\/sync-jobs\/\d+\/start$/.test(new URL(r.url()).pathname) && r.request().method() === 'POST'),
    byTestId(page, preview ? 'preview-job' : 'start-job').click(),
  ]);
  check(response.status() === 202, `starting the job answered ${response.status()}: ${await response.text()}`);
  const run = await response.json();
  return run.id;
}

/** State and progress of the run page's run. */
function runStatus(page, id) {
  return page.evaluate((runId) => {
    const bar = document.querySelector(`[data-testid="progress-${runId}"]`);
    const badge = document.querySelector('[data-testid="run-state-badge"]');
    return {
      state: badge ? badge.dataset.state : null,
      label: badge ? badge.textContent : null,
      percent: bar ? Number(bar.getAttribute('aria-valuenow')) : null,
      text: (document.querySelector(`[data-testid="progress-text-${runId}"]`) || {}).textContent || null,
    };
  }, id);
}

/**
 * Records, for the life of the window, every value any run progress bar shows: bars as they
 * are added (job page, run page, dashboard) and each change of their value. Hash routes keep
 * the window, so one recorder follows a run from the job page to the run page.
 */
function recordProgress(page) {
  return page.evaluate(() => {
    window.__progress = {};
    const note = (bar) => {
      const id = bar.dataset.testid;
      const value = Number(bar.getAttribute('aria-valuenow'));
      const seen = (window.__progress[id] ||= []);
      if (seen[seen.length - 1] !== value) seen.push(value);
    };
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        if (m.type === 'attributes' && m.target.matches('[data-testid^="progress-"]')) note(m.target);
        for (const node of m.addedNodes) {
          if (node.nodeType !== 1) continue;
          if (node.matches('[data-testid^="progress-"]')) note(node);
          node.querySelectorAll('[data-testid^="progress-"]').forEach(note);
        }
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });
}

/** The values the bar of run `id` showed so far, in order (repeats left out). */
function progressSeen(page, id) {
  return page.evaluate((runId) => (window.__progress || {})[`progress-${runId}`] || [], id);
}

async function waitRunEnd(page, id, { timeout = T.run } = {}) {
  return until(`run #${id} to finish on its page`, async () => {
    const s = await runStatus(page, id);
    return ['completed', 'partial_failure', 'failed', 'cancelled'].includes(s.state) ? s : null;
  }, { timeout, interval: 200 });
}

async function statValue(page, key) {
  return (await byTestId(page, key).textContent()).trim();
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

async function signIn(page, password) {
  await byTestId(page, 'signin-form').waitFor();
  await byTestId(page, 'signin-password').fill(password);
  await byTestId(page, 'signin-submit').click();
}

async function scenarioSignIn(desk, phone) {
  step('1. first start: the setup form asks for an admin password');
  await desk.goto(`${ENV.base}/`);
  await byTestId(desk, 'setup-form').waitFor();
  await desk.evaluate(() => { window.__noReload = 'still the first page load'; });
  await shoot(desk, 'desktop-setup');
  await phone.goto(`${ENV.base}/`);
  await byTestId(phone, 'setup-form').waitFor();
  await shoot(phone, 'phone-setup');

  step('1. a too short password is refused in the form');
  await byTestId(desk, 'setup-password').fill('short');
  await byTestId(desk, 'setup-confirm').fill('short');
  await byTestId(desk, 'setup-submit').click();
  await desk.locator('[data-testid="setup-form"] .field-error:not([hidden])').filter({ hasText: '10' }).waitFor();

  step('1. set the admin password: signed in, on the dashboard');
  await byTestId(desk, 'setup-password').fill(ADMIN_PASSWORD);
  await byTestId(desk, 'setup-confirm').fill(ADMIN_PASSWORD);
  await byTestId(desk, 'setup-submit').click();
  await settled(desk, 'Dashboard');
  await byTestId(desk, 'signout').waitFor();
  const session = await desk.evaluate(() => fetch('/api/session').then((r) => r.json()));
  check(session.authenticated === true && session.setup_needed === false, `signed in after setup: ${JSON.stringify(session)}`);

  step('1. sign out');
  await byTestId(desk, 'signout').click();
  await byTestId(desk, 'signin-form').waitFor();
  const after = await desk.evaluate(() => fetch('/api/session').then((r) => r.json()));
  check(after.authenticated === false, `signed out: ${JSON.stringify(after)}`);
  await shoot(desk, 'desktop-signin');

  step('1. a wrong password is refused, with an error shown');
  await signIn(desk, 'not the admin password');
  await byTestId(desk, 'signin-error').filter({ hasText: /wrong password/i }).waitFor();
  check(await byTestId(desk, 'signin-form').isVisible(), 'still on the sign-in form');
  await shoot(desk, 'desktop-signin-error');

  step('1. the right password signs in');
  await signIn(desk, ADMIN_PASSWORD);
  await settled(desk, 'Dashboard');
  check(await desk.evaluate(() => window.__noReload) === 'still the first page load', 'no page load while signing in and out');

  step('1. phone: the sign-in page, then signed in');
  await phone.reload();
  await byTestId(phone, 'signin-form').waitFor();
  await shoot(phone, 'phone-signin');
  await signIn(phone, ADMIN_PASSWORD);
  await settled(phone, 'Dashboard');
}

/** Fills and saves the account form (at #/accounts/new or …/edit). */
async function saveAccount(page, { name, url, username, password, testAfter }) {
  await byTestId(page, 'account-form').waitFor();
  if (name !== undefined) await byTestId(page, 'account-name').fill(name);
  if (url !== undefined) await byTestId(page, 'account-url').fill(url);
  if (username !== undefined) await byTestId(page, 'account-username').fill(username);
  if (password !== undefined) await byTestId(page, 'account-password').fill(password);
  await setCheck(page, 'account-test-after', testAfter);
  await byTestId(page, 'account-submit').click();
  await settled(page, 'Accounts');
}

function accountRow(page, name) {
  return byTestId(page, 'account-row').filter({ has: page.getByText(name, { exact: true }) });
}

/** Waits for the connection test dialog's result; returns it (the dialog stays open). */
async function testResult(page) {
  const result = page.locator('[data-testid="test-dialog"] [data-testid="test-result"]');
  await result.waitFor({ timeout: T.test });
  return result;
}

async function closeTest(page) {
  await byTestId(page, 'test-close').click();
  await byTestId(page, 'test-dialog').waitFor({ state: 'detached' });
}

/** The job form: basics. */
async function jobBasics(page, { name, kind, a, b }) {
  await byTestId(page, 'job-form').waitFor();
  await byTestId(page, 'job-name').fill(name);
  await choose(page, `job-kind-${kind}`);
  await byTestId(page, 'job-account-a').selectOption({ label: a });
  await byTestId(page, 'job-account-b').selectOption({ label: b });
  await byTestId(page, 'collections-status').filter({ hasText: /A has .* B has/ }).waitFor({ timeout: T.test });
}

/** The job form: explicit pairs (sync jobs). */
async function jobPairs(page, pairs) {
  await choose(page, 'job-pairing-pairs');
  for (const [i, [a, b]] of pairs.entries()) {
    await byTestId(page, 'pair-add').click();
    await byTestId(page, `pair-a-${i}`).selectOption(a);
    await byTestId(page, `pair-b-${i}`).selectOption(b);
  }
  await byTestId(page, 'mapping-preview').locator('[data-testid="mapping-line"]').first().waitFor();
}

async function submitJob(page, name) {
  await byTestId(page, 'job-submit').click();
  await settled(page, name);
  await byTestId(page, 'start-job').waitFor();
  const id = Number(/#\/jobs\/(\d+)/.exec(page.url())[1]);
  check(id > 0, `on the new job's page: ${page.url()}`);
  return id;
}

/** Opens the page of run `id` from the job page's live card (or by its address if gone). */
async function openRun(page, id) {
  const link = byTestId(page, 'active-run-link').filter({ hasText: `#${id}` });
  try {
    await link.click({ timeout: 3_000 });
  } catch {
    await page.evaluate((runId) => { window.location.hash = `#/runs/${runId}`; }, id);
  }
  await settled(page, `Run #${id}`);
  await byTestId(page, 'run-state-badge').waitFor();
}

async function scenarioCopyJob(desk, phone, ids) {
  step('2. accounts: none yet');
  await byTestId(desk, 'nav-accounts').click();
  await settled(desk, 'Accounts');
  await byTestId(desk, 'accounts-empty').waitFor();
  await byTestId(desk, 'empty-add-account').click();
  await settled(desk, 'Add an account');
  await shoot(desk, 'desktop-account-form');

  step(`2. add Radicale (${ENV.alice}) with a wrong password; "Test connection" shows the error`);
  await saveAccount(desk, {
    name: 'Radicale alice', url: ENV.radicale, username: ENV.alice, password: 'wrong password', testAfter: false,
  });
  await accountRow(desk, 'Radicale alice').getByTestId('test-account').click();
  let result = await testResult(desk);
  check(await result.getAttribute('data-ok') === 'false', 'the test with a wrong password fails');
  check(await result.getAttribute('data-problem') === 'unauthorized', `the problem is "unauthorized", not ${await result.getAttribute('data-problem')}`);
  await result.getByTestId('test-problem').filter({ hasText: /password/i }).waitFor();
  await shoot(desk, 'desktop-account-test-error');
  await closeTest(desk);

  step('2. fix the password: the test lists the collections');
  await accountRow(desk, 'Radicale alice').getByTestId('edit-account').click();
  await settled(desk, 'Edit Radicale alice');
  await saveAccount(desk, { password: ENV.alicePassword, testAfter: true });
  result = await testResult(desk);
  check(await result.getAttribute('data-ok') === 'true', 'the test with the right password passes');
  const calendarRow = result.getByTestId('test-collection').filter({ hasText: 'Calendar' });
  await calendarRow.waitFor();
  check((await calendarRow.textContent()).includes(String(ENV.events)), `the Calendar row shows its ${ENV.events} events: ${await calendarRow.textContent()}`);
  await shoot(desk, 'desktop-account-test');
  await closeTest(desk);

  step('2. add Xandikos (target) and Radicale bob (for scenarios 3 and 4), both tested');
  for (const [name, url, username, password, expect] of [
    ['Xandikos', ENV.xandikos, 'user', 'unused', ['Work', 'Shared']],
    ['Radicale bob', ENV.radicale, ENV.bob, ENV.bobPassword, ['Work', 'Shared']],
  ]) {
    await byTestId(desk, 'add-account').click();
    await settled(desk, 'Add an account');
    await saveAccount(desk, { name, url, username, password, testAfter: true });
    result = await testResult(desk);
    check(await result.getAttribute('data-ok') === 'true', `the test of ${name} passes`);
    for (const collection of expect) await result.getByTestId('test-collection').filter({ hasText: collection }).first().waitFor();
    await closeTest(desk);
  }
  await byTestId(desk, 'account-row').nth(2).waitFor();

  step('2. a "Copy once" job from alice to Xandikos, paired by name');
  await byTestId(desk, 'nav-jobs').click();
  await settled(desk, 'Sync jobs');
  await byTestId(desk, 'empty-add-job').click();
  await settled(desk, 'New sync job');
  await jobBasics(desk, { name: 'Copy alice to Xandikos', kind: 'migrate', a: `Radicale alice (${ENV.alice})`, b: 'Xandikos (user)' });
  const line = byTestId(desk, 'mapping-line').filter({ hasText: 'Calendar' });
  await line.waitFor();
  check(await byTestId(desk, 'mapping-line').count() === 1, 'one collection pair: alice has one calendar');
  await desk.locator('main .page-title').scrollIntoViewIfNeeded();
  await shoot(desk, 'desktop-job-form');
  ids.copyJob = await submitJob(desk, 'Copy alice to Xandikos');

  step('2. preview the changes (dry run): the plan, nothing written');
  ids.previewRun = await startFromJobPage(desk, true);
  const preview = byTestId(desk, 'preview').locator('[data-testid="report-pair"]');
  await preview.first().waitFor({ timeout: T.run });
  const plan = await byTestId(desk, 'preview').textContent();
  check(plan.includes(String(ENV.events)), `the preview names the ${ENV.events} events to copy: ${plan}`);
  check((await members(onXandikos(ENV.xandikosCalendar), NOBODY)).length === 0, 'the preview wrote nothing');
  await shoot(desk, 'desktop-job-preview');

  step('2. start; the progress bar reaches 100 % live, without reloading the page');
  // The job page shows the run's bar (queued, 0 %) as soon as it is started, then follows
  // it; its link leads to the run page, which follows it further.
  await recordProgress(desk);
  ids.copyRun = await startFromJobPage(desk, false);
  await openRun(desk, ids.copyRun);
  const first = await runStatus(desk, ids.copyRun);
  step(`  run #${ids.copyRun} when its page opened: ${first.state}, ${first.percent} %`);
  const end = await waitRunEnd(desk, ids.copyRun);
  const seen = await progressSeen(desk, ids.copyRun);
  step(`  progress values seen: ${seen.join(' → ')}`);
  check(end.state === 'completed', `the copy run completed (${end.state})`);
  check(end.percent === 100, `the bar shows 100 % (${end.percent})`);
  check(seen.length >= 2 && seen[0] < 100 && seen[seen.length - 1] === 100, `the bar went from ${seen[0]} to 100 % in the open page`);
  check(await desk.evaluate(() => window.__noReload) === 'still the first page load', 'no page load: the window marker survived');

  step(`2. the counts shown match the destination: ${ENV.events} created`);
  await byTestId(desk, 'stats-table').waitFor();
  const created = await statValue(desk, 'stat-events-created');
  const failed = await statValue(desk, 'stat-events-failed');
  const onTarget = (await members(onXandikos(ENV.xandikosCalendar), NOBODY)).length;
  step(`  shown: ${created} created, ${failed} failed; Xandikos holds ${onTarget}`);
  check(created === String(ENV.events), `${ENV.events} created shown (${created})`);
  check(failed === '0', `0 failed shown (${failed})`);
  check(onTarget === ENV.events, `Xandikos holds ${ENV.events} events (${onTarget})`);
  await byTestId(desk, 'report-card').waitFor();
  await shoot(desk, 'desktop-run');
}

async function scenarioPauseResume(desk, ids) {
  step(`3. a "Keep in sync" job from bob's Work (${ENV.workEvents} events) to Xandikos' Work, one way`);
  await byTestId(desk, 'nav-jobs').click();
  await settled(desk, 'Sync jobs');
  await byTestId(desk, 'add-job').click();
  await settled(desk, 'New sync job');
  await jobBasics(desk, { name: 'Work to Xandikos', kind: 'sync', a: `Radicale bob (${ENV.bob})`, b: 'Xandikos (user)' });
  await choose(desk, 'job-direction-a-to-b');
  await jobPairs(desk, [['Work', 'Work']]);
  ids.workJob = await submitJob(desk, 'Work to Xandikos');

  step('3. start, then pause once the progress is above 0');
  ids.workRun = await startFromJobPage(desk, false);
  await openRun(desk, ids.workRun);
  const moving = await until('the run to make progress', async () => {
    const s = await runStatus(desk, ids.workRun);
    return s.state === 'running' && s.percent > 0 ? s : null;
  }, { timeout: T.run, interval: 50 });
  step(`  pausing at ${moving.percent} %`);
  await byTestId(desk, 'pause-run').click();
  const paused = await until('the run page to show Paused', async () => {
    const s = await runStatus(desk, ids.workRun);
    if (['completed', 'failed', 'partial_failure', 'cancelled'].includes(s.state)) {
      throw new Error(`the run ended (${s.state}) before it paused: make the run longer (WORK_EVENTS)`);
    }
    return s.state === 'paused' ? s : null;
  }, { timeout: T.run });
  check(/paused/i.test(paused.label), `the badge says Paused (${paused.label})`);
  check(paused.percent > 0 && paused.percent < 100, `paused midway (${paused.percent} %)`);
  const written = (await members(onXandikos(ENV.xandikosWork), NOBODY)).length;
  step(`  paused at ${paused.percent} % (${paused.text}); Xandikos holds ${written} of ${ENV.workEvents}`);
  check(written > 0 && written < ENV.workEvents, `paused midway on the server too (${written})`);
  await byTestId(desk, 'resume-run').waitFor();
  await shoot(desk, 'desktop-run-paused');

  step('3. resume: the run completes');
  await byTestId(desk, 'resume-run').click();
  const end = await waitRunEnd(desk, ids.workRun);
  check(end.state === 'completed', `the resumed run completed (${end.state})`);
  check(end.percent === 100, `100 % after resuming (${end.percent})`);
  const created = await statValue(desk, 'stat-events-created');
  const onTarget = (await members(onXandikos(ENV.xandikosWork), NOBODY)).length;
  step(`  shown: ${created} created; Xandikos holds ${onTarget}`);
  check(onTarget === ENV.workEvents, `Xandikos' Work holds ${ENV.workEvents} (${onTarget})`);
  check(created === String(ENV.workEvents), `${ENV.workEvents} created shown over the paused and resumed run (${created})`);
}

async function runToEnd(page, id, what) {
  await openRun(page, id);
  const end = await waitRunEnd(page, id);
  step(`  ${what}: run #${id} ${end.state}`);
  return end;
}

async function scenarioConflict(desk, phone, ids) {
  step('4. a two-way "Keep in sync" job between bob\'s Shared and Xandikos\' Shared, conflicts: "Ask me"');
  await byTestId(desk, 'nav-jobs').click();
  await settled(desk, 'Sync jobs');
  await byTestId(desk, 'add-job').click();
  await settled(desk, 'New sync job');
  await jobBasics(desk, { name: 'Shared both ways', kind: 'sync', a: `Radicale bob (${ENV.bob})`, b: 'Xandikos (user)' });
  await choose(desk, 'job-direction-both');
  await jobPairs(desk, [['Shared', 'Shared']]);
  await choose(desk, 'job-conflict-manual');
  ids.sharedJob = await submitJob(desk, 'Shared both ways');

  step('4. first run: the events reach Xandikos');
  let end = await runToEnd(desk, await startFromJobPage(desk, false), 'first run');
  check(end.state === 'completed', `the first two-way run completed (${end.state})`);

  step(`4. edit ${ENV.conflictUid} on both servers between two runs`);
  const a = await findItem(onRadicale(ENV.radicaleShared), ENV.conflictUid, BOB);
  const b = await findItem(onXandikos(ENV.xandikosShared), ENV.conflictUid, NOBODY);
  await editSummary(a, A_SUMMARY, BOB);
  await editSummary(b, ENV.bSummary, NOBODY);

  step('4. second run: the conflict is parked');
  await route(desk, `#/jobs/${ids.sharedJob}`, 'Shared both ways');
  end = await runToEnd(desk, await startFromJobPage(desk, false), 'second run');
  check(['completed', 'partial_failure'].includes(end.state), `the second run ended (${end.state})`);
  check(await statValue(desk, 'stat-events-conflicts') === '1', 'the run counts 1 conflict');

  step('4. the Conflicts page lists it');
  await byTestId(desk, 'nav-conflicts').click();
  await settled(desk, 'Conflicts');
  const row = byTestId(desk, 'conflict-row').filter({ hasText: A_SUMMARY });
  await row.waitFor();
  check(await byTestId(desk, 'conflict-row').count() === 1, 'one conflict listed');
  await desk.locator('#nav-conflicts-count:not([hidden])').filter({ hasText: '1' }).waitFor();
  ids.conflict = Number(await row.getAttribute('data-conflict-id'));
  await shoot(desk, 'desktop-conflicts');
  await route(phone, '#/conflicts', 'Conflicts');
  await byTestId(phone, 'conflict-row').first().waitFor();
  await shoot(phone, 'phone-conflicts');

  step('4. the conflict page shows both versions');
  await row.getByTestId('conflict-link').click();
  await settled(desk, A_SUMMARY);
  await byTestId(desk, 'conflict-diff').waitFor();
  const diff = await byTestId(desk, 'conflict-diff').textContent();
  check(diff.includes(A_SUMMARY) && diff.includes(ENV.bSummary), 'both summaries in the side-by-side view');
  await shoot(desk, 'desktop-conflict');
  await route(phone, `#/conflicts/${ids.conflict}`, A_SUMMARY);
  await shoot(phone, 'phone-conflict');

  step('4. keep B: the job runs and writes B\'s version to both servers');
  const [resolved] = await Promise.all([
    desk.waitForResponse((r) => new URL(r.url()).pathname === `/api/conflicts/${ids.conflict}/resolve`),
    byTestId(desk, 'resolve-b').click(),
  ]);
  check(resolved.status() === 202, `resolving answered ${resolved.status()}`);
  await settled(desk, 'Conflicts');
  const item = async () => ({
    a: summaryOf((await findItem(onRadicale(ENV.radicaleShared), ENV.conflictUid, BOB)).body),
    b: summaryOf((await findItem(onXandikos(ENV.xandikosShared), ENV.conflictUid, NOBODY)).body),
  });
  const both = await until(`B's version ("${ENV.bSummary}") on both servers`, async () => {
    const now = await item();
    return now.a === ENV.bSummary && now.b === ENV.bSummary ? now : null;
  }, { timeout: T.run, interval: 300 });
  step(`  Radicale: "${both.a}", Xandikos: "${both.b}"`);

  step('4. the job\'s latest run applied it; no open conflict is left');
  await route(desk, `#/jobs/${ids.sharedJob}`, 'Shared both ways');
  await until('the resolving run to show as finished in the history', async () => {
    const rows = await desk.locator('[data-testid="run-row"]').evaluateAll((els) => els.map((el) => ({
      id: Number(el.dataset.runId), state: (el.querySelector('[data-state]') || {}).dataset?.state,
    })));
    return rows.length >= 3 && rows[0].state === 'completed' ? rows : null;
  }, { timeout: T.run, interval: 300 });
  await byTestId(desk, 'nav-conflicts').click();
  await settled(desk, 'Conflicts');
  const open = await desk.evaluate(() => fetch('/api/conflicts').then((r) => r.json()));
  check(open.every((c) => c.resolution), `no conflict waits for a decision: ${JSON.stringify(open.map((c) => [c.id, c.resolution]))}`);
  await until('the header count of open conflicts to go away', () => desk.locator('#nav-conflicts-count').isHidden());
}

/** A Microsoft Graph event as Power Automate posts it. */
function graphEvent(id, subject, modified) {
  return {
    id,
    iCalUId: '040000008200E00074C5B7101A82E008UI',
    type: 'singleInstance',
    subject,
    body: { contentType: 'text', content: 'Pushed by the UI test' },
    start: { dateTime: '2026-12-14T09:00:00.0000000', timeZone: 'UTC' },
    end: { dateTime: '2026-12-14T10:00:00.0000000', timeZone: 'UTC' },
    isAllDay: false,
    lastModifiedDateTime: modified,
  };
}

/** Posts a webhook as Power Automate would. */
async function hook(action, source, key, body) {
  const response = await fetch(`${ENV.base}/api/webhook/event/${action}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Calendar-Source': source, 'X-API-Key': key },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(T.http),
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, json, text };
}

/** Waits until the worker has applied webhook `requestId`; returns its inbox entry. */
function applied(page, requestId) {
  return until(`webhook ${requestId} to be applied`, async () => {
    const e = await page.evaluate((rid) => fetch(`/api/inbox/${rid}`).then((r) => r.json()), requestId);
    if (e.state === 'dead') throw new Error(`webhook ${requestId} became a dead letter: ${e.last_error}`);
    return e.state === 'done' ? e : null;
  }, { timeout: T.run, interval: 200 });
}

/** The summary of the item source `source` wrote for its event, read on Xandikos. */
async function pushedSummary(page, source) {
  const events = await page.evaluate((s) => fetch(`/api/events?source=${s}`).then((r) => r.json()), source);
  const uid = events.find((e) => e.status === 'active')?.caldav_uid;
  check(uid, `an active mapping of ${source}: ${JSON.stringify(events)}`);
  return summaryOf((await findItem(onXandikos(ENV.xandikosShared), uid, NOBODY)).body);
}

async function scenarioSources(desk, phone) {
  const KEPT = 'Planning (from M365 work)';
  step('5. Webhooks in: no source yet');
  await byTestId(desk, 'nav-sources').click();
  await settled(desk, 'Webhooks in');
  await byTestId(desk, 'sources-empty').waitFor();
  await byTestId(desk, 'ingest-conflicts-empty').waitFor();

  step('5. add a source into Xandikos\' Shared; the API refuses a priority out of range first');
  await byTestId(desk, 'source-id').fill('m365-work');
  await byTestId(desk, 'source-name').fill('M365 work');
  await byTestId(desk, 'source-account').selectOption({ label: 'Xandikos (user)' });
  await byTestId(desk, 'source-calendar-status').filter({ hasText: 'on this account' }).waitFor({ timeout: T.test });
  await byTestId(desk, 'source-calendar').selectOption({ label: 'Shared' });
  await byTestId(desk, 'source-priority').fill('5000000');
  await byTestId(desk, 'source-submit').click();
  await desk.locator('[data-testid="source-form"] [data-field="priority"] .field-error:not([hidden])').filter({ hasText: '1000000' }).waitFor();
  await byTestId(desk, 'source-priority').fill('10');
  await byTestId(desk, 'source-submit').click();

  step('5. the key and clientState are shown once, with the addresses to configure');
  await byTestId(desk, 'source-secrets').waitFor();
  const key = (await byTestId(desk, 'source-key').textContent()).trim();
  check(/^cps_/.test(key), `a source key: ${key.slice(0, 4)}…`);
  check((await byTestId(desk, 'source-client-state').textContent()).trim().length > 20, 'a clientState');
  const url = (await byTestId(desk, 'webhook-url').textContent()).trim();
  check(url === `${ENV.base}/api/webhook/event/created`, `the webhook address: ${url}`);
  const graph = (await byTestId(desk, 'graph-url').textContent()).trim();
  check(graph === `${ENV.base}/api/webhook/graph/m365-work`, `the Graph notification address: ${graph}`);
  await byTestId(desk, 'secrets-done').click();
  await settled(desk, 'M365 work');
  check(!(await desk.content()).includes(key), 'the key is gone from the page once its dialog is closed');

  step('5. Power Automate posts a created event: it lands in Xandikos\' Shared');
  const sent = await hook('created', 'm365-work', key, graphEvent('AAMkAD-UI-1', KEPT, '2026-12-01T08:00:00Z'));
  check(sent.status === 202, `the webhook answered ${sent.status}: ${sent.text}`);
  const entry = await applied(desk, sent.json.request_id);
  check(entry.outcome === 'create', `the webhook created the event: ${JSON.stringify(entry)}`);
  check(await pushedSummary(desk, 'm365-work') === KEPT, 'the pushed event is on Xandikos');
  await route(desk, '#/sources', 'Webhooks in');
  const sourceRow = byTestId(desk, 'source-row').filter({ hasText: 'M365 work' });
  await sourceRow.filter({ hasText: '1 in the calendar' }).waitFor();
  await sourceRow.getByTestId('source-link').click();
  await settled(desk, 'M365 work');
  await desk.locator('[data-testid="event-row"] [data-status="active"]').waitFor();
  await desk.locator('[data-testid="history-row"] [data-action="create"]').waitFor();
  await byTestId(desk, 'history-row').first().getByTestId('open-inbox').click();
  await byTestId(desk, 'inbox-state').filter({ hasText: 'Applied' }).waitFor();
  await desk.keyboard.press('Escape');
  await byTestId(desk, 'inbox-dialog').waitFor({ state: 'detached' });
  await byTestId(desk, 'source-history-filter').selectOption('dead');
  await byTestId(desk, 'source-history-empty').waitFor();
  await byTestId(desk, 'source-history-filter').selectOption('');
  await byTestId(desk, 'history-row').first().waitFor();
  await shoot(desk, 'desktop-source');

  step('5. a second source ("Ask me") pushes the same meeting: a conflict between sources');
  const other = await desk.evaluate(async () => {
    const { csrf } = await fetch('/api/session').then((r) => r.json());
    const [first] = await fetch('/api/sources').then((r) => r.json());
    const r = await fetch('/api/sources', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ id: 'm365-other', account_id: first.account_id, calendar: first.calendar, conflict: 'manual' }),
    });
    return { status: r.status, body: await r.json() };
  });
  check(other.status === 201, `the second source was added: ${JSON.stringify(other)}`);
  const parked = await hook('created', 'm365-other', other.body.key, graphEvent('AAMkAD-UI-2', 'Planning (from the other tenant)', '2026-12-02T08:00:00Z'));
  check(parked.status === 202, `the second webhook answered ${parked.status}: ${parked.text}`);
  check((await applied(desk, parked.json.request_id)).outcome === 'conflict', 'the second webhook is parked as a conflict');
  await route(desk, '#/sources', 'Webhooks in');
  const conflict = byTestId(desk, 'ingest-conflict-row').filter({ hasText: 'm365-other' });
  await conflict.waitFor();
  await desk.locator('#nav-sources-count:not([hidden])').filter({ hasText: '1' }).waitFor();
  await shoot(desk, 'desktop-sources');
  await route(phone, '#/sources', 'Webhooks in');
  await byTestId(phone, 'ingest-conflict-row').waitFor();
  await shoot(phone, 'phone-sources');

  step('5. "Keep existing": the calendar keeps M365 work\'s version');
  const [resolved] = await Promise.all([
    desk.waitForResponse((r) => /\/api\/ingest\/conflicts\/\d+\/resolve$/.test(new URL(r.url()).pathname)),
    conflict.getByTestId('keep-existing').click(),
  ]);
  check(resolved.status() === 202, `resolving answered ${resolved.status()}`);
  await byTestId(desk, 'ingest-conflicts-empty').waitFor();
  await until('the header count of conflicts between sources to go away', () => desk.locator('#nav-sources-count').isHidden());
  await applied(desk, parked.json.request_id);
  check(await pushedSummary(desk, 'm365-work') === KEPT, 'Xandikos still shows M365 work\'s version');

  step('5. a new key: the old one is refused, the new one accepted');
  await byTestId(desk, 'source-row').filter({ hasText: 'M365 work' }).getByTestId('source-link').click();
  await settled(desk, 'M365 work');
  await byTestId(desk, 'rotate-key').click();
  await byTestId(desk, 'confirm-ok').click();
  await byTestId(desk, 'source-secrets').waitFor();
  const newKey = (await byTestId(desk, 'source-key').textContent()).trim();
  check(/^cps_/.test(newKey) && newKey !== key, 'a different key');
  await byTestId(desk, 'secrets-done').click();
  await byTestId(desk, 'source-secrets').waitFor({ state: 'detached' });
  const update = graphEvent('AAMkAD-UI-1', KEPT, '2026-12-03T08:00:00Z');
  check((await hook('updated', 'm365-work', key, update)).status === 401, 'the old key is refused');
  const fresh = await hook('updated', 'm365-work', newKey, update);
  check(fresh.status === 202, `the new key is accepted: ${fresh.status} ${fresh.text}`);
  await applied(desk, fresh.json.request_id);
  await route(phone, '#/sources/m365-work', 'M365 work');
  await byTestId(phone, 'event-row').first().waitFor();
  await shoot(phone, 'phone-source');

  step('5. delete the second source');
  await route(desk, '#/sources/m365-other', 'm365-other');
  await byTestId(desk, 'delete-source').click();
  await byTestId(desk, 'confirm-ok').click();
  await settled(desk, 'Webhooks in');
  await until('one source left', async () => (await byTestId(desk, 'source-row').count()) === 1);
}

/** Screenshots of every page at both widths, once there is something to show. */
async function tour(page, prefix, ids) {
  const stops = [
    ['dashboard', '#/dashboard', 'Dashboard', 'dashboard-tiles'],
    ['accounts', '#/accounts', 'Accounts', 'accounts-table'],
    ['jobs', '#/jobs', 'Sync jobs', 'jobs-table'],
    ['job', `#/jobs/${ids.copyJob}`, 'Copy alice to Xandikos', 'run-history'],
    ['run', `#/runs/${ids.copyRun}`, `Run #${ids.copyRun}`, 'report-card'],
    ['dead-letters', '#/dead-letters', 'Dead letters', null],
    ['settings', '#/settings', 'Settings', 'version'],
  ];
  for (const [name, hash, title, ready] of stops) {
    if (prefix === 'desktop' && name === 'run') continue; // taken in scenario 2
    await route(page, hash, title);
    if (ready) await byTestId(page, ready).first().waitFor();
    await shoot(page, `${prefix}-${name}`);
  }
}

async function phoneExtras(phone, ids) {
  step('6. phone: the menu, the account test, the job form, the preview');
  await route(phone, '#/dashboard', 'Dashboard');
  await byTestId(phone, 'menu-toggle').click();
  await byTestId(phone, 'nav-accounts').waitFor();
  await shoot(phone, 'phone-menu');
  await byTestId(phone, 'nav-accounts').click();
  await settled(phone, 'Accounts');
  await accountRow(phone, 'Radicale alice').getByTestId('test-account').click();
  const result = await testResult(phone);
  check(await result.getAttribute('data-ok') === 'true', 'the phone\'s connection test passes');
  await shoot(phone, 'phone-account-test');
  await closeTest(phone);
  await route(phone, '#/accounts/new', 'Add an account');
  await shoot(phone, 'phone-account-form');
  await route(phone, '#/jobs/new', 'New sync job');
  await byTestId(phone, 'collections-status').filter({ hasText: /A has/ }).waitFor({ timeout: T.test });
  await shoot(phone, 'phone-job-form');
  await route(phone, `#/jobs/${ids.copyJob}`, 'Copy alice to Xandikos');
  await startFromJobPage(phone, true);
  await byTestId(phone, 'preview').locator('[data-testid="report"]').waitFor({ timeout: T.run });
  await shoot(phone, 'phone-job-preview');
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function artefacts() {
  await mkdir(ENV.output, { recursive: true });
  for (const [name, page] of Object.entries(pages)) {
    try {
      await page.screenshot({ path: path.join(ENV.output, `failure-${name}.png`), timeout: 5_000 });
      await writeFile(path.join(ENV.output, `failure-${name}.html`), await page.content());
      console.error(`  ${name} was at ${page.url()}; screenshot and HTML in ${ENV.output}`);
    } catch (err) {
      console.error(`  no artefacts of ${name}: ${err.message}`);
    }
  }
}

async function main() {
  const watchdog = setTimeout(() => {
    console.error(`run.mjs: still running after ${T.total / 1000} s: giving up`);
    process.exit(3);
  }, T.total);
  watchdog.unref();
  await mkdir(ENV.screenshots, { recursive: true });
  step(`calport at ${ENV.base}; Chromium ${ENV.chromium}; screenshots to ${ENV.screenshots}`);
  const browser = await chromium.launch({
    executablePath: ENV.chromium,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  let failed = null;
  const ids = {};
  try {
    const desktop = await browser.newContext({ viewport: DESKTOP, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'UTC' });
    const mobile = await browser.newContext({
      viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'en-GB', timezoneId: 'UTC',
    });
    const desk = await desktop.newPage();
    const phone = await mobile.newPage();
    watch(desk, 'desktop');
    watch(phone, 'phone');
    let loads = 0;
    desk.on('load', () => { loads += 1; });

    await scenarioSignIn(desk, phone);
    await scenarioCopyJob(desk, phone, ids);
    await scenarioPauseResume(desk, ids);
    await scenarioConflict(desk, phone, ids);
    await scenarioSources(desk, phone);
    check(loads === 1, `the desktop page loaded once and never again (${loads} loads)`);
    check(await desk.evaluate(() => window.__noReload) === 'still the first page load', 'the window marker survived every scenario');

    step('6. screenshots of every page, desktop and phone');
    await tour(desk, 'desktop', ids);
    await tour(phone, 'phone', ids);
    await phoneExtras(phone, ids);
    if (problems.length) throw new Error(`problems seen in the pages:\n  ${problems.join('\n  ')}`);
  } catch (err) {
    failed = err;
    console.error(`\nFAILED: ${err.stack || err.message}`);
    if (problems.length) console.error(`problems seen in the pages:\n  ${problems.join('\n  ')}`);
    await artefacts();
  } finally {
    await browser.close().catch(() => {});
  }
  if (failed) process.exit(1);
  step('all UI scenarios passed');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

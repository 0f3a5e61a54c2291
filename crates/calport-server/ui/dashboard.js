// Dashboard: workers, runs in progress (live), last run of each job, what needs attention.

import {
  h, fill, get, post, card, pageHeader, emptyState, runBadge, isActive, timeAgo, plural,
  followRun, toast, toastError, refreshPage, table, row, directionText, directionArrow, badge,
} from './lib.js';
import { progressView, runSummary } from './runs.js';

function tile(label, value, { href, tone, testid, hint } = {}) {
  const inner = [
    h('span', { class: 'tile-value', 'data-testid': testid ? `${testid}-value` : null }, value),
    h('span', { class: 'tile-label' }, label),
    hint ? h('span', { class: 'tile-hint' }, hint) : null,
  ];
  return href
    ? h('a', { class: `tile tile-link ${tone ? `tile-${tone}` : ''}`, href, 'data-testid': testid }, inner)
    : h('div', { class: `tile ${tone ? `tile-${tone}` : ''}`, 'data-testid': testid }, inner);
}

export async function dashboardPage(root) {
  const [worker, jobs, accounts, conflicts, dead] = await Promise.all([
    get('/api/worker/status'),
    get('/api/sync-jobs'),
    get('/api/accounts'),
    get('/api/conflicts'),
    get('/api/dead-letters?state=open'),
  ]);
  const stops = [];
  const openConflicts = conflicts.filter((c) => !c.resolution);
  const jobName = (id) => (jobs.find((j) => j.id === id) || {}).name || `Job ${id}`;

  const syncAll = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'sync-all', disabled: !jobs.length }, 'Sync all now');
  syncAll.addEventListener('click', async () => {
    syncAll.disabled = true;
    try {
      const r = await post('/api/sync');
      const n = r.queued.length;
      toast(n ? `${plural(n, 'run')} queued.` : 'Every enabled job is already running.');
      refreshPage();
    } catch (err) {
      toastError(err);
      syncAll.disabled = false;
    }
  });

  const parts = [pageHeader('Dashboard', { subtitle: 'What calport is doing, and what needs you.', actions: jobs.length ? syncAll : null })];

  // Getting started.
  if (!accounts.length) {
    parts.push(card(null, emptyState({
      title: 'Add your first account',
      text: 'calport syncs calendars, task lists and address books between two CalDAV/CardDAV accounts. Start by adding the first one: its server address, user name and password.',
      action: h('a', { class: 'btn btn-primary', href: '#/accounts/new', 'data-testid': 'empty-add-account' }, 'Add your first account'),
      testid: 'dashboard-empty-accounts',
    })));
  } else if (accounts.length < 2 && !jobs.length) {
    parts.push(card(null, emptyState({
      title: 'Add the second account',
      text: `You have ${accounts[0].name}. A sync job needs two accounts (or two collections of one account).`,
      action: h('div', { class: 'button-row center' },
        h('a', { class: 'btn btn-primary', href: '#/accounts/new', 'data-testid': 'empty-add-account' }, 'Add an account'),
        h('a', { class: 'btn', href: '#/jobs/new' }, 'Create a job anyway')),
      testid: 'dashboard-empty-second-account',
    })));
  } else if (!jobs.length) {
    parts.push(card(null, emptyState({
      title: 'Create your first sync job',
      text: 'A job copies or keeps in step the calendars and contacts of two accounts, on a schedule or when you start it.',
      action: h('a', { class: 'btn btn-primary', href: '#/jobs/new', 'data-testid': 'empty-add-job' }, 'Create a sync job'),
      testid: 'dashboard-empty-jobs',
    })));
  }

  // Tiles.
  const alive = worker.workers.length;
  parts.push(h('div', { class: 'tiles', 'data-testid': 'dashboard-tiles' },
    tile(alive === 1 ? 'worker online' : 'workers online', String(alive), {
      tone: alive ? 'ok' : 'bad', testid: 'tile-workers',
      hint: alive ? worker.workers.map((w) => `${w.hostname} (pid ${w.pid})`).join(', ') : 'Runs wait until a worker is up',
    }),
    tile('running', String(worker.running), { testid: 'tile-running', hint: worker.paused ? `${worker.paused} paused` : null }),
    tile('queued', String(worker.queued), { testid: 'tile-queued' }),
    tile(openConflicts.length === 1 ? 'open conflict' : 'open conflicts', String(openConflicts.length), {
      href: '#/conflicts', tone: openConflicts.length ? 'warn' : null, testid: 'tile-conflicts',
    }),
    tile(dead.length === 1 ? 'dead letter' : 'dead letters', String(dead.length), {
      href: '#/dead-letters', tone: dead.length ? 'bad' : null, testid: 'tile-dead-letters',
    })));

  // In progress (live).
  const activeJobs = jobs.filter((j) => isActive(j.last_run));
  if (activeJobs.length) {
    const list = h('ul', { class: 'live-runs', 'data-testid': 'live-runs' });
    for (const job of activeJobs) {
      const run = job.last_run;
      const view = progressView(run, { compact: true, testid: `live-run-${run.id}` });
      const state = h('span', {}, runBadge(run));
      list.append(h('li', { class: 'live-run', 'data-testid': 'live-run' },
        h('div', { class: 'live-run-head' },
          h('a', { href: `#/runs/${run.id}`, class: 'strong' }, job.name),
          state,
          run.dry_run ? badge('Preview', 'info') : null),
        view.el));
      stops.push(followRun(run.id, {
        onRun: (r) => {
          view.update(r);
          fill(state, runBadge(r));
        },
        onEnd: () => setTimeout(refreshPage, 600),
      }));
    }
    parts.push(card('In progress', list, { testid: 'in-progress' }));
  }

  // Attention: failed / partial runs, guard stops.
  const troubled = jobs.filter((j) => j.last_run && ['failed', 'partial_failure'].includes(j.last_run.state));
  const attention = [];
  for (const j of troubled) {
    const r = j.last_run;
    attention.push(h('li', { class: `attention-item attention-${r.state === 'failed' ? 'bad' : 'warn'}`, 'data-testid': 'attention-item' },
      h('div', {}, h('a', { href: `#/runs/${r.id}`, class: 'strong' }, j.name), ' ', runBadge(r), ' ', h('span', { class: 'muted small' }, timeAgo(r.finished_at || r.started_at))),
      h('p', { class: 'attention-text' }, r.error || (r.stats ? runSummary(r) : 'Some items need attention: open the run to see which and why.'))));
  }
  if (openConflicts.length) {
    attention.push(h('li', { class: 'attention-item attention-warn', 'data-testid': 'attention-conflicts' },
      h('a', { href: '#/conflicts', class: 'strong' }, `${plural(openConflicts.length, 'conflict')} waiting for your decision`),
      h('p', { class: 'attention-text' }, 'An item changed on both sides and the job is set to ask you. Pick which version to keep.')));
  }
  if (dead.length) {
    attention.push(h('li', { class: 'attention-item attention-bad', 'data-testid': 'attention-dead-letters' },
      h('a', { href: '#/dead-letters', class: 'strong' }, `${plural(dead.length, 'item')} kept failing and ${dead.length === 1 ? 'was' : 'were'} set aside`),
      h('p', { class: 'attention-text' }, 'Retry them after fixing the cause, or skip them for good.')));
  }
  if (!alive) {
    attention.unshift(h('li', { class: 'attention-item attention-bad', 'data-testid': 'attention-workers' },
      h('strong', {}, 'No worker is running'),
      h('p', { class: 'attention-text' }, 'Queued runs wait until a worker starts: run calport serve with the worker enabled, or calport worker.')));
  }
  if (jobs.length || attention.length) {
    parts.push(card('Needs attention', attention.length
      ? h('ul', { class: 'attention', 'data-testid': 'attention-list' }, attention)
      : h('p', { class: 'all-good', 'data-testid': 'attention-none' }, 'All good: no failed runs, conflicts or stuck items.'), { testid: 'attention' }));
  }

  // Jobs and their last run.
  if (jobs.length) {
    const columns = [{ label: 'Job' }, { label: 'Accounts' }, { label: 'Last run' }, { label: 'When' }, { label: 'Result' }];
    parts.push(card('Sync jobs', table(columns, jobs.map((j) => row(columns, [
      h('a', { href: `#/jobs/${j.id}`, class: 'strong', 'data-testid': 'job-link' }, j.name),
      h('span', { class: 'muted' }, accountName(accounts, j.a_account_id), ` ${directionArrow(j)} `, accountName(accounts, j.b_account_id)),
      runBadge(j.last_run, { 'data-testid': 'last-run-state' }),
      j.last_run ? h('a', { href: `#/runs/${j.last_run.id}` }, timeAgo(j.last_run.finished_at || j.last_run.started_at || j.last_run.queued_at)) : h('span', { class: 'muted' }, '–'),
      h('span', { class: 'muted' }, j.last_run ? (j.last_run.error || runSummary(j.last_run)) : (j.enabled ? 'Waiting for its first run' : 'Disabled')),
    ], { 'data-testid': 'dashboard-job-row' })), { testid: 'dashboard-jobs', caption: 'Sync jobs' }),
    { testid: 'dashboard-jobs-card', actions: h('a', { class: 'btn btn-small', href: '#/jobs' }, 'All jobs') }));
  }

  fill(root, parts);

  // Look for runs the schedule started meanwhile.
  const signature = (list) => list.map((j) => `${j.id}:${j.last_run ? `${j.last_run.id}:${isActive(j.last_run)}` : ''}`).join(',');
  const before = signature(jobs);
  const timer = setInterval(async () => {
    try {
      const now = await get('/api/sync-jobs');
      if (signature(now) !== before) refreshPage();
    } catch {
      // ignore
    }
  }, 15000);
  return () => {
    clearInterval(timer);
    stops.forEach((s) => s());
  };
}

function accountName(accounts, id) {
  const a = accounts.find((x) => x.id === id);
  return a ? a.name : `#${id}`;
}


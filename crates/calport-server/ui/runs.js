// Run detail: progress (live), stats, report (changes, failures), logs (live, filtered).
// Also the pieces other pages reuse: the progress block, the stats table, the report view.

import {
  h, fill, get, post, names, pageHeader, card, badge, runBadge, isActive, fmtDate, fmtDuration,
  fmtNumber, fmtClock, progressBar, setProgress, followRun, table, row, plural, toastError, toast,
  emptyState, timeAgo,
} from './lib.js';

// ---------------------------------------------------------------------------------------
// Progress block (overall + per collection), updated in place
// ---------------------------------------------------------------------------------------

/**
 * A live progress view of a run. `update(run)` moves the bars without re-creating them.
 * `compact`: only the overall bar and a one-line text (dashboard, job page).
 */
export function progressView(run, { compact = false, testid = `run-${run.id}` } = {}) {
  const overall = progressBar(0, { testid: `progress-${run.id}`, label: `Run ${run.id} progress` });
  const text = h('p', { class: 'progress-text', 'data-testid': `progress-text-${run.id}` });
  const list = h('ul', { class: 'collection-progress', 'data-testid': `collection-progress-${run.id}` });
  const bars = new Map();
  const el = h('div', { class: 'progress-view', 'data-testid': testid }, overall, text, compact ? null : list);

  function update(r) {
    const p = r.progress || {};
    const finished = !isActive(r);
    const percent = r.state === 'completed' ? 100 : p.percent || 0;
    setProgress(overall, percent, finished);
    overall.classList.toggle('is-indeterminate', r.state === 'running' && !p.collections_total && !(p.collections || []).length);
    overall.classList.toggle('is-paused', r.state === 'paused');
    overall.classList.toggle('is-failed', r.state === 'failed');
    overall.classList.toggle('is-warn', r.state === 'partial_failure');
    const pairs = Math.max(p.collections_total || 0, (p.collections || []).length);
    const doneCount = (p.collections || []).filter((c) => c.finished).length;
    let line;
    if (r.state === 'queued') line = 'Waiting for a worker…';
    else if (r.state === 'paused') line = `Paused at ${percent.toFixed(0)} %: resume to continue where it stopped.`;
    else if (r.state === 'running' && !pairs) line = 'Looking at both accounts…';
    else {
      line = `${percent.toFixed(percent % 1 ? 1 : 0)} %`;
      if (p.items_total) line += ` · ${fmtNumber(p.items_done)} of ${fmtNumber(p.items_total)} items`;
      if (pairs) line += ` · ${doneCount} of ${plural(pairs, 'collection')} done`;
    }
    text.textContent = line;
    if (compact) return;
    for (const c of p.collections || []) {
      const key = c.label || '(collection)';
      let entry = bars.get(key);
      if (!entry) {
        const bar = progressBar(0, { label: `${key} progress`, testid: `collection-bar` });
        const count = h('span', { class: 'collection-count' });
        const li = h('li', { class: 'collection-row' },
          h('span', { class: 'collection-label' }, key), count, bar);
        list.append(li);
        entry = { bar, count, li };
        bars.set(key, entry);
      }
      const pct = c.finished ? 100 : c.total ? (100 * c.done) / c.total : 0;
      setProgress(entry.bar, pct, c.finished);
      entry.count.textContent = c.finished
        ? (c.total ? `${fmtNumber(c.total)} done` : 'in step')
        : `${fmtNumber(c.done)} / ${fmtNumber(c.total)}`;
      entry.li.classList.toggle('is-finished', c.finished);
    }
  }
  update(run);
  return { el, update };
}

// ---------------------------------------------------------------------------------------
// Stats table
// ---------------------------------------------------------------------------------------

const OUTCOMES = ['created', 'updated', 'deleted', 'unchanged', 'failed', 'conflicts'];

export function statsTable(stats) {
  if (!stats) {
    return h('p', { class: 'muted', 'data-testid': 'stats-empty' }, 'Counts appear when the run finishes or pauses.');
  }
  const columns = [{ label: 'Kind' }, ...OUTCOMES.map((o) => ({ label: o[0].toUpperCase() + o.slice(1), cls: 'num' }))];
  const rows = [['events', 'Events & tasks'], ['contacts', 'Contacts']].map(([key, label]) => {
    const counts = stats[key] || {};
    return row(columns, [
      h('strong', {}, label),
      ...OUTCOMES.map((o) => h('span', {
        'data-testid': `stat-${key}-${o}`,
        class: counts[o] && (o === 'failed' || o === 'conflicts') ? `stat-${o === 'failed' ? 'bad' : 'warn'}` : '',
      }, fmtNumber(counts[o] || 0))),
    ]);
  });
  return h('div', {},
    table(columns, rows, { testid: 'stats-table', caption: 'Items by kind and outcome' }),
    h('p', { class: 'muted small' },
      `${plural(stats.collections || 0, 'collection pair')} handled`,
      stats.collections_created ? ` · ${plural(stats.collections_created, 'collection')} created` : ''));
}

/** Items per second over the run. */
export function rate(run) {
  const seconds = run.duration_seconds;
  if (!seconds || seconds <= 0) return null;
  let items = 0;
  if (run.stats) {
    for (const k of ['events', 'contacts']) {
      const c = run.stats[k] || {};
      items += (c.created || 0) + (c.updated || 0) + (c.deleted || 0) + (c.unchanged || 0) + (c.failed || 0);
    }
  } else items = (run.progress && run.progress.items_done) || 0;
  return items / seconds;
}

// ---------------------------------------------------------------------------------------
// Report: per pair changes and failures
// ---------------------------------------------------------------------------------------

function actionTone(action) {
  const a = action.toLowerCase();
  if (a.includes('delete')) return 'bad';
  if (a.includes('conflict') || a.includes('park') || a.includes('skip')) return 'warn';
  if (a.includes('create') || a.includes('keep both')) return 'ok';
  return 'info';
}

const SHOW_FIRST = 100;

function changesTable(changes) {
  const columns = [{ label: 'Action' }, { label: 'Item' }, { label: 'Why' }];
  const body = h('tbody', {});
  const renderRows = (n) => fill(body, changes.slice(0, n).map((c) => row(columns, [
    badge(c.action, actionTone(c.action)),
    h('span', { title: c.uid }, c.summary || h('code', {}, c.uid)),
    h('span', { class: 'muted' }, c.why),
  ], { 'data-testid': 'change-row' })));
  renderRows(SHOW_FIRST);
  const wrap = h('div', { class: 'table-wrap' },
    h('table', { class: 'table table-compact', 'data-testid': 'changes-table' },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      body));
  const more = changes.length > SHOW_FIRST
    ? h('button', {
      type: 'button', class: 'btn btn-small',
      onclick: () => { renderRows(changes.length); more.remove(); },
    }, `Show all ${fmtNumber(changes.length)} changes`)
    : null;
  return h('div', {}, wrap, more);
}

function failuresList(failures) {
  return h('ul', { class: 'failures', 'data-testid': 'failures' }, failures.map((f) => h('li', { 'data-testid': 'failure' },
    h('div', { class: 'failure-item' }, f.uid ? h('code', {}, f.uid) : null, h('span', { class: 'muted small' }, f.source_href)),
    h('div', { class: 'failure-reason' }, f.reason))));
}

function syncPair(pair, { preview }) {
  const s = pair.stats || {};
  const counts = [];
  const add = (n, text) => { if (n) counts.push(`${fmtNumber(n)} ${text}`); };
  add(s.created_on_b, 'new on B');
  add(s.updated_on_b, 'updated on B');
  add(s.deleted_on_b, 'deleted on B');
  add(s.created_on_a, 'new on A');
  add(s.updated_on_a, 'updated on A');
  add(s.deleted_on_a, 'deleted on A');
  add(s.conflicts, 'conflicts parked');
  add(s.failed, 'failed');
  const changes = pair.changes || [];
  const failures = pair.failures || [];
  return h('article', { class: 'pair', 'data-testid': 'report-pair' },
    h('div', { class: 'pair-head' },
      h('h3', {}, h('span', { class: 'side' }, 'A'), ` ${pair.a} `, h('span', { 'aria-hidden': 'true' }, '⇄'), h('span', { class: 'sr-only' }, 'with'), ' ', h('span', { class: 'side' }, 'B'), ` ${pair.b}`),
      badge(pair.kind === 'addressbook' ? 'Contacts' : 'Calendar', 'neutral')),
    h('p', { class: 'muted small' },
      counts.length ? counts.join(' · ') : (preview ? 'Nothing to change' : 'Nothing changed'),
      s.unchanged ? ` · ${fmtNumber(s.unchanged)} already in step` : ''),
    pair.guard ? h('p', { class: 'notice notice-warn', role: 'note' },
      h('strong', {}, 'Stopped by the mass-delete guard: '),
      `the plan deletes ${pair.guard.deletes} of ${pair.guard.known} items on side ${String(pair.guard.side).toUpperCase()}`,
      pair.guard.other_side_emptied ? ' because the other side is now empty' : '',
      '. Nothing was written for this pair.') : null,
    failures.length ? h('div', {}, h('h4', {}, `Failed items (${failures.length})`), failuresList(failures)) : null,
    changes.length ? h('details', { class: 'changes', open: preview || changes.length <= 20 },
      h('summary', {}, preview ? `Planned changes (${fmtNumber(changes.length)})` : `Changes (${fmtNumber(changes.length)})`),
      changesTable(changes)) : null);
}

function migrationPair(c) {
  const s = c.stats || {};
  const mapping = {
    paired: 'existing collection', created: 'created by this run', would_create: 'will be created', skipped: 'skipped', failed: 'failed',
  }[c.mapping] || c.mapping;
  return h('article', { class: 'pair', 'data-testid': 'report-pair' },
    h('div', { class: 'pair-head' },
      h('h3', {}, h('span', { class: 'side' }, 'A'), ` ${c.source} → `, h('span', { class: 'side' }, 'B'), ` ${c.destination || c.source}`),
      badge(mapping, c.mapping === 'failed' ? 'bad' : c.mapping === 'skipped' ? 'warn' : 'neutral')),
    c.note ? h('p', { class: 'notice notice-warn' }, c.note) : null,
    h('p', { class: 'muted small' },
      [`${fmtNumber(s.created || 0)} created`, `${fmtNumber(s.updated || 0)} updated`, `${fmtNumber(s.unchanged || 0)} unchanged`,
        `${fmtNumber(s.failed || 0)} failed`, s.verified ? `${fmtNumber(s.verified)} verified` : null,
        s.corrupted ? `${fmtNumber(s.corrupted)} stored wrongly` : null].filter(Boolean).join(' · ')),
    (c.failures || []).length ? h('div', {}, h('h4', {}, `Failed items (${c.failures.length})`), failuresList(c.failures)) : null,
    (c.corrupted || []).length ? h('div', {}, h('h4', {}, 'Stored differently by the destination'),
      h('ul', { class: 'failures' }, c.corrupted.map((x) => h('li', {}, h('code', {}, x.uid),
        h('ul', { class: 'diff-list' }, x.differences.map((d) => h('li', {}, d))))))) : null,
    (c.workarounds || []).length ? h('details', {}, h('summary', {}, `Workarounds applied (${c.workarounds.length})`),
      h('ul', {}, c.workarounds.map((w) => h('li', {}, h('code', {}, w.uid), ': ', w.change)))) : null);
}

/** Renders a run report (sync: `pairs`; migration: `collections`). */
export function reportView(report, { preview = false } = {}) {
  const pairs = report.pairs || [];
  const collections = report.collections || [];
  const parts = [];
  if (report.cancelled) parts.push(h('p', { class: 'notice notice-warn' }, 'The run was stopped before it finished.'));
  if ((report.collections_created || []).length) {
    parts.push(h('div', { class: 'notice', 'data-testid': 'collections-created' },
      h('strong', {}, preview ? 'New collections' : 'Collections created'),
      h('ul', { class: 'plain' }, report.collections_created.map((c) => h('li', {}, c)))));
  }
  if ((report.skipped || []).length) {
    parts.push(h('details', { class: 'notice' }, h('summary', {}, `Collections not synced (${report.skipped.length})`),
      h('ul', {}, report.skipped.map((s) => h('li', {}, s)))));
  }
  if (!pairs.length && !collections.length) {
    parts.push(emptyState({ title: 'No collections matched', text: 'Check what the job syncs and how collections are paired.' }));
  }
  if (preview && pairs.length) {
    const total = pairs.reduce((n, p) => n + (p.changes || []).filter((c) => !/unchanged/i.test(c.action)).length, 0);
    parts.unshift(h('p', { class: 'lead', 'data-testid': 'preview-total' },
      total ? `${plural(total, 'change')} would be made. Nothing has been written.` : 'Both sides are in step: nothing would change.'));
  }
  parts.push(...pairs.map((p) => syncPair(p, { preview })));
  parts.push(...collections.map(migrationPair));
  return h('div', { class: 'report', 'data-testid': 'report' }, parts);
}

/** All failures of a report, flattened. */
export function reportFailures(report) {
  const out = [];
  for (const p of report.pairs || []) for (const f of p.failures || []) out.push({ ...f, pair: `${p.a} ⇄ ${p.b}` });
  for (const c of report.collections || []) for (const f of c.failures || []) out.push({ ...f, pair: c.source });
  return out;
}

// ---------------------------------------------------------------------------------------
// Run controls (the job's active run)
// ---------------------------------------------------------------------------------------

export function runControls(jobId, run, { onChange } = {}) {
  const act = async (what, button) => {
    button.disabled = true;
    try {
      const r = await post(`/api/sync-jobs/${jobId}/${what}`);
      toast({ pause: 'Pausing at the next item…', resume: 'Resumed.', cancel: 'Cancelling…' }[what]);
      if (onChange) onChange(r);
    } catch (err) {
      toastError(err);
    } finally {
      button.disabled = false;
    }
  };
  const mk = (what, label, tone, testid) => {
    const b = h('button', { type: 'button', class: `btn ${tone ? `btn-${tone}` : ''}`, 'data-testid': testid }, label);
    b.addEventListener('click', () => act(what, b));
    return b;
  };
  const wrap = h('div', { class: 'button-row', 'data-testid': 'run-controls' });
  const update = (r) => {
    const parts = [];
    if (r && (r.state === 'running' || r.state === 'queued') && r.requested !== 'pause') parts.push(mk('pause', 'Pause', null, 'pause-run'));
    if (r && r.state === 'paused') parts.push(mk('resume', 'Resume', 'primary', 'resume-run'));
    if (r && isActive(r) && r.requested !== 'cancel') parts.push(mk('cancel', 'Cancel run', 'danger-ghost', 'cancel-run'));
    fill(wrap, parts);
  };
  update(run);
  return { el: wrap, update };
}

// ---------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------

const LEVELS = ['debug', 'info', 'warn', 'error'];

function logsPanel(runId) {
  const levelId = `log-level-${runId}`;
  const searchId = `log-search-${runId}`;
  const level = h('select', { id: levelId, 'data-testid': 'log-level' },
    h('option', { value: 'debug' }, 'All levels'),
    h('option', { value: 'info' }, 'Info and above'),
    h('option', { value: 'warn' }, 'Warnings and errors'),
    h('option', { value: 'error' }, 'Errors only'));
  const search = h('input', { type: 'search', id: searchId, placeholder: 'Search the log', 'data-testid': 'log-search', autocomplete: 'off' });
  const list = h('ol', { class: 'log', 'data-testid': 'logs', 'aria-live': 'off' });
  const status = h('p', { class: 'muted small', 'data-testid': 'log-status' });
  const follow = h('input', { type: 'checkbox', id: `log-follow-${runId}`, checked: true, 'data-testid': 'log-follow' });
  const shown = new Set();
  let loadToken = 0;

  const matches = (line) => {
    const min = LEVELS.indexOf(level.value);
    const idx = LEVELS.indexOf(line.level);
    if (idx >= 0 && idx < min) return false;
    const q = search.value.trim().toLowerCase();
    return !q || line.message.toLowerCase().includes(q);
  };

  const lineEl = (line) => h('li', { class: `log-line log-${line.level}`, 'data-testid': 'log-line', 'data-id': line.id },
    h('time', { class: 'log-time', datetime: new Date(line.at).toISOString(), title: fmtDate(line.at) }, fmtClock(line.at)),
    h('span', { class: 'log-level' }, line.level),
    h('span', { class: 'log-msg' }, line.message));

  const updateStatus = () => {
    status.textContent = shown.size ? `${plural(shown.size, 'line')} shown` : (search.value || level.value !== 'debug' ? 'No lines match.' : 'No log lines yet.');
  };

  function add(line) {
    if (shown.has(line.id) || !matches(line)) return;
    shown.add(line.id);
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(lineEl(line));
    if (follow.checked && nearBottom) list.scrollTop = list.scrollHeight;
    updateStatus();
  }

  async function load() {
    loadToken += 1;
    const token = loadToken;
    shown.clear();
    list.replaceChildren();
    status.textContent = 'Loading…';
    let after = null;
    try {
      for (let page = 0; page < 10; page += 1) {
        const params = new URLSearchParams({ level: level.value, limit: '1000' });
        if (search.value.trim()) params.set('q', search.value.trim());
        if (after) params.set('after', String(after));
        const res = await get(`/api/runs/${runId}/logs?${params}`);
        if (token !== loadToken) return;
        const frag = document.createDocumentFragment();
        for (const line of res.lines) {
          if (!shown.has(line.id)) {
            shown.add(line.id);
            frag.append(lineEl(line));
          }
        }
        list.append(frag);
        if (!res.next_after) break;
        after = res.next_after;
      }
      if (follow.checked) list.scrollTop = list.scrollHeight;
      updateStatus();
    } catch (err) {
      status.textContent = `Cannot load the log: ${err.message}`;
    }
  }

  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  });
  level.addEventListener('change', load);

  const el = card('Log', [
    h('div', { class: 'toolbar' },
      h('div', { class: 'field-inline' }, h('label', { for: levelId }, 'Level'), level),
      h('div', { class: 'field-inline grow' }, h('label', { for: searchId }, 'Search'), search),
      h('div', { class: 'check check-inline' }, follow, h('label', { for: follow.id }, 'Follow new lines'))),
    list,
    status,
  ], { testid: 'log-panel' });
  return { el, add, load };
}

// ---------------------------------------------------------------------------------------
// The run page
// ---------------------------------------------------------------------------------------

export async function runPage(root, { params }) {
  const [id] = params;
  const run = await get(`/api/runs/${id}`);
  let job = null;
  try {
    job = await get(`/api/sync-jobs/${run.job_id}`);
  } catch {
    // the job may be gone; its runs too, normally
  }
  const jobName = job ? job.name : `Job ${run.job_id}`;

  const summary = h('dl', { class: 'facts', 'data-testid': 'run-summary' });
  const stateSlot = h('span', { 'data-testid': 'run-state' });
  const errorSlot = h('div', {});
  const progress = progressView(run);
  const controls = runControls(run.job_id, run, { onChange: (r) => update(r) });
  const statsSlot = h('div', { 'data-testid': 'run-stats' });
  const reportSlot = h('div', {});
  const failuresSlot = h('div', {});
  const logs = logsPanel(id);

  function fact(label, value, testid) {
    return [h('dt', {}, label), h('dd', { 'data-testid': testid }, value)];
  }

  function update(r) {
    fill(stateSlot, runBadge(r, { 'data-testid': 'run-state-badge' }), r.dry_run ? badge('Preview only', 'info') : null);
    const rt = rate(r);
    fill(summary,
      fact('Status', stateSlot),
      fact('Started by', r.trigger === 'schedule' ? 'The schedule' : r.trigger === 'api' ? 'Hand (web or API)' : r.trigger),
      fact('Queued', fmtDate(r.queued_at)),
      fact('Started', fmtDate(r.started_at)),
      fact('Finished', r.finished_at ? fmtDate(r.finished_at) : isActive(r) ? 'Not yet' : '–'),
      fact('Duration', fmtDuration(r.duration_seconds), 'run-duration'),
      fact('Rate', rt === null ? '–' : `${rt >= 10 ? fmtNumber(Math.round(rt)) : rt.toFixed(1)} items/s`, 'run-rate'),
      r.worker ? fact('Worker', h('code', {}, r.worker)) : null,
      r.attempts > 1 ? fact('Attempts', String(r.attempts)) : null);
    fill(errorSlot, r.error ? h('div', { class: 'notice notice-bad', role: 'alert', 'data-testid': 'run-error' }, h('strong', {}, 'Error: '), r.error) : null);
    progress.update(r);
    controls.update(r);
    fill(statsSlot, statsTable(r.stats));
  }

  async function loadReport(r) {
    if (isActive(r) && r.state !== 'paused') {
      fill(reportSlot, null);
      return;
    }
    try {
      const report = await get(`/api/runs/${id}/report`);
      const failures = reportFailures(report);
      fill(failuresSlot, failures.length ? card(`Failed items (${failures.length})`, [
        h('p', { class: 'muted' }, 'These items were not written. The reason is the server\'s own answer where it gave one. An item that fails 5 runs in a row moves to Dead letters.'),
        table([{ label: 'Collection' }, { label: 'Item' }, { label: 'Reason' }],
          failures.map((f) => row([{ label: 'Collection' }, { label: 'Item' }, { label: 'Reason' }], [
            f.pair, h('span', {}, f.uid ? h('code', {}, f.uid) : null, h('div', { class: 'muted small' }, f.source_href)), f.reason,
          ], { 'data-testid': 'failed-item' })), { testid: 'failed-items' }),
      ], { testid: 'failed-items-card' }) : null);
      fill(reportSlot, card(r.dry_run ? 'Preview: what this run would change' : 'What happened, per collection', reportView(report, { preview: r.dry_run }), { testid: 'report-card' }));
    } catch (err) {
      if (err.status === 404) fill(reportSlot, null);
      else fill(reportSlot, h('p', { class: 'muted' }, `No report: ${err.message}`));
    }
  }

  fill(root,
    pageHeader(`Run #${run.id}`, {
      back: { href: `#/jobs/${run.job_id}`, label: jobName },
      subtitle: h('span', {}, 'Of job ', h('a', { href: `#/jobs/${run.job_id}` }, jobName)),
      actions: controls.el,
    }),
    errorSlot,
    h('div', { class: 'grid-2' },
      card('Summary', summary, { testid: 'run-summary-card' }),
      card('Progress', progress.el, { testid: 'run-progress-card' })),
    card('Counts', statsSlot, { testid: 'run-stats-card' }),
    failuresSlot,
    reportSlot,
    logs.el);
  update(run);
  loadReport(run);
  await logs.load();

  let stop = null;
  if (isActive(run)) {
    stop = followRun(id, {
      onRun: (r) => update(r),
      onLog: (line) => logs.add(line),
      onEnd: async () => {
        try {
          const r = await get(`/api/runs/${id}`);
          update(r);
          loadReport(r);
          const s = RUN_END_TEXT[r.state];
          if (s) toast(s, r.state === 'completed' ? 'ok' : r.state === 'failed' ? 'bad' : 'warn');
        } catch (err) {
          toastError(err);
        }
      },
    });
  }
  return () => stop && stop();
}

const RUN_END_TEXT = {
  completed: 'The run finished.',
  partial_failure: 'The run finished; some items need attention.',
  failed: 'The run failed.',
  cancelled: 'The run was cancelled.',
};

/** A compact list of runs (job history). */
export function runsTable(runs, { testid = 'runs-table' } = {}) {
  const columns = [{ label: 'Run' }, { label: 'Outcome' }, { label: 'Started' }, { label: 'Duration' }, { label: 'Changes' }];
  return table(columns, runs.map((r) => row(columns, [
    h('a', { href: `#/runs/${r.id}`, 'data-testid': 'run-link' }, `#${r.id}`),
    h('span', { class: 'badges' }, runBadge(r), r.dry_run ? badge('Preview', 'info') : null, r.trigger === 'schedule' ? badge('Scheduled', 'neutral') : null),
    timeAgo(r.started_at || r.queued_at),
    fmtDuration(r.duration_seconds),
    h('span', { class: 'muted' }, r.error ? r.error : isActive(r) ? `${(r.progress && r.progress.percent) || 0} %` : summaryOf(r)),
  ], { 'data-testid': 'run-row', 'data-run-id': r.id })), { testid, caption: 'Runs' });
}

function summaryOf(r) {
  if (!r.stats) return '–';
  const parts = [];
  for (const [k, label] of [['events', 'event'], ['contacts', 'contact']]) {
    const c = r.stats[k] || {};
    const changed = (c.created || 0) + (c.updated || 0) + (c.deleted || 0);
    if (changed) parts.push(`${plural(changed, label)} ${r.dry_run ? 'to change' : 'changed'}`);
    if (c.failed) parts.push(`${fmtNumber(c.failed)} failed`);
    if (c.conflicts) parts.push(plural(c.conflicts, 'conflict'));
  }
  return parts.length ? parts.join(' · ') : (r.dry_run ? 'In step: nothing would change' : 'In step: nothing to change');
}

export { summaryOf as runSummary, names };

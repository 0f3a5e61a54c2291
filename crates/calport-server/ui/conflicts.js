// Conflicts (both versions side by side, a line diff, keep A / B / both, bulk) and dead
// letters (reason, payload, retry / skip).

import {
  h, fill, get, post, card, pageHeader, emptyState, table, row, timeAgo, fmtDate, badge,
  toast, toastError, refreshPage, plural, names, uid,
} from './lib.js';

// ---------------------------------------------------------------------------------------
// iCalendar / vCard text
// ---------------------------------------------------------------------------------------

/** Content lines with folded continuation lines joined (RFC 5545 §3.1). */
export function unfold(text) {
  const out = [];
  for (const raw of String(text || '').split(/\r?\n/)) {
    if ((raw.startsWith(' ') || raw.startsWith('\t')) && out.length) out[out.length - 1] += raw.slice(1);
    else out.push(raw);
  }
  while (out.length && out[out.length - 1] === '') out.pop();
  return out;
}

const propName = (line) => line.split(/[;:]/, 1)[0].toUpperCase();

/**
 * The content lines with the properties of each component sorted by name (their order
 * carries no meaning in iCalendar / vCard), so that two versions written by different
 * servers line up. BEGIN / END and the order of sub-components are kept.
 */
export function canonicalLines(lines) {
  const root = { props: [], children: [], begin: null, end: null };
  const stack = [root];
  for (const line of lines) {
    const name = propName(line);
    const top = stack[stack.length - 1];
    if (name === 'BEGIN') {
      const node = { props: [], children: [], begin: line, end: null };
      top.children.push(node);
      stack.push(node);
    } else if (name === 'END' && stack.length > 1) {
      top.end = line;
      stack.pop();
    } else top.props.push(line);
  }
  const out = [];
  const emit = (node) => {
    if (node.begin !== null) out.push(node.begin);
    const props = node.props.map((l, i) => [propName(l), l, i]);
    props.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[2] - y[2]));
    out.push(...props.map((p) => p[1]));
    node.children.forEach(emit);
    if (node.end !== null) out.push(node.end);
  };
  emit(root);
  return out;
}

function unescapeValue(v) {
  return v.replace(/\\n/gi, ' ').replace(/\\([,;\\])/g, '$1');
}

/** SUMMARY (events, tasks) or FN (contacts) of an item, if any. */
export function itemTitle(text) {
  for (const line of unfold(text)) {
    const m = /^(SUMMARY|FN)(;[^:]*)?:(.*)$/i.exec(line);
    if (m && m[3].trim()) return unescapeValue(m[3].trim());
  }
  return null;
}

/**
 * A line diff (longest common subsequence). Returns rows {a, b, kind}: kind `same`,
 * `changed` (a line replaced by another), `only-a`, `only-b`.
 */
export function lineDiff(aLines, bLines) {
  const n = aLines.length;
  const m = bLines.length;
  let ops = [];
  if (n * m > 4_000_000) {
    // Too big for the table: compare as sets.
    const inB = new Set(bLines);
    const inA = new Set(aLines);
    ops = [...aLines.map((l) => (inB.has(l) ? ['=', l, l] : ['-', l, null])), ...bLines.filter((l) => !inA.has(l)).map((l) => ['+', null, l])];
  } else {
    const width = m + 1;
    const dp = new Uint32Array((n + 1) * (m + 1));
    for (let i = n - 1; i >= 0; i -= 1) {
      for (let j = m - 1; j >= 0; j -= 1) {
        dp[i * width + j] = aLines[i] === bLines[j]
          ? dp[(i + 1) * width + j + 1] + 1
          : Math.max(dp[(i + 1) * width + j], dp[i * width + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (aLines[i] === bLines[j]) {
        ops.push(['=', aLines[i], bLines[j]]);
        i += 1;
        j += 1;
      } else if (dp[(i + 1) * width + j] >= dp[i * width + j + 1]) {
        ops.push(['-', aLines[i], null]);
        i += 1;
      } else {
        ops.push(['+', null, bLines[j]]);
        j += 1;
      }
    }
    while (i < n) ops.push(['-', aLines[i++], null]);
    while (j < m) ops.push(['+', null, bLines[j++]]);
  }
  // Pair runs of removals and additions into "changed" rows.
  const rows = [];
  let k = 0;
  while (k < ops.length) {
    if (ops[k][0] === '=') {
      rows.push({ a: ops[k][1], b: ops[k][2], kind: 'same' });
      k += 1;
      continue;
    }
    const dels = [];
    const adds = [];
    while (k < ops.length && ops[k][0] !== '=') {
      if (ops[k][0] === '-') dels.push(ops[k][1]);
      else adds.push(ops[k][2]);
      k += 1;
    }
    // Within a block (sorted by property), a line of A and a line of B of the same
    // property are one change: a merge of the two sorted runs.
    let x = 0;
    let y = 0;
    while (x < dels.length || y < adds.length) {
      const a = x < dels.length ? dels[x] : null;
      const b = y < adds.length ? adds[y] : null;
      if (a !== null && b !== null && propName(a) === propName(b)) {
        rows.push({ a, b, kind: 'changed' });
        x += 1;
        y += 1;
      } else if (a !== null && (b === null || propName(a) < propName(b))) {
        rows.push({ a, b: null, kind: 'only-a' });
        x += 1;
      } else {
        rows.push({ a: null, b, kind: 'only-b' });
        y += 1;
      }
    }
  }
  return rows;
}

function sideBySide(conflict) {
  const a = conflict.a ? canonicalLines(unfold(conflict.a.body)) : null;
  const b = conflict.b ? canonicalLines(unfold(conflict.b.body)) : null;
  const head = h('div', { class: 'diff-row diff-head' },
    h('div', { class: 'diff-cell' }, h('strong', {}, 'A'), ` · ${conflict.a_collection}`),
    h('div', { class: 'diff-cell' }, h('strong', {}, 'B'), ` · ${conflict.b_collection}`));
  if (!a || !b) {
    const deleted = (side) => h('div', { class: 'diff-cell diff-deleted' }, `Deleted on side ${side}.`);
    const body = (lines) => h('pre', { class: 'diff-cell diff-pre' }, lines.join('\n'));
    return h('div', { class: 'diff', 'data-testid': 'conflict-diff' }, head,
      h('div', { class: 'diff-row' }, a ? body(a) : deleted('A'), b ? body(b) : deleted('B')));
  }
  const rows = lineDiff(a, b);
  const changed = rows.filter((r) => r.kind !== 'same').length;
  return h('div', {},
    h('p', { class: 'muted small', 'data-testid': 'diff-summary' }, changed ? `${plural(changed, 'line')} differ, highlighted below. Properties are sorted by name within each component so that both versions line up.` : 'The texts are identical line by line (they differ only in folding or whitespace).'),
    h('div', { class: 'diff', role: 'table', 'aria-label': 'Version A and version B side by side', 'data-testid': 'conflict-diff' },
      h('div', { role: 'row', class: 'diff-row diff-head' },
        h('div', { role: 'columnheader', class: 'diff-cell' }, h('strong', {}, 'Version A'), h('span', { class: 'muted' }, ` · ${conflict.a_collection}`)),
        h('div', { role: 'columnheader', class: 'diff-cell' }, h('strong', {}, 'Version B'), h('span', { class: 'muted' }, ` · ${conflict.b_collection}`))),
      rows.map((r) => h('div', { role: 'row', class: `diff-row diff-${r.kind}`, 'data-testid': r.kind === 'same' ? null : 'diff-line' },
        h('div', { role: 'cell', class: `diff-cell ${r.a === null ? 'diff-empty' : ''}` }, r.a === null ? '' : r.a),
        h('div', { role: 'cell', class: `diff-cell ${r.b === null ? 'diff-empty' : ''}` }, r.b === null ? '' : r.b)))));
}

const KEEP_TEXT = { a: 'Keep A', b: 'Keep B', both: 'Keep both' };
const KEEP_HELP = {
  a: 'Version A replaces B.',
  b: 'Version B replaces A.',
  both: 'Both are kept: B\'s version as a separate copy.',
};

function resolutionBadge(c) {
  if (!c.resolution) return badge('Waiting for you', 'warn', { 'data-testid': 'conflict-state' });
  return badge(`${KEEP_TEXT[c.resolution] || c.resolution}: applied by the next run`, 'info', { 'data-testid': 'conflict-state' });
}

async function resolve(ids, keep) {
  let ok = 0;
  const errors = [];
  for (const id of ids) {
    try {
      await post(`/api/conflicts/${id}/resolve`, { keep });
      ok += 1;
    } catch (err) {
      errors.push(`#${id}: ${err.message}`);
    }
  }
  if (ok) toast(`${plural(ok, 'conflict')} decided (${KEEP_TEXT[keep]}). The job runs now to apply ${ok === 1 ? 'it' : 'them'}.`);
  if (errors.length) toast(`Could not decide ${errors.join('; ')}`, 'bad');
  return ok;
}

// ---------------------------------------------------------------------------------------
// Conflicts list
// ---------------------------------------------------------------------------------------

export async function conflictsPage(root) {
  const [conflicts] = await Promise.all([get('/api/conflicts'), names.load().catch(() => null)]);
  const head = pageHeader('Conflicts', { subtitle: 'Items changed on both sides, in jobs set to ask you ("Ask me"). Other items keep syncing meanwhile.' });
  if (!conflicts.length) {
    fill(root, head, card(null, emptyState({
      title: 'No conflicts',
      text: 'When an item is changed on both sides and its job is set to "Ask me", it waits here until you pick a version.',
      testid: 'conflicts-empty',
    })));
    return;
  }
  const selected = new Set();
  const boxes = [];
  const count = h('span', { class: 'muted', 'data-testid': 'bulk-count', 'aria-live': 'polite' });
  const bulkButtons = ['a', 'b', 'both'].map((keep) => {
    const b = h('button', { type: 'button', class: `btn btn-small ${keep === 'both' ? '' : 'btn-primary'}`, 'data-testid': `bulk-keep-${keep}`, disabled: true }, KEEP_TEXT[keep]);
    b.addEventListener('click', async () => {
      bulkButtons.forEach((x) => { x.disabled = true; });
      await resolve([...selected], keep);
      refreshPage();
    });
    return b;
  });
  const allId = uid('all');
  const all = h('input', { type: 'checkbox', id: allId, 'data-testid': 'select-all-conflicts', 'aria-label': 'Select all conflicts' });
  const sync = () => {
    count.textContent = selected.size ? `${selected.size} selected` : 'Select conflicts to decide several at once';
    bulkButtons.forEach((b) => { b.disabled = !selected.size; });
    all.checked = selected.size && selected.size === boxes.length;
    all.indeterminate = selected.size > 0 && selected.size < boxes.length;
  };
  all.addEventListener('change', () => {
    boxes.forEach(([id, box]) => {
      box.checked = all.checked;
      if (all.checked) selected.add(id);
      else selected.delete(id);
    });
    sync();
  });

  const columns = [{ label: '', cls: 'select' }, { label: 'Item' }, { label: 'Job' }, { label: 'Collections' }, { label: 'Why' }, { label: 'Parked' }, { label: 'Status' }];
  const rows = conflicts.map((c) => {
    const title = itemTitle((c.a && c.a.body) || (c.b && c.b.body) || '') || c.uid;
    const box = h('input', { type: 'checkbox', 'data-testid': 'select-conflict', 'aria-label': `Select ${title}` });
    box.addEventListener('change', () => {
      if (box.checked) selected.add(c.id);
      else selected.delete(c.id);
      sync();
    });
    boxes.push([c.id, box]);
    return row(columns, [
      box,
      h('span', {}, h('a', { href: `#/conflicts/${c.id}`, class: 'strong', 'data-testid': 'conflict-link' }, title), h('span', { class: 'block small muted' }, c.kind)),
      c.job_id ? h('a', { href: `#/jobs/${c.job_id}` }, names.job(c.job_id)) : h('span', { class: 'muted' }, '–'),
      h('span', { class: 'small' }, `A: ${c.a_collection}`, h('br'), `B: ${c.b_collection}`),
      h('span', { class: 'small' }, c.reason),
      timeAgo(c.created_at),
      resolutionBadge(c),
    ], { 'data-testid': 'conflict-row', 'data-conflict-id': c.id });
  });
  fill(root, head,
    card(null, [
      h('div', { class: 'toolbar bulk-bar', 'data-testid': 'bulk-bar' },
        h('div', { class: 'check check-inline' }, all, h('label', { for: allId }, 'All')),
        count,
        h('div', { class: 'button-row' }, bulkButtons)),
      table(columns, rows, { testid: 'conflicts-table', caption: 'Conflicts' }),
    ]));
  sync();
}

// ---------------------------------------------------------------------------------------
// One conflict
// ---------------------------------------------------------------------------------------

export async function conflictPage(root, { params }) {
  const [id] = params;
  const [c] = await Promise.all([get(`/api/conflicts/${id}`), names.load().catch(() => null)]);
  const title = itemTitle((c.a && c.a.body) || (c.b && c.b.body) || '') || c.uid;
  const buttons = ['a', 'b', 'both'].map((keep) => {
    const b = h('button', { type: 'button', class: `btn ${keep === 'both' ? '' : 'btn-primary'}`, 'data-testid': `resolve-${keep}`, title: KEEP_HELP[keep] }, KEEP_TEXT[keep]);
    b.addEventListener('click', async () => {
      buttons.forEach((x) => { x.disabled = true; });
      const ok = await resolve([c.id], keep);
      if (ok) window.location.hash = '#/conflicts';
      else buttons.forEach((x) => { x.disabled = false; });
    });
    return b;
  });
  fill(root,
    pageHeader(title, {
      back: { href: '#/conflicts', label: 'Conflicts' },
      subtitle: h('span', {}, resolutionBadge(c), ' ', c.reason),
    }),
    card('Decide', [
      h('p', { class: 'muted' }, 'Pick the version to keep. The job runs right away and writes it to both sides.'),
      h('div', { class: 'button-row resolve-row', 'data-testid': 'resolve-buttons' },
        buttons.map((b, i) => h('div', { class: 'resolve-choice' }, b, h('span', { class: 'small muted' }, KEEP_HELP[['a', 'b', 'both'][i]])))),
    ], { testid: 'conflict-decide' }),
    c.differences && c.differences.length ? card('What differs', h('ul', { class: 'diff-list', 'data-testid': 'conflict-differences' }, c.differences.map((d) => h('li', {}, d)))) : null,
    card('Both versions', sideBySide(c), { testid: 'conflict-versions' }),
    card('Details', h('dl', { class: 'facts' },
      h('dt', {}, 'UID'), h('dd', {}, h('code', {}, c.uid)),
      h('dt', {}, 'Kind'), h('dd', {}, c.kind),
      h('dt', {}, 'Job'), h('dd', {}, c.job_id ? h('a', { href: `#/jobs/${c.job_id}` }, names.job(c.job_id)) : '–'),
      h('dt', {}, 'A'), h('dd', { class: 'break' }, c.a ? c.a.href : 'deleted'),
      h('dt', {}, 'B'), h('dd', { class: 'break' }, c.b ? c.b.href : 'deleted'),
      h('dt', {}, 'Parked'), h('dd', {}, fmtDate(c.created_at)))));
}

// ---------------------------------------------------------------------------------------
// Dead letters
// ---------------------------------------------------------------------------------------

const DL_STATES = [
  ['open', 'Waiting'],
  ['retry', 'Retry asked'],
  ['skipped', 'Skipped'],
  ['', 'All'],
];

export async function deadLettersPage(root, { query }) {
  const state = query.get('state') ?? 'open';
  const [letters] = await Promise.all([
    get(`/api/dead-letters${state ? `?state=${encodeURIComponent(state)}` : ''}`),
    names.load().catch(() => null),
  ]);
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Filter dead letters' },
    DL_STATES.map(([value, label]) => h('a', {
      href: value ? `#/dead-letters?state=${value}` : '#/dead-letters?state=',
      class: 'tab', 'aria-current': value === state ? 'page' : null, 'data-testid': `dl-tab-${value || 'all'}`,
    }, label)));
  const head = pageHeader('Dead letters', { subtitle: 'Items that failed 5 runs in a row. They no longer hold their collection back; fix the cause and retry, or skip them for good.' });
  if (!letters.length) {
    fill(root, head, tabs, card(null, emptyState({
      title: state === 'open' ? 'Nothing set aside' : 'Nothing here',
      text: state === 'open' ? 'Items that keep failing (a server refusing them, for example) are parked here with the reason.' : 'No dead letters in this state.',
      testid: 'dead-letters-empty',
    })));
    return;
  }
  const stateBadge = (s) => ({
    open: badge('Waiting', 'bad'), retry: badge('Retry at the next run', 'info'), skipped: badge('Skipped', 'neutral'),
  }[s] || badge(s));
  const items = letters.map((d) => {
    const title = itemTitle(d.payload || '') || d.uid;
    const retry = h('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-testid': 'dl-retry', hidden: d.state === 'retry' }, 'Retry');
    const skip = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'dl-skip', hidden: d.state === 'skipped' }, 'Skip');
    const act = async (what, button) => {
      button.disabled = true;
      try {
        await post(`/api/dead-letters/${d.id}/${what}`);
        toast(what === 'retry' ? `${title}: the job runs now and tries it again.` : `${title}: skipped. Runs leave it alone until you retry it.`);
        refreshPage();
      } catch (err) {
        toastError(err);
        button.disabled = false;
      }
    };
    retry.addEventListener('click', () => act('retry', retry));
    skip.addEventListener('click', () => act('skip', skip));
    return h('article', { class: 'card dead-letter', 'data-testid': 'dead-letter', 'data-dead-letter-id': d.id },
      h('div', { class: 'card-head' },
        h('h2', {}, title),
        h('div', { class: 'card-actions' }, stateBadge(d.state), retry, skip)),
      h('div', { class: 'notice notice-bad', 'data-testid': 'dl-reason' }, h('strong', {}, 'Reason: '), d.reason),
      h('dl', { class: 'facts facts-inline' },
        h('dt', {}, 'Job'), h('dd', {}, d.job_id ? h('a', { href: `#/jobs/${d.job_id}` }, names.job(d.job_id)) : '–'),
        h('dt', {}, 'Read from'), h('dd', {}, `side ${String(d.side).toUpperCase()}`),
        h('dt', {}, 'Failures in a row'), h('dd', {}, String(d.attempts)),
        h('dt', {}, 'First failed'), h('dd', {}, fmtDate(d.first_at)),
        h('dt', {}, 'Last failed'), h('dd', {}, fmtDate(d.last_at)),
        h('dt', {}, 'UID'), h('dd', {}, h('code', {}, d.uid)),
        d.href ? [h('dt', {}, 'Where'), h('dd', { class: 'break' }, d.href)] : null),
      d.payload
        ? h('details', { class: 'payload' }, h('summary', {}, 'The item as it was read'), h('pre', { class: 'code', 'data-testid': 'dl-payload' }, d.payload))
        : h('p', { class: 'muted small' }, 'The item could not be read.'));
  });
  fill(root, head, tabs, h('div', { class: 'stack', 'data-testid': 'dead-letters' }, items));
}

// Sync jobs: list, create / edit (written for people), job page with start, preview,
// pause / resume / cancel and run history.

import {
  h, fill, get, post, patch, del, card, pageHeader, emptyState, table, row, timeAgo, field,
  radioGroup, radioValue, checkbox, showFormError, clearFormErrors, toast, toastError,
  confirmDialog, loading, badge, runBadge, isActive, followRun, directionText, directionArrow, scheduleText,
  refreshPage, uid, plural,
} from './lib.js';
import { progressView, runControls, reportView, runsTable, runSummary } from './runs.js';
import { collectionKindLabel } from './accounts.js';

// ---------------------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------------------

const KINDS = [
  { value: 'sync', label: 'Keep in sync', help: 'Runs again and again (on a schedule or when started) and carries each side\'s changes over: new, edited and deleted items.' },
  { value: 'migrate', label: 'Copy once', help: 'Copies everything from account A to account B, reads each written item back to check it arrived intact. Running it again copies only what changed.' },
];

const DIRECTIONS = [
  { value: 'both', label: 'Both directions', help: 'Changes made on either side are copied to the other.' },
  { value: 'a-to-b', label: 'From A to B', help: 'B follows A. Changes made on B are not copied back.' },
  { value: 'b-to-a', label: 'From B to A', help: 'A follows B. Changes made on A are not copied back.' },
];

const TARGET_ONLY = [
  { value: 'keep', label: 'Merge into the target', help: 'Items that exist only on the target are never touched. An edit or deletion made on the target to a copy stays until the source changes that item again.' },
  { value: 'mirror', label: 'Make the target an exact copy', help: 'The target\'s own items are deleted; edits and deletions made there are undone.' },
];

const CONFLICTS = [
  { value: 'newest-wins', label: 'Newest wins', help: 'The version edited last wins (by LAST-MODIFIED, then SEQUENCE); on a tie the source (A) wins.' },
  { value: 'a-wins', label: 'A always wins', help: 'Account A\'s version replaces B\'s.' },
  { value: 'b-wins', label: 'B always wins', help: 'Account B\'s version replaces A\'s.' },
  { value: 'keep-both', label: 'Keep both', help: 'The newer version keeps its place; the other is kept as a separate copy next to it.' },
  { value: 'manual', label: 'Ask me', help: 'Nothing is written for that item: it waits under Conflicts until you pick a version. Other items keep syncing.' },
];

const MODIFY_DELETE = [
  { value: 'modify-wins', label: 'The change wins', help: 'The edited item is restored where it was deleted.' },
  { value: 'delete-wins', label: 'The deletion wins', help: 'The item is deleted on the other side too.' },
];

const CONFLICT_LABEL = Object.fromEntries(CONFLICTS.map((c) => [c.value, c.label]));

// ---------------------------------------------------------------------------------------
// Collections of an account (cached for the page)
// ---------------------------------------------------------------------------------------

const collectionCache = new Map();

function collectionsOf(accountId) {
  if (!collectionCache.has(accountId)) {
    const p = get(`/api/accounts/${accountId}/collections`);
    p.catch(() => collectionCache.delete(accountId));
    collectionCache.set(accountId, p);
  }
  return collectionCache.get(accountId);
}

const normalize = (s) => String(s || '').trim().toLowerCase();
const segment = (href) => {
  const parts = String(href || '').replace(/\/+$/, '').split('/');
  return decodeURIComponent(parts[parts.length - 1] || '');
};
const accepts = (c, comp) => !(c.components || []).length || c.components.includes(comp);

function wanted(c, what) {
  if (c.kind === 'addressbook') return what.contacts;
  return (what.calendars && accepts(c, 'VEVENT')) || (what.tasks && (accepts(c, 'VTODO') || accepts(c, 'VJOURNAL')));
}

/** The same pairing as the engine's "by name": display name first, then path segment. */
function pairByName(from, to, what, create) {
  const wantedList = from.filter((c) => wanted(c, what));
  const taken = new Set();
  const chosen = new Map();
  for (const key of [(c) => normalize(c.name), (c) => normalize(segment(c.href))]) {
    for (const src of wantedList) {
      if (chosen.has(src.href)) continue;
      const dst = to.find((d) => !taken.has(d.href) && d.kind === src.kind && !d.read_only && key(d) === key(src));
      if (dst) {
        taken.add(dst.href);
        chosen.set(src.href, dst);
      }
    }
  }
  return {
    pairs: wantedList.map((src) => ({ src, dst: chosen.get(src.href) || null, create: !chosen.has(src.href) && create })),
    used: taken,
  };
}

/** A reference to a collection for `pairs`: its name when unique, else its href. */
function refOf(c, list) {
  const same = list.filter((x) => normalize(x.name) === normalize(c.name));
  return same.length === 1 ? c.name : c.href;
}

function findRef(list, ref) {
  const r = String(ref || '').trim().replace(/\/+$/, '');
  return list.find((c) => c.href.replace(/\/+$/, '') === r)
    || list.find((c) => r.includes('/') && c.href.replace(/\/+$/, '').endsWith(`/${r.replace(/^\/+/, '')}`))
    || list.find((c) => normalize(c.name) === normalize(ref))
    || list.find((c) => normalize(segment(c.href)) === normalize(ref));
}

// ---------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------

async function startJob(job, dryRun, button) {
  if (button) button.disabled = true;
  try {
    const run = await post(`/api/sync-jobs/${job.id}/start`, dryRun ? { dry_run: true } : undefined);
    toast(dryRun ? `Preview of ${job.name} queued.` : `Run #${run.id} of ${job.name} queued.`);
    return run;
  } catch (err) {
    toastError(err, `Cannot start ${job.name}`);
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

export async function jobsPage(root) {
  const [jobs, accounts] = await Promise.all([get('/api/sync-jobs'), get('/api/accounts')]);
  const accountName = (id) => (accounts.find((a) => a.id === id) || {}).name || `#${id}`;
  const add = h('a', { class: 'btn btn-primary', href: '#/jobs/new', 'data-testid': 'add-job' }, 'New sync job');
  const head = pageHeader('Sync jobs', { subtitle: 'What is copied or kept in step between two accounts, and when.', actions: accounts.length ? add : null });
  if (!jobs.length) {
    fill(root, head, card(null, accounts.length
      ? emptyState({
        title: 'Create your first sync job',
        text: 'Pick two accounts, what to sync (events, tasks, contacts) and which way. You can preview what would change before anything is written.',
        action: h('a', { class: 'btn btn-primary', href: '#/jobs/new', 'data-testid': 'empty-add-job' }, 'Create a sync job'),
        testid: 'jobs-empty',
      })
      : emptyState({
        title: 'Add your first account',
        text: 'A sync job connects two accounts. Add them first.',
        action: h('a', { class: 'btn btn-primary', href: '#/accounts/new', 'data-testid': 'empty-add-account' }, 'Add your first account'),
        testid: 'jobs-empty-accounts',
      })));
    return;
  }
  const columns = [{ label: 'Job' }, { label: 'Between' }, { label: 'Schedule' }, { label: 'Last run' }, { label: 'Result' }, { label: 'Actions', cls: 'actions' }];
  const rows = jobs.map((j) => {
    const start = h('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-testid': 'start-job', disabled: isActive(j.last_run), 'aria-label': `Start ${j.name}` }, 'Start');
    start.addEventListener('click', async () => {
      const run = await startJob(j, false, start);
      if (run) refreshPage();
    });
    return row(columns, [
      h('span', {},
        h('a', { href: `#/jobs/${j.id}`, class: 'strong', 'data-testid': 'job-link' }, j.name),
        h('span', { class: 'block small muted' }, j.kind === 'migrate' ? 'Copy once' : 'Keep in sync', j.enabled ? '' : ' · disabled', j.options.dry_run ? ' · preview only' : '')),
      h('span', {}, `${accountName(j.a_account_id)} `, h('span', { class: 'dir' }, directionArrow(j)), ` ${accountName(j.b_account_id)}`),
      scheduleText(j.schedule),
      j.last_run ? h('span', { class: 'badges' }, runBadge(j.last_run, { 'data-testid': 'job-last-state' }), ' ', h('a', { href: `#/runs/${j.last_run.id}`, class: 'small' }, timeAgo(j.last_run.finished_at || j.last_run.started_at || j.last_run.queued_at))) : runBadge(null),
      h('span', { class: 'muted small' }, j.last_run ? (j.last_run.error || (isActive(j.last_run) ? `${(j.last_run.progress || {}).percent || 0} %` : runSummary(j.last_run))) : '–'),
      h('div', { class: 'button-row' }, start, h('a', { class: 'btn btn-small', href: `#/jobs/${j.id}/edit`, 'data-testid': 'edit-job' }, 'Edit')),
    ], { 'data-testid': 'job-row', 'data-job-id': j.id });
  });
  fill(root, head, card(null, table(columns, rows, { testid: 'jobs-table', caption: 'Sync jobs' })));
}

// ---------------------------------------------------------------------------------------
// The form
// ---------------------------------------------------------------------------------------

const DEFAULT_OPTIONS = {
  calendars: true, tasks: true, contacts: true, direction: 'both', target_only: 'keep',
  conflict: 'newest-wins', modify_vs_delete: 'modify-wins', window: null, mass_delete_guard: 0.5,
  create_collections: true, suppress_invitations: true, verify: true, pairs: [], into: null, dry_run: false,
};

function section(title, intro, ...children) {
  return h('fieldset', { class: 'card form-section' },
    h('legend', { class: 'section-title' }, title),
    intro ? h('p', { class: 'muted section-intro' }, intro) : null,
    children);
}

export async function jobFormPage(root, { params }) {
  const [id] = params;
  const editing = Boolean(id);
  const [accounts, job] = await Promise.all([get('/api/accounts'), editing ? get(`/api/sync-jobs/${id}`) : null]);
  collectionCache.clear();
  if (accounts.length === 0) {
    fill(root, pageHeader('New sync job', { back: { href: '#/jobs', label: 'Sync jobs' } }),
      card(null, emptyState({
        title: 'Add your first account', text: 'A sync job connects two accounts. Add them first.',
        action: h('a', { class: 'btn btn-primary', href: '#/accounts/new', 'data-testid': 'empty-add-account' }, 'Add your first account'),
      })));
    return;
  }
  const opts = { ...DEFAULT_OPTIONS, ...(job ? job.options : {}) };
  const state = {
    kind: job ? job.kind : 'sync',
    a: job ? job.a_account_id : accounts[0].id,
    b: job ? job.b_account_id : (accounts[1] || accounts[0]).id,
    direction: opts.direction,
    pairing: (opts.pairs || []).length ? 'pairs' : opts.into ? 'into' : 'name',
    pairs: (opts.pairs || []).map((p) => ({ ...p })),
    into: opts.into || '',
  };

  // --- basics
  const name = h('input', { type: 'text', required: true, maxlength: '200', value: job ? job.name : '', autocomplete: 'off' });
  const accountSelect = (value, testid) => h('select', { 'data-testid': testid },
    accounts.map((a) => h('option', { value: String(a.id), selected: a.id === value }, `${a.name} (${a.username})`)));
  const aSel = accountSelect(state.a, 'job-account-a');
  const bSel = accountSelect(state.b, 'job-account-b');
  const enabled = checkbox({ label: 'Enabled', checked: job ? job.enabled : true, help: 'Disabled jobs keep their settings but are left out of scheduled runs and "Sync all".', testid: 'job-enabled', name: 'enabled' });
  const kindGroup = radioGroup({ legend: 'What kind of job?', name: 'kind', field: 'kind', options: KINDS, value: state.kind, testid: 'job-kind', onchange: (v) => { state.kind = v; update(); } });

  // --- what and which way
  const directionGroup = radioGroup({ legend: 'Which way do changes go?', name: 'direction', field: 'options.direction', options: DIRECTIONS, value: state.direction, testid: 'job-direction', onchange: (v) => { state.direction = v; update(); } });
  const migrateDirection = h('p', { class: 'notice', 'data-testid': 'migrate-direction-note' }, 'A copy always goes from account A to account B. Nothing is changed on A.');
  const what = h('fieldset', { class: 'field checks', 'data-field': 'options.calendars', 'data-testid': 'job-what' },
    h('legend', {}, 'What to sync'),
    checkbox({ label: 'Events', checked: opts.calendars, help: 'Calendars that hold events.', testid: 'job-calendars', onchange: () => update() }),
    checkbox({ label: 'Tasks', checked: opts.tasks, help: 'Task lists (and journals).', testid: 'job-tasks', onchange: () => update() }),
    checkbox({ label: 'Contacts', checked: opts.contacts, help: 'Address books.', testid: 'job-contacts', onchange: () => update() }),
    h('p', { class: 'field-error', hidden: true, role: 'alert' }));
  const targetGroup = radioGroup({ legend: 'On the target side', name: 'target_only', field: 'options.target_only', options: TARGET_ONLY, value: opts.target_only, testid: 'job-target-only', onchange: () => update() });

  // --- collections
  const pairingGroup = radioGroup({
    legend: 'How are collections paired?', name: 'pairing', field: 'options.pairs',
    options: [
      { value: 'name', label: 'By name (recommended)', help: 'Each calendar or address book goes to the one with the same name on the other side; missing ones are created.' },
      { value: 'pairs', label: 'Choose pairs myself', help: 'Only the pairs you list are synced.' },
      { value: 'into', label: 'Everything into one collection', help: 'Every selected collection of the source goes into one collection of the target (one-way, merge only).' },
    ],
    value: state.pairing, testid: 'job-pairing', onchange: (v) => { state.pairing = v; update(); },
  });
  const pairsEditor = h('div', { class: 'pairs-editor', 'data-field': 'options.pairs', 'data-testid': 'pairs-editor' });
  const intoSel = h('select', { 'data-testid': 'job-into' });
  const intoField = field({ label: 'Target collection', name: 'options.into', control: intoSel, hint: 'It must exist on the target account.' });
  const createCollections = checkbox({ label: 'Create missing collections', checked: opts.create_collections, help: 'Calendars and address books the other side lacks are created with the same name, colour and kind.', testid: 'job-create-collections', name: 'options.create_collections', onchange: () => update() });
  const preview = h('div', { class: 'mapping-preview', 'data-testid': 'mapping-preview', 'aria-live': 'polite' });
  const collectionsStatus = h('p', { class: 'muted small', 'data-testid': 'collections-status' });

  // --- conflicts
  const conflictGroup = radioGroup({ legend: 'An item changed on both sides', name: 'conflict', field: 'options.conflict', options: CONFLICTS, value: opts.conflict, testid: 'job-conflict' });
  const mirrorNote = h('p', { class: 'notice', hidden: true }, 'This job makes the target an exact copy, so the source always wins; these choices do not apply.');
  const modifyGroup = radioGroup({ legend: 'An item deleted on one side and edited on the other', name: 'modify_vs_delete', field: 'options.modify_vs_delete', options: MODIFY_DELETE, value: opts.modify_vs_delete, testid: 'job-modify-delete' });

  // --- safety and schedule
  const windowOn = h('input', { type: 'checkbox', id: uid('c'), checked: Boolean(opts.window), 'data-testid': 'job-window-on' });
  const pastDays = h('input', { type: 'number', min: '0', max: '36500', step: '1', value: String(opts.window ? opts.window.past_days : 30), 'data-testid': 'job-window-past', class: 'input-short' });
  const futureDays = h('input', { type: 'number', min: '0', max: '36500', step: '1', value: String(opts.window ? opts.window.future_days : 365), 'data-testid': 'job-window-future', class: 'input-short' });
  const pastId = uid('in');
  const futureId = uid('in');
  pastDays.id = pastId;
  futureDays.id = futureId;
  const windowBox = h('div', { class: 'field', 'data-field': 'options.window', 'data-testid': 'job-window' },
    h('div', { class: 'check' }, windowOn, h('label', { for: windowOn.id },
      h('span', { class: 'radio-title' }, 'Only events near today'),
      h('span', { class: 'radio-help' }, 'Events with no occurrence in the window are left alone (a recurring event counts if any occurrence may fall inside). Tasks and contacts are always synced.'))),
    h('div', { class: 'inline-fields window-days' },
      h('label', { for: pastId }, 'From'), pastDays, h('span', {}, 'days ago to'), futureDays, h('label', { for: futureId }, 'days ahead')),
    h('p', { class: 'field-error', hidden: true, role: 'alert' }));
  windowOn.addEventListener('change', () => update());

  const guard = h('input', { type: 'number', min: '0', max: '100', step: '1', value: String(Math.round(opts.mass_delete_guard * 100)), class: 'input-short', 'data-testid': 'job-guard' });
  const guardField = field({
    label: 'Mass-delete guard (%)', name: 'options.mass_delete_guard', control: guard,
    hint: 'If a run would delete more than this share of a collection\'s items, or delete anything because the other side, which had items, is suddenly empty, that collection stops before writing anything and the run says why. 0 stops any deletion; 100 turns the guard off.',
  });

  const schedule = h('input', { type: 'text', value: job && job.schedule ? job.schedule : '', placeholder: 'e.g. 15m', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'job-schedule' });
  const scheduleField = field({
    label: 'Schedule', name: 'schedule', control: schedule,
    hint: 'An interval (30s, 15m, 2h30m, 1d) or a 5-field cron expression (*/15 * * * *, in UTC). Leave empty to run only when you start it.',
  });
  const presets = h('div', { class: 'chips', role: 'group', 'aria-label': 'Schedule presets' },
    [['', 'Only by hand'], ['15m', 'Every 15 minutes'], ['1h', 'Every hour'], ['0 6 * * *', 'Daily at 06:00 UTC']].map(([v, l]) => h('button', {
      type: 'button', class: 'chip', 'data-testid': `schedule-preset-${v ? v.replace(/[^0-9a-z]+/gi, '-').replace(/-+$/, '') : 'manual'}`,
      onclick: () => { schedule.value = v; schedule.focus(); },
    }, l)));
  const suppress = checkbox({ label: 'Suppress invitation e-mails', checked: opts.suppress_invitations, help: 'Marks organizer and attendees of copied meetings so that no server sends invitations for them (SCHEDULE-AGENT=CLIENT).', testid: 'job-suppress-invitations', name: 'options.suppress_invitations' });
  const verify = checkbox({ label: 'Check every copied item', checked: opts.verify, help: 'Reads each written item back and compares it with the original.', testid: 'job-verify', name: 'options.verify' });
  const dryRun = checkbox({ label: 'Preview only', checked: opts.dry_run, help: 'Runs of this job only plan and report; nothing is ever written.', testid: 'job-dry-run', name: 'options.dry_run' });

  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'job-submit' }, editing ? 'Save changes' : 'Create job');
  const form = h('form', { class: 'form job-form', 'data-testid': 'job-form', novalidate: true },
    h('p', { class: 'form-error', role: 'alert', hidden: true, tabindex: '-1', 'data-testid': 'job-form-error' }),
    section('Basics', null,
      field({ label: 'Name', name: 'name', control: name, hint: 'Unique. For example "Work calendar to phone".', testid: 'job-name' }),
      kindGroup,
      h('div', { class: 'grid-2 tight' },
        field({ label: 'Account A', name: 'a_account_id', control: aSel, hint: 'The source of a copy.' }),
        field({ label: 'Account B', name: 'b_account_id', control: bSel, hint: 'The target of a copy.' })),
      enabled),
    section('What, and which way', null, what, directionGroup, migrateDirection, targetGroup),
    section('Collections', 'Calendars, task lists and address books are paired between the two accounts.',
      pairingGroup, pairsEditor, intoField, createCollections,
      h('div', { class: 'preview-box' }, h('h3', {}, 'What will be paired'), collectionsStatus, preview)),
    section('When both sides changed', null, conflictGroup, mirrorNote, modifyGroup),
    section('Safety and schedule', null, windowBox, guardField, scheduleField, presets, suppress, verify, dryRun),
    h('div', { class: 'form-actions sticky-actions' }, submit, h('a', { class: 'btn btn-ghost', href: editing ? `#/jobs/${id}` : '#/jobs' }, 'Cancel')));

  const checked = (wrap) => wrap.querySelector('input[type=checkbox]').checked;
  const whatNow = () => ({
    calendars: checked(what.children[1]), tasks: checked(what.children[2]), contacts: checked(what.children[3]),
  });

  let lists = { a: null, b: null, errA: null, errB: null };
  let listToken = 0;
  async function loadCollections() {
    listToken += 1;
    const token = listToken;
    lists = { a: null, b: null, errA: null, errB: null };
    fill(collectionsStatus, loading('Looking at both accounts…'));
    const [ra, rb] = await Promise.allSettled([collectionsOf(state.a), collectionsOf(state.b)]);
    if (token !== listToken) return;
    lists.a = ra.status === 'fulfilled' ? ra.value : [];
    lists.b = rb.status === 'fulfilled' ? rb.value : [];
    lists.errA = ra.status === 'rejected' ? ra.reason : null;
    lists.errB = rb.status === 'rejected' ? rb.reason : null;
    const msgs = [];
    if (lists.errA) msgs.push(`Cannot list the collections of A: ${lists.errA.message}`);
    if (lists.errB) msgs.push(`Cannot list the collections of B: ${lists.errB.message}`);
    fill(collectionsStatus, msgs.length ? h('span', { class: 'text-bad' }, msgs.join(' ')) : `A has ${plural(lists.a.length, 'collection')}, B has ${plural(lists.b.length, 'collection')}.`);
    update();
  }

  function option(c, list, selected) {
    return h('option', { value: refOf(c, list), selected }, `${c.name} · ${collectionKindLabel(c)}${c.read_only ? ' (read-only)' : ''}`);
  }

  function renderPairs() {
    const la = lists.a || [];
    const lb = lists.b || [];
    const rowsEl = state.pairs.map((p, i) => {
      const ida = uid('pa');
      const idb = uid('pb');
      const selA = h('select', { id: ida, 'data-testid': `pair-a-${i}` }, h('option', { value: '' }, 'Choose…'));
      const selB = h('select', { id: idb, 'data-testid': `pair-b-${i}` }, h('option', { value: '' }, 'Choose…'));
      const foundA = findRef(la, p.a);
      const foundB = findRef(lb, p.b);
      la.forEach((c) => selA.append(option(c, la, foundA === c)));
      lb.forEach((c) => selB.append(option(c, lb, foundB === c)));
      if (p.a && !foundA) selA.append(h('option', { value: p.a, selected: true }, `${p.a} (not found)`));
      if (p.b && !foundB) selB.append(h('option', { value: p.b, selected: true }, `${p.b} (not found)`));
      selA.addEventListener('change', () => { p.a = selA.value; update(); });
      selB.addEventListener('change', () => { p.b = selB.value; update(); });
      const remove = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-label': `Remove pair ${i + 1}`, 'data-testid': `pair-remove-${i}` }, 'Remove');
      remove.addEventListener('click', () => { state.pairs.splice(i, 1); update(); });
      return h('div', { class: 'pair-row', 'data-testid': 'pair-row' },
        h('label', { for: ida, class: 'pair-side' }, 'A'), selA,
        h('span', { class: 'pair-arrow', 'aria-hidden': 'true' }, state.direction === 'both' ? '⇄' : state.direction === 'b-to-a' ? '←' : '→'),
        h('label', { for: idb, class: 'pair-side' }, 'B'), selB, remove);
    });
    const addBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'pair-add' }, 'Add a pair');
    addBtn.addEventListener('click', () => {
      state.pairs.push({ a: '', b: '' });
      update();
      const sels = pairsEditor.querySelectorAll('select');
      if (sels.length >= 2) sels[sels.length - 2].focus();
    });
    fill(pairsEditor,
      rowsEl.length ? rowsEl : h('p', { class: 'muted' }, 'No pairs yet.'),
      addBtn,
      h('p', { class: 'field-error', hidden: true, role: 'alert' }));
  }

  function renderInto() {
    const sync = state.kind === 'sync';
    const target = sync && state.direction === 'b-to-a' ? lists.a || [] : lists.b || [];
    const found = findRef(target, state.into);
    fill(intoSel, h('option', { value: '' }, 'Choose…'),
      target.map((c) => option(c, target, found === c)),
      state.into && !found ? h('option', { value: state.into, selected: true }, `${state.into} (not found)`) : null);
    intoSel.onchange = () => { state.into = intoSel.value; update(); };
  }

  function renderPreview() {
    if (!lists.a || !lists.b) {
      fill(preview, null);
      return;
    }
    const w = whatNow();
    const create = checked(createCollections);
    const dir = state.kind === 'migrate' ? 'a-to-b' : state.direction;
    const arrow = dir === 'both' ? '⇄' : '→';
    const lines = [];
    const line = (left, right, note, tone) => lines.push(h('li', { class: `map-line ${tone ? `map-${tone}` : ''}`, 'data-testid': 'mapping-line' },
      h('span', {}, left), h('span', { class: 'map-arrow', 'aria-hidden': 'true' }, arrow), h('span', { class: 'sr-only' }, dir === 'both' ? 'with' : 'to'),
      h('span', {}, right), note ? h('span', { class: 'map-note' }, note) : null));
    const pairing = state.kind === 'migrate' ? 'name' : state.pairing;
    if (pairing === 'pairs') {
      for (const p of state.pairs) {
        if (!p.a || !p.b) continue;
        const ca = findRef(lists.a, p.a);
        const cb = findRef(lists.b, p.b);
        if (!ca || !cb) line(`A: ${ca ? ca.name : p.a}`, `B: ${cb ? cb.name : p.b}`, !ca ? 'missing on A: skipped' : 'missing on B: skipped', 'bad');
        else line(`A: ${ca.name}`, `B: ${cb.name}`);
      }
    } else if (pairing === 'into') {
      const [from, to, fromSide, toSide] = dir === 'b-to-a' ? [lists.b, lists.a, 'B', 'A'] : [lists.a, lists.b, 'A', 'B'];
      const target = findRef(to, state.into);
      for (const c of from.filter((x) => wanted(x, w))) {
        if (dir === 'b-to-a') lines.push(h('li', { class: 'map-line', 'data-testid': 'mapping-line' }, `${toSide}: ${target ? target.name : state.into || '?'} ← ${fromSide}: ${c.name}`));
        else line(`${fromSide}: ${c.name}`, `${toSide}: ${target ? target.name : state.into || '?'}`, target ? null : 'choose an existing collection', target ? null : 'bad');
      }
    } else {
      const [from, to, fromSide, toSide] = dir === 'b-to-a' ? [lists.b, lists.a, 'B', 'A'] : [lists.a, lists.b, 'A', 'B'];
      const { pairs, used } = pairByName(from, to, w, create);
      for (const p of pairs) {
        const left = `${fromSide}: ${p.src.name}`;
        const right = p.dst ? `${toSide}: ${p.dst.name}` : `${toSide}: ${p.src.name}`;
        const note = p.dst ? null : p.create ? '(new)' : 'not synced: missing, and creating is off';
        if (dir === 'b-to-a') {
          lines.push(h('li', { class: `map-line ${!p.dst && !p.create ? 'map-bad' : ''}`, 'data-testid': 'mapping-line' },
            `${right} ${p.dst ? '' : p.create ? '(new) ' : ''}← ${left}`, !p.dst && !p.create ? h('span', { class: 'map-note' }, 'not synced: missing, and creating is off') : null));
        } else line(left, right, note, !p.dst && !p.create ? 'bad' : p.dst ? null : 'new');
      }
      if (dir === 'both') {
        for (const c of lists.b.filter((x) => !used.has(x.href) && wanted(x, w))) {
          lines.push(h('li', { class: `map-line ${create ? 'map-new' : 'map-bad'}`, 'data-testid': 'mapping-line' },
            h('span', {}, `A: ${c.name}`), h('span', { class: 'map-arrow', 'aria-hidden': 'true' }, '⇄'), h('span', {}, `B: ${c.name}`),
            h('span', { class: 'map-note' }, create ? '(new on A)' : 'only on B: not synced')));
        }
      }
    }
    fill(preview, lines.length ? h('ul', { class: 'map-list' }, lines)
      : h('p', { class: 'muted' }, pairing === 'pairs' ? 'Add pairs above to see them here.' : 'No collection matches what you chose to sync.'));
  }

  function show(el, visible) {
    el.hidden = !visible;
  }

  function update() {
    const sync = state.kind === 'sync';
    const oneWay = sync && state.direction !== 'both';
    const mirror = oneWay && radioValue(targetGroup, 'target_only') === 'mirror';
    show(directionGroup, sync);
    show(migrateDirection, !sync);
    show(targetGroup, oneWay);
    show(pairingGroup, sync);
    // "into" needs a one-way merge job.
    const intoOption = pairingGroup.querySelector('[data-option="into"]');
    const intoAllowed = oneWay && !mirror;
    intoOption.classList.toggle('is-disabled', !intoAllowed);
    intoOption.querySelector('input').disabled = !intoAllowed;
    if (!intoAllowed && state.pairing === 'into') {
      state.pairing = 'name';
      pairingGroup.querySelector('input[value="name"]').checked = true;
    }
    const pairing = sync ? state.pairing : 'name';
    show(pairsEditor, pairing === 'pairs');
    show(intoField, pairing === 'into');
    show(createCollections, pairing === 'name');
    show(windowBox, sync);
    windowBox.querySelector('.window-days').hidden = !windowOn.checked;
    show(verify, !sync);
    show(mirrorNote, mirror);
    conflictGroup.classList.toggle('is-muted', mirror);
    if (pairing === 'pairs') renderPairs();
    if (pairing === 'into') renderInto();
    renderPreview();
  }

  aSel.addEventListener('change', () => { state.a = Number(aSel.value); loadCollections(); });
  bSel.addEventListener('change', () => { state.b = Number(bSel.value); loadCollections(); });

  function collect() {
    const sync = state.kind === 'sync';
    const w = whatNow();
    const guardValue = Number(guard.value);
    const body = {
      name: name.value.trim(),
      kind: state.kind,
      a_account_id: state.a,
      b_account_id: state.b,
      schedule: schedule.value.trim() || null,
      enabled: checked(enabled),
      options: {
        calendars: w.calendars,
        tasks: w.tasks,
        contacts: w.contacts,
        direction: sync ? state.direction : 'a-to-b',
        target_only: radioValue(targetGroup, 'target_only') || 'keep',
        conflict: radioValue(conflictGroup, 'conflict') || 'newest-wins',
        modify_vs_delete: radioValue(modifyGroup, 'modify_vs_delete') || 'modify-wins',
        window: sync && windowOn.checked ? { past_days: Number(pastDays.value), future_days: Number(futureDays.value) } : null,
        mass_delete_guard: guardValue / 100,
        create_collections: checked(createCollections),
        suppress_invitations: checked(suppress),
        verify: checked(verify),
        pairs: sync && state.pairing === 'pairs' ? state.pairs.filter((p) => p.a || p.b).map((p) => ({ a: p.a, b: p.b })) : [],
        into: sync && state.pairing === 'into' ? state.into || null : null,
        dry_run: checked(dryRun),
      },
    };
    return body;
  }

  function check(body) {
    if (!body.name) return { field: 'name', message: 'Give the job a name.' };
    const o = body.options;
    if (!(o.calendars || o.tasks || o.contacts)) return { field: 'options.calendars', message: 'Choose at least one: events, tasks or contacts.' };
    if (body.a_account_id === body.b_account_id && !o.pairs.length) return { field: 'b_account_id', message: 'To sync an account with itself, choose the pairs of collections yourself.' };
    if (state.kind === 'sync' && state.pairing === 'pairs') {
      if (!o.pairs.length) return { field: 'options.pairs', message: 'Add at least one pair, or pair by name.' };
      if (o.pairs.some((p) => !p.a || !p.b)) return { field: 'options.pairs', message: 'Choose a collection on both sides of every pair.' };
    }
    if (state.kind === 'sync' && state.pairing === 'into' && !o.into) return { field: 'options.into', message: 'Choose the collection everything goes into.' };
    if (!Number.isFinite(o.mass_delete_guard) || guard.value === '' || o.mass_delete_guard < 0 || o.mass_delete_guard > 1) return { field: 'options.mass_delete_guard', message: 'Enter a percentage between 0 and 100.' };
    if (o.window) {
      const { past_days: p, future_days: f } = o.window;
      if (!Number.isInteger(p) || !Number.isInteger(f) || p < 0 || f < 0) return { field: 'options.window', message: 'Use whole numbers of days, 0 or more.' };
      if (p + f === 0) return { field: 'options.window', message: 'The window is empty: give some days before or after today.' };
    }
    return null;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const body = collect();
    const problem = check(body);
    if (problem) {
      showFormError(form, problem);
      return;
    }
    submit.disabled = true;
    try {
      const saved = editing ? await patch(`/api/sync-jobs/${id}`, body) : await post('/api/sync-jobs', body);
      toast(editing ? `Saved ${saved.name}.` : `Created ${saved.name}. Preview it to see what it would change.`);
      window.location.hash = `#/jobs/${saved.id}`;
    } catch (err) {
      if (err.status === 409) showFormError(form, { field: 'name', message: err.message });
      else showFormError(form, err);
    } finally {
      submit.disabled = false;
    }
  });

  fill(root,
    pageHeader(editing ? `Edit ${job.name}` : 'New sync job', {
      back: editing ? { href: `#/jobs/${id}`, label: job.name } : { href: '#/jobs', label: 'Sync jobs' },
      subtitle: 'Every choice has a safe default; change only what you need.',
    }),
    form);
  update();
  loadCollections();
  if (!editing) name.focus();
}

// ---------------------------------------------------------------------------------------
// The job page
// ---------------------------------------------------------------------------------------

/** The run each job page shows as its preview (survives re-renders of the page). */
const previews = new Map();

function settingsList(job, accountName) {
  const o = job.options;
  const kinds = [o.calendars && 'events', o.tasks && 'tasks', o.contacts && 'contacts'].filter(Boolean).join(', ');
  const sync = job.kind === 'sync';
  const items = [
    ['Kind', sync ? 'Keep in sync' : 'Copy once (with read-back check)'],
    ['Accounts', `A: ${accountName(job.a_account_id)} · B: ${accountName(job.b_account_id)}`],
    ['Direction', sync ? (DIRECTIONS.find((d) => d.value === o.direction) || {}).label : 'From A to B'],
    ['What', kinds],
    sync && o.direction !== 'both' ? ['On the target', (TARGET_ONLY.find((t) => t.value === o.target_only) || {}).label] : null,
    ['Collections', (o.pairs || []).length ? o.pairs.map((p) => `${p.a} ⇄ ${p.b}`).join(', ') : o.into ? `everything into ${o.into}` : `by name${o.create_collections ? ', missing ones created' : ''}`],
    sync ? ['Conflicts', CONFLICT_LABEL[o.conflict] || o.conflict] : null,
    sync ? ['Deleted vs edited', (MODIFY_DELETE.find((m) => m.value === o.modify_vs_delete) || {}).label] : null,
    o.window ? ['Window', `${o.window.past_days} days ago to ${o.window.future_days} days ahead`] : null,
    ['Mass-delete guard', `${Math.round(o.mass_delete_guard * 100)} %`],
    ['Schedule', scheduleText(job.schedule)],
    ['Invitations', o.suppress_invitations ? 'Suppressed' : 'Servers may send them'],
    o.dry_run ? ['Mode', 'Preview only: never writes'] : null,
    ['Enabled', job.enabled ? 'Yes' : 'No: left out of schedules and "Sync all"'],
  ].filter(Boolean);
  return h('dl', { class: 'facts', 'data-testid': 'job-settings' }, items.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export async function jobPage(root, { params }) {
  const [id] = params;
  const [job, accounts, runs] = await Promise.all([
    get(`/api/sync-jobs/${id}`), get('/api/accounts'), get(`/api/sync-jobs/${id}/runs?limit=30`),
  ]);
  const accountName = (aid) => (accounts.find((a) => a.id === aid) || {}).name || `#${aid}`;
  const stops = new Set();

  const activeSlot = h('div', {});
  const previewSlot = h('div', {});
  const historySlot = h('div', {});

  const startBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'start-job' }, 'Start now');
  const previewBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'preview-job' }, 'Preview changes');
  const deleteBtn = h('button', { type: 'button', class: 'btn btn-danger-ghost', 'data-testid': 'delete-job' }, 'Delete');

  async function reloadHistory() {
    try {
      const list = await get(`/api/sync-jobs/${id}/runs?limit=30`);
      renderHistory(list);
      return list;
    } catch (err) {
      toastError(err);
      return null;
    }
  }

  function renderHistory(list) {
    fill(historySlot, card('Run history', list.length ? runsTable(list) : emptyState({
      title: 'No runs yet', text: 'Preview the changes first, or start the job.', testid: 'history-empty',
    }), { testid: 'run-history' }));
  }

  function setBusy(active) {
    startBtn.disabled = active;
    previewBtn.disabled = active;
  }

  function showActive(run) {
    stops.forEach((s) => s());
    stops.clear();
    if (!run || !isActive(run)) {
      fill(activeSlot, null);
      setBusy(false);
      return;
    }
    setBusy(true);
    const view = progressView(run);
    const state = h('span', {}, runBadge(run, { 'data-testid': 'active-run-state' }));
    const controls = runControls(job.id, run, { onChange: (r) => { controls.update(r); fill(state, runBadge(r)); } });
    fill(activeSlot, card(run.dry_run ? 'Preview in progress' : 'Run in progress', [
      h('div', { class: 'live-run-head' }, h('a', { href: `#/runs/${run.id}`, 'data-testid': 'active-run-link' }, `Run #${run.id}`), state, run.dry_run ? badge('Preview', 'info') : null),
      view.el,
      controls.el,
    ], { testid: 'active-run', cls: 'card-live' }));
    stops.add(followRun(run.id, {
      onRun: (r) => { view.update(r); controls.update(r); fill(state, runBadge(r, { 'data-testid': 'active-run-state' })); },
      onEnd: async () => {
        const r = await get(`/api/runs/${run.id}`).catch(() => null);
        if (r && r.dry_run && previews.get(id) === run.id) showPreview(r);
        else if (r) toast(`Run #${r.id}: ${runSummary(r)}`, r.state === 'completed' ? 'ok' : r.state === 'failed' ? 'bad' : 'warn');
        fill(activeSlot, null);
        setBusy(false);
        reloadHistory();
      },
    }));
  }

  async function showPreview(run) {
    if (isActive(run)) {
      fill(previewSlot, null);
      return;
    }
    fill(previewSlot, card('Preview', loading('Loading the plan…'), { testid: 'preview' }));
    try {
      const report = await get(`/api/runs/${run.id}/report`);
      const close = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': 'preview-close' }, 'Close preview');
      close.addEventListener('click', () => { previews.delete(id); fill(previewSlot, null); });
      const apply = h('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-testid': 'preview-apply' }, 'Run it for real');
      apply.addEventListener('click', () => startBtn.click());
      fill(previewSlot, card(`Preview from ${new Intl.DateTimeFormat(undefined, { timeStyle: 'short' }).format(new Date(run.finished_at || Date.now()))}`, [
        run.error ? h('p', { class: 'notice notice-bad' }, run.error) : null,
        reportView(report, { preview: true }),
      ], { testid: 'preview', actions: [apply, close] }));
    } catch (err) {
      fill(previewSlot, card('Preview', h('p', { class: 'notice notice-bad', role: 'alert' }, run.error || err.message), { testid: 'preview' }));
    }
  }

  startBtn.addEventListener('click', async () => {
    const run = await startJob(job, false, startBtn);
    if (run) {
      previews.delete(id);
      fill(previewSlot, null);
      showActive(run);
      reloadHistory();
    }
  });
  previewBtn.addEventListener('click', async () => {
    const run = await startJob(job, true, previewBtn);
    if (run) {
      previews.set(id, run.id);
      fill(previewSlot, card('Preview', h('p', { class: 'muted' }, 'calport is reading both accounts and planning. Nothing is written.'), { testid: 'preview' }));
      showActive(run);
      reloadHistory();
    }
  });
  deleteBtn.addEventListener('click', async () => {
    if (!(await confirmDialog({ title: `Delete ${job.name}?`, message: 'The job, its run history and its sync status are deleted. Nothing on either account is touched.' }))) return;
    try {
      await del(`/api/sync-jobs/${id}`);
      toast(`Deleted ${job.name}.`);
      window.location.hash = '#/jobs';
    } catch (err) {
      toastError(err);
    }
  });

  const sync = job.kind === 'sync';
  fill(root,
    pageHeader(job.name, {
      back: { href: '#/jobs', label: 'Sync jobs' },
      subtitle: h('span', {},
        badge(sync ? 'Keep in sync' : 'Copy once', 'neutral'), ' ',
        `${accountName(job.a_account_id)} ${directionArrow(job)} ${accountName(job.b_account_id)} · ${scheduleText(job.schedule)}`,
        job.enabled ? '' : ' · disabled'),
      actions: [startBtn, previewBtn, h('a', { class: 'btn', href: `#/jobs/${id}/edit`, 'data-testid': 'edit-job' }, 'Edit'), deleteBtn],
    }),
    activeSlot,
    previewSlot,
    h('div', { class: 'grid-2 wide-left' },
      historySlot,
      card('Settings', settingsList(job, accountName), { testid: 'job-settings-card' })));
  renderHistory(runs);

  const active = runs.find(isActive);
  showActive(active || null);
  const previewRunId = previews.get(id);
  if (previewRunId) {
    const r = runs.find((x) => x.id === previewRunId);
    if (r && !isActive(r)) showPreview(r);
  }
  return () => stops.forEach((s) => s());
}

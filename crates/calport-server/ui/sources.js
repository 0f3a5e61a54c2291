// Webhooks in: sources of pushed changes (Microsoft 365 / Power Automate), their target
// calendar, strategy and key (shown once), event mappings, history, and the conflicts
// between two sources parked for a person.

import {
  h, fill, get, post, patch, del, card, pageHeader, emptyState, table, row, field, radioGroup,
  radioValue, checkbox, showFormError, clearFormErrors, toast, toastError, confirmDialog, dialog,
  secretBox, loading, badge, timeAgo, fmtDate, fmtNumber, plural, refreshPage, uid,
} from './lib.js';

const STRATEGIES = [
  { value: 'last_write_wins', label: 'Newest change wins', help: 'When two sources carry the same meeting, the version modified last is shown.' },
  { value: 'priority_based', label: 'Higher priority wins', help: 'The source with the higher priority is shown; ties keep what is shown.' },
  { value: 'manual', label: 'Ask me', help: 'The change waits under "Open conflicts between sources" until you choose.' },
];
const STRATEGY_LABEL = Object.fromEntries(STRATEGIES.map((s) => [s.value, s.label]));

// status: [badge, tone, in a count]
const EVENT_STATUS = {
  active: ['In the calendar', 'ok', 'in the calendar'],
  superseded: ['Another source shown', 'neutral', 'superseded'],
  conflict: ['Waiting for you', 'warn', 'waiting for you'],
  pending_master: ['Waiting for its series', 'info', 'waiting for their series'],
  cancelled: ['Cancelled', 'neutral', 'cancelled'],
  deleted: ['Deleted', 'neutral', 'deleted'],
};
const ACTIONS = {
  create: ['Created', 'ok'],
  update: ['Updated', 'info'],
  delete: ['Deleted', 'neutral'],
  skip: ['Skipped', 'neutral'],
  conflict: ['Conflict', 'warn'],
  retry: ['Retry', 'warn'],
  dead: ['Dead letter', 'bad'],
  noted: ['Noted', 'neutral'],
};
const INBOX = { pending: ['Waiting', 'info', 'waiting'], done: ['Applied', 'ok', 'applied'], dead: ['Dead letter', 'bad', 'dead letters'] };

const statusBadge = (s) => badge(...(EVENT_STATUS[s] || [s, 'neutral']).slice(0, 2), { 'data-status': s });
const actionBadge = (a) => badge(...(ACTIONS[a] || [a, 'neutral']), { 'data-action': a });
const inboxBadge = (st) => badge(...(INBOX[st] || [st, 'neutral']).slice(0, 2), { 'data-state': st });
const enabledBadge = (s) => (s.enabled ? badge('Enabled', 'ok') : badge('Disabled', 'neutral'));
const segment = (href) => decodeURIComponent(String(href || '').replace(/\/+$/, '').split('/').pop() || href || '');
const sourceHref = (id) => `#/sources/${encodeURIComponent(id)}`;

function countsText(counts, labels) {
  const parts = Object.entries(counts || {}).filter(([, n]) => n)
    .map(([k, n]) => `${fmtNumber(n)} ${labels[k] ? labels[k][2] : k}`);
  return parts.length ? parts.join(' · ') : 'none';
}

/** Text with a Copy button (for addresses and ids; secrets use secretBox). */
function copyable(text, testid) {
  const button = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Copy ${text}` }, 'Copy');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and press Ctrl+C';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2500);
  });
  return h('div', { class: 'secret-row' }, h('code', { class: 'secret break', 'data-testid': testid }, text), button);
}

function setupFacts(s) {
  const origin = window.location.origin;
  return [
    h('h3', {}, 'Power Automate (an HTTP action per trigger)'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Method'), h('dd', {}, h('code', {}, 'POST')),
      h('dt', {}, 'Address'), h('dd', {},
        copyable(`${origin}/api/webhook/event/created`, 'webhook-url'),
        h('p', { class: 'hint' }, 'End it in ', h('code', {}, 'created'), ', ', h('code', {}, 'updated'), ' or ', h('code', {}, 'deleted'), ' to match the trigger. The body is the event as Graph returns it.')),
      h('dt', {}, 'Header X-Calendar-Source'), h('dd', {}, copyable(s.id, 'webhook-source-header')),
      h('dt', {}, 'Header X-API-Key'), h('dd', {}, 'The source\'s key')),
    h('h3', {}, 'Microsoft Graph change notifications'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'notificationUrl'), h('dd', {}, copyable(`${origin}${s.graph_notification_path}`, 'graph-url')),
      h('dt', {}, 'clientState'), h('dd', {}, 'The source\'s clientState')),
  ];
}

/** The key and clientState of a source just made or rotated: shown this once. */
async function showSecrets(answer, title) {
  const s = answer.source;
  const facts = setupFacts(s);
  // Put the secrets in place of their placeholders.
  facts[1].lastChild.replaceChildren(secretBox(answer.key, { label: 'Source key', testid: 'source-key' }));
  facts[3].lastChild.replaceChildren(secretBox(answer.client_state, { label: 'Graph clientState', testid: 'source-client-state' }));
  await dialog({
    title, wide: true, testid: 'source-secrets',
    body: h('div', {}, h('p', {}, 'Set up the sender of ', h('strong', {}, s.name), ' with these values. calport stores only hashes of the key and clientState.'), facts),
    actions: [{ label: 'I have copied them', value: true, tone: 'primary', testid: 'secrets-done' }],
  });
}

// ---------------------------------------------------------------------------------------
// The form (add and edit)
// ---------------------------------------------------------------------------------------

function calendarPicker(accountSel, original) {
  const select = h('select', { 'data-testid': 'source-calendar' });
  const status = h('p', { class: 'muted small', 'data-testid': 'source-calendar-status', 'aria-live': 'polite' });
  let token = 0;
  async function load() {
    const id = Number(accountSel.value);
    const current = original && id === original.account_id ? original.calendar : null;
    const mine = ++token;
    select.disabled = true;
    fill(select, h('option', { value: current || '' }, 'Loading calendars…'));
    status.textContent = '';
    try {
      const cals = (await get(`/api/accounts/${id}/collections`))
        .filter((c) => c.kind === 'calendar' && (!(c.components || []).length || c.components.includes('VEVENT')));
      if (mine !== token) return;
      const opts = cals.map((c) => h('option', { value: c.href, selected: c.href === current },
        `${c.name || segment(c.href)}${c.read_only ? ' (read-only)' : ''}`));
      if (current && !cals.some((c) => c.href === current)) {
        opts.unshift(h('option', { value: current, selected: true }, `${segment(current)} (not found on the account)`));
      }
      if (!opts.length) opts.push(h('option', { value: '' }, 'No calendar on this account'));
      fill(select, opts);
      status.textContent = cals.length ? `${plural(cals.length, 'event calendar')} on this account.` : 'Create a calendar on the account first.';
    } catch (err) {
      if (mine !== token) return;
      fill(select, h('option', { value: current || '' }, current ? segment(current) : 'Cannot list the calendars'));
      status.textContent = `Cannot list the calendars: ${err.message}`;
    } finally {
      if (mine === token) select.disabled = false;
    }
  }
  accountSel.addEventListener('change', load);
  return { select, status, load };
}

function sourceForm(accounts, source) {
  const editing = Boolean(source);
  const id = h('input', { type: 'text', required: true, maxlength: '64', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. m365-work', pattern: '[A-Za-z0-9._-]+' });
  const name = h('input', { type: 'text', maxlength: '200', autocomplete: 'off', value: source ? source.name : '' });
  const account = h('select', { 'data-testid': 'source-account' },
    accounts.map((a) => h('option', { value: String(a.id), selected: source && a.id === source.account_id }, `${a.name} (${a.username})`)));
  const picker = calendarPicker(account, source);
  const priority = h('input', { type: 'number', class: 'input-short', step: '1', inputmode: 'numeric', value: String(source ? source.priority : 0) });
  const radioName = uid('conflict');
  const strategy = radioGroup({
    legend: 'When two sources carry the same meeting', name: radioName, field: 'conflict', options: STRATEGIES,
    value: source ? source.conflict : 'last_write_wins', testid: 'source-conflict',
  });
  const enabled = checkbox({ label: 'Enabled', checked: source ? source.enabled : true, help: 'Disabled sources answer their webhooks with an error and change nothing.', testid: 'source-enabled', name: 'enabled' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'source-submit' }, editing ? 'Save changes' : 'Add source');
  const calendarField = field({ label: 'Target calendar', name: 'calendar', control: picker.select, hint: 'Pushed events are written here.' });
  calendarField.insertBefore(picker.status, calendarField.querySelector('.field-error'));
  const form = h('form', { class: 'form', 'data-testid': 'source-form', novalidate: true },
    h('p', { class: 'form-error', role: 'alert', hidden: true, tabindex: '-1', 'data-testid': 'source-form-error' }),
    editing ? null : field({ label: 'Source id', name: 'id', control: id, testid: 'source-id', hint: 'Senders name it in the X-Calendar-Source header. Letters, digits, ".", "_" and "-"; it cannot be changed later.' }),
    field({ label: 'Name', name: 'name', control: name, testid: 'source-name', hint: editing ? null : 'For you. Leave blank to use the id.' }),
    h('div', { class: 'grid-2 tight' },
      field({ label: 'Account of the target calendar', name: 'account_id', control: account }),
      calendarField),
    field({ label: 'Priority', name: 'priority', control: priority, testid: 'source-priority', hint: 'Higher wins under "Higher priority wins".' }),
    strategy,
    enabled,
    h('div', { class: 'form-actions' }, submit));
  picker.load();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const body = {};
    if (!editing) {
      body.id = id.value.trim();
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(body.id)) return showFormError(form, { field: 'id', message: 'Use 1 to 64 letters, digits, ".", "_" or "-".' });
    }
    if (name.value.trim() || editing) body.name = name.value.trim();
    if (editing && !body.name) return showFormError(form, { field: 'name', message: 'Give the source a name.' });
    body.account_id = Number(account.value);
    body.calendar = picker.select.value;
    if (!body.calendar) return showFormError(form, { field: 'calendar', message: 'Choose the calendar the events go to.' });
    if (!/^-?\d+$/.test(priority.value.trim())) return showFormError(form, { field: 'priority', message: 'Enter a whole number (0 is fine).' });
    body.priority = Number(priority.value.trim());
    body.conflict = radioValue(form, radioName);
    body.enabled = enabled.querySelector('input').checked;
    submit.disabled = true;
    try {
      if (editing) {
        const saved = await patch(`/api/sources/${encodeURIComponent(source.id)}`, body);
        toast(`Saved ${saved.name}.`);
        refreshPage();
      } else {
        const answer = await post('/api/sources', body);
        await showSecrets(answer, `Source ${answer.source.name} added`);
        window.location.hash = sourceHref(answer.source.id);
      }
    } catch (err) {
      if (err.status === 409) showFormError(form, { field: 'id', message: err.message });
      else showFormError(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// ---------------------------------------------------------------------------------------
// Inbox entries, conflicts
// ---------------------------------------------------------------------------------------

async function openInbox(requestId) {
  const body = h('div', { 'aria-live': 'polite' }, loading('Loading the webhook…'));
  const shown = dialog({ title: `Webhook ${requestId}`, body, wide: true, testid: 'inbox-dialog' });
  try {
    const e = await get(`/api/inbox/${encodeURIComponent(requestId)}`);
    fill(body,
      h('dl', { class: 'facts' },
        h('dt', {}, 'Source'), h('dd', {}, h('a', { href: sourceHref(e.source) }, e.source)),
        h('dt', {}, 'Action'), h('dd', {}, e.action),
        h('dt', {}, 'Event id'), h('dd', { class: 'break' }, h('code', {}, e.event_id)),
        h('dt', {}, 'State'), h('dd', { 'data-testid': 'inbox-state' }, inboxBadge(e.state),
          e.state === 'dead' ? [' ', h('a', { href: '#/dead-letters' }, 'See dead letters')] : null),
        h('dt', {}, 'Outcome'), h('dd', {}, e.outcome ? actionBadge(e.outcome) : '–'),
        h('dt', {}, 'Failed attempts'), h('dd', {}, String(e.attempts)),
        e.last_error ? [h('dt', {}, 'Last error'), h('dd', { class: 'text-bad' }, e.last_error)] : null,
        h('dt', {}, 'Received'), h('dd', {}, fmtDate(e.received_at)),
        h('dt', {}, 'Applied'), h('dd', {}, fmtDate(e.applied_at))),
      h('h3', {}, 'Decisions'),
      e.history.length
        ? h('ul', { class: 'plain', 'data-testid': 'inbox-history' }, e.history.map((l) => h('li', {}, timeAgo(l.at), ' ', actionBadge(l.action), ' ', l.detail)))
        : h('p', { class: 'muted' }, 'None yet.'));
  } catch (err) {
    fill(body, h('div', { class: 'notice notice-bad', role: 'alert' }, err.message));
  }
  return shown;
}

const requestLink = (rid) => (rid
  ? h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': 'open-inbox', 'aria-label': `What became of webhook ${rid}`, onclick: () => openInbox(rid) }, h('code', {}, rid.length > 14 ? `${rid.slice(0, 12)}…` : rid))
  : h('span', { class: 'muted' }, '–'));

async function conflictsCard(only) {
  const all = await get('/api/ingest/conflicts?state=open');
  const list = only ? all.filter((c) => c.source === only || c.other_source === only) : all;
  const title = 'Open conflicts between sources';
  if (!list.length) {
    return card(title, h('p', { class: 'muted', 'data-testid': 'ingest-conflicts-empty' },
      'None. Under "Ask me", a meeting pushed by two sources waits here until you choose the version the calendar shows.'), { testid: 'ingest-conflicts' });
  }
  const columns = [{ label: 'Meeting' }, { label: 'Incoming' }, { label: 'Shown now' }, { label: 'Parked' }, { label: 'Decide', cls: 'actions' }];
  const rows = list.map((c) => {
    const buttons = [['incoming', 'Keep incoming'], ['existing', 'Keep existing']].map(([keep, label]) => h('button', {
      type: 'button', class: `btn btn-small ${keep === 'incoming' ? 'btn-primary' : ''}`, 'data-testid': `keep-${keep}`,
      'aria-label': `${label} for ${c.ical_uid}`,
    }, label));
    buttons.forEach((b, i) => b.addEventListener('click', async () => {
      const keep = i ? 'existing' : 'incoming';
      buttons.forEach((x) => { x.disabled = true; });
      try {
        await post(`/api/ingest/conflicts/${c.id}/resolve`, { keep });
        toast(keep === 'incoming' ? `The version of ${c.source} goes to the calendar now.` : `The calendar keeps the version of ${c.other_source}.`);
        refreshPage();
      } catch (err) {
        toastError(err);
        buttons.forEach((x) => { x.disabled = false; });
      }
    }));
    return row(columns, [
      h('code', { class: 'break small' }, c.ical_uid),
      h('span', {}, h('a', { href: sourceHref(c.source), class: 'strong' }, c.source), h('span', { class: 'block small muted break' }, c.event_id), requestLink(c.request_id)),
      h('span', {}, h('a', { href: sourceHref(c.other_source), class: 'strong' }, c.other_source), h('span', { class: 'block small muted break' }, c.other_event)),
      timeAgo(c.created_at),
      h('div', { class: 'button-row' }, buttons),
    ], { 'data-testid': 'ingest-conflict-row', 'data-conflict-id': c.id });
  });
  return card(title, [
    h('p', { class: 'muted' }, '"Keep incoming" shows the parked change; "Keep existing" keeps what the calendar shows.'),
    table(columns, rows, { testid: 'ingest-conflicts-table', caption: title }),
  ], { testid: 'ingest-conflicts' });
}

// ---------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------

export async function sourcesPage(root) {
  const [sources, accounts, conflicts] = await Promise.all([get('/api/sources'), get('/api/accounts'), conflictsCard()]);
  const accountName = (id) => (accounts.find((a) => a.id === id) || { name: `Account ${id}` }).name;
  const head = pageHeader('Webhooks in', {
    subtitle: 'Changes pushed to calport (Microsoft 365 through Power Automate or Graph notifications) and written to a CalDAV calendar.',
    actions: accounts.length ? h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'add-source', onclick: () => { const f = root.querySelector('#add-source input'); if (f) f.focus(); } }, 'Add source') : null,
  });
  const addCard = accounts.length
    ? h('section', { class: 'card', id: 'add-source', 'data-testid': 'add-source-card' },
      h('div', { class: 'card-head' }, h('h2', {}, 'Add a source')),
      h('p', { class: 'muted' }, 'Each sender gets its own source, with its own key, target calendar and priority.'),
      sourceForm(accounts, null))
    : card(null, emptyState({
      title: 'Add an account first',
      text: 'A source writes pushed events into a calendar of a CalDAV account.',
      action: h('a', { class: 'btn btn-primary', href: '#/accounts/new' }, 'Add an account'),
      testid: 'sources-no-account',
    }));
  let list;
  if (!sources.length) {
    list = card(null, emptyState({ title: 'No source yet', text: 'Add a source below, then point Power Automate or a Graph subscription at the address it shows.', testid: 'sources-empty' }));
  } else {
    const columns = [{ label: 'Source' }, { label: 'Target' }, { label: 'Priority', cls: 'num' }, { label: 'Strategy' }, { label: 'Events' }, { label: 'Last webhook' }];
    list = card(null, table(columns, sources.map((s) => row(columns, [
      h('span', {}, h('a', { href: sourceHref(s.id), class: 'strong', 'data-testid': 'source-link' }, s.name), h('span', { class: 'block small muted' }, h('code', {}, s.id), ' ', enabledBadge(s))),
      h('span', {}, accountName(s.account_id), h('span', { class: 'block small muted break' }, segment(s.calendar))),
      fmtNumber(s.priority),
      STRATEGY_LABEL[s.conflict] || s.conflict,
      h('span', { class: 'small' }, countsText(s.events, EVENT_STATUS),
        s.inbox && (s.inbox.pending || s.inbox.dead) ? h('span', { class: 'block' }, `Inbox: ${countsText({ pending: s.inbox.pending, dead: s.inbox.dead }, INBOX)}`) : null),
      timeAgo(s.last_received_at),
    ], { 'data-testid': 'source-row', 'data-source-id': s.id })), { testid: 'sources-table', caption: 'Sources' }));
  }
  fill(root, head, list, conflicts, addCard,
    h('p', { class: 'muted small' }, 'Pushed changes that keep failing are set aside as dead letters (source "inbox"): ', h('a', { href: '#/dead-letters' }, 'see dead letters'), '.'));
}

// ---------------------------------------------------------------------------------------
// One source
// ---------------------------------------------------------------------------------------

function filteredCard({ title, testid, filterLabel, options, load, columns, toRow, empty }) {
  const selId = uid('flt');
  const select = h('select', { id: selId, 'data-testid': `${testid}-filter` },
    h('option', { value: '' }, 'All'), Object.entries(options).map(([v, [label]]) => h('option', { value: v }, label)));
  const slot = h('div', { 'aria-live': 'polite' }, loading());
  let token = 0;
  const refresh = async () => {
    const mine = ++token;
    try {
      const items = await load(select.value);
      if (mine !== token) return;
      fill(slot, items.length
        ? table(columns, items.map((x) => toRow(columns, x)), { testid: `${testid}-table`, caption: title })
        : h('p', { class: 'muted', 'data-testid': `${testid}-empty` }, empty));
    } catch (err) {
      if (mine === token) fill(slot, h('div', { class: 'notice notice-bad', role: 'alert' }, err.message));
    }
  };
  select.addEventListener('change', refresh);
  refresh();
  return card(title, [h('div', { class: 'toolbar' }, h('div', { class: 'field-inline' }, h('label', { for: selId }, filterLabel), select)), slot], { testid });
}

export async function sourcePage(root, { params }) {
  const [id] = params;
  const sid = String(id);
  const path = `/api/sources/${encodeURIComponent(sid)}`;
  const [s, accounts, conflicts] = await Promise.all([get(path), get('/api/accounts'), conflictsCard(sid)]);
  const q = encodeURIComponent(sid);

  const rotate = h('button', { type: 'button', class: 'btn', 'data-testid': 'rotate-key' }, 'New key');
  rotate.addEventListener('click', async () => {
    if (!(await confirmDialog({ title: `New key for ${s.name}?`, message: 'The current key and clientState stop working at once: update the sender right after.', confirm: 'Make a new key', tone: 'primary' }))) return;
    try {
      const answer = await post(`${path}/rotate-key`, undefined);
      await showSecrets(answer, `New key for ${s.name}`);
      refreshPage();
    } catch (err) {
      toastError(err);
    }
  });
  const remove = h('button', { type: 'button', class: 'btn btn-danger-ghost', 'data-testid': 'delete-source' }, 'Delete');
  remove.addEventListener('click', async () => {
    if (!(await confirmDialog({ title: `Delete ${s.name}?`, message: 'calport forgets the source, its key, its waiting webhooks and its event mappings. Events already in the calendar stay, and so does the history.' }))) return;
    try {
      await del(path);
      toast(`Source ${s.name} deleted.`);
      window.location.hash = '#/sources';
    } catch (err) {
      toastError(err);
    }
  });

  const events = filteredCard({
    title: 'Event mappings', testid: 'source-events', filterLabel: 'Status', options: EVENT_STATUS,
    load: (status) => get(`/api/events?source=${q}${status ? `&status=${encodeURIComponent(status)}` : ''}&limit=50`),
    columns: [{ label: 'Event' }, { label: 'CalDAV item' }, { label: 'Status' }, { label: 'Changed' }, { label: 'Webhook' }],
    toRow: (columns, e) => row(columns, [
      h('span', { class: 'break small' }, h('code', {}, e.event_id), e.series_master_id ? h('span', { class: 'block muted' }, `Series ${e.series_master_id}`) : null),
      h('span', { class: 'break small' }, e.caldav_uid || '–', e.href ? h('span', { class: 'block muted' }, e.href) : null),
      h('span', {}, statusBadge(e.status), e.winner ? h('span', { class: 'block small muted' }, `Shown: ${e.winner}`) : null, e.error ? h('span', { class: 'block small text-bad' }, e.error) : null),
      timeAgo(e.updated_at),
      requestLink(e.request_id),
    ], { 'data-testid': 'event-row' }),
    empty: 'No events (with this status) yet.',
  });
  const history = filteredCard({
    title: 'History', testid: 'source-history', filterLabel: 'Action', options: ACTIONS,
    load: (action) => get(`/api/ingest/history?source=${q}${action ? `&action=${encodeURIComponent(action)}` : ''}&limit=50`),
    columns: [{ label: 'When' }, { label: 'Action' }, { label: 'Event' }, { label: 'Detail' }, { label: 'Webhook' }],
    toRow: (columns, l) => row(columns, [
      timeAgo(l.at), actionBadge(l.action), h('code', { class: 'break small' }, l.event_id), h('span', { class: 'small break' }, l.detail), requestLink(l.request_id),
    ], { 'data-testid': 'history-row' }),
    empty: 'Nothing (of this kind) happened yet.',
  });

  const inbox = s.inbox || {};
  fill(root,
    pageHeader(s.name, {
      back: { href: '#/sources', label: 'Webhooks in' },
      subtitle: h('span', {}, enabledBadge(s), ' ', h('code', {}, s.id), ` · last webhook `, timeAgo(s.last_received_at)),
      actions: [rotate, remove],
    }),
    h('div', { class: 'grid-2 wide-left' },
      card('Settings', sourceForm(accounts, s), { testid: 'source-settings' }),
      h('div', { class: 'stack' },
        card('Counts', h('dl', { class: 'facts', 'data-testid': 'source-counts' },
          h('dt', {}, 'Events'), h('dd', {}, countsText(s.events, EVENT_STATUS)),
          h('dt', {}, 'Webhooks'), h('dd', {}, countsText(inbox, INBOX), inbox.dead ? [' · ', h('a', { href: '#/dead-letters' }, 'dead letters')] : null),
          h('dt', {}, 'Key'), h('dd', {}, h('code', {}, `cps_${s.key_lookup}…`)),
          h('dt', {}, 'Graph notifications'), h('dd', {}, s.graph_notifications ? 'Accepted' : 'Off (no clientState)'),
          h('dt', {}, 'Created'), h('dd', {}, fmtDate(s.created_at)))))),
    conflicts, events, history,
    card('Sender setup', [
      h('p', { class: 'muted' }, 'The key and clientState were shown once, when made. Lost them? Make a new key.'),
      setupFacts(s),
    ], { testid: 'source-setup' }));
}

// Shared helpers: DOM building (never innerHTML), the API client with CSRF, formatting,
// toasts, dialogs, live run streams.

// ---------------------------------------------------------------------------------------
// DOM
// ---------------------------------------------------------------------------------------

/**
 * Builds an element. `attrs` keys: `class`, `text`, `on<event>` (functions), `dataset`,
 * boolean properties (`checked`, `disabled`, `selected`, `hidden`, `required`, `open`),
 * `value`, anything else as an attribute. Children: nodes, strings (text), arrays, null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'value') el.value = value;
    else if (['checked', 'disabled', 'selected', 'hidden', 'required', 'open', 'multiple'].includes(key)) {
      el[key] = Boolean(value);
      if (key === 'hidden' || key === 'disabled' || key === 'required') el.setAttribute(key, '');
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces every child of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let idCounter = 0;
export function uid(prefix = 'f') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// ---------------------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || `request failed (${status})`);
    this.status = status;
    this.code = code || 'error';
    this.field = field || null;
  }
}

export const session = { csrf: null, onUnauthorized: null };

async function parse(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Calls the API. Resolves to the parsed JSON (null for 204); throws ApiError with the
 * server's status, code, message and field.
 */
export async function api(method, path, body, { retry = true, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'network', 'Cannot reach calport. Is the service running?');
  }
  const data = await parse(response);
  if (response.ok) return data;
  const e = (data && data.error) || {};
  const error = new ApiError(response.status, e.code, e.message || response.statusText, e.field);
  // A stale CSRF token (e.g. another tab signed in again): fetch the current one, retry once.
  if (response.status === 403 && error.code === 'csrf' && retry) {
    const state = await api('GET', '/api/session', undefined, { retry: false });
    session.csrf = state && state.csrf;
    if (session.csrf) return api(method, path, body, { retry: false, quiet401 });
  }
  if (response.status === 401 && !quiet401 && session.onUnauthorized) session.onUnauthorized();
  return Promise.reject(error);
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

// ---------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const number = new Intl.NumberFormat();

export const fmtNumber = (n) => (n === null || n === undefined ? '–' : number.format(n));
export const fmtDate = (ms) => (ms ? dateTime.format(new Date(ms)) : '–');
export const fmtClock = (ms) => (ms ? timeOnly.format(new Date(ms)) : '');

export function fmtAgo(ms) {
  if (!ms) return '–';
  const seconds = Math.round((ms - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), 'hour');
  if (abs < 86400 * 30) return relative.format(Math.round(seconds / 86400), 'day');
  return dateTime.format(new Date(ms));
}

/** A <time> element showing "5 minutes ago" with the full local date as tooltip. */
export function timeAgo(ms) {
  if (!ms) return h('span', { class: 'muted' }, '–');
  return h('time', { datetime: new Date(ms).toISOString(), title: fmtDate(ms) }, fmtAgo(ms));
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function plural(n, one, many) {
  return `${fmtNumber(n)} ${n === 1 ? one : many || `${one}s`}`;
}

export const RUN_STATES = {
  queued: { label: 'Queued', tone: 'info' },
  running: { label: 'Running', tone: 'info' },
  paused: { label: 'Paused', tone: 'warn' },
  completed: { label: 'Completed', tone: 'ok' },
  partial_failure: { label: 'Needs attention', tone: 'warn' },
  failed: { label: 'Failed', tone: 'bad' },
  cancelled: { label: 'Cancelled', tone: 'neutral' },
};

export const ACTIVE_STATES = ['queued', 'running', 'paused'];
export const isActive = (run) => Boolean(run && ACTIVE_STATES.includes(run.state));

export function badge(text, tone = 'neutral', attrs = {}) {
  return h('span', { class: `badge badge-${tone}`, ...attrs }, text);
}

export function runBadge(run, attrs = {}) {
  if (!run) return badge('Never run', 'neutral', attrs);
  const s = RUN_STATES[run.state] || { label: run.state, tone: 'neutral' };
  let label = s.label;
  if (run.requested === 'pause' && run.state === 'running') label = 'Pausing…';
  if (run.requested === 'cancel' && run.state === 'running') label = 'Cancelling…';
  return badge(label, s.tone, { 'data-state': run.state, ...attrs });
}

/** Sum of created+updated+deleted over both kinds. */
export function statsSummary(stats) {
  if (!stats) return '';
  const k = (c) => c || { created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0, conflicts: 0 };
  const e = k(stats.events);
  const c = k(stats.contacts);
  const parts = [];
  const created = e.created + c.created;
  const updated = e.updated + c.updated;
  const deleted = e.deleted + c.deleted;
  const failed = e.failed + c.failed;
  const conflicts = e.conflicts + c.conflicts;
  if (created) parts.push(`${fmtNumber(created)} created`);
  if (updated) parts.push(`${fmtNumber(updated)} updated`);
  if (deleted) parts.push(`${fmtNumber(deleted)} deleted`);
  if (failed) parts.push(`${fmtNumber(failed)} failed`);
  if (conflicts) parts.push(plural(conflicts, 'conflict'));
  if (!parts.length) parts.push('no changes');
  return parts.join(' · ');
}

// ---------------------------------------------------------------------------------------
// Feedback: toasts (ARIA live), field errors
// ---------------------------------------------------------------------------------------

export function toast(message, tone = 'ok') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const item = h('div', { class: `toast toast-${tone}`, role: tone === 'bad' ? 'alert' : 'status', 'data-testid': 'toast' },
    h('span', {}, message),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'));
  region.append(item);
  while (region.children.length > 3) region.firstElementChild.remove();
  setTimeout(() => item.remove(), tone === 'bad' ? 9000 : 4500);
}

export function errorText(err) {
  if (!err) return 'Something went wrong.';
  if (err instanceof ApiError) return err.message;
  return err.message || String(err);
}

export function toastError(err, prefix) {
  toast(prefix ? `${prefix}: ${errorText(err)}` : errorText(err), 'bad');
}

/**
 * Shows a server error on a form: next to the field it names (an element with
 * `data-field="<name>"` inside the form: the message goes into its `.field-error`) or in
 * the form's general error box.
 */
export function showFormError(form, err) {
  clearFormErrors(form);
  const field = err && err.field;
  let slot = null;
  if (field) {
    slot = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
    // "options.pairs[0].a" → "options.pairs"; "options" → general.
    if (!slot) {
      const base = field.replace(/\[\d+\].*$/, '').replace(/\.[^.]*$/, (m) => m);
      slot = form.querySelector(`[data-field="${CSS.escape(base)}"]`);
    }
  }
  if (slot) {
    const box = slot.querySelector('.field-error');
    slot.classList.add('has-error');
    if (box) {
      box.textContent = err.message;
      box.hidden = false;
    }
    const input = slot.querySelector('input, select, textarea');
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
    return;
  }
  const general = form.querySelector('.form-error');
  if (general) {
    general.textContent = errorText(err);
    general.hidden = false;
    general.focus();
  } else {
    toastError(err);
  }
}

export function clearFormErrors(form) {
  form.querySelectorAll('.has-error').forEach((el) => el.classList.remove('has-error'));
  form.querySelectorAll('.field-error').forEach((el) => {
    el.textContent = '';
    el.hidden = true;
  });
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  form.querySelectorAll('.form-error').forEach((el) => {
    el.textContent = '';
    el.hidden = true;
  });
}

/**
 * A labelled form field wrapper: label, the control, a hint and an error slot.
 * `name` is the API field name shown in 422 answers.
 */
export function field({ label, name, control, hint, testid }) {
  const id = control.id || uid('in');
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-err`;
  control.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));
  if (testid && !control.dataset.testid) control.dataset.testid = testid;
  return h('div', { class: 'field', 'data-field': name },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errId, hidden: true, role: 'alert' }));
}

/** A fieldset of radio buttons with a title and per-option explanation. */
export function radioGroup({ legend, name, field: apiField, options, value, onchange, testid, hint }) {
  const set = h('fieldset', { class: 'field radios', 'data-field': apiField || name, 'data-testid': testid },
    h('legend', {}, legend),
    hint ? h('p', { class: 'hint' }, hint) : null);
  for (const opt of options) {
    const id = uid('r');
    const input = h('input', {
      type: 'radio', id, name, value: opt.value, checked: opt.value === value,
      'data-testid': testid ? `${testid}-${opt.value}` : null,
      onchange: () => onchange && onchange(opt.value),
    });
    set.append(h('div', { class: 'radio' + (opt.disabled ? ' is-disabled' : ''), 'data-option': opt.value },
      input,
      h('label', { for: id },
        h('span', { class: 'radio-title' }, opt.label),
        opt.help ? h('span', { class: 'radio-help' }, opt.help) : null)));
    if (opt.disabled) input.disabled = true;
  }
  set.append(h('p', { class: 'field-error', hidden: true, role: 'alert' }));
  return set;
}

export function radioValue(root, name) {
  const checked = root.querySelector(`input[name="${CSS.escape(name)}"]:checked`);
  return checked ? checked.value : null;
}

export function checkbox({ label, checked, help, testid, name, onchange }) {
  const id = uid('c');
  return h('div', { class: 'check', 'data-field': name },
    h('input', { type: 'checkbox', id, checked, 'data-testid': testid, onchange }),
    h('label', { for: id }, h('span', { class: 'radio-title' }, label), help ? h('span', { class: 'radio-help' }, help) : null),
    h('p', { class: 'field-error', hidden: true, role: 'alert' }));
}

// ---------------------------------------------------------------------------------------
// Dialogs
// ---------------------------------------------------------------------------------------

/** Opens a modal dialog; resolves with the value of the button that closed it. */
export function dialog({ title, body, actions = [{ label: 'Close', value: null }], testid, wide }) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const dlg = h('dialog', { class: 'dialog' + (wide ? ' dialog-wide' : ''), 'aria-labelledby': titleId, 'data-testid': testid });
    const close = (value) => {
      dlg.close();
      dlg.remove();
      resolve(value);
    };
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(null);
    });
    append(dlg, [
      h('div', { class: 'dialog-head' },
        h('h2', { id: titleId }, title),
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onclick: () => close(null) }, '×')),
      h('div', { class: 'dialog-body' }, body),
      h('div', { class: 'dialog-actions' },
        actions.map((a) => h('button', {
          type: 'button',
          class: `btn ${a.tone ? `btn-${a.tone}` : ''}`,
          'data-testid': a.testid,
          onclick: () => close(a.value),
        }, a.label))),
    ]);
    document.body.append(dlg);
    dlg.showModal();
    const primary = dlg.querySelector('.dialog-actions .btn-primary, .dialog-actions .btn-danger');
    (primary || dlg.querySelector('.dialog-actions button')).focus();
  });
}

export async function confirmDialog({ title, message, confirm = 'Delete', tone = 'danger' }) {
  const value = await dialog({
    title,
    body: h('p', {}, message),
    testid: 'confirm-dialog',
    actions: [
      { label: 'Cancel', value: false, testid: 'confirm-cancel' },
      { label: confirm, value: true, tone, testid: 'confirm-ok' },
    ],
  });
  return value === true;
}

/** A box that shows a secret once, with a copy button. */
export function secretBox(secret, { label, testid }) {
  const code = h('code', { class: 'secret', 'data-testid': testid }, secret);
  const button = h('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': `${testid}-copy`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        button.textContent = 'Copied';
      } catch {
        const range = document.createRange();
        range.selectNodeContents(code);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        button.textContent = 'Selected: press Ctrl+C';
      }
      setTimeout(() => { button.textContent = 'Copy'; }, 2500);
    },
  }, 'Copy');
  return h('div', { class: 'secret-box', role: 'group', 'aria-label': label },
    h('p', { class: 'secret-note' }, h('strong', {}, 'Copy it now. '), 'It is shown only this once and cannot be shown again.'),
    h('div', { class: 'secret-row' }, code, button));
}

// ---------------------------------------------------------------------------------------
// Page pieces
// ---------------------------------------------------------------------------------------

export function pageHeader(title, { subtitle, actions, back } = {}) {
  return h('div', { class: 'page-head' },
    h('div', {},
      back ? h('a', { class: 'back', href: back.href }, `← ${back.label}`) : null,
      h('h1', { tabindex: '-1', class: 'page-title' }, title),
      subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
    actions ? h('div', { class: 'page-actions' }, actions) : null);
}

export function card(title, children, { actions, testid, cls } = {}) {
  return h('section', { class: `card ${cls || ''}`, 'data-testid': testid },
    title ? h('div', { class: 'card-head' }, h('h2', {}, title), actions ? h('div', { class: 'card-actions' }, actions) : null) : null,
    children);
}

export function emptyState({ title, text, action, testid }) {
  return h('div', { class: 'empty', 'data-testid': testid },
    h('div', { class: 'empty-icon', 'aria-hidden': 'true' }),
    h('h3', {}, title),
    text ? h('p', {}, text) : null,
    action || null);
}

export function loading(text = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function errorPanel(err, retry) {
  return h('div', { class: 'error-panel', role: 'alert', 'data-testid': 'error-panel' },
    h('strong', {}, err && err.status === 404 ? 'Not found. ' : 'Could not load this page. '),
    errorText(err),
    retry ? h('button', { type: 'button', class: 'btn btn-small', onclick: retry }, 'Try again') : null);
}

/**
 * A responsive table: columns [{label, cls}], rows of cells. Each cell gets
 * `data-label` so it can stack on phones.
 */
export function table(columns, rows, { testid, caption } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'table', 'data-testid': testid },
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.cls }, c.label)))),
      h('tbody', {}, rows)));
}

export function row(columns, cells, attrs = {}) {
  return h('tr', attrs, cells.map((cell, i) => h('td', { 'data-label': columns[i].label, class: columns[i].cls },
    h('div', { class: 'cell' }, cell))));
}

/** A progress bar (role=progressbar); update with `setProgress`. */
export function progressBar(percent, { testid, label } = {}) {
  const fillEl = h('div', { class: 'progress-fill' });
  const bar = h('div', {
    class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100',
    'aria-label': label || 'Progress', 'data-testid': testid,
  }, fillEl);
  setProgress(bar, percent);
  return bar;
}

export function setProgress(bar, percent, done) {
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  bar.setAttribute('aria-valuenow', String(p));
  bar.setAttribute('aria-valuetext', `${p.toFixed(p % 1 ? 1 : 0)} %`);
  bar.dataset.value = String(p);
  bar.firstChild.style.width = `${p}%`;
  bar.classList.toggle('is-done', Boolean(done));
}

// ---------------------------------------------------------------------------------------
// Live runs (Server-Sent Events)
// ---------------------------------------------------------------------------------------

/**
 * Follows a run: calls onRun(run) for each `run` event, onLog(line) for each `log` event
 * and onEnd(state) at the end. Returns a function that stops following.
 */
export function followRun(id, { onRun, onLog, onEnd }) {
  let closed = false;
  let source = null;
  let retries = 0;
  const open = () => {
    if (closed) return;
    source = new EventSource(`/api/runs/${id}/events`);
    source.addEventListener('run', (e) => {
      retries = 0;
      try {
        if (onRun) onRun(JSON.parse(e.data));
      } catch (err) {
        console.error(err);
      }
    });
    source.addEventListener('log', (e) => {
      try {
        if (onLog) onLog(JSON.parse(e.data));
      } catch (err) {
        console.error(err);
      }
    });
    source.addEventListener('end', (e) => {
      closed = true;
      source.close();
      if (onEnd) onEnd(e.data);
    });
    source.onerror = () => {
      // The stream closes after an hour, or the server restarts: reopen a few times.
      if (closed) return;
      source.close();
      retries += 1;
      if (retries <= 5) setTimeout(open, 1000 * retries);
    };
  };
  open();
  return () => {
    closed = true;
    if (source) source.close();
  };
}

/** A small cache of names (accounts, jobs) for labels, refreshed on demand. */
export const names = {
  accounts: new Map(),
  jobs: new Map(),
  async load() {
    const [accounts, jobs] = await Promise.all([get('/api/accounts'), get('/api/sync-jobs')]);
    this.accounts = new Map(accounts.map((a) => [a.id, a]));
    this.jobs = new Map(jobs.map((j) => [j.id, j]));
    return { accounts, jobs };
  },
  job(id) {
    const j = this.jobs.get(id);
    return j ? j.name : `Job ${id}`;
  },
  account(id) {
    const a = this.accounts.get(id);
    return a ? a.name : `Account ${id}`;
  },
};

/** Asks the app to re-render the current page (keeps the scroll position). */
export function refreshPage() {
  window.dispatchEvent(new Event('calport:refresh'));
}

/** The label of a job's direction, for people. */
export function directionText(job) {
  const o = (job && job.options) || {};
  if (job && job.kind === 'migrate') return 'Copy A → B once';
  if (o.direction === 'a-to-b') return 'A → B';
  if (o.direction === 'b-to-a') return 'B → A';
  return 'A ⇄ B';
}

/** The arrow between a job's two account names: which way items flow. */
export function directionArrow(job) {
  const o = (job && job.options) || {};
  if (job && job.kind === 'migrate') return '→';
  if (o.direction === 'a-to-b') return '→';
  if (o.direction === 'b-to-a') return '←';
  return '⇄';
}

export function scheduleText(schedule) {
  if (!schedule) return 'Only when started';
  const m = /^(\d+)([smhd])$/.exec(schedule.trim());
  if (m) {
    const unit = { s: 'second', m: 'minute', h: 'hour', d: 'day' }[m[2]];
    const n = Number(m[1]);
    return n === 1 ? `Every ${unit}` : `Every ${n} ${unit}s`;
  }
  if (/^\d+[smhd]/.test(schedule.trim())) return `Every ${schedule.trim()}`;
  return `Cron ${schedule} (UTC)`;
}

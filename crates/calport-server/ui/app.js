// calport web UI: start-up, sign-in / first-start setup, header and hash routing.

import {
  h, fill, api, get, session, field, showFormError, clearFormErrors, errorPanel, loading, toast,
} from './lib.js';
import { dashboardPage } from './dashboard.js';
import { accountsPage, accountFormPage } from './accounts.js';
import { jobsPage, jobFormPage, jobPage } from './jobs.js';
import { runPage } from './runs.js';
import { conflictsPage, conflictPage, deadLettersPage } from './conflicts.js';
import { settingsPage } from './settings.js';
import { sourcesPage, sourcePage } from './sources.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
let cleanup = null;
let signedIn = false;

// ---------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------

const routes = [
  [/^\/?$/, () => dashboardPage, 'dashboard'],
  [/^\/dashboard$/, () => dashboardPage, 'dashboard'],
  [/^\/accounts$/, () => accountsPage, 'accounts'],
  [/^\/accounts\/new$/, () => accountFormPage, 'accounts'],
  [/^\/accounts\/(\d+)\/edit$/, () => accountFormPage, 'accounts'],
  [/^\/jobs$/, () => jobsPage, 'jobs'],
  [/^\/jobs\/new$/, () => jobFormPage, 'jobs'],
  [/^\/jobs\/(\d+)\/edit$/, () => jobFormPage, 'jobs'],
  [/^\/jobs\/(\d+)$/, () => jobPage, 'jobs'],
  [/^\/runs\/(\d+)$/, () => runPage, 'jobs'],
  [/^\/conflicts$/, () => conflictsPage, 'conflicts'],
  [/^\/conflicts\/(\d+)$/, () => conflictPage, 'conflicts'],
  [/^\/sources$/, () => sourcesPage, 'sources'],
  [/^\/sources\/([A-Za-z0-9._-]+)$/, () => sourcePage, 'sources'],
  [/^\/dead-letters$/, () => deadLettersPage, 'dead-letters'],
  [/^\/settings$/, () => settingsPage, 'settings'],
];

function currentPath() {
  const hash = window.location.hash.replace(/^#/, '');
  const [path, query] = hash.split('?');
  return { path: path || '/dashboard', query: new URLSearchParams(query || '') };
}

async function render() {
  if (!signedIn) return;
  if (cleanup) {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
    cleanup = null;
  }
  closeMenu();
  const { path, query } = currentPath();
  const match = routes.map(([re, page, nav]) => [path.match(re), page, nav]).find(([m]) => m);
  document.querySelectorAll('#nav a[data-route]').forEach((a) => {
    if (match && a.dataset.route === match[2]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  if (!match) {
    fill(main, h('div', { class: 'page' },
      h('h1', { class: 'page-title', tabindex: '-1' }, 'Page not found'),
      h('p', {}, 'There is nothing at this address. ', h('a', { href: '#/dashboard' }, 'Go to the dashboard'), '.')));
    return;
  }
  const [m, page] = match;
  // Numeric ids as numbers; others (source ids) as text.
  const params = m.slice(1).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const container = h('div', { class: 'page' });
  fill(main, container);
  const token = {};
  render.token = token;
  try {
    const result = await page()(container, { params, query, isCurrent: () => render.token === token });
    if (render.token !== token) {
      if (typeof result === 'function') result();
      return;
    }
    cleanup = typeof result === 'function' ? result : null;
  } catch (err) {
    if (render.token !== token) return;
    if (err && err.status === 401) return;
    console.error(err);
    fill(container, errorPanel(err, () => render()));
  }
  if (render.focusTitle) {
    const title = container.querySelector('.page-title');
    if (title) title.focus({ preventScroll: true });
  }
  render.focusTitle = true;
  updateCounts();
}

/** Re-renders the current page (used by pages after an action). */
export function refresh() {
  render.focusTitle = false;
  return render();
}
window.addEventListener('calport:refresh', () => refresh());

// Header counters for conflicts and dead letters.
async function updateCounts() {
  try {
    const [conflicts, dead] = await Promise.all([
      get('/api/conflicts'),
      get('/api/dead-letters?state=open'),
    ]);
    const open = conflicts.filter((c) => !c.resolution).length;
    setCount('nav-conflicts-count', open, 'open conflicts');
    setCount('nav-dead-count', dead.length, 'open dead letters');
  } catch {
    // counters are a nicety
  }
  try {
    const parked = await get('/api/ingest/conflicts?state=open');
    setCount('nav-sources-count', parked.length, 'open conflicts between sources');
  } catch {
    // likewise
  }
}

function setCount(id, n, label) {
  const el = document.getElementById(id);
  if (!el) return;
  el.hidden = !n;
  el.textContent = n ? String(n) : '';
  el.setAttribute('aria-label', `${n} ${label}`);
}

// ---------------------------------------------------------------------------------------
// Header: phone menu, sign out
// ---------------------------------------------------------------------------------------

const toggle = document.getElementById('menu-toggle');
const nav = document.getElementById('nav');

function closeMenu() {
  toggle.setAttribute('aria-expanded', 'false');
  nav.classList.remove('is-open');
}

toggle.addEventListener('click', () => {
  const open = toggle.getAttribute('aria-expanded') !== 'true';
  toggle.setAttribute('aria-expanded', String(open));
  nav.classList.toggle('is-open', open);
  if (open) {
    const first = nav.querySelector('a');
    if (first) first.focus();
  }
});

nav.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && nav.classList.contains('is-open')) {
    closeMenu();
    toggle.focus();
  }
});

document.getElementById('signout').addEventListener('click', async () => {
  try {
    await api('DELETE', '/api/session', undefined, { quiet401: true });
  } catch {
    // signed out either way
  }
  session.csrf = null;
  toast('Signed out.');
  showAuth({ setup_needed: false });
});

// ---------------------------------------------------------------------------------------
// Sign-in and first-start setup
// ---------------------------------------------------------------------------------------

function authShell(title, intro, form) {
  return h('div', { class: 'auth' },
    h('div', { class: 'auth-card' },
      h('div', { class: 'auth-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'calport'),
      h('h1', { class: 'page-title', tabindex: '-1' }, title),
      h('p', { class: 'muted' }, intro),
      form));
}

function passwordInput(testid, autocomplete) {
  return h('input', { type: 'password', required: true, autocomplete, 'data-testid': testid, spellcheck: 'false' });
}

function setupForm() {
  const pw = passwordInput('setup-password', 'new-password');
  pw.minLength = 10;
  const confirm = passwordInput('setup-confirm', 'new-password');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'setup-submit' }, 'Set password and continue');
  const form = h('form', { class: 'form', 'data-testid': 'setup-form', novalidate: true },
    h('p', { class: 'form-error', role: 'alert', hidden: true, tabindex: '-1', 'data-testid': 'setup-error' }),
    field({ label: 'Admin password', name: 'password', control: pw, hint: 'At least 10 characters. You will use it to sign in to this page.' }),
    field({ label: 'Confirm password', name: 'confirm', control: confirm }),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    if (pw.value.length < 10) {
      showFormError(form, { field: 'password', message: 'Use at least 10 characters.' });
      return;
    }
    if (pw.value !== confirm.value) {
      showFormError(form, { field: 'confirm', message: 'The two passwords differ.' });
      return;
    }
    submit.disabled = true;
    try {
      const answer = await api('POST', '/api/setup', { password: pw.value }, { quiet401: true });
      session.csrf = answer.csrf;
      pw.value = '';
      confirm.value = '';
      toast('Admin password set. Welcome to calport.');
      enterApp();
    } catch (err) {
      showFormError(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function signInForm(message) {
  const pw = passwordInput('signin-password', 'current-password');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'signin-submit' }, 'Sign in');
  const form = h('form', { class: 'form', 'data-testid': 'signin-form', novalidate: true },
    h('p', { class: 'form-error', role: 'alert', hidden: !message, tabindex: '-1', 'data-testid': 'signin-error' }, message || ''),
    field({ label: 'Admin password', name: 'password', control: pw }),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    if (!pw.value) {
      showFormError(form, { field: 'password', message: 'Enter the admin password.' });
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const answer = await api('POST', '/api/session', { password: pw.value }, { quiet401: true });
      session.csrf = answer.csrf;
      pw.value = '';
      enterApp();
    } catch (err) {
      const box = form.querySelector('.form-error');
      box.textContent = err.status === 401 ? 'Wrong password. Try again.' : err.message;
      box.hidden = false;
      pw.select();
      pw.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  return form;
}

function showAuth(state, message) {
  signedIn = false;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  topbar.hidden = true;
  document.body.classList.add('is-auth');
  const view = state.setup_needed
    ? authShell('Set an admin password', 'This is the first start of calport. Choose the password that protects this web interface.', setupForm())
    : authShell('Sign in', 'Enter the admin password of this calport service.', signInForm(message));
  fill(main, view);
  const input = main.querySelector('input');
  if (input) input.focus();
}

function enterApp() {
  signedIn = true;
  topbar.hidden = false;
  document.body.classList.remove('is-auth');
  render.focusTitle = false;
  if (!window.location.hash || window.location.hash === '#' || window.location.hash === '#/') {
    window.location.hash = '#/dashboard';
  } else {
    render();
  }
}

session.onUnauthorized = () => {
  if (!signedIn) return;
  showAuth({ setup_needed: false }, 'Your session has ended. Sign in again.');
};

window.addEventListener('hashchange', () => {
  render.focusTitle = true;
  render();
});

async function start() {
  fill(main, loading('Loading calport…'));
  try {
    const state = await api('GET', '/api/session', undefined, { quiet401: true });
    session.csrf = state.csrf || null;
    if (state.authenticated) enterApp();
    else showAuth(state);
  } catch (err) {
    fill(main, h('div', { class: 'auth' }, h('div', { class: 'auth-card' }, errorPanel(err, start))));
  }
}

start();

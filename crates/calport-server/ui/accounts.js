// Accounts: list, add / edit (password write-only), delete, test connection.

import {
  h, fill, get, post, patch, del, card, pageHeader, emptyState, table, row, field,
  showFormError, clearFormErrors, toast, toastError, confirmDialog, dialog, loading, badge,
  plural, fmtNumber, refreshPage,
} from './lib.js';

const PROBLEMS = {
  unauthorized: ['Wrong user name or password', 'The server refused the login. Check the user name and password (some servers need an app password).'],
  unreachable: ['Server not reachable', 'calport could not connect. Check the address, that the server is up, and that this machine can reach it.'],
  not_dav: ['No CalDAV/CardDAV service found', 'The server answered, but not as a calendar or contacts server. Try the DAV address your provider documents (for example …/dav/ or …/remote.php/dav/).'],
  error: ['The test failed', ''],
};

function swatch(color) {
  const s = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  if (color && /^#?[0-9a-f]{3,8}$/i.test(color.trim())) {
    const c = color.trim();
    s.style.backgroundColor = c.startsWith('#') ? c.slice(0, 7) : `#${c.slice(0, 6)}`;
  } else s.classList.add('swatch-none');
  return s;
}

function kindLabel(c) {
  if (c.kind === 'addressbook') return 'Contacts';
  const comps = c.components || [];
  if (comps.includes('VEVENT') && comps.includes('VTODO')) return 'Events & tasks';
  if (comps.includes('VTODO') && !comps.includes('VEVENT')) return 'Tasks';
  if (comps.includes('VJOURNAL') && !comps.includes('VEVENT')) return 'Journal';
  return 'Events';
}

export function collectionKindLabel(c) {
  return kindLabel(c);
}

/** The result of a connection test, for people. */
export function testResultView(result) {
  if (!result.ok) {
    const [title, text] = PROBLEMS[result.problem] || PROBLEMS.error;
    return h('div', { class: 'test-result', 'data-testid': 'test-result', 'data-ok': 'false', 'data-problem': result.problem || 'error' },
      h('div', { class: 'notice notice-bad', role: 'alert' },
        h('strong', { 'data-testid': 'test-problem' }, title),
        text ? h('p', {}, text) : null,
        result.message ? h('p', { class: 'muted small' }, 'Details: ', h('span', { 'data-testid': 'test-message' }, result.message)) : null));
  }
  const cols = result.collections || [];
  const columns = [{ label: 'Collection' }, { label: 'Kind' }, { label: 'Items', cls: 'num' }, { label: '' }];
  return h('div', { class: 'test-result', 'data-testid': 'test-result', 'data-ok': 'true' },
    h('div', { class: 'notice notice-ok', role: 'status' },
      h('strong', {}, 'Connected. '),
      `Found ${plural(cols.length, 'collection')}.`),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Server'), h('dd', { 'data-testid': 'test-server' }, result.server || 'Unknown software'),
      h('dt', {}, 'Known quirks'), h('dd', { 'data-testid': 'test-quirks' },
        (result.quirks || []).length ? h('ul', { class: 'plain' }, result.quirks.map((q) => h('li', {}, q))) : 'None')),
    cols.length
      ? table(columns, cols.map((c) => row(columns, [
        h('span', { class: 'with-swatch' }, swatch(c.color), h('span', {}, c.name), h('span', { class: 'muted small block' }, c.href)),
        kindLabel(c),
        c.items === null || c.items === undefined ? '–' : fmtNumber(c.items),
        c.read_only ? badge('Read-only', 'warn') : '',
      ], { 'data-testid': 'test-collection' })), { testid: 'test-collections', caption: 'Collections found' })
      : h('p', { class: 'muted' }, 'The account has no calendars or address books yet. calport can create them when a job runs.'));
}

export async function testAccount(account, button) {
  if (button) {
    button.disabled = true;
    button.textContent = 'Testing…';
  }
  const body = h('div', { 'aria-live': 'polite' }, loading(`Connecting to ${account.url}…`));
  const shown = dialog({ title: `Test of ${account.name}`, body, testid: 'test-dialog', wide: true, actions: [{ label: 'Close', value: null, testid: 'test-close' }] });
  try {
    const result = await post(`/api/accounts/${account.id}/test`);
    fill(body, testResultView(result));
  } catch (err) {
    fill(body, h('div', { class: 'notice notice-bad', role: 'alert' }, err.message));
  } finally {
    if (button) {
      button.disabled = false;
      button.textContent = 'Test connection';
    }
  }
  return shown;
}

export async function accountsPage(root) {
  const [accounts, jobs] = await Promise.all([get('/api/accounts'), get('/api/sync-jobs')]);
  const add = h('a', { class: 'btn btn-primary', href: '#/accounts/new', 'data-testid': 'add-account' }, 'Add account');
  if (!accounts.length) {
    fill(root,
      pageHeader('Accounts', { subtitle: 'CalDAV and CardDAV accounts calport can read and write.' }),
      card(null, emptyState({
        title: 'Add your first account',
        text: 'Any CalDAV/CardDAV server works: Nextcloud, Radicale, Xandikos, SOGo, Baïkal, Fastmail, iCloud (with an app password), … Give any address on the server: calport finds the calendars and address books itself.',
        action: h('a', { class: 'btn btn-primary', href: '#/accounts/new', 'data-testid': 'empty-add-account' }, 'Add your first account'),
        testid: 'accounts-empty',
      })));
    return;
  }
  const usedBy = (id) => jobs.filter((j) => j.a_account_id === id || j.b_account_id === id);
  const columns = [{ label: 'Name' }, { label: 'Server' }, { label: 'User' }, { label: 'Used by' }, { label: 'Actions', cls: 'actions' }];
  const rows = accounts.map((a) => {
    const test = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'test-account' }, 'Test connection');
    test.addEventListener('click', () => testAccount(a, test));
    const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-testid': 'delete-account', 'aria-label': `Delete ${a.name}` }, 'Delete');
    remove.addEventListener('click', async () => {
      const users = usedBy(a.id);
      if (users.length) {
        await dialog({
          title: `${a.name} is in use`,
          body: h('p', {}, `Jobs ${users.map((j) => j.name).join(', ')} use this account. Delete those jobs or change their accounts first.`),
        });
        return;
      }
      if (!(await confirmDialog({ title: `Delete ${a.name}?`, message: 'calport forgets the account and its stored password. Nothing on the server is deleted.' }))) return;
      try {
        await del(`/api/accounts/${a.id}`);
        toast(`Account ${a.name} deleted.`);
        refreshPage();
      } catch (err) {
        toastError(err);
      }
    });
    const users = usedBy(a.id);
    return row(columns, [
      h('span', {}, h('span', { class: 'strong' }, a.name), a.has_password ? null : h('span', { class: 'block' }, badge('No password stored', 'warn'))),
      h('span', { class: 'break' }, a.url),
      a.username,
      users.length ? h('span', {}, users.map((j, i) => [i ? ', ' : '', h('a', { href: `#/jobs/${j.id}` }, j.name)])) : h('span', { class: 'muted' }, 'No job'),
      h('div', { class: 'button-row' },
        test,
        h('a', { class: 'btn btn-small', href: `#/accounts/${a.id}/edit`, 'data-testid': 'edit-account', 'aria-label': `Edit ${a.name}` }, 'Edit'),
        remove),
    ], { 'data-testid': 'account-row', 'data-account-id': a.id });
  });
  fill(root,
    pageHeader('Accounts', { subtitle: 'CalDAV and CardDAV accounts calport can read and write. Passwords are stored encrypted and never shown.', actions: add }),
    card(null, table(columns, rows, { testid: 'accounts-table', caption: 'Accounts' })));
}

export async function accountFormPage(root, { params }) {
  const [id] = params;
  const editing = Boolean(id);
  const account = editing ? await get(`/api/accounts/${id}`) : null;

  const name = h('input', { type: 'text', required: true, value: account ? account.name : '', autocomplete: 'off', maxlength: '200' });
  const url = h('input', { type: 'url', required: true, value: account ? account.url : '', placeholder: 'https://dav.example.com/', autocomplete: 'url', inputmode: 'url', spellcheck: 'false' });
  const username = h('input', { type: 'text', required: true, value: account ? account.username : '', autocomplete: 'username', spellcheck: 'false' });
  const password = h('input', { type: 'password', autocomplete: 'new-password', value: '', spellcheck: 'false' });
  const testAfter = h('input', { type: 'checkbox', id: 'acct-test-after', checked: true, 'data-testid': 'account-test-after' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'account-submit' }, editing ? 'Save changes' : 'Add account');
  const form = h('form', { class: 'form card', 'data-testid': 'account-form', novalidate: true },
    h('p', { class: 'form-error', role: 'alert', hidden: true, tabindex: '-1', 'data-testid': 'account-form-error' }),
    field({ label: 'Name', name: 'name', control: name, hint: 'For you: "Work", "Nextcloud at home". Must be unique.', testid: 'account-name' }),
    field({ label: 'Server address', name: 'url', control: url, hint: 'Any address on the server: the root, the DAV entry point, or your principal URL. calport discovers the rest.', testid: 'account-url' }),
    field({ label: 'User name', name: 'username', control: username, testid: 'account-username' }),
    field({
      label: 'Password',
      name: 'password',
      control: password,
      testid: 'account-password',
      hint: editing
        ? (account.has_password ? 'A password is stored. Leave blank to keep it; type a new one to replace it.' : 'No password is stored yet.')
        : 'Stored encrypted. It is never shown again, not even to you. Some providers need an app password.',
    }),
    h('div', { class: 'check' }, testAfter, h('label', { for: 'acct-test-after' }, 'Test the connection after saving')),
    h('div', { class: 'form-actions' }, submit, h('a', { class: 'btn btn-ghost', href: '#/accounts' }, 'Cancel')));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    if (!name.value.trim()) return showFormError(form, { field: 'name', message: 'Give the account a name.' });
    if (!/^https?:\/\/[^\s/]+/i.test(url.value.trim())) return showFormError(form, { field: 'url', message: 'Enter an address that starts with https:// (or http://).' });
    if (!username.value) return showFormError(form, { field: 'username', message: 'Enter the user name.' });
    const body = { name: name.value.trim(), url: url.value.trim(), username: username.value };
    if (password.value) body.password = password.value;
    submit.disabled = true;
    try {
      const saved = editing ? await patch(`/api/accounts/${id}`, body) : await post('/api/accounts', body);
      password.value = '';
      toast(editing ? `Saved ${saved.name}.` : `Added ${saved.name}.`);
      window.location.hash = '#/accounts';
      if (testAfter.checked) testAccount(saved);
    } catch (err) {
      if (err.status === 409) showFormError(form, { field: 'name', message: err.message });
      else showFormError(form, err);
    } finally {
      submit.disabled = false;
    }
  });

  fill(root,
    pageHeader(editing ? `Edit ${account.name}` : 'Add an account', {
      back: { href: '#/accounts', label: 'Accounts' },
      subtitle: 'A CalDAV (calendars, tasks) and CardDAV (contacts) account.',
    }),
    form);
  name.focus();
}

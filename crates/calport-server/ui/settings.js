// Settings: API keys, outbound webhooks (with deliveries), export / import.

import {
  h, fill, get, post, del, card, pageHeader, table, row, timeAgo, field,
  showFormError, clearFormErrors, toast, toastError, confirmDialog, badge, secretBox, loading,
  fmtDate, uid, plural, session,
} from './lib.js';

// ---------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------

async function keysCard() {
  const slot = h('div', {});
  const created = h('div', { 'data-testid': 'key-created' });
  const name = h('input', { type: 'text', required: true, maxlength: '200', placeholder: 'e.g. backup script', autocomplete: 'off' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'key-submit' }, 'Create key');
  const form = h('form', { class: 'form form-inline', 'data-testid': 'key-form', novalidate: true },
    field({ label: 'Name of the new key', name: 'name', control: name, testid: 'key-name' }),
    submit,
    h('p', { class: 'form-error', role: 'alert', hidden: true }));

  async function load() {
    const keys = await get('/api/keys');
    const columns = [{ label: 'Name' }, { label: 'Key id' }, { label: 'Created' }, { label: 'Last used' }, { label: '', cls: 'actions' }];
    fill(slot, keys.length ? table(columns, keys.map((k) => {
      const revoke = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-testid': 'key-revoke', 'aria-label': `Revoke ${k.name}`, hidden: Boolean(k.revoked_at) }, 'Revoke');
      revoke.addEventListener('click', async () => {
        if (!(await confirmDialog({ title: `Revoke ${k.name}?`, message: 'Scripts using this key stop working at once. This cannot be undone.', confirm: 'Revoke' }))) return;
        try {
          await del(`/api/keys/${k.id}`);
          toast(`Key ${k.name} revoked.`);
          load();
        } catch (err) {
          toastError(err);
        }
      });
      return row(columns, [
        h('span', { class: 'strong' }, k.name),
        h('code', {}, k.lookup_id),
        timeAgo(k.created_at),
        k.revoked_at ? badge(`Revoked ${fmtDate(k.revoked_at)}`, 'neutral') : k.last_used_at ? timeAgo(k.last_used_at) : h('span', { class: 'muted' }, 'Never'),
        revoke,
      ], { 'data-testid': 'key-row' });
    }), { testid: 'keys-table', caption: 'API keys' }) : h('p', { class: 'muted', 'data-testid': 'keys-empty' }, 'No API keys yet. Scripts and other tools use one to call the REST API.'));
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    if (!name.value.trim()) return showFormError(form, { field: 'name', message: 'Give the key a name, so you can recognise it later.' });
    submit.disabled = true;
    try {
      const k = await post('/api/keys', { name: name.value.trim() });
      name.value = '';
      fill(created, h('div', { class: 'created-secret' },
        h('p', {}, h('strong', {}, `Key "${k.name}" created. `), 'Send it as ', h('code', {}, 'Authorization: Bearer <key>'), '.'),
        secretBox(k.key, { label: 'New API key', testid: 'new-key' })));
      load();
    } catch (err) {
      showFormError(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  await load();
  return card('API keys', [
    h('p', { class: 'muted' }, 'For scripts and other programs. Only a hash is stored: a key is shown once, when it is created. The REST API is described at ', h('a', { href: '/api/docs' }, '/api/docs'), '.'),
    form, created, slot,
  ], { testid: 'keys-card' });
}

// ---------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------

function deliveriesView(list) {
  if (!list.length) return h('p', { class: 'muted small', 'data-testid': 'deliveries-empty' }, 'No deliveries yet: they happen after each run.');
  const columns = [{ label: 'When' }, { label: 'Run' }, { label: 'State' }, { label: 'Attempts', cls: 'num' }, { label: 'Answer' }];
  const tone = { delivered: 'ok', pending: 'info', failed: 'bad' };
  return table(columns, list.map((d) => row(columns, [
    timeAgo(d.delivered_at || d.created_at),
    d.run_id ? h('a', { href: `#/runs/${d.run_id}` }, `#${d.run_id}`) : '–',
    badge(d.state, tone[d.state] || 'neutral'),
    String(d.attempts),
    h('span', { class: 'small muted' },
      d.last_status ? `HTTP ${d.last_status}` : '',
      d.last_error ? ` ${d.last_error}` : '',
      d.state === 'pending' && d.next_attempt_at ? ` · next try ${fmtDate(d.next_attempt_at)}` : ''),
  ], { 'data-testid': 'delivery-row' })), { testid: 'deliveries-table', caption: 'Deliveries' });
}

async function webhooksCard() {
  const jobs = await get('/api/sync-jobs');
  const slot = h('div', {});
  const created = h('div', { 'data-testid': 'webhook-created' });
  const url = h('input', { type: 'url', required: true, placeholder: 'https://example.com/hooks/calport', autocomplete: 'off', spellcheck: 'false' });
  const job = h('select', { 'data-testid': 'webhook-job' },
    h('option', { value: '' }, 'Every job'),
    jobs.map((j) => h('option', { value: String(j.id) }, j.name)));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'webhook-submit' }, 'Add webhook');
  const form = h('form', { class: 'form form-inline', 'data-testid': 'webhook-form', novalidate: true },
    field({ label: 'URL', name: 'url', control: url, testid: 'webhook-url' }),
    field({ label: 'For', name: 'job_id', control: job }),
    submit,
    h('p', { class: 'form-error', role: 'alert', hidden: true }));

  async function load() {
    const hooks = await get('/api/webhooks');
    if (!hooks.length) {
      fill(slot, h('p', { class: 'muted', 'data-testid': 'webhooks-empty' }, 'No webhooks yet.'));
      return;
    }
    fill(slot, h('ul', { class: 'hook-list', 'data-testid': 'webhooks' }, hooks.map((w) => {
      const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-testid': 'webhook-delete', 'aria-label': `Delete webhook ${w.url}` }, 'Delete');
      remove.addEventListener('click', async () => {
        if (!(await confirmDialog({ title: 'Delete this webhook?', message: `calport stops sending run summaries to ${w.url}.` }))) return;
        try {
          await del(`/api/webhooks/${w.id}`);
          toast('Webhook deleted.');
          load();
        } catch (err) {
          toastError(err);
        }
      });
      const deliveries = h('div', {});
      const details = h('details', { class: 'deliveries' }, h('summary', { 'data-testid': 'webhook-deliveries-toggle' }, 'Latest deliveries'), deliveries);
      details.addEventListener('toggle', async () => {
        if (!details.open) return;
        fill(deliveries, loading());
        try {
          fill(deliveries, deliveriesView(await get(`/api/webhooks/${w.id}/deliveries`)));
        } catch (err) {
          fill(deliveries, h('p', { class: 'text-bad' }, err.message));
        }
      });
      const jobName = w.job_id ? (jobs.find((j) => j.id === w.job_id) || {}).name || `job ${w.job_id}` : 'every job';
      return h('li', { class: 'hook', 'data-testid': 'webhook-row' },
        h('div', { class: 'hook-head' },
          h('div', {}, h('code', { class: 'break' }, w.url),
            h('div', { class: 'small muted' }, `Runs of ${jobName} · added ${fmtDate(w.created_at)} `, w.enabled ? badge('Active', 'ok') : badge('Turned off (the receiver answered 410)', 'warn'))),
          remove),
        details);
    })));
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    if (!/^https?:\/\//i.test(url.value.trim())) return showFormError(form, { field: 'url', message: 'Enter an http:// or https:// URL.' });
    submit.disabled = true;
    try {
      const body = { url: url.value.trim() };
      if (job.value) body.job_id = Number(job.value);
      const w = await post('/api/webhooks', body);
      url.value = '';
      fill(created, h('div', { class: 'created-secret' },
        h('p', {}, h('strong', {}, 'Webhook added. '), 'Verify the ', h('code', {}, 'webhook-signature'), ' header with this signing secret (Standard Webhooks).'),
        secretBox(w.secret, { label: 'Webhook signing secret', testid: 'new-webhook-secret' })));
      load();
    } catch (err) {
      showFormError(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  await load();
  return card('Webhooks', [
    h('p', { class: 'muted' }, 'After each run, calport POSTs a signed JSON summary to these addresses, retrying with backoff when the receiver is down. There is no test button: deliveries happen after each run, so start a job to send one.'),
    form, created, slot,
  ], { testid: 'webhooks-card' });
}

// ---------------------------------------------------------------------------------------
// Export / import
// ---------------------------------------------------------------------------------------

function transferCard() {
  const secretsId = uid('c');
  const secrets = h('input', { type: 'checkbox', id: secretsId, 'data-testid': 'export-secrets' });
  const exportBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'export' }, 'Download export');
  const warn = h('p', { class: 'notice notice-warn', hidden: true }, 'The file will hold account passwords and webhook secrets in clear text. Keep it somewhere safe.');
  secrets.addEventListener('change', () => { warn.hidden = !secrets.checked; });
  exportBtn.addEventListener('click', async () => {
    exportBtn.disabled = true;
    try {
      const data = await get(`/api/export${secrets.checked ? '?secrets=true' : ''}`);
      const blob = new Blob([`${JSON.stringify(data, null, 2)}\n`], { type: 'application/json' });
      const href = URL.createObjectURL(blob);
      const stamp = new Date().toISOString().slice(0, 10);
      const a = h('a', { href, download: `calport-export-${stamp}.json`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 10000);
      toast(`Exported ${plural(data.accounts.length, 'account')}, ${plural(data.jobs.length, 'job')} and ${plural(data.webhooks.length, 'webhook')}.`);
    } catch (err) {
      toastError(err);
    } finally {
      exportBtn.disabled = false;
    }
  });

  const fileId = uid('f');
  const file = h('input', { type: 'file', id: fileId, accept: 'application/json,.json', 'data-testid': 'import-file' });
  const importBtn = h('button', { type: 'submit', class: 'btn', 'data-testid': 'import-submit' }, 'Import');
  const result = h('div', { 'data-testid': 'import-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'form', 'data-testid': 'import-form', novalidate: true },
    h('div', { class: 'field', 'data-field': 'file' }, h('label', { for: fileId }, 'Export file (JSON)'), file,
      h('p', { class: 'hint' }, 'Creates the accounts, jobs and webhooks that do not exist yet (by name) and skips the rest. Nothing existing is changed.'),
      h('p', { class: 'field-error', hidden: true, role: 'alert' })),
    h('div', { class: 'form-actions' }, importBtn),
    h('p', { class: 'form-error', role: 'alert', hidden: true }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    fill(result, null);
    const f = file.files && file.files[0];
    if (!f) return showFormError(form, { field: 'file', message: 'Choose an export file first.' });
    let data;
    try {
      data = JSON.parse(await f.text());
    } catch {
      return showFormError(form, { field: 'file', message: 'This file is not JSON. Choose a file made by "Download export".' });
    }
    importBtn.disabled = true;
    try {
      const r = await post('/api/import', data);
      const list = (title, items) => (items.length ? h('div', {}, h('h3', {}, title), h('ul', {}, items.map((x) => h('li', {}, x)))) : null);
      fill(result, h('div', { class: 'notice notice-ok', role: 'status' },
        h('strong', {}, 'Import finished. '),
        `${plural(r.accounts_created.length, 'account')}, ${plural(r.jobs_created.length, 'job')} and ${plural(r.webhooks_created, 'webhook')} created; ${r.skipped.length} skipped.`,
        list('Accounts created', r.accounts_created),
        list('Jobs created', r.jobs_created),
        list('Skipped', r.skipped)));
      file.value = '';
    } catch (err) {
      if (err.field) {
        fill(result, h('div', { class: 'notice notice-bad', role: 'alert' }, h('strong', {}, `${err.field}: `), err.message, ' Nothing was imported.'));
      } else showFormError(form, err);
    } finally {
      importBtn.disabled = false;
    }
  });

  return card('Export and import', [
    h('div', { class: 'grid-2 tight' },
      h('div', {},
        h('h3', {}, 'Export'),
        h('p', { class: 'muted' }, 'Accounts, jobs and webhooks as one JSON file, for a backup or to move to another calport.'),
        h('div', { class: 'check' }, secrets, h('label', { for: secretsId },
          h('span', { class: 'radio-title' }, 'Include secrets'),
          h('span', { class: 'radio-help' }, 'Account passwords and webhook signing secrets. Without them, an import needs the passwords typed again.'))),
        warn,
        exportBtn),
      h('div', {}, h('h3', {}, 'Import'), form, result)),
  ], { testid: 'transfer-card' });
}

async function sessionCard() {
  let health = null;
  try {
    health = await fetch('/api/health', { credentials: 'same-origin' }).then((r) => r.json());
  } catch {
    // optional
  }
  return card('This service', h('dl', { class: 'facts' },
    h('dt', {}, 'Version'), h('dd', { 'data-testid': 'version' }, health ? health.version : '–'),
    h('dt', {}, 'Database'), h('dd', {}, health ? `${health.database_backend} (${health.database})` : '–'),
    h('dt', {}, 'Workers alive'), h('dd', {}, health ? String(health.workers_alive) : '–'),
    h('dt', {}, 'Signed in'), h('dd', {}, session.csrf ? 'Yes, with the admin password. Sessions end after 12 idle hours.' : '–')));
}

export async function settingsPage(root) {
  fill(root, pageHeader('Settings'), loading());
  const [keys, hooks, info] = await Promise.all([keysCard(), webhooksCard(), sessionCard()]);
  fill(root, pageHeader('Settings', { subtitle: 'Access for scripts, notifications after runs, backups.' }), keys, hooks, transferCard(), info);
}


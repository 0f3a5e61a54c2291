//! `/api/export` and `/api/import`: the whole configuration (accounts, jobs, webhooks) as
//! JSON. Secrets are left out unless asked for.

use axum::Json;
use axum::extract::State;
use calport_secure::webhooks::WebhookSecret;
use calport_state::{AccountFields, JobFields, Saved};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::{App, WEBHOOK_SECRET_CONTEXT};
use crate::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use crate::jobspec::JobInput;

/// An exported account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountExport {
    /// Name (jobs refer to accounts by name in an export).
    pub name: String,
    /// `dav`.
    pub kind: String,
    /// URL.
    pub url: String,
    /// User name.
    pub username: String,
    /// Only with `secrets=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// An exported job.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobExport {
    /// Side A's account name.
    pub a_account: String,
    /// Side B's account name.
    pub b_account: String,
    /// The job (its account ids are ignored on import).
    pub job: JobInput,
}

/// An exported webhook.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookExport {
    /// URL.
    pub url: String,
    /// Its job's name (`null`: every job).
    pub job: Option<String>,
    /// `whsec_…`, only with `secrets=true` (a new one is made on import otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The whole configuration.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// Format version (1).
    pub version: u32,
    /// Accounts.
    pub accounts: Vec<AccountExport>,
    /// Jobs.
    pub jobs: Vec<JobExport>,
    /// Webhooks.
    pub webhooks: Vec<WebhookExport>,
}

/// Export options.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Include passwords and webhook secrets in clear (default false).
    pub secrets: Option<bool>,
}

/// Exports accounts (without passwords unless `secrets=true`), jobs and webhooks.
#[utoipa::path(get, path = "/api/export", tag = "system", params(ExportQuery),
    responses((status = 200, body = Export), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(app): State<App>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Json<Export>, ApiError> {
    let secrets = query.secrets.unwrap_or(false);
    let accounts = app.db.accounts().await?;
    let name_of = |id: i64| {
        accounts
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    };
    let mut out = Export {
        version: 1,
        accounts: Vec::new(),
        jobs: Vec::new(),
        webhooks: Vec::new(),
    };
    for a in &accounts {
        let password = match (&a.secret, secrets) {
            (Some(sealed), true) => Some(app.open_password(sealed)?),
            _ => None,
        };
        out.accounts.push(AccountExport {
            name: a.name.clone(),
            kind: a.kind.clone(),
            url: a.url.clone(),
            username: a.username.clone(),
            password,
        });
    }
    let jobs = app.db.jobs().await?;
    for j in &jobs {
        out.jobs.push(JobExport {
            a_account: name_of(j.a_account),
            b_account: name_of(j.b_account),
            job: serde_json::from_str(&j.spec).map_err(ApiError::internal)?,
        });
    }
    for w in app.db.webhooks().await? {
        let secret = if secrets {
            let bytes = app
                .key
                .decrypt(&w.secret, WEBHOOK_SECRET_CONTEXT)
                .map_err(ApiError::internal)?;
            let secret = WebhookSecret::from_bytes(&bytes)
                .map_err(|e| ApiError::internal(format!("{e}")))?;
            Some(secret.to_whsec().to_string())
        } else {
            None
        };
        out.webhooks.push(WebhookExport {
            url: w.url,
            job: w
                .job_id
                .and_then(|id| jobs.iter().find(|j| j.id == id).map(|j| j.name.clone())),
            secret,
        });
    }
    Ok(Json(out))
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportResult {
    /// Accounts created.
    pub accounts_created: Vec<String>,
    /// Jobs created.
    pub jobs_created: Vec<String>,
    /// Webhooks created.
    pub webhooks_created: usize,
    /// Entries left out (a name already taken, an unknown account, a webhook that
    /// exists), with the reason.
    pub skipped: Vec<String>,
}

/// Imports an export: creates what does not exist yet (by name), skips the rest.
#[utoipa::path(post, path = "/api/import", tag = "system", request_body = Export,
    responses((status = 200, body = ImportResult), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import(
    State(app): State<App>,
    ApiJson(input): ApiJson<Export>,
) -> Result<Json<ImportResult>, ApiError> {
    if input.version != 1 {
        return Err(ApiError::invalid(
            "version",
            "only version 1 exports can be imported",
        ));
    }
    // Everything is checked before anything is created.
    for (i, a) in input.accounts.iter().enumerate() {
        super::accounts::check(&a.name, &a.kind, &a.url, &a.username)
            .map_err(|e| e.within(&format!("accounts[{i}]")))?;
    }
    for (i, w) in input.webhooks.iter().enumerate() {
        if let Err(e) = calport_secure::delivery::check_url(&w.url, true) {
            return Err(ApiError::invalid(
                &format!("webhooks[{i}].url"),
                format!("not a usable http(s) URL: {e:?}"),
            ));
        }
        if let Some(text) = &w.secret {
            WebhookSecret::parse(text)
                .map_err(|e| ApiError::invalid(&format!("webhooks[{i}].secret"), format!("{e}")))?;
        }
    }
    let mut result = ImportResult::default();
    for a in &input.accounts {
        let fields = AccountFields {
            name: a.name.clone(),
            kind: a.kind.clone(),
            url: a.url.clone(),
            username: a.username.clone(),
            secret: a.password.as_deref().map(|p| app.seal_password(p)),
        };
        match app.db.create_account(&fields).await? {
            Saved::Ok(_) => result.accounts_created.push(a.name.clone()),
            Saved::Duplicate => result
                .skipped
                .push(format!("account {}: the name is taken", a.name)),
        }
    }
    let accounts = app.db.accounts().await?;
    let id_of = |name: &str| accounts.iter().find(|a| a.name == name).map(|a| a.id);
    for j in input.jobs {
        let (Some(a), Some(b)) = (id_of(&j.a_account), id_of(&j.b_account)) else {
            result
                .skipped
                .push(format!("job {}: unknown account", j.job.name));
            continue;
        };
        let job = JobInput {
            a_account_id: a,
            b_account_id: b,
            ..j.job
        };
        if let Err(e) = job.validate() {
            result.skipped.push(format!("job {}: {e:?}", job.name));
            continue;
        }
        let fields = JobFields {
            name: job.name.clone(),
            kind: job.kind.as_str().to_owned(),
            a_account: a,
            b_account: b,
            spec: serde_json::to_string(&job).map_err(ApiError::internal)?,
            schedule: job.schedule.clone(),
            enabled: job.enabled,
        };
        match app.db.create_job(&fields).await? {
            Saved::Ok(_) => result.jobs_created.push(job.name.clone()),
            Saved::Duplicate => result
                .skipped
                .push(format!("job {}: the name is taken", job.name)),
        }
    }
    let jobs = app.db.jobs().await?;
    let existing = app.db.webhooks().await?;
    for w in input.webhooks {
        let job_id = match &w.job {
            Some(name) => match jobs.iter().find(|j| &j.name == name) {
                Some(j) => Some(j.id),
                None => {
                    result
                        .skipped
                        .push(format!("webhook {}: unknown job {name}", w.url));
                    continue;
                }
            },
            None => None,
        };
        if existing
            .iter()
            .any(|h| h.url == w.url && h.job_id == job_id)
        {
            result.skipped.push(format!("webhook {}: it exists", w.url));
            continue;
        }
        let secret = match &w.secret {
            Some(text) => WebhookSecret::parse(text)
                .map_err(|e| ApiError::invalid("webhooks.secret", format!("{e}")))?,
            None => WebhookSecret::generate(),
        };
        let sealed = app
            .key
            .encrypt(secret.expose_bytes(), WEBHOOK_SECRET_CONTEXT);
        app.db.create_webhook(&w.url, job_id, &sealed).await?;
        result.webhooks_created += 1;
    }
    Ok(Json(result))
}

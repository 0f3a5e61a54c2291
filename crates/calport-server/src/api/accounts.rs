//! `/api/accounts`: CalDAV/CardDAV accounts. Passwords are write-only: stored encrypted,
//! never returned, never logged.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use calport_core::{Store, StoreError};
use calport_state::{AccountFields, AccountRow, Saved};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{ApiError, ApiJson, ErrorBody};
use crate::worker::store_for;

/// An account as the API shows it (never with its password).
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// `dav` (CalDAV/CardDAV).
    pub kind: String,
    /// Where discovery starts.
    pub url: String,
    /// User name.
    pub username: String,
    /// Whether a password is stored.
    pub has_password: bool,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Account {
            id: row.id,
            name: row.name,
            kind: row.kind,
            url: row.url,
            username: row.username,
            has_password: row.secret.is_some(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    /// Unique name.
    pub name: String,
    /// `dav` (default).
    #[serde(default)]
    pub kind: Option<String>,
    /// Any URL on the server (root, DAV entry point, principal or home set).
    pub url: String,
    /// User name.
    pub username: String,
    /// Password (write-only).
    #[serde(default)]
    pub password: Option<String>,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    /// New name.
    pub name: Option<String>,
    /// New URL.
    pub url: Option<String>,
    /// New user name.
    pub username: Option<String>,
    /// New password (write-only).
    pub password: Option<String>,
}

/// Checks an account's fields; 422 names the first that is wrong.
pub(crate) fn check(name: &str, kind: &str, url: &str, username: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    if kind != "dav" {
        return Err(ApiError::invalid(
            "kind",
            "only \"dav\" (CalDAV/CardDAV) is supported",
        ));
    }
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        _ => {
            return Err(ApiError::invalid(
                "url",
                "must be an http:// or https:// URL",
            ));
        }
    }
    if username.is_empty() {
        return Err(ApiError::invalid("username", "is required"));
    }
    Ok(())
}

async fn load(app: &App, id: i64) -> Result<AccountRow, ApiError> {
    app.db
        .account(id)
        .await?
        .ok_or_else(|| ApiError::not_found("account", id))
}

/// Every account.
#[utoipa::path(get, path = "/api/accounts", tag = "accounts",
    responses((status = 200, body = Vec<Account>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(app): State<App>) -> Result<Json<Vec<Account>>, ApiError> {
    Ok(Json(
        app.db
            .accounts()
            .await?
            .into_iter()
            .map(Account::from)
            .collect(),
    ))
}

/// Adds an account (its password is encrypted at rest).
#[utoipa::path(post, path = "/api/accounts", tag = "accounts", request_body = AccountInput,
    responses((status = 201, body = Account), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    ApiJson(input): ApiJson<AccountInput>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let kind = input.kind.clone().unwrap_or_else(|| "dav".to_owned());
    check(&input.name, &kind, &input.url, &input.username)?;
    let fields = AccountFields {
        name: input.name.trim().to_owned(),
        kind,
        url: input.url.trim().to_owned(),
        username: input.username,
        secret: input.password.as_deref().map(|p| app.seal_password(p)),
    };
    match app.db.create_account(&fields).await? {
        Saved::Ok(row) => Ok((StatusCode::CREATED, Json(row.into()))),
        Saved::Duplicate => Err(ApiError::conflict(format!(
            "an account named {:?} exists",
            fields.name
        ))),
    }
}

/// One account.
#[utoipa::path(get, path = "/api/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Account>, ApiError> {
    Ok(Json(load(&app, id).await?.into()))
}

/// Changes an account.
#[utoipa::path(patch, path = "/api/accounts/{id}", tag = "accounts", request_body = AccountPatch,
    params(("id" = i64, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<AccountPatch>,
) -> Result<Json<Account>, ApiError> {
    let row = load(&app, id).await?;
    let fields = AccountFields {
        name: patch.name.map_or(row.name, |n| n.trim().to_owned()),
        kind: row.kind,
        url: patch.url.map_or(row.url, |u| u.trim().to_owned()),
        username: patch.username.unwrap_or(row.username),
        secret: match patch.password {
            Some(p) => Some(app.seal_password(&p)),
            None => row.secret,
        },
    };
    check(&fields.name, &fields.kind, &fields.url, &fields.username)?;
    match app.db.update_account(id, &fields).await? {
        Some(Saved::Ok(row)) => Ok(Json(row.into())),
        Some(Saved::Duplicate) => Err(ApiError::conflict(format!(
            "an account named {:?} exists",
            fields.name
        ))),
        None => Err(ApiError::not_found("account", id)),
    }
}

/// Deletes an account that no job uses.
#[utoipa::path(delete, path = "/api/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path, description = "account id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(State(app): State<App>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    load(&app, id).await?;
    let jobs = app.db.jobs_using_account(id).await?;
    if !jobs.is_empty() {
        return Err(ApiError::conflict(format!(
            "the account is used by jobs {}; delete or change them first",
            jobs.join(", ")
        )));
    }
    let sources = app.db.sources_using_account(id).await?;
    if !sources.is_empty() {
        return Err(ApiError::conflict(format!(
            "the account is the target of webhook sources {}; delete or change them first",
            sources.join(", ")
        )));
    }
    app.db.delete_account(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A collection found on an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Collection {
    /// Where it lives.
    pub href: String,
    /// `calendar` or `addressbook`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Colour.
    pub color: Option<String>,
    /// Component set (`VEVENT`, `VTODO`, …).
    pub components: Vec<String>,
    /// Items in it (when counted).
    pub items: Option<u64>,
    /// Whether the user cannot write to it.
    pub read_only: bool,
}

/// What a connection test found.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// Whether calport could log in and discover collections.
    pub ok: bool,
    /// `unauthorized`, `unreachable`, `not_dav`, `error` when not ok.
    pub problem: Option<String>,
    /// What went wrong, in words.
    pub message: Option<String>,
    /// The server software, when known.
    pub server: Option<String>,
    /// Known quirks of that server.
    pub quirks: Vec<String>,
    /// Calendars, task lists and address books, with item counts.
    pub collections: Vec<Collection>,
}

async fn discover(app: &App, row: &AccountRow, count: bool) -> TestResult {
    let store = match store_for(app, row) {
        Ok(store) => store,
        Err(message) => {
            return TestResult {
                ok: false,
                problem: Some("error".into()),
                message: Some(message),
                server: None,
                quirks: Vec::new(),
                collections: Vec::new(),
            };
        }
    };
    match store.discover().await {
        Ok(found) => {
            let mut collections = Vec::new();
            for c in found {
                let items = if count {
                    store
                        .changes(&c, None)
                        .await
                        .ok()
                        .map(|ch| ch.changed.len() as u64)
                } else {
                    None
                };
                collections.push(Collection {
                    href: c.href.to_string(),
                    kind: c.kind.as_str().to_owned(),
                    name: c.label().to_owned(),
                    color: c.color.clone(),
                    components: c.components.clone(),
                    items,
                    read_only: c.read_only,
                });
            }
            let info = store.server_info();
            TestResult {
                ok: true,
                problem: None,
                message: None,
                server: info.as_ref().map(|i| match &i.version {
                    Some(v) => format!("{} {v}", i.product),
                    None => i.product.clone(),
                }),
                quirks: info.map(|i| i.quirks).unwrap_or_default(),
                collections,
            }
        }
        Err(err) => {
            let problem = match &err {
                StoreError::Unauthorized { .. } => "unauthorized",
                StoreError::Unreachable { .. } => "unreachable",
                StoreError::NotDav { .. } => "not_dav",
                _ => "error",
            };
            TestResult {
                ok: false,
                problem: Some(problem.into()),
                message: Some(err.to_string()),
                server: None,
                quirks: Vec::new(),
                collections: Vec::new(),
            }
        }
    }
}

/// Connects, logs in and discovers; reports what was found or what went wrong.
#[utoipa::path(post, path = "/api/accounts/{id}/test", tag = "accounts",
    params(("id" = i64, Path, description = "account id")),
    responses((status = 200, body = TestResult), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn test(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<TestResult>, ApiError> {
    let row = load(&app, id).await?;
    Ok(Json(discover(&app, &row, true).await))
}

/// The account's calendars, task lists and address books.
#[utoipa::path(get, path = "/api/accounts/{id}/collections", tag = "accounts",
    params(("id" = i64, Path, description = "account id")),
    responses((status = 200, body = Vec<Collection>), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn collections(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Collection>>, ApiError> {
    let row = load(&app, id).await?;
    let result = discover(&app, &row, false).await;
    if !result.ok {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "remote_error",
            result.message.unwrap_or_default(),
        ));
    }
    Ok(Json(result.collections))
}

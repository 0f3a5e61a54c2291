//! The REST API: routes, their OpenAPI document, authentication and limits.

pub mod accounts;
pub mod hooks;
pub mod jobs;
pub mod runs;
pub mod sources;
pub mod system;
pub mod transfer;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router, middleware};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{App, authenticate};
use crate::error::ApiError;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from `calport apikey create` or POST /api/keys",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "calport", description = "Calendar and contacts sync hub: accounts, sync jobs, runs, webhooks."),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "CalDAV/CardDAV accounts"),
        (name = "jobs", description = "Sync jobs and their control"),
        (name = "runs", description = "Runs: progress, stats, logs, live events"),
        (name = "conflicts", description = "Items changed on both sides, parked for a decision"),
        (name = "webhooks", description = "Outbound webhooks after each run"),
        (name = "ingest", description = "Pushed changes: Microsoft 365 / Power Automate event webhooks into CalDAV, sources, event mappings, audit, conflicts"),
        (name = "system", description = "Health, workers, statistics, metrics, API keys, export/import"),
    )
)]
struct ApiDoc;

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    build().1
}

fn build() -> (Router<App>, utoipa::openapi::OpenApi) {
    let (protected, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(accounts::list, accounts::create))
        .routes(routes!(accounts::get, accounts::update, accounts::delete))
        .routes(routes!(accounts::test))
        .routes(routes!(accounts::collections))
        .routes(routes!(jobs::list, jobs::create))
        .routes(routes!(jobs::get, jobs::update, jobs::delete))
        .routes(routes!(jobs::start))
        .routes(routes!(jobs::pause))
        .routes(routes!(jobs::resume))
        .routes(routes!(jobs::cancel))
        .routes(routes!(jobs::runs))
        .routes(routes!(jobs::sync_all))
        .routes(routes!(runs::get))
        .routes(routes!(runs::report))
        .routes(routes!(runs::logs))
        .routes(routes!(runs::events))
        .routes(routes!(hooks::list, hooks::create))
        .routes(routes!(hooks::delete))
        .routes(routes!(hooks::deliveries))
        .routes(routes!(hooks::conflicts))
        .routes(routes!(hooks::conflict))
        .routes(routes!(hooks::resolve))
        .routes(routes!(hooks::dead_letters))
        .routes(routes!(hooks::dead_letter))
        .routes(routes!(hooks::retry_dead_letter))
        .routes(routes!(hooks::skip_dead_letter))
        .routes(routes!(system::worker_status))
        .routes(routes!(system::stats))
        .routes(routes!(system::metrics))
        .routes(routes!(system::list_keys, system::create_key))
        .routes(routes!(system::revoke_key))
        .routes(routes!(sources::list, sources::create))
        .routes(routes!(sources::get, sources::update, sources::delete))
        .routes(routes!(sources::rotate_key))
        .routes(routes!(sources::events))
        .routes(routes!(sources::inbox_entry))
        .routes(routes!(sources::history))
        .routes(routes!(sources::conflicts))
        .routes(routes!(sources::resolve))
        .routes(routes!(transfer::export))
        .routes(routes!(transfer::import))
        .split_for_parts();
    let (open, open_doc) = OpenApiRouter::new()
        .routes(routes!(system::health))
        .routes(routes!(
            crate::session::state,
            crate::session::sign_in,
            crate::session::sign_out
        ))
        .routes(routes!(crate::session::setup))
        .routes(routes!(crate::ingest::receive::event))
        .routes(routes!(crate::ingest::receive::graph))
        .split_for_parts();
    doc.merge(open_doc);
    let protected = protected
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs));
    let open = open
        .route("/", get(crate::ui::index))
        .route("/ui/{file}", get(crate::ui::asset));
    (protected.merge(open), doc)
}

async fn openapi_json() -> impl IntoResponse {
    Json(openapi())
}

async fn docs() -> Html<&'static str> {
    Html(DOCS_PAGE)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The whole HTTP application: every route but `/api/health` behind the API key check,
/// request bodies limited to `http.max_body_bytes`.
pub fn router(app: App) -> Router {
    let limit = app.config.http.max_body_bytes;
    let (routes, _) = build();
    Router::new()
        .merge(routes)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::map_response(json_errors))
        .with_state(app)
}

/// Gives the error answers that axum makes itself (a path that does not parse, a method
/// the route lacks, a body over the limit sent without a length) the API's JSON shape.
async fn json_errors(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "the route does not take this method")
        }
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json",
        ),
        s if s.is_server_error() => ("internal", "internal error; see the server log"),
        _ => ("bad_request", ""),
    };
    let message = if message.is_empty() && !text.is_empty() {
        text
    } else if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message.to_owned()
    };
    let mut out = ApiError::new(status, code, message).into_response();
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

/// Authentication for everything except the health check.
async fn guard(
    state: State<App>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Result<axum::response::Response, ApiError> {
    let path = request.uri().path();
    // Webhook routes check their source's own key (or Graph's clientState) themselves.
    let open = matches!(path, "/api/health" | "/api/session" | "/api/setup" | "/")
        || path.starts_with("/ui/")
        || path.starts_with("/api/webhook/");
    if open {
        return Ok(next.run(request).await);
    }
    // Reject an announced oversized body before reading it.
    let too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len > state.config.http.max_body_bytes);
    // Scripts send an API key; the web UI a session cookie (and a CSRF token on writes).
    if request.headers().contains_key(header::AUTHORIZATION)
        || !crate::session::authenticate_cookie(&state, request.method(), request.headers()).await?
    {
        authenticate(&state, request.headers()).await?;
    }
    if too_large {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        ));
    }
    Ok(next.run(request).await)
}

/// A small self-contained page that renders the OpenAPI document (fetched with the
/// browser's credentials; no assets from elsewhere).
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>calport API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:16px 24px}main{max-width:980px;margin:0 auto;padding:16px 24px}
.op{background:#fff;border:1px solid #dde2ea;border-radius:8px;margin:10px 0;padding:10px 14px}
.m{display:inline-block;min-width:64px;font-weight:600;font-family:ui-monospace,monospace}
.get{color:#1c6e3d}.post{color:#1f5fbf}.patch{color:#8a5a00}.delete{color:#b3261e}
code{font-family:ui-monospace,monospace}small{color:#5b6474}
</style></head><body><header><strong>calport</strong> REST API · <a style="color:#9cc3ff" href="/api/openapi.json">openapi.json</a></header>
<main id="out">Loading…</main>
<script>
fetch('/api/openapi.json',{credentials:'same-origin'}).then(r=>{if(!r.ok)throw new Error(r.status);return r.json()}).then(doc=>{
 const out=document.getElementById('out');out.textContent='';
 for(const [path,item] of Object.entries(doc.paths)){for(const [method,op] of Object.entries(item)){
  const d=document.createElement('div');d.className='op';
  const m=document.createElement('span');m.className='m '+method;m.textContent=method.toUpperCase();
  const c=document.createElement('code');c.textContent=path;
  const s=document.createElement('div');const sm=document.createElement('small');sm.textContent=(op.summary||'')+' '+(op.description||'');s.append(sm);
  d.append(m,c,s);out.append(d);}}
}).catch(e=>{document.getElementById('out').textContent='Cannot load the API description ('+e.message+'): send an API key.'});
</script></body></html>"#;

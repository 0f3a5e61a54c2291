//! Web UI sign-in: the admin password (set on first start, stored as an Argon2 hash),
//! browser sessions by HttpOnly cookie, and CSRF tokens for cookie-authenticated writes.
//! API keys keep working for scripts.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::State;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{ApiError, ApiJson};
use crate::worker::now_ms;

/// The cookie carrying the session token.
pub const COOKIE_NAME: &str = "calport_session";
/// The header carrying the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The settings key of the admin password hash.
const ADMIN_PASSWORD: &str = "admin_password_hash";
/// How long an idle session lives.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Shortest admin password.
const MIN_PASSWORD: usize = 10;

/// Where the browser stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionState {
    /// Whether the request carries a live session.
    pub authenticated: bool,
    /// Whether no admin password is set yet (first start).
    pub setup_needed: bool,
    /// The session's CSRF token, to send as `X-CSRF-Token` on writes.
    pub csrf: Option<String>,
}

/// A password form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    /// The admin password.
    pub password: String,
}

/// A signed-in session's CSRF token.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    /// Send it as `X-CSRF-Token` on every request but GET.
    pub csrf: String,
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// The live session of a request, if its cookie names one.
///
/// # Errors
/// Database failures.
pub async fn session_of(
    app: &App,
    headers: &HeaderMap,
) -> Result<Option<calport_state::SessionRow>, ApiError> {
    let Some(token) = cookie_token(headers) else {
        return Ok(None);
    };
    let hash = calport_secure::apikeys::hash_key(&token);
    let extend = now_ms() + SESSION_LIFETIME.as_millis() as i64;
    Ok(app.db.live_session(&hash, extend).await?)
}

/// Checks a cookie-authenticated request: a live session, and for writes the CSRF token.
/// `Ok(false)` when the request carries no session cookie at all.
///
/// # Errors
/// 401 for an unknown or expired session, 403 for a missing or wrong CSRF token.
pub async fn authenticate_cookie(
    app: &App,
    method: &Method,
    headers: &HeaderMap,
) -> Result<bool, ApiError> {
    if cookie_token(headers).is_none() {
        return Ok(false);
    }
    let Some(session) = session_of(app, headers).await? else {
        return Err(ApiError::unauthorized());
    };
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let good = sent.len() == session.csrf.len()
            && bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes()));
        if !good {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong X-CSRF-Token for a signed-in request",
            ));
        }
    }
    Ok(true)
}

fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| ApiError::internal(format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("cannot hash the password: {e}")))
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new session: its cookie and CSRF token.
async fn start_session(app: &App, status: StatusCode) -> Result<Response, ApiError> {
    let (token, stored) = calport_secure::apikeys::generate("cps");
    let (csrf, _) = calport_secure::apikeys::generate("csrf");
    let expires = now_ms() + SESSION_LIFETIME.as_millis() as i64;
    app.db.create_session(&stored.hash, &csrf, expires).await?;
    let cookie = format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_LIFETIME.as_secs(),
        if app.config.http.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let mut response = (status, Json(SignedIn { csrf })).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// Whether the browser is signed in, and whether the admin password is still to be set.
#[utoipa::path(get, path = "/api/session", tag = "system",
    responses((status = 200, body = SessionState)))]
pub async fn state(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<SessionState>, ApiError> {
    let session = session_of(&app, &headers).await?;
    Ok(Json(SessionState {
        authenticated: session.is_some(),
        setup_needed: app.db.setting(ADMIN_PASSWORD).await?.is_none(),
        csrf: session.map(|s| s.csrf),
    }))
}

/// First start: sets the admin password (only while none is set) and signs in.
#[utoipa::path(post, path = "/api/setup", tag = "system", request_body = PasswordInput,
    responses((status = 201, body = SignedIn), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn setup(
    State(app): State<App>,
    ApiJson(input): ApiJson<PasswordInput>,
) -> Result<Response, ApiError> {
    if app.db.setting(ADMIN_PASSWORD).await?.is_some() {
        return Err(ApiError::conflict(
            "the admin password is already set; sign in",
        ));
    }
    if input.password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::invalid(
            "password",
            format!("use at least {MIN_PASSWORD} characters"),
        ));
    }
    app.db
        .set_setting(ADMIN_PASSWORD, &hash_password(&input.password)?)
        .await?;
    tracing::info!("admin password set");
    start_session(&app, StatusCode::CREATED).await
}

/// Signs in with the admin password; sets the session cookie.
#[utoipa::path(post, path = "/api/session", tag = "system", request_body = PasswordInput,
    responses((status = 200, body = SignedIn), (status = 401, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn sign_in(
    State(app): State<App>,
    ApiJson(input): ApiJson<PasswordInput>,
) -> Result<Response, ApiError> {
    let Some(stored) = app.db.setting(ADMIN_PASSWORD).await? else {
        return Err(ApiError::conflict(
            "no admin password is set yet: set one first",
        ));
    };
    if !password_matches(&input.password, &stored) {
        app.metrics.auth_failure();
        // Slows down guessing.
        tokio::time::sleep(Duration::from_millis(500)).await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong password",
        ));
    }
    start_session(&app, StatusCode::OK).await
}

/// Signs out.
#[utoipa::path(delete, path = "/api/session", tag = "system",
    responses((status = 204)))]
pub async fn sign_out(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = cookie_token(&headers) {
        app.db
            .end_session(&calport_secure::apikeys::hash_key(&token))
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("calport_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

//! Delivers real requests to a receiver on 127.0.0.1 that checks every signature with
//! `webhooks::verify`, and asserts how each answer is classified.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use calport_secure::delivery::{
    Attempt, Deliverer, DelivererConfig, Outcome, RetryCause, SNIPPET_LIMIT, TargetError,
};
use calport_secure::webhooks::{
    DEFAULT_TOLERANCE, MessageId, VerifyError, WebhookHeaders, WebhookSecret, verify,
};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    id: String,
    content_type: String,
    body: Vec<u8>,
    verified: Result<(), VerifyError>,
}

struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("fits")
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

async fn handle(
    req: Request<Incoming>,
    secret: WebhookSecret,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let id = header(&req, "webhook-id").to_owned();
    let timestamp = header(&req, "webhook-timestamp").to_owned();
    let signature = header(&req, "webhook-signature").to_owned();
    let content_type = header(&req, "content-type").to_owned();
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let verified = verify(
        &secret,
        WebhookHeaders {
            id: &id,
            timestamp: &timestamp,
            signature: &signature,
        },
        &body,
        unix_now(),
        DEFAULT_TOLERANCE,
    );
    let ok = verified.is_ok();
    seen.lock().expect("lock").push(Seen {
        path: path.clone(),
        id,
        content_type,
        body,
        verified,
    });

    let mut response = Response::builder();
    let (status, text): (StatusCode, String) = if !ok {
        (StatusCode::UNAUTHORIZED, "bad signature".into())
    } else {
        match path.as_str() {
            "/ok" => (StatusCode::OK, "thanks".into()),
            "/created" => (StatusCode::CREATED, String::new()),
            "/gone" => (StatusCode::GONE, "endpoint removed".into()),
            // Longer than the snippet limit, with two-byte characters.
            "/fail" => (StatusCode::INTERNAL_SERVER_ERROR, "é".repeat(3000)),
            "/slow-down" => {
                response = response.header("retry-after", "120");
                (StatusCode::TOO_MANY_REQUESTS, "slow down".into())
            }
            "/redirect" => {
                response = response.header("location", "/ok");
                (StatusCode::FOUND, String::new())
            }
            "/bad" => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown event type".into(),
            ),
            "/sleep" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                (StatusCode::OK, "late".into())
            }
            _ => (StatusCode::NOT_FOUND, String::new()),
        }
    };
    Ok(response
        .status(status)
        .body(Full::new(Bytes::from(text)))
        .expect("valid response"))
}

async fn start_receiver(secret: &WebhookSecret) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (secret, log) = (secret.clone(), seen.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (secret, log) = (secret.clone(), log.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, secret.clone(), log.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Receiver { addr, seen }
}

fn local_deliverer(timeout: Duration) -> Deliverer {
    Deliverer::with_config(DelivererConfig {
        timeout,
        allow_private: true,
        ..DelivererConfig::default()
    })
    .expect("client")
}

const BODY: &[u8] =
    br#"{"type":"event.updated","timestamp":"2026-01-01T00:00:00Z","data":{"id":"42"}}"#;

struct Fixture {
    secret: WebhookSecret,
    receiver: Receiver,
    deliverer: Deliverer,
}

async fn fixture() -> Fixture {
    let secret = WebhookSecret::generate();
    let receiver = start_receiver(&secret).await;
    Fixture {
        deliverer: local_deliverer(Duration::from_secs(5)),
        secret,
        receiver,
    }
}

impl Fixture {
    async fn deliver(&self, path: &str, id: &MessageId) -> Attempt {
        self.deliverer
            .deliver(&self.receiver.url(path), &self.secret, id, BODY)
            .await
    }
}

#[tokio::test]
async fn delivered_with_valid_signature() {
    let f = fixture().await;
    let id = MessageId::generate();
    let attempt = f.deliver("/ok", &id).await;
    assert_eq!(attempt.outcome, Outcome::Delivered { status: 200 });
    assert_eq!(attempt.status, Some(200));
    assert_eq!(attempt.response_snippet.as_deref(), Some("thanks"));
    assert!(unix_now().abs_diff(attempt.timestamp) < 5);

    let seen = f.receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/ok");
    assert_eq!(seen[0].verified, Ok(()));
    assert_eq!(seen[0].id, id.as_str());
    assert_eq!(seen[0].content_type, "application/json");
    assert_eq!(seen[0].body, BODY);

    let attempt = f.deliver("/created", &id).await;
    assert_eq!(attempt.outcome, Outcome::Delivered { status: 201 });
    assert_eq!(attempt.response_snippet.as_deref(), Some(""));
}

#[tokio::test]
async fn retries_keep_the_id_and_get_fresh_signatures() {
    let f = fixture().await;
    let id = MessageId::generate();
    let url = f.receiver.url("/ok");
    let now = unix_now();
    for timestamp in [now - 10, now] {
        let attempt = f
            .deliverer
            .deliver_at(&url, &f.secret, &id, BODY, timestamp)
            .await;
        assert!(attempt.outcome.is_delivered());
        assert_eq!(attempt.timestamp, timestamp);
    }
    let seen = f.receiver.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.id == id.as_str() && s.verified.is_ok())
    );
}

#[tokio::test]
async fn stale_timestamp_is_refused_by_the_receiver() {
    let f = fixture().await;
    let url = f.receiver.url("/ok");
    let stale = unix_now() - 3600;
    let attempt = f
        .deliverer
        .deliver_at(&url, &f.secret, &MessageId::generate(), BODY, stale)
        .await;
    assert_eq!(attempt.outcome, Outcome::Rejected { status: 401 });
    assert_eq!(
        f.receiver.seen()[0].verified,
        Err(VerifyError::TimestampTooOld)
    );
}

#[tokio::test]
async fn wrong_secret_is_refused_by_the_receiver() {
    let f = fixture().await;
    let other = WebhookSecret::generate();
    let attempt = f
        .deliverer
        .deliver(&f.receiver.url("/ok"), &other, &MessageId::generate(), BODY)
        .await;
    assert_eq!(attempt.outcome, Outcome::Rejected { status: 401 });
    assert_eq!(
        f.receiver.seen()[0].verified,
        Err(VerifyError::SignatureMismatch)
    );
}

#[tokio::test]
async fn gone_disables() {
    let f = fixture().await;
    let attempt = f.deliver("/gone", &MessageId::generate()).await;
    assert_eq!(attempt.outcome, Outcome::Gone);
    assert_eq!(attempt.status, Some(410));
    assert_eq!(
        attempt.response_snippet.as_deref(),
        Some("endpoint removed")
    );
    assert!(f.receiver.seen()[0].verified.is_ok());
}

#[tokio::test]
async fn server_error_is_retried_with_bounded_snippet() {
    let f = fixture().await;
    let attempt = f.deliver("/fail", &MessageId::generate()).await;
    assert_eq!(
        attempt.outcome,
        Outcome::RetryLater {
            cause: RetryCause::Status(500),
            retry_after: None
        }
    );
    let snippet = attempt.response_snippet.expect("snippet");
    assert_eq!(snippet.len(), SNIPPET_LIMIT);
    assert!(snippet.chars().all(|c| c == 'é'));
    assert!(f.receiver.seen()[0].verified.is_ok());
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let f = fixture().await;
    let attempt = f.deliver("/slow-down", &MessageId::generate()).await;
    assert_eq!(
        attempt.outcome,
        Outcome::RetryLater {
            cause: RetryCause::Status(429),
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert!(f.receiver.seen()[0].verified.is_ok());
}

#[tokio::test]
async fn redirect_is_not_followed() {
    let f = fixture().await;
    let attempt = f.deliver("/redirect", &MessageId::generate()).await;
    assert_eq!(
        attempt.outcome,
        Outcome::RetryLater {
            cause: RetryCause::Status(302),
            retry_after: None
        }
    );
    let seen = f.receiver.seen();
    assert_eq!(seen.len(), 1, "the redirect target must not be requested");
    assert_eq!(seen[0].path, "/redirect");
}

#[tokio::test]
async fn client_error_is_final() {
    let f = fixture().await;
    let attempt = f.deliver("/bad", &MessageId::generate()).await;
    assert_eq!(attempt.outcome, Outcome::Rejected { status: 422 });
    assert!(!attempt.outcome.should_retry());
    assert_eq!(
        attempt.response_snippet.as_deref(),
        Some("unknown event type")
    );
}

#[tokio::test]
async fn timeout_is_retried() {
    let secret = WebhookSecret::generate();
    let receiver = start_receiver(&secret).await;
    let deliverer = local_deliverer(Duration::from_millis(300));
    let attempt = deliverer
        .deliver(
            &receiver.url("/sleep"),
            &secret,
            &MessageId::generate(),
            BODY,
        )
        .await;
    assert_eq!(
        attempt.outcome,
        Outcome::RetryLater {
            cause: RetryCause::Timeout,
            retry_after: None
        }
    );
    assert_eq!(attempt.status, None);
    assert!(attempt.elapsed < Duration::from_secs(3));
}

#[tokio::test]
async fn connection_refused_is_retried() {
    // Take a free port, then close it again.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let attempt = local_deliverer(Duration::from_secs(5))
        .deliver(
            &format!("http://{addr}/ok"),
            &WebhookSecret::generate(),
            &MessageId::generate(),
            BODY,
        )
        .await;
    match attempt.outcome {
        Outcome::RetryLater {
            cause: RetryCause::Transport(reason),
            retry_after: None,
        } => assert!(reason.to_lowercase().contains("connect"), "{reason}"),
        other => panic!("expected a transport failure, got {other:?}"),
    }
}

#[tokio::test]
async fn private_targets_refused_unless_allowed() {
    let f = fixture().await;
    let strict = Deliverer::new(Duration::from_secs(5)).expect("client");
    assert!(!strict.allows_private());
    let port = f.receiver.addr.port();

    // IP literal: refused before any request is built.
    let attempt = strict
        .deliver(
            &f.receiver.url("/ok"),
            &f.secret,
            &MessageId::generate(),
            BODY,
        )
        .await;
    assert_eq!(
        attempt.outcome,
        Outcome::Refused {
            reason: TargetError::PrivateAddress(f.receiver.addr.ip())
        }
    );

    // Host name: refused by the resolver at connect time.
    let attempt = strict
        .deliver(
            &format!("http://localhost:{port}/ok"),
            &f.secret,
            &MessageId::generate(),
            BODY,
        )
        .await;
    match attempt.outcome {
        Outcome::Refused {
            reason: TargetError::PrivateAddress(ip),
        } => assert!(ip.is_loopback()),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        f.receiver.seen().is_empty(),
        "nothing may reach the receiver"
    );

    // The same host name is fine when private targets are allowed.
    let attempt = f
        .deliverer
        .deliver(
            &format!("http://localhost:{port}/ok"),
            &f.secret,
            &MessageId::generate(),
            BODY,
        )
        .await;
    // (If localhost also resolves to ::1, where nothing listens, the connector falls
    // back to 127.0.0.1.)
    assert_eq!(attempt.outcome, Outcome::Delivered { status: 200 });
}

#[tokio::test]
async fn unsupported_scheme_refused() {
    let deliverer = local_deliverer(Duration::from_secs(5));
    let attempt = deliverer
        .deliver(
            "ftp://127.0.0.1/x",
            &WebhookSecret::generate(),
            &MessageId::generate(),
            BODY,
        )
        .await;
    assert_eq!(
        attempt.outcome,
        Outcome::Refused {
            reason: TargetError::UnsupportedScheme("ftp".into())
        }
    );
}

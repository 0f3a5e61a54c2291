//! Shared helpers for the integration tests: stores pointed at real servers, small test
//! items, and tiny local TCP servers for the failure cases no real DAV server produces.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use calport_core::{CollectionInfo, CollectionKind, Store};
use calport_dav::{DavConfig, DavStore};
use calport_testkit::DavServer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// Settings for tests: short timeouts and fast retries.
pub fn config(url: &str, username: &str, password: &str) -> DavConfig {
    let mut cfg = DavConfig::new(Url::parse(url).unwrap(), username, password);
    cfg.timeout = Duration::from_secs(60);
    cfg.connect_timeout = Duration::from_secs(5);
    cfg.retry_base_delay = Duration::from_millis(20);
    cfg
}

/// A store for the main user of `server`, starting discovery at `/`.
pub fn store(server: &DavServer) -> DavStore {
    DavStore::new(config(
        &server.url("/"),
        server.username(),
        server.password(),
    ))
    .unwrap()
}

/// A small event.
pub fn event(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport//dav tests//EN\r\n\
         BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n\
         DTSTART:20250102T100000Z\r\nDTEND:20250102T110000Z\r\nSUMMARY:{summary}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// Many events in one VCALENDAR, for Radicale's whole-collection PUT.
pub fn events_bulk(prefix: &str, count: usize) -> String {
    let mut out =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport//dav tests//EN\r\n");
    for i in 0..count {
        out.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:{prefix}-{i:04}\r\nDTSTAMP:20250101T000000Z\r\n\
             DTSTART:20250102T100000Z\r\nDTEND:20250102T110000Z\r\nSUMMARY:Event {i}\r\nEND:VEVENT\r\n"
        ));
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

/// A small vCard 3.0.
pub fn vcard(uid: &str, name: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n")
}

/// The collection at `path` from a fresh discovery.
pub async fn collection(store: &DavStore, path: &str) -> CollectionInfo {
    let found = store.discover().await.unwrap();
    found
        .into_iter()
        .find(|c| c.href.as_str() == path)
        .unwrap_or_else(|| panic!("{path} not discovered"))
}

/// The default calendar of a server, created if needed.
pub async fn default_calendar(server: &DavServer, store: &DavStore) -> CollectionInfo {
    server.create_default_collections().await.unwrap();
    let c = collection(store, server.calendar_path()).await;
    assert_eq!(c.kind, CollectionKind::Calendar);
    c
}

/// A port nothing listens on (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// Reads one HTTP request head (and a body of Content-Length bytes) from `stream`.
pub async fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf);
        }
    }
}

/// A plain web server (not DAV): 200 text/html to every request.
pub async fn html_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                while read_request(&mut stream).await.is_some() {
                    let body = "<html><body><h1>Welcome</h1></body></html>";
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// A server that accepts connections and never answers.
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    addr
}

/// What a [`flaky_proxy`] does with one incoming connection.
#[derive(Clone, Copy, Debug)]
pub enum Misbehave {
    /// Read the request, then close without answering.
    Drop,
    /// Answer `503 Service Unavailable` with `Retry-After: 0`.
    Unavailable,
    /// Forward the request, wait for the server's answer, then close without passing
    /// it on: the request took effect but the client never learns.
    Swallow,
}

/// A proxy to `upstream` that misbehaves on its first connections as listed, then
/// forwards everything.
pub async fn flaky_proxy(upstream: SocketAddr, plan: Vec<Misbehave>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut plan = plan.into_iter();
        while let Ok((mut client, _)) = listener.accept().await {
            match plan.next() {
                Some(Misbehave::Drop) => {
                    let _ = read_request(&mut client).await;
                    drop(client);
                }
                Some(Misbehave::Unavailable) => {
                    let _ = read_request(&mut client).await;
                    let _ = client
                        .write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\n\
                              Connection: close\r\nContent-Length: 4\r\n\r\nbusy",
                        )
                        .await;
                }
                Some(Misbehave::Swallow) => {
                    if let Some(request) = read_request(&mut client).await
                        && let Ok(mut server) = TcpStream::connect(upstream).await
                    {
                        let head_end = request.windows(2).position(|w| w == b"\r\n").unwrap();
                        let mut forwarded = request[..head_end + 2].to_vec();
                        forwarded.extend_from_slice(b"Connection: close\r\n");
                        forwarded.extend_from_slice(&request[head_end + 2..]);
                        let _ = server.write_all(&forwarded).await;
                        let mut answer = Vec::new();
                        let _ = server.read_to_end(&mut answer).await;
                    }
                    drop(client);
                }
                None => {
                    tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        }
    });
    addr
}

/// `127.0.0.1:PORT` of a testkit server.
pub fn addr_of(server: &DavServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

/// A proxy to `upstream` that demands HTTP Digest authentication (RFC 7616, SHA-256,
/// `qop=auth`) for `user`/`password`, checks every answer independently of calport's own
/// code, and forwards only requests that pass. It records the nonce counts it saw.
pub async fn digest_proxy(
    upstream: SocketAddr,
    user: &'static str,
    password: &'static str,
) -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<u32>>>) {
    use sha2::{Digest as _, Sha256};
    fn h(s: &str) -> String {
        Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
    const REALM: &str = "calport-test";
    const NONCE: &str = "n0nce-1234";
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counts = counts.clone();
            tokio::spawn(async move {
                while let Some(request) = read_request(&mut client).await {
                    let text = String::from_utf8_lossy(&request).into_owned();
                    let mut lines = text.split("\r\n");
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let (method, target) = (
                        first.next().unwrap_or_default(),
                        first.next().unwrap_or_default(),
                    );
                    let auth = lines
                        .take_while(|l| !l.is_empty())
                        .find_map(|l| {
                            l.strip_prefix("authorization: ")
                                .or(l.strip_prefix("Authorization: "))
                        })
                        .unwrap_or_default()
                        .to_owned();
                    let param = |name: &str| -> String {
                        let Some(start) = auth.find(&format!(" {name}=")) else {
                            return String::new();
                        };
                        let rest = &auth[start + name.len() + 2..];
                        match rest.strip_prefix('"') {
                            Some(quoted) => quoted[..quoted.find('"').unwrap_or(0)].to_owned(),
                            None => rest.split(',').next().unwrap_or_default().to_owned(),
                        }
                    };
                    let ha1 = h(&format!("{user}:{REALM}:{password}"));
                    let ha2 = h(&format!("{method}:{target}"));
                    let expected = h(&format!(
                        "{ha1}:{NONCE}:{}:{}:auth:{ha2}",
                        param("nc"),
                        param("cnonce")
                    ));
                    let valid = auth.starts_with("Digest ")
                        && param("uri") == target
                        && param("realm") == REALM
                        && param("opaque") == "op"
                        && param("response") == expected;
                    if !valid {
                        let challenge = format!(
                            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"{REALM}\"\r\n\
                             WWW-Authenticate: Digest realm=\"{REALM}\", qop=\"auth\", algorithm=SHA-256, \
                             nonce=\"{NONCE}\", opaque=\"op\"\r\nContent-Length: 0\r\n\r\n"
                        );
                        if client.write_all(challenge.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    counts
                        .lock()
                        .unwrap()
                        .push(u32::from_str_radix(&param("nc"), 16).unwrap_or(0));
                    // Forward on a fresh upstream connection that closes after one answer.
                    let head_end = request.windows(2).position(|w| w == b"\r\n").unwrap();
                    let mut forwarded = request[..head_end + 2].to_vec();
                    forwarded.extend_from_slice(b"Connection: close\r\n");
                    forwarded.extend_from_slice(&request[head_end + 2..]);
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    if server.write_all(&forwarded).await.is_err() {
                        return;
                    }
                    let mut answer = Vec::new();
                    let _ = server.read_to_end(&mut answer).await;
                    if client.write_all(&answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

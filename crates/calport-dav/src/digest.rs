//! HTTP Digest access authentication (RFC 7616), client side.
//!
//! Supports `MD5`, `SHA-256` and their `-sess` variants with `qop=auth` (and the RFC 2069
//! form without qop), `userhash`, and nonce reuse with an incrementing nonce count.

use std::fmt::Write as _;

use md5::Md5;
use rand::Rng;
use sha2::{Digest as _, Sha256};

/// The hash function a challenge asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    fn hash(self, input: &str) -> String {
        match self {
            Algorithm::Md5 => hex(&Md5::digest(input.as_bytes())),
            Algorithm::Sha256 => hex(&Sha256::digest(input.as_bytes())),
        }
    }
}

/// One `WWW-Authenticate: Digest …` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// `-sess` variant (RFC 7616 §3.4.2).
    pub session: bool,
    /// The algorithm token as the server spelled it, echoed back.
    pub algorithm_name: String,
    /// Whether the server offered `qop=auth`.
    pub qop_auth: bool,
    /// The previous nonce merely expired; the credentials were fine.
    pub stale: bool,
    /// The user name must be sent hashed (RFC 7616 §3.4.4).
    pub userhash: bool,
}

/// Picks the strongest supported Digest challenge among `WWW-Authenticate` values.
pub(crate) fn pick_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let mut found: Vec<Challenge> = values
        .into_iter()
        .flat_map(parse_auth_header)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("digest"))
        .filter_map(|(_, params)| challenge_from_params(&params))
        .collect();
    found.sort_by_key(|c| match c.algorithm {
        Algorithm::Sha256 => 0,
        Algorithm::Md5 => 1,
    });
    found.into_iter().next()
}

fn challenge_from_params(params: &[(String, String)]) -> Option<Challenge> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let algorithm_name = get("algorithm").unwrap_or_else(|| "MD5".to_owned());
    let upper = algorithm_name.to_ascii_uppercase();
    let (base, session) = match upper.strip_suffix("-SESS") {
        Some(base) => (base.to_owned(), true),
        None => (upper, false),
    };
    let algorithm = match base.as_str() {
        "MD5" => Algorithm::Md5,
        "SHA-256" => Algorithm::Sha256,
        _ => return None,
    };
    let qop = get("qop");
    let qop_auth = qop
        .as_deref()
        .is_some_and(|q| q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")));
    if qop.is_some() && !qop_auth {
        // Only auth-int offered: we do not hash request bodies.
        return None;
    }
    let flag = |name: &str| get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Some(Challenge {
        realm: get("realm").unwrap_or_default(),
        nonce: get("nonce")?,
        opaque: get("opaque"),
        algorithm,
        session,
        algorithm_name,
        qop_auth,
        stale: flag("stale"),
        userhash: flag("userhash"),
    })
}

/// A cached challenge and how often its nonce was used.
#[derive(Clone, Debug)]
pub(crate) struct DigestState {
    challenge: Challenge,
    nonce_count: u32,
}

impl DigestState {
    pub(crate) fn new(challenge: Challenge) -> Self {
        Self {
            challenge,
            nonce_count: 0,
        }
    }

    /// The `Authorization` header value for the next request, with a fresh cnonce.
    pub(crate) fn authorization(
        &mut self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
    ) -> String {
        self.nonce_count = self.nonce_count.wrapping_add(1);
        let cnonce = new_cnonce();
        authorization(
            &self.challenge,
            &Credentials { username, password },
            method,
            uri,
            self.nonce_count,
            &cnonce,
        )
    }
}

fn new_cnonce() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex(&bytes)
}

/// User name and password for one computation.
pub(crate) struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// Computes the `Authorization: Digest …` value (RFC 7616 §3.4).
pub(crate) fn authorization(
    challenge: &Challenge,
    credentials: &Credentials<'_>,
    method: &str,
    uri: &str,
    nonce_count: u32,
    cnonce: &str,
) -> String {
    let alg = challenge.algorithm;
    let realm = &challenge.realm;
    let nonce = &challenge.nonce;
    let nc = format!("{nonce_count:08x}");
    let mut ha1 = alg.hash(&format!(
        "{}:{realm}:{}",
        credentials.username, credentials.password
    ));
    if challenge.session {
        ha1 = alg.hash(&format!("{ha1}:{nonce}:{cnonce}"));
    }
    let ha2 = alg.hash(&format!("{method}:{uri}"));
    let response = if challenge.qop_auth {
        alg.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
    } else {
        alg.hash(&format!("{ha1}:{nonce}:{ha2}"))
    };
    let username = if challenge.userhash {
        alg.hash(&format!("{}:{realm}", credentials.username))
    } else {
        credentials.username.to_owned()
    };
    let mut out = format!(
        "Digest username=\"{}\", realm=\"{}\", uri=\"{}\", algorithm={}, nonce=\"{}\"",
        quote(&username),
        quote(realm),
        quote(uri),
        challenge.algorithm_name,
        quote(nonce),
    );
    if challenge.qop_auth {
        let _ = write!(out, ", nc={nc}, cnonce=\"{}\", qop=auth", quote(cnonce));
    }
    let _ = write!(out, ", response=\"{response}\"");
    if let Some(opaque) = &challenge.opaque {
        let _ = write!(out, ", opaque=\"{}\"", quote(opaque));
    }
    if challenge.userhash {
        out.push_str(", userhash=true");
    }
    out
}

fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Splits a `WWW-Authenticate` value into challenges: `(scheme, [(param, value)])`.
///
/// Parameter names are lower-cased; quoted values are unescaped. A token68 credential
/// (`Negotiate abc==`) is tolerated and ignored.
pub(crate) fn parse_auth_header(value: &str) -> Vec<(String, Vec<(String, String)>)> {
    let chars: Vec<char> = value.chars().collect();
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut i = 0;
    let is_sep = |c: char| c == ',' || c.is_whitespace();
    while i < chars.len() {
        while i < chars.len() && is_sep(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && !is_sep(chars[i]) && chars[i] != '=' {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' {
            i = j + 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && !is_sep(chars[i]) {
                    value.push(chars[i]);
                    i += 1;
                }
            }
            if let Some((_, params)) = out.last_mut() {
                params.push((token.to_ascii_lowercase(), value));
            }
        } else if !token.is_empty() {
            out.push((token, Vec::new()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const MUFASA: Credentials<'static> = Credentials {
        username: "Mufasa",
        password: "Circle of Life",
    };

    fn rfc7616_header(algorithm: &str) -> String {
        format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
             algorithm={algorithm}, nonce=\"{NONCE}\", opaque=\"{OPAQUE}\""
        )
    }

    fn response_of(header: &str) -> String {
        let start = header.find("response=\"").unwrap() + 10;
        header[start..start + header[start..].find('"').unwrap()].to_owned()
    }

    #[test]
    fn rfc7616_example_md5() {
        let challenge = pick_challenge([rfc7616_header("MD5").as_str()]).unwrap();
        assert_eq!(challenge.algorithm, Algorithm::Md5);
        let header = authorization(&challenge, &MUFASA, "GET", "/dir/index.html", 1, CNONCE);
        assert_eq!(response_of(&header), "8ca523f5e9506fed4657c9700eebdbec");
        assert!(header.contains("nc=00000001"));
        assert!(header.contains(&format!("opaque=\"{OPAQUE}\"")));
        assert!(header.contains("qop=auth,") || header.contains("qop=auth"));
    }

    #[test]
    fn rfc7616_example_sha256() {
        let challenge = pick_challenge([rfc7616_header("SHA-256").as_str()]).unwrap();
        let header = authorization(&challenge, &MUFASA, "GET", "/dir/index.html", 1, CNONCE);
        assert_eq!(
            response_of(&header),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert!(header.contains("algorithm=SHA-256"));
    }

    #[test]
    fn prefers_sha256_when_both_are_offered() {
        let md5 = rfc7616_header("MD5");
        let sha = rfc7616_header("SHA-256");
        let picked = pick_challenge([md5.as_str(), sha.as_str()]).unwrap();
        assert_eq!(picked.algorithm, Algorithm::Sha256);
        // Both challenges in one header value, next to a Basic one.
        let combined = format!("Basic realm=\"x\", {md5}, {sha}");
        let picked = pick_challenge([combined.as_str()]).unwrap();
        assert_eq!(picked.algorithm, Algorithm::Sha256);
    }

    #[test]
    fn parses_flags_and_rejects_unknown_algorithms() {
        let c = pick_challenge([
            "Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess, qop=auth, stale=TRUE, userhash=true",
        ])
        .unwrap();
        assert!(c.session && c.stale && c.userhash && c.qop_auth);
        assert!(
            pick_challenge(["Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"]).is_none()
        );
        assert!(pick_challenge(["Basic realm=\"r\""]).is_none());
        assert!(pick_challenge(["Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""]).is_none());
    }

    #[test]
    fn nonce_count_increments() {
        let challenge = pick_challenge([rfc7616_header("MD5").as_str()]).unwrap();
        let mut state = DigestState::new(challenge);
        let first = state.authorization("u", "p", "PROPFIND", "/");
        let second = state.authorization("u", "p", "PROPFIND", "/");
        assert!(first.contains("nc=00000001"));
        assert!(second.contains("nc=00000002"));
    }

    #[test]
    fn rfc2069_form_without_qop() {
        let c = pick_challenge(["Digest realm=\"r\", nonce=\"n\""]).unwrap();
        let header = authorization(&c, &MUFASA, "GET", "/", 1, "c");
        assert!(!header.contains("qop="));
        let ha1 = Algorithm::Md5.hash("Mufasa:r:Circle of Life");
        let ha2 = Algorithm::Md5.hash("GET:/");
        assert_eq!(
            response_of(&header),
            Algorithm::Md5.hash(&format!("{ha1}:n:{ha2}"))
        );
    }

    #[test]
    fn quoted_values_may_hold_commas_and_escapes() {
        let parsed = parse_auth_header(r#"Digest realm="a, \"b\"", nonce=xyz"#);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].1[0], ("realm".to_owned(), "a, \"b\"".to_owned()));
        assert_eq!(parsed[0].1[1], ("nonce".to_owned(), "xyz".to_owned()));
    }
}

//! Which webhook targets we may connect to (SSRF protection).
//!
//! A webhook URL is user input that makes the server send requests, so without checks
//! anyone allowed to register a webhook could reach `http://127.0.0.1:...`, the cloud
//! metadata service at `169.254.169.254` or hosts on the internal network.
//!
//! The check has to look at the addresses we *connect to*, not at the URL at
//! registration time: a host name can resolve to a public address when registered
//! and to `127.0.0.1` later (DNS rebinding). Two paths cover every connection:
//!
//! - host names are resolved by [`PublicOnlyResolver`], installed as the HTTP client's
//!   DNS resolver: it drops non-public addresses from the answer and fails when none
//!   is left, so the connector only ever sees addresses that passed the check (no
//!   gap between checking and connecting, unlike resolving first and sending later);
//! - IP literals never reach a resolver (the connector uses them as they are), so
//!   [`check_url`] rejects non-public literals before a request is built.
//!
//! Proxies are disabled on the client because a proxy would resolve the target itself.
//!
//! Loopback and private targets are allowed only when the deliverer is built with
//! `allow_private` (a configuration switch for self-hosters whose receivers live on
//! the same machine or LAN, and for tests).

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use thiserror::Error;

/// Why a webhook URL is not an acceptable target.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TargetError {
    /// The URL does not parse as an absolute URL.
    #[error("webhook URL is not a valid absolute URL")]
    InvalidUrl,
    /// Only `http` and `https` are delivered to.
    #[error("webhook URL scheme must be http or https, not {0:?}")]
    UnsupportedScheme(String),
    /// The URL has no host.
    #[error("webhook URL has no host")]
    MissingHost,
    /// The target is (or resolves only to) a loopback, private, link-local or other
    /// non-public address, and private targets are not allowed.
    #[error(
        "webhook target address {0} is not public (loopback, private, link-local or reserved); \
         private targets must be allowed in the configuration"
    )]
    PrivateAddress(IpAddr),
}

/// Parses and checks a webhook URL: `http`/`https` with a host, and, unless
/// `allow_private`, not a non-public IP literal. Host names are checked when they are
/// resolved at connect time; call this at registration too to reject obvious
/// mistakes early.
///
/// # Errors
/// See [`TargetError`].
pub fn check_url(url: &str, allow_private: bool) -> Result<Url, TargetError> {
    let url = Url::parse(url).map_err(|_| TargetError::InvalidUrl)?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(TargetError::UnsupportedScheme(other.to_owned())),
    }
    let literal = match url.host() {
        None => return Err(TargetError::MissingHost),
        Some(url::Host::Domain(_)) => None,
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
    };
    if let Some(ip) = literal
        && !allow_private
        && !is_public_address(ip)
    {
        return Err(TargetError::PrivateAddress(ip));
    }
    Ok(url)
}

/// Whether `ip` is an address on the public internet that webhooks may be sent to.
///
/// Refused: unspecified, loopback, RFC 1918 private, carrier-grade NAT
/// (100.64.0.0/10), link-local (including 169.254.169.254 metadata services),
/// IETF protocol assignments (192.0.0.0/24), benchmarking, documentation, multicast,
/// broadcast and reserved IPv4 ranges; for IPv6 the unspecified and loopback
/// addresses, unique-local (fc00::/7), link-local, site-local, multicast,
/// documentation, discard-only, Teredo and the deprecated IPv4-compatible range.
/// IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 addresses are judged by the IPv4
/// address they embed.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network", includes 0.0.0.0
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10 shared address space
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24 IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || a >= 240; // 240.0.0.0/4 reserved
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // 64:ff9b::/96 NAT64 well-known prefix.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 2002::/16 6to4.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || s[..6] == [0, 0, 0, 0, 0, 0] // ::/96 IPv4-compatible (deprecated)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // 64:ff9b:1::/48 local NAT64
        || s[..4] == [0x100, 0, 0, 0] // 100::/64 discard-only
        || (s[0] == 0x2001 && s[1] == 0xdb8) // 2001:db8::/32 documentation
        || (s[0] == 0x2001 && s[1] == 0); // 2001::/32 Teredo
    !refused
}

/// The error [`PublicOnlyResolver`] returns; found again in the error chain of the
/// failed request to report [`TargetError::PrivateAddress`].
#[derive(Debug)]
pub(crate) struct ResolvedToPrivate(pub(crate) IpAddr);

impl fmt::Display for ResolvedToPrivate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "host resolves only to non-public addresses such as {}",
            self.0
        )
    }
}

impl StdError for ResolvedToPrivate {}

/// A DNS resolver for the HTTP client that only hands out public addresses.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: the connector puts in the URL's port.
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let mut refused = None;
            let public: Vec<_> = resolved
                .filter(|addr| {
                    let ok = is_public_address(addr.ip());
                    if !ok {
                        refused.get_or_insert(addr.ip());
                    }
                    ok
                })
                .collect();
            if public.is_empty() {
                let error: Box<dyn StdError + Send + Sync> = match refused {
                    Some(ip) => Box::new(ResolvedToPrivate(ip)),
                    None => format!("{host} has no addresses").into(),
                };
                return Err(error);
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public_address(text.parse().expect("address"))
    }

    #[test]
    fn refuses_non_public_ipv4() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn accepts_public_ipv4() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.0.1",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn ipv6_ranges() {
        for ip in [
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(!public(ip), "{ip} must be refused");
        }
        for ip in [
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
            "2002:101:101::1",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn url_checks() {
        assert!(check_url("https://hooks.example.com/x?y=1", false).is_ok());
        assert!(check_url("http://93.184.215.14:8080/", false).is_ok());
        assert_eq!(check_url("not a url", false), Err(TargetError::InvalidUrl));
        assert_eq!(check_url("/relative", false), Err(TargetError::InvalidUrl));
        assert_eq!(
            check_url("ftp://example.com/", false),
            Err(TargetError::UnsupportedScheme("ftp".into()))
        );
        assert_eq!(
            check_url("file:///etc/passwd", false),
            Err(TargetError::UnsupportedScheme("file".into()))
        );
        assert_eq!(
            check_url("http://127.0.0.1:9/", false),
            Err(TargetError::PrivateAddress(
                "127.0.0.1".parse().expect("ip")
            ))
        );
        // Alternative spellings are normalised by the URL parser before the check.
        assert_eq!(
            check_url("http://2130706433/", false),
            Err(TargetError::PrivateAddress(
                "127.0.0.1".parse().expect("ip")
            ))
        );
        assert_eq!(
            check_url("http://0x7f.1/", false),
            Err(TargetError::PrivateAddress(
                "127.0.0.1".parse().expect("ip")
            ))
        );
        assert_eq!(
            check_url("http://[::ffff:169.254.169.254]/", false),
            Err(TargetError::PrivateAddress(
                "::ffff:a9fe:a9fe".parse().expect("ip")
            ))
        );
        assert!(check_url("http://127.0.0.1:9/", true).is_ok());
        // Host names pass here and are checked when resolved.
        assert!(check_url("http://localhost/", false).is_ok());
    }

    #[tokio::test]
    async fn resolver_drops_private_answers() {
        let name: Name = "localhost".parse().expect("name");
        let error = match PublicOnlyResolver.resolve(name).await {
            Ok(_) => panic!("localhost must not resolve to a usable address"),
            Err(error) => error,
        };
        let private = error
            .downcast_ref::<ResolvedToPrivate>()
            .expect("typed error");
        assert!(private.0.is_loopback());
    }
}

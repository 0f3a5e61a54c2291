//! API keys: generated once, shown once, stored as a hash.
//!
//! A key looks like `cpk_<43 chars>`: a short type prefix, `_`, then 32 random bytes
//! in unpadded base64url. The prefix makes keys recognisable (secret scanners, logs);
//! the random part is the secret. The random part always has the same length, so the
//! key is parsed from the end and the prefix may contain anything, even `_`.
//!
//! The server stores a [`StoredKey`]:
//! - `lookup_id`: the first 8 characters of the random part. It is public (safe to
//!   show in a key list) and indexed, so a presented key finds its row with one lookup
//!   ([`lookup_id_of`]). 48 bits make collisions rare but possible: check every row
//!   with that id.
//! - `hash`: hex SHA-256 of the whole key. A fast hash is enough because the key has
//!   256 bits of entropy (no password stretching needed); [`verify`] compares it in
//!   constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::encoding::{from_hex, random_bytes, to_hex};

/// The prefix calport uses for its own API keys (`cpk_...`).
pub const DEFAULT_PREFIX: &str = "cpk";
/// Number of random bytes in a key.
pub const RANDOM_BYTES: usize = 32;
/// Length of the base64url text of the random part.
const RANDOM_CHARS: usize = 43;
/// Length of the public lookup id.
pub const LOOKUP_ID_LEN: usize = 8;

/// What the server keeps about an API key; nothing here lets anyone use the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// Short public id (first [`LOOKUP_ID_LEN`] characters of the random part), to find
    /// the row for a presented key.
    pub lookup_id: String,
    /// Lower-case hex SHA-256 of the complete key, prefix included.
    pub hash: String,
}

/// Generates a new API key `{prefix}_{random}`.
///
/// Returns the key, to be shown to the user exactly once, and what to store. `prefix`
/// is normally [`DEFAULT_PREFIX`]; pass it without the `_` separator.
pub fn generate(prefix: &str) -> (String, StoredKey) {
    let random = URL_SAFE_NO_PAD.encode(random_bytes::<RANDOM_BYTES>());
    let key = format!("{prefix}_{random}");
    let stored = StoredKey {
        lookup_id: random[..LOOKUP_ID_LEN].to_owned(),
        hash: hash_key(&key),
    };
    (key, stored)
}

/// The lookup id of a presented key, or `None` when it does not have the shape of a
/// key made by [`generate`] (so the server can answer 401 without a database query).
pub fn lookup_id_of(presented: &str) -> Option<String> {
    let bytes = presented.as_bytes();
    let separator = bytes.len().checked_sub(RANDOM_CHARS + 1)?;
    let random = &bytes[separator + 1..];
    if bytes[separator] != b'_' || !random.iter().all(|&b| is_base64url(b)) {
        return None;
    }
    // All ASCII, so the byte range is a valid `str` range.
    let random = &presented[separator + 1..];
    Some(random[..LOOKUP_ID_LEN].to_owned())
}

/// Whether `presented` is the key whose hash is `stored_hash` (as produced by
/// [`generate`]). The comparison runs in constant time; a malformed `stored_hash`
/// never matches.
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    let Some(expected) = from_hex::<32>(stored_hash) else {
        return false;
    };
    let actual: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    actual.ct_eq(&expected).into()
}

/// Lower-case hex SHA-256 of a key, as stored in [`StoredKey::hash`].
pub fn hash_key(key: &str) -> String {
    to_hex(&Sha256::digest(key.as_bytes()))
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_has_expected_shape() {
        let (key, stored) = generate(DEFAULT_PREFIX);
        assert!(key.starts_with("cpk_"));
        assert_eq!(key.len(), 4 + 43);
        assert_eq!(stored.lookup_id, key[4..12]);
        assert_eq!(stored.hash.len(), 64);
        assert!(!stored.hash.contains(&key[4..]));
        assert_eq!(stored.hash, hash_key(&key));
    }

    #[test]
    fn keys_are_unique() {
        let (a, sa) = generate(DEFAULT_PREFIX);
        let (b, sb) = generate(DEFAULT_PREFIX);
        assert_ne!(a, b);
        assert_ne!(sa.hash, sb.hash);
    }

    #[test]
    fn verify_accepts_only_the_right_key() {
        let (key, stored) = generate(DEFAULT_PREFIX);
        assert!(verify(&key, &stored.hash));
        assert!(verify(&key, &stored.hash.to_uppercase()));
        let (other, _) = generate(DEFAULT_PREFIX);
        assert!(!verify(&other, &stored.hash));
        assert!(!verify(&key[..key.len() - 1], &stored.hash));
        assert!(!verify(&format!("{key}x"), &stored.hash));
        assert!(!verify("", &stored.hash));
        // The prefix is part of what is hashed.
        assert!(!verify(&key.replacen("cpk_", "xyz_", 1), &stored.hash));
    }

    #[test]
    fn verify_rejects_malformed_stored_hash() {
        let (key, stored) = generate(DEFAULT_PREFIX);
        assert!(!verify(&key, ""));
        assert!(!verify(&key, &stored.hash[..63]));
        assert!(!verify(&key, &format!("{}zz", &stored.hash[..62])));
    }

    #[test]
    fn lookup_id_round_trip() {
        for prefix in [DEFAULT_PREFIX, "", "my_app", "ключ"] {
            let (key, stored) = generate(prefix);
            assert_eq!(
                lookup_id_of(&key),
                Some(stored.lookup_id),
                "prefix {prefix:?}"
            );
        }
    }

    #[test]
    fn lookup_id_rejects_foreign_strings() {
        let (key, _) = generate(DEFAULT_PREFIX);
        assert_eq!(lookup_id_of(""), None);
        assert_eq!(lookup_id_of("cpk_short"), None);
        assert_eq!(lookup_id_of(&key[..key.len() - 1]), None);
        assert_eq!(lookup_id_of(&key.replacen('_', "-", 1)), None);
        let bad_char = format!("{}!", &key[..key.len() - 1]);
        assert_eq!(lookup_id_of(&bad_char), None);
        let non_ascii = format!("{}é", &key[..key.len() - 2]);
        assert_eq!(lookup_id_of(&non_ascii), None);
    }
}

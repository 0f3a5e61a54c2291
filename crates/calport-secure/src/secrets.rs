//! Encryption at rest for account passwords, OAuth tokens and webhook secrets.
//!
//! One 32-byte [`MasterKey`] encrypts every secret with XChaCha20-Poly1305. Its
//! 192-bit nonce is drawn at random for each encryption, which is safe for any
//! realistic number of messages under one key (no counter to persist).
//!
//! Sealed format (version 1):
//!
//! ```text
//! 0x01 | nonce (24 bytes) | ciphertext (len = plaintext) | Poly1305 tag (16 bytes)
//! ```
//!
//! The caller's *context* (for example `b"account:42:password"`) is the associated
//! data: it is authenticated but not stored, so a ciphertext moved to another row or
//! column no longer decrypts. Contexts must therefore be derived from stable row data
//! (ids, column names), never from data that may change.
//!
//! Where the key comes from ([`MasterKey::from_env_or_file`]): the environment variable
//! [`KEY_ENV_VAR`] when set, otherwise the file [`KEY_FILE_NAME`] in the data
//! directory, created on first start. Losing the key makes every stored secret
//! unreadable, so the file must be part of backups (kept apart from the database).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, Key, KeyInit, Tag, XChaCha20Poly1305, XNonce};
use rand::TryRngCore;
use rand::rngs::OsRng;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::encoding::random_bytes;

/// Name of the environment variable that may hold the master key (base64 of 32 bytes).
pub const KEY_ENV_VAR: &str = "CALPORT_SECRET_KEY";
/// Name of the key file inside the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";
/// Length of the master key in bytes.
pub const KEY_LEN: usize = 32;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;
/// Largest key file we are willing to read; a real one is 45 bytes.
const MAX_KEY_FILE_LEN: u64 = 1024;

/// Where a [`MasterKey`] was loaded from, for the start-up log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The [`KEY_ENV_VAR`] environment variable.
    Environment,
    /// An existing key file.
    ExistingFile(PathBuf),
    /// A key file generated during this start: tell the operator to back it up.
    CreatedFile(PathBuf),
    /// Raw bytes given by the caller ([`MasterKey::from_bytes`]).
    Bytes,
}

/// A failure to load the master key or to decrypt a secret.
///
/// No variant ever carries key material or plaintext.
#[derive(Debug, Error)]
pub enum SecretsError {
    /// The environment variable is set but does not hold a usable key. The message
    /// deliberately does not repeat the value.
    #[error(
        "{KEY_ENV_VAR} is invalid: {reason}; expected the base64 encoding of 32 random bytes \
         (for example the output of `openssl rand -base64 32`)"
    )]
    InvalidEnvKey {
        /// What is wrong with it, without the value.
        reason: &'static str,
    },
    /// The key file exists but does not hold a usable key.
    #[error(
        "key file {path} is invalid: {reason}; it must contain the base64 encoding of 32 bytes"
    )]
    InvalidKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it, without the content.
        reason: &'static str,
    },
    /// The key file can be read or written by other users.
    #[error(
        "key file {path} is accessible by group or others (mode {mode:o}); \
         run `chmod 600 {path}` and restart"
    )]
    KeyFileTooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or writing the key file (or its directory) failed.
    #[error("cannot {action} {path}")]
    KeyFileIo {
        /// What we were doing ("read", "create", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The operating system random number generator failed.
    #[error("the operating system random number generator failed")]
    Randomness,
    /// The sealed bytes are not in a format this version understands.
    #[error("encrypted secret is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// Authentication failed: wrong key, wrong context, or the data was altered.
    #[error("encrypted secret cannot be decrypted: wrong key, wrong context or altered data")]
    Inauthentic,
}

/// The 32-byte key that encrypts every secret at rest.
///
/// `Debug` shows only where the key came from. The key bytes live inside the cipher,
/// which wipes them on drop.
#[derive(Clone)]
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    source: KeySource,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("source", &self.source)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl MasterKey {
    /// Loads the master key, creating the key file on first start.
    ///
    /// - When `env_value` (the value of [`KEY_ENV_VAR`]) is `Some`, it must be the
    ///   base64 (standard alphabet) encoding of exactly 32 bytes; surrounding
    ///   whitespace is ignored. The key file is then neither read nor created.
    /// - Otherwise `data_dir/secret.key` is read. It holds the key as base64 text (so
    ///   it can be copied into the environment variable); exactly 32 raw bytes are
    ///   accepted too. On Unix a file that group or others may access is refused.
    /// - If the file does not exist, 32 bytes from the operating system RNG are
    ///   written to it atomically (temporary file with mode 0600, then a rename that
    ///   never replaces an existing file, so two processes starting at once agree on
    ///   one key). `data_dir` is created if missing.
    ///
    /// # Errors
    /// [`SecretsError::InvalidEnvKey`], [`SecretsError::InvalidKeyFile`],
    /// [`SecretsError::KeyFileTooOpen`], [`SecretsError::KeyFileIo`] or
    /// [`SecretsError::Randomness`]. Messages never contain the key.
    pub fn from_env_or_file(
        env_value: Option<&str>,
        data_dir: &Path,
    ) -> Result<Self, SecretsError> {
        if let Some(value) = env_value {
            let bytes = decode_env_key(value)?;
            return Ok(Self::with_source(&bytes, KeySource::Environment));
        }
        let path = data_dir.join(KEY_FILE_NAME);
        match read_key_file(&path)? {
            Some(bytes) => Ok(Self::with_source(&bytes, KeySource::ExistingFile(path))),
            None => create_key_file(data_dir, &path),
        }
    }

    /// A key from raw bytes, for tests and for callers with their own key storage.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        Self::with_source(bytes, KeySource::Bytes)
    }

    fn with_source(bytes: &[u8; KEY_LEN], source: KeySource) -> Self {
        // Borrow the bytes as the cipher's key type: no extra copy left to wipe.
        let key: &Key = bytes.into();
        Self {
            cipher: XChaCha20Poly1305::new(key),
            source,
        }
    }

    /// Where this key was loaded from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Encrypts `plaintext`, binding it to `context` (for example
    /// `b"account:42:password"`), with a fresh random nonce.
    ///
    /// The result is `1 + 24 + plaintext.len() + 16` bytes long (see the module docs).
    /// The plaintext is never copied to a buffer that is not overwritten by the
    /// ciphertext.
    pub fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = random_bytes();
        let nonce = XNonce::from(nonce_bytes);
        // Reserve the full length up front so that appending the tag never reallocates
        // (a reallocation would leave a plaintext copy in freed memory).
        let mut sealed = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce_bytes);
        sealed.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, context, InOutBuf::from(&mut sealed[HEADER_LEN..]))
            // XChaCha20-Poly1305 only fails for messages over 256 GiB.
            .expect("secret too large to encrypt");
        sealed.extend_from_slice(&tag);
        sealed
    }

    /// Decrypts bytes produced by [`MasterKey::encrypt`] with the same key and context.
    /// The plaintext is wiped from memory when the returned buffer is dropped.
    ///
    /// # Errors
    /// [`SecretsError::Malformed`] for truncated input or an unknown format version,
    /// [`SecretsError::Inauthentic`] for a wrong key, a wrong context or altered bytes.
    pub fn decrypt(
        &self,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(SecretsError::Malformed { reason: "empty" });
        };
        if version != FORMAT_V1 {
            return Err(SecretsError::Malformed {
                reason: "unknown format version",
            });
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Malformed {
                reason: "too short",
            });
        }
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SecretsError::Malformed {
            reason: "bad nonce",
        })?;
        let tag = Tag::try_from(tag).map_err(|_| SecretsError::Malformed { reason: "bad tag" })?;
        let mut plaintext = Zeroizing::new(ciphertext.to_vec());
        self.cipher
            .decrypt_inout_detached(
                &nonce,
                context,
                InOutBuf::from(plaintext.as_mut_slice()),
                &tag,
            )
            .map_err(|_| SecretsError::Inauthentic)?;
        Ok(plaintext)
    }
}

fn decode_env_key(value: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, SecretsError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(SecretsError::InvalidEnvKey {
            reason: "it is set but empty",
        });
    }
    // The base64 crate's error names the offending byte; do not pass it on.
    let decoded =
        Zeroizing::new(
            STANDARD
                .decode(value)
                .map_err(|_| SecretsError::InvalidEnvKey {
                    reason: "it is not valid base64",
                })?,
        );
    <[u8; KEY_LEN]>::try_from(decoded.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| SecretsError::InvalidEnvKey {
            reason: "it does not decode to exactly 32 bytes",
        })
}

/// Reads the key file; `Ok(None)` when it does not exist.
fn read_key_file(path: &Path) -> Result<Option<Zeroizing<[u8; KEY_LEN]>>, SecretsError> {
    let io_err = |action, source| SecretsError::KeyFileIo {
        action,
        path: path.to_owned(),
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", e)),
    };
    // Check the permissions of the file we opened, not of whatever the path names now.
    let metadata = file.metadata().map_err(|e| io_err("inspect", e))?;
    check_private(path, &metadata)?;
    let invalid = |reason| SecretsError::InvalidKeyFile {
        path: path.to_owned(),
        reason,
    };
    if !metadata.is_file() {
        return Err(invalid("it is not a regular file"));
    }
    let mut content = Zeroizing::new(Vec::new());
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut content)
        .map_err(|e| io_err("read", e))?;
    if content.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(invalid("it is too large"));
    }
    let text = content.trim_ascii();
    if let Ok(decoded) = STANDARD.decode(text).map(Zeroizing::new) {
        return <[u8; KEY_LEN]>::try_from(decoded.as_slice())
            .map(|key| Some(Zeroizing::new(key)))
            .map_err(|_| invalid("it does not decode to exactly 32 bytes"));
    }
    // 32 raw bytes can never be the base64 form of a 32-byte key (that is 44 chars).
    <[u8; KEY_LEN]>::try_from(content.as_slice())
        .map(|key| Some(Zeroizing::new(key)))
        .map_err(|_| invalid("it is neither base64 nor 32 raw bytes"))
}

#[cfg(unix)]
fn check_private(path: &Path, metadata: &fs::Metadata) -> Result<(), SecretsError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretsError::KeyFileTooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _metadata: &fs::Metadata) -> Result<(), SecretsError> {
    // Windows ACLs are not checked; the data directory's ACL protects the file.
    Ok(())
}

fn create_key_file(data_dir: &Path, path: &Path) -> Result<MasterKey, SecretsError> {
    let io_err = |action, target: &Path, source| SecretsError::KeyFileIo {
        action,
        path: target.to_owned(),
        source,
    };
    fs::create_dir_all(data_dir).map_err(|e| io_err("create directory", data_dir, e))?;

    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    OsRng
        .try_fill_bytes(key.as_mut_slice())
        .map_err(|_| SecretsError::Randomness)?;
    let mut text = Zeroizing::new(STANDARD.encode(key.as_slice()));
    text.push('\n');

    let mut builder = tempfile::Builder::new();
    builder.prefix(".secret.key.").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o600));
    }
    let mut temp = builder
        .tempfile_in(data_dir)
        .map_err(|e| io_err("create a temporary file in", data_dir, e))?;
    temp.write_all(text.as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| io_err("write", temp.path(), e))?;

    match temp.persist_noclobber(path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
            // Another process created the key first: use theirs (the temporary file
            // is removed when `e.file` is dropped).
            drop(e.file);
            return match read_key_file(path)? {
                Some(bytes) => Ok(MasterKey::with_source(
                    &bytes,
                    KeySource::ExistingFile(path.to_owned()),
                )),
                None => Err(io_err(
                    "read",
                    path,
                    io::Error::new(io::ErrorKind::NotFound, "key file vanished"),
                )),
            };
        }
        Err(e) => return Err(io_err("create", path, e.error)),
    }
    sync_dir(data_dir).map_err(|e| io_err("sync directory", data_dir, e))?;
    Ok(MasterKey::with_source(
        &key,
        KeySource::CreatedFile(path.to_owned()),
    ))
}

/// Makes the new directory entry durable (a crash right after start-up must not lose
/// the key that may already have encrypted data).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> MasterKey {
        MasterKey::from_bytes(&[7u8; KEY_LEN])
    }

    #[test]
    fn round_trip() {
        let key = test_key();
        let sealed = key.encrypt(b"hunter2", b"account:42:password");
        assert_eq!(sealed.len(), 1 + 24 + 7 + 16);
        let opened = key
            .decrypt(&sealed, b"account:42:password")
            .expect("decrypts");
        assert_eq!(opened.as_slice(), b"hunter2");
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let key = test_key();
        let sealed = key.encrypt(b"", b"ctx");
        assert_eq!(
            key.decrypt(&sealed, b"ctx").expect("decrypts").as_slice(),
            b""
        );
    }

    #[test]
    fn wrong_context_fails() {
        let key = test_key();
        let sealed = key.encrypt(b"hunter2", b"account:42:password");
        assert!(matches!(
            key.decrypt(&sealed, b"account:43:password"),
            Err(SecretsError::Inauthentic)
        ));
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = test_key().encrypt(b"hunter2", b"ctx");
        let other = MasterKey::from_bytes(&[8u8; KEY_LEN]);
        assert!(matches!(
            other.decrypt(&sealed, b"ctx"),
            Err(SecretsError::Inauthentic)
        ));
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let key = test_key();
        let sealed = key.encrypt(b"hunter2", b"ctx");
        for i in 1..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(
                matches!(
                    key.decrypt(&tampered, b"ctx"),
                    Err(SecretsError::Inauthentic)
                ),
                "flipping byte {i} must be detected"
            );
        }
        let mut wrong_version = sealed.clone();
        wrong_version[0] = 2;
        assert!(matches!(
            key.decrypt(&wrong_version, b"ctx"),
            Err(SecretsError::Malformed { .. })
        ));
        assert!(matches!(
            key.decrypt(&sealed[..sealed.len() - 1], b"ctx"),
            Err(SecretsError::Inauthentic)
        ));
        assert!(matches!(
            key.decrypt(&sealed[..20], b"ctx"),
            Err(SecretsError::Malformed { .. })
        ));
        assert!(matches!(
            key.decrypt(&[], b"ctx"),
            Err(SecretsError::Malformed { .. })
        ));
    }

    #[test]
    fn plaintext_never_appears_in_ciphertext() {
        let key = test_key();
        let plaintext = b"correct horse battery staple";
        let first = key.encrypt(plaintext, b"ctx");
        let second = key.encrypt(plaintext, b"ctx");
        assert_ne!(first, second, "nonces must differ");
        for sealed in [&first, &second] {
            // No 4-byte window of the plaintext survives.
            for window in plaintext.windows(4) {
                assert!(!sealed.windows(4).any(|w| w == window));
            }
        }
    }

    #[test]
    fn debug_hides_key() {
        let key = MasterKey::from_bytes(&[0xAB; KEY_LEN]);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.to_lowercase().contains("abab"));
        assert!(!shown.contains("171"));
    }

    #[test]
    fn env_key_is_used_and_no_file_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let encoded = STANDARD.encode([9u8; KEY_LEN]);
        let key = MasterKey::from_env_or_file(Some(&format!(" {encoded}\n")), dir.path())
            .expect("valid env key");
        assert_eq!(key.source(), &KeySource::Environment);
        assert!(!dir.path().join(KEY_FILE_NAME).exists());
        let sealed = MasterKey::from_bytes(&[9u8; KEY_LEN]).encrypt(b"x", b"c");
        assert_eq!(
            key.decrypt(&sealed, b"c").expect("same key").as_slice(),
            b"x"
        );
    }

    #[test]
    fn bad_env_key_rejected_without_echo() {
        let dir = tempfile::tempdir().expect("tempdir");
        let short = STANDARD.encode([1u8; 16]);
        let long = STANDARD.encode([1u8; 33]);
        for value in [
            short.as_str(),
            long.as_str(),
            "not*base64*at*all",
            "",
            "   ",
        ] {
            let err =
                MasterKey::from_env_or_file(Some(value), dir.path()).expect_err("must be rejected");
            assert!(matches!(err, SecretsError::InvalidEnvKey { .. }), "{err}");
            let message = err.to_string();
            assert!(message.contains(KEY_ENV_VAR));
            if !value.trim().is_empty() {
                assert!(
                    !message.contains(value),
                    "message echoes the value: {message}"
                );
            }
        }
        assert!(!dir.path().join(KEY_FILE_NAME).exists());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let first = MasterKey::from_env_or_file(None, &data_dir).expect("created");
        let path = data_dir.join(KEY_FILE_NAME);
        assert_eq!(first.source(), &KeySource::CreatedFile(path.clone()));
        let mode = fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Only the key file is left behind, no temporary file.
        assert_eq!(fs::read_dir(&data_dir).expect("dir").count(), 1);

        let second = MasterKey::from_env_or_file(None, &data_dir).expect("reused");
        assert_eq!(second.source(), &KeySource::ExistingFile(path.clone()));
        let sealed = first.encrypt(b"token", b"ctx");
        assert_eq!(
            second
                .decrypt(&sealed, b"ctx")
                .expect("same key")
                .as_slice(),
            b"token"
        );

        // The file holds base64 text usable as CALPORT_SECRET_KEY.
        let text = fs::read_to_string(&path).expect("text");
        let from_env = MasterKey::from_env_or_file(Some(&text), dir.path()).expect("env");
        assert_eq!(
            from_env
                .decrypt(&sealed, b"ctx")
                .expect("same key")
                .as_slice(),
            b"token"
        );
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys: Vec<MasterKey> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| MasterKey::from_env_or_file(None, dir.path())))
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("thread").expect("key"))
                .collect()
        });
        let sealed = keys[0].encrypt(b"shared", b"ctx");
        for key in &keys {
            assert_eq!(
                key.decrypt(&sealed, b"ctx").expect("same key").as_slice(),
                b"shared"
            );
        }
        assert_eq!(
            fs::read_dir(dir.path()).expect("dir").count(),
            1,
            "no temporary files left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn open_key_file_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        MasterKey::from_env_or_file(None, dir.path()).expect("created");
        let path = dir.path().join(KEY_FILE_NAME);
        for mode in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            let err = MasterKey::from_env_or_file(None, dir.path()).expect_err("refused");
            assert!(
                matches!(err, SecretsError::KeyFileTooOpen { mode: m, .. } if m == mode),
                "{err}"
            );
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).expect("chmod");
        MasterKey::from_env_or_file(None, dir.path()).expect("read-only owner file is fine");
    }

    #[cfg(unix)]
    #[test]
    fn raw_and_invalid_key_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KEY_FILE_NAME);
        let write = |content: &[u8]| {
            fs::write(&path, content).expect("write");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        };
        write(&[5u8; KEY_LEN]);
        let key = MasterKey::from_env_or_file(None, dir.path()).expect("raw key");
        let sealed = MasterKey::from_bytes(&[5u8; KEY_LEN]).encrypt(b"x", b"c");
        assert!(key.decrypt(&sealed, b"c").is_ok());

        write(b"c2hvcnQ=\n");
        assert!(matches!(
            MasterKey::from_env_or_file(None, dir.path()),
            Err(SecretsError::InvalidKeyFile { .. })
        ));
        write(b"");
        assert!(matches!(
            MasterKey::from_env_or_file(None, dir.path()),
            Err(SecretsError::InvalidKeyFile { .. })
        ));
    }
}

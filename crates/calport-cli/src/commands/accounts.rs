//! The two accounts of a job, from the config file and the one-off flags, and the stores
//! that reach them. Shared by `migrate` and `check`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use calport_dav::{DavConfig, DavStore};
use clap::Args;

use crate::config::{Account, AccountFile, ConfigError, MigrateFile};

/// Where the two accounts come from.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// The migration file (see examples/migrate.toml).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Source server URL (instead of, or overriding, [source] url).
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// Source user name; the password is read from CALPORT_FROM_PASSWORD.
    #[arg(long, value_name = "USER")]
    pub from_user: Option<String>,
    /// Destination server URL (instead of, or overriding, [destination] url).
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// Destination user name; the password is read from CALPORT_TO_PASSWORD.
    #[arg(long, value_name = "USER")]
    pub to_user: Option<String>,
    /// Parallel requests per server (overrides [options] concurrency).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
}

/// Both accounts, resolved, with the file's options.
pub struct Sides {
    /// The parsed file (defaults when no file was given).
    pub file: MigrateFile,
    /// Where items come from.
    pub source: Account,
    /// Where items go.
    pub destination: Account,
    /// Parallel requests per server.
    pub concurrency: usize,
}

impl Sides {
    /// Reads the file and flags, checks them, and resolves both passwords.
    ///
    /// # Errors
    /// A configuration problem naming the section and key.
    pub fn resolve(args: &AccountArgs) -> Result<Self> {
        let file = match &args.config {
            Some(path) => MigrateFile::load(path)?,
            None => MigrateFile::default(),
        };
        file.validate_options()?;
        if args.config.is_none() && (args.from.is_none() || args.to.is_none()) {
            anyhow::bail!(
                "nothing to do: give --config FILE, or --from URL --from-user USER --to URL --to-user USER \
                 (passwords in CALPORT_FROM_PASSWORD / CALPORT_TO_PASSWORD)"
            );
        }
        let source = account(
            file.source.as_ref(),
            "source",
            args.from.as_deref(),
            args.from_user.as_deref(),
            "CALPORT_FROM_PASSWORD",
        )?;
        let destination = account(
            file.destination.as_ref(),
            "destination",
            args.to.as_deref(),
            args.to_user.as_deref(),
            "CALPORT_TO_PASSWORD",
        )?;
        let concurrency = args
            .concurrency
            .unwrap_or(file.options.concurrency)
            .clamp(1, 64);
        Ok(Self {
            file,
            source,
            destination,
            concurrency,
        })
    }

    /// A store for one side, with the file's timeouts and retries.
    ///
    /// # Errors
    /// An unusable URL, naming the side.
    pub fn store(&self, account: &Account, side: &str) -> Result<DavStore> {
        let options = &self.file.options;
        let mut config = DavConfig::new(
            account.url.clone(),
            account.username.clone(),
            account.password.clone(),
        );
        config.concurrency = self.concurrency;
        config.timeout = Duration::from_secs(options.timeout_seconds);
        config.max_retries = options.retries;
        DavStore::new(config).with_context(|| format!("{side} ({})", account.url))
    }
}

/// One account from its file section and the flags; flags win, and a flag URL takes the
/// password from the environment variable.
fn account(
    file: Option<&AccountFile>,
    section: &'static str,
    url_flag: Option<&str>,
    user_flag: Option<&str>,
    password_var: &str,
) -> Result<Account, ConfigError> {
    let mut merged = AccountFile {
        url: file.and_then(|f| f.url.clone()),
        username: file.and_then(|f| f.username.clone()),
        password: file.and_then(|f| f.password.clone()),
        password_env: file.and_then(|f| f.password_env.clone()),
        password_file: file.and_then(|f| f.password_file.clone()),
    };
    if let Some(url) = url_flag {
        merged.url = Some(url.to_owned());
    }
    if let Some(user) = user_flag {
        merged.username = Some(user.to_owned());
    }
    let no_password_given = merged.password.is_none()
        && merged.password_env.is_none()
        && merged.password_file.is_none();
    if no_password_given || (url_flag.is_some() && std::env::var_os(password_var).is_some()) {
        merged.password = None;
        merged.password_file = None;
        merged.password_env = Some(password_var.to_owned());
    }
    merged.resolve(section)
}

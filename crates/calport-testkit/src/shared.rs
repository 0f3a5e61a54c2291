//! The production DAV servers of `../shared/servers` (SOGo, SabreDAV, DAViCal from Debian's
//! packages), started and stopped through their own scripts.
//!
//! Unlike a [`crate::DavServer`], these servers listen on **fixed** loopback ports and keep
//! their data in one PostgreSQL/SQLite database per server, so one server can run only once
//! on the machine at a time. [`SharedServer::start`] therefore:
//!
//! 1. takes an exclusive `flock` on `<run>/<name>.calport.lock` for the server's whole
//!    lifetime (other tests, in this or any other process, wait for it);
//! 2. waits while somebody else's instance is up (its env file `<run>/<name>.env` exists,
//!    e.g. an engineer researching SOGo by hand), and cleans up after an earlier calport
//!    test that died without stopping its server (recorded in `<run>/<name>.calport-owner`);
//! 3. runs `<name>.sh start` (which installs the Debian packages the first time: minutes)
//!    while holding `<run>/calport-start.lock`, so that two first-time installs never fight
//!    over the dpkg lock;
//! 4. reads the env file the script wrote and waits until the server answers.
//!
//! Dropping the [`SharedServer`] (or [`SharedServer::stop`]) runs `<name>.sh stop`, which kills
//! the server by its PIDs and drops its database.
//!
//! `<run>` is `$DAV_SERVERS_RUN`, else `${TMPDIR:-/tmp}/dav-servers-run`, exactly as the
//! scripts compute it.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Seek as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use url::Url;

use crate::multistatus::{self, Listing, Member};
use crate::requests::{self, Http, Resource, escape};
use crate::server::propfind;

/// How long `<name>.sh start` may take (the first run installs Debian packages).
pub const SHARED_START_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long to wait for another user of the same server (lock holder or a hand-started
/// instance) to finish.
pub const SHARED_BUSY_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// How long `<name>.sh stop` may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a freshly started server may take to answer its first PROPFIND.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two looks at a lock or an env file.
const BUSY_POLL: Duration = Duration::from_secs(2);
/// Lines of script output kept in error messages.
const OUTPUT_TAIL_LINES: usize = 60;

/// Which of the shared servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SharedKind {
    /// SOGo 5.8 (Mailcow's DAV server) behind a Mailcow-style nginx front on `:20080`.
    Sogo,
    /// sabre/dav 1.8.12 (Debian's `php-sabre-dav`) under `php -S` on `:5240`.
    SabreDav,
    /// DAViCal 1.1.12 behind nginx + php-fpm on `:5241`.
    Davical,
}

impl SharedKind {
    /// All three, for tests that run the same story against each.
    pub const ALL: [Self; 3] = [Self::Sogo, Self::SabreDav, Self::Davical];

    /// The script's base name, also the name of its env file: `sogo`, `sabredav`, `davical`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sogo => "sogo",
            Self::SabreDav => "sabredav",
            Self::Davical => "davical",
        }
    }

    /// The prefix of the variables in the env file (`SOGO_URL`, ...).
    fn env_prefix(self) -> &'static str {
        match self {
            Self::Sogo => "SOGO",
            Self::SabreDav => "SABREDAV",
            Self::Davical => "DAVICAL",
        }
    }
}

impl fmt::Display for SharedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sogo => "SOGo",
            Self::SabreDav => "SabreDAV",
            Self::Davical => "DAViCal",
        })
    }
}

/// `$CALPORT_SHARED_DIR/servers`, else `<workspace>/../shared/servers`; `None` when it does
/// not exist (callers then print `SKIPPED: ...` and pass).
#[must_use]
pub fn shared_servers_dir() -> Option<PathBuf> {
    let shared = match std::env::var_os("CALPORT_SHARED_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => crate::workspace_root().join("..").join("shared"),
    };
    let servers = shared.join("servers");
    servers.is_dir().then_some(servers)
}

/// Where the scripts keep their env files: `$DAV_SERVERS_RUN`, else
/// `${TMPDIR:-/tmp}/dav-servers-run` (the scripts' own default).
#[must_use]
pub fn shared_run_dir() -> PathBuf {
    let nonempty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match nonempty("DAV_SERVERS_RUN") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(nonempty("TMPDIR").unwrap_or_else(|| "/tmp".into()))
            .join("dav-servers-run"),
    }
}

/// One running shared server, started by us and stopped (by its script) when dropped.
///
/// Paths (`calendar_path()`, ...) are absolute paths on [`SharedServer::base_url`], with a
/// trailing slash, like [`crate::DavServer`]'s; the helpers take such paths.
pub struct SharedServer {
    kind: SharedKind,
    script: PathBuf,
    run_dir: PathBuf,
    env: BTreeMap<String, String>,
    base_url: String,
    dav_url: String,
    username: String,
    password: String,
    second_user: (String, String),
    principal: String,
    calendar_home: String,
    addressbook_home: String,
    calendar: String,
    addressbook: String,
    start_output: String,
    start_time: Duration,
    client: Client,
    running: bool,
    /// Held (flock) for the server's lifetime; released when dropped, after the stop.
    _lock: File,
}

impl fmt::Debug for SharedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedServer")
            .field("kind", &self.kind)
            .field("dav_url", &self.dav_url)
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

impl SharedServer {
    /// Starts `kind` with `../shared/servers/<name>.sh start` and waits until it answers.
    ///
    /// Returns `Ok(None)` when the shared servers directory is absent. Waits (at most
    /// [`SHARED_BUSY_TIMEOUT`]) while another test holds this server's lock or while an
    /// instance started by someone else is up; the script itself may take
    /// [`SHARED_START_TIMEOUT`] (first-time `apt-get install`).
    ///
    /// # Errors
    /// When the script fails or times out (its output is in the error), when the server
    /// stays busy too long, or when the started server does not answer.
    pub async fn start(kind: SharedKind) -> anyhow::Result<Option<Self>> {
        let Some(dir) = shared_servers_dir() else {
            return Ok(None);
        };
        let script = dir.join(format!("{}.sh", kind.name()));
        if !script.is_file() {
            bail!("{} is missing", script.display());
        }
        let run_dir = shared_run_dir();
        fs::create_dir_all(&run_dir)
            .with_context(|| format!("cannot create {}", run_dir.display()))?;
        let t0 = Instant::now();
        let deadline = t0 + SHARED_BUSY_TIMEOUT;
        let lock = lock_exclusive(
            &run_dir.join(format!("{}.calport.lock", kind.name())),
            deadline,
            &format!("{kind} (held by another test)"),
        )
        .await?;

        let env_file = run_dir.join(format!("{}.env", kind.name()));
        let owner_file = run_dir.join(format!("{}.calport-owner", kind.name()));
        let mut announced = false;
        let (output, env_text) = loop {
            if let Some(env_text) = read_nonempty(&env_file) {
                if is_stale_own_instance(&owner_file, &env_text) {
                    eprintln!(
                        "calport-testkit: {kind} was left running by an earlier test that died; \
                         stopping it"
                    );
                    let stop =
                        run_script(script.clone(), "stop", run_dir.clone(), STOP_TIMEOUT).await?;
                    let _ = fs::remove_file(&owner_file);
                    if !stop.success {
                        bail!("{} stop failed:\n{}", script.display(), stop.output);
                    }
                    continue;
                }
                if !announced {
                    eprintln!(
                        "calport-testkit: {kind} is running for someone else ({} exists; see `{} \
                         status`); waiting up to {} min for it to stop",
                        env_file.display(),
                        script.display(),
                        SHARED_BUSY_TIMEOUT.as_secs() / 60
                    );
                    announced = true;
                }
                if Instant::now() >= deadline {
                    bail!(
                        "{kind} stayed busy for {} min: {} still exists (started by someone else; \
                         `{} stop` ends it)",
                        SHARED_BUSY_TIMEOUT.as_secs() / 60,
                        env_file.display(),
                        script.display()
                    );
                }
                tokio::time::sleep(BUSY_POLL).await;
                continue;
            }
            let _ = fs::remove_file(&owner_file);

            // Installs are serialised across servers: apt-get/dpkg take a global lock.
            let start_lock = lock_exclusive(
                &run_dir.join("calport-start.lock"),
                Instant::now() + SHARED_START_TIMEOUT,
                "another shared server's start script",
            )
            .await?;
            let run = run_script(
                script.clone(),
                "start",
                run_dir.clone(),
                SHARED_START_TIMEOUT,
            )
            .await?;
            drop(start_lock);
            if run.success {
                let env_text = read_nonempty(&env_file).with_context(|| {
                    format!(
                        "{} start succeeded but wrote no {}:\n{}",
                        script.display(),
                        env_file.display(),
                        run.output
                    )
                })?;
                // Recorded so that a later test can clean up if this process dies.
                fs::write(&owner_file, format!("{}\n{env_text}", std::process::id()))
                    .with_context(|| format!("cannot write {}", owner_file.display()))?;
                break (run.output, env_text);
            }
            // A failed start may leave some of what it started running (memcached, nginx
            // ...): they are all in the script's process group.
            kill_group(run.pgid);
            let busy = run.output.contains("already started") || run.output.contains("in use");
            if busy && !run.timed_out && Instant::now() < deadline {
                // Somebody else started it (or holds its port) between our look and our start.
                if !announced {
                    eprintln!(
                        "calport-testkit: {kind} cannot start yet (someone else has it or its \
                         port); waiting up to {} min:\n{}",
                        SHARED_BUSY_TIMEOUT.as_secs() / 60,
                        run.output.trim_end()
                    );
                    announced = true;
                }
                tokio::time::sleep(BUSY_POLL).await;
                continue;
            }
            let what = if run.timed_out {
                format!("timed out after {} s", SHARED_START_TIMEOUT.as_secs())
            } else {
                format!("failed ({})", run.status)
            };
            bail!(
                "`{} start` {what}; its output:\n{}",
                script.display(),
                run.output
            );
        };

        let env = parse_env(&env_text);
        let mut server = Self::from_env(kind, script, run_dir, env, lock)
            .with_context(|| format!("reading {}", env_file.display()))?;
        server.running = true;
        server.start_output = output;
        if let Err(err) = server.wait_ready().await {
            let _ = server.stop();
            return Err(err);
        }
        server.start_time = t0.elapsed();
        Ok(Some(server))
    }

    fn from_env(
        kind: SharedKind,
        script: PathBuf,
        run_dir: PathBuf,
        env: BTreeMap<String, String>,
        lock: File,
    ) -> anyhow::Result<Self> {
        let p = kind.env_prefix();
        let get = |key: &str| -> anyhow::Result<String> {
            env.get(&format!("{p}_{key}"))
                .filter(|v| !v.is_empty())
                .cloned()
                .with_context(|| format!("{p}_{key} is missing"))
        };
        let dav_url = get("URL")?;
        let parsed = Url::parse(&dav_url).with_context(|| format!("bad {p}_URL {dav_url:?}"))?;
        let base_url = parsed.origin().ascii_serialization();
        let path_of = |key: &str| -> anyhow::Result<String> {
            let value = get(key)?;
            let url = Url::parse(&value).with_context(|| format!("bad {p}_{key} {value:?}"))?;
            let mut path = url.path().to_owned();
            if !path.ends_with('/') {
                path.push('/');
            }
            Ok(path)
        };
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            kind,
            principal: path_of("PRINCIPAL")?,
            calendar_home: path_of("CALHOME")?,
            addressbook_home: path_of("BOOKHOME")?,
            calendar: path_of("CAL")?,
            addressbook: path_of("BOOK")?,
            username: get("USER")?,
            password: get("PASS")?,
            second_user: (get("USER2")?, get("PASS2")?),
            script,
            run_dir,
            base_url,
            dav_url,
            env,
            start_output: String::new(),
            start_time: Duration::ZERO,
            client,
            running: false,
            _lock: lock,
        })
    }

    /// Runs `<name>.sh stop` (kills the server by PID, drops its database). Idempotent;
    /// `Drop` calls it too. The lock is released only when the value is dropped.
    ///
    /// # Errors
    /// When the script fails or times out (its output is in the error).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let run = run_script_blocking(&self.script, "stop", &self.run_dir, STOP_TIMEOUT)?;
        let _ = fs::remove_file(
            self.run_dir
                .join(format!("{}.calport-owner", self.kind.name())),
        );
        if !run.success {
            bail!("`{} stop` failed:\n{}", self.script.display(), run.output);
        }
        Ok(())
    }

    /// Which server this is.
    #[must_use]
    pub fn kind(&self) -> SharedKind {
        self.kind
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: append a path that starts with `/`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The DAV entry point a client is configured with (`<P>_URL`, e.g.
    /// `http://127.0.0.1:20080/SOGo/dav/`, `http://127.0.0.1:5241/caldav.php/`).
    #[must_use]
    pub fn dav_url(&self) -> &str {
        &self.dav_url
    }

    /// The absolute URL of `path` (which starts with `/`).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The main user (`alice`).
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The main user's password (`alicepw`).
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The second user and password (`bob`, `bobpw`).
    #[must_use]
    pub fn second_user(&self) -> (&str, &str) {
        (&self.second_user.0, &self.second_user.1)
    }

    /// alice's principal path.
    #[must_use]
    pub fn principal_path(&self) -> &str {
        &self.principal
    }

    /// alice's calendar-home-set path.
    #[must_use]
    pub fn calendar_home_path(&self) -> &str {
        &self.calendar_home
    }

    /// alice's addressbook-home-set path (the principal itself on DAViCal).
    #[must_use]
    pub fn addressbook_home_path(&self) -> &str {
        &self.addressbook_home
    }

    /// alice's default calendar (created by the server or the script).
    #[must_use]
    pub fn calendar_path(&self) -> &str {
        &self.calendar
    }

    /// alice's default address book (created by the server or the script).
    #[must_use]
    pub fn addressbook_path(&self) -> &str {
        &self.addressbook
    }

    /// One raw value of the env file, by its name without the prefix (`"DB"`, `"TMP"`,
    /// `"PID"`, `"CAL2"`, ...).
    #[must_use]
    pub fn env(&self, key: &str) -> Option<&str> {
        self.env
            .get(&format!("{}_{key}", self.kind.env_prefix()))
            .map(String::as_str)
    }

    /// What `<name>.sh start` printed.
    #[must_use]
    pub fn start_output(&self) -> &str {
        &self.start_output
    }

    /// Time from [`SharedServer::start`] until the server answered (including waits for the
    /// lock and any package installs).
    #[must_use]
    pub fn start_time(&self) -> Duration {
        self.start_time
    }

    /// A request to `path` with alice's Basic credentials.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(method, path, &self.username, &self.password)
    }

    /// A request to `path` with other Basic credentials.
    pub fn request_as(
        &self,
        method: Method,
        path: &str,
        username: &str,
        password: &str,
    ) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(username, Some(password))
    }

    /// PUTs `body` at `path` with no preconditions and returns the status.
    ///
    /// # Errors
    /// Only on a transport error.
    pub async fn put(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
    ) -> anyhow::Result<StatusCode> {
        let response = self
            .request(Method::PUT, path)
            .header("Content-Type", content_type)
            .body(body.to_vec())
            .send()
            .await
            .with_context(|| format!("PUT {path}"))?;
        Ok(response.status())
    }

    /// GETs `path`: status and body, whatever the status.
    ///
    /// # Errors
    /// Only on a transport error.
    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        requests::get(self, path).await
    }

    /// DELETEs `path` unconditionally and returns the status.
    ///
    /// # Errors
    /// Only on a transport error.
    pub async fn delete(&self, path: &str) -> anyhow::Result<StatusCode> {
        let response = self
            .request(Method::DELETE, path)
            .send()
            .await
            .with_context(|| format!("DELETE {path}"))?;
        Ok(response.status())
    }

    /// Creates a calendar with MKCALENDAR (SOGo keeps its displayname; its MKCOL does not).
    ///
    /// # Errors
    /// On a transport error or any answer but 201.
    pub async fn mkcalendar(
        &self,
        path: &str,
        displayname: &str,
        components: &[&str],
    ) -> anyhow::Result<()> {
        let mut props = format!("<D:displayname>{}</D:displayname>", escape(displayname));
        if !components.is_empty() {
            props.push_str("<C:supported-calendar-component-set>");
            for comp in components {
                props.push_str(&format!("<C:comp name=\"{}\"/>", escape(comp)));
            }
            props.push_str("</C:supported-calendar-component-set>");
        }
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>{props}</D:prop></D:set></C:mkcalendar>"#
        );
        self.create_collection("MKCALENDAR", path, body).await
    }

    /// Creates an address book with an extended MKCOL (RFC 5689).
    ///
    /// # Errors
    /// On a transport error or any answer but 201.
    pub async fn mkaddressbook(&self, path: &str, displayname: &str) -> anyhow::Result<()> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>{}</D:displayname></D:prop></D:set></D:mkcol>"#,
            escape(displayname)
        );
        self.create_collection("MKCOL", path, body).await
    }

    /// The non-collection members of `collection_path` (PROPFIND Depth 1), sorted by href.
    ///
    /// # Errors
    /// On a transport error, an answer other than 207, or an unreadable multistatus.
    pub async fn members(&self, collection_path: &str) -> anyhow::Result<Vec<Member>> {
        Ok(self.listing(collection_path).await?.1.members)
    }

    /// The paths of the sub-collections of `path` (PROPFIND Depth 1), sorted; `path` itself
    /// is left out.
    ///
    /// # Errors
    /// On a transport error, an answer other than 207, or an unreadable multistatus.
    pub async fn child_collections(&self, path: &str) -> anyhow::Result<Vec<String>> {
        let (url, xml) = self.propfind_depth1(path).await?;
        let doc = roxmltree::Document::parse(&xml).context("the multistatus is not XML")?;
        let own = url.path().trim_end_matches('/');
        let mut out = Vec::new();
        for response in doc
            .descendants()
            .filter(|n| n.has_tag_name(("DAV:", "response")))
        {
            let Some(href) = response
                .children()
                .find(|n| n.has_tag_name(("DAV:", "href")))
                .and_then(|n| n.text())
            else {
                continue;
            };
            let is_collection = response
                .descendants()
                .any(|n| n.has_tag_name(("DAV:", "collection")));
            let member = multistatus::resolve_href(&url, href.trim())?;
            if is_collection && member.path().trim_end_matches('/') != own {
                out.push(member.path().to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every item of `collection_path` with its body: [`SharedServer::members`], then one GET
    /// per item (the stored bytes exactly); an item whose GET fails is read alone with a
    /// calendar-/addressbook-multiget instead. Same contract as [`crate::DavServer::list`].
    ///
    /// # Errors
    /// When listing fails or an item can be read neither way (the error names the href).
    pub async fn list(&self, collection_path: &str) -> anyhow::Result<Vec<Resource>> {
        requests::list(self, collection_path).await
    }

    async fn listing(&self, collection_path: &str) -> anyhow::Result<(Url, Listing)> {
        requests::listing(self, collection_path).await
    }

    async fn propfind_depth1(&self, path: &str) -> anyhow::Result<(Url, String)> {
        requests::propfind_depth1(self, path).await
    }

    async fn create_collection(
        &self,
        method: &str,
        path: &str,
        body: String,
    ) -> anyhow::Result<()> {
        requests::create_collection(self, method, path, body).await
    }

    /// Waits until a Depth 0 PROPFIND of the default calendar answers 207.
    async fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let response = self
                .request(propfind(), &self.calendar)
                .header("Depth", "0")
                .header("Content-Type", "application/xml; charset=utf-8")
                .body(PROBE_BODY)
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            let last = match response {
                Ok(r) if r.status() == StatusCode::MULTI_STATUS => return Ok(()),
                Ok(r) => format!("answered {}", r.status()),
                Err(e) => format!("failed: {e}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "{} started but PROPFIND {} {last} for {} s; start output:\n{}",
                    self.kind,
                    self.calendar,
                    READY_TIMEOUT.as_secs(),
                    self.start_output
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for SharedServer {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("calport-testkit: stopping {}: {err:#}", self.kind);
        }
    }
}

const PROBE_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#;

/// Takes an exclusive `flock` on `path`, polling until `deadline`; writes who holds it into
/// the file (for the message of the next waiter).
async fn lock_exclusive(path: &Path, deadline: Instant, what: &str) -> anyhow::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                if !announced {
                    let holder = fs::read_to_string(path).unwrap_or_default();
                    let holder = match holder.trim() {
                        "" => "another process",
                        note => note,
                    }
                    .to_owned();
                    eprintln!(
                        "calport-testkit: waiting for {what}: {} is locked by {holder}",
                        path.display(),
                    );
                    announced = true;
                }
                if Instant::now() >= deadline {
                    bail!(
                        "gave up waiting for {what}: {} stayed locked",
                        path.display()
                    );
                }
                tokio::time::sleep(BUSY_POLL).await;
            }
            Err(TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
    // Best effort: the note is only for humans.
    let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| {
        writeln!(
            file,
            "pid {} ({})",
            std::process::id(),
            std::env::args().next().unwrap_or_default()
        )
    });
    Ok(file)
}

/// The file's text when it exists and is not empty.
fn read_nonempty(path: &Path) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .filter(|t| !t.trim().is_empty())
}

/// Whether the running instance described by `env_text` was started by a calport test whose
/// process is gone (it recorded its PID and the very same env text in `owner_file`).
fn is_stale_own_instance(owner_file: &Path, env_text: &str) -> bool {
    let Some(owner) = read_nonempty(owner_file) else {
        return false;
    };
    let Some((pid, recorded)) = owner.split_once('\n') else {
        return false;
    };
    let alive = pid
        .trim()
        .parse::<u32>()
        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
    recorded == env_text && !alive
}

/// `KEY=VALUE` lines of an env file written by the scripts (`#` comments, optional quotes).
fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_owned(), v.to_owned())
        })
        .collect()
}

/// The outcome of one script run.
struct ScriptRun {
    /// The script's PID, which is also the id of the process group that holds everything
    /// it started (the servers too, after a successful start).
    pgid: u32,
    success: bool,
    status: String,
    timed_out: bool,
    /// stdout and stderr, interleaved (the tail when long).
    output: String,
}

async fn run_script(
    script: PathBuf,
    action: &'static str,
    run_dir: PathBuf,
    timeout: Duration,
) -> anyhow::Result<ScriptRun> {
    tokio::task::spawn_blocking(move || run_script_blocking(&script, action, &run_dir, timeout))
        .await
        .context("the script runner panicked")?
}

/// Runs `bash <script> <action>` in its own process group with the output in a temporary
/// file (the servers it starts keep running after it exits, so pipes could stay open). On
/// timeout the whole group is killed.
fn run_script_blocking(
    script: &Path,
    action: &str,
    run_dir: &Path,
    timeout: Duration,
) -> anyhow::Result<ScriptRun> {
    let out = tempfile::NamedTempFile::new().context("cannot create a temporary file")?;
    let mut child = Command::new("bash")
        .arg(script)
        .arg(action)
        .env("DAV_SERVERS_RUN", run_dir)
        .stdin(Stdio::null())
        .stdout(out.as_file().try_clone()?)
        .stderr(out.as_file().try_clone()?)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run bash {} {action}", script.display()))?;
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait()? {
            break (Some(status), false);
        }
        if Instant::now() >= deadline {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = String::from_utf8_lossy(&fs::read(out.path()).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let output = lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..].join("\n");
    Ok(ScriptRun {
        pgid: child.id(),
        success: status.is_some_and(|s| s.success()),
        status: status.map_or_else(|| "killed".to_owned(), |s| s.to_string()),
        timed_out,
        output,
    })
}

/// SIGKILLs the process group `pgid`: a script run with `process_group(0)` and whatever it
/// started, nothing else.
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Http for SharedServer {
    fn authed(&self, method: Method, url: Url) -> RequestBuilder {
        self.client
            .request(method, url)
            .basic_auth(&self.username, Some(&self.password))
    }

    fn absolute(&self, path: &str) -> String {
        self.url(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_scripts_env_files() {
        let env = parse_env(
            "# written by shared/servers/sogo.sh\nSOGO_URL=http://127.0.0.1:20080/SOGo/dav/\n\
             SOGO_WORKER_PIDS=\"1 2 3\"\n\nSOGO_USER=alice\n",
        );
        assert_eq!(env["SOGO_URL"], "http://127.0.0.1:20080/SOGo/dav/");
        assert_eq!(env["SOGO_WORKER_PIDS"], "1 2 3");
        assert_eq!(env.len(), 3);
    }

    #[test]
    fn only_a_dead_owner_of_the_same_instance_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let owner = dir.path().join("x.calport-owner");
        assert!(!is_stale_own_instance(&owner, "A=1\n"));
        fs::write(&owner, format!("{}\nA=1\n", std::process::id())).unwrap();
        assert!(!is_stale_own_instance(&owner, "A=1\n"), "we are alive");
        // PID far above pid_max: never alive.
        fs::write(&owner, "999999999\nA=1\n").unwrap();
        assert!(is_stale_own_instance(&owner, "A=1\n"));
        assert!(
            !is_stale_own_instance(&owner, "A=2\n"),
            "another instance, started by someone else"
        );
    }
}

//! Starting, probing and stopping one server process.

use std::fmt;
use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use tempfile::TempDir;

use crate::{paths, radicale, xandikos};

/// How long a server may take to answer its first request.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between two readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// Upper bound on readiness probes, whatever the clock says.
const MAX_PROBES: u32 = 200;
/// Fresh ports to try when another process grabbed ours between probe and bind.
const MAX_PORT_ATTEMPTS: u32 = 5;
/// Lines of the server log shown when start-up fails.
const LOG_TAIL_LINES: usize = 40;

/// Which real server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// Radicale 3.9 (`radicale` in the venv): htpasswd auth, no collections until created.
    ///
    /// With its default `[server] validate_path_value = minimal` it answers **400** to any
    /// request whose (percent-decoded) path holds one of ``:'"*?,`` (percent-encoding the `:`
    /// does not help), yet a whole-collection PUT names items after their UID, so
    /// `urn:uuid:...` items can be listed and multiget but not fetched, replaced or deleted.
    Radicale,
    /// Xandikos 0.4 (`xandikos serve --defaults`): no auth, one principal `/user/` with a
    /// default calendar and address book.
    Xandikos,
}

impl ServerKind {
    /// Both kinds, for tests that run the same story against each.
    pub const ALL: [Self; 2] = [Self::Radicale, Self::Xandikos];

    fn program(self) -> &'static str {
        match self {
            Self::Radicale => "radicale",
            Self::Xandikos => "xandikos",
        }
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// The URL layout of one server kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub(crate) username: &'static str,
    pub(crate) password: &'static str,
    pub(crate) principal: &'static str,
    pub(crate) calendar_home: &'static str,
    pub(crate) addressbook_home: &'static str,
    pub(crate) calendar: &'static str,
    pub(crate) addressbook: &'static str,
}

/// A real DAV server on `127.0.0.1`, killed (by PID) and reaped when dropped.
///
/// Its storage, config and log live in a private temporary directory that is deleted after the
/// process is gone.
pub struct DavServer {
    // Declared before `dir`: the process must be gone before its storage is deleted.
    process: Process,
    dir: TempDir,
    kind: ServerKind,
    layout: Layout,
    port: u16,
    base_url: String,
    storage_dir: PathBuf,
    log_path: PathBuf,
    venv: PathBuf,
    pub(crate) client: Client,
}

impl fmt::Debug for DavServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DavServer")
            .field("kind", &self.kind)
            .field("pid", &self.process.pid)
            .field("base_url", &self.base_url)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl DavServer {
    /// Starts a fresh server of `kind` from the venv and waits (at most ~20 s) until it answers.
    ///
    /// The executable is `$CALPORT_VENV/bin/<kind>` (else `<workspace>/.venv/bin/<kind>`). The
    /// port comes from binding port 0; if the server then loses that port to another process
    /// it is started again on a new one.
    ///
    /// # Errors
    /// When the venv lacks the server (run `scripts/test.sh`), when the process cannot be
    /// spawned, or when it exits or does not answer in time; the log tail is printed to stderr
    /// and included in the error.
    pub async fn start(kind: ServerKind) -> anyhow::Result<Self> {
        let venv = paths::venv_dir();
        let program = venv.join("bin").join(kind.program());
        if !program.is_file() {
            bail!(
                "{} not found: run scripts/test.sh (it creates the Python venv with radicale and \
                 xandikos), or point CALPORT_VENV at a venv that has them",
                program.display()
            );
        }
        let mut dir = tempfile::Builder::new()
            .prefix(&format!("calport-testkit-{kind}-"))
            .tempdir()
            .context("cannot create the server's temporary directory")?;
        let storage_dir = dir.path().join("storage");
        let log_path = dir.path().join("server.log");
        let layout = match kind {
            ServerKind::Radicale => radicale::LAYOUT,
            ServerKind::Xandikos => xandikos::LAYOUT,
        };
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // Both servers serialise writes; a bulk PUT of thousands of items takes minutes.
            .timeout(Duration::from_secs(600))
            .build()
            .context("cannot build the HTTP client")?;

        for attempt in 1..=MAX_PORT_ATTEMPTS {
            let port = free_port()?;
            let args = match kind {
                ServerKind::Radicale => radicale::prepare(dir.path(), &storage_dir, port)?,
                ServerKind::Xandikos => xandikos::args(dir.path(), &storage_dir, port),
            };
            let process = Process::spawn(&program, &args, &log_path)?;
            let mut server = Self {
                process,
                dir,
                kind,
                layout,
                port,
                base_url: format!("http://127.0.0.1:{port}"),
                storage_dir: storage_dir.clone(),
                log_path: log_path.clone(),
                venv: venv.clone(),
                client: client.clone(),
            };
            match server.wait_ready().await {
                Ok(()) => return Ok(server),
                Err(Startup::Exited(_))
                    if attempt < MAX_PORT_ATTEMPTS && server.log_says_port_taken() =>
                {
                    // Take the directory back for the next attempt; the process is gone.
                    server.stop();
                    dir = server.into_dir();
                }
                Err(failure) => {
                    server.stop();
                    let tail = server.log_tail();
                    eprintln!(
                        "calport-testkit: {kind} failed to start ({failure}); last lines of {}:\n{tail}",
                        server.log_path.display()
                    );
                    bail!("{kind} failed to start on port {port}: {failure}\n{tail}");
                }
            }
        }
        bail!("{kind} found no free port in {MAX_PORT_ATTEMPTS} attempts")
    }

    /// Kills the server by its PID and reaps it. Idempotent; `Drop` calls it too.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Whether the server process is still alive (it has not exited and was not stopped).
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Which server this is.
    #[must_use]
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// The server's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.process.pid
    }

    /// The TCP port on `127.0.0.1`.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: append a path that starts with `/`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The absolute URL of `path` (which starts with `/`) on this server.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The main user's name (`alice` on Radicale; Xandikos accepts any name and ignores it).
    #[must_use]
    pub fn username(&self) -> &str {
        self.layout.username
    }

    /// The main user's password (`alicepw`; ignored by Xandikos).
    #[must_use]
    pub fn password(&self) -> &str {
        self.layout.password
    }

    /// A second user, `("bob", "bobpw")`. Radicale gives bob his own principal `/bob/`;
    /// Xandikos has no users and shows everyone the same principal.
    #[must_use]
    pub fn second_user(&self) -> (&'static str, &'static str) {
        radicale::SECOND_USER
    }

    /// The main user's principal: `/alice/` (Radicale) or `/user/` (Xandikos).
    #[must_use]
    pub fn principal_path(&self) -> &str {
        self.layout.principal
    }

    /// The calendar-home-set: `/alice/` (Radicale) or `/user/calendars/` (Xandikos).
    #[must_use]
    pub fn calendar_home_path(&self) -> &str {
        self.layout.calendar_home
    }

    /// The addressbook-home-set: `/alice/` (Radicale) or `/user/contacts/` (Xandikos).
    #[must_use]
    pub fn addressbook_home_path(&self) -> &str {
        self.layout.addressbook_home
    }

    /// The default calendar: `/user/calendars/calendar/` on Xandikos (created by `--defaults`);
    /// on Radicale `/alice/calendar/`, which exists only after
    /// [`DavServer::create_default_collections`] or [`DavServer::mkcalendar`].
    #[must_use]
    pub fn calendar_path(&self) -> &str {
        self.layout.calendar
    }

    /// The default address book: `/user/contacts/addressbook/` on Xandikos; on Radicale
    /// `/alice/addressbook/`, which exists only after
    /// [`DavServer::create_default_collections`] or [`DavServer::mkaddressbook`].
    #[must_use]
    pub fn addressbook_path(&self) -> &str {
        self.layout.addressbook
    }

    /// The server's storage root (Radicale `filesystem_folder`, Xandikos `--directory`).
    #[must_use]
    pub fn storage_dir(&self) -> &Path {
        &self.storage_dir
    }

    /// The file that receives the server's stdout and stderr.
    #[must_use]
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last lines of the server log (empty when it cannot be read).
    #[must_use]
    pub fn log_tail(&self) -> String {
        let text = std::fs::read(&self.log_path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// The venv the server was started from.
    pub(crate) fn venv(&self) -> &Path {
        &self.venv
    }

    /// A request to `path` with the main user's Basic credentials, for anything the helpers do
    /// not cover.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(method, path, self.username(), self.password())
    }

    /// A request to `path` with other Basic credentials (bob's, a wrong password, ...).
    /// Adding `basic_auth` to a [`DavServer::request`] instead would send two `Authorization`
    /// headers.
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

    /// The HTTP client the inspection helpers share.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    fn into_dir(self) -> TempDir {
        let Self { process, dir, .. } = self;
        drop(process);
        dir
    }

    fn log_says_port_taken(&self) -> bool {
        self.log_tail()
            .to_ascii_lowercase()
            .contains("address already in use")
    }

    async fn wait_ready(&mut self) -> Result<(), Startup> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        for _ in 0..MAX_PROBES {
            if let Some(status) = self.process.exited() {
                return Err(Startup::Exited(status));
            }
            if self.probe().await {
                // A foreign process on our port could have answered: make sure ours lives.
                return match self.process.exited() {
                    Some(status) => Err(Startup::Exited(status)),
                    None => Ok(()),
                };
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
        Err(Startup::TimedOut)
    }

    /// One readiness probe: a Depth 0 PROPFIND that must answer 207. On Radicale this also
    /// creates alice's principal collection (it appears on first login); on Xandikos the
    /// default collections are probed, since `--defaults` may create them lazily.
    async fn probe(&self) -> bool {
        let paths: &[&str] = match self.kind {
            ServerKind::Radicale => &[self.layout.principal],
            ServerKind::Xandikos => &[self.layout.calendar, self.layout.addressbook],
        };
        for path in paths {
            let response = self
                .request(propfind(), path)
                .header("Depth", "0")
                .header("Content-Type", "application/xml; charset=utf-8")
                .body(PROBE_BODY)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            match response {
                Ok(r) if r.status() == StatusCode::MULTI_STATUS => {}
                _ => return false,
            }
        }
        true
    }
}

const PROBE_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#;

/// The PROPFIND method (RFC 4918 §9.1).
pub(crate) fn propfind() -> Method {
    Method::from_bytes(b"PROPFIND").expect("PROPFIND is a valid method token")
}

/// Why a start attempt failed.
#[derive(Debug)]
enum Startup {
    Exited(ExitStatus),
    TimedOut,
}

impl fmt::Display for Startup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited(status) => write!(f, "the process exited ({status})"),
            Self::TimedOut => write!(f, "no answer within {} s", STARTUP_TIMEOUT.as_secs()),
        }
    }
}

/// A port that was free a moment ago (the OS picks it when binding port 0).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("cannot bind 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The child process; killed by PID and reaped on drop.
struct Process {
    child: Option<Child>,
    pid: u32,
}

impl Process {
    fn spawn(program: &Path, args: &[String], log_path: &Path) -> anyhow::Result<Self> {
        let log = File::create(log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let child = Command::new(program)
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run {}", program.display()))?;
        Ok(Self {
            pid: child.id(),
            child: Some(child),
        })
    }

    /// The exit status if the process has already exited (it is then reaped).
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    fn is_running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `kill` signals exactly this PID (SIGKILL); an already-exited child is fine.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

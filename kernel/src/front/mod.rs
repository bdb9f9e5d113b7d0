//! The kernel's own listeners in front of its five ZeroMQ sockets: every byte a peer sends is
//! checked against ZMTP 3 framing and a stated maximum message size before it reaches the
//! `zeromq` crate, whose decoder reserves whatever length a frame header claims (a 2^62-byte
//! header aborted the process, issue 20).
//!
//! Each public address of the connection file (a TCP port, or an IPC path created mode 0600)
//! is served here. The zeromq socket itself listens on a Unix socket in a folder only this
//! user can open, and each accepted connection is relayed to it byte for byte; a peer that
//! breaks the framing or announces too much is disconnected and logged, and nothing else
//! notices. The kernel-to-peer direction is copied unchecked: the kernel wrote it.
//!
//! Two rooms: `zmtp` follows the framing of a byte stream (a pure state machine, no I/O);
//! this file listens, accepts and relays.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::{Notify, Semaphore};

use crate::error::{CellError, ErrorKind};

use lakehouse_wire::zmtp;

pub use zmtp::{Refusal, ZmtpCheck, MAX_COMMAND_BYTES, MAX_FRAMES, MAX_MESSAGE_BYTES};

/// Where a socket listens, from the connection file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `tcp://ip:port` (`*` means every interface, as in ZeroMQ).
    Tcp(String, u16),
    /// `ipc://path`: a Unix socket file.
    Ipc(PathBuf),
}

impl Address {
    /// The address of one channel: for IPC, jupyter_client's `{ip}-{port}` file name.
    pub fn of(info: &jupyter_protocol::ConnectionInfo, port: u16) -> Address {
        match info.transport {
            jupyter_protocol::Transport::TCP => Address::Tcp(info.ip.clone(), port),
            jupyter_protocol::Transport::IPC => {
                Address::Ipc(PathBuf::from(format!("{}-{port}", info.ip)))
            }
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Tcp(ip, port) => write!(f, "tcp://{ip}:{port}"),
            Address::Ipc(p) => write!(f, "ipc://{}", p.display()),
        }
    }
}

/// At most one warning a second from one place, so a flood of bad input cannot flood the
/// log (a Jupyter server keeps the kernel's stderr).
#[derive(Debug, Default)]
pub struct Throttled {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    /// Logs `text()` as a warning unless one was logged less than a second ago.
    pub fn warn(&mut self, text: impl FnOnce() -> String) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            self.suppressed += 1;
            return;
        }
        match std::mem::take(&mut self.suppressed) {
            0 => log::warn!("{}", text()),
            n => log::warn!("{} ({n} more like it not shown)", text()),
        }
        self.last = Some(now);
    }
}

/// The folder of the inner sockets and the public listeners; dropping it stops them and
/// removes the folder and the public IPC files.
pub struct Fronts {
    dir: PathBuf,
    public_files: Vec<PathBuf>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Fronts {
    /// Creates the private folder (mode 0700) for the inner sockets.
    pub fn new() -> Result<Fronts, CellError> {
        let mut tmp = std::env::temp_dir();
        // A Unix socket path has at most 107 bytes: keep ours short.
        if tmp.as_os_str().len() > 60 {
            tmp = PathBuf::from("/tmp");
        }
        crate::engines::rust::remove_stale_dirs(&tmp, DIR_PREFIX);
        let dir = tmp.join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| {
                ErrorKind::Connection.error(format!(
                    "cannot create the socket folder {}: {e}",
                    dir.display()
                ))
            })?;
        Ok(Fronts {
            dir,
            public_files: vec![],
            tasks: vec![],
        })
    }

    /// A listener for the zeromq socket `name` in the private folder, and its path.
    pub fn inner(
        &self,
        name: &str,
    ) -> Result<(std::os::unix::net::UnixListener, PathBuf), CellError> {
        let path = self.dir.join(name);
        let l = std::os::unix::net::UnixListener::bind(&path).map_err(|e| {
            ErrorKind::Connection.error(format!("cannot bind {}: {e}", path.display()))
        })?;
        Ok((l, path))
    }

    /// Listens on `public` and relays each connection to the zeromq socket at `inner`.
    /// `stall`: how long the peer may leave the kernel's bytes unread before it is dropped
    /// (the heartbeat: one peer that never reads must not hold up the echo of the others).
    pub fn serve(
        &mut self,
        public: &Address,
        name: &'static str,
        inner: PathBuf,
        stall: Option<Duration>,
    ) -> Result<(), CellError> {
        let cannot =
            |e: io::Error| ErrorKind::Connection.error(format!("cannot bind {public}: {e}"));
        let throttle = Arc::new(Mutex::new(Throttled::default()));
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let task = match public {
            Address::Tcp(ip, port) => {
                let ip = if ip == "*" { "0.0.0.0" } else { ip.as_str() };
                let l = std::net::TcpListener::bind((ip, *port)).map_err(cannot)?;
                l.set_nonblocking(true).map_err(cannot)?;
                let l = TcpListener::from_std(l).map_err(cannot)?;
                tokio::spawn(async move {
                    loop {
                        match l.accept().await {
                            Ok((conn, peer)) => {
                                let Some(slot) = admit(&slots, name, &peer, &throttle) else {
                                    continue;
                                };
                                let _ = conn.set_nodelay(true);
                                let (inner, throttle) = (inner.clone(), throttle.clone());
                                tokio::spawn(async move {
                                    relay(conn, &inner, name, peer.to_string(), stall, &throttle)
                                        .await;
                                    drop(slot);
                                });
                            }
                            Err(e) => accept_failed(name, e, &throttle).await,
                        }
                    }
                })
            }
            Address::Ipc(path) => {
                let l = bind_unix_private(path).map_err(cannot)?;
                self.public_files.push(path.clone());
                l.set_nonblocking(true).map_err(cannot)?;
                let l = UnixListener::from_std(l).map_err(cannot)?;
                tokio::spawn(async move {
                    loop {
                        match l.accept().await {
                            Ok((conn, _)) => {
                                let peer = match conn.peer_cred() {
                                    Ok(c) => format!(
                                        "pid {} (uid {})",
                                        c.pid().map_or("?".into(), |p| p.to_string()),
                                        c.uid()
                                    ),
                                    Err(_) => "a local process".into(),
                                };
                                let Some(slot) = admit(&slots, name, &peer, &throttle) else {
                                    continue;
                                };
                                let (inner, throttle) = (inner.clone(), throttle.clone());
                                tokio::spawn(async move {
                                    relay(conn, &inner, name, peer, stall, &throttle).await;
                                    drop(slot);
                                });
                            }
                            Err(e) => accept_failed(name, e, &throttle).await,
                        }
                    }
                })
            }
        };
        self.tasks.push(task);
        Ok(())
    }
}

impl Drop for Fronts {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for f in &self.public_files {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The most connections one of the kernel's sockets serves at once. Each costs three file
/// descriptors (the peer's, and both ends of the relay's connection to zeromq, which listens in
/// this process); a Jupyter front end opens one per
/// socket, so this is room for dozens of clients, while a local user who opens thousands can
/// no longer run the kernel out of descriptors (its tables could not open a file).
pub const MAX_CONNECTIONS: usize = 64;

/// A slot for a new connection, or `None` (the connection is closed, and it is logged at
/// most once a second) when the socket already serves [`MAX_CONNECTIONS`].
fn admit(
    slots: &Arc<Semaphore>,
    name: &str,
    peer: &dyn std::fmt::Display,
    throttle: &Mutex<Throttled>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let slot = slots.clone().try_acquire_owned().ok();
    if slot.is_none() {
        throttle.lock().expect("throttle").warn(|| {
            format!(
                "refused a connection to the {name} socket from {peer}: it already serves {MAX_CONNECTIONS} connections"
            )
        });
    }
    slot
}

/// Prefix of the private socket folders (`<tmp>/lakehouse-wire-<pid>-<id>`).
const DIR_PREFIX: &str = "lakehouse-wire-";

/// An accept error (e.g. out of file descriptors) is logged and retried shortly: the
/// listener keeps serving.
async fn accept_failed(name: &str, e: io::Error, throttle: &Mutex<Throttled>) {
    throttle
        .lock()
        .expect("throttle")
        .warn(|| format!("the {name} socket could not accept a connection: {e}"));
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Binds a Unix socket at `path` that only this user can connect to: created in a fresh
/// 0700 folder beside it, made 0600, then renamed into place, so it is never reachable with
/// the umask's wider mode (as jupyter_client does for connection files).
pub fn bind_unix_private(path: &Path) -> io::Result<std::os::unix::net::UnixListener> {
    if path.symlink_metadata().is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "the file exists (another kernel's socket?)",
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = parent.join(format!(
        ".lh{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    let staged = staging.join("s");
    let result = (|| {
        let l = std::os::unix::net::UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&staged, path)?;
        Ok(l)
    })();
    let _ = std::fs::remove_file(&staged);
    let _ = std::fs::remove_dir(&staging);
    result
}

/// Relays one peer connection to the zeromq socket at `inner`, checking what the peer sends.
async fn relay<S>(
    conn: S,
    inner: &Path,
    name: &str,
    peer: String,
    stall: Option<Duration>,
    throttle: &Mutex<Throttled>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let upstream = match UnixStream::connect(inner).await {
        Ok(u) => u,
        Err(e) => {
            log::error!(
                "the {name} socket's relay cannot reach {}: {e}",
                inner.display()
            );
            return;
        }
    };
    let (from_peer, to_peer) = tokio::io::split(conn);
    let (from_kernel, to_kernel) = upstream.into_split();
    // Each direction runs to its end and then stops the other: the peer-to-kernel side must
    // finish at a frame boundary, never be cut off in the middle of a write.
    let (stop_up, stop_down) = (Notify::new(), Notify::new());
    let up = async {
        let why = checked_copy(from_peer, to_kernel, &stop_up).await;
        stop_down.notify_one();
        why
    };
    let down = async {
        let r = stall_checked_copy(from_kernel, to_peer, stall, &stop_down).await;
        stop_up.notify_one();
        // The kernel's side ended, or the peer stopped reading: only a stall is worth a line.
        r.err()
            .filter(|e| e.kind() == io::ErrorKind::TimedOut)
            .map(|e| e.to_string())
    };
    let (why_up, why_down) = tokio::join!(up, down);
    if let Some(why) = why_up.or(why_down) {
        throttle
            .lock()
            .expect("throttle")
            .warn(|| format!("closed a connection to the {name} socket from {peer}: {why}"));
    }
}

/// Copies the peer's bytes to the kernel until the peer hangs up, `stop` is notified or the
/// framing is broken (then: why). Frame headers are passed on only once complete and
/// checked. Whatever ends it, the kernel's side is closed on a frame boundary: a peer gone in
/// the middle of a frame has the rest of that frame filled with zeros (the zeromq crate
/// reports a stream cut inside a frame as an error on every later poll, and its REP socket
/// returns that error from every `recv`: a busy loop on the socket thread).
async fn checked_copy(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    stop: &Notify,
) -> Option<String> {
    let mut check = ZmtpCheck::new();
    let mut held: Vec<u8> = vec![];
    let mut buf = vec![0u8; 64 * 1024];
    let why = loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) => break None,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break None,
                Err(e) => break Some(format!("read failed: {e}")),
            },
            _ = stop.notified() => break None,
        };
        let mut out = std::mem::take(&mut held);
        let refused = match check.feed(&buf[..n]) {
            Ok(()) => {
                out.extend_from_slice(&buf[..n]);
                held = out.split_off(out.len() - check.partial_header());
                None
            }
            Err(r) => {
                // Everything before the refused header; held bytes begin that header.
                if r.at == 0 {
                    out.clear();
                } else {
                    out.extend_from_slice(&buf[..r.at]);
                }
                Some(r.why)
            }
        };
        if let Err(e) = to.write_all(&out).await {
            return refused.or_else(|| Some(format!("the kernel's side closed: {e}")));
        }
        if refused.is_some() {
            return refused; // at a frame boundary: the refused header was never passed on
        }
    };
    let mut missing = check.body_remaining();
    if missing > 0 {
        let zeros = vec![0u8; 64 * 1024];
        let fill = async {
            while missing > 0 {
                let n = missing.min(zeros.len() as u64) as usize;
                to.write_all(&zeros[..n]).await?;
                missing -= n as u64;
            }
            to.flush().await
        };
        // A socket nobody reads (stdin) takes nothing: give up rather than wait forever.
        let _ = tokio::time::timeout(Duration::from_secs(10), fill).await;
    }
    why
}

/// Copies the kernel's bytes to the peer until either side ends or `stop` is notified; with
/// `stall`, a write the peer leaves untaken that long ends the connection (`TimedOut`).
async fn stall_checked_copy(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    stall: Option<Duration>,
    stop: &Notify,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => r?,
            _ = stop.notified() => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        let write = to.write_all(&buf[..n]);
        let limit = stall.unwrap_or(Duration::MAX);
        tokio::select! {
            r = tokio::time::timeout(limit, write) => r.map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("it left the kernel's replies unread for {} s", limit.as_secs()),
                )
            })??,
            _ = stop.notified() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakehouse_wire::zmtp::{frame, greeting, FLAG_COMMAND, FLAG_LONG};

    /// The zeromq crate reports a stream cut inside a frame as an error on every later poll
    /// (its REP returns it from each `recv`: a busy loop). Through the front, the frame is
    /// completed, each cut peer costs at most one error, and the next peer is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_gone_inside_a_frame_costs_one_error_not_a_busy_loop() {
        use zeromq::{Socket, SocketRecv, SocketSend};
        let mut fronts = Fronts::new().unwrap();
        let mut rep = zeromq::RepSocket::new();
        let (listener, inner) = fronts.inner("hb").unwrap();
        rep.bind_listener(listener).await.unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let public = Address::Tcp("127.0.0.1".into(), port);
        fronts.serve(&public, "hb", inner, None).unwrap();
        let served = tokio::spawn(async move {
            let mut errors = 0u64;
            loop {
                match rep.recv().await {
                    Ok(m) if m.get(0).is_some_and(|f| f.as_ref() == b"hello") => return errors,
                    Ok(_) => {}
                    Err(_) => errors += 1,
                }
                tokio::task::yield_now().await;
            }
        });
        for cut in [11, 5] {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let mut hello = greeting();
            hello.extend(frame(
                FLAG_COMMAND,
                b"\x05READY\x0bSocket-Type\x00\x00\x00\x03REQ",
            ));
            s.write_all(&hello).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            // A 1000-byte frame cut after its header and two bytes (or inside its length).
            let mut f = vec![FLAG_LONG];
            f.extend_from_slice(&1000u64.to_be_bytes());
            f.extend_from_slice(b"xx");
            s.write_all(&f[..cut]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut req = zeromq::ReqSocket::new();
        req.connect(&public.to_string()).await.unwrap();
        req.send(zeromq::ZmqMessage::from("hello")).await.unwrap();
        let errors = tokio::time::timeout(Duration::from_secs(5), served)
            .await
            .expect("the next peer's request never arrived")
            .unwrap();
        assert!(errors <= 4, "{errors} errors from two peers that left");
    }

    #[test]
    fn ipc_socket_files_are_private() {
        let dir = std::env::temp_dir().join(format!("lh-ipc-mode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.join("kernel-1");
        let l = bind_unix_private(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        // It is the listening socket, and nothing was left beside it.
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        assert!(l.accept().is_ok());
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("kernel-1")]);
        // A file already there (another kernel's socket) is not replaced.
        assert_eq!(
            bind_unix_private(&path).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_inner_socket_folder_is_private_and_removed() {
        let fronts = Fronts::new().unwrap();
        let dir = fronts.dir.clone();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "mode {mode:o}");
        let (_l, path) = fronts.inner("shell").unwrap();
        assert!(path.starts_with(&dir));
        drop(fronts);
        assert!(!dir.exists());
    }
}

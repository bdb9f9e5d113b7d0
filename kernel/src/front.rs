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

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::Notify;

/// The largest message a peer may send, all its frames together: 64 MiB. A peer that
/// announces more is disconnected before any of the excess is read (ZeroMQ clients reconnect
/// by themselves); ZeroMQ's own `ZMQ_MAXMSGSIZE` behaves the same way.
pub const MAX_MESSAGE_BYTES: u64 = 64 << 20;
/// The largest ZMTP command frame (READY with its metadata, PING, SUBSCRIBE, ...).
pub const MAX_COMMAND_BYTES: u64 = 64 << 10;
/// The most frames in one message: Jupyter needs identities, a delimiter, five parts and any
/// buffers. Bounded because each frame costs the decoder memory beyond its bytes.
pub const MAX_FRAMES: u32 = 1024;

const GREETING_LEN: usize = 64;

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

/// Why a peer's bytes were refused, and where in the chunk the refused part begins (bytes
/// before it belong to complete, valid frames and are still passed on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub at: usize,
    pub why: String,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Bytes of the 64-byte greeting seen so far.
    Greeting(usize),
    Flags,
    /// A length being read: the flags, length bytes still missing, the value so far.
    Length {
        flags: u8,
        missing: u8,
        value: u64,
    },
    Body {
        remaining: u64,
        flags: u8,
    },
}

/// Follows the ZMTP 3 framing of one peer's byte stream without buffering any of it.
#[derive(Debug)]
pub struct ZmtpCheck {
    state: State,
    /// Bytes of the message being received (frames so far).
    message_bytes: u64,
    frames: u32,
}

impl Default for ZmtpCheck {
    fn default() -> Self {
        Self::new()
    }
}

const FLAG_MORE: u8 = 0b001;
const FLAG_LONG: u8 = 0b010;
const FLAG_COMMAND: u8 = 0b100;

impl ZmtpCheck {
    /// A check at the start of a connection (the greeting comes first).
    pub fn new() -> Self {
        ZmtpCheck {
            state: State::Greeting(0),
            message_bytes: 0,
            frames: 0,
        }
    }

    /// Checks the next bytes the peer sent, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        let mut pos = 0;
        // Where the frame header being read began in this chunk (0 if in an earlier one).
        let mut header_at = 0;
        let refuse = |at: usize, why: String| Err(Refusal { at, why });
        while pos < chunk.len() {
            match self.state {
                State::Greeting(seen) => {
                    let take = (GREETING_LEN - seen).min(chunk.len() - pos);
                    for (i, &b) in chunk[pos..pos + take].iter().enumerate() {
                        match seen + i {
                            0 if b != 0xff => {
                                return refuse(
                                    0,
                                    format!("not a ZMTP greeting (first byte {b:#04x})"),
                                )
                            }
                            9 if b & 1 != 1 => {
                                return refuse(0, "not a ZMTP 3 greeting (bad signature)".into())
                            }
                            10 if b < 3 => {
                                return refuse(
                                    0,
                                    format!("ZMTP version {b} is not supported (3 is)"),
                                )
                            }
                            _ => {}
                        }
                    }
                    pos += take;
                    self.state = if seen + take == GREETING_LEN {
                        State::Flags
                    } else {
                        State::Greeting(seen + take)
                    };
                }
                State::Flags => {
                    header_at = pos;
                    let flags = chunk[pos];
                    pos += 1;
                    if flags & !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND) != 0 {
                        return refuse(
                            header_at,
                            format!("reserved frame flag bits set ({flags:#04x})"),
                        );
                    }
                    if flags & FLAG_COMMAND != 0 && flags & FLAG_MORE != 0 {
                        return refuse(header_at, "a command frame with the MORE flag".into());
                    }
                    let missing = if flags & FLAG_LONG != 0 { 8 } else { 1 };
                    self.state = State::Length {
                        flags,
                        missing,
                        value: 0,
                    };
                }
                State::Length {
                    flags,
                    missing,
                    value,
                } => {
                    let value = (value << 8) | u64::from(chunk[pos]);
                    pos += 1;
                    if missing > 1 {
                        self.state = State::Length {
                            flags,
                            missing: missing - 1,
                            value,
                        };
                        continue;
                    }
                    if let Err(why) = self.begin_frame(flags, value) {
                        return refuse(header_at, why);
                    }
                }
                State::Body { remaining, flags } => {
                    let take = remaining.min((chunk.len() - pos) as u64);
                    pos += take as usize;
                    if take == remaining {
                        self.end_frame(flags);
                    } else {
                        self.state = State::Body {
                            remaining: remaining - take,
                            flags,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    fn begin_frame(&mut self, flags: u8, len: u64) -> Result<(), String> {
        if flags & FLAG_COMMAND != 0 {
            if len > MAX_COMMAND_BYTES {
                return Err(format!(
                    "a command frame of {len} bytes (the limit is {MAX_COMMAND_BYTES})"
                ));
            }
        } else {
            self.frames += 1;
            if self.frames > MAX_FRAMES {
                return Err(format!(
                    "a message of more than {MAX_FRAMES} frames (the limit)"
                ));
            }
            self.message_bytes = self.message_bytes.saturating_add(len);
            if self.message_bytes > MAX_MESSAGE_BYTES {
                return Err(format!(
                    "a message of at least {} bytes (the limit is {MAX_MESSAGE_BYTES}, 64 MiB)",
                    self.message_bytes
                ));
            }
        }
        if len == 0 {
            self.end_frame(flags);
        } else {
            self.state = State::Body {
                remaining: len,
                flags,
            };
        }
        Ok(())
    }

    /// Bytes at the end of what was fed that belong to a frame header not yet complete
    /// (held back by the relay: zeromq must never see a length that was not checked).
    pub fn partial_header(&self) -> usize {
        match self.state {
            State::Length { flags, missing, .. } => {
                let len_bytes = if flags & FLAG_LONG != 0 { 8 } else { 1 };
                1 + len_bytes - missing as usize
            }
            _ => 0,
        }
    }

    /// Bytes still missing from the frame body being received (0 between frames).
    pub fn body_remaining(&self) -> u64 {
        match self.state {
            State::Body { remaining, .. } => remaining,
            _ => 0,
        }
    }

    fn end_frame(&mut self, flags: u8) {
        if flags & FLAG_COMMAND == 0 && flags & FLAG_MORE == 0 {
            self.message_bytes = 0;
            self.frames = 0;
        }
        self.state = State::Flags;
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
    pub fn new() -> Result<Fronts, String> {
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
            .map_err(|e| format!("cannot create the socket folder {}: {e}", dir.display()))?;
        Ok(Fronts {
            dir,
            public_files: vec![],
            tasks: vec![],
        })
    }

    /// A listener for the zeromq socket `name` in the private folder, and its path.
    pub fn inner(&self, name: &str) -> Result<(std::os::unix::net::UnixListener, PathBuf), String> {
        let path = self.dir.join(name);
        let l = std::os::unix::net::UnixListener::bind(&path)
            .map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
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
    ) -> Result<(), String> {
        let cannot = |e: io::Error| format!("cannot bind {public}: {e}");
        let throttle = Arc::new(Mutex::new(Throttled::default()));
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
                                let _ = conn.set_nodelay(true);
                                let (inner, throttle) = (inner.clone(), throttle.clone());
                                tokio::spawn(async move {
                                    relay(conn, &inner, name, peer.to_string(), stall, &throttle)
                                        .await
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
                                let (inner, throttle) = (inner.clone(), throttle.clone());
                                tokio::spawn(async move {
                                    relay(conn, &inner, name, peer, stall, &throttle).await
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

    fn greeting() -> Vec<u8> {
        let mut g = vec![0u8; 64];
        g[0] = 0xff;
        g[9] = 0x7f;
        g[10] = 3;
        g[12..16].copy_from_slice(b"NULL");
        g
    }

    fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
        let mut f = vec![];
        if body.len() > 255 {
            f.push(flags | FLAG_LONG);
            f.extend_from_slice(&(body.len() as u64).to_be_bytes());
        } else {
            f.push(flags);
            f.push(body.len() as u8);
        }
        f.extend_from_slice(body);
        f
    }

    /// A valid conversation: greeting, READY, a multipart message with a long frame.
    fn valid_stream() -> Vec<u8> {
        let mut s = greeting();
        s.extend(frame(
            FLAG_COMMAND,
            b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER",
        ));
        s.extend(frame(FLAG_MORE, b"<IDS|MSG>"));
        s.extend(frame(FLAG_MORE, &[b'x'; 300]));
        s.extend(frame(0, b"{}"));
        s
    }

    #[test]
    fn valid_framing_passes_in_any_chunking() {
        let s = valid_stream();
        for chunk in [1, 2, 7, 64, 65, 1000] {
            let mut c = ZmtpCheck::new();
            for part in s.chunks(chunk) {
                c.feed(part).unwrap();
            }
            assert!(
                matches!(c.state, State::Flags),
                "chunk {chunk}: {:?}",
                c.state
            );
            assert_eq!(c.message_bytes, 0);
        }
    }

    #[test]
    fn a_huge_frame_length_is_refused_at_its_header() {
        // The packet that aborted the kernel: greeting, then a command frame of 2^62 bytes.
        for flags in [FLAG_COMMAND | FLAG_LONG, FLAG_LONG] {
            let mut s = valid_stream();
            let header_at = s.len();
            s.push(flags);
            s.extend_from_slice(&(1u64 << 62).to_be_bytes());
            let r = ZmtpCheck::new().feed(&s).unwrap_err();
            assert_eq!(r.at, header_at, "{r:?}");
            assert!(r.why.contains(&(1u64 << 62).to_string()), "{}", r.why);
            // Split mid-header: refused in the chunk that completes the length.
            let mut c = ZmtpCheck::new();
            c.feed(&s[..header_at + 3]).unwrap();
            assert_eq!(c.feed(&s[header_at + 3..]).unwrap_err().at, 0);
        }
    }

    #[test]
    fn the_limit_counts_all_frames_of_a_message() {
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        let half = MAX_MESSAGE_BYTES / 2;
        let mut h = vec![FLAG_MORE | FLAG_LONG];
        h.extend_from_slice(&half.to_be_bytes());
        c.feed(&h).unwrap();
        c.feed(&vec![0u8; half as usize]).unwrap();
        // The second half fits exactly; one byte more is refused.
        let mut h = vec![FLAG_MORE | FLAG_LONG];
        h.extend_from_slice(&half.to_be_bytes());
        c.feed(&h).unwrap();
        c.feed(&vec![0u8; half as usize]).unwrap();
        let r = c.feed(&[0, 1, 0]).unwrap_err();
        assert!(r.why.contains("limit"), "{}", r.why);
        // A new message starts from zero.
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        for _ in 0..3 {
            let mut h = vec![FLAG_LONG];
            h.extend_from_slice(&half.to_be_bytes());
            c.feed(&h).unwrap();
            c.feed(&vec![0u8; half as usize]).unwrap();
        }
    }

    #[test]
    fn too_many_frames_and_bad_flags_are_refused() {
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        let empty_more = [FLAG_MORE, 0];
        for _ in 0..MAX_FRAMES {
            c.feed(&empty_more).unwrap();
        }
        assert!(c.feed(&empty_more).is_err());
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        assert!(c.feed(&[0x80, 0]).is_err());
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        assert!(c.feed(&[FLAG_COMMAND | FLAG_MORE, 0]).is_err());
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        let mut big_cmd = vec![FLAG_COMMAND | FLAG_LONG];
        big_cmd.extend_from_slice(&(MAX_COMMAND_BYTES + 1).to_be_bytes());
        assert!(c.feed(&big_cmd).is_err());
    }

    /// A small deterministic generator (xorshift64*), so the randomized test repeats exactly.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A stream that is mostly valid ZMTP, with now and then a wrong flag, a huge length or a
    /// flipped byte.
    fn random_stream(rng: &mut Rng) -> Vec<u8> {
        let mut s = greeting();
        for _ in 0..rng.below(12) {
            let mut flags = [0, FLAG_MORE, FLAG_COMMAND][rng.below(3) as usize];
            if rng.below(40) == 0 {
                flags |= 1 << (3 + rng.below(5));
            }
            let len = match rng.below(30) {
                0 => rng.next(),
                1 => MAX_MESSAGE_BYTES + rng.below(3),
                2 => MAX_COMMAND_BYTES + rng.below(3),
                _ => rng.below(600),
            };
            if len > 255 || rng.below(10) == 0 {
                s.push(flags | FLAG_LONG);
                s.extend_from_slice(&len.to_be_bytes());
            } else {
                s.push(flags);
                s.push(len as u8);
            }
            let body = len.min(600 + rng.below(100)) as usize;
            s.extend((0..body).map(|_| rng.next() as u8));
        }
        for _ in 0..rng.below(3) {
            if rng.below(4) == 0 && !s.is_empty() {
                let at = rng.below(s.len() as u64) as usize;
                s[at] ^= 1 << rng.below(8);
            }
        }
        s
    }

    #[test]
    fn random_streams_never_panic_and_chunking_never_changes_the_verdict() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut refused, mut passed) = (0, 0);
        for _ in 0..20_000 {
            let s = random_stream(&mut rng);
            let whole = ZmtpCheck::new().feed(&s);
            // The same bytes in random pieces.
            let mut c = ZmtpCheck::new();
            let mut start = 0;
            let mut chunked = Ok(());
            while start < s.len() {
                let end = (start + 1 + rng.below(200) as usize).min(s.len());
                if let Err(r) = c.feed(&s[start..end]) {
                    chunked = Err((start, r));
                    break;
                }
                start = end;
            }
            match (whole, chunked) {
                (Ok(()), Ok(())) => passed += 1,
                (Err(w), Err((chunk_start, r))) => {
                    assert_eq!(w.why, r.why);
                    assert_eq!(chunk_start + r.at, w.at.max(chunk_start), "{w:?} vs {r:?}");
                    refused += 1;
                }
                (w, c) => panic!("whole {w:?}, chunked {c:?}"),
            }
        }
        // Both outcomes were exercised many times.
        assert!(
            refused > 1000 && passed > 1000,
            "refused {refused}, passed {passed}"
        );
    }

    #[test]
    fn partial_headers_and_missing_body_are_known() {
        let mut c = ZmtpCheck::new();
        c.feed(&greeting()).unwrap();
        assert_eq!((c.partial_header(), c.body_remaining()), (0, 0));
        c.feed(&[FLAG_LONG, 0, 0]).unwrap();
        assert_eq!(c.partial_header(), 3);
        c.feed(&[0, 0, 0, 0, 0x03, 0xe8, b'x']).unwrap();
        assert_eq!((c.partial_header(), c.body_remaining()), (0, 999));
        c.feed(&[b'x'; 999]).unwrap();
        c.feed(&[FLAG_MORE]).unwrap();
        assert_eq!(c.partial_header(), 1);
        c.feed(&[2, b'a', b'b']).unwrap();
        assert_eq!((c.partial_header(), c.body_remaining()), (0, 0));
    }

    #[test]
    fn not_a_greeting_is_refused() {
        assert!(ZmtpCheck::new().feed(b"GET / HTTP/1.1\r\n").is_err());
        let mut old = greeting();
        old[10] = 2;
        assert!(ZmtpCheck::new().feed(&old).is_err());
    }

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

//! Sockets and tasks: heartbeat, shell queue, control, iopub, stdin.
//!
//! Only this module (with `wire`) knows sockets and headers. Requests on shell are handled
//! one at a time in arrival order; control is served by its own task so interrupt and
//! shutdown answer while a cell runs. Engines run on a separate runtime and hand back
//! outputs; `lakehouse_render` turns them into MIME bundles, and this module publishes
//! them, counts executions and stamps parents.
//!
//! The rooms: this file holds the sockets, the tasks and the state they share; `dispatch`
//! answers each request type (one function each); `publish` runs a cell and sends its
//! outputs to iopub; `history` serves history requests. The socket tasks only move
//! [`Outgoing`] and [`Incoming`] values through channels, so the dispatch is tested without
//! sockets (`tests`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use jupyter_protocol::{ConnectionInfo, JupyterMessageContent, Status, StreamContent};
use tokio::sync::{mpsc, watch};
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::engines::rust::{self as rust_cells, RustEngine};
use crate::engines::sql::SqlEngine;
use crate::error::{CellError, ErrorKind};
use crate::front;
use crate::settings::Settings;
use crate::wire::{self, Incoming, Outgoing, Signer};

mod dispatch;
mod history;
mod publish;
#[cfg(test)]
mod tests;

/// Which socket a request came in on (replies go back on the same one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chan {
    Shell,
    Control,
}

/// State shared by the socket tasks.
struct Kernel {
    session: String,
    signer: Mutex<Signer>,
    iopub: mpsc::UnboundedSender<Outgoing>,
    shell_out: mpsc::UnboundedSender<Outgoing>,
    control_out: mpsc::UnboundedSender<Outgoing>,
    /// The SQL session, once opened. A failed open is not kept: the next request tries
    /// again, so a catalog that was down at start-up is used as soon as it is back.
    engine: tokio::sync::Mutex<Option<Arc<SqlEngine>>>,
    engine_rt: tokio::runtime::Handle,
    settings: Settings,
    /// The Rust session, once a Rust cell has started it.
    rust: tokio::sync::Mutex<Option<Arc<RustEngine>>>,
    /// Cells are Rust unless they start with `%%sql` (the "Lakehouse (Rust)" kernelspec).
    rust_default: bool,
    /// The running cell, for interrupt_request.
    running: Mutex<Option<Running>>,
    /// Whether the running cell was interrupted: whatever error it ends with is then the
    /// interrupt's.
    interrupted: std::sync::atomic::AtomicBool,
    /// Wakes a SQL cell's publisher on interrupt_request, so it can answer without waiting
    /// for work the plan already handed to the engine's queue (`publish::INTERRUPT_GRACE`).
    interrupt_signal: tokio::sync::Notify,
    /// An interrupted cell's task still draining after its reply: the next cell waits for it,
    /// so it starts with the engine threads, the memory pool and the memory back.
    draining: Mutex<Option<tokio::task::JoinHandle<()>>>,
    state: Mutex<ShellState>,
    shutdown: watch::Sender<bool>,
}

/// What interrupt_request stops.
enum Running {
    /// A SQL cell: the session's plans stop at their next batch
    /// (`crate::optimizer::interrupt`), and the task is aborted at its next await.
    Sql(tokio::task::AbortHandle, Arc<SqlEngine>),
    /// A Rust cell: evcxr's child process is ended, and the queries it runs stop.
    Rust(Arc<RustEngine>, Arc<SqlEngine>),
}

impl Running {
    fn stop(self) {
        match self {
            Running::Sql(h, sql) => {
                sql.interrupt();
                h.abort();
            }
            Running::Rust(r, sql) => {
                sql.interrupt();
                r.interrupt();
            }
        }
    }
}

/// The execution count and the history, shared by shell and control.
#[derive(Default)]
struct ShellState {
    execution_count: usize,
    /// (execution count, code) of cells run with store_history; shared strings, so a history
    /// request copies them cheaply and works without the lock.
    history: Vec<(usize, Arc<str>)>,
}

/// Runs the kernel until a shutdown request. `engine_rt` runs DataFusion work;
/// `rust_default` makes cells Rust unless they start with `%%sql`.
/// A kernel that cannot start is a ConnectionError naming the file, socket or scheme.
pub async fn run(
    connection_file: &Path,
    settings: Settings,
    engine_rt: tokio::runtime::Handle,
    rust_default: bool,
) -> Result<(), CellError> {
    serve(connection_file, settings, engine_rt, rust_default)
        .await
        .map_err(|m| ErrorKind::Connection.error(m))
}

async fn serve(
    connection_file: &Path,
    settings: Settings,
    engine_rt: tokio::runtime::Handle,
    rust_default: bool,
) -> Result<(), String> {
    let text = std::fs::read_to_string(connection_file).map_err(|e| {
        format!(
            "cannot read connection file {}: {e}",
            connection_file.display()
        )
    })?;
    let info: ConnectionInfo = serde_json::from_str(&text).map_err(|e| {
        format!(
            "connection file {} is not valid: {e}",
            connection_file.display()
        )
    })?;
    let signer = Signer::new(&info.key, &info.signature_scheme).map_err(|e| e.evalue)?;

    let mut shell = zeromq::RouterSocket::new();
    let mut control = zeromq::RouterSocket::new();
    let mut stdin = zeromq::RouterSocket::new();
    let mut iopub = zeromq::PubSocket::new();
    let mut hb = zeromq::RepSocket::new();
    // Peers reach the zeromq sockets only through the fronts, which bound every frame (the
    // crate's decoder would reserve any length a header claims) and keep IPC files private.
    let mut fronts = front::Fronts::new().map_err(|e| e.evalue)?;
    for (sock, port, name, stall) in [
        (
            &mut shell as &mut dyn BindAny,
            info.shell_port,
            "shell",
            None,
        ),
        (&mut control, info.control_port, "control", None),
        (&mut stdin, info.stdin_port, "stdin", None),
        (&mut iopub, info.iopub_port, "iopub", None),
        (&mut hb, info.hb_port, "hb", Some(HEARTBEAT_STALL)),
    ] {
        let (listener, inner) = fronts.inner(name).map_err(|e| e.evalue)?;
        sock.bind_to(listener).await?;
        fronts
            .serve(&front::Address::of(&info, port), name, inner, stall)
            .map_err(|e| e.evalue)?;
    }

    let (kernel, outlets) = Kernel::new(signer, settings, engine_rt, rust_default);
    let Outlets {
        iopub: iopub_rx,
        shell: shell_out_rx,
        control: control_out_rx,
        shutdown: mut shutdown_rx,
    } = outlets;

    // Open the catalog in the background: kernel_info must not wait for it.
    {
        let k = kernel.clone();
        tokio::spawn(async move {
            match k.engine().await {
                // Cells of "Lakehouse (Rust)" are Rust: have evcxr ready before the first one
                // (its first compiles and rust-analyzer's first analysis take seconds).
                Ok(sql) if k.rust_default => {
                    if let Err(e) = k.rust_engine(None, &sql).await {
                        log::warn!(
                            "the Rust environment did not start ahead of the first cell: {}",
                            e.evalue
                        );
                    }
                }
                Ok(_) => {}
                Err(e) => log::error!("{e}"),
            }
        });
    }

    tokio::spawn(heartbeat(hb));
    tokio::spawn(publisher(iopub, iopub_rx, kernel.clone()));
    let (shell_send, shell_recv) = shell.split();
    let (control_send, control_recv) = control.split();
    tokio::spawn(sender(shell_send, shell_out_rx, kernel.clone()));
    tokio::spawn(sender(control_send, control_out_rx, kernel.clone()));
    let (queue_tx, queue_rx) = mpsc::unbounded_channel();
    tokio::spawn(receiver(shell_recv, kernel.clone(), Some(queue_tx)));
    tokio::spawn(receiver(control_recv, kernel.clone(), None));
    tokio::spawn(shell_worker(kernel.clone(), queue_rx));
    // Keep stdin bound (clients connect to it) though input is never requested.
    let _stdin = stdin;
    kernel.publish(None, Status::starting().into());

    while !*shutdown_rx.borrow() {
        if shutdown_rx.changed().await.is_err() {
            break;
        }
    }
    // Let the shutdown reply and the last status leave before the process ends.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// Binding for the five socket types behind one object-safe call.
trait BindAny: Send {
    fn bind_to(
        &mut self,
        listener: std::os::unix::net::UnixListener,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>>;
}

impl<S: Socket> BindAny for S {
    fn bind_to(
        &mut self,
        listener: std::os::unix::net::UnixListener,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            let at = listener.local_addr().ok();
            self.bind_listener(listener)
                .await
                .map(|_| ())
                .map_err(|e| format!("cannot listen on {at:?}: {e}"))
        })
    }
}

/// How long a heartbeat peer may leave its echoes unread before its connection is dropped.
const HEARTBEAT_STALL: Duration = Duration::from_secs(5);
/// How long one echo may take to leave (a peer that reads nothing must not hold up the rest).
const HEARTBEAT_SEND: Duration = Duration::from_secs(1);

/// Echoes every heartbeat. Bad input (a DEALER's one-frame `ping`, a peer gone before its
/// echo) is logged and skipped: the loop ends only with the process.
async fn heartbeat(mut hb: zeromq::RepSocket) {
    let mut bad = front::Throttled::default();
    loop {
        let msg = match hb.recv().await {
            Ok(m) => m,
            Err(zeromq::ZmqError::NoMessage) => {
                // No peer at all: wait for one rather than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            Err(e) => {
                bad.warn(|| format!("ignored bad input on the heartbeat socket: {e}"));
                tokio::task::yield_now().await;
                continue;
            }
        };
        match tokio::time::timeout(HEARTBEAT_SEND, hb.send(msg)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bad.warn(|| format!("could not echo a heartbeat: {e}")),
            Err(_) => bad.warn(|| {
                format!(
                    "a heartbeat peer took no echo for {} s; skipped it",
                    HEARTBEAT_SEND.as_secs()
                )
            }),
        }
    }
}

/// Signs and sends every iopub message, in the order published.
async fn publisher(
    mut sock: zeromq::PubSocket,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    k: Arc<Kernel>,
) {
    while let Some(msg) = rx.recv().await {
        let frames = msg.encode(&k.signer.lock().expect("signer lock"));
        if let Ok(m) = ZmqMessage::try_from(frames) {
            let _ = sock.send(m).await;
        }
    }
}

/// Signs and sends the replies of one ROUTER socket (shell or control).
async fn sender(
    mut sock: zeromq::RouterSendHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    k: Arc<Kernel>,
) {
    while let Some(msg) = rx.recv().await {
        let frames = msg.encode(&k.signer.lock().expect("signer lock"));
        if let Ok(m) = ZmqMessage::try_from(frames) {
            if let Err(e) = sock.send(m).await {
                log::warn!("could not send {}: {e}", msg.header.msg_type);
            }
        }
    }
}

/// Reads and verifies requests. Shell requests are queued for the worker; control requests
/// are handled right here, so they never wait behind a running cell.
async fn receiver(
    mut sock: zeromq::RouterRecvHalf,
    k: Arc<Kernel>,
    queue: Option<mpsc::UnboundedSender<Incoming>>,
) {
    let mut bad = front::Throttled::default();
    loop {
        let frames: Vec<Bytes> = match sock.recv().await {
            Ok(m) => m.into_vec(),
            Err(e) => {
                bad.warn(|| format!("socket receive failed: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let decoded = wire::decode(frames, &mut k.signer.lock().expect("signer lock"));
        let msg = match decoded {
            Ok(m) => m,
            Err(e) => {
                // Never answered: a message we cannot authenticate has no trusted sender.
                bad.warn(|| format!("dropped a message: {e}"));
                continue;
            }
        };
        match &queue {
            Some(q) => {
                let _ = q.send(msg);
            }
            None => {
                let k = k.clone();
                tokio::spawn(async move { k.handle(msg, Chan::Control).await });
            }
        }
    }
}

/// Handles shell requests one at a time, in arrival order.
async fn shell_worker(k: Arc<Kernel>, mut queue: mpsc::UnboundedReceiver<Incoming>) {
    while let Some(msg) = queue.recv().await {
        let failed_and_stop = k.handle(msg, Chan::Shell).await;
        if failed_and_stop {
            // stop_on_error: requests already queued behind the failed cell are aborted.
            while let Ok(next) = queue.try_recv() {
                if next.msg_type() == "execute_request" {
                    k.abort_request(&next);
                } else {
                    k.handle(next, Chan::Shell).await;
                }
            }
        }
    }
}

/// The receiving ends of what the kernel sends: iopub messages, shell and control replies,
/// and the shutdown flag. The socket tasks drain them; the protocol tests read them.
struct Outlets {
    iopub: mpsc::UnboundedReceiver<Outgoing>,
    shell: mpsc::UnboundedReceiver<Outgoing>,
    control: mpsc::UnboundedReceiver<Outgoing>,
    shutdown: watch::Receiver<bool>,
}

impl Kernel {
    /// A kernel with no sockets yet: what it sends goes into the returned [`Outlets`].
    fn new(
        signer: Signer,
        settings: Settings,
        engine_rt: tokio::runtime::Handle,
        rust_default: bool,
    ) -> (Arc<Kernel>, Outlets) {
        let (iopub_tx, iopub) = mpsc::unbounded_channel();
        let (shell_tx, shell) = mpsc::unbounded_channel();
        let (control_tx, control) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown) = watch::channel(false);
        let kernel = Arc::new(Kernel {
            session: uuid::Uuid::new_v4().to_string(),
            signer: Mutex::new(signer),
            iopub: iopub_tx,
            shell_out: shell_tx,
            control_out: control_tx,
            engine: tokio::sync::Mutex::new(None),
            engine_rt,
            settings,
            rust: tokio::sync::Mutex::new(None),
            rust_default,
            running: Mutex::new(None),
            interrupted: Default::default(),
            interrupt_signal: tokio::sync::Notify::new(),
            draining: Mutex::new(None),
            state: Mutex::new(ShellState::default()),
            shutdown: shutdown_tx,
        });
        let outlets = Outlets {
            iopub,
            shell,
            control,
            shutdown,
        };
        (kernel, outlets)
    }

    /// The SQL session, opened on first use (on the engine runtime).
    async fn engine(&self) -> Result<Arc<SqlEngine>, CellError> {
        let mut slot = self.engine.lock().await;
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let settings = self.settings.clone();
        let opened = self
            .engine_rt
            .spawn(async move { crate::session::open(settings).await.map(Arc::new) })
            .await
            .unwrap_or_else(|e| {
                Err(ErrorKind::Catalog.error(format!("the catalog could not be opened: {e}")))
            })?;
        *slot = Some(opened.clone());
        Ok(opened)
    }

    /// Sends `content` on iopub, caused by `parent`.
    fn publish(&self, parent: Option<&Incoming>, content: JupyterMessageContent) {
        let _ = self
            .iopub
            .send(Outgoing::new(&self.session, content, parent));
    }

    /// Sends `content` as the reply to `parent` on the channel it came in on.
    fn reply(&self, chan: Chan, parent: &Incoming, content: JupyterMessageContent) {
        self.reply_raw(chan, Outgoing::new(&self.session, content, Some(parent)));
    }

    /// Sends an already built reply on `chan`.
    fn reply_raw(&self, chan: Chan, msg: Outgoing) {
        let _ = match chan {
            Chan::Shell => self.shell_out.send(msg),
            Chan::Control => self.control_out.send(msg),
        };
    }

    /// The Rust session, started by the first Rust cell (seconds; minutes the first time on
    /// a machine, which the cell is told: `tell` is its request), or in the background when
    /// the kernel starts as "Lakehouse (Rust)". A cell that comes during a start waits for it.
    async fn rust_engine(
        &self,
        tell: Option<&Incoming>,
        sql: &Arc<SqlEngine>,
    ) -> Result<Arc<RustEngine>, CellError> {
        let mut slot = self.rust.lock().await;
        if let Some(r) = slot.as_ref() {
            return Ok(r.clone());
        }
        let cache = self.settings.rust_cache.clone();
        if let Some(msg) = tell
            .filter(|_| !rust_cells::is_prepared(&cache) && rust_cells::missing_tools().is_none())
        {
            self.publish(
                Some(msg),
                StreamContent::stderr(&format!(
                    "Preparing the Rust environment: compiling the lakehouse client crate and Arrow into {} \
                     (once per machine, a few minutes; `lakehouse-kernel prepare-rust` does it ahead of time)…\n",
                    cache.display()
                ))
                .into(),
            );
        }
        let session: Arc<dyn crate::engines::Session> = sql.clone();
        let rt = self.engine_rt.clone();
        let engine =
            tokio::task::spawn_blocking(move || RustEngine::start(Some(session), &rt, &cache))
                .await
                .unwrap_or_else(|e| {
                    Err(CellError::new(
                        ErrorKind::RustSetup,
                        format!("the Rust environment could not be started: {e}"),
                    ))
                })?;
        let engine = Arc::new(engine);
        *slot = Some(engine.clone());
        Ok(engine)
    }

    /// The Rust session if a Rust cell started it, for completion and inspection (which do
    /// not start one: that can take minutes).
    async fn rust_if_started(&self) -> Option<Arc<RustEngine>> {
        self.rust.lock().await.clone()
    }
}

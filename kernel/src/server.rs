//! Sockets and tasks: heartbeat, shell queue, control, iopub, stdin.
//!
//! Only this module (with `wire`) knows sockets and headers. Requests on shell are handled
//! one at a time in arrival order; control is served by its own task so interrupt and
//! shutdown answer while a cell runs. Engines run on a separate runtime and hand back
//! outputs; this module publishes them, counts executions and stamps parents.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use jupyter_protocol::{
    CodeMirrorMode, CommInfoReply, CompleteReply, ConnectionInfo, DisplayData, ErrorOutput,
    ExecuteInput, ExecuteReply, ExecuteRequest, ExecuteResult, ExecutionCount, HelpLink,
    HistoryEntry, HistoryReply, HistoryRequest, InspectReply, InterruptReply, IsCompleteReply,
    JupyterMessageContent, KernelInfoReply, LanguageInfo, Media, MediaType, ReplyError,
    ReplyStatus, ShutdownReply, Status, StreamContent, Transient, UpdateDisplayData,
};
use serde_json::{json, Map};
use tokio::sync::{mpsc, watch};
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::config::Settings;
use crate::engines::rust::{self as rust_cells, RustEngine};
use crate::engines::sql::{CellError, IsComplete, SqlEngine};
use crate::engines::{Output, TableOutput};
use crate::front;
use crate::wire::{self, Incoming, Outgoing, Signer};

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
    state: Mutex<ShellState>,
    shutdown: watch::Sender<bool>,
}

/// What interrupt_request stops.
enum Running {
    /// A SQL cell: its task is aborted, which cancels the running DataFusion stream.
    Sql(tokio::task::AbortHandle),
    /// A Rust cell: evcxr's child process is ended.
    Rust(Arc<RustEngine>),
}

impl Running {
    fn stop(self) {
        match self {
            Running::Sql(h) => h.abort(),
            Running::Rust(r) => r.interrupt(),
        }
    }
}

#[derive(Default)]
struct ShellState {
    execution_count: usize,
    /// (execution count, code) of cells run with store_history; shared strings, so a history
    /// request copies them cheaply and works without the lock.
    history: Vec<(usize, Arc<str>)>,
}

/// Runs the kernel until a shutdown request. `engine_rt` runs DataFusion work;
/// `rust_default` makes cells Rust unless they start with `%%sql`.
pub async fn run(
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
    let signer = Signer::new(&info.key, &info.signature_scheme)?;

    let mut shell = zeromq::RouterSocket::new();
    let mut control = zeromq::RouterSocket::new();
    let mut stdin = zeromq::RouterSocket::new();
    let mut iopub = zeromq::PubSocket::new();
    let mut hb = zeromq::RepSocket::new();
    // Peers reach the zeromq sockets only through the fronts, which bound every frame (the
    // crate's decoder would reserve any length a header claims) and keep IPC files private.
    let mut fronts = front::Fronts::new()?;
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
        let (listener, inner) = fronts.inner(name)?;
        sock.bind_to(listener).await?;
        fronts.serve(&front::Address::of(&info, port), name, inner, stall)?;
    }

    let (iopub_tx, iopub_rx) = mpsc::unbounded_channel();
    let (shell_tx, shell_out_rx) = mpsc::unbounded_channel();
    let (control_tx, control_out_rx) = mpsc::unbounded_channel();
    let (shutdown_tx, mut shutdown_rx) = watch::channel(false);
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
        state: Mutex::new(ShellState::default()),
        shutdown: shutdown_tx,
    });

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

impl Kernel {
    async fn engine(&self) -> Result<Arc<SqlEngine>, String> {
        let mut slot = self.engine.lock().await;
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let settings = self.settings.clone();
        let opened = self
            .engine_rt
            .spawn(async move { crate::session::open(settings).await.map(Arc::new) })
            .await
            .unwrap_or_else(|e| Err(format!("the catalog could not be opened: {e}")))?;
        *slot = Some(opened.clone());
        Ok(opened)
    }

    fn publish(&self, parent: Option<&Incoming>, content: JupyterMessageContent) {
        let _ = self
            .iopub
            .send(Outgoing::new(&self.session, content, parent));
    }

    fn reply(&self, chan: Chan, parent: &Incoming, content: JupyterMessageContent) {
        self.reply_raw(chan, Outgoing::new(&self.session, content, Some(parent)));
    }

    fn reply_raw(&self, chan: Chan, msg: Outgoing) {
        let _ = match chan {
            Chan::Shell => self.shell_out.send(msg),
            Chan::Control => self.control_out.send(msg),
        };
    }

    /// Handles one request with busy/idle around it. Returns true when it was an
    /// execute_request that failed with stop_on_error set.
    async fn handle(&self, msg: Incoming, chan: Chan) -> bool {
        self.publish(Some(&msg), Status::busy().into());
        let stop = self.dispatch(&msg, chan).await;
        self.publish(Some(&msg), Status::idle().into());
        stop
    }

    async fn dispatch(&self, msg: &Incoming, chan: Chan) -> bool {
        let content = match &msg.content {
            Ok(c) => c.clone(),
            // jupyter_client leaves out history fields it does not use (e.g. `unique`).
            Err(_) if msg.msg_type() == "history_request" => {
                JupyterMessageContent::HistoryRequest(lenient_history_request(&msg.raw_content))
            }
            Err(why) => {
                self.reply_error(chan, msg, "MalformedMessage", why);
                return false;
            }
        };
        use JupyterMessageContent as C;
        match content {
            C::KernelInfoRequest(_) => self.reply(chan, msg, self.kernel_info().into()),
            C::ExecuteRequest(req) => return self.execute(msg, chan, req).await,
            // Rust cells: evcxr has no completeness check; "unknown" lets consoles decide.
            C::IsCompleteRequest(req) if rust_cells::cell_kind(&req.code, self.rust_default).0 => {
                self.reply(chan, msg, IsCompleteReply::unknown().into());
            }
            C::IsCompleteRequest(req) => {
                let reply = match self.engine().await {
                    Ok(e) => match e.is_complete(&req.code) {
                        IsComplete::Complete => IsCompleteReply::complete(),
                        IsComplete::Incomplete => IsCompleteReply::incomplete(String::new()),
                        IsComplete::Invalid => IsCompleteReply::invalid(),
                    },
                    Err(_) => IsCompleteReply::unknown(),
                };
                self.reply(chan, msg, reply.into());
            }
            C::CompleteRequest(req) => {
                let (matches, start, end, metadata) =
                    if rust_cells::cell_kind(&req.code, self.rust_default).0 {
                        self.complete_rust(&req.code, req.cursor_pos).await
                    } else {
                        match self.engine().await {
                            Ok(e) => {
                                let c = e.complete(&req.code, req.cursor_pos).await;
                                let metadata = c.metadata();
                                (c.matches, c.cursor_start, c.cursor_end, metadata)
                            }
                            Err(_) => (vec![], req.cursor_pos, req.cursor_pos, Map::new()),
                        }
                    };
                self.reply(
                    chan,
                    msg,
                    CompleteReply {
                        matches,
                        cursor_start: start,
                        cursor_end: end,
                        metadata,
                        status: ReplyStatus::Ok,
                        error: None,
                    }
                    .into(),
                );
            }
            C::InspectRequest(req) => {
                // Rust cells: rust-analyzer's (plain, html); SQL: the engine's (plain, markdown).
                let found = if rust_cells::cell_kind(&req.code, self.rust_default).0 {
                    self.inspect_rust(&req.code, req.cursor_pos)
                        .await
                        .map(|(plain, html)| vec![MediaType::Plain(plain), MediaType::Html(html)])
                } else {
                    match self.engine().await {
                        Ok(e) => e.inspect(&req.code, req.cursor_pos).await,
                        Err(_) => None,
                    }
                    .map(|t| vec![MediaType::Plain(t.plain), MediaType::Markdown(t.markdown)])
                };
                self.reply(
                    chan,
                    msg,
                    InspectReply {
                        found: found.is_some(),
                        data: found.map(Media::new).unwrap_or_default(),
                        metadata: Map::new(),
                        status: ReplyStatus::Ok,
                        error: None,
                    }
                    .into(),
                );
            }
            C::HistoryRequest(req) => match self.history(req).await {
                Ok(history) => self.reply(chan, msg, HistoryReply::new(history).into()),
                Err(why) => self.reply_error(chan, msg, "HistorySearchError", &why),
            },
            C::CommInfoRequest(_) => self.reply(
                chan,
                msg,
                CommInfoReply {
                    status: ReplyStatus::Ok,
                    comms: Default::default(),
                    error: None,
                }
                .into(),
            ),
            C::InterruptRequest(_) => {
                if let Some(r) = self.running.lock().expect("running lock").take() {
                    r.stop();
                }
                self.reply(chan, msg, InterruptReply::new().into());
            }
            C::ShutdownRequest(req) => {
                self.reply(
                    chan,
                    msg,
                    ShutdownReply {
                        restart: req.restart,
                        status: ReplyStatus::Ok,
                        error: None,
                    }
                    .into(),
                );
                if let Some(r) = self.running.lock().expect("running lock").take() {
                    r.stop();
                }
                let _ = self.shutdown.send(true);
            }
            C::CommOpen(_) | C::CommMsg(_) | C::CommClose(_) => {
                // No comm targets: nothing to answer (as ipykernel for unknown targets).
            }
            other => {
                let t = other.message_type().to_string();
                if t.ends_with("_request") {
                    self.reply_error(
                        chan,
                        msg,
                        "UnknownMessageType",
                        &format!("this kernel does not handle {t}"),
                    );
                } else {
                    log::warn!("ignored a {t} message");
                }
            }
        }
        false
    }

    fn reply_error(&self, chan: Chan, msg: &Incoming, ename: &str, evalue: &str) {
        let reply_type = match msg.msg_type().strip_suffix("_request") {
            Some(base) => format!("{base}_reply"),
            None => {
                log::warn!("{ename}: {evalue}");
                return;
            }
        };
        let mut content = json!({
            "status": "error",
            "ename": ename,
            "evalue": evalue,
            "traceback": [format!("{ename}: {evalue}")],
        });
        if reply_type == "execute_reply" {
            content["execution_count"] = json!(self.state.lock().expect("state").execution_count);
            content["user_expressions"] = json!({});
            content["payload"] = json!([]);
        }
        self.reply_raw(
            chan,
            Outgoing::raw(&self.session, &reply_type, content, Some(msg)),
        );
    }

    fn abort_request(&self, msg: &Incoming) {
        self.publish(Some(msg), Status::busy().into());
        let count = self.state.lock().expect("state").execution_count;
        self.reply(
            Chan::Shell,
            msg,
            ExecuteReply {
                status: ReplyStatus::Aborted,
                execution_count: ExecutionCount::new(count),
                payload: vec![],
                user_expressions: Some(Default::default()),
                error: None,
            }
            .into(),
        );
        self.publish(Some(msg), Status::idle().into());
    }

    async fn execute(&self, msg: &Incoming, chan: Chan, req: ExecuteRequest) -> bool {
        let count = {
            let mut st = self.state.lock().expect("state");
            if req.store_history && !req.silent {
                st.execution_count += 1;
                let n = st.execution_count;
                st.history.push((n, req.code.as_str().into()));
            }
            st.execution_count
        };
        if !req.silent {
            self.publish(
                Some(msg),
                ExecuteInput {
                    code: req.code.clone(),
                    execution_count: ExecutionCount::new(count),
                }
                .into(),
            );
        }
        let result = match self.engine().await {
            Err(e) => Err(CellError::new("CatalogError", e)),
            Ok(engine) => {
                // Errors of the start-up files, on the first cell that shows output.
                if !req.silent {
                    if let Some(report) = engine.take_startup_report() {
                        self.publish(Some(msg), StreamContent::stderr(&report).into());
                    }
                }
                // The commits this cell makes name it (crate::lineage).
                let cell_id = msg
                    .metadata
                    .get("cellId")
                    .and_then(|v| v.as_str())
                    .filter(|id| !id.is_empty())
                    .map(str::to_string);
                engine.begin_cell(
                    crate::lineage::CellOrigin {
                        cell_id,
                        execution_count: Some(count as u64),
                    },
                    &req.code,
                );
                self.run_cell(msg, &req, count, engine.clone()).await
            }
        };
        match result {
            Ok(()) => {
                let user_expressions = match self.engine().await {
                    Ok(engine) => user_expressions(&engine, &req, &self.engine_rt).await,
                    Err(_) => Default::default(),
                };
                self.reply(
                    chan,
                    msg,
                    ExecuteReply {
                        status: ReplyStatus::Ok,
                        execution_count: ExecutionCount::new(count),
                        payload: vec![],
                        user_expressions: Some(user_expressions),
                        error: None,
                    }
                    .into(),
                );
                false
            }
            Err(err) => {
                if !req.silent {
                    self.publish(
                        Some(msg),
                        ErrorOutput {
                            ename: err.ename.clone(),
                            evalue: err.evalue.clone(),
                            traceback: err.traceback.clone(),
                        }
                        .into(),
                    );
                }
                self.reply(
                    chan,
                    msg,
                    ExecuteReply {
                        status: ReplyStatus::Error,
                        execution_count: ExecutionCount::new(count),
                        payload: vec![],
                        user_expressions: Some(Default::default()),
                        error: Some(Box::new(ReplyError {
                            ename: err.ename,
                            evalue: err.evalue,
                            traceback: err.traceback,
                        })),
                    }
                    .into(),
                );
                req.stop_on_error
            }
        }
    }

    /// Runs the cell on the engine runtime, publishing outputs as they arrive. The last
    /// result table is the cell's execute_result; earlier ones are display_data.
    async fn run_cell(
        &self,
        msg: &Incoming,
        req: &ExecuteRequest,
        count: usize,
        engine: Arc<SqlEngine>,
    ) -> Result<(), CellError> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (is_rust, code, first_line) = rust_cells::cell_kind(&req.code, self.rust_default);
        let code = code.to_string();
        let task = if is_rust {
            let rust = self
                .rust_engine(Some(msg).filter(|_| !req.silent), &engine)
                .await?;
            let r = rust.clone();
            let task = self
                .engine_rt
                .spawn(async move { r.execute(&code, first_line, &tx).await });
            *self.running.lock().expect("running lock") = Some(Running::Rust(rust));
            task
        } else {
            let engine = engine.clone();
            let task = self
                .engine_rt
                .spawn(async move { engine.execute(&code, &tx).await });
            *self.running.lock().expect("running lock") = Some(Running::Sql(task.abort_handle()));
            task
        };
        let mut pending: Option<TableOutput> = None;
        let mut rich: Option<Media> = None;
        let mut chart: Option<lakehouse_render::ChartSpec> = None;
        // Status lines of running statements: engine id → (display id, last text).
        let mut progress: std::collections::HashMap<u64, (String, String)> = Default::default();
        let started = std::time::Instant::now();
        while let Some(out) = rx.recv().await {
            if req.silent {
                continue;
            }
            match out {
                Output::Message(text) => self.publish(
                    Some(msg),
                    StreamContent::stdout(&format!("{text}\n")).into(),
                ),
                Output::Table(t) => {
                    if let Some(prev) = pending.replace(t) {
                        // Display settings may change within the cell (SET lakehouse.max_rows).
                        let data = render_table(&prev, engine.display(), engine.active_reference());
                        self.publish(Some(msg), DisplayData::new(data).into());
                    }
                }
                Output::Chart(spec) => chart = Some(spec),
                Output::Stream { stderr, text } => self.publish(
                    Some(msg),
                    if stderr {
                        StreamContent::stderr(&text)
                    } else {
                        StreamContent::stdout(&text)
                    }
                    .into(),
                ),
                Output::Rich(data) => rich = Some(media(data)),
                Output::Progress { id, text, done } => {
                    self.show_progress(msg, &mut progress, id, text);
                    if done {
                        progress.remove(&id);
                    }
                }
            }
        }
        let outcome = task.await;
        self.running.lock().expect("running lock").take();
        // A statement stopped by an interrupt or an error never sent its last update.
        let stopped = match &outcome {
            Ok(Ok(())) => "Finished",
            Err(e) if e.is_cancelled() => "Interrupted",
            _ => "Stopped by an error",
        };
        for (id, (_, last)) in progress.clone() {
            let rest = last.split_once(" · ").map_or("", |(_, r)| r);
            let text = format!(
                "{stopped} after {:.1} s · {rest}",
                started.elapsed().as_secs_f64()
            );
            self.show_progress(msg, &mut progress, id, text);
        }
        let mut chart_error = None;
        if let Some(last) = pending {
            let mut data = render_table(&last, engine.display(), engine.active_reference());
            if let Some(spec) = &chart {
                match lakehouse_render::render_chart(
                    &last.schema,
                    &last.batches,
                    last.total_rows,
                    spec,
                )
                .map(|json| serde_json::from_str::<serde_json::Value>(&json))
                {
                    // Vega-Lite plus the text table as the fallback for nbconvert and other
                    // front ends. No text/html: JupyterLab ranks HTML above Vega-Lite and
                    // would show the table instead of the chart.
                    Ok(Ok(spec)) => {
                        data.content.retain(|m| !matches!(m, MediaType::Html(_)));
                        data.content.insert(0, MediaType::VegaLiteV5(spec));
                    }
                    Ok(Err(e)) => chart_error = Some(format!("the chart could not be built ({e})")),
                    Err(e) => chart_error = Some(e),
                }
            }
            if rich.is_some() {
                // A Rust cell that showed a table and ended with a value: the value is the result.
                self.publish(Some(msg), DisplayData::new(data).into());
            } else {
                self.publish(
                    Some(msg),
                    ExecuteResult::new(ExecutionCount::new(count), data).into(),
                );
            }
        }
        if let Some(data) = rich {
            self.publish(
                Some(msg),
                ExecuteResult::new(ExecutionCount::new(count), data).into(),
            );
        }
        if let (Ok(Ok(())), Some(e)) = (&outcome, chart_error) {
            return Err(CellError::new("ChartError", e));
        }
        match outcome {
            Ok(r) => r,
            Err(e) if e.is_cancelled() => Err(CellError::new(
                "Interrupted",
                "the cell was interrupted; statements before the running one are done, the running one left no changes, and the session keeps its state",
            )),
            Err(e) => Err(CellError::new(
                "InternalError",
                format!("the SQL engine failed unexpectedly ({e}); the session is still usable. Please report this with the cell that caused it"),
            )),
        }
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
                        "RustSetupError",
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

    /// rust-analyzer's completions (through evcxr) at `cursor` (code points) of a Rust cell.
    async fn complete_rust(
        &self,
        cell: &str,
        cursor: usize,
    ) -> (Vec<String>, usize, usize, Map<String, serde_json::Value>) {
        let none = (vec![], cursor, cursor, Map::new());
        let Some(rust) = self.rust_if_started().await else {
            return none;
        };
        let (_, code, _) = rust_cells::cell_kind(cell, self.rust_default);
        let offset = cell.len() - code.len();
        let Some(pos) = byte_at(cell, cursor).and_then(|b| b.checked_sub(offset)) else {
            return none;
        };
        let Some((items, start, end)) = rust.complete(code, pos).await else {
            return none;
        };
        let (start, end) = (
            cell[..offset + start].chars().count(),
            cell[..offset + end].chars().count(),
        );
        let types: Vec<serde_json::Value> = items
            .iter()
            .map(|(text, kind)| json!({"start": start, "end": end, "text": text, "type": kind}))
            .collect();
        let mut metadata = Map::new();
        metadata.insert("_jupyter_types_experimental".into(), types.into());
        (
            items.into_iter().map(|(t, _)| t).collect(),
            start,
            end,
            metadata,
        )
    }

    /// Documentation of what is under the cursor in a Rust cell: (plain, html).
    async fn inspect_rust(&self, cell: &str, cursor: usize) -> Option<(String, String)> {
        let rust = self.rust_if_started().await?;
        let (_, code, _) = rust_cells::cell_kind(cell, self.rust_default);
        let offset = cell.len() - code.len();
        let pos = byte_at(cell, cursor)?.checked_sub(offset)?;
        // evcxr documents the name that ends at the position: move to the end of the word
        // the cursor is in, as Shift+Tab in the middle of a name means that name.
        let end = code[pos..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(code.len(), |n| pos + n);
        rust.inspect(code, end)
            .await
            .filter(|(plain, _)| plain.trim() != "No documentation found")
    }

    /// Shows or updates the status line `id` of a running statement in place.
    fn show_progress(
        &self,
        msg: &Incoming,
        shown: &mut std::collections::HashMap<u64, (String, String)>,
        id: u64,
        text: String,
    ) {
        let data = Media::new(vec![
            MediaType::Html(format!(
                "<div class=\"lh-progress\" style=\"font-family:var(--jp-code-font-family,monospace);font-size:12px;color:var(--jp-ui-font-color2,#666)\">{}</div>",
                html_escape(&text)
            )),
            MediaType::Plain(text.clone()),
        ]);
        match shown.get_mut(&id) {
            Some((display_id, last)) => {
                *last = text;
                self.publish(Some(msg), UpdateDisplayData::new(data, display_id).into());
            }
            None => {
                let display_id = format!("lakehouse-progress-{}", uuid::Uuid::new_v4().simple());
                let mut d = DisplayData::new(data);
                d.transient = Some(Transient {
                    display_id: Some(display_id.clone()),
                });
                self.publish(Some(msg), d.into());
                shown.insert(id, (display_id, text));
            }
        }
    }

    fn kernel_info(&self) -> KernelInfoReply {
        let language_info = if self.rust_default {
            LanguageInfo {
                name: "rust".into(),
                version: String::new(),
                mimetype: Some("text/rust".into()),
                file_extension: Some(".rs".into()),
                pygments_lexer: Some("rust".into()),
                codemirror_mode: Some(CodeMirrorMode::Simple("rust".into())),
                nbconvert_exporter: Some("script".into()),
            }
        } else {
            LanguageInfo {
                name: "sql".into(),
                version: crate::DATAFUSION_VERSION.into(),
                mimetype: Some("application/sql".into()),
                file_extension: Some(".sql".into()),
                pygments_lexer: Some("sql".into()),
                codemirror_mode: Some(CodeMirrorMode::Simple("sql".into())),
                nbconvert_exporter: Some("script".into()),
            }
        };
        KernelInfoReply {
            status: ReplyStatus::Ok,
            protocol_version: wire::PROTOCOL_VERSION.into(),
            implementation: "lakehouse-kernel".into(),
            implementation_version: env!("CARGO_PKG_VERSION").into(),
            language_info,
            banner: format!(
                "Lakehouse kernel {} — SQL on DataFusion {} over Iceberg, Rust cells through evcxr (%%rust)\nCatalog: embedded ({}), warehouse {}",
                env!("CARGO_PKG_VERSION"),
                crate::DATAFUSION_VERSION,
                self.settings.home.join("catalog.db").display(),
                self.settings.warehouse,
            ),
            help_links: vec![
                HelpLink {
                    text: "DataFusion SQL reference".into(),
                    url: "https://datafusion.apache.org/user-guide/sql/index.html".into(),
                },
                HelpLink {
                    text: "Apache Iceberg".into(),
                    url: "https://iceberg.apache.org/docs/latest/".into(),
                },
            ],
            debugger: false,
            error: None,
        }
    }

    /// The history a request asks for. The cells are copied (shared strings) under the lock
    /// and searched on the blocking pool: a search never holds up the other sockets.
    async fn history(&self, req: HistoryRequest) -> Result<Vec<HistoryEntry>, String> {
        let cells = self.state.lock().expect("state").history.clone();
        tokio::task::spawn_blocking(move || history_entries(&cells, &req, HISTORY_SEARCH_TIME))
            .await
            .map_err(|e| format!("the history search failed: {e}"))?
    }
}

/// The longest history search pattern, in characters.
const MAX_HISTORY_PATTERN: usize = 1000;
/// How long one history search may take before it is given up.
const HISTORY_SEARCH_TIME: Duration = Duration::from_secs(2);

/// The entries of `cells` (execution count, code) that `req` selects.
fn history_entries(
    cells: &[(usize, Arc<str>)],
    req: &HistoryRequest,
    budget: Duration,
) -> Result<Vec<HistoryEntry>, String> {
    let entry = |(n, code): &(usize, Arc<str>), output: bool| {
        if output {
            HistoryEntry::InputOutput(0, *n, (code.to_string(), String::new()))
        } else {
            HistoryEntry::Input(0, *n, code.to_string())
        }
    };
    Ok(match req {
        HistoryRequest::Tail { n, output, .. } => {
            let n = (*n).max(0) as usize;
            let skip = cells.len().saturating_sub(n);
            cells[skip..].iter().map(|h| entry(h, *output)).collect()
        }
        HistoryRequest::Range {
            start,
            stop,
            output,
            ..
        } => cells
            .iter()
            .filter(|(n, _)| {
                (*n as i64) >= (*start as i64) && (*stop <= 0 || (*n as i64) < (*stop as i64))
            })
            .map(|h| entry(h, *output))
            .collect(),
        HistoryRequest::Search {
            pattern,
            unique,
            output,
            n,
            ..
        } => {
            let pattern: Vec<char> = pattern.chars().collect();
            if pattern.len() > MAX_HISTORY_PATTERN {
                return Err(format!(
                    "the history search pattern has {} characters, more than the limit of \
                     {MAX_HISTORY_PATTERN}: search with a shorter pattern",
                    pattern.len()
                ));
            }
            let deadline = std::time::Instant::now() + budget;
            let mut seen = std::collections::HashSet::new();
            let mut hits = vec![];
            for cell in cells.iter().rev() {
                if std::time::Instant::now() > deadline {
                    return Err(format!(
                        "the history search took more than {} s and was stopped: search with \
                         a more specific pattern (fewer `*`)",
                        budget.as_secs()
                    ));
                }
                if glob_match(&pattern, &cell.1) && (!*unique || seen.insert(cell.1.clone())) {
                    hits.push(entry(cell, *output));
                    if *n > 0 && hits.len() >= *n as usize {
                        break;
                    }
                }
            }
            hits.reverse();
            hits
        }
    })
}

/// A history request read with defaults for missing fields.
fn lenient_history_request(v: &serde_json::Value) -> HistoryRequest {
    let b = |k: &str| v.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
    let i = |k: &str, d: i32| {
        v.get(k)
            .and_then(|x| x.as_i64())
            .map(|n| n as i32)
            .unwrap_or(d)
    };
    match v.get("hist_access_type").and_then(|x| x.as_str()) {
        Some("range") => HistoryRequest::Range {
            session: v.get("session").and_then(|x| x.as_i64()).map(|n| n as i32),
            start: i("start", 0),
            stop: i("stop", 0),
            output: b("output"),
            raw: b("raw"),
        },
        Some("search") => HistoryRequest::Search {
            pattern: v
                .get("pattern")
                .and_then(|x| x.as_str())
                .unwrap_or("*")
                .to_string(),
            unique: b("unique"),
            output: b("output"),
            raw: b("raw"),
            n: i("n", 0),
        },
        _ => HistoryRequest::Tail {
            n: i("n", 10),
            output: b("output"),
            raw: b("raw"),
        },
    }
}

/// Evaluates each user expression as `SELECT <expr>` and returns its text form.
async fn user_expressions(
    engine: &Arc<SqlEngine>,
    req: &ExecuteRequest,
    rt: &tokio::runtime::Handle,
) -> std::collections::HashMap<String, jupyter_protocol::ExpressionResult> {
    use jupyter_protocol::ExpressionResult;
    let mut out = std::collections::HashMap::new();
    let Some(exprs) = &req.user_expressions else {
        return out;
    };
    for (name, expr) in exprs {
        let engine = engine.clone();
        let sql = format!("SELECT {expr}");
        let r = rt
            .spawn(async move {
                let (tx, mut rx) = mpsc::unbounded_channel();
                let res = engine.execute(&sql, &tx).await;
                drop(tx);
                let mut text = String::new();
                while let Some(o) = rx.recv().await {
                    if let Output::Table(t) = o {
                        text = first_value(&t);
                    }
                }
                res.map(|_| text)
            })
            .await;
        let result = match r {
            Ok(Ok(text)) => ExpressionResult::Ok {
                data: Media::new(vec![MediaType::Plain(text)]),
                metadata: Map::new(),
            },
            Ok(Err(e)) => ExpressionResult::Error {
                ename: e.ename,
                evalue: e.evalue,
                traceback: e.traceback,
            },
            Err(e) => ExpressionResult::Error {
                ename: "InternalError".into(),
                evalue: e.to_string(),
                traceback: vec![],
            },
        };
        out.insert(name.clone(), result);
    }
    out
}

fn first_value(t: &TableOutput) -> String {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    t.batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| {
            let opts = FormatOptions::default();
            ArrayFormatter::try_new(b.column(0).as_ref(), &opts)
                .ok()
                .map(|f| f.value(0).to_string())
        })
        .unwrap_or_default()
}

/// The byte offset of code point `cursor` in `text` (Jupyter counts code points).
fn byte_at(text: &str, cursor: usize) -> Option<usize> {
    if cursor == text.chars().count() {
        return Some(text.len());
    }
    text.char_indices().nth(cursor).map(|(i, _)| i)
}

/// A MIME bundle from a Rust cell (`{mime: content}`) as Jupyter media.
fn media(data: Vec<(String, String)>) -> Media {
    let map: Map<String, serde_json::Value> = data
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map))
        .unwrap_or_else(|_| Media::new(vec![MediaType::Plain(String::new())]))
}

fn render_table(
    t: &TableOutput,
    d: crate::engines::sql::Display,
    reference: Option<String>,
) -> Media {
    let opts = lakehouse_render::RenderOptions {
        max_rows: d.max_rows,
        max_col_width: d.max_col_width,
        // The renderer adds the row count itself.
        footer: Some(match reference {
            Some(r) => format!("{} · ref {r}", format_elapsed(t.elapsed)),
            None => format_elapsed(t.elapsed),
        }),
    };
    let r = lakehouse_render::render_batches(&t.schema, &t.batches, t.total_rows, &opts);
    Media::new(vec![MediaType::Html(r.html), MediaType::Plain(r.plain)])
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn format_elapsed(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// IPython-style history search (sqlite's GLOB without classes): `*` matches any run, `?` one
/// character, and the whole cell must match. Two pointers: on a mismatch only the last `*`
/// takes one more character, so the work is at most pattern × text, never exponential.
fn glob_match(pattern: &[char], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // After the last `*` seen: its pattern position and the text position it resumes from.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                p += 1;
                star = Some((p, t));
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, text: &str) -> bool {
        glob_match(&pattern.chars().collect::<Vec<_>>(), text)
    }

    /// The backtracking matcher this replaced: exponential, but plainly right.
    fn glob_reference(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => {
                glob_reference(&p[1..], t) || (!t.is_empty() && glob_reference(p, &t[1..]))
            }
            (Some('?'), Some(_)) => glob_reference(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => glob_reference(&p[1..], &t[1..]),
            _ => false,
        }
    }

    #[test]
    fn glob_matches_like_ipython() {
        assert!(glob("*SELECT*", "x SELECT 1"));
        assert!(glob("SEL?CT 1", "SELECT 1"));
        assert!(!glob("SELECT", "SELECT 1"));
        assert!(glob("*", ""));
        assert!(!glob("?", ""));
        assert!(glob("*é?", "café!"));
    }

    #[test]
    fn glob_agrees_with_the_backtracking_matcher() {
        // Every pattern over {a, b, *, ?} up to 5 long against every text over {a, b} up to 6.
        fn all(alphabet: &[char], max: usize) -> Vec<Vec<char>> {
            let mut out = vec![vec![]];
            let mut last = vec![vec![]];
            for _ in 0..max {
                let next: Vec<Vec<char>> = last
                    .iter()
                    .flat_map(|w: &Vec<char>| {
                        alphabet.iter().map(move |c| {
                            let mut w = w.clone();
                            w.push(*c);
                            w
                        })
                    })
                    .collect();
                out.extend(next.iter().cloned());
                last = next;
            }
            out
        }
        let patterns = all(&['a', 'b', '*', '?'], 5);
        let texts = all(&['a', 'b'], 6);
        let mut checked = 0;
        for p in &patterns {
            for t in &texts {
                let text: String = t.iter().collect();
                assert_eq!(
                    glob_match(p, &text),
                    glob_reference(p, t),
                    "{:?} on {text:?}",
                    p.iter().collect::<String>()
                );
                checked += 1;
            }
        }
        assert_eq!(checked, patterns.len() * texts.len());
    }

    #[test]
    fn pathological_glob_patterns_are_fast() {
        // The search: exponential before (it never answered).
        let cell = format!("SELECT 1 -- {}", "abcdef".repeat(333));
        let started = std::time::Instant::now();
        assert!(!glob("*a*b*c*d*e*f*q", &cell));
        assert!(glob("*a*b*c*d*e*f*", &cell));
        // Worst case for two pointers: many stars, a near-miss at every position.
        let long = "a".repeat(5000);
        let pattern = format!("{}b", "*a".repeat(500));
        assert!(!glob(&pattern, &long));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn history_search_is_bounded() {
        let cells: Vec<(usize, Arc<str>)> = (1..=3)
            .map(|n| {
                (
                    n,
                    Arc::from(format!("SELECT {n} -- {}", "abcdef".repeat(333))),
                )
            })
            .collect();
        let search = |pattern: &str| HistoryRequest::Search {
            pattern: pattern.into(),
            unique: false,
            output: false,
            raw: true,
            n: 2,
        };
        let hits = history_entries(&cells, &search("SELECT*"), Duration::from_secs(2)).unwrap();
        let counts: Vec<usize> = hits
            .iter()
            .map(|h| match h {
                HistoryEntry::Input(_, n, _) => *n,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(counts, vec![2, 3], "the last n matches, oldest first");
        assert!(
            history_entries(&cells, &search("*a*b*c*d*e*f*q"), Duration::from_secs(2))
                .unwrap()
                .is_empty()
        );
        let too_long = "*".repeat(MAX_HISTORY_PATTERN + 1);
        let err = history_entries(&cells, &search(&too_long), Duration::from_secs(2)).unwrap_err();
        assert!(err.contains("limit of 1000"), "{err}");
        // Over budget: an error that says what to do, not a hang.
        let err = history_entries(&cells, &search("*"), Duration::ZERO).unwrap_err();
        assert!(err.contains("more specific pattern"), "{err}");
    }

    #[test]
    fn history_search_without_unique_is_understood() {
        let v = serde_json::json!({"hist_access_type": "search", "pattern": "SELECT*", "n": 3,
                                   "output": false, "raw": true});
        match lenient_history_request(&v) {
            HistoryRequest::Search {
                pattern, unique, n, ..
            } => {
                assert_eq!(pattern, "SELECT*");
                assert!(!unique);
                assert_eq!(n, 3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn elapsed_is_human() {
        assert_eq!(format_elapsed(Duration::from_millis(12)), "12 ms");
        assert_eq!(format_elapsed(Duration::from_millis(2500)), "2.50 s");
    }
}

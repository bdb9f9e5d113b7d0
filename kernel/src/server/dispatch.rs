//! Dispatch: one function per request type, each answering on the channel the request came
//! in on. `handle` wraps every request in busy/idle on iopub; execute_request runs the cell
//! through `publish`. Nothing here builds HTML or picks a MIME type: what is shown comes
//! from `lakehouse_render`.

use std::sync::Arc;

use jupyter_protocol::{
    CodeMirrorMode, CommInfoReply, CompleteReply, CompleteRequest, ErrorOutput, ExecuteInput,
    ExecuteReply, ExecuteRequest, ExecutionCount, HelpLink, HistoryReply, HistoryRequest,
    InspectReply, InspectRequest, InterruptReply, IsCompleteReply, IsCompleteRequest,
    JupyterMessageContent, KernelInfoReply, LanguageInfo, ReplyError, ReplyStatus, ShutdownReply,
    ShutdownRequest, Status, StreamContent,
};
use serde_json::{json, Map};
use tokio::sync::mpsc;

use super::history::lenient_history_request;
use super::publish::media;
use super::{Chan, Kernel};
use crate::engines::rust as rust_cells;
use crate::engines::sql::{IsComplete, SqlEngine};
use crate::engines::Output;
use crate::wire::{self, Incoming, Outgoing};

impl Kernel {
    /// Handles one request with busy/idle around it. Returns true when it was an
    /// execute_request that failed with stop_on_error set.
    pub(super) async fn handle(&self, msg: Incoming, chan: Chan) -> bool {
        self.publish(Some(&msg), Status::busy().into());
        let stop = self.dispatch(&msg, chan).await;
        self.publish(Some(&msg), Status::idle().into());
        stop
    }

    /// Answers one request by its type. Returns what `handle` returns.
    async fn dispatch(&self, msg: &Incoming, chan: Chan) -> bool {
        let content = match &msg.content {
            Ok(c) => c.clone(),
            // jupyter_client leaves out history fields it does not use (e.g. `unique`).
            Err(_) if msg.msg_type() == "history_request" => {
                JupyterMessageContent::HistoryRequest(lenient_history_request(&msg.raw_content))
            }
            Err(why) => {
                self.reply_error(chan, msg, why.ename(), &why.evalue);
                return false;
            }
        };
        use JupyterMessageContent as C;
        match content {
            C::KernelInfoRequest(_) => self.reply(chan, msg, self.kernel_info().into()),
            C::ExecuteRequest(req) => return self.execute(msg, chan, req).await,
            C::IsCompleteRequest(req) => self.is_complete(msg, chan, req).await,
            C::CompleteRequest(req) => self.complete(msg, chan, req).await,
            C::InspectRequest(req) => self.inspect(msg, chan, req).await,
            C::HistoryRequest(req) => self.history_request(msg, chan, req).await,
            C::CommInfoRequest(_) => self.comm_info(msg, chan),
            C::InterruptRequest(_) => self.interrupt(msg, chan),
            C::ShutdownRequest(req) => self.shutdown(msg, chan, req),
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

    /// is_complete_request: the SQL engine's verdict on whether the cell is ready to run.
    async fn is_complete(&self, msg: &Incoming, chan: Chan, req: IsCompleteRequest) {
        // Rust cells: evcxr has no completeness check; "unknown" lets consoles decide.
        let reply = if rust_cells::cell_kind(&req.code, self.rust_default).0 {
            IsCompleteReply::unknown()
        } else {
            match self.engine().await {
                Ok(e) => match e.is_complete(&req.code) {
                    IsComplete::Complete => IsCompleteReply::complete(),
                    IsComplete::Incomplete => IsCompleteReply::incomplete(String::new()),
                    IsComplete::Invalid => IsCompleteReply::invalid(),
                },
                Err(_) => IsCompleteReply::unknown(),
            }
        };
        self.reply(chan, msg, reply.into());
    }

    /// complete_request: rust-analyzer's matches in a Rust cell, the SQL engine's otherwise.
    async fn complete(&self, msg: &Incoming, chan: Chan, req: CompleteRequest) {
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

    /// inspect_request: help on what is under the cursor.
    async fn inspect(&self, msg: &Incoming, chan: Chan, req: InspectRequest) {
        // Rust cells: rust-analyzer's (plain, html); SQL: the engine's (plain, markdown).
        let found = if rust_cells::cell_kind(&req.code, self.rust_default).0 {
            self.inspect_rust(&req.code, req.cursor_pos)
                .await
                .map(|(plain, html)| lakehouse_render::output::rust_help(plain, html))
        } else {
            match self.engine().await {
                Ok(e) => e.inspect(&req.code, req.cursor_pos).await,
                Err(_) => None,
            }
            .map(|t| lakehouse_render::output::sql_help(t.plain, t.markdown))
        };
        self.reply(
            chan,
            msg,
            InspectReply {
                found: found.is_some(),
                data: found.map(media).unwrap_or_default(),
                metadata: Map::new(),
                status: ReplyStatus::Ok,
                error: None,
            }
            .into(),
        );
    }

    /// history_request: the cells this session ran, or an error reply that says what to do.
    async fn history_request(&self, msg: &Incoming, chan: Chan, req: HistoryRequest) {
        match self.history(req).await {
            Ok(history) => self.reply(chan, msg, HistoryReply::new(history).into()),
            Err(why) => self.reply_error(chan, msg, why.ename(), &why.evalue),
        }
    }

    /// comm_info_request: there are no comms.
    fn comm_info(&self, msg: &Incoming, chan: Chan) {
        self.reply(
            chan,
            msg,
            CommInfoReply {
                status: ReplyStatus::Ok,
                comms: Default::default(),
                error: None,
            }
            .into(),
        );
    }

    /// interrupt_request: stops the running cell, if any.
    fn interrupt(&self, msg: &Incoming, chan: Chan) {
        if let Some(r) = self.running.lock().expect("running lock").take() {
            self.interrupted
                .store(true, std::sync::atomic::Ordering::SeqCst);
            r.stop();
            self.interrupt_signal.notify_waiters();
        }
        self.reply(chan, msg, InterruptReply::new().into());
    }

    /// shutdown_request: answers, stops the running cell and ends `run`.
    fn shutdown(&self, msg: &Incoming, chan: Chan, req: ShutdownRequest) {
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

    /// An error reply of the request's type (`x_request` → `x_reply`); built by hand, so it
    /// works for requests whose content could not be read.
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

    /// An execute_request queued behind a cell that failed with stop_on_error: aborted.
    pub(super) fn abort_request(&self, msg: &Incoming) {
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

    /// execute_request: counts, echoes the input, runs the cell (publishing its outputs) and
    /// replies. Returns true when the cell failed with stop_on_error set.
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
            Err(e) => Err(e),
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
                            ename: err.ename().to_string(),
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
                            ename: err.ename().to_string(),
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

    /// kernel_info_reply: the language (SQL, or Rust for "Lakehouse (Rust)"), versions and
    /// the catalog in the banner.
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
                let mut batches = vec![];
                while let Some(o) = rx.recv().await {
                    if let Output::Table(t) = o {
                        batches = t.batches;
                    }
                }
                res.map(|_| lakehouse_render::output::expression_value(&batches))
            })
            .await;
        let result = match r {
            Ok(Ok(value)) => ExpressionResult::Ok {
                data: media(value),
                metadata: Map::new(),
            },
            Ok(Err(e)) => ExpressionResult::Error {
                ename: e.ename().to_string(),
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

/// The byte offset of code point `cursor` in `text` (Jupyter counts code points).
fn byte_at(text: &str, cursor: usize) -> Option<usize> {
    if cursor == text.chars().count() {
        return Some(text.len());
    }
    text.char_indices().nth(cursor).map(|(i, _)| i)
}

//! Publish: runs a cell on the engine runtime and sends its outputs to iopub as they arrive.
//!
//! What each output looks like (MIME types, HTML, footers, progress text) is decided by
//! `lakehouse_render`; this file only chooses the message each bundle travels in
//! (`display_data`, `execute_result`, `update_display_data`, `stream`) and converts bundles
//! into protocol types.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use jupyter_protocol::{
    DisplayData, ExecuteRequest, ExecuteResult, ExecutionCount, Media, MediaType, StreamContent,
    Transient, UpdateDisplayData,
};
use lakehouse_render::output::{self as render, CellEnd, ResultTable, TableSettings};
use lakehouse_render::{Bundle, ChartSpec, Data};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::{Kernel, Running};
use crate::engines::rust as rust_cells;
use crate::engines::sql::SqlEngine;
use crate::engines::{Output, TableOutput};
use crate::error::{CellError, ErrorKind};
use crate::wire::Incoming;

/// Cells that ran this long give their freed memory back to the system when they end
/// (`crate::limits::release_freed_memory`).
const RELEASE_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

/// How long an interrupted SQL cell may take to end before its reply goes out anyway. Plans
/// stop within one batch (`crate::optimizer::interrupt`), but tasks a plan already queued
/// on the engine runtime (a sort spawns one per input batch) run before the abort reaches
/// it: seconds of work with one engine thread (`CPU_LIMIT=1`).
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// `sleep_until(deadline)`, or never without one (for a `select!` branch that is off).
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Status lines of running statements: engine id → (display id, last text).
type Shown = HashMap<u64, (String, String)>;

impl Kernel {
    /// Runs the cell on the engine runtime, publishing outputs as they arrive. The last
    /// result table is the cell's execute_result; earlier ones are display_data.
    pub(super) async fn run_cell(
        &self,
        msg: &Incoming,
        req: &ExecuteRequest,
        count: usize,
        engine: Arc<SqlEngine>,
    ) -> Result<(), CellError> {
        let draining = self.draining.lock().expect("draining lock").take();
        if let Some(drain) = draining {
            let _ = drain.await;
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (is_rust, code, first_line) = rust_cells::cell_kind(&req.code, self.rust_default);
        let code = code.to_string();
        // Created before the cell is interruptible, so no interrupt_request can slip past it.
        let interrupt = self.interrupt_signal.notified();
        tokio::pin!(interrupt);
        let mut task = if is_rust {
            let rust = self
                .rust_engine(Some(msg).filter(|_| !req.silent), &engine)
                .await?;
            let r = rust.clone();
            let task = self
                .engine_rt
                .spawn(async move { r.execute(&code, first_line, &tx).await });
            self.interrupted.store(false, Ordering::SeqCst);
            *self.running.lock().expect("running lock") = Some(Running::Rust(rust, engine.clone()));
            task
        } else {
            let sql = engine.clone();
            let task = self
                .engine_rt
                .spawn(async move { sql.execute(&code, &tx).await });
            self.interrupted.store(false, Ordering::SeqCst);
            *self.running.lock().expect("running lock") =
                Some(Running::Sql(task.abort_handle(), engine.clone()));
            task
        };
        let mut pending: Option<TableOutput> = None;
        let mut rich: Option<Bundle> = None;
        let mut chart: Option<ChartSpec> = None;
        let mut progress = Shown::default();
        let started = std::time::Instant::now();
        // Set by an interrupt: how long the cell's task may take to end before the reply.
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let out = tokio::select! {
                out = rx.recv() => match out {
                    Some(out) => out,
                    None => break,
                },
                () = &mut interrupt, if !is_rust && deadline.is_none() => {
                    deadline = Some(tokio::time::Instant::now() + INTERRUPT_GRACE);
                    continue;
                }
                () = sleep_until(deadline), if deadline.is_some() => break,
            };
            if req.silent {
                continue;
            }
            match out {
                Output::Message(text) => self.publish(
                    Some(msg),
                    StreamContent::stdout(&render::message_line(&text)).into(),
                ),
                Output::Table(t) => {
                    if let Some(prev) = pending.replace(t) {
                        // Display settings may change within the cell (SET lakehouse.max_rows).
                        let data = render::table(&result_table(&prev), &table_settings(&engine));
                        self.publish(Some(msg), DisplayData::new(media(data)).into());
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
                Output::Rich(data) => rich = Some(Bundle::from_text_pairs(data)),
                Output::Progress { id, text, done } => {
                    self.show_progress(msg, &mut progress, id, text);
                    if done {
                        progress.remove(&id);
                    }
                }
            }
        }
        let detached = deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
        let outcome = if detached {
            // The aborted task is never polled again, so it can commit nothing more; what
            // is left is DataFusion's already-queued work (a sort's per-batch tasks) ahead
            // of its drop on a busy engine thread. Answer now, let it drain behind us; the
            // next cell waits for the drain (`draining`).
            let drain = tokio::spawn(async move {
                let waited = std::time::Instant::now();
                let _ = task.await;
                log::info!(
                    "an interrupted cell's queued work ended {:.2?} after its reply",
                    waited.elapsed()
                );
                let _ = tokio::task::spawn_blocking(crate::limits::release_freed_memory).await;
            });
            *self.draining.lock().expect("draining lock") = Some(drain);
            Err(None)
        } else {
            (&mut task)
                .await
                .map_err(|e| (!e.is_cancelled()).then(|| e.to_string()))
        };
        self.running.lock().expect("running lock").take();
        // A detached cell's drain gives the memory back once it has let go of it.
        if started.elapsed() > RELEASE_AFTER && !detached {
            // Off the reply's path, and once an interrupted plan's tasks have let go.
            tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let _ = tokio::task::spawn_blocking(crate::limits::release_freed_memory).await;
            });
        }
        // A statement stopped by an interrupt or an error never sent its last update.
        let end = match &outcome {
            Ok(Ok(())) => CellEnd::Finished,
            Ok(Err(e)) if e.kind == ErrorKind::Interrupted => CellEnd::Interrupted,
            Err(None) => CellEnd::Interrupted,
            _ => CellEnd::Failed,
        };
        for (id, (_, last)) in progress.clone() {
            let text = render::progress_end(&last, end, started.elapsed());
            self.show_progress(msg, &mut progress, id, text);
        }
        let mut chart_error = None;
        if let Some(last) = pending {
            let (data, why) = render::last_result(
                &result_table(&last),
                &table_settings(&engine),
                chart.as_ref(),
            );
            chart_error = why;
            let data = media(data);
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
                ExecuteResult::new(ExecutionCount::new(count), media(data)).into(),
            );
        }
        if let (Ok(Ok(())), Some(e)) = (&outcome, chart_error) {
            return Err(CellError::new(ErrorKind::Chart, e));
        }
        let interrupted = self.interrupted.swap(false, Ordering::SeqCst);
        match outcome {
            // A statement stopped by the interrupt fails with whatever its operators say.
            Ok(Err(e)) if interrupted && !is_rust && e.kind != ErrorKind::Interrupted => Err(interrupted_error()),
            Ok(r) => r,
            Err(None) => Err(interrupted_error()),
            Err(Some(e)) => Err(CellError::new(
                ErrorKind::Internal,
                format!("the SQL engine failed unexpectedly ({e}); the session is still usable. Please report this with the cell that caused it"),
            )),
        }
    }

    /// Shows or updates the status line `id` of a running statement in place.
    fn show_progress(&self, msg: &Incoming, shown: &mut Shown, id: u64, text: String) {
        let data = media(render::progress(&text));
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
}

/// What an interrupted SQL cell answers.
fn interrupted_error() -> CellError {
    CellError::new(
        ErrorKind::Interrupted,
        "the cell was interrupted; statements before the running one are done, the running one left no changes, and the session keeps its state",
    )
}

/// An engine's result table as the renderer takes it.
fn result_table(t: &TableOutput) -> ResultTable<'_> {
    ResultTable {
        schema: &t.schema,
        batches: &t.batches,
        total_rows: t.total_rows,
        elapsed: t.elapsed,
    }
}

/// The session's display settings and reference at this moment.
fn table_settings(engine: &SqlEngine) -> TableSettings {
    let d = engine.display();
    TableSettings {
        max_rows: d.max_rows,
        max_col_width: d.max_col_width,
        reference: engine.active_reference(),
    }
}

/// A bundle as Jupyter media: text entries as strings, JSON entries as JSON. A bundle the
/// protocol types refuse (a Rust cell's text under a JSON table type) becomes empty text.
pub(super) fn media(bundle: Bundle) -> Media {
    let map: Map<String, Value> = bundle
        .into_entries()
        .into_iter()
        .map(|(mime, data)| {
            let value = match data {
                Data::Text(text) => Value::String(text),
                Data::Json(value) => value,
            };
            (mime, value)
        })
        .collect();
    serde_json::from_value(Value::Object(map))
        .unwrap_or_else(|_| Media::new(vec![MediaType::Plain(String::new())]))
}

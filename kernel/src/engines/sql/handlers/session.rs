//! The session's own statements: SHOW SETTINGS / LIMITS / PARAMETERS, display settings
//! (`SET lakehouse.max_rows = …`), parameters (`SET name = expr`) and `ASSERT`.

use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use super::super::errors;
use super::super::split::Piece;
use super::super::{params, refs, Output, SqlEngine};
use crate::error::{CellError, ErrorKind};

impl SqlEngine {
    /// `SHOW SETTINGS`: the kernel's own settings (DataFusion's options are `SHOW ALL`).
    pub(in super::super) fn show_settings(
        &self,
        started: Instant,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let rows = self
            .settings
            .rows()
            .into_iter()
            .map(|r| vec![r.env.to_string(), r.value])
            .collect();
        refs::send_table(out, started, &["setting", "value"], rows);
        Ok(())
    }

    /// `SHOW LIMITS`: each limit, its value and where it came from.
    pub(in super::super) fn show_limits(
        &self,
        started: Instant,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let rows = self.settings.limits.show_rows(&self.ctx.runtime_env());
        refs::send_table(out, started, &["limit", "value", "source"], rows);
        Ok(())
    }

    /// `SHOW PARAMETERS`: name, type and value of each `SET` parameter.
    pub(in super::super) fn show_parameters(
        &self,
        started: Instant,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let rows = self
            .params
            .all()
            .into_iter()
            .map(|(name, v)| vec![name, v.data_type().to_string(), params::show(&v)])
            .collect();
        refs::send_table(out, started, &["parameter", "type", "value"], rows);
        Ok(())
    }

    /// `SET lakehouse.max_rows = n` / `lakehouse.max_col_width`: for the rest of the session.
    pub(in super::super) fn set_display(
        &self,
        key: &'static str,
        value: usize,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let mut d = self.display.lock().expect("display lock");
        match key {
            "max_rows" => d.max_rows = value,
            _ => d.max_col_width = value,
        }
        let _ = out.send(Output::Message(format!(
            "lakehouse.{key} = {value} for this session"
        )));
        Ok(())
    }

    /// `ASSERT <condition> [, 'message']`: fails the cell unless the condition is true, so a
    /// notebook run (papermill, nbconvert) stops at a failed check.
    pub(in super::super) async fn run_assert(
        &self,
        condition: &str,
        message: Option<&str>,
        cell: &str,
        piece: &Piece,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        use datafusion::scalar::ScalarValue;
        self.catalog.next_statement();
        let value = self.eval_scalar(condition, "ASSERT", cell, piece).await?;
        let what = message.map_or_else(|| condition.to_string(), str::to_string);
        match value {
            ScalarValue::Boolean(Some(true)) => {
                let _ = out.send(Output::Message(format!("Passed: {what}")));
                Ok(())
            }
            ScalarValue::Boolean(v) => Err(CellError::new(
                ErrorKind::Assertion,
                format!(
                    "{what}: the check {condition} is {}",
                    if v.is_some() {
                        "false"
                    } else {
                        "NULL (unknown)"
                    }
                ),
            )
            .with_context(errors::statement_context(piece))),
            other => Err(CellError::new(
                ErrorKind::Assertion,
                format!(
                    "ASSERT needs a true/false condition; {condition} is {other} ({})",
                    other.data_type()
                ),
            )),
        }
    }

    /// `SET name = expr`: evaluates `expr` once (it may use other parameters) and keeps it.
    pub(in super::super) async fn set_parameter(
        &self,
        name: &str,
        expr: &str,
        cell: &str,
        piece: &Piece,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        self.catalog.next_statement();
        let value = self
            .eval_scalar(expr, &format!("SET {name}"), cell, piece)
            .await?;
        let _ = out.send(Output::Message(format!(
            "{name} = {} ({})",
            params::show(&value),
            value.data_type()
        )));
        self.params.set(name, value);
        Ok(())
    }
}

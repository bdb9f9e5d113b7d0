//! Nessie's SQL extensions for branches and tags, as Spark users know them
//! (`CREATE BRANCH dev FROM main`, `USE REFERENCE dev`, `MERGE BRANCH dev INTO main`, …).
//!
//! Their grammar is `lakehouse_grammar::refs`; this file runs them.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
pub use lakehouse_grammar::refs::*;
use lakehouse_nessie::NessieCatalog;
use tokio::sync::mpsc::UnboundedSender;

use super::{Output, SqlEngine, TableOutput};
use crate::catalog::versioned::{self, RefPoint};
use crate::error::{CellError, ErrorKind};
use crate::lineage::keys;

/// The git commit of a commit's lineage, with `+dirty` when the notebook had uncommitted
/// changes (empty when the notebook was not in a git repository).
pub(super) fn git_commit_shown(props: &std::collections::HashMap<String, String>) -> String {
    match props.get(keys::GIT_COMMIT) {
        Some(c) if props.get(keys::GIT_DIRTY).map(String::as_str) == Some("true") => {
            format!("{c}+dirty")
        }
        Some(c) => c.clone(),
        None => String::new(),
    }
}

impl SqlEngine {
    /// Runs a branch/tag statement against Nessie.
    pub(super) async fn run_ref_statement(
        &self,
        stmt: RefStatement,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let started = Instant::now();
        let Some(base) = &self.nessie else {
            return Err(CellError::new(
                ErrorKind::NotSupported,
                "branches and tags need the Nessie catalog; this session's catalog has none. \
                 Set NESSIE_URI (and LAKEHOUSE_WAREHOUSE; LAKEHOUSE_CATALOG=nessie if it is set) \
                 and restart the kernel",
            ));
        };
        let current = self.current_catalog(base);
        let fail =
            |e: lakehouse_nessie::NessieError| CellError::new(ErrorKind::Nessie, e.to_string());
        let msg = match stmt {
            RefStatement::Create {
                kind,
                name,
                if_not_exists,
                from,
            } => {
                let kind = nessie_kind(kind);
                if if_not_exists {
                    if let Ok(r) = current.get_reference(&name).await {
                        let _ = out.send(Output::Message(format!("{r} already exists")));
                        return Ok(());
                    }
                }
                let r = current
                    .create_reference(&name, kind, from.as_deref())
                    .await
                    .map_err(fail)?;
                format!("Created {r}")
            }
            RefStatement::Drop {
                kind,
                name,
                if_exists,
            } => {
                let kind = nessie_kind(kind);
                match current.get_reference(&name).await {
                    Ok(r) if r.kind != kind => {
                        return Err(CellError::new(
                            ErrorKind::Nessie,
                            format!(
                                "{name} is a {}, not a {kind}; use DROP {} {name}",
                                r.kind,
                                r.kind.to_string().to_uppercase()
                            ),
                        ))
                    }
                    Err(_) if if_exists => {
                        let _ = out.send(Output::Message(format!("{kind} {name} does not exist")));
                        return Ok(());
                    }
                    _ => {}
                }
                if self
                    .active_reference()
                    .as_deref()
                    .map(|r| r.split('@').next() == Some(name.as_str()))
                    == Some(true)
                {
                    return Err(CellError::new(
                        ErrorKind::Nessie,
                        format!("{kind} {name} is the active reference of this session; USE REFERENCE another one first"),
                    ));
                }
                current.delete_reference(&name).await.map_err(fail)?;
                format!("Dropped {kind} {name}")
            }
            RefStatement::Use { name, at } => {
                let r = current.get_reference(&name).await.map_err(fail)?;
                let point = at.as_deref().map(versioned::parse_point).transpose()?;
                let (hash, when) = match point {
                    None => (None, None),
                    Some(RefPoint::Hash(h)) => (Some(h), None),
                    Some(RefPoint::Time(ms)) => {
                        // Pin the commit that was HEAD then, so the session does not drift.
                        let spec = format!("{}@{}", r.name, lakehouse_nessie::at_time(ms));
                        let c = current.resolve(Some(&spec)).await.map_err(fail)?;
                        (Some(c.hash), Some(ms))
                    }
                };
                let pinned = base.with_reference(&r.name, hash.clone());
                self.catalog.use_nessie(pinned);
                *self.active_ref.lock().expect("ref lock") = Some((r.name.clone(), hash.clone()));
                let _ = self.catalog.refresh().await;
                match (hash, when) {
                    (Some(h), Some(ms)) => format!(
                        "Using {} {} as of {} = commit {} (read-only)",
                        r.kind,
                        r.name,
                        versioned::format_millis(ms),
                        short(&h)
                    ),
                    (Some(h), None) => {
                        format!("Using {} {} at commit {h} (read-only)", r.kind, r.name)
                    }
                    _ => format!("Using {r}"),
                }
            }
            RefStatement::Merge { from, into } => {
                let from = from.unwrap_or_else(|| current.reference().to_string());
                let into = into.unwrap_or_else(|| base.reference().to_string());
                if from == into {
                    return Err(CellError::new(
                        ErrorKind::Nessie,
                        format!("cannot merge {from} into itself; name the branch to merge: MERGE BRANCH dev INTO {into}"),
                    ));
                }
                // The merge commit names the notebook, cell and user, as data commits do.
                let m = current
                    .with_commit_extra(super::write::nessie_extra(&self.commit_lineage()))
                    .merge(&from, &into)
                    .await
                    .map_err(fail)?;
                let _ = self.catalog.refresh().await;
                format!(
                    "Merged {from} into {} (now at {})",
                    into,
                    short(&m.target.hash)
                )
            }
            RefStatement::Assign { kind, name, to } => {
                let kind = nessie_kind(kind);
                let to = to.unwrap_or_else(|| self.active_reference().unwrap_or_default());
                let r = current.assign_reference(&name, &to).await.map_err(fail)?;
                if r.kind != kind {
                    log::warn!("ASSIGN {kind} {name}: {name} is a {}", r.kind);
                }
                format!("Assigned {r} (from {to})")
            }
            RefStatement::List => {
                let refs = current.list_references().await.map_err(fail)?;
                let active = self.active_reference().unwrap_or_default();
                let active = active.split('@').next().unwrap_or_default().to_string();
                send_table(
                    out,
                    started,
                    &["name", "type", "hash", "active"],
                    refs.iter()
                        .map(|r| {
                            vec![
                                r.name.clone(),
                                r.kind.to_string(),
                                r.hash.clone(),
                                if r.name == active {
                                    "*".into()
                                } else {
                                    String::new()
                                },
                            ]
                        })
                        .collect(),
                );
                return Ok(());
            }
            RefStatement::Show => {
                let active = self.active_reference().unwrap_or_default();
                let (name, pinned) = match active.split_once('@') {
                    Some((n, h)) => (n.to_string(), Some(h.to_string())),
                    None => (active.clone(), None),
                };
                let r = current.get_reference(&name).await.map_err(fail)?;
                send_table(
                    out,
                    started,
                    &["name", "type", "hash"],
                    vec![vec![
                        r.name.clone(),
                        r.kind.to_string(),
                        pinned.unwrap_or(r.hash),
                    ]],
                );
                return Ok(());
            }
            RefStatement::Log { reference, limit } => {
                let entries = current
                    .log(reference.as_deref(), limit.unwrap_or(20))
                    .await
                    .map_err(fail)?;
                send_table(
                    out,
                    started,
                    &[
                        "hash",
                        "author",
                        "committed",
                        "message",
                        "notebook",
                        "git_commit",
                        "cell_id",
                    ],
                    entries
                        .iter()
                        .map(|e| {
                            let prop = |k: &str| e.properties.get(k).cloned().unwrap_or_default();
                            vec![
                                e.hash.clone(),
                                e.author.clone(),
                                e.commit_time
                                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                                    .unwrap_or_default(),
                                e.message.clone(),
                                prop(keys::NOTEBOOK),
                                git_commit_shown(&e.properties),
                                prop(keys::CELL_ID),
                            ]
                        })
                        .collect(),
                );
                return Ok(());
            }
        };
        let _ = out.send(Output::Message(msg));
        Ok(())
    }

    /// The Nessie catalog on the session's active reference.
    fn current_catalog(&self, base: &NessieCatalog) -> NessieCatalog {
        match self.active_ref.lock().expect("ref lock").clone() {
            Some((name, hash)) => base.with_reference(&name, hash),
            None => base.clone(),
        }
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// Sends a small all-text table.
pub(super) fn send_table(
    out: &UnboundedSender<Output>,
    started: Instant,
    names: &[&str],
    rows: Vec<Vec<String>>,
) {
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let columns: Vec<ArrayRef> = (0..names.len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r[i].as_str()),
            )) as ArrayRef
        })
        .collect();
    let total_rows = rows.len();
    if let Ok(batch) = RecordBatch::try_new(schema.clone(), columns) {
        let _ = out.send(Output::Table(TableOutput {
            schema,
            batches: vec![batch],
            total_rows,
            elapsed: started.elapsed(),
        }));
    }
}

/// The Nessie client's kind of reference for the grammar's.
fn nessie_kind(kind: RefKind) -> lakehouse_nessie::RefKind {
    match kind {
        RefKind::Branch => lakehouse_nessie::RefKind::Branch,
        RefKind::Tag => lakehouse_nessie::RefKind::Tag,
    }
}

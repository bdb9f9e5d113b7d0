//! `SHOW LINEAGE <table>` (who, which notebook, git commit and cell wrote each snapshot) and
//! `SHOW LINEAGE FOR NOTEBOOK 'path'` (what a notebook changed), read from the `lakehouse.*`
//! keys every commit carries (crate::lineage): Nessie's commit log on Nessie, the snapshot
//! summaries of every table on the other catalogs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use iceberg::{Catalog, ErrorKind, TableIdent};
use tokio::sync::mpsc::UnboundedSender;

use super::refs::{git_commit_shown, send_table};
use super::{errors, Output, SqlEngine};
use crate::catalog::{self, versioned::TableSpec, CATALOG_NAME};
use crate::error::{self, CellError};
use crate::lineage::keys;

pub use lakehouse_grammar::show_lineage::*;

/// True when a commit's lineage names the notebook `wanted`: its path, its path in the git
/// repository, or a trailing part of either (`etl.ipynb`, `nbs/etl.ipynb`).
pub fn names_notebook(props: &HashMap<String, String>, wanted: &str) -> bool {
    let wanted = wanted.trim_start_matches("./");
    [keys::NOTEBOOK, keys::GIT_PATH]
        .iter()
        .filter_map(|k| props.get(*k))
        .any(|v| v == wanted || v.ends_with(&format!("/{wanted}")))
}

/// The papermill parameters of a commit, `name=value` joined by `, `.
fn parameters(props: &HashMap<String, String>) -> String {
    let mut ps: Vec<String> = props
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(keys::PARAM_PREFIX)
                .map(|n| format!("{n}={v}"))
        })
        .collect();
    ps.sort();
    ps.join(", ")
}

fn millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
        .unwrap_or_default()
}

impl SqlEngine {
    /// Runs `SHOW LINEAGE …`.
    pub(super) async fn run_show_lineage(
        &self,
        stmt: ShowLineage,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        let started = Instant::now();
        match stmt {
            ShowLineage::Table { name, limit } => {
                let table = self.lineage_table(&name).await?;
                let meta = table.metadata();
                let current = meta.current_snapshot_id();
                let mut snaps: Vec<_> = meta.snapshots().collect();
                snaps.sort_by_key(|s| std::cmp::Reverse(s.timestamp_ms()));
                let rows = snaps
                    .iter()
                    .take(limit.unwrap_or(usize::MAX))
                    .map(|s| {
                        let p = &s.summary().additional_properties;
                        let get = |k: &str| p.get(k).cloned().unwrap_or_default();
                        vec![
                            s.snapshot_id().to_string(),
                            millis(s.timestamp_ms()),
                            s.summary().operation.as_str().to_string(),
                            (Some(s.snapshot_id()) == current).to_string(),
                            get(keys::USER),
                            get(keys::NOTEBOOK),
                            git_commit_shown(p),
                            get(keys::GIT_BRANCH),
                            get(keys::CELL_ID),
                            get(keys::EXECUTION_COUNT),
                            get(keys::STATEMENT),
                            parameters(p),
                            get(keys::ENGINE_NAME),
                        ]
                    })
                    .collect();
                send_table(
                    out,
                    started,
                    &[
                        "snapshot_id",
                        "committed",
                        "operation",
                        "current",
                        "user",
                        "notebook",
                        "git_commit",
                        "git_branch",
                        "cell_id",
                        "execution_count",
                        "statement",
                        "parameters",
                        "engine",
                    ],
                    rows,
                );
            }
            ShowLineage::Notebook { path, limit } => {
                let limit = limit.unwrap_or(100);
                match self.catalog.nessie() {
                    Some(nessie) => {
                        // The commits of the session's reference, newest first.
                        let log = nessie
                            .log(None, 1000)
                            .await
                            .map_err(|e| CellError::new(error::ErrorKind::Nessie, e.to_string()))?;
                        let rows = log
                            .iter()
                            .filter(|e| names_notebook(&e.properties, &path))
                            .take(limit)
                            .map(|e| {
                                let p = &e.properties;
                                let get = |k: &str| p.get(k).cloned().unwrap_or_default();
                                vec![
                                    e.hash.clone(),
                                    e.commit_time
                                        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                                        .unwrap_or_default(),
                                    e.author.clone(),
                                    e.message.clone(),
                                    get(keys::NOTEBOOK),
                                    git_commit_shown(p),
                                    get(keys::CELL_ID),
                                    get(keys::STATEMENT),
                                    parameters(p),
                                ]
                            })
                            .collect();
                        send_table(
                            out,
                            started,
                            &[
                                "hash",
                                "committed",
                                "author",
                                "message",
                                "notebook",
                                "git_commit",
                                "cell_id",
                                "statement",
                                "parameters",
                            ],
                            rows,
                        );
                    }
                    None => {
                        self.catalog
                            .refresh()
                            .await
                            .map_err(|e| errors::catalog("cannot list the catalog", e))?;
                        let cat = self.catalog.iceberg();
                        let mut found = vec![];
                        for name in self.catalog.listing().qualified_tables() {
                            let (schema, table) = name.rsplit_once('.').unwrap_or(("", &name));
                            let ident =
                                TableIdent::new(catalog::namespace(schema), table.to_string());
                            let Ok(t) = cat.load_table(&ident).await else {
                                continue;
                            };
                            for s in t.metadata().snapshots() {
                                let p = &s.summary().additional_properties;
                                if names_notebook(p, &path) {
                                    found.push((name.clone(), s.clone()));
                                }
                            }
                        }
                        found.sort_by_key(|(_, s)| std::cmp::Reverse(s.timestamp_ms()));
                        let rows = found
                            .iter()
                            .take(limit)
                            .map(|(name, s)| {
                                let p = &s.summary().additional_properties;
                                let get = |k: &str| p.get(k).cloned().unwrap_or_default();
                                vec![
                                    name.clone(),
                                    s.snapshot_id().to_string(),
                                    millis(s.timestamp_ms()),
                                    s.summary().operation.as_str().to_string(),
                                    get(keys::USER),
                                    get(keys::NOTEBOOK),
                                    git_commit_shown(p),
                                    get(keys::CELL_ID),
                                    get(keys::STATEMENT),
                                    parameters(p),
                                ]
                            })
                            .collect();
                        send_table(
                            out,
                            started,
                            &[
                                "table",
                                "snapshot_id",
                                "committed",
                                "operation",
                                "user",
                                "notebook",
                                "git_commit",
                                "cell_id",
                                "statement",
                                "parameters",
                            ],
                            rows,
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// The table `SHOW LINEAGE` names (`schema.table`, `table`, `t@ref` on Nessie).
    async fn lineage_table(&self, name: &str) -> Result<iceberg::table::Table, CellError> {
        let plain: String = name.chars().filter(|c| !matches!(c, '`' | '"')).collect();
        let plain = plain
            .strip_prefix(&format!("{CATALOG_NAME}."))
            .unwrap_or(&plain)
            .to_string();
        let (schema, table) = match plain.split_once('.') {
            Some((s, t)) => (s.to_string(), t.to_string()),
            None => (self.settings.default_schema.clone(), plain.clone()),
        };
        let spec = TableSpec::parse(&table)?;
        let shown = format!("{schema}.{}", spec.display());
        let cat: Arc<dyn Catalog> = match (&spec.reference, self.catalog.nessie()) {
            (Some(r), Some(n)) => Arc::new(n.with_reference(r, None)),
            (Some(_), None) => {
                return Err(CellError::new(
                    error::ErrorKind::Catalog,
                    format!(
                    "{shown}: table names with @branch need the Nessie catalog (set NESSIE_URI)"
                ),
                ))
            }
            (None, _) => self.catalog.iceberg(),
        };
        let ident = TableIdent::new(catalog::namespace(&schema), spec.table.clone());
        match cat.load_table(&ident).await {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == ErrorKind::TableNotFound => {
                let _ = self.catalog.refresh().await;
                Err(errors::unknown_table(&shown, &self.catalog.listing()))
            }
            Err(e) => Err(errors::catalog(&format!("cannot load table {shown}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        assert_eq!(parse("SELECT 1"), None);
        assert_eq!(
            parse("show lineage demo.events;"),
            Some(Ok(ShowLineage::Table {
                name: "demo.events".into(),
                limit: None
            }))
        );
        assert_eq!(
            parse("SHOW LINEAGE demo.`events@dev` LIMIT 3"),
            Some(Ok(ShowLineage::Table {
                name: "demo.`events@dev`".into(),
                limit: Some(3)
            }))
        );
        assert_eq!(
            parse("SHOW LINEAGE FOR NOTEBOOK 'nbs/etl.ipynb'"),
            Some(Ok(ShowLineage::Notebook {
                path: "nbs/etl.ipynb".into(),
                limit: None
            }))
        );
        assert_eq!(
            parse("SHOW LINEAGE NOTEBOOK etl.ipynb LIMIT 5"),
            Some(Ok(ShowLineage::Notebook {
                path: "etl.ipynb".into(),
                limit: Some(5)
            }))
        );
        assert!(matches!(parse("SHOW LINEAGE"), Some(Err(_))));
        assert!(matches!(parse("SHOW LINEAGE a b"), Some(Err(_))));
        assert!(matches!(parse("SHOW LINEAGE t LIMIT x"), Some(Err(_))));
    }

    #[test]
    fn notebooks_match_by_path_or_trailing_part() {
        let p = HashMap::from([
            (
                keys::NOTEBOOK.to_string(),
                "/home/ann/repo/nbs/etl.ipynb".to_string(),
            ),
            (keys::GIT_PATH.to_string(), "nbs/etl.ipynb".to_string()),
        ]);
        assert!(names_notebook(&p, "etl.ipynb"));
        assert!(names_notebook(&p, "nbs/etl.ipynb"));
        assert!(names_notebook(&p, "/home/ann/repo/nbs/etl.ipynb"));
        assert!(!names_notebook(&p, "tl.ipynb"));
        assert!(!names_notebook(&HashMap::new(), "etl.ipynb"));
    }

    /// A commit on the embedded catalog carries the lineage keys in its snapshot summary,
    /// and SHOW LINEAGE and the `snapshots` metadata table show them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_commits_carry_the_lineage_in_their_summaries() {
        use super::super::tests_support::{engine, last_table, rows, run, tempdir};
        use crate::lineage::{CellOrigin, Notebook};
        let dir = tempdir("lineage-summary");
        let e = engine(&dir.join("home")).await;
        let nb = dir.join("etl.ipynb");
        std::fs::write(&nb, "{}").unwrap();
        e.set_notebook(Some(Notebook {
            path: nb.clone(),
            runner: "papermill",
        }));
        let cell = |id: &str, n: u64, code: &str| {
            e.begin_cell(
                CellOrigin {
                    cell_id: Some(id.to_string()),
                    execution_count: Some(n),
                },
                code,
            )
        };
        let ok = |r: Result<(), CellError>| r.unwrap_or_else(|err| panic!("{err:?}"));
        let injected = "-- Parameters\nSET num_events = 7;\nSET api_token = 'hunter2';\n";
        cell("injected", 1, injected);
        ok(run(&e, injected).await.1);
        let write = "CREATE SCHEMA demo; CREATE TABLE demo.ev (n BIGINT); \
                     INSERT INTO demo.ev VALUES ($num_events)";
        cell("cell-a", 2, write);
        ok(run(&e, write).await.1);
        cell("cell-b", 3, "INSERT OVERWRITE demo.ev SELECT 1");
        ok(run(&e, "INSERT OVERWRITE demo.ev SELECT 1").await.1);

        let ident = TableIdent::new(catalog::namespace("demo"), "ev".into());
        let t = e.catalog.iceberg().load_table(&ident).await.unwrap();
        let current = t.metadata().current_snapshot().unwrap();
        let p = &current.summary().additional_properties;
        assert_eq!(p[keys::CELL_ID], "cell-b");
        assert_eq!(p[keys::EXECUTION_COUNT], "3");
        assert_eq!(p[keys::STATEMENT], "INSERT OVERWRITE demo.ev SELECT 1");
        assert_eq!(p[keys::NOTEBOOK], nb.display().to_string());
        assert_eq!(p[keys::RUNNER], "papermill");
        assert_eq!(p["lakehouse.param.num_events"], "7");
        assert_eq!(p[keys::ENGINE_NAME], "lakehouse-kernel");
        assert!(!p.keys().any(|k| k.contains("token")), "{p:?}");
        assert!(!p.values().any(|v| v.contains("hunter2")), "{p:?}");
        // The computed counts are iceberg's, not overridden.
        assert_eq!(p["added-records"], "1");

        let (outs, r) = run(&e, "SHOW LINEAGE demo.ev").await;
        ok(r);
        let shown = rows(last_table(&outs));
        assert_eq!(shown.len(), 2, "{shown:?}");
        // Newest first: the overwrite (current), then the append from cell-a.
        assert_eq!(&shown[0][2..4], ["overwrite", "true"]);
        assert_eq!(shown[0][8], "cell-b");
        assert_eq!(shown[1][8], "cell-a");
        assert_eq!(shown[1][10], "INSERT INTO demo.ev VALUES ($num_events)");
        assert_eq!(shown[1][11], "num_events=7");

        let (outs, r) = run(&e, "SHOW LINEAGE FOR NOTEBOOK 'etl.ipynb'").await;
        ok(r);
        assert_eq!(rows(last_table(&outs)).len(), 2);
        let (outs, r) = run(&e, "SHOW LINEAGE FOR NOTEBOOK 'other.ipynb'").await;
        ok(r);
        assert!(rows(last_table(&outs)).is_empty());

        let (outs, r) = run(
            &e,
            "SELECT summary['lakehouse.cell.id'] AS cell FROM demo.ev.snapshots \
             WHERE summary['lakehouse.notebook'] LIKE '%etl.ipynb' ORDER BY committed_at",
        )
        .await;
        ok(r);
        let cells: Vec<String> = rows(last_table(&outs))
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert_eq!(cells, ["cell-a", "cell-b"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! `LAKEHOUSE_EXTERNAL_ACCESS=false`: SQL may name files only inside the warehouse and the
//! notebook's folder, as DuckDB's `enable_external_access = false` keeps a session to its
//! database. A JupyterHub admin turns it off so that a kernel reads and writes the lakehouse,
//! not the server's files (`CREATE EXTERNAL TABLE … LOCATION '/etc/passwd'`).
//!
//! The statements DataFusion plans that name a file are `CREATE EXTERNAL TABLE` and
//! `COPY … TO`; the session has no table functions that read files and no URL tables. Paths
//! are compared after `..` and symbolic links are resolved, so neither leaves a root. Rust
//! cells are code the user runs and are not limited by this (turn off the Rust kernelspec too).

use std::path::{Component, Path, PathBuf};

use datafusion::logical_expr::{DdlStatement, LogicalPlan};

use crate::error::{CellError, ErrorKind};
use crate::settings::Settings;

/// The folders and object-store prefix SQL may name when external access is off.
#[derive(Debug, Clone)]
pub(super) struct Sandbox {
    /// Local folders, resolved.
    roots: Vec<PathBuf>,
    /// The warehouse when it is an object store (`s3://bucket/prefix/`).
    store: Option<String>,
}

impl Sandbox {
    /// None when the settings allow external access (the default).
    pub(super) fn from_settings(settings: &Settings) -> Option<Sandbox> {
        if settings.external_access {
            return None;
        }
        let warehouse = settings.warehouse_uri();
        let mut roots = vec![];
        let mut store = None;
        match warehouse.strip_prefix("file://") {
            Some(path) => roots.push(PathBuf::from(path)),
            None => store = Some(format!("{}/", warehouse.trim_end_matches('/'))),
        }
        // The notebook's folder: where the kernel runs under Jupyter, and the notebook's own.
        if let Ok(cwd) = std::env::current_dir() {
            roots.push(cwd);
        }
        if let Some(dir) =
            crate::lineage::detect_notebook().and_then(|n| n.path.parent().map(Path::to_path_buf))
        {
            roots.push(dir);
        }
        let roots = roots.iter().map(|r| resolve(r)).collect();
        Some(Sandbox { roots, store })
    }

    /// Refuses `plan` when it names a file outside the roots.
    pub(super) fn check(&self, plan: &LogicalPlan) -> Result<(), CellError> {
        let (what, location) = match plan {
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(c)) => {
                ("CREATE EXTERNAL TABLE", c.location.as_str())
            }
            LogicalPlan::Copy(c) => ("COPY … TO", c.output_url.as_str()),
            _ => return Ok(()),
        };
        if self.allows(location) {
            return Ok(());
        }
        let mut inside: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
        inside.extend(self.store.clone());
        Err(ErrorKind::AccessDenied.error(format!(
            "{what} '{location}' is refused: this kernel runs with LAKEHOUSE_EXTERNAL_ACCESS=false, \
             which allows only files under {}; use a path there, or ask your JupyterHub admin",
            inside.join(", ")
        )))
    }

    fn allows(&self, location: &str) -> bool {
        let path = match location.split_once("://") {
            Some(("file", rest)) => rest,
            Some(_) => {
                return self
                    .store
                    .as_deref()
                    .is_some_and(|s| location.starts_with(s) && !has_parent_step(location));
            }
            None => location,
        };
        let path = Path::new(path);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            match std::env::current_dir() {
                Ok(cwd) => cwd.join(path),
                Err(_) => return false,
            }
        };
        let resolved = resolve(&absolute);
        self.roots.iter().any(|r| resolved.starts_with(r))
    }
}

/// `path` with symbolic links and `..` resolved, one component at a time: each prefix that
/// exists is canonicalized before the next step, so `link/..` goes where the link leads; the
/// part that does not exist yet (a file COPY will create) is kept as written.
fn resolve(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Prefix(_) | Component::RootDir => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if let Ok(real) = out.canonicalize() {
                    out = real;
                }
            }
        }
    }
    out
}

/// An object-store key with a `..` step (`s3://wh/../other`): refused rather than interpreted.
fn has_parent_step(location: &str) -> bool {
    location.split('/').any(|part| part == "..")
}

#[cfg(test)]
mod tests {
    use super::super::tests_support::{engine_with, run, tempdir};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_outside_the_warehouse_are_refused_when_external_access_is_off() {
        let dir = tempdir("sandbox");
        std::fs::create_dir_all(dir.join("warehouse")).unwrap();
        std::fs::write(dir.join("warehouse/inside.csv"), "a\n1\n2\n").unwrap();
        std::fs::write(dir.join("outside.csv"), "a\n1\n").unwrap();
        let e = engine_with(&dir, &[("LAKEHOUSE_EXTERNAL_ACCESS", "false")]).await;
        let d = dir.display();
        for sql in [
            format!("CREATE EXTERNAL TABLE o STORED AS CSV LOCATION '{d}/outside.csv' OPTIONS ('format.has_header' 'true')"),
            "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'".to_string(),
            format!("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{d}/warehouse/../outside.csv'"),
            format!("CREATE EXTERNAL TABLE f STORED AS CSV LOCATION 'file://{d}/outside.csv'"),
            format!("COPY (SELECT 1 AS a) TO '{d}/copied.csv' STORED AS CSV"),
            "COPY (SELECT 1 AS a) TO 's3://elsewhere/x.csv' STORED AS CSV".to_string(),
        ] {
            let (_, r) = run(&e, &sql).await;
            let err = r.expect_err(&sql);
            assert_eq!(err.ename(), "AccessDenied", "{sql}: {err:?}");
            assert!(err.evalue.contains("LAKEHOUSE_EXTERNAL_ACCESS=false"), "{err:?}");
        }
        assert!(
            !dir.join("copied.csv").exists(),
            "a refused COPY wrote its file"
        );
        // Inside the warehouse, both work.
        let (_, r) = run(
            &e,
            &format!(
                "CREATE EXTERNAL TABLE i STORED AS CSV LOCATION '{d}/warehouse/inside.csv' \
                 OPTIONS ('format.has_header' 'true')"
            ),
        )
        .await;
        r.unwrap();
        let (_, r) = run(
            &e,
            &format!("COPY (SELECT 1 AS a) TO '{d}/warehouse/out.csv' STORED AS CSV"),
        )
        .await;
        r.unwrap();
        assert!(dir.join("warehouse/out.csv").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn external_access_is_on_by_default() {
        let dir = tempdir("sandbox-default");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("outside.csv"), "a\n1\n").unwrap();
        let e = engine_with(&dir, &[]).await;
        let (_, r) = run(
            &e,
            &format!(
                "CREATE EXTERNAL TABLE o STORED AS CSV LOCATION '{}/outside.csv' \
                 OPTIONS ('format.has_header' 'true')",
                dir.display()
            ),
        )
        .await;
        r.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

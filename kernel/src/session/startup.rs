//! Start-up files: a team's shared set-up, then the user's own, run when the SQL session
//! opens (after the catalog is opened, before the first cell's statements).
//!
//! Order: every `*.sql` file in `LAKEHOUSE_STARTUP_DIR` (sorted by name), then
//! `LAKEHOUSE_STARTUP_FILE` (default `~/.config/lakehouse/startup.sql`, if it exists). Each
//! file runs statement by statement like a cell; a failing statement skips the rest of its
//! file, and the next file still runs. Messages of successful statements are not shown.
//! Failures are returned as a report the server prints (stderr) on the first executed cell:
//! the engine never publishes. Where the files come from is a setting
//! (`crate::settings::startup`); opening the session ([`super::open`]) runs them.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use crate::engines::sql::split;
use crate::engines::sql::SqlEngine;
use crate::error::CellError;
use crate::settings::StartupSettings;

/// A start-up statement (or file) that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct StartupError {
    pub path: PathBuf,
    /// 1-based line where the failing statement starts.
    pub line: Option<usize>,
    /// `Ename: message`.
    pub message: String,
    /// Further lines (the statement, a caret under a syntax error).
    pub context: Vec<String>,
}

/// What running the start-up files did.
#[derive(Debug, Default)]
pub struct StartupOutcome {
    /// Files that were run (fully or up to their first error).
    pub files: Vec<PathBuf>,
    /// Statements that succeeded.
    pub statements: usize,
    pub errors: Vec<StartupError>,
}

impl StartupOutcome {
    /// The text shown on the first cell (stderr), or `None` when everything worked.
    pub fn report(&self) -> Option<String> {
        if self.errors.is_empty() {
            return None;
        }
        let mut text = String::from(
            "Start-up files had errors (the session opened anyway; this cell runs as usual):\n",
        );
        for e in &self.errors {
            match e.line {
                Some(l) => text.push_str(&format!(
                    "  {}, line {l}: {}\n",
                    e.path.display(),
                    e.message
                )),
                None => text.push_str(&format!("  {}: {}\n", e.path.display(), e.message)),
            }
            for c in &e.context {
                text.push_str(&format!("    {}\n", c.trim_start()));
            }
            if e.line.is_some() {
                text.push_str("    (the rest of this file was skipped)\n");
            }
        }
        Some(text)
    }
}

/// The files to run, in order, or why one could not be read (this reads them).
pub fn sources(settings: &StartupSettings) -> Vec<Result<(PathBuf, String), StartupError>> {
    let mut out = Vec::new();
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| StartupError {
            path: p.to_path_buf(),
            line: None,
            message: format!("cannot read it: {e}"),
            context: vec![],
        })
    };
    if let Some(dir) = &settings.dir {
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension().is_some_and(|x| x.eq_ignore_ascii_case("sql")) && p.is_file()
                    })
                    .collect();
                files.sort();
                for f in files {
                    out.push(read(&f).map(|t| (f, t)));
                }
            }
            Err(e) => out.push(Err(StartupError {
                path: dir.clone(),
                line: None,
                message: format!("the folder named by LAKEHOUSE_STARTUP_DIR cannot be read: {e}"),
                context: vec![],
            })),
        }
    }
    if let Some(f) = &settings.file {
        if f.is_file() {
            out.push(read(f).map(|t| (f.clone(), t)));
        } else if settings.file_explicit {
            out.push(Err(StartupError {
                path: f.clone(),
                line: None,
                message: "the file named by LAKEHOUSE_STARTUP_FILE does not exist".into(),
                context: vec![],
            }));
        }
    }
    out
}

/// Runs the start-up files on `engine`.
pub async fn run(engine: &SqlEngine) -> StartupOutcome {
    let mut outcome = StartupOutcome::default();
    for source in sources(&engine.settings().startup) {
        let (path, text) = match source {
            Ok(s) => s,
            Err(e) => {
                outcome.errors.push(e);
                continue;
            }
        };
        outcome.files.push(path.clone());
        let parts = split::split(&text);
        let mut failed = false;
        for piece in &parts.pieces {
            // The statement alone, at its own line and column, so errors point into the file.
            let cell = isolate(&text, piece);
            let (tx, rx) = mpsc::unbounded_channel();
            drop(rx); // messages of start-up statements are not shown
            match engine.execute(&cell, &tx).await {
                Ok(()) => outcome.statements += 1,
                Err(e) => {
                    outcome.errors.push(from_cell_error(&path, piece.line, e));
                    failed = true;
                    break;
                }
            }
        }
        if !failed && parts.open == Some(split::Open::BlockComment) {
            // (An open quote or parenthesis fails with its statement above.)
            outcome.errors.push(StartupError {
                path: path.clone(),
                line: Some(text.lines().count().max(1)),
                message: "SyntaxError: a /* comment is not closed: add */".into(),
                context: vec![],
            });
        }
    }
    outcome
}

fn from_cell_error(path: &Path, line: usize, e: CellError) -> StartupError {
    StartupError {
        path: path.to_path_buf(),
        line: Some(line),
        message: format!("{}: {}", e.ename(), e.evalue),
        // The first traceback line repeats the message; "in statement at line" repeats
        // the line.
        context: e
            .traceback
            .into_iter()
            .skip(1)
            .filter(|l| !l.trim_start().starts_with("in statement at line"))
            .collect(),
    }
}

/// `text` with everything but `piece` blanked (line breaks kept), so the statement keeps
/// its line and column.
fn isolate(text: &str, piece: &split::Piece) -> String {
    let (mut line, mut col) = (1usize, 1usize);
    let mut start = None;
    for (i, c) in text.char_indices() {
        if line == piece.line && col == piece.column {
            start = Some(i);
            break;
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    let Some(start) = start else {
        return piece.text.clone();
    };
    let end = start + piece.text.len();
    let blank = |s: &str| -> String {
        s.chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect()
    };
    format!(
        "{}{}{}",
        blank(&text[..start]),
        &text[start..end.min(text.len())],
        blank(&text[end.min(text.len())..])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn settings(dir: &Path, file: Option<&Path>) -> crate::settings::Settings {
        let mut env = BTreeMap::from([
            (
                "LAKEHOUSE_HOME".to_string(),
                dir.join("home").display().to_string(),
            ),
            (
                "LAKEHOUSE_STARTUP_DIR".to_string(),
                dir.join("team").display().to_string(),
            ),
        ]);
        env.insert(
            "LAKEHOUSE_STARTUP_FILE".into(),
            file.map_or("none".into(), |f| f.display().to_string()),
        );
        crate::settings::Settings::from_map(&env).unwrap()
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lh-startup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("team")).unwrap();
        d
    }

    #[test]
    fn isolate_keeps_line_and_column() {
        let text = "SET a = 1; SELEC 2;\n-- c\nSELECT 3";
        let parts = split::split(text);
        let cell = isolate(text, &parts.pieces[1]);
        assert_eq!(cell, "           SELEC 2 \n    \n        ");
        let again = split::split(&cell);
        assert_eq!(again.pieces[0].line, 1);
        assert_eq!(again.pieces[0].column, 12);
        let cell = isolate(text, &parts.pieces[2]);
        assert_eq!(split::split(&cell).pieces[0].line, 3);
    }

    #[test]
    fn none_and_defaults() {
        let env: BTreeMap<String, String> =
            BTreeMap::from([("LAKEHOUSE_STARTUP_FILE".into(), "none".into())]);
        let s = StartupSettings::resolve(&|k| env.get(k).cloned(), None, None);
        assert_eq!(s.file, None);
        assert_eq!(s.dir, None);
        assert!(sources(&s).is_empty());
        let s = StartupSettings::resolve(&|_| None, Some("/team".into()), None);
        assert_eq!(s.dir, Some(PathBuf::from("/team")));
        assert!(!s.file_explicit);
        assert!(s.file.as_ref().unwrap().ends_with("lakehouse/startup.sql"));
        // A folder that is not there is reported, not ignored.
        assert!(sources(&s)[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("LAKEHOUSE_STARTUP_DIR"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_run_in_order_and_errors_name_file_and_line() {
        let dir = tempdir("run");
        std::fs::write(
            dir.join("team/10-params.sql"),
            "-- team parameters\nSET region = 'emea';\nCREATE VIEW answer AS SELECT 42 AS x;\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("team/20-broken.sql"),
            "SET lakehouse.max_rows = 7;\n\nSELECT * FROM no_such_table;\nSET skipped = 1;\n",
        )
        .unwrap();
        std::fs::write(dir.join("team/notes.txt"), "SELEC garbage").unwrap();
        let user = dir.join("user.sql");
        std::fs::write(&user, "SET mine = $region || '!';\nSELEC 1;\n").unwrap();
        let engine = crate::session::open(settings(&dir, Some(&user)))
            .await
            .unwrap();
        let report = engine.take_startup_report().expect("a report");
        assert!(engine.take_startup_report().is_none(), "shown once");
        assert!(
            report.contains(&format!(
                "{}, line 3: TableNotFound:",
                dir.join("team/20-broken.sql").display()
            )),
            "{report}"
        );
        assert!(
            report.contains(&format!("{}, line 2: SyntaxError:", user.display())),
            "{report}"
        );
        assert!(report.contains("   2 | SELEC 1"), "{report}");
        // What worked is in the session.
        assert_eq!(engine.display().max_rows, 7);
        let (tx, mut rx) = mpsc::unbounded_channel();
        engine
            .execute("SELECT x, $region AS r, $mine AS m FROM answer", &tx)
            .await
            .unwrap();
        drop(tx);
        let mut got = None;
        while let Some(o) = rx.recv().await {
            if let crate::engines::sql::Output::Table(t) = o {
                got = Some(t.total_rows);
            }
        }
        assert_eq!(got, Some(1));
        let (tx, _rx) = mpsc::unbounded_channel();
        let err = engine.execute("SELECT $skipped", &tx).await.unwrap_err();
        assert_eq!(err.ename(), "ParameterError");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_clean_start_up_reports_nothing() {
        let dir = tempdir("clean");
        std::fs::write(dir.join("team/a.sql"), "SET a = 1").unwrap();
        let engine = crate::session::open(settings(&dir, None)).await.unwrap();
        assert_eq!(engine.take_startup_report(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Lineage: which user, notebook, git commit, cell and statement made each data commit.
//!
//! The server knows the cell (its id and execution count); the session knows the notebook
//! (`JPY_SESSION_NAME`, or the notebook nbconvert / papermill were given); `git` itself says
//! which commit of the notebook's repository ran and whether the notebook had uncommitted
//! changes. [`CommitLineage`] is what one commit carries: the Nessie author and the
//! `lakehouse.*` properties that go into both the Nessie commit and the Iceberg snapshot
//! summary. Nothing here knows Jupyter messages: the server hands over a [`CellOrigin`].
//!
//! Nothing sensitive goes in: parameters whose names look secret are left out, the statement
//! is cut at [`MAX_STATEMENT_CHARS`] and a git remote loses any credentials in its URL.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Prefix of every lineage key.
pub const PREFIX: &str = "lakehouse.";
/// Characters of the statement kept in `lakehouse.statement`.
pub const MAX_STATEMENT_CHARS: usize = 1000;
/// Characters of a parameter value kept.
pub const MAX_PARAM_CHARS: usize = 200;
/// How long one `git` command may take before lineage goes without it.
const GIT_TIMEOUT: Duration = Duration::from_secs(3);

/// Key names, as written to Nessie commits and snapshot summaries (documented in README).
pub mod keys {
    pub const USER: &str = "lakehouse.user";
    pub const NOTEBOOK: &str = "lakehouse.notebook";
    pub const RUNNER: &str = "lakehouse.runner";
    pub const GIT_COMMIT: &str = "lakehouse.git.commit";
    pub const GIT_BRANCH: &str = "lakehouse.git.branch";
    pub const GIT_DIRTY: &str = "lakehouse.git.dirty";
    pub const GIT_PATH: &str = "lakehouse.git.path";
    pub const GIT_REMOTE: &str = "lakehouse.git.remote";
    pub const CELL_ID: &str = "lakehouse.cell.id";
    pub const EXECUTION_COUNT: &str = "lakehouse.cell.execution-count";
    pub const STATEMENT: &str = "lakehouse.statement";
    /// `lakehouse.param.<name>`: one per papermill parameter.
    pub const PARAM_PREFIX: &str = "lakehouse.param.";
    /// As Iceberg's Java engines write them (Spark: `engine-name=spark`).
    pub const ENGINE_NAME: &str = "engine-name";
    pub const ENGINE_VERSION: &str = "engine-version";
}

/// The engine name written to `engine-name`.
pub const ENGINE_NAME: &str = "lakehouse-kernel";
/// The engine version written to `engine-version`.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the server knows about the cell being run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellOrigin {
    /// The cell id the front end sent (JupyterLab: `cellId` in the request's metadata).
    pub cell_id: Option<String>,
    /// The execution count of the cell.
    pub execution_count: Option<u64>,
}

/// The git state of a notebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitState {
    /// `HEAD`'s commit hash.
    pub commit: String,
    /// The branch checked out (`None` on a detached HEAD).
    pub branch: Option<String>,
    /// The notebook differs from `HEAD` (modified, staged or untracked).
    pub dirty: bool,
    /// The notebook's path inside the repository (`/`-separated).
    pub path: Option<String>,
    /// `origin`'s URL without credentials.
    pub remote: Option<String>,
}

/// What one commit carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitLineage {
    /// The Nessie author.
    pub author: Option<String>,
    /// `lakehouse.*` keys and the engine keys.
    pub properties: BTreeMap<String, String>,
}

impl CommitLineage {
    /// The properties as a map for iceberg's snapshot summary.
    pub fn summary(&self) -> std::collections::HashMap<String, String> {
        self.properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// How the notebook of the session was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notebook {
    /// Absolute path of the notebook file.
    pub path: PathBuf,
    /// What runs it: `jupyter-server`, `papermill`, `nbconvert`, `jupyter-execute`.
    pub runner: &'static str,
}

/// The per-session lineage state: the user and notebook, the current cell and statement,
/// and the names papermill injected.
#[derive(Debug, Default)]
pub struct Tracker {
    /// The user (`JUPYTERHUB_USER`, else the OS user).
    pub user: String,
    /// The notebook the session runs, when known.
    pub notebook: Option<Notebook>,
    cell: CellOrigin,
    /// The git state for the current cell, once asked for (`Some(None)`: no git).
    git: Option<Option<GitState>>,
    /// The raw text of the statement running now.
    statement: String,
    /// Names of the parameters papermill injected.
    injected: BTreeSet<String>,
    /// Index of the notebook cell matched last (cells run in order).
    last_matched: Option<usize>,
    /// The current cell's code, to find its id in the notebook file.
    code: String,
    /// The cell id was sent or has been looked up.
    looked_up: bool,
}

impl Tracker {
    /// The session as the environment and the parent process describe it.
    pub fn detect() -> Tracker {
        Tracker {
            user: current_user(|k| std::env::var(k).ok()),
            notebook: detect_notebook(),
            ..Tracker::default()
        }
    }

    /// A new cell begins: its origin (the cell id is looked up in the notebook file when the
    /// front end sent none, as nbclient does) and the parameters it injects, if it is
    /// papermill's injected cell.
    pub fn begin_cell(&mut self, origin: CellOrigin, code: &str) {
        if let Some(names) = injected_parameters(code) {
            self.injected.extend(names);
        }
        self.looked_up = origin.cell_id.is_some();
        self.cell = origin;
        self.code = code.to_string();
        self.git = None;
        self.statement.clear();
    }

    /// The cell id, looked up in the notebook file (once per cell, and only for cells that
    /// commit) when the front end sent none.
    fn resolve_cell_id(&mut self) {
        if std::mem::replace(&mut self.looked_up, true) {
            return;
        }
        let Some(nb) = self
            .notebook
            .as_ref()
            .filter(|_| !self.code.trim().is_empty())
        else {
            return;
        };
        if let Some((i, id)) = cell_id_in(&nb.path, &self.code, self.last_matched) {
            self.last_matched = Some(i);
            self.cell.cell_id = Some(id);
        }
    }

    /// The statement now running (its text as written, before parameters are substituted).
    pub fn begin_statement(&mut self, text: &str) {
        self.statement = text.trim().to_string();
    }

    /// Names of the parameters papermill injected.
    pub fn injected(&self) -> &BTreeSet<String> {
        &self.injected
    }

    /// What a commit made now carries; `params` gives the current value of a parameter.
    pub fn commit_lineage(&mut self, params: impl Fn(&str) -> Option<String>) -> CommitLineage {
        self.resolve_cell_id();
        if self.git.is_none() {
            self.git = Some(self.notebook.as_ref().and_then(|n| git_state(&n.path)));
        }
        let params: Vec<(String, String)> = self
            .injected
            .iter()
            .filter_map(|n| params(n).map(|v| (n.clone(), v)))
            .collect();
        build(
            &self.user,
            self.notebook.as_ref(),
            self.git.clone().flatten().as_ref(),
            &self.cell,
            &self.statement,
            &params,
        )
    }
}

/// The properties of one commit. Secret-looking parameters are dropped; the statement and
/// parameter values are cut to their bounds.
pub fn build(
    user: &str,
    notebook: Option<&Notebook>,
    git: Option<&GitState>,
    cell: &CellOrigin,
    statement: &str,
    params: &[(String, String)],
) -> CommitLineage {
    let mut p = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        p.insert(k.to_string(), v);
    };
    put(keys::ENGINE_NAME, ENGINE_NAME.to_string());
    put(keys::ENGINE_VERSION, ENGINE_VERSION.to_string());
    if !user.is_empty() {
        put(keys::USER, user.to_string());
    }
    if let Some(nb) = notebook {
        put(keys::NOTEBOOK, nb.path.display().to_string());
        put(keys::RUNNER, nb.runner.to_string());
    }
    if let Some(g) = git {
        put(keys::GIT_COMMIT, g.commit.clone());
        put(keys::GIT_DIRTY, g.dirty.to_string());
        if let Some(b) = &g.branch {
            put(keys::GIT_BRANCH, b.clone());
        }
        if let Some(path) = &g.path {
            put(keys::GIT_PATH, path.clone());
        }
        if let Some(r) = &g.remote {
            put(keys::GIT_REMOTE, r.clone());
        }
    }
    if let Some(id) = &cell.cell_id {
        put(keys::CELL_ID, truncate(id, 200));
    }
    if let Some(n) = cell.execution_count {
        put(keys::EXECUTION_COUNT, n.to_string());
    }
    if !statement.is_empty() {
        put(keys::STATEMENT, truncate(statement, MAX_STATEMENT_CHARS));
    }
    for (name, value) in params {
        if !is_secret_name(name) {
            put(
                &format!("{}{name}", keys::PARAM_PREFIX),
                truncate(value, MAX_PARAM_CHARS),
            );
        }
    }
    CommitLineage {
        author: (!user.is_empty()).then(|| user.to_string()),
        properties: p,
    }
}

/// True for a parameter name that looks like it holds a secret (`api_token`, `db_password`,
/// `aws_secret`, anything with `key`): its value never reaches metadata.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["key", "token", "secret", "password", "passwd", "credential"]
        .iter()
        .any(|w| n.contains(w))
}

/// `text` cut to `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// `JUPYTERHUB_USER`, else the OS user (from the environment, else the password database).
pub fn current_user(get: impl Fn(&str) -> Option<String>) -> String {
    ["JUPYTERHUB_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| get(k).filter(|v| !v.trim().is_empty()))
        .or_else(os_user)
        .unwrap_or_default()
}

fn os_user() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy the name out
    // immediately on this thread.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_str()
            .ok()
            .map(str::to_string)
    }
}

/// The notebook of this session: `JPY_SESSION_NAME` (jupyter_server sets it), else the
/// notebook given to the parent process when it is nbconvert, papermill or `jupyter execute`
/// (read from `/proc`, so Linux only).
pub fn detect_notebook() -> Option<Notebook> {
    if let Ok(name) = std::env::var("JPY_SESSION_NAME") {
        if !name.trim().is_empty() {
            let p = PathBuf::from(&name);
            let path = if p.is_absolute() {
                p
            } else {
                std::env::current_dir().ok()?.join(p)
            };
            return Some(Notebook {
                path,
                runner: "jupyter-server",
            });
        }
    }
    let ppid = std::os::unix::process::parent_id();
    let cmdline = std::fs::read(format!("/proc/{ppid}/cmdline")).ok()?;
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cwd = std::fs::read_link(format!("/proc/{ppid}/cwd")).ok();
    notebook_from_args(&args, cwd.as_deref())
}

/// The input notebook in the command line of nbconvert, papermill or `jupyter execute`.
pub fn notebook_from_args(args: &[String], cwd: Option<&Path>) -> Option<Notebook> {
    let runner = args.iter().take(3).find_map(|a| {
        let base = a.rsplit('/').next().unwrap_or(a);
        match base {
            "papermill" => Some("papermill"),
            "jupyter-nbconvert" | "nbconvert" => Some("nbconvert"),
            "jupyter-execute" => Some("jupyter-execute"),
            _ => None,
        }
    })?;
    // Options whose value is a separate argument (the value may end in .ipynb too).
    const TAKES_ONE: &[&str] = &["--output", "-o", "--output-dir", "--cwd", "-k", "--kernel"];
    const TAKES_TWO: &[&str] = &["-p", "--parameters", "-r", "--parameters_raw"];
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if TAKES_TWO.contains(&a.as_str()) {
            i += 3;
            continue;
        }
        if TAKES_ONE.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') && a.ends_with(".ipynb") {
            let p = PathBuf::from(a);
            let path = match (p.is_absolute(), cwd) {
                (true, _) => p,
                (false, Some(c)) => c.join(p),
                (false, None) => std::env::current_dir().ok()?.join(p),
            };
            return Some(Notebook { path, runner });
        }
        i += 1;
    }
    None
}

/// The id of the first code cell of `notebook` (after cell `after`, else from the start)
/// whose source is `code`: how a cell run by nbclient, which sends no cell id, is named.
pub fn cell_id_in(notebook: &Path, code: &str, after: Option<usize>) -> Option<(usize, String)> {
    let text = std::fs::read_to_string(notebook).ok()?;
    let nb: serde_json::Value = serde_json::from_str(&text).ok()?;
    let cells = nb.get("cells")?.as_array()?;
    let source = |c: &serde_json::Value| -> Option<String> {
        match c.get("source")? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(lines) => Some(
                lines
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect::<String>(),
            ),
            _ => None,
        }
    };
    let is_match = |c: &serde_json::Value| {
        c.get("cell_type").and_then(|t| t.as_str()) == Some("code")
            && source(c).as_deref() == Some(code)
    };
    let start = after.map_or(0, |a| a + 1);
    let found = cells
        .iter()
        .enumerate()
        .skip(start)
        .find(|(_, c)| is_match(c))
        // A cell run again out of order: the first match anywhere.
        .or_else(|| cells.iter().enumerate().find(|(_, c)| is_match(c)))?;
    let id = found.1.get("id")?.as_str()?.to_string();
    Some((found.0, id))
}

/// The parameter names of papermill's injected cell (a `-- Parameters` line, then only
/// `SET name = …;` statements, as the lakehouse translator writes it); `None` for any other
/// cell.
pub fn injected_parameters(code: &str) -> Option<Vec<String>> {
    let mut lines = code.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next()? != "-- Parameters" {
        return None;
    }
    let mut names = vec![];
    for l in lines {
        if l.starts_with("--") {
            continue;
        }
        l.get(..4).filter(|s| s.eq_ignore_ascii_case("SET "))?;
        let name: String = l[4..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            return None;
        }
        names.push(name.to_ascii_lowercase());
    }
    Some(names)
}

/// Runs `git` in `dir` and returns its trimmed output when it succeeds within
/// [`GIT_TIMEOUT`]; `None` when git is missing, fails or hangs.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // Reading must not take the index lock a user's own git command may need.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + GIT_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                use std::io::Read;
                child.stdout.take()?.read_to_string(&mut out).ok()?;
                return status.success().then(|| out.trim().to_string());
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The git state of the file at `path`, when it lies in a git work tree with a commit.
pub fn git_state(path: &Path) -> Option<GitState> {
    let dir = path.parent()?;
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    let commit = git(dir, &["rev-parse", "--verify", "-q", "HEAD"])?;
    let branch = git(dir, &["symbolic-ref", "--short", "-q", "HEAD"]).filter(|b| !b.is_empty());
    let name = path.file_name()?;
    let status = git(
        dir,
        &[
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--",
            &name.to_string_lossy(),
        ],
    );
    // A status we could not read counts as dirty: "clean" must be true when written.
    let dirty = status.is_none_or(|s| !s.is_empty());
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let top = std::fs::canonicalize(&top).unwrap_or(top);
    let rel = real
        .strip_prefix(&top)
        .ok()
        .map(|r| r.to_string_lossy().replace('\\', "/"));
    let remote = git(dir, &["config", "--get", "remote.origin.url"])
        .filter(|r| !r.is_empty())
        .map(|r| without_credentials(&r));
    Some(GitState {
        commit,
        branch,
        dirty,
        path: rel,
        remote,
    })
}

/// A remote URL without `user:password@` (`https://tok@host/x` → `https://host/x`).
pub fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        // scp-like `git@host:org/repo.git`: the user names no secret.
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn secret_names_are_left_out() {
        for n in [
            "api_token",
            "db_password",
            "aws_secret",
            "api_key",
            "KEY",
            "sshkeyfile",
            "Github_Token",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["database_name", "num_events", "branch", "environment"] {
            assert!(!is_secret_name(n), "{n}");
        }
        let l = build(
            "ann",
            None,
            None,
            &CellOrigin::default(),
            "INSERT INTO t VALUES (1)",
            &[
                ("num_events".into(), "100".into()),
                ("api_token".into(), "s3cr3t".into()),
                ("warehouse_key".into(), "abc".into()),
            ],
        );
        assert_eq!(l.properties["lakehouse.param.num_events"], "100");
        assert!(!l
            .properties
            .keys()
            .any(|k| k.contains("token") || k.contains("key")));
        assert!(!l.properties.values().any(|v| v == "s3cr3t" || v == "abc"));
        assert_eq!(l.author.as_deref(), Some("ann"));
        assert_eq!(l.properties["engine-name"], "lakehouse-kernel");
        assert_eq!(l.properties["engine-version"], ENGINE_VERSION);
    }

    #[test]
    fn statement_and_values_are_bounded() {
        let long = "x".repeat(MAX_STATEMENT_CHARS + 500);
        let l = build(
            "",
            None,
            None,
            &CellOrigin {
                cell_id: Some("c1".into()),
                execution_count: Some(4),
            },
            &long,
            &[("p".into(), "é".repeat(MAX_PARAM_CHARS * 2))],
        );
        let s = &l.properties[keys::STATEMENT];
        assert_eq!(s.chars().count(), MAX_STATEMENT_CHARS + 1);
        assert!(s.ends_with('…'));
        assert_eq!(
            l.properties["lakehouse.param.p"].chars().count(),
            MAX_PARAM_CHARS + 1
        );
        assert_eq!(l.properties[keys::CELL_ID], "c1");
        assert_eq!(l.properties[keys::EXECUTION_COUNT], "4");
        // No user: no author and no user key.
        assert!(l.author.is_none() && !l.properties.contains_key(keys::USER));
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn user_is_the_hub_user_then_the_os_user() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            current_user(env(&[("JUPYTERHUB_USER", "ann"), ("USER", "jovyan")])),
            "ann"
        );
        assert_eq!(current_user(env(&[("USER", "jovyan")])), "jovyan");
        // Neither set: the password database has the user this test runs as.
        assert!(!current_user(env(&[])).is_empty());
    }

    #[test]
    fn notebook_from_nbconvert_and_papermill_command_lines() {
        let cwd = Path::new("/work/repo");
        let nb = notebook_from_args(
            &args("/v/bin/python /v/bin/jupyter-nbconvert --to notebook --execute a.ipynb --output out.ipynb"),
            Some(cwd),
        )
        .unwrap();
        assert_eq!(nb.path, Path::new("/work/repo/a.ipynb"));
        assert_eq!(nb.runner, "nbconvert");
        let nb = notebook_from_args(
            &args("/v/bin/python /v/bin/papermill -p x y.ipynb /abs/in.ipynb out.ipynb"),
            Some(cwd),
        )
        .unwrap();
        assert_eq!(nb.path, Path::new("/abs/in.ipynb"));
        assert_eq!(nb.runner, "papermill");
        assert!(notebook_from_args(&args("/usr/bin/python x.ipynb"), Some(cwd)).is_none());
        assert!(notebook_from_args(
            &args("/v/bin/python /v/bin/jupyter-nbconvert --output a.ipynb"),
            Some(cwd)
        )
        .is_none());
    }

    #[test]
    fn injected_parameter_cells_are_recognised() {
        assert_eq!(
            injected_parameters("-- Parameters\nSET num_events = 100;\nSET Api_Token = 'x';\n"),
            Some(vec!["num_events".to_string(), "api_token".to_string()])
        );
        assert_eq!(injected_parameters("SET a = 1;"), None);
        assert_eq!(
            injected_parameters("-- Parameters\nSET a = 1;\nINSERT INTO t VALUES (1);"),
            None
        );
    }

    #[test]
    fn credentials_leave_remote_urls() {
        assert_eq!(
            without_credentials("https://user:ghp_abc@github.com/org/repo.git"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            without_credentials("https://github.com/org/repo.git"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            without_credentials("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }

    fn sh(dir: &Path, cmd: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(cmd)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {cmd:?}");
    }

    #[test]
    fn git_state_of_committed_and_changed_notebooks() {
        let dir = std::env::temp_dir().join(format!("lh-lineage-git-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nbs")).unwrap();
        let (a, b) = (dir.join("nbs/a.ipynb"), dir.join("nbs/b.ipynb"));
        // Not a repository yet: no git state, nothing fails.
        std::fs::write(&a, "{}").unwrap();
        assert_eq!(git_state(&a), None);
        sh(&dir, &["init", "-q", "-b", "work"]);
        sh(
            &dir,
            &[
                "remote",
                "add",
                "origin",
                "https://me:tok@example.com/r.git",
            ],
        );
        std::fs::write(&b, "{}").unwrap();
        sh(&dir, &["add", "."]);
        sh(&dir, &["commit", "-q", "-m", "both"]);
        std::fs::write(&b, "{\"changed\": 1}").unwrap();
        let head = git(&dir, &["rev-parse", "HEAD"]).unwrap();
        let sa = git_state(&a).unwrap();
        assert_eq!(sa.commit, head);
        assert_eq!(sa.branch.as_deref(), Some("work"));
        assert!(!sa.dirty, "a.ipynb is committed as it is");
        assert_eq!(sa.path.as_deref(), Some("nbs/a.ipynb"));
        assert_eq!(sa.remote.as_deref(), Some("https://example.com/r.git"));
        let sb = git_state(&b).unwrap();
        assert!(sb.dirty, "b.ipynb has uncommitted changes");
        // An untracked notebook is dirty too.
        let c = dir.join("nbs/c.ipynb");
        std::fs::write(&c, "{}").unwrap();
        assert!(git_state(&c).unwrap().dirty);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn cell_ids_are_found_by_source_in_order() {
        let dir = std::env::temp_dir().join(format!("lh-lineage-nb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let nb = dir.join("n.ipynb");
        std::fs::write(
            &nb,
            r#"{"cells": [
                {"cell_type": "markdown", "id": "m", "source": "SELECT 1"},
                {"cell_type": "code", "id": "one", "source": ["SELECT 1"]},
                {"cell_type": "code", "id": "two", "source": ["INSERT INTO t\n", "VALUES (1)"]},
                {"cell_type": "code", "id": "three", "source": "SELECT 1"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(cell_id_in(&nb, "SELECT 1", None), Some((1, "one".into())));
        assert_eq!(
            cell_id_in(&nb, "INSERT INTO t\nVALUES (1)", Some(1)),
            Some((2, "two".into()))
        );
        assert_eq!(
            cell_id_in(&nb, "SELECT 1", Some(2)),
            Some((3, "three".into()))
        );
        // Run again after the last one: the first match.
        assert_eq!(
            cell_id_in(&nb, "SELECT 1", Some(3)),
            Some((1, "one".into()))
        );
        assert_eq!(cell_id_in(&nb, "SELECT 2", None), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tracker_names_the_cell_and_the_injected_parameters() {
        let mut t = Tracker {
            user: "ann".into(),
            ..Tracker::default()
        };
        t.begin_cell(
            CellOrigin {
                cell_id: None,
                execution_count: Some(1),
            },
            "-- Parameters\nSET n = 5;\nSET db_password = 'x';",
        );
        t.begin_cell(
            CellOrigin {
                cell_id: Some("lab-cell".into()),
                execution_count: Some(2),
            },
            "INSERT INTO t VALUES ($n)",
        );
        t.begin_statement("  INSERT INTO t VALUES ($n) ");
        let l = t.commit_lineage(|n| match n {
            "n" => Some("5".into()),
            "db_password" => Some("x".into()),
            _ => None,
        });
        assert_eq!(l.properties[keys::STATEMENT], "INSERT INTO t VALUES ($n)");
        assert_eq!(l.properties[keys::CELL_ID], "lab-cell");
        assert_eq!(l.properties["lakehouse.param.n"], "5");
        assert!(!l.properties.contains_key("lakehouse.param.db_password"));
        assert!(!l.properties.contains_key(keys::NOTEBOOK));
    }
}

//! Rust cells (`%%rust`): evcxr's `CommandContext` on a thread of its own, with the
//! `lakehouse` client crate loaded so cells can query and feed the SQL session.
//!
//! evcxr runs cells in a child process (our own binary, through `evcxr::runtime_hook`);
//! what the child prints is streamed to the cell while it runs. The child reaches the
//! session through [`bridge`]. Compiled dependencies are cached under
//! `LAKEHOUSE_RUST_CACHE` by evcxr's rustc wrapper, so only the first kernel of a user (or
//! `lakehouse-kernel prepare-rust`, run by `install`) compiles Arrow.

mod bridge;
mod child;
mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

pub use bridge::{remove_stale_dirs, Bridge, Current, CurrentCell};
pub use child::filter_child_stdout;

use super::{Output, Session};
use crate::error::{CellError, ErrorKind};

/// The client crate's sources, written out for evcxr (it needs a crate on disk).
const CLIENT_FILES: [(&str, &str); 3] = [
    ("Cargo.toml", include_str!("../../../client/Cargo.toml")),
    ("src/lib.rs", include_str!("../../../client/src/lib.rs")),
    ("src/wire.rs", include_str!("../../../client/src/wire.rs")),
];

/// evcxr's compile cache size limit (MiB): Arrow and friends take about 200 MiB.
const CACHE_MIB: u64 = 4096;

/// Completion candidates for a Rust cell: (text, kind), and the replaced range (bytes).
pub type RustCompletions = (Vec<(String, String)>, usize, usize);

enum Job {
    Execute {
        code: String,
        reply: oneshot::Sender<Result<evcxr::EvalOutputs, evcxr::Error>>,
    },
    Complete {
        code: String,
        pos: usize,
        reply: oneshot::Sender<Option<RustCompletions>>,
    },
    Hover {
        code: String,
        pos: usize,
        reply: oneshot::Sender<Option<(String, String)>>,
    },
}

/// State shared by the engine, its worker thread and the output forwarder.
struct Shared {
    current: CurrentCell,
    running: AtomicBool,
    interrupted: AtomicBool,
    /// The message of a panic in the running cell (from the client crate's panic hook).
    panic: Mutex<Option<String>>,
    /// The running cell returned an error through `?` (see [`child`]).
    user_error: AtomicBool,
    /// The last lines the running cell wrote to stderr (a `?` error's text is among them).
    stderr_tail: Mutex<Vec<String>>,
    /// Held by the forwarder while it moves lines, so a finished cell can take the rest.
    forwarding: Mutex<()>,
    stdout: crossbeam_channel::Receiver<String>,
    stderr: crossbeam_channel::Receiver<String>,
}

/// A Rust session: one evcxr context and its child process.
pub struct RustEngine {
    jobs: std::sync::mpsc::Sender<Job>,
    child: Arc<Mutex<std::process::Child>>,
    shared: Arc<Shared>,
    /// The child was restarted (crash or interrupt): its panic hook needs installing again.
    restarted: AtomicBool,
    _bridge: Option<Bridge>,
    /// The lock on this kernel's work folder (see [`claim_work_dir`]).
    _work: std::fs::File,
}

/// Why Rust cells cannot run here, or `None` when cargo and rustc are on PATH.
pub fn missing_tools() -> Option<String> {
    let missing: Vec<&str> = ["cargo", "rustc"]
        .into_iter()
        .filter(|t| find_on_path(t).is_none())
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "%%rust cells need Rust's {} on PATH, and {} not found (PATH={}). Install Rust with rustup \
         (https://rustup.rs; it puts cargo and rustc in ~/.cargo/bin), make sure the kernel's PATH \
         includes that folder, and restart the kernel. SQL cells keep working meanwhile",
        missing.join(" and "),
        if missing.len() == 1 { "it was" } else { "they were" },
        std::env::var("PATH").unwrap_or_default()
    ))
}

fn find_on_path(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// The folder of the toolchain's `libstd-*.so` (`rustc --print target-libdir`).
///
/// evcxr links each cell as a cdylib with `-C prefer-dynamic` and cargo's relative RUNPATH to
/// that folder. The RUNPATH is computed for `target/…/debug/deps/`, but the copy evcxr loads is
/// the one cargo uplifts to `debug/`, one level up: wherever the Rust cache and the toolchain
/// share a parent folder below `/` (the usual `~/.cache/lakehouse/rust` beside `~/.rustup`), the
/// path misses and `dlopen` fails. The child gets this folder on `LD_LIBRARY_PATH`, which the
/// loader searches before RUNPATH, so every layout works.
fn rust_libdir(cwd: &Path) -> std::io::Result<PathBuf> {
    let out = std::process::Command::new("rustc")
        .args(["--print", "target-libdir"])
        .current_dir(cwd)
        .output()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !dir.is_dir() {
        return Err(std::io::Error::other(format!(
            "`rustc --print target-libdir` answered {:?} ({}): check that rustup's toolchain is installed (rustup show)",
            dir,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(dir)
}

/// `LD_LIBRARY_PATH` for the Rust cells' process: `libdir` first, then what the kernel had.
fn library_path(libdir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![libdir.to_path_buf()];
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
        dirs.extend(std::env::split_paths(&old).filter(|d| d != libdir));
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| libdir.as_os_str().to_owned())
}

/// A short hash of the client crate's sources: names its folder and the "prepared" marker.
fn client_hash() -> String {
    let mut h = Sha256::new();
    for (name, text) in CLIENT_FILES {
        h.update(name.as_bytes());
        h.update(text.as_bytes());
    }
    hex::encode(&h.finalize()[..6])
}

/// Writes the client crate under `cache` (once per version) and returns its folder.
fn write_client(cache: &Path) -> std::io::Result<PathBuf> {
    let dir = cache.join(format!("client-{}", client_hash()));
    if !dir.join("src/wire.rs").is_file() {
        for (name, text) in CLIENT_FILES {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().expect("a file in a folder"))?;
            std::fs::write(p, text)?;
        }
    }
    Ok(dir)
}

/// Marks a cache whose Arrow is compiled: keyed by the client's dependencies (its
/// Cargo.toml), since a change to its sources alone recompiles only the small client crate.
fn prepared_marker(cache: &Path) -> PathBuf {
    let deps = hex::encode(&Sha256::digest(CLIENT_FILES[0].1.as_bytes())[..6]);
    cache.join(format!("prepared-{deps}"))
}

/// Whether the client crate's dependencies are already compiled in `cache`.
pub fn is_prepared(cache: &Path) -> bool {
    prepared_marker(cache).is_file()
}

impl RustEngine {
    /// Starts evcxr with the client crate loaded. Blocks (seconds; minutes when the cache is
    /// cold): call it off the async runtime. `session` is what the bridge serves (none for
    /// [`prepare`]).
    pub fn start(
        session: Option<Arc<dyn Session>>,
        rt: &tokio::runtime::Handle,
        cache: &Path,
    ) -> Result<RustEngine, CellError> {
        if let Some(why) = missing_tools() {
            return Err(CellError::new(ErrorKind::RustUnavailable, why));
        }
        let setup_error = |what: &str, e: &dyn std::fmt::Display| {
            CellError::new(
                ErrorKind::RustSetup,
                format!("the Rust environment could not be started: {what}: {e}"),
            )
        };
        std::fs::create_dir_all(cache)
            .map_err(|e| setup_error(&format!("cannot create {}", cache.display()), &e))?;
        let client = write_client(cache).map_err(|e| {
            setup_error(
                &format!("cannot write the client crate under {}", cache.display()),
                &e,
            )
        })?;
        let current: CurrentCell = Arc::new(Mutex::new(None));
        let bridge = session
            .map(|s| Bridge::start(rt, s, current.clone()))
            .transpose()
            .map_err(|e| setup_error("cannot open the session's socket", &e))?;
        let mut command = std::process::Command::new(
            std::env::current_exe().map_err(|e| setup_error("cannot find this program", &e))?,
        );
        if let Some(b) = &bridge {
            command
                .env(lakehouse::wire::BRIDGE_ENV, &b.path)
                .env(lakehouse::wire::TOKEN_ENV, &b.token);
        }
        let work = claim_work_dir(cache)
            .map_err(|e| setup_error(&format!("no work folder under {}", cache.display()), &e))?;
        // Asked where evcxr's cargo runs, so a rustup override there picks the same toolchain.
        let libdir = rust_libdir(&work.0)
            .map_err(|e| setup_error("cannot ask rustc where its libstd is", &e))?;
        command.env("LD_LIBRARY_PATH", library_path(&libdir));
        // evcxr reads its crate folder from this variable only (a user's own value wins).
        // Starts in one process take turns, so each evcxr reads its own folder.
        let _starting = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        if *USER_TMPDIR {
            log::info!(
                "EVCXR_TMPDIR is set: evcxr builds Rust cells there, not in {}",
                work.0.display()
            );
        } else {
            std::env::set_var("EVCXR_TMPDIR", &work.0);
        }
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let setup = setup_commands(cache, &client);
        std::thread::Builder::new()
            .name("lakehouse-rust".into())
            .spawn(move || worker(command, setup, ready_tx, rx))
            .map_err(|e| setup_error("cannot start a thread", &e))?;
        let (child, outputs) = match ready_rx.recv() {
            Ok(Ok(ready)) => ready,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(setup_error("the Rust thread stopped", &"no reason given")),
        };
        let shared = Arc::new(Shared {
            current,
            running: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            panic: Mutex::new(None),
            user_error: AtomicBool::new(false),
            stderr_tail: Mutex::new(Vec::new()),
            forwarding: Mutex::new(()),
            stdout: outputs.stdout,
            stderr: outputs.stderr,
        });
        {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("lakehouse-rust-out".into())
                .spawn(move || forward(&shared))
                .map_err(|e| setup_error("cannot start a thread", &e))?;
        }
        let _ = std::fs::write(prepared_marker(cache), b"");
        Ok(RustEngine {
            jobs: tx,
            child,
            shared,
            restarted: AtomicBool::new(false),
            _bridge: bridge,
            _work: work.1,
        })
    }

    /// Runs one Rust cell (without its `%%rust` line; `first_line` is the cell line it
    /// started on, for error locations). Output streams while it runs.
    pub async fn execute(
        &self,
        code: &str,
        first_line: usize,
        out: &UnboundedSender<Output>,
    ) -> Result<(), CellError> {
        if self.restarted.swap(false, Ordering::SeqCst) {
            // A new child process: the client's panic hook is gone with the old one.
            let _ = self.run("lakehouse::__install_panic_hook();").await;
        }
        *self.shared.current.lock().expect("current lock") = Some(Current {
            out: out.clone(),
            started: Instant::now(),
        });
        *self.shared.panic.lock().expect("panic lock") = None;
        self.shared.stderr_tail.lock().expect("stderr lock").clear();
        self.shared.user_error.store(false, Ordering::SeqCst);
        self.shared.interrupted.store(false, Ordering::SeqCst);
        self.shared.running.store(true, Ordering::SeqCst);
        let mut code = code.to_string();
        let mut result = self.run(&code).await;
        // A trailing value bound from an unsuffixed number: give the binding the type rustc
        // proposes and compile again (a couple of times at most).
        for _ in 0..2 {
            let Err(evcxr::Error::CompilationErrors(errors)) = &result else {
                break;
            };
            let at = report::binding_type_suggestions(errors);
            let Some(typed) = report::with_binding_types(&code, &at) else {
                break;
            };
            code = typed;
            result = self.run(&code).await;
        }
        self.shared.running.store(false, Ordering::SeqCst);
        self.finish_output();
        let panic = self.shared.panic.lock().expect("panic lock").take();
        match result {
            Ok(outputs) => {
                if let Some(message) = panic {
                    return Err(CellError::new(
                        ErrorKind::RustPanic,
                        format!("the Rust cell panicked: {message}. Variables this cell defined are dropped; earlier ones are kept, and the session goes on"),
                    ));
                }
                if self.shared.user_error.load(Ordering::SeqCst) {
                    let tail = self.shared.stderr_tail.lock().expect("stderr lock").clone();
                    return Err(question_mark_error(&tail));
                }
                let mut data: Vec<(String, String)> =
                    outputs.content_by_mime_type.into_iter().collect();
                if !data.is_empty() {
                    // text/plain last, as other kernels order their bundles.
                    data.sort_by_key(|(m, _)| (m == "text/plain", m.clone()));
                    let _ = out.send(Output::Rich(data));
                }
                Ok(())
            }
            Err(evcxr::Error::CompilationErrors(errors)) => {
                Err(report::compile_errors(&errors, &code, first_line))
            }
            Err(evcxr::Error::SubprocessTerminated(why)) => {
                self.restarted.store(true, Ordering::SeqCst);
                if self.shared.interrupted.swap(false, Ordering::SeqCst) {
                    Err(CellError::new(
                        ErrorKind::Interrupted,
                        "the Rust cell was stopped. Its process was restarted, so Rust variables are gone (functions, `use` and `:dep` are kept); SQL tables, views and parameters are untouched",
                    ))
                } else {
                    Err(CellError::new(
                        ErrorKind::RustProcessCrashed,
                        format!(
                            "the Rust process ended ({}). It was restarted: Rust variables are gone (functions, `use` and `:dep` are kept); SQL tables, views and parameters are untouched",
                            why.trim().lines().last().unwrap_or("no reason given")
                        ),
                    ))
                }
            }
            Err(evcxr::Error::TypeRedefinedVariablesLost(vars)) => Err(CellError::new(
                ErrorKind::RustStateLost,
                format!(
                    "a type this cell redefined was used by variables {}, which are gone now; define them again",
                    vars.join(", ")
                ),
            )),
            Err(evcxr::Error::Message(m)) => Err(CellError::new(ErrorKind::Rust, m.trim().to_string())),
        }
    }

    async fn run(&self, code: &str) -> Result<evcxr::EvalOutputs, evcxr::Error> {
        let code = code.to_string();
        self.ask(|reply| Job::Execute { code, reply })
            .await
            .unwrap_or_else(|| Err(evcxr::Error::Message("the Rust thread has stopped".into())))
    }

    /// Sends a job to the evcxr thread and waits for its answer (`None`: the thread is gone).
    async fn ask<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        self.jobs.send(job(reply)).ok()?;
        rx.await.ok()
    }

    /// Takes what the child printed that the forwarder has not moved yet, then detaches the
    /// cell: later prints (a thread the cell left running) are not shown in it.
    fn finish_output(&self) {
        // stderr comes through evcxr's own reader thread: give it a moment to catch up.
        std::thread::sleep(Duration::from_millis(5));
        let _moving = self.shared.forwarding.lock().expect("forwarding lock");
        let lines: Vec<(bool, String)> = self
            .shared
            .stdout
            .try_iter()
            .map(|l| (false, l))
            .chain(self.shared.stderr.try_iter().map(|l| (true, l)))
            .collect();
        deliver(&self.shared, lines);
        *self.shared.current.lock().expect("current lock") = None;
    }

    /// Stops the running cell by ending the child process (evcxr restarts it).
    pub fn interrupt(&self) {
        if self.shared.running.load(Ordering::SeqCst) {
            self.shared.interrupted.store(true, Ordering::SeqCst);
            let _ = self.child.lock().expect("child lock").kill();
        }
    }

    /// Completion candidates at byte offset `pos` of `code`.
    pub async fn complete(&self, code: &str, pos: usize) -> Option<RustCompletions> {
        let code = code.to_string();
        self.ask(|reply| Job::Complete { code, pos, reply })
            .await
            .flatten()
    }

    /// Documentation (plain, html) of what is at byte offset `pos` of `code`.
    pub async fn inspect(&self, code: &str, pos: usize) -> Option<(String, String)> {
        let code = code.to_string();
        self.ask(|reply| Job::Hover { code, pos, reply })
            .await
            .flatten()
    }
}

/// Held while evcxr starts: it reads EVCXR_TMPDIR, which [`RustEngine::start`] sets.
static STARTING: Mutex<()> = Mutex::new(());

/// Whether EVCXR_TMPDIR came from the user (before any start set it).
static USER_TMPDIR: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var_os("EVCXR_TMPDIR").is_some());

/// The most kernels on one machine whose Rust cells keep their compiled state between runs.
const WORK_DIRS: usize = 32;

/// A folder for evcxr's crate, `cache/work/N`, held (a file lock, which ends with the
/// process however it ends) for this kernel's life. Kept between kernels: the next kernel
/// in it finds the client crate and Arrow built and links its first cell seconds sooner,
/// and a killed kernel leaves no 140 MB temporary folder behind.
fn claim_work_dir(cache: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let root = cache.join("work");
    std::fs::create_dir_all(&root)?;
    for n in 0..WORK_DIRS {
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join(format!("{n}.lock")))?;
        match lock.try_lock() {
            Ok(()) => {
                let dir = root.join(n.to_string());
                std::fs::create_dir_all(&dir)?;
                return Ok((dir, lock));
            }
            Err(std::fs::TryLockError::WouldBlock) => continue,
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "all {WORK_DIRS} are in use by running kernels; stop one, or point LAKEHOUSE_RUST_CACHE elsewhere"
    )))
}

/// The evcxr commands that load the client crate with the compile cache on.
fn setup_commands(cache: &Path, client: &Path) -> String {
    let path = toml::Value::String(client.display().to_string()).to_string();
    // The rustc wrapper finds its cache through XDG_CACHE_HOME (evcxr uses dirs::cache_dir).
    // The `let` and the trailing value are for evcxr's rust-analyzer: its first type
    // inference and method lookup over the client's Arrow take seconds, and are better spent
    // here than in the user's first cells.
    format!(
        ":cache {CACHE_MIB}\n:build_env XDG_CACHE_HOME={}\n:dep lakehouse = {{ path = {path} }}\nuse lakehouse::prelude::*;\nlakehouse::__install_panic_hook();\nlet _lakehouse_ready: bool = true;\n_lakehouse_ready",
        cache.display()
    )
}

type Ready = (Arc<Mutex<std::process::Child>>, evcxr::EvalContextOutputs);

/// The thread that owns the evcxr context (it is not `Send`) and runs its jobs in order.
fn worker(
    command: std::process::Command,
    setup: String,
    ready: std::sync::mpsc::Sender<Result<Ready, CellError>>,
    jobs: std::sync::mpsc::Receiver<Job>,
) {
    let started = evcxr::EvalContext::with_subprocess_command(command)
        .map_err(|e| {
            let why = format!("{e:#}");
            // cargo's reason goes to the kernel's log; the usual one is a Cargo workspace above.
            let hint = if why.contains("Failed to load the project") {
                ". If the Rust cache (LAKEHOUSE_RUST_CACHE) is inside a Cargo workspace, point it at a folder outside or add it to that workspace's `exclude`; cargo's message is in the kernel's log"
            } else {
                ""
            };
            CellError::new(
                ErrorKind::RustSetup,
                format!(
                    "evcxr could not start its Rust process: {}{hint}",
                    why.trim()
                ),
            )
        })
        .map(|(eval, outputs)| (evcxr::CommandContext::with_eval_context(eval), outputs));
    let (mut ctx, outputs) = match started {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if let Err(e) = ctx.execute(&setup) {
        // Compiler output of a failed setup is on evcxr's stderr channel.
        let detail: Vec<String> = outputs.stderr.try_iter().collect();
        let _ = ready.send(Err(CellError::new(
            ErrorKind::RustSetup,
            format!(
                "the lakehouse client crate could not be built ({}); check that cargo can reach crates.io (or its mirror) to fetch Arrow. {}",
                e.to_string().trim(),
                detail.join("\n")
            ),
        )));
        return;
    }
    // Setup printed nothing worth showing; drop it before the first cell.
    while outputs.stdout.try_recv().is_ok() {}
    while outputs.stderr.try_recv().is_ok() {}
    let _ = ready.send(Ok((ctx.process_handle(), outputs)));
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Execute { code, reply } => {
                let _ = reply.send(ctx.execute(&code));
            }
            Job::Complete { code, pos, reply } => {
                let c = ctx.completions(&code, pos).ok().map(|c| {
                    let items = c
                        .completions
                        .into_iter()
                        .map(|i| (i.code, i.kind.to_string()))
                        .collect();
                    (items, c.start_offset, c.end_offset)
                });
                let _ = reply.send(c);
            }
            Job::Hover { code, pos, reply } => {
                let _ = reply.send(ctx.hover_at(&code, pos).ok().filter(|(p, _)| !p.is_empty()));
            }
        }
    }
}

/// Moves the child's output to the running cell as it arrives.
fn forward(shared: &Shared) {
    loop {
        let _moving = shared.forwarding.lock().expect("forwarding lock");
        let first = crossbeam_channel::select! {
            recv(shared.stdout) -> l => l.map(|l| (false, l)),
            recv(shared.stderr) -> l => l.map(|l| (true, l)),
            default(Duration::from_millis(10)) => continue,
        };
        let Ok(first) = first else {
            return; // evcxr is gone
        };
        // Coalesce a burst of lines into few messages.
        let mut lines = vec![first];
        while lines.len() < 1000 {
            match (shared.stdout.try_recv(), shared.stderr.try_recv()) {
                (Err(_), Err(_)) => break,
                (o, e) => {
                    lines.extend(o.ok().map(|l| (false, l)));
                    lines.extend(e.ok().map(|l| (true, l)));
                }
            }
        }
        deliver(shared, lines);
    }
}

/// Sends lines to the running cell, merging neighbours of the same stream; a panic marker
/// is kept for the cell's error instead.
fn deliver(shared: &Shared, lines: Vec<(bool, String)>) {
    let cell = shared.current.lock().expect("current lock").clone();
    let mut pending: Option<(bool, String)> = None;
    let flush = |p: Option<(bool, String)>| {
        if let (Some((stderr, text)), Some(c)) = (p, &cell) {
            let _ = c.out.send(Output::Stream { stderr, text });
        }
    };
    for (stderr, line) in lines {
        if !stderr && line == child::USER_ERROR_MARKER {
            shared.user_error.store(true, Ordering::SeqCst);
            continue;
        }
        if let Some(m) = line
            .strip_prefix(lakehouse::PANIC_MARKER)
            .filter(|_| !stderr)
        {
            *shared.panic.lock().expect("panic lock") = Some(unescape(m));
            continue;
        }
        if stderr {
            let mut tail = shared.stderr_tail.lock().expect("stderr lock");
            if tail.len() == 20 {
                tail.remove(0);
            }
            tail.push(line.clone());
        }
        match &mut pending {
            Some((s, text)) if *s == stderr => {
                text.push_str(&line);
                text.push('\n');
            }
            _ => {
                flush(pending.take());
                pending = Some((stderr, format!("{line}\n")));
            }
        }
    }
    flush(pending);
}

/// Undoes the panic hook's escaping (`\\` → `\`, `\n` → newline).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The error of a cell that returned early through `?`: evcxr printed the error's Display on
/// stderr just before; a `Kind: message` (the client crate's errors) keeps its kind.
fn question_mark_error(stderr_tail: &[String]) -> CellError {
    let text = stderr_tail
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "(no message)".into());
    if let Some((kind, message)) = text.split_once(": ") {
        let is_kind = kind.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && kind.chars().all(|c| c.is_ascii_alphanumeric());
        if is_kind {
            return CellError::new(ErrorKind::from_ename(kind), message.to_string());
        }
    }
    CellError::new(
        ErrorKind::Rust,
        format!("the cell stopped at a `?` with this error: {text}"),
    )
}

/// Compiles the client crate and its Arrow dependencies into `cache` now, so the first Rust
/// cell of a kernel starts in seconds. Returns how long it took.
pub fn prepare(cache: &Path) -> Result<Duration, CellError> {
    prepare_now(cache).map_err(|m| ErrorKind::RustSetup.error(m))
}

fn prepare_now(cache: &Path) -> Result<Duration, String> {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let engine = RustEngine::start(None, rt.handle(), cache).map_err(|e| e.evalue)?;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    rt.block_on(engine.execute("let _ = lakehouse::wire::MAX_PARTS;", 1, &tx))
        .map_err(|e| e.evalue)?;
    Ok(started.elapsed())
}

/// Splits a cell into its kind and code: `%%rust` / `%%sql` on the first line pick the
/// engine, otherwise `default_rust` does. Returns (is_rust, code, line the code starts on).
pub fn cell_kind(cell: &str, default_rust: bool) -> (bool, &str, usize) {
    let trimmed = cell.trim_start_matches([' ', '\t', '\r', '\n']);
    let skipped = cell.len() - trimmed.len();
    let lines_before = cell[..skipped].matches('\n').count();
    let first = trimmed.lines().next().unwrap_or("").trim_end();
    fn after_first(t: &str) -> &str {
        t.split_once('\n').map_or("", |(_, rest)| rest)
    }
    if first == "%%rust" {
        return (true, after_first(trimmed), lines_before + 2);
    }
    if default_rust && first != "%%sql" && !first.starts_with("%%sql ") {
        return (true, cell, 1);
    }
    (false, cell, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_kinds() {
        assert_eq!(
            cell_kind("%%rust\nlet x = 1;", false),
            (true, "let x = 1;", 2)
        );
        assert_eq!(cell_kind("\n%%rust  \nx", false), (true, "x", 3));
        assert_eq!(cell_kind("SELECT 1", false), (false, "SELECT 1", 1));
        assert_eq!(cell_kind("let x = 1;", true), (true, "let x = 1;", 1));
        assert_eq!(
            cell_kind("%%sql\nSELECT 1", true),
            (false, "%%sql\nSELECT 1", 1)
        );
        assert!(!cell_kind("%%sql --chart bar\nSELECT 1", true).0);
        // A %%rust further down is not a cell magic.
        assert!(!cell_kind("SELECT 1;\n%%rust", false).0);
    }

    #[test]
    fn panic_messages_unescape() {
        assert_eq!(unescape("a\\nb \\\\n"), "a\nb \\n");
    }

    #[test]
    fn question_mark_errors_keep_the_client_crate_kinds() {
        let e = question_mark_error(&["TableNotFound: table x does not exist".into(), "".into()]);
        assert_eq!(
            (e.ename(), e.evalue.as_str()),
            ("TableNotFound", "table x does not exist")
        );
        let e = question_mark_error(&["invalid digit found in string".into()]);
        assert_eq!(e.ename(), "RustError");
        assert!(
            e.evalue.contains("invalid digit found in string"),
            "{}",
            e.evalue
        );
    }

    #[test]
    fn each_kernel_gets_a_work_folder_of_its_own_and_the_next_one_reuses_it() {
        let cache = std::env::temp_dir().join(format!("lh-work-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let (a, lock_a) = claim_work_dir(&cache).unwrap();
        let (b, _lock_b) = claim_work_dir(&cache).unwrap();
        assert_eq!(a, cache.join("work/0"));
        assert_eq!(b, cache.join("work/1"));
        std::fs::write(a.join("kept"), b"").unwrap();
        drop(lock_a);
        let (again, _lock) = claim_work_dir(&cache).unwrap();
        assert_eq!(again, a);
        assert!(again.join("kept").exists());
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn the_cells_process_finds_the_toolchains_libstd_first() {
        let libdir = rust_libdir(Path::new(".")).expect("rustc on PATH in the tests");
        let has_std = std::fs::read_dir(&libdir)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"));
        assert!(has_std, "no libstd-*.so in {}", libdir.display());
        let path = library_path(&libdir);
        assert_eq!(std::env::split_paths(&path).next().unwrap(), libdir);
    }

    #[test]
    fn the_client_is_written_once_per_version() {
        let dir = std::env::temp_dir().join(format!("lh-client-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = write_client(&dir).unwrap();
        assert!(a.join("Cargo.toml").is_file() && a.join("src/lib.rs").is_file());
        assert_eq!(write_client(&dir).unwrap(), a);
        assert!(!is_prepared(&dir));
        let setup = setup_commands(&dir, &a);
        assert!(setup.contains(":dep lakehouse = { path = \""), "{setup}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

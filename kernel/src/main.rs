//! `lakehouse-kernel`: run the kernel, or install/uninstall its kernelspec.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use lakehouse_kernel::install::{self, Target};
use lakehouse_kernel::settings::Settings;

#[derive(Parser)]
#[command(
    name = "lakehouse-kernel",
    version,
    about = "A Jupyter kernel for SQL on an Iceberg lakehouse (DataFusion + iceberg-rust)",
    long_about = "A Jupyter kernel for SQL on an Iceberg lakehouse (DataFusion + iceberg-rust).\n\n\
        Install the kernelspec with `lakehouse-kernel install`, then pick \"Lakehouse (SQL)\" \
        in JupyterLab. Settings come from LAKEHOUSE_* environment variables or the config \
        file named by LAKEHOUSE_CONFIG (see README)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the kernel (this is what kernel.json calls).
    Run {
        /// The connection file written by the Jupyter client.
        #[arg(long = "connection-file", short = 'f')]
        connection_file: PathBuf,
        /// Cells are Rust unless they start with `%%sql` (the "Lakehouse (Rust)" kernelspec).
        #[arg(long)]
        rust: bool,
    },
    /// Install the kernelspecs so Jupyter can start this kernel: NAME (SQL cells, `%%rust`
    /// for Rust) and NAME-rust (Rust cells, `%%sql` for SQL), then compile the Rust cells'
    /// dependencies once (see prepare-rust).
    Install {
        #[command(flatten)]
        target: TargetArgs,
        /// Kernelspec name.
        #[arg(long, default_value = "lakehouse")]
        name: String,
        /// Name shown in the JupyterLab launcher.
        #[arg(long, default_value = "Lakehouse (SQL)")]
        display_name: String,
        /// Name of the Rust kernelspec in the launcher.
        #[arg(long, default_value = "Lakehouse (Rust)")]
        rust_display_name: String,
        /// Neither the Rust kernelspec nor the Rust preparation.
        #[arg(long)]
        no_rust: bool,
        /// Install the Rust kernelspec but do not compile the Rust cells' dependencies now
        /// (the first Rust cell, or prepare-rust, does it).
        #[arg(long)]
        no_prepare: bool,
        /// Start the kernel as `python -m lakehouse_kernel_glue`, which runs the
        /// `lakehouse-kernel` of the Python environment Jupyter runs in, instead of this
        /// binary's absolute path (what the wheel's kernelspecs do).
        #[arg(long)]
        python_launcher: bool,
    },
    /// Compile the Rust cells' client crate and Arrow into LAKEHOUSE_RUST_CACHE now, so the
    /// first Rust cell of each kernel starts in seconds.
    PrepareRust,
    /// Remove installed kernelspecs (NAME and NAME-rust).
    Uninstall {
        #[command(flatten)]
        target: TargetArgs,
        /// Kernelspec name.
        #[arg(long, default_value = "lakehouse")]
        name: String,
    },
    /// Print the active settings (secrets redacted) and exit.
    Settings {
        /// Print the README's settings table (every setting, its config key, default and
        /// meaning) instead of the values in force.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Args)]
#[group(multiple = false)]
struct TargetArgs {
    /// Install for the current user (default).
    #[arg(long)]
    user: bool,
    /// Install into the active Python environment (VIRTUAL_ENV / CONDA_PREFIX / python3).
    #[arg(long)]
    sys_prefix: bool,
    /// Install under DIR/share/jupyter/kernels.
    #[arg(long, value_name = "DIR")]
    prefix: Option<PathBuf>,
}

impl TargetArgs {
    fn target(&self) -> Target {
        match (&self.prefix, self.sys_prefix) {
            (Some(p), _) => Target::Prefix(p.clone()),
            (None, true) => Target::SysPrefix,
            _ => Target::User,
        }
    }
}

fn main() -> ExitCode {
    // evcxr re-runs this binary as its child process and as a rustc wrapper: those never
    // return from here. In the child, stdout first goes through a filter that lets the
    // kernel see cells that failed through `?`.
    lakehouse_kernel::engines::rust::filter_child_stdout();
    evcxr::runtime_hook();
    // Credentials never reach the log, whatever RUST_LOG says.
    lakehouse_kernel::logging::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            connection_file,
            rust,
        } => run(connection_file, rust),
        Command::Install {
            target,
            name,
            display_name,
            rust_display_name,
            no_rust,
            no_prepare,
            python_launcher,
        } => install_all(
            &target.target(),
            &name,
            (&display_name, &rust_display_name),
            !no_rust,
            !no_prepare,
            python_launcher,
        ),
        Command::PrepareRust => prepare_rust(),
        Command::Uninstall { target, name } => {
            let rust = format!("{name}-rust");
            // The Rust kernelspec may never have been installed (--no-rust).
            let _ = install::uninstall(&target.target(), &rust)
                .map(|dir| println!("Removed kernelspec {rust} from {}", dir.display()));
            install::uninstall(&target.target(), &name)
                .map(|dir| println!("Removed kernelspec {name} from {}", dir.display()))
                .map_err(|e| e.evalue)
        }
        Command::Settings { markdown: true } => {
            print!("{}", lakehouse_kernel::settings::defs::markdown_table());
            Ok(())
        }
        Command::Settings { markdown: false } => {
            Settings::from_env().map_err(|e| e.to_string()).map(|s| {
                for row in s.rows() {
                    println!("{:<26} {}", row.env, row.value);
                }
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lakehouse-kernel: {e}");
            ExitCode::FAILURE
        }
    }
}

fn install_all(
    target: &Target,
    name: &str,
    (display_name, rust_display_name): (&str, &str),
    rust: bool,
    prepare: bool,
    python_launcher: bool,
) -> Result<(), String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?;
    let launcher = if python_launcher {
        install::Launcher::PythonModule
    } else {
        install::Launcher::Binary(&exe)
    };
    let dir =
        install::install(target, name, display_name, launcher, false).map_err(|e| e.evalue)?;
    println!("Installed kernelspec {name} in {}", dir.display());
    if !rust {
        return Ok(());
    }
    let rust_name = format!("{name}-rust");
    let dir = install::install(target, &rust_name, rust_display_name, launcher, true)
        .map_err(|e| e.evalue)?;
    println!("Installed kernelspec {rust_name} in {}", dir.display());
    if !prepare {
        return Ok(());
    }
    // Rust cells are optional: the SQL kernel is installed whatever happens here.
    if let Some(why) = lakehouse_kernel::engines::rust::missing_tools() {
        println!("Rust cells are not prepared: {why}");
        return Ok(());
    }
    if let Err(e) = prepare_rust() {
        println!("Rust cells are not prepared ({e}); the first Rust cell will try again");
    }
    Ok(())
}

fn prepare_rust() -> Result<(), String> {
    use lakehouse_kernel::engines::rust;
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    let cache = &settings.rust_cache;
    if rust::is_prepared(cache) {
        println!("The Rust environment in {} is ready", cache.display());
        return Ok(());
    }
    println!(
        "Preparing the Rust environment in {} (compiling the lakehouse client crate and Arrow; a few minutes, once)…",
        cache.display()
    );
    let took = rust::prepare(cache).map_err(|e| e.evalue)?;
    println!(
        "The Rust environment is ready ({:.0} s)",
        took.as_secs_f64()
    );
    Ok(())
}

fn run(connection_file: PathBuf, rust_default: bool) -> Result<(), String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    lakehouse_kernel::logging::add_secrets(settings.secrets());
    // DataFusion gets its own multi-threaded runtime; the sockets run on a small one, so
    // control and heartbeat answer while a query keeps every engine thread busy.
    // CPU_LIMIT (or LAKEHOUSE_CPU_LIMIT) sizes it: max(1, ceil(cores)); else one per core.
    let mut engine_rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = settings.limits.engine_threads() {
        engine_rt.worker_threads(n);
    }
    // Statements as deep as the kernel allows recurse that deep while planning and running.
    let stack = lakehouse_kernel::engines::sql::depth::ENGINE_STACK_BYTES;
    let engine_rt = engine_rt
        .thread_name("lakehouse-engine")
        .thread_stack_size(stack)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the engine runtime: {e}"))?;
    let io_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("lakehouse-io")
        // is_complete_request parses cells here, as deep as the engine does.
        .thread_stack_size(stack)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the socket runtime: {e}"))?;
    let handle = engine_rt.handle().clone();
    let result = io_rt.block_on(lakehouse_kernel::server::run(
        &connection_file,
        settings,
        handle,
        rust_default,
    ));
    // Do not wait for in-flight engine work at exit.
    engine_rt.shutdown_background();
    io_rt.shutdown_background();
    result.map_err(|e| e.evalue)
}

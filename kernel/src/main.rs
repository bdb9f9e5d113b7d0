//! `lakehouse-kernel`: run the kernel, or install/uninstall its kernelspec.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use lakehouse_kernel::config::Settings;
use lakehouse_kernel::install::{self, Target};

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
    },
    /// Install the kernelspec so Jupyter can start this kernel.
    Install {
        #[command(flatten)]
        target: TargetArgs,
        /// Kernelspec name.
        #[arg(long, default_value = "lakehouse")]
        name: String,
        /// Name shown in the JupyterLab launcher.
        #[arg(long, default_value = "Lakehouse (SQL)")]
        display_name: String,
    },
    /// Remove an installed kernelspec.
    Uninstall {
        #[command(flatten)]
        target: TargetArgs,
        /// Kernelspec name.
        #[arg(long, default_value = "lakehouse")]
        name: String,
    },
    /// Print the active settings (secrets redacted) and exit.
    Settings,
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
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { connection_file } => run(connection_file),
        Command::Install {
            target,
            name,
            display_name,
        } => std::env::current_exe()
            .map_err(|e| format!("cannot find this program's path: {e}"))
            .and_then(|exe| install::install(&target.target(), &name, &display_name, &exe))
            .map(|dir| println!("Installed kernelspec {name} in {}", dir.display())),
        Command::Uninstall { target, name } => install::uninstall(&target.target(), &name)
            .map(|dir| println!("Removed kernelspec {name} from {}", dir.display())),
        Command::Settings => Settings::from_env().map_err(|e| e.to_string()).map(|s| {
            for row in s.rows() {
                println!("{:<26} {}", row.env, row.value);
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lakehouse-kernel: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(connection_file: PathBuf) -> Result<(), String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    // DataFusion gets its own multi-threaded runtime; the sockets run on a small one, so
    // control and heartbeat answer while a query keeps every engine thread busy.
    // CPU_LIMIT (or LAKEHOUSE_CPU_LIMIT) sizes it: max(1, ceil(cores)); else one per core.
    let mut engine_rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = settings.limits.engine_threads() {
        engine_rt.worker_threads(n);
    }
    let engine_rt = engine_rt
        .thread_name("lakehouse-engine")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the engine runtime: {e}"))?;
    let io_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("lakehouse-io")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the socket runtime: {e}"))?;
    let handle = engine_rt.handle().clone();
    let result = io_rt.block_on(lakehouse_kernel::server::run(
        &connection_file,
        settings,
        handle,
    ));
    // Do not wait for in-flight engine work at exit.
    engine_rt.shutdown_background();
    io_rt.shutdown_background();
    result
}

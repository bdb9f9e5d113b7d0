//! Installing and removing the kernelspec (kernel.json and logos).

use std::path::{Path, PathBuf};

use crate::error::{CellError, ErrorKind};

/// kernel.json template; `@LAKEHOUSE_KERNEL@` and `@DISPLAY_NAME@` are filled in.
const KERNEL_JSON: &str = include_str!("../../kernelspec/kernel.json");
const LOGOS: [(&str, &[u8]); 3] = [
    (
        "logo-32x32.png",
        include_bytes!("../../kernelspec/logo-32x32.png"),
    ),
    (
        "logo-64x64.png",
        include_bytes!("../../kernelspec/logo-64x64.png"),
    ),
    (
        "logo-svg.svg",
        include_bytes!("../../kernelspec/logo-svg.svg"),
    ),
];

/// Where a kernelspec goes, as `jupyter kernelspec install` names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The user's Jupyter data folder (`JUPYTER_DATA_DIR` or the platform default).
    User,
    /// The active Python environment (`VIRTUAL_ENV`, `CONDA_PREFIX`, or `python3`'s prefix).
    SysPrefix,
    /// `<prefix>/share/jupyter/kernels`.
    Prefix(PathBuf),
}

/// The kernels folder for `target`.
pub fn kernels_dir(target: &Target) -> Result<PathBuf, CellError> {
    kernels_dir_text(target).map_err(|m| ErrorKind::Install.error(m))
}

fn kernels_dir_text(target: &Target) -> Result<PathBuf, String> {
    Ok(match target {
        Target::User => user_data_dir()?.join("kernels"),
        Target::SysPrefix => sys_prefix()?.join("share/jupyter/kernels"),
        Target::Prefix(p) => p.join("share/jupyter/kernels"),
    })
}

fn user_data_dir() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("JUPYTER_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let home = dirs::home_dir().ok_or("cannot find the home folder; use --prefix DIR")?;
    Ok(if cfg!(target_os = "macos") {
        home.join("Library/Jupyter")
    } else if cfg!(windows) {
        dirs::data_dir()
            .ok_or("cannot find the data folder; use --prefix DIR")?
            .join("jupyter")
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".local/share"))
            .join("jupyter")
    })
}

fn sys_prefix() -> Result<PathBuf, String> {
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .map_err(|e| {
            format!("--sys-prefix needs an active environment or python3 on PATH ({e}); use --prefix DIR")
        })?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || p.is_empty() {
        return Err("python3 did not report sys.prefix; use --prefix DIR".into());
    }
    Ok(PathBuf::from(p))
}

/// How a kernelspec's argv starts the kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Launcher<'a> {
    /// This binary, by its absolute path (a source build: install again after moving it).
    Binary(&'a Path),
    /// `python -m lakehouse_kernel_glue`: Jupyter replaces `python` by its own interpreter,
    /// whose environment's `bin/` holds the binary. The wheel's kernelspecs use this, since a
    /// wheel's data files cannot know where the environment will be.
    PythonModule,
}

/// The module behind [`Launcher::PythonModule`] (kernelspec/python/lakehouse_kernel_glue).
pub const PYTHON_MODULE: &str = "lakehouse_kernel_glue";

/// Writes the kernelspec `name` started by `launcher`; `rust` makes its cells Rust unless
/// they start with `%%sql`. Returns the folder written.
pub fn install(
    target: &Target,
    name: &str,
    display_name: &str,
    launcher: Launcher,
    rust: bool,
) -> Result<PathBuf, CellError> {
    install_text(target, name, display_name, launcher, rust)
        .map_err(|m| ErrorKind::Install.error(m))
}

fn install_text(
    target: &Target,
    name: &str,
    display_name: &str,
    launcher: Launcher,
    rust: bool,
) -> Result<PathBuf, String> {
    validate_name(name)?;
    let dir = kernels_dir_text(target)?.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let json = if rust {
        rust_kernel_json_text(display_name, launcher)?
    } else {
        kernel_json_text(display_name, launcher)?
    };
    write(&dir.join("kernel.json"), json.as_bytes())?;
    for (file, bytes) in LOGOS {
        write(&dir.join(file), bytes)?;
    }
    Ok(dir)
}

/// Removes the kernelspec `name`. Returns the folder removed, or an error if absent.
pub fn uninstall(target: &Target, name: &str) -> Result<PathBuf, CellError> {
    uninstall_text(target, name).map_err(|m| ErrorKind::Install.error(m))
}

fn uninstall_text(target: &Target, name: &str) -> Result<PathBuf, String> {
    validate_name(name)?;
    let dir = kernels_dir_text(target)?.join(name);
    if !dir.join("kernel.json").is_file() {
        return Err(format!("no kernelspec '{name}' at {}", dir.display()));
    }
    std::fs::remove_dir_all(&dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    Ok(dir)
}

/// The kernel.json text for `launcher` (JSON-escaped, so any path works).
pub fn kernel_json(display_name: &str, launcher: Launcher) -> Result<String, CellError> {
    kernel_json_text(display_name, launcher).map_err(|m| ErrorKind::Install.error(m))
}

fn kernel_json_text(display_name: &str, launcher: Launcher) -> Result<String, String> {
    let quote = |s: &str| {
        let q = serde_json::to_string(s).expect("string serializes");
        q[1..q.len() - 1].to_string()
    };
    let exe = match launcher {
        Launcher::Binary(exe) => exe
            .to_str()
            .ok_or_else(|| format!("the kernel path {} is not UTF-8", exe.display()))?,
        Launcher::PythonModule => "python",
    };
    let text = KERNEL_JSON
        .replace("@LAKEHOUSE_KERNEL@", &quote(exe))
        .replace("@DISPLAY_NAME@", &quote(display_name));
    // Fail here rather than leave a kernelspec Jupyter cannot read.
    let mut v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("internal error: kernel.json is not valid JSON: {e}"))?;
    if launcher == Launcher::PythonModule {
        if let Some(argv) = v["argv"].as_array_mut() {
            argv.splice(1..1, ["-m".into(), PYTHON_MODULE.into()]);
        }
        return serde_json::to_string_pretty(&v).map_err(|e| e.to_string());
    }
    Ok(text)
}

/// The kernel.json of the Rust kernelspec: `run --rust`, language `rust`.
pub fn rust_kernel_json(display_name: &str, launcher: Launcher) -> Result<String, CellError> {
    rust_kernel_json_text(display_name, launcher).map_err(|m| ErrorKind::Install.error(m))
}

fn rust_kernel_json_text(display_name: &str, launcher: Launcher) -> Result<String, String> {
    let mut v: serde_json::Value = serde_json::from_str(&kernel_json_text(display_name, launcher)?)
        .expect("checked by kernel_json");
    if let Some(argv) = v["argv"].as_array_mut() {
        let run = argv
            .iter()
            .position(|a| a == "run")
            .expect("the template runs `run`");
        argv.insert(run + 1, "--rust".into());
    }
    v["language"] = "rust".into();
    v["metadata"]["lakehouse"]["cell_language"] = "rust".into();
    serde_json::to_string_pretty(&v).map_err(|e| e.to_string())
}

fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "kernel name '{name}' is not valid: use letters, digits, '-', '_' and '.'"
        ))
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_json_has_the_binary_and_message_interrupts() {
        let text = kernel_json(
            "Lakehouse (SQL)",
            Launcher::Binary(Path::new("/opt/x \"y\"/lakehouse-kernel")),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["argv"][0], "/opt/x \"y\"/lakehouse-kernel");
        assert_eq!(v["argv"][3], "{connection_file}");
        assert_eq!(v["interrupt_mode"], "message");
        assert_eq!(v["language"], "sql");
        assert_eq!(v["display_name"], "Lakehouse (SQL)");
    }

    #[test]
    fn the_wheels_kernelspecs_start_the_kernel_through_python() {
        let sql: serde_json::Value =
            serde_json::from_str(&kernel_json("Lakehouse (SQL)", Launcher::PythonModule).unwrap())
                .unwrap();
        let argv: Vec<&str> = sql["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            argv,
            [
                "python",
                "-m",
                PYTHON_MODULE,
                "run",
                "--connection-file",
                "{connection_file}"
            ]
        );
        let rust: serde_json::Value = serde_json::from_str(
            &rust_kernel_json("Lakehouse (Rust)", Launcher::PythonModule).unwrap(),
        )
        .unwrap();
        assert_eq!(rust["argv"][3], "run");
        assert_eq!(rust["argv"][4], "--rust");
        assert_eq!(rust["argv"][6], "{connection_file}");
        assert_eq!(rust["language"], "rust");
    }

    #[test]
    fn install_and_uninstall_in_a_prefix() {
        let dir = std::env::temp_dir().join(format!("lh-install-{}", std::process::id()));
        let t = Target::Prefix(dir.clone());
        let spec = install(
            &t,
            "lakehouse",
            "Lakehouse (SQL)",
            Launcher::Binary(Path::new("/bin/true")),
            false,
        )
        .unwrap();
        assert!(spec.join("kernel.json").is_file());
        assert!(spec.join("logo-64x64.png").is_file());
        uninstall(&t, "lakehouse").unwrap();
        assert!(!spec.exists());
        assert!(uninstall(&t, "lakehouse").is_err());
        assert!(install(
            &t,
            "../evil",
            "x",
            Launcher::Binary(Path::new("/bin/true")),
            false
        )
        .is_err());
        let rust = install(
            &t,
            "lakehouse-rust",
            "Lakehouse (Rust)",
            Launcher::Binary(Path::new("/bin/true")),
            true,
        )
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(rust.join("kernel.json")).unwrap())
                .unwrap();
        assert_eq!(v["argv"][1], "run");
        assert_eq!(v["argv"][2], "--rust");
        assert_eq!(v["argv"][4], "{connection_file}");
        assert_eq!(v["language"], "rust");
        let _ = std::fs::remove_dir_all(dir);
    }
}

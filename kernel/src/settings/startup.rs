//! Where the start-up files come from (`LAKEHOUSE_STARTUP_DIR`, `LAKEHOUSE_STARTUP_FILE`):
//! resolved with no I/O. Running them is the session's (`crate::session::startup`).

use std::path::{Path, PathBuf};

use super::defs::Id;

/// Where start-up files come from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StartupSettings {
    /// The team's folder (`LAKEHOUSE_STARTUP_DIR` / `startup_dir`).
    pub dir: Option<PathBuf>,
    /// The user's own file (`LAKEHOUSE_STARTUP_FILE` / `startup_file`, or the default).
    pub file: Option<PathBuf>,
    /// Whether `file` was named by a setting (then a missing file is reported).
    pub file_explicit: bool,
}

impl StartupSettings {
    /// Resolves the settings: the environment wins over the config file's values.
    pub fn resolve(
        get: &dyn Fn(&str) -> Option<String>,
        file_dir: Option<PathBuf>,
        file_file: Option<PathBuf>,
    ) -> Self {
        let dir = get(Id::StartupDir.env())
            .map(PathBuf::from)
            .or(file_dir)
            .filter(|p| !is_none(p))
            .map(|p| expand(&p));
        let (file, file_explicit) =
            match get(Id::StartupFile.env()).map(PathBuf::from).or(file_file) {
                Some(p) if is_none(&p) => (None, true),
                Some(p) => (Some(expand(&p)), true),
                None => (
                    dirs::config_dir().map(|d| d.join("lakehouse").join("startup.sql")),
                    false,
                ),
            };
        StartupSettings {
            dir,
            file,
            file_explicit,
        }
    }

    /// The value of a start-up setting as `SHOW SETTINGS` words it (`None`: not set; also
    /// for settings that are not about start-up files). The default file is marked
    /// `(not there)` when it does not exist.
    pub fn value(&self, id: Id) -> Option<String> {
        match id {
            Id::StartupDir => self.dir.as_ref().map(|d| d.display().to_string()),
            Id::StartupFile => Some(match &self.file {
                None => "none".into(),
                Some(f) if self.file_explicit || f.is_file() => f.display().to_string(),
                Some(f) => format!("{} (not there)", f.display()),
            }),
            _ => None,
        }
    }
}

fn is_none(p: &Path) -> bool {
    p.as_os_str().eq_ignore_ascii_case("none")
}

/// `~/x` → the home folder's `x`; relative paths against the working directory.
fn expand(p: &Path) -> PathBuf {
    let p = match p.strip_prefix("~") {
        Ok(rest) => dirs::home_dir().map_or_else(|| p.to_path_buf(), |h| h.join(rest)),
        Err(_) => p.to_path_buf(),
    };
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map_or(p.clone(), |d| d.join(&p))
    }
}

//! The settings' former path, kept while `engines/sql` and `server.rs` (edited by others at
//! the same time) still import from here; new code imports `crate::settings`. Remove this
//! file once nothing names `crate::config`.

pub use crate::settings::{
    CatalogKind, ConfigError, RestSettings, S3Settings, SettingRow, Settings,
    DEFAULT_MAX_COL_WIDTH, DEFAULT_MAX_ROWS,
};

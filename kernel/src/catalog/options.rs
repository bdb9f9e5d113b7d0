//! The kernel's own session options, set per session with `SET lakehouse.<name> = …` (a
//! DataFusion config extension, so DataFusion's `SET` stores them).

use datafusion::common::extensions_options;
use datafusion::config::{ConfigExtension, ConfigOptions};
use datafusion::error::{DataFusionError, Result};

pub use crate::settings::IcebergReader as Reader;

extensions_options! {
    /// `lakehouse.*` session options.
    pub struct LakehouseOptions {
        /// Which reader reads Iceberg data files: `datafusion` (DataFusion's Parquet reader:
        /// page-index pruning, filters applied while decoding) or `iceberg` (iceberg-rust's
        /// reader, as before; files with delete files always use it).
        pub iceberg_reader: String, default = "datafusion".to_string()
    }
}

impl ConfigExtension for LakehouseOptions {
    const PREFIX: &'static str = "lakehouse";
}

/// The reader the session's options choose (DataFusion's when the extension is not
/// registered, as in a bare `SessionContext`).
pub fn iceberg_reader(options: &ConfigOptions) -> Result<Reader> {
    let Some(o) = options.extensions.get::<LakehouseOptions>() else {
        return Ok(Reader::DataFusion);
    };
    Reader::parse(&o.iceberg_reader).ok_or_else(|| {
        DataFusionError::Configuration(format!(
            "lakehouse.iceberg_reader is '{}'; set it to 'datafusion' or 'iceberg', e.g. SET lakehouse.iceberg_reader = 'iceberg'",
            o.iceberg_reader.trim().to_ascii_lowercase()
        ))
    })
}

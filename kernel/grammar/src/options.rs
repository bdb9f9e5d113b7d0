//! The values of the session settings a statement can change (`SET lakehouse.dialect`,
//! `SET lakehouse.iceberg_reader`): read here, where the statements are parsed, and by the
//! kernel's settings for the environment and the config file, so both take the same names.

/// Which reader reads Iceberg data files (`LAKEHOUSE_ICEBERG_READER`,
/// `lakehouse.iceberg_reader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcebergReader {
    /// DataFusion's Parquet reader (files with delete files still get iceberg-rust's).
    DataFusion,
    /// iceberg-rust's reader for every file.
    Iceberg,
}

impl IcebergReader {
    /// The reader a value names (`datafusion` or `iceberg`, any case): the one place the names
    /// are read, for the environment, the config file and `SET lakehouse.iceberg_reader`.
    pub fn parse(value: &str) -> Option<IcebergReader> {
        match value.trim().to_ascii_lowercase().as_str() {
            "datafusion" => Some(IcebergReader::DataFusion),
            "iceberg" => Some(IcebergReader::Iceberg),
            _ => None,
        }
    }

    /// The name [`IcebergReader::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            IcebergReader::DataFusion => "datafusion",
            IcebergReader::Iceberg => "iceberg",
        }
    }
}

/// Whose SQL semantics a session follows where Spark and DataFusion differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Spark's answers, for SQL pasted from `spark.sql(...)`.
    #[default]
    Spark,
    /// DataFusion's own semantics.
    DataFusion,
}

impl Dialect {
    /// `spark` or `datafusion` (any case).
    pub fn parse(v: &str) -> Option<Self> {
        match v.trim().to_ascii_lowercase().as_str() {
            "spark" => Some(Dialect::Spark),
            "datafusion" => Some(Dialect::DataFusion),
            _ => None,
        }
    }

    /// The name settings and `SET lakehouse.dialect` use.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::DataFusion => "datafusion",
        }
    }
}

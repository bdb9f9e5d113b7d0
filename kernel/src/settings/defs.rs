//! One definition per setting: its environment variable, its config-file key (and the type
//! the file holds), its default and its meaning, written once in [`settings!`] below.
//!
//! Everything that lists settings comes from here, so a new setting cannot be half added:
//! the config file's keys ([`FileSettings`], which refuses unknown keys), the order and
//! masking of the `SHOW SETTINGS` / `lakehouse-kernel settings` rows
//! ([`Settings::rows`](super::Settings::rows) matches on every [`Id`]), and the settings
//! table of README.md ([`markdown_table`]; a test fails when the README differs). The shape
//! is ripgrep's `crates/core/flags/defs.rs`, where every flag is defined once.
//!
//! Adding a setting: an entry here (in the place its row should have), its resolution in
//! `settings/mod.rs` (or `limits.rs` / `startup.rs`), its value in `Settings::value`, then
//! `lakehouse-kernel settings --markdown` pasted over the README's table.

use std::path::PathBuf;

use serde::Deserialize;

/// What is known about one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Def {
    /// Which setting (the same order as [`ALL`]).
    pub id: Id,
    /// The environment variable.
    pub env: &'static str,
    /// Its key in the config file, if the file can set it.
    pub key: Option<&'static str>,
    /// Whether the value is a credential: shown as `(set, hidden)` and kept out of the log.
    pub secret: bool,
    /// The default, as the README says it (markdown).
    pub default: &'static str,
    /// What it does, as the README says it (markdown).
    pub meaning: &'static str,
}

/// Writes the setting definitions once and generates from them: [`Id`], [`ALL`] and
/// [`FileSettings`] (the config file's keys with their types, in definition order).
macro_rules! settings {
    (@key) => { None };
    (@key $key:ident) => { Some(stringify!($key)) };
    (@secret) => { false };
    (@secret $secret:literal) => { $secret };
    ($(
        $(#[doc = $doc:literal])*
        $id:ident {
            env: $env:literal,
            $(key: $key:ident as $ty:ty,)?
            $(secret: $secret:literal,)?
            default: $default:literal,
            meaning: $meaning:literal $(,)?
        }
    ),* $(,)?) => {
        /// Every setting by name; the discriminant is its place in [`ALL`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Id {
            $( $(#[doc = $doc])* $id, )*
        }

        /// Every setting, in the order `SHOW SETTINGS` and the README list them.
        pub const ALL: &[Def] = &[
            $(
                Def {
                    id: Id::$id,
                    env: $env,
                    key: settings!(@key $($key)?),
                    secret: settings!(@secret $($secret)?),
                    default: $default,
                    meaning: $meaning,
                },
            )*
        ];

        /// The config file, as written by a user: every key optional, unknown keys refused
        /// (serde names the keys it expected).
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileSettings {
            $($(
                #[doc = concat!("`", stringify!($key), "`: the file's value for `", $env, "`.")]
                pub $key: Option<$ty>,
            )?)*
        }
    };
}

settings! {
    /// The config file that was read.
    Config {
        env: "LAKEHOUSE_CONFIG",
        default: "`~/.config/lakehouse/config.toml`",
        meaning: "Path of the TOML config file",
    },
    /// Folder of the embedded catalog.
    Home {
        env: "LAKEHOUSE_HOME",
        key: home as PathBuf,
        default: "`~/.local/share/lakehouse`",
        meaning: "Folder of the embedded catalog (`catalog.db`) and, by default, the warehouse",
    },
    /// Where table data is written.
    Warehouse {
        env: "LAKEHOUSE_WAREHOUSE",
        key: warehouse as String,
        default: "`$LAKEHOUSE_HOME/warehouse`",
        meaning: "Where table data and metadata files are written",
    },
    /// Schema of unqualified table names.
    DefaultSchema {
        env: "LAKEHOUSE_DEFAULT_SCHEMA",
        key: default_schema as String,
        default: "`default`",
        meaning: "Schema for table names written without one",
    },
    /// Rows shown per result.
    MaxRows {
        env: "LAKEHOUSE_MAX_ROWS",
        key: max_rows as usize,
        default: "`50`",
        meaning: "Rows shown per result; longer results say \"showing N of M rows\"",
    },
    /// Characters shown per value.
    MaxColWidth {
        env: "LAKEHOUSE_MAX_COL_WIDTH",
        key: max_col_width as usize,
        default: "`60`",
        meaning: "Characters shown per value before it is cut",
    },
    /// Which catalog.
    Catalog {
        env: "LAKEHOUSE_CATALOG",
        key: catalog as String,
        default: "`nessie` if `NESSIE_URI` is set, else `embedded`",
        meaning: "Which catalog: `embedded`, `nessie` or `rest` (any Iceberg REST catalog)",
    },
    /// Nessie's address.
    NessieUri {
        env: "NESSIE_URI",
        key: nessie_uri as String,
        default: "—",
        meaning: "Nessie REST API v2 address, e.g. `http://nessie:19120/api/v2`",
    },
    /// Nessie branch or tag.
    NessieRef {
        env: "NESSIE_REF",
        key: nessie_ref as String,
        default: "`main`",
        meaning: "Branch or tag the session starts on",
    },
    /// Nessie bearer token.
    NessieAuthenticationToken {
        env: "NESSIE_AUTHENTICATION_TOKEN",
        key: nessie_authentication_token as String,
        secret: true,
        default: "—",
        meaning: "Bearer token for Nessie (never shown)",
    },
    /// Iceberg REST catalog address.
    RestUri {
        env: "LAKEHOUSE_REST_URI",
        key: rest_uri as String,
        default: "—",
        meaning: "Iceberg REST catalog address without `/v1`, e.g. `http://nessie:19120/iceberg` (needed for `rest`)",
    },
    /// Warehouse asked of the REST server.
    RestWarehouse {
        env: "LAKEHOUSE_REST_WAREHOUSE",
        key: rest_warehouse as String,
        default: "server's default",
        meaning: "Warehouse the REST server should use: its name (Nessie, Polaris, Lakekeeper) or `s3://TABLE-BUCKET` (SeaweedFS)",
    },
    /// REST bearer token.
    RestToken {
        env: "LAKEHOUSE_REST_TOKEN",
        key: rest_token as String,
        secret: true,
        default: "—",
        meaning: "Bearer token for the REST catalog (never shown)",
    },
    /// REST OAuth2 client credentials.
    RestCredential {
        env: "LAKEHOUSE_REST_CREDENTIAL",
        key: rest_credential as String,
        secret: true,
        default: "—",
        meaning: "OAuth2 client credentials `client_id:secret`, exchanged for a token (never shown)",
    },
    /// REST OAuth2 token endpoint.
    RestOauth2ServerUri {
        env: "LAKEHOUSE_REST_OAUTH2_SERVER_URI",
        key: rest_oauth2_server_uri as String,
        default: "`<uri>/v1/oauth/tokens`",
        meaning: "Token endpoint for `LAKEHOUSE_REST_CREDENTIAL`",
    },
    /// REST OAuth2 scope.
    RestScope {
        env: "LAKEHOUSE_REST_SCOPE",
        key: rest_scope as String,
        default: "`catalog`",
        meaning: "OAuth2 scope asked for (Polaris: `PRINCIPAL_ROLE:ALL`)",
    },
    /// S3 access key.
    AwsAccessKeyId {
        env: "AWS_ACCESS_KEY_ID",
        key: aws_access_key_id as String,
        default: "—",
        meaning: "S3 access key for an `s3://`/`s3a://` warehouse",
    },
    /// S3 secret key.
    AwsSecretAccessKey {
        env: "AWS_SECRET_ACCESS_KEY",
        key: aws_secret_access_key as String,
        secret: true,
        default: "—",
        meaning: "S3 secret key (never shown)",
    },
    /// S3 session token.
    AwsSessionToken {
        env: "AWS_SESSION_TOKEN",
        key: aws_session_token as String,
        secret: true,
        default: "—",
        meaning: "S3 session token, for temporary credentials (never shown)",
    },
    /// S3 region.
    AwsRegion {
        env: "AWS_REGION",
        key: aws_region as String,
        default: "—",
        meaning: "S3 region (`AWS_DEFAULT_REGION` also works)",
    },
    /// S3-compatible endpoint.
    AwsEndpointUrl {
        env: "AWS_ENDPOINT_URL",
        key: aws_endpoint_url as String,
        default: "—",
        meaning: "S3-compatible endpoint (MinIO, SeaweedFS, …); unset for AWS S3",
    },
    /// Path-style S3 requests.
    S3PathStyle {
        env: "LAKEHOUSE_S3_PATH_STYLE",
        key: s3_path_style as bool,
        default: "`true` when `AWS_ENDPOINT_URL` is set",
        meaning: "Path-style S3 requests (`endpoint/bucket/key`)",
    },
    /// JupyterHub's memory limit.
    MemLimit {
        env: "MEM_LIMIT",
        default: "no limit",
        meaning: "Memory limit in bytes, as JupyterHub's spawners set it (`1G`, `512M` work too); sizes the query memory pool, see [Resource limits](#resource-limits-jupyterhub)",
    },
    /// JupyterHub's CPU limit.
    CpuLimit {
        env: "CPU_LIMIT",
        default: "all cores",
        meaning: "CPU limit in cores, as JupyterHub sets it (`1.5`, `0.5`); target partitions and engine threads are `max(1, ceil(CPU_LIMIT))`",
    },
    /// The kernel's memory limit, over `MEM_LIMIT`.
    MemoryLimit {
        env: "LAKEHOUSE_MEMORY_LIMIT",
        key: memory_limit as FileSize,
        default: "`MEM_LIMIT`",
        meaning: "Overrides `MEM_LIMIT` (`none` for no limit)",
    },
    /// The kernel's CPU limit, over `CPU_LIMIT`.
    LakehouseCpuLimit {
        env: "LAKEHOUSE_CPU_LIMIT",
        key: cpu_limit as f64,
        default: "`CPU_LIMIT`",
        meaning: "Overrides `CPU_LIMIT`",
    },
    /// DataFusion's target partitions.
    TargetPartitions {
        env: "LAKEHOUSE_TARGET_PARTITIONS",
        key: target_partitions as usize,
        default: "`ceil(CPU_LIMIT)`, else the number of cores",
        meaning: "DataFusion's target partitions alone",
    },
    /// Where queries spill.
    SpillDir {
        env: "LAKEHOUSE_SPILL_DIR",
        key: spill_dir as PathBuf,
        default: "`<temp dir>/lakehouse-spill-<user>`",
        meaning: "Where queries that outgrow the memory pool spill (made readable by you only)",
    },
    /// Cap on spilled bytes.
    SpillLimit {
        env: "LAKEHOUSE_SPILL_LIMIT",
        key: spill_limit as FileSize,
        default: "`10G`",
        meaning: "Cap on spilled bytes; `0` turns spilling off",
    },
    /// The team's start-up folder.
    StartupDir {
        env: "LAKEHOUSE_STARTUP_DIR",
        key: startup_dir as PathBuf,
        default: "—",
        meaning: "Team folder: every `*.sql` in it runs when a session opens, by file name",
    },
    /// The user's start-up file.
    StartupFile {
        env: "LAKEHOUSE_STARTUP_FILE",
        key: startup_file as PathBuf,
        default: "`~/.config/lakehouse/startup.sql`",
        meaning: "Your own start-up file, run after the team's (`none`: no file)",
    },
    /// Compiled dependencies of Rust cells.
    RustCache {
        env: "LAKEHOUSE_RUST_CACHE",
        key: rust_cache as PathBuf,
        default: "`~/.cache/lakehouse/rust`",
        meaning: "Where Rust cells keep the compiled client crate and Arrow (shared by your kernels)",
    },
    /// Local files SQL may name.
    ExternalAccess {
        env: "LAKEHOUSE_EXTERNAL_ACCESS",
        key: external_access as bool,
        default: "`true`",
        meaning: "`false` refuses, in SQL, every file path outside the warehouse and the notebook's folder (external tables, `COPY … TO`), like DuckDB's `enable_external_access = false`; see [Resource limits](#resource-limits-jupyterhub)",
    },
    /// Whose SQL semantics cells get where Spark and DataFusion differ.
    Dialect {
        env: "LAKEHOUSE_DIALECT",
        key: dialect as String,
        default: "`spark`",
        meaning: "`spark`: Spark's answers where the engines differ (`/`, arrays from 0, `concat` with NULL, Java date patterns, Spark's functions); `datafusion`: DataFusion's. `SET lakehouse.dialect = 'datafusion'` switches a session; see [Spark SQL](#spark-sql-in-ported-notebooks)",
    },
    /// Which reader reads Iceberg data files.
    IcebergReader {
        env: "LAKEHOUSE_ICEBERG_READER",
        key: iceberg_reader as String,
        default: "`datafusion`",
        meaning: "`datafusion`: DataFusion's Parquet reader (row-group and page-index pruning, filters while decoding); `iceberg`: iceberg-rust's reader (files with delete files always use it). `SET lakehouse.iceberg_reader = 'iceberg'` switches a session",
    },
    /// Turns off the COUNT(DISTINCT) optimizer rules.
    NoDistinctRewrite {
        env: "LAKEHOUSE_NO_DISTINCT_REWRITE",
        key: no_distinct_rewrite as bool,
        default: "`false`",
        meaning: "`true` turns off the kernel's `COUNT(DISTINCT)` rewrites (for benchmarks comparing DataFusion's own plan)",
    },
}

/// A size in the config file: a number of bytes or a string such as `"4G"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FileSize {
    /// A number of bytes.
    Bytes(u64),
    /// A size as text, parsed like the environment's (`4G`, `512M`, `none`).
    Text(String),
}

impl Id {
    /// This setting's definition.
    pub const fn def(self) -> &'static Def {
        &ALL[self as usize]
    }

    /// This setting's environment variable (what error messages name).
    pub const fn env(self) -> &'static str {
        self.def().env
    }

    /// This setting's config-file key; only for settings the file can hold.
    pub const fn key(self) -> &'static str {
        match self.def().key {
            Some(k) => k,
            None => panic!("this setting has no config-file key"),
        }
    }
}

/// The header of the README's settings table, which [`markdown_table`] starts with.
pub const TABLE_HEADER: &str = "| Environment variable | Config key | Default | Meaning |";

/// The README's settings table (markdown, one row per setting, a line break after each):
/// what `lakehouse-kernel settings --markdown` prints.
pub fn markdown_table() -> String {
    let mut out = format!("{TABLE_HEADER}\n| --- | --- | --- | --- |\n");
    for d in ALL {
        let key = d.key.map_or_else(|| "—".to_string(), |k| format!("`{k}`"));
        out.push_str(&format!(
            "| `{}` | {key} | {} | {} |\n",
            d.env, d.default, d.meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_index_their_definitions() {
        for (i, d) in ALL.iter().enumerate() {
            assert_eq!(d.id as usize, i, "{}", d.env);
            assert_eq!(d.id.def().env, d.env);
        }
        let envs: std::collections::BTreeSet<_> = ALL.iter().map(|d| d.env).collect();
        assert_eq!(
            envs.len(),
            ALL.len(),
            "an environment variable is defined twice"
        );
        assert_eq!(Id::MaxRows.key(), "max_rows");
        assert_eq!(Id::Config.def().key, None);
    }

    #[test]
    fn the_config_file_takes_exactly_the_defined_keys() {
        // serde lists the keys it knows when it meets an unknown one: the defined keys, in order.
        let err = toml::from_str::<FileSettings>("no_such_setting = 1\n")
            .unwrap_err()
            .to_string();
        let keys: Vec<String> = ALL
            .iter()
            .filter_map(|d| d.key)
            .map(|k| format!("`{k}`"))
            .collect();
        assert!(err.contains(&keys.join(", ")), "{err}");
    }

    /// The README's settings table is generated from the definitions: regenerate it with
    /// `lakehouse-kernel settings --markdown` when this fails.
    #[test]
    fn readme_settings_table_matches_the_definitions() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(&path).expect("README.md next to kernel/");
        let start = readme
            .find(TABLE_HEADER)
            .unwrap_or_else(|| panic!("README.md has no line {TABLE_HEADER:?}"));
        let table: String = readme[start..]
            .lines()
            .take_while(|l| l.starts_with('|'))
            .map(|l| format!("{l}\n"))
            .collect();
        let expected = markdown_table();
        if table != expected {
            let differ: Vec<String> = expected
                .lines()
                .zip(table.lines().chain(std::iter::repeat("(missing)")))
                .filter(|(e, r)| e != r)
                .map(|(e, r)| format!("  README: {r}\n  defs:   {e}"))
                .take(5)
                .collect();
            panic!(
                "README.md's settings table differs from kernel/src/settings/defs.rs \
                 ({} rows there, {} defined). Regenerate it: \
                 `cargo run --release -p lakehouse-kernel -- settings --markdown` and paste the \
                 output over the table under \"## Settings\".\nFirst differences:\n{}",
                table.lines().count().saturating_sub(2),
                ALL.len(),
                differ.join("\n")
            );
        }
    }
}

//! Settings: resolved from the environment and an optional TOML file, with no I/O beyond
//! reading that file, and no dependency on the catalog, the engines or the session.
//!
//! Every setting is defined once in [`defs`] (environment variable, config-file key,
//! default, meaning); the reader here, `SHOW SETTINGS`, `lakehouse-kernel settings` and the
//! README's table come from there. The environment wins over the file.

pub mod defs;
pub mod limits;
pub mod startup;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use defs::FileSettings;
pub use defs::{Def, Id};
pub use limits::Limits;
pub use startup::StartupSettings;

/// Display defaults; a cell can change them for its session.
pub const DEFAULT_MAX_ROWS: usize = 50;
/// Longest cell value shown before truncation, in characters.
pub const DEFAULT_MAX_COL_WIDTH: usize = 60;

/// Which Iceberg catalog the session uses.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogKind {
    /// iceberg-rust's SQL catalog on a SQLite file under `home` (the default).
    Embedded,
    /// A Nessie server (REST API v2), on a branch or tag.
    Nessie {
        uri: String,
        reference: String,
        token: Option<String>,
    },
    /// Any Iceberg REST catalog server (Nessie's `/iceberg`, Polaris, Lakekeeper, SeaweedFS, …).
    Rest(RestSettings),
}

/// Where and how to reach an Iceberg REST catalog (`LAKEHOUSE_CATALOG=rest`).
#[derive(Clone, PartialEq)]
pub struct RestSettings {
    /// Base address, without the `/v1` part (`LAKEHOUSE_REST_URI`), e.g.
    /// `http://nessie:19120/iceberg`.
    pub uri: String,
    /// The warehouse the server should use (`LAKEHOUSE_REST_WAREHOUSE`): a name for Nessie,
    /// Polaris and Lakekeeper, `s3://TABLE-BUCKET` for SeaweedFS. Unset: the server's default.
    pub warehouse: Option<String>,
    /// Bearer token sent with every request (`LAKEHOUSE_REST_TOKEN`).
    pub token: Option<String>,
    /// OAuth2 client credentials `client_id:client_secret` (`LAKEHOUSE_REST_CREDENTIAL`),
    /// exchanged for a token at the server's (or `oauth2_server_uri`'s) token endpoint.
    pub credential: Option<String>,
    /// Token endpoint for `credential`, when it is not the catalog's `/v1/oauth/tokens`
    /// (`LAKEHOUSE_REST_OAUTH2_SERVER_URI`).
    pub oauth2_server_uri: Option<String>,
    /// OAuth2 scope asked for with `credential` (`LAKEHOUSE_REST_SCOPE`; iceberg's default
    /// is `catalog`).
    pub scope: Option<String>,
}

impl std::fmt::Debug for RestSettings {
    // Secrets never reach logs or panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "(hidden)");
        f.debug_struct("RestSettings")
            .field("uri", &self.uri)
            .field("warehouse", &self.warehouse)
            .field("token", &hidden(&self.token))
            .field("credential", &hidden(&self.credential))
            .field("oauth2_server_uri", &self.oauth2_server_uri)
            .field("scope", &self.scope)
            .finish()
    }
}

/// S3 access for the warehouse, from the standard AWS variables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct S3Settings {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), which MinIO and SeaweedFS need.
    pub path_style: bool,
}

impl S3Settings {
    /// iceberg FileIO properties for these settings.
    pub fn file_io_props(&self) -> std::collections::HashMap<String, String> {
        let mut p = std::collections::HashMap::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                p.insert(k.to_string(), v.clone());
            }
        };
        put("s3.access-key-id", &self.access_key_id);
        put("s3.secret-access-key", &self.secret_access_key);
        put("s3.session-token", &self.session_token);
        put("s3.region", &self.region);
        put("s3.endpoint", &self.endpoint);
        p.insert("s3.path-style-access".into(), self.path_style.to_string());
        p
    }

    /// Only the FileIO properties the user actually set: for catalogs that hand out their
    /// own S3 settings (a REST server's table config), where a default `path-style=false`
    /// would override the server's `true`.
    pub fn file_io_props_set(&self) -> std::collections::HashMap<String, String> {
        let mut p = self.file_io_props();
        if !self.path_style && self.endpoint.is_none() {
            p.remove("s3.path-style-access");
        }
        p
    }
}

/// Resolved settings the kernel runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Folder of the embedded catalog (`catalog.db`) and, by default, its warehouse.
    pub home: PathBuf,
    /// Where table data is written: a local folder or an object-store URI.
    pub warehouse: String,
    /// Rows shown per result before "showing N of M rows".
    pub max_rows: usize,
    /// Characters shown per value before truncation.
    pub max_col_width: usize,
    /// Schema used for unqualified table names (Spark's `default`).
    pub default_schema: String,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// The catalog to open.
    pub catalog: CatalogKind,
    /// Object-store access for `s3://` / `s3a://` warehouses.
    pub s3: S3Settings,
    /// Memory, CPU and spill limits (JupyterHub's MEM_LIMIT / CPU_LIMIT and overrides).
    pub limits: Limits,
    /// Start-up files run when the SQL session opens.
    pub startup: StartupSettings,
    /// Where Rust cells keep their compiled dependencies (`LAKEHOUSE_RUST_CACHE`).
    pub rust_cache: PathBuf,
    /// DataFusion's own COUNT(DISTINCT) plans, without the kernel's rewrites
    /// (`LAKEHOUSE_NO_DISTINCT_REWRITE`).
    pub no_distinct_rewrite: bool,
    /// Whose semantics SQL cells get where Spark and DataFusion differ.
    pub dialect: Dialect,
    /// The reader of Iceberg data files a session starts with (`LAKEHOUSE_ICEBERG_READER`;
    /// `SET lakehouse.iceberg_reader` changes it).
    pub iceberg_reader: IcebergReader,
    /// SQL may name files outside the warehouse and the notebook's folder
    /// (`LAKEHOUSE_EXTERNAL_ACCESS`; on unless an admin turns it off).
    pub external_access: bool,
}

/// One row of the settings table shown by `SHOW SETTINGS` and `lakehouse-kernel settings`.
pub struct SettingRow {
    /// The setting's environment variable.
    pub env: &'static str,
    /// Its value in force, secrets masked.
    pub value: String,
}

/// What a secret that is set shows.
const HIDDEN: &str = "(set, hidden)";
/// What a setting that is not set (and has no value of its own) shows.
const NOT_SET: &str = "(not set)";

/// A settings error names the variable or file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file named (or found) cannot be read.
    #[error("cannot read config file {path}: {source}. Fix the path in {env} or create the file", env = Id::Config.env())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The config file is not TOML, has an unknown key or a value of the wrong type.
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    /// A setting's value cannot be used (or a needed one is missing).
    #[error("{var}={value:?} is not valid: {expected}")]
    BadValue {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl Settings {
    /// Every credential these settings hold (the settings [`defs`] marks secret: S3 secret
    /// key and session token, the Nessie or REST token, the REST client credentials), for
    /// the logger to keep out of every record.
    pub fn secrets(&self) -> Vec<String> {
        defs::ALL
            .iter()
            .filter(|d| d.secret)
            .filter_map(|d| self.value(d.id))
            .collect()
    }

    /// Reads the process environment and the config file it names.
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::from_map(&env)
    }

    /// Resolves settings from a map of environment variables (testable without a process).
    pub fn from_map(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
        let var = |id: Id| get(id.env());
        let default_home = || {
            dirs::data_dir()
                .unwrap_or_else(|| PathBuf::from("."))
                .join("lakehouse")
        };
        let (mut file, config_file) = match var(Id::Config) {
            Some(p) => {
                let path = PathBuf::from(p);
                (read_file(&path)?, Some(path))
            }
            None => {
                let path = dirs::config_dir().map(|d| d.join("lakehouse").join("config.toml"));
                match path {
                    Some(p) if p.is_file() => (read_file(&p)?, Some(p)),
                    _ => (FileSettings::default(), None),
                }
            }
        };
        let home = var(Id::Home)
            .map(PathBuf::from)
            .or(file.home.take())
            .unwrap_or_else(default_home);
        let home = absolute(&home);
        let warehouse = var(Id::Warehouse)
            .or(file.warehouse.take())
            .unwrap_or_else(|| home.join("warehouse").display().to_string());
        let max_rows = match var(Id::MaxRows) {
            Some(v) => parse_count(Id::MaxRows.env(), &v)?,
            None => file.max_rows.unwrap_or(DEFAULT_MAX_ROWS),
        };
        let max_col_width = match var(Id::MaxColWidth) {
            Some(v) => parse_count(Id::MaxColWidth.env(), &v)?,
            None => file.max_col_width.unwrap_or(DEFAULT_MAX_COL_WIDTH),
        };
        let default_schema = var(Id::DefaultSchema)
            .or(file.default_schema.take())
            .unwrap_or_else(|| "default".into());
        let nessie_uri = var(Id::NessieUri).or(file.nessie_uri.take());
        let kind = var(Id::Catalog).or(file.catalog.take()).unwrap_or_else(|| {
            if nessie_uri.is_some() {
                "nessie"
            } else {
                "embedded"
            }
            .into()
        });
        let catalog = match kind.trim().to_ascii_lowercase().as_str() {
            "embedded" => CatalogKind::Embedded,
            "nessie" => CatalogKind::Nessie {
                uri: nessie_uri.ok_or(ConfigError::BadValue {
                    var: Id::NessieUri.env(),
                    value: String::new(),
                    expected: "the Nessie REST API v2 address, e.g. http://localhost:19120/api/v2",
                })?,
                reference: var(Id::NessieRef)
                    .or(file.nessie_ref.take())
                    .unwrap_or_else(|| "main".into()),
                token: var(Id::NessieAuthenticationToken)
                    .or(file.nessie_authentication_token.take()),
            },
            "rest" => {
                let uri =
                    var(Id::RestUri)
                        .or(file.rest_uri.take())
                        .ok_or(ConfigError::BadValue {
                            var: Id::RestUri.env(),
                            value: String::new(),
                            expected: "the Iceberg REST catalog address (without /v1), \
                                   e.g. http://localhost:19120/iceberg for Nessie",
                        })?;
                let trimmed = uri.trim().trim_end_matches('/');
                if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
                    return Err(ConfigError::BadValue {
                        var: Id::RestUri.env(),
                        value: uri,
                        expected: "an http:// or https:// address, e.g. http://localhost:8181",
                    });
                }
                CatalogKind::Rest(RestSettings {
                    uri: trimmed.to_string(),
                    warehouse: var(Id::RestWarehouse).or(file.rest_warehouse.take()),
                    token: var(Id::RestToken).or(file.rest_token.take()),
                    credential: var(Id::RestCredential).or(file.rest_credential.take()),
                    oauth2_server_uri: var(Id::RestOauth2ServerUri)
                        .or(file.rest_oauth2_server_uri.take()),
                    scope: var(Id::RestScope).or(file.rest_scope.take()),
                })
            }
            _ => {
                return Err(ConfigError::BadValue {
                    var: Id::Catalog.env(),
                    value: kind,
                    expected: "'embedded', 'nessie' or 'rest'",
                })
            }
        };
        let endpoint = var(Id::AwsEndpointUrl).or(file.aws_endpoint_url.take());
        let path_style = match var(Id::S3PathStyle) {
            Some(v) => parse_bool(Id::S3PathStyle.env(), &v)?,
            // A custom endpoint is almost always MinIO/SeaweedFS-like: path style.
            None => file.s3_path_style.unwrap_or(endpoint.is_some()),
        };
        let s3 = S3Settings {
            access_key_id: var(Id::AwsAccessKeyId).or(file.aws_access_key_id.take()),
            secret_access_key: var(Id::AwsSecretAccessKey).or(file.aws_secret_access_key.take()),
            session_token: var(Id::AwsSessionToken).or(file.aws_session_token.take()),
            region: var(Id::AwsRegion)
                .or_else(|| get("AWS_DEFAULT_REGION"))
                .or(file.aws_region.take()),
            endpoint,
            path_style,
        };
        let limits = Limits::resolve(&get, &mut file)?;
        let startup =
            StartupSettings::resolve(&get, file.startup_dir.take(), file.startup_file.take());
        // Compiled Arrow for Rust cells is shared by every kernel of the user, so it lives
        // in the user's cache folder rather than under one catalog's home.
        let rust_cache = var(Id::RustCache)
            .map(PathBuf::from)
            .or(file.rust_cache.take())
            .unwrap_or_else(|| {
                dirs::cache_dir()
                    .unwrap_or_else(std::env::temp_dir)
                    .join("lakehouse/rust")
            });
        let no_distinct_rewrite = match var(Id::NoDistinctRewrite) {
            Some(v) => parse_bool(Id::NoDistinctRewrite.env(), &v)?,
            None => file.no_distinct_rewrite.unwrap_or(false),
        };
        let dialect = match var(Id::Dialect).or(file.dialect.take()) {
            Some(v) => Dialect::parse(&v).ok_or(ConfigError::BadValue {
                var: Id::Dialect.env(),
                value: v,
                expected: "spark or datafusion",
            })?,
            None => Dialect::Spark,
        };
        let iceberg_reader = match var(Id::IcebergReader).or(file.iceberg_reader.take()) {
            Some(v) => IcebergReader::parse(&v).ok_or(ConfigError::BadValue {
                var: Id::IcebergReader.env(),
                value: v,
                expected: "datafusion or iceberg",
            })?,
            None => IcebergReader::DataFusion,
        };
        let external_access = match var(Id::ExternalAccess) {
            Some(v) => parse_bool(Id::ExternalAccess.env(), &v)?,
            None => file.external_access.unwrap_or(true),
        };
        Ok(Settings {
            home,
            warehouse,
            max_rows,
            max_col_width,
            default_schema,
            config_file,
            catalog,
            s3,
            limits,
            startup,
            rust_cache,
            no_distinct_rewrite,
            dialect,
            iceberg_reader,
            external_access,
        })
    }

    /// The warehouse as a URI iceberg's FileIO understands (`file://` for local folders).
    pub fn warehouse_uri(&self) -> String {
        if self.warehouse.contains("://") {
            self.warehouse.clone()
        } else {
            format!("file://{}", absolute(Path::new(&self.warehouse)).display())
        }
    }

    /// The active settings, one row per definition in [`defs::ALL`]'s order, for display:
    /// secrets show `(set, hidden)`, settings without a value `(not set)`.
    pub fn rows(&self) -> Vec<SettingRow> {
        defs::ALL
            .iter()
            .map(|d| SettingRow {
                env: d.env,
                value: match self.value(d.id) {
                    Some(_) if d.secret => HIDDEN.to_string(),
                    Some(v) => v,
                    None => NOT_SET.to_string(),
                },
            })
            .collect()
    }

    /// The value in force of one setting as `SHOW SETTINGS` words it, unmasked; `None` when
    /// it is not set. One arm per setting: a new definition does not compile without one.
    fn value(&self, id: Id) -> Option<String> {
        let nessie = match &self.catalog {
            CatalogKind::Nessie {
                uri,
                reference,
                token,
            } => Some((uri, reference, token)),
            _ => None,
        };
        let rest = match &self.catalog {
            CatalogKind::Rest(rest) => Some(rest),
            _ => None,
        };
        match id {
            Id::Config => Some(
                self.config_file
                    .as_ref()
                    .map_or_else(|| "(none)".into(), |p| p.display().to_string()),
            ),
            Id::Home => Some(self.home.display().to_string()),
            Id::Warehouse => Some(self.warehouse.clone()),
            Id::DefaultSchema => Some(self.default_schema.clone()),
            Id::MaxRows => Some(self.max_rows.to_string()),
            Id::MaxColWidth => Some(self.max_col_width.to_string()),
            Id::Catalog => Some(
                match self.catalog {
                    CatalogKind::Embedded => "embedded",
                    CatalogKind::Nessie { .. } => "nessie",
                    CatalogKind::Rest(_) => "rest",
                }
                .into(),
            ),
            Id::NessieUri => nessie.map(|(uri, _, _)| uri.clone()),
            Id::NessieRef => nessie.map(|(_, reference, _)| reference.clone()),
            Id::NessieAuthenticationToken => nessie.and_then(|(_, _, token)| token.clone()),
            Id::RestUri => rest.map(|r| r.uri.clone()).filter(|u| !u.is_empty()),
            Id::RestWarehouse => rest.and_then(|r| r.warehouse.clone()),
            Id::RestToken => rest.and_then(|r| r.token.clone()),
            Id::RestCredential => rest.and_then(|r| r.credential.clone()),
            Id::RestOauth2ServerUri => rest.and_then(|r| r.oauth2_server_uri.clone()),
            Id::RestScope => rest.and_then(|r| r.scope.clone()),
            Id::AwsAccessKeyId => self.s3.access_key_id.clone(),
            Id::AwsSecretAccessKey => self.s3.secret_access_key.clone(),
            Id::AwsSessionToken => self.s3.session_token.clone(),
            Id::AwsRegion => self.s3.region.clone(),
            Id::AwsEndpointUrl => self.s3.endpoint.clone(),
            Id::S3PathStyle => Some(self.s3.path_style.to_string()),
            Id::MemLimit
            | Id::CpuLimit
            | Id::MemoryLimit
            | Id::LakehouseCpuLimit
            | Id::TargetPartitions
            | Id::SpillDir
            | Id::SpillLimit => self.limits.value(id),
            Id::StartupDir | Id::StartupFile => self.startup.value(id),
            Id::RustCache => Some(self.rust_cache.display().to_string()),
            Id::NoDistinctRewrite => Some(self.no_distinct_rewrite.to_string()),
            Id::Dialect => Some(self.dialect.name().to_string()),
            Id::IcebergReader => Some(self.iceberg_reader.name().to_string()),
            Id::ExternalAccess => Some(self.external_access.to_string()),
        }
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn parse_count(var: &'static str, v: &str) -> Result<usize, ConfigError> {
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ConfigError::BadValue {
            var,
            value: v.to_string(),
            expected: "a whole number greater than 0",
        })
}

pub use lakehouse_grammar::options::{Dialect, IcebergReader};

fn parse_bool(var: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::BadValue {
            var,
            value: v.to_string(),
            expected: "true or false",
        }),
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn home_sets_warehouse_default() {
        let s = Settings::from_map(&map(&[("LAKEHOUSE_HOME", "/tmp/lh")])).unwrap();
        assert_eq!(s.home, PathBuf::from("/tmp/lh"));
        assert_eq!(s.warehouse, "/tmp/lh/warehouse");
        assert_eq!(s.warehouse_uri(), "file:///tmp/lh/warehouse");
        assert_eq!(s.max_rows, DEFAULT_MAX_ROWS);
    }

    /// The COUNT(DISTINCT) rules' switch is a setting like the others (it used to be read
    /// from the environment by the rule itself).
    #[test]
    fn distinct_rewrite_switch_reads_env_and_rejects_nonsense() {
        assert!(!Settings::from_map(&map(&[])).unwrap().no_distinct_rewrite);
        assert_eq!(
            Settings::from_map(&map(&[])).unwrap().dialect,
            Dialect::Spark
        );
        let df = map(&[("LAKEHOUSE_DIALECT", "DataFusion")]);
        assert_eq!(
            Settings::from_map(&df).unwrap().dialect,
            Dialect::DataFusion
        );
        assert!(Settings::from_map(&map(&[("LAKEHOUSE_DIALECT", "hive")])).is_err());
        let on = map(&[("LAKEHOUSE_NO_DISTINCT_REWRITE", "1")]);
        assert!(Settings::from_map(&on).unwrap().no_distinct_rewrite);
        let bad = map(&[("LAKEHOUSE_NO_DISTINCT_REWRITE", "maybe")]);
        let err = Settings::from_map(&bad).unwrap_err().to_string();
        assert!(err.contains("LAKEHOUSE_NO_DISTINCT_REWRITE"), "{err}");
    }

    #[test]
    fn file_is_read_and_env_wins() {
        let dir = std::env::temp_dir().join(format!("lh-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(&f, "home = \"/data/lh\"\nmax_rows = 7\n").unwrap();
        let f_str = f.display().to_string();
        let s = Settings::from_map(&map(&[("LAKEHOUSE_CONFIG", &f_str)])).unwrap();
        assert_eq!(s.home, PathBuf::from("/data/lh"));
        assert_eq!(s.max_rows, 7);
        let s = Settings::from_map(&map(&[
            ("LAKEHOUSE_CONFIG", &f_str),
            ("LAKEHOUSE_MAX_ROWS", "9"),
        ]))
        .unwrap();
        assert_eq!(s.max_rows, 9);
        std::fs::write(&f, "hom = 1\n").unwrap();
        let err = Settings::from_map(&map(&[("LAKEHOUSE_CONFIG", &f_str)])).unwrap_err();
        assert!(err.to_string().contains("hom"), "{err}");
    }

    #[test]
    fn nessie_uri_selects_nessie_and_secrets_are_hidden() {
        let s = Settings::from_map(&map(&[
            ("NESSIE_URI", "http://127.0.0.1:19120/api/v2"),
            ("AWS_SECRET_ACCESS_KEY", "topsecret"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ]))
        .unwrap();
        assert_eq!(
            s.catalog,
            CatalogKind::Nessie {
                uri: "http://127.0.0.1:19120/api/v2".into(),
                reference: "main".into(),
                token: None
            }
        );
        assert!(s.s3.path_style);
        assert_eq!(s.s3.file_io_props()["s3.secret-access-key"], "topsecret");
        let shown: String = s
            .rows()
            .iter()
            .map(|r| format!("{} {}\n", r.env, r.value))
            .collect();
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(
            shown.contains("AWS_SECRET_ACCESS_KEY (set, hidden)"),
            "{shown}"
        );
    }

    #[test]
    fn nessie_without_uri_says_what_to_set() {
        let err = Settings::from_map(&map(&[("LAKEHOUSE_CATALOG", "nessie")])).unwrap_err();
        assert!(err.to_string().contains("NESSIE_URI"), "{err}");
    }

    #[test]
    fn rest_catalog_is_chosen_only_by_name_and_secrets_are_hidden() {
        // A REST URI alone does not switch catalogs: the default stays embedded.
        let s =
            Settings::from_map(&map(&[("LAKEHOUSE_REST_URI", "http://127.0.0.1:8181")])).unwrap();
        assert_eq!(s.catalog, CatalogKind::Embedded);
        let s = Settings::from_map(&map(&[
            ("LAKEHOUSE_CATALOG", "REST"),
            ("LAKEHOUSE_REST_URI", "http://127.0.0.1:19120/iceberg/"),
            ("LAKEHOUSE_REST_WAREHOUSE", "warehouse"),
            ("LAKEHOUSE_REST_TOKEN", "bearer-secret"),
            ("LAKEHOUSE_REST_CREDENTIAL", "client:client-secret"),
            ("NESSIE_URI", "http://127.0.0.1:19120/api/v2"),
        ]))
        .unwrap();
        assert_eq!(
            s.catalog,
            CatalogKind::Rest(RestSettings {
                uri: "http://127.0.0.1:19120/iceberg".into(),
                warehouse: Some("warehouse".into()),
                token: Some("bearer-secret".into()),
                credential: Some("client:client-secret".into()),
                oauth2_server_uri: None,
                scope: None,
            })
        );
        let shown: String = s
            .rows()
            .iter()
            .map(|r| format!("{} {}\n", r.env, r.value))
            .collect();
        assert!(shown.contains("LAKEHOUSE_CATALOG rest\n"), "{shown}");
        assert!(
            shown.contains("LAKEHOUSE_REST_URI http://127.0.0.1:19120/iceberg\n"),
            "{shown}"
        );
        assert!(
            shown.contains("LAKEHOUSE_REST_WAREHOUSE warehouse\n"),
            "{shown}"
        );
        assert!(
            shown.contains("LAKEHOUSE_REST_TOKEN (set, hidden)"),
            "{shown}"
        );
        assert!(
            shown.contains("LAKEHOUSE_REST_CREDENTIAL (set, hidden)"),
            "{shown}"
        );
        assert!(!shown.contains("secret"), "{shown}");
        // Nor do secrets leak through Debug (logs, panics).
        let debug = format!("{:?}", s.catalog);
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn rest_settings_come_from_the_config_file_too() {
        let dir = std::env::temp_dir().join(format!("lh-cfg-rest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "catalog = \"rest\"\nrest_uri = \"https://polaris:8181/api/catalog\"\n\
             rest_warehouse = \"lake\"\nrest_credential = \"a:b\"\n\
             rest_oauth2_server_uri = \"https://idp/token\"\nrest_scope = \"PRINCIPAL_ROLE:ALL\"\n",
        )
        .unwrap();
        let f_str = f.display().to_string();
        let s = Settings::from_map(&map(&[("LAKEHOUSE_CONFIG", &f_str)])).unwrap();
        let CatalogKind::Rest(rest) = &s.catalog else {
            panic!("{:?}", s.catalog)
        };
        assert_eq!(rest.uri, "https://polaris:8181/api/catalog");
        assert_eq!(rest.warehouse.as_deref(), Some("lake"));
        assert_eq!(rest.credential.as_deref(), Some("a:b"));
        assert_eq!(rest.oauth2_server_uri.as_deref(), Some("https://idp/token"));
        assert_eq!(rest.scope.as_deref(), Some("PRINCIPAL_ROLE:ALL"));
        // The environment wins over the file.
        let s = Settings::from_map(&map(&[
            ("LAKEHOUSE_CONFIG", &f_str),
            ("LAKEHOUSE_REST_WAREHOUSE", "other"),
        ]))
        .unwrap();
        let CatalogKind::Rest(rest) = &s.catalog else {
            panic!("{:?}", s.catalog)
        };
        assert_eq!(rest.warehouse.as_deref(), Some("other"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn rest_without_uri_or_with_a_bad_one_says_what_to_set() {
        let err = Settings::from_map(&map(&[("LAKEHOUSE_CATALOG", "rest")])).unwrap_err();
        assert!(err.to_string().contains("LAKEHOUSE_REST_URI"), "{err}");
        let err = Settings::from_map(&map(&[
            ("LAKEHOUSE_CATALOG", "rest"),
            ("LAKEHOUSE_REST_URI", "localhost:8181"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().contains("LAKEHOUSE_REST_URI") && err.to_string().contains("http://"),
            "{err}"
        );
        let err = Settings::from_map(&map(&[("LAKEHOUSE_CATALOG", "glue")])).unwrap_err();
        assert!(err.to_string().contains("'rest'"), "{err}");
    }

    #[test]
    fn documented_defaults_are_the_defaults() {
        let dir = std::env::temp_dir().join(format!("lh-cfg-defaults-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("empty.toml");
        std::fs::write(&f, "").unwrap();
        let s = Settings::from_map(&map(&[
            ("LAKEHOUSE_CONFIG", &f.display().to_string()),
            ("NESSIE_URI", "http://127.0.0.1:19120/api/v2"),
        ]))
        .unwrap();
        let CatalogKind::Nessie { reference, .. } = &s.catalog else {
            panic!("{:?}", s.catalog)
        };
        for (id, value) in [
            (Id::MaxRows, s.max_rows.to_string()),
            (Id::MaxColWidth, s.max_col_width.to_string()),
            (Id::DefaultSchema, s.default_schema.clone()),
            (Id::NessieRef, reference.clone()),
            (
                Id::SpillLimit,
                format!("{}G", s.limits.spill_limit / limits::GIB),
            ),
        ] {
            assert_eq!(id.def().default, format!("`{value}`"), "{}", id.env());
        }
        // Rows come in the definitions' order, one per definition.
        let envs: Vec<&str> = s.rows().iter().map(|r| r.env).collect();
        let defined: Vec<&str> = defs::ALL.iter().map(|d| d.env).collect();
        assert_eq!(envs, defined);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_number_names_the_variable() {
        let err = Settings::from_map(&map(&[("LAKEHOUSE_MAX_ROWS", "lots")])).unwrap_err();
        assert!(err.to_string().contains("LAKEHOUSE_MAX_ROWS"));
    }
}

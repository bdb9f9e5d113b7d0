//! Settings: read from the environment and an optional TOML file, with no side effects.
//!
//! Every setting has one environment variable and the same key (lowercase, without the
//! `LAKEHOUSE_` prefix) in the config file. The environment wins over the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Display defaults; a cell can change them for its session.
pub const DEFAULT_MAX_ROWS: usize = 50;
/// Longest cell value shown before truncation, in characters.
pub const DEFAULT_MAX_COL_WIDTH: usize = 60;

/// The config file, as written by a user. All keys optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    home: Option<PathBuf>,
    warehouse: Option<String>,
    max_rows: Option<usize>,
    max_col_width: Option<usize>,
    default_schema: Option<String>,
    catalog: Option<String>,
    nessie_uri: Option<String>,
    nessie_ref: Option<String>,
    nessie_authentication_token: Option<String>,
    rest_uri: Option<String>,
    rest_warehouse: Option<String>,
    rest_token: Option<String>,
    rest_credential: Option<String>,
    rest_oauth2_server_uri: Option<String>,
    rest_scope: Option<String>,
    aws_access_key_id: Option<String>,
    aws_secret_access_key: Option<String>,
    aws_session_token: Option<String>,
    aws_region: Option<String>,
    aws_endpoint_url: Option<String>,
    s3_path_style: Option<bool>,
    memory_limit: Option<crate::limits::FileSize>,
    cpu_limit: Option<f64>,
    target_partitions: Option<usize>,
    spill_dir: Option<PathBuf>,
    spill_limit: Option<crate::limits::FileSize>,
    startup_dir: Option<PathBuf>,
    startup_file: Option<PathBuf>,
    rust_cache: Option<PathBuf>,
}

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
    pub limits: crate::limits::Limits,
    /// Start-up files run when the SQL session opens.
    pub startup: crate::startup::StartupSettings,
    /// Where Rust cells keep their compiled dependencies (`LAKEHOUSE_RUST_CACHE`).
    pub rust_cache: PathBuf,
}

/// One row of the settings table shown by `SHOW SETTINGS`-like requests.
pub struct SettingRow {
    pub env: &'static str,
    pub value: String,
}

/// A settings error names the variable or file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}. Fix the path in LAKEHOUSE_CONFIG or create the file")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{var}={value:?} is not valid: {expected}")]
    BadValue {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl Settings {
    /// Every credential these settings hold (S3 secret key and session token, the Nessie or
    /// REST token, the REST client credentials), for the logger to keep out of every record.
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = [&self.s3.secret_access_key, &self.s3.session_token]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        match &self.catalog {
            CatalogKind::Embedded => {}
            CatalogKind::Nessie { token, .. } => out.extend(token.clone()),
            CatalogKind::Rest(rest) => {
                out.extend(rest.token.clone());
                out.extend(rest.credential.clone());
            }
        }
        out
    }

    /// Reads the process environment and the config file it names.
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::from_map(&env)
    }

    /// Resolves settings from a map of environment variables (testable without a process).
    pub fn from_map(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
        let default_home = || {
            dirs::data_dir()
                .unwrap_or_else(|| PathBuf::from("."))
                .join("lakehouse")
        };
        let (file, config_file) = match get("LAKEHOUSE_CONFIG") {
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
        let home = get("LAKEHOUSE_HOME")
            .map(PathBuf::from)
            .or(file.home)
            .unwrap_or_else(default_home);
        let home = absolute(&home);
        let warehouse = get("LAKEHOUSE_WAREHOUSE")
            .or(file.warehouse)
            .unwrap_or_else(|| home.join("warehouse").display().to_string());
        let max_rows = match get("LAKEHOUSE_MAX_ROWS") {
            Some(v) => parse_count("LAKEHOUSE_MAX_ROWS", &v)?,
            None => file.max_rows.unwrap_or(DEFAULT_MAX_ROWS),
        };
        let max_col_width = match get("LAKEHOUSE_MAX_COL_WIDTH") {
            Some(v) => parse_count("LAKEHOUSE_MAX_COL_WIDTH", &v)?,
            None => file.max_col_width.unwrap_or(DEFAULT_MAX_COL_WIDTH),
        };
        let default_schema = get("LAKEHOUSE_DEFAULT_SCHEMA")
            .or(file.default_schema)
            .unwrap_or_else(|| "default".into());
        let nessie_uri = get("NESSIE_URI").or(file.nessie_uri);
        let kind = get("LAKEHOUSE_CATALOG")
            .or(file.catalog)
            .unwrap_or_else(|| {
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
                    var: "NESSIE_URI",
                    value: String::new(),
                    expected: "the Nessie REST API v2 address, e.g. http://localhost:19120/api/v2",
                })?,
                reference: get("NESSIE_REF")
                    .or(file.nessie_ref)
                    .unwrap_or_else(|| "main".into()),
                token: get("NESSIE_AUTHENTICATION_TOKEN").or(file.nessie_authentication_token),
            },
            "rest" => {
                let uri =
                    get("LAKEHOUSE_REST_URI")
                        .or(file.rest_uri)
                        .ok_or(ConfigError::BadValue {
                            var: "LAKEHOUSE_REST_URI",
                            value: String::new(),
                            expected: "the Iceberg REST catalog address (without /v1), \
                                   e.g. http://localhost:19120/iceberg for Nessie",
                        })?;
                let trimmed = uri.trim().trim_end_matches('/');
                if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
                    return Err(ConfigError::BadValue {
                        var: "LAKEHOUSE_REST_URI",
                        value: uri,
                        expected: "an http:// or https:// address, e.g. http://localhost:8181",
                    });
                }
                CatalogKind::Rest(RestSettings {
                    uri: trimmed.to_string(),
                    warehouse: get("LAKEHOUSE_REST_WAREHOUSE").or(file.rest_warehouse),
                    token: get("LAKEHOUSE_REST_TOKEN").or(file.rest_token),
                    credential: get("LAKEHOUSE_REST_CREDENTIAL").or(file.rest_credential),
                    oauth2_server_uri: get("LAKEHOUSE_REST_OAUTH2_SERVER_URI")
                        .or(file.rest_oauth2_server_uri),
                    scope: get("LAKEHOUSE_REST_SCOPE").or(file.rest_scope),
                })
            }
            _ => {
                return Err(ConfigError::BadValue {
                    var: "LAKEHOUSE_CATALOG",
                    value: kind,
                    expected: "'embedded', 'nessie' or 'rest'",
                })
            }
        };
        let endpoint = get("AWS_ENDPOINT_URL").or(file.aws_endpoint_url);
        let path_style = match get("LAKEHOUSE_S3_PATH_STYLE") {
            Some(v) => parse_bool("LAKEHOUSE_S3_PATH_STYLE", &v)?,
            // A custom endpoint is almost always MinIO/SeaweedFS-like: path style.
            None => file.s3_path_style.unwrap_or(endpoint.is_some()),
        };
        let s3 = S3Settings {
            access_key_id: get("AWS_ACCESS_KEY_ID").or(file.aws_access_key_id),
            secret_access_key: get("AWS_SECRET_ACCESS_KEY").or(file.aws_secret_access_key),
            session_token: get("AWS_SESSION_TOKEN").or(file.aws_session_token),
            region: get("AWS_REGION")
                .or_else(|| get("AWS_DEFAULT_REGION"))
                .or(file.aws_region),
            endpoint,
            path_style,
        };
        let limits = crate::limits::Limits::resolve(
            &get,
            crate::limits::FileLimits {
                memory_limit: file.memory_limit,
                cpu_limit: file.cpu_limit,
                target_partitions: file.target_partitions,
                spill_dir: file.spill_dir,
                spill_limit: file.spill_limit,
            },
        )?;
        let startup =
            crate::startup::StartupSettings::resolve(&get, file.startup_dir, file.startup_file);
        // Compiled Arrow for Rust cells is shared by every kernel of the user, so it lives
        // in the user's cache folder rather than under one catalog's home.
        let rust_cache = get("LAKEHOUSE_RUST_CACHE")
            .map(PathBuf::from)
            .or(file.rust_cache)
            .unwrap_or_else(|| {
                dirs::cache_dir()
                    .unwrap_or_else(std::env::temp_dir)
                    .join("lakehouse/rust")
            });
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

    /// The active settings, one row per environment variable, for display.
    pub fn rows(&self) -> Vec<SettingRow> {
        let mut rows = vec![
            SettingRow {
                env: "LAKEHOUSE_CONFIG",
                value: self
                    .config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "(none)".into()),
            },
            SettingRow {
                env: "LAKEHOUSE_HOME",
                value: self.home.display().to_string(),
            },
            SettingRow {
                env: "LAKEHOUSE_WAREHOUSE",
                value: self.warehouse.clone(),
            },
            SettingRow {
                env: "LAKEHOUSE_DEFAULT_SCHEMA",
                value: self.default_schema.clone(),
            },
            SettingRow {
                env: "LAKEHOUSE_MAX_ROWS",
                value: self.max_rows.to_string(),
            },
            SettingRow {
                env: "LAKEHOUSE_MAX_COL_WIDTH",
                value: self.max_col_width.to_string(),
            },
        ];
        let none = RestSettings {
            uri: String::new(),
            warehouse: None,
            token: None,
            credential: None,
            oauth2_server_uri: None,
            scope: None,
        };
        let (kind, uri, reference, token, rest) = match &self.catalog {
            CatalogKind::Embedded => ("embedded", None, None, None, &none),
            CatalogKind::Nessie {
                uri,
                reference,
                token,
            } => (
                "nessie",
                Some(uri.clone()),
                Some(reference.clone()),
                token.as_ref(),
                &none,
            ),
            CatalogKind::Rest(rest) => ("rest", None, None, None, rest),
        };
        let shown = |v: Option<String>| v.unwrap_or_else(|| "(not set)".into());
        let secret = |v: Option<&String>| v.map(|_| "(set, hidden)".to_string());
        let rest_uri = Some(rest.uri.clone()).filter(|u| !u.is_empty());
        rows.extend([
            SettingRow {
                env: "LAKEHOUSE_CATALOG",
                value: kind.into(),
            },
            SettingRow {
                env: "NESSIE_URI",
                value: shown(uri),
            },
            SettingRow {
                env: "NESSIE_REF",
                value: shown(reference),
            },
            SettingRow {
                env: "NESSIE_AUTHENTICATION_TOKEN",
                value: shown(secret(token)),
            },
            SettingRow {
                env: "LAKEHOUSE_REST_URI",
                value: shown(rest_uri),
            },
            SettingRow {
                env: "LAKEHOUSE_REST_WAREHOUSE",
                value: shown(rest.warehouse.clone()),
            },
            SettingRow {
                env: "LAKEHOUSE_REST_TOKEN",
                value: shown(secret(rest.token.as_ref())),
            },
            SettingRow {
                env: "LAKEHOUSE_REST_CREDENTIAL",
                value: shown(secret(rest.credential.as_ref())),
            },
            SettingRow {
                env: "LAKEHOUSE_REST_OAUTH2_SERVER_URI",
                value: shown(rest.oauth2_server_uri.clone()),
            },
            SettingRow {
                env: "LAKEHOUSE_REST_SCOPE",
                value: shown(rest.scope.clone()),
            },
            SettingRow {
                env: "AWS_ACCESS_KEY_ID",
                value: shown(self.s3.access_key_id.clone()),
            },
            SettingRow {
                env: "AWS_SECRET_ACCESS_KEY",
                value: shown(secret(self.s3.secret_access_key.as_ref())),
            },
            SettingRow {
                env: "AWS_SESSION_TOKEN",
                value: shown(secret(self.s3.session_token.as_ref())),
            },
            SettingRow {
                env: "AWS_REGION",
                value: shown(self.s3.region.clone()),
            },
            SettingRow {
                env: "AWS_ENDPOINT_URL",
                value: shown(self.s3.endpoint.clone()),
            },
            SettingRow {
                env: "LAKEHOUSE_S3_PATH_STYLE",
                value: self.s3.path_style.to_string(),
            },
        ]);
        rows.extend(self.limits.setting_rows());
        rows.extend(self.startup.rows());
        rows.push(SettingRow {
            env: "LAKEHOUSE_RUST_CACHE",
            value: self.rust_cache.display().to_string(),
        });
        rows
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
    fn bad_number_names_the_variable() {
        let err = Settings::from_map(&map(&[("LAKEHOUSE_MAX_ROWS", "lots")])).unwrap_err();
        assert!(err.to_string().contains("LAKEHOUSE_MAX_ROWS"));
    }
}

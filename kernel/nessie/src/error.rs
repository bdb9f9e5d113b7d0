//! Errors that name the object involved and say what to do about it.

use iceberg::ErrorKind;

/// Everything that can go wrong talking to Nessie or committing through it.
#[derive(Debug, thiserror::Error)]
pub enum NessieError {
    /// The server could not be reached (connection refused, DNS, timeout).
    #[error(
        "cannot reach the Nessie server at {uri}: {detail}. Check NESSIE_URI and that the Nessie server is running"
    )]
    Unreachable {
        /// The configured API URI.
        uri: String,
        /// What the HTTP client reported.
        detail: String,
    },

    /// Nessie rejected the bearer token.
    #[error("Nessie at {uri} refused the request ({status}): {message}. Check the Nessie token")]
    Unauthorized {
        /// The configured API URI.
        uri: String,
        /// HTTP status (401 or 403).
        status: u16,
        /// Server message.
        message: String,
    },

    /// A branch or tag that does not exist.
    #[error("Nessie reference '{name}' does not exist; existing references: {}", list_or_none(.existing))]
    ReferenceNotFound {
        /// The requested name.
        name: String,
        /// `kind name` of every existing reference.
        existing: Vec<String>,
    },

    /// A reference that already exists.
    #[error(
        "Nessie reference '{name}' already exists ({existing}); pick another name or drop it first"
    )]
    ReferenceAlreadyExists {
        /// The requested name.
        name: String,
        /// What exists under that name.
        existing: String,
    },

    /// Writes are only possible on the HEAD of a branch.
    #[error("cannot {action} on {reference}: {reason}")]
    ReadOnlyReference {
        /// What was attempted, e.g. "commit CREATE TABLE demo.events".
        action: String,
        /// The reference description.
        reference: String,
        /// Why and what to do.
        reason: String,
    },

    /// A table that does not exist.
    #[error("table {table} does not exist on {reference}; tables in namespace {namespace}: {}", list_or_none(.existing))]
    TableNotFound {
        /// The requested table.
        table: String,
        /// The namespace searched.
        namespace: String,
        /// The reference searched.
        reference: String,
        /// Tables that do exist in that namespace.
        existing: Vec<String>,
    },

    /// A namespace that does not exist.
    #[error("namespace {namespace} does not exist on {reference}; existing namespaces: {}. Create it first (CREATE SCHEMA {namespace})", list_or_none(.existing))]
    NamespaceNotFound {
        /// The requested namespace.
        namespace: String,
        /// The reference searched.
        reference: String,
        /// Namespaces at the same level that do exist.
        existing: Vec<String>,
    },

    /// Something already exists under a key that a create wanted.
    #[error("{what} already exists on {reference} ({existing})")]
    AlreadyExists {
        /// e.g. "table demo.events".
        what: String,
        /// The reference.
        reference: String,
        /// What is stored there.
        existing: String,
    },

    /// A namespace still holds tables or namespaces.
    #[error("namespace {namespace} is not empty on {reference}: it contains {}; drop those first", list_or_none(.contents))]
    NamespaceNotEmpty {
        /// The namespace.
        namespace: String,
        /// The reference.
        reference: String,
        /// Keys under it.
        contents: Vec<String>,
    },

    /// The table changed underneath a commit and the change no longer applies.
    #[error("commit conflict on table {table} (branch {branch}): {detail}")]
    CommitConflict {
        /// The table.
        table: String,
        /// The branch.
        branch: String,
        /// Which commit won and what to do.
        detail: String,
    },

    /// A merge found keys changed on both sides; the target was not changed.
    #[error("cannot merge {from} into {into}: conflicting keys {}; the target branch is unchanged. Resolve the conflicting tables on one side and merge again", .keys.join(", "))]
    MergeConflict {
        /// Source branch.
        from: String,
        /// Target branch.
        into: String,
        /// Conflicting content keys (`ns.table`).
        keys: Vec<String>,
    },

    /// A commit's HTTP call failed and it could not be determined whether it landed.
    #[error("the commit of {what} may or may not have landed: Nessie at {uri} failed during the commit ({detail}). Check `SHOW LOG` on {branch} before retrying")]
    CommitStateUnknown {
        /// What was committed.
        what: String,
        /// The branch.
        branch: String,
        /// The API URI.
        uri: String,
        /// The failure.
        detail: String,
    },

    /// Any other error answer from Nessie.
    #[error("Nessie at {uri} answered {status} to {request}: {message}")]
    Api {
        /// The API URI.
        uri: String,
        /// The request, e.g. `GET /trees/main`.
        request: String,
        /// HTTP status.
        status: u16,
        /// Nessie's `errorCode` if any.
        code: Option<String>,
        /// Nessie's message.
        message: String,
    },

    /// A table or namespace name that would change the folder it lives under.
    #[error("{0}")]
    InvalidName(String),

    /// Bad configuration.
    #[error("invalid Nessie catalog configuration: {0}")]
    Config(String),

    /// An error from iceberg (metadata I/O, invalid update, ...).
    #[error(transparent)]
    Iceberg(#[from] iceberg::Error),
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

/// Result alias for this crate.
pub type Result<T, E = NessieError> = std::result::Result<T, E>;

impl From<NessieError> for iceberg::Error {
    fn from(e: NessieError) -> Self {
        // Keep iceberg's own errors as they are (kind, retryable flag, context).
        if let NessieError::Iceberg(inner) = e {
            return inner;
        }
        let (kind, retryable) = match &e {
            NessieError::TableNotFound { .. } => (ErrorKind::TableNotFound, false),
            NessieError::NamespaceNotFound { .. } => (ErrorKind::NamespaceNotFound, false),
            NessieError::AlreadyExists { what, .. } if what.starts_with("table") => {
                (ErrorKind::TableAlreadyExists, false)
            }
            NessieError::AlreadyExists { what, .. } if what.starts_with("namespace") => {
                (ErrorKind::NamespaceAlreadyExists, false)
            }
            NessieError::CommitConflict { .. } => (ErrorKind::CatalogCommitConflicts, true),
            NessieError::CommitStateUnknown { .. } => (ErrorKind::CatalogCommitConflicts, false),
            NessieError::Config(_) | NessieError::InvalidName(_) => (ErrorKind::DataInvalid, false),
            NessieError::ReadOnlyReference { .. } => (ErrorKind::PreconditionFailed, false),
            _ => (ErrorKind::Unexpected, false),
        };
        iceberg::Error::new(kind, e.to_string()).with_retryable(retryable)
    }
}

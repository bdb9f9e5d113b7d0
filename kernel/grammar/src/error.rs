//! The one error a cell (SQL or Rust) or a request ends in: its [`ErrorKind`] gives the
//! `ename` Jupyter shows, the message says what happened to which object and what to do.
//! Both engines and the server use it, so neither engine borrows the other's error type.

use std::fmt;

/// Declares the kinds once: each variant, the `ename` a notebook shows for it, and its meaning.
macro_rules! kinds {
    ($($(#[doc = $doc:literal])+ $variant:ident => $ename:literal,)+) => {
        /// What kind of failure a cell hit; [`ErrorKind::ename`] is Jupyter's `ename`.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum ErrorKind {
            $($(#[doc = $doc])+ $variant,)+
            /// A kind a Rust cell's own error chose (`MyError: message`), shown as it named it.
            Raised(String),
        }

        impl ErrorKind {
            /// The name shown as the error's title (`ename` in the protocol).
            pub fn ename(&self) -> &str {
                match self {
                    $(Self::$variant => $ename,)+
                    Self::Raised(name) => name,
                }
            }

            /// The kind named `name`: one of ours, else a [`ErrorKind::Raised`] one.
            pub fn from_ename(name: &str) -> Self {
                match name {
                    $($ename => Self::$variant,)+
                    other => Self::Raised(other.to_string()),
                }
            }

            /// Every kind of ours, for tests and documentation.
            pub const ALL: &'static [ErrorKind] = &[$(Self::$variant,)+];
        }
    };
}

kinds! {
    /// The text is not a statement: a typo, an unclosed string or parenthesis.
    Syntax => "SyntaxError",
    /// DataFusion could not plan the statement (an unknown column, a type that does not fit).
    Plan => "PlanError",
    /// The statement failed while running.
    Execution => "ExecutionError",
    /// The statement is valid SQL that the kernel or DataFusion does not support.
    NotSupported => "NotSupported",
    /// The statement needed more memory or disk than the kernel's limits allow.
    ResourcesExhausted => "ResourcesExhausted",
    /// Arrow could not convert or compute a value.
    Arrow => "ArrowError",
    /// A file could not be read or written.
    Io => "IOError",
    /// The catalog refused or failed a call.
    Catalog => "CatalogError",
    /// Someone else committed to the same table first and the retries ran out.
    CommitConflict => "CommitConflict",
    /// The Nessie server refused or failed a call.
    Nessie => "NessieError",
    /// No such table.
    TableNotFound => "TableNotFound",
    /// No such schema (namespace).
    SchemaNotFound => "SchemaNotFound",
    /// No such column.
    ColumnNotFound => "ColumnNotFound",
    /// The table is read at a tag or a past snapshot, so it cannot be written.
    ReadOnlyTable => "ReadOnlyTable",
    /// A name (table, schema, parameter) that cannot be used.
    Name => "NameError",
    /// A `${name}` parameter is unknown or its value does not fit.
    Parameter => "ParameterError",
    /// An ASSERT, or an IF … THEN condition, did not hold.
    Assertion => "AssertionError",
    /// A value of the wrong type (a condition that is not boolean, a type Iceberg cannot store).
    Type => "TypeError",
    /// A partition spec that cannot be built.
    Partition => "PartitionError",
    /// A `%%sql`/`%%rust` magic line that cannot be read.
    Magic => "MagicError",
    /// A display or kernel setting that cannot be set.
    Setting => "SettingError",
    /// A chart that cannot be drawn from the result.
    Chart => "ChartError",
    /// A file path outside the warehouse and the notebook's folder, with
    /// `LAKEHOUSE_EXTERNAL_ACCESS=false`.
    AccessDenied => "AccessDenied",
    /// The statement nests deeper than the kernel parses safely.
    StatementTooComplex => "StatementTooComplex",
    /// The cell was interrupted.
    Interrupted => "Interrupted",
    /// A bug in the kernel; the session goes on.
    Internal => "InternalError",
    /// A history request that cannot be answered.
    HistorySearch => "HistorySearchError",
    /// A request whose content is not what its message type needs.
    MalformedMessage => "MalformedMessage",
    /// The kernel cannot start: its connection file, sockets or message signing.
    Connection => "ConnectionError",
    /// A kernelspec cannot be installed or removed.
    Install => "InstallError",
    /// A Rust cell returned an error.
    Rust => "RustError",
    /// A Rust cell did not compile.
    Compile => "CompileError",
    /// A Rust cell panicked.
    RustPanic => "RustPanic",
    /// The process running Rust cells ended; its variables are gone.
    RustProcessCrashed => "RustProcessCrashed",
    /// Rust cells' variables were lost with a restarted process.
    RustStateLost => "RustStateLost",
    /// Rust cells cannot run here (no toolchain).
    RustUnavailable => "RustUnavailable",
    /// Rust cells could not be set up.
    RustSetup => "RustSetupError",
    /// A Rust cell's exchange with the SQL session failed.
    Bridge => "BridgeError",
    /// A Rust cell's table could not be registered in the SQL session.
    Register => "RegisterError",
}

impl ErrorKind {
    /// An error of this kind with `evalue` as its message (`ErrorKind::Syntax.error(m)`).
    pub fn error(self, evalue: impl Into<String>) -> CellError {
        CellError::new(self, evalue)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ename())
    }
}

/// A failed cell, as sent in the `error` output and the error execute_reply.
#[derive(Debug, Clone, PartialEq)]
pub struct CellError {
    /// What kind of failure; gives the `ename`.
    pub kind: ErrorKind,
    /// One line: what happened, to which object, and what to do.
    pub evalue: String,
    /// The lines shown under it: the message, then context (the statement, a caret).
    pub traceback: Vec<String>,
}

impl CellError {
    /// An error whose traceback is just the message.
    pub fn new(kind: ErrorKind, evalue: impl Into<String>) -> Self {
        let evalue = evalue.into();
        CellError {
            traceback: vec![format!("{kind}: {evalue}")],
            kind,
            evalue,
        }
    }

    /// The name shown as the error's title (`ename` in the protocol).
    pub fn ename(&self) -> &str {
        self.kind.ename()
    }

    /// Adds context lines under the message.
    pub fn with_context(mut self, lines: Vec<String>) -> Self {
        self.traceback.extend(lines);
        self
    }
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.evalue)
    }
}

impl std::error::Error for CellError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_ename() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.ename()), "{} twice", kind.ename());
            assert_eq!(&ErrorKind::from_ename(kind.ename()), kind);
        }
        assert_eq!(
            ErrorKind::from_ename("ValueError"),
            ErrorKind::Raised("ValueError".into())
        );
    }

    #[test]
    fn the_traceback_starts_with_the_kind_and_message() {
        let e = CellError::new(ErrorKind::TableNotFound, "table t does not exist")
            .with_context(vec!["  in statement at line 1: SELECT * FROM t".into()]);
        assert_eq!(e.ename(), "TableNotFound");
        assert_eq!(e.traceback[0], "TableNotFound: table t does not exist");
        assert_eq!(e.to_string(), e.traceback[0]);
        assert_eq!(e.traceback.len(), 2);
    }
}

//! Turns DataFusion, parser and catalog errors into what a notebook user reads:
//! a short name, one line saying what happened and what to do, and context lines.

use datafusion::common::utils::datafusion_strsim::levenshtein;
use datafusion::error::DataFusionError;

use super::split::Piece;
use crate::catalog::{LakehouseCatalog, Listing, CATALOG_NAME};
use crate::error::{CellError, ErrorKind};
use lakehouse_grammar::errors::strip_prefixes;
pub use lakehouse_grammar::errors::{plain, statement_context, syntax, unterminated};

/// A planning or execution error from DataFusion.
pub fn from_datafusion(
    e: DataFusionError,
    cell: &str,
    piece: &Piece,
    catalog: &LakehouseCatalog,
) -> CellError {
    if crate::optimizer::interrupt::is_interrupted(&e) {
        return CellError::new(
            ErrorKind::Interrupted,
            "the statement was interrupted; it left no changes, and the session keeps its state",
        )
        .with_context(statement_context(piece));
    }
    let root = e.find_root();
    if let DataFusionError::SQL(..) = root {
        return syntax(e, cell, piece);
    }
    let msg = strip_prefixes(&e.strip_backtrace());
    if let Some(name) = missing_table(&msg) {
        let name = crate::catalog::versioned::humanize(&name);
        return unknown_table(&name, &catalog.listing()).with_context(statement_context(piece));
    }
    let kind = match root {
        DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => ErrorKind::Plan,
        DataFusionError::NotImplemented(_) => ErrorKind::NotSupported,
        DataFusionError::ResourcesExhausted(_) => ErrorKind::ResourcesExhausted,
        DataFusionError::ArrowError(..) => ErrorKind::Arrow,
        DataFusionError::IoError(_) => ErrorKind::Io,
        DataFusionError::External(_) => ErrorKind::Catalog,
        _ => ErrorKind::Execution,
    };
    CellError::new(kind, crate::catalog::versioned::humanize(&msg))
        .with_context(statement_context(piece))
}

/// A failed catalog call, naming the object.
pub fn catalog(what: &str, e: iceberg::Error) -> CellError {
    CellError::new(ErrorKind::Catalog, format!("{what}: {e}"))
}

/// Unknown table: names the tables that do exist, closest first.
pub fn unknown_table(name: &str, listing: &Listing) -> CellError {
    let all = listing.qualified_tables();
    let wanted = name
        .strip_prefix(&format!("{CATALOG_NAME}."))
        .unwrap_or(name)
        .to_string();
    let bare = wanted.rsplit('.').next().unwrap_or(&wanted).to_string();
    if bare.contains(['@', '#']) {
        // Another reference: the session's listing says nothing about it.
        return CellError::new(
            ErrorKind::TableNotFound,
            format!(
                "table {wanted} does not exist there; check the table and reference names \
                 (LIST REFERENCES shows references; USE REFERENCE <ref> then SHOW TABLES shows a reference's tables)"
            ),
        );
    }
    let mut ranked: Vec<(usize, String)> = all
        .iter()
        .map(|t| {
            let tb = t.rsplit('.').next().unwrap_or(t);
            (
                levenshtein(&wanted, t).min(levenshtein(&bare, tb)),
                t.clone(),
            )
        })
        .collect();
    ranked.sort();
    let hint = if ranked.is_empty() {
        "there are no tables yet; create one with CREATE TABLE".to_string()
    } else {
        let shown: Vec<_> = ranked.iter().take(8).map(|(_, t)| t.as_str()).collect();
        let more = ranked.len().saturating_sub(shown.len());
        let close = ranked
            .first()
            .filter(|(d, _)| *d <= 2.max(bare.len() / 3))
            .map(|(_, t)| format!("did you mean {t}? "))
            .unwrap_or_default();
        format!(
            "{close}existing tables: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more (SHOW TABLES lists them)")
            } else {
                String::new()
            }
        )
    };
    CellError::new(
        ErrorKind::TableNotFound,
        format!("table {wanted} does not exist; {hint}"),
    )
}

/// Unknown schema: names the schemas that exist.
pub fn unknown_schema(name: &str, catalog: &LakehouseCatalog) -> CellError {
    let listing = catalog.listing();
    let names: Vec<_> = listing.schemas.keys().cloned().collect();
    CellError::new(
        ErrorKind::SchemaNotFound,
        format!(
            "schema {name} does not exist; existing schemas: {}. Create it with CREATE SCHEMA {name}",
            if names.is_empty() {
                "(none)".into()
            } else {
                names.join(", ")
            }
        ),
    )
}

/// "table 'lakehouse.demo.x' not found" → "lakehouse.demo.x"
fn missing_table(msg: &str) -> Option<String> {
    let i = msg.find("table '")?;
    let rest = &msg[i + 7..];
    let (name, tail) = rest.split_once('\'')?;
    tail.trim_start()
        .starts_with("not found")
        .then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakehouse_grammar::split::{self, Open};
    use std::collections::BTreeSet;

    fn listing(tables: &[(&str, &str)]) -> Listing {
        let mut l = Listing::default();
        for (s, t) in tables {
            l.schemas
                .entry(s.to_string())
                .or_insert_with(BTreeSet::new)
                .insert(t.to_string());
        }
        l
    }

    #[test]
    fn unknown_table_suggests_the_closest() {
        let l = listing(&[("demo", "events"), ("demo", "customers"), ("other", "x")]);
        let e = unknown_table("lakehouse.demo.evnts", &l);
        assert_eq!(e.ename(), "TableNotFound");
        assert!(
            e.evalue.contains("table demo.evnts does not exist"),
            "{}",
            e.evalue
        );
        assert!(
            e.evalue.contains("did you mean demo.events?"),
            "{}",
            e.evalue
        );
        assert!(e.evalue.contains("demo.customers"), "{}", e.evalue);
    }

    #[test]
    fn unknown_table_in_empty_catalog_says_how_to_start() {
        let e = unknown_table("t", &Listing::default());
        assert!(e.evalue.contains("CREATE TABLE"));
    }

    #[test]
    fn missing_table_is_parsed_from_datafusion_text() {
        assert_eq!(
            missing_table("table 'lakehouse.demo.x' not found").as_deref(),
            Some("lakehouse.demo.x")
        );
        assert_eq!(missing_table("column 'x' not found"), None);
    }

    #[test]
    fn syntax_error_points_at_the_cell_line() {
        let cell = "SELECT 1;\nSELEC 2";
        let piece = &split::split(cell).pieces[1];
        let e = DataFusionError::SQL(
            Box::new(
                datafusion::sql::sqlparser::parser::ParserError::ParserError(
                    "Expected: an SQL statement, found: SELEC at Line: 1, Column: 1".into(),
                ),
            ),
            None,
        );
        let err = syntax(e, cell, piece);
        assert_eq!(err.ename(), "SyntaxError");
        assert!(err.evalue.contains("line 2, column 1"), "{}", err.evalue);
        assert_eq!(err.traceback[1], "   2 | SELEC 2");
        assert_eq!(err.traceback[2], "     | ^");
        assert!(!err.evalue.contains("ParserError"), "{}", err.evalue);
    }

    #[test]
    fn unterminated_string_is_explained() {
        let e = unterminated("SELECT 'abc", Open::Quote('\''));
        assert!(e.evalue.contains("string literal is not closed"));
    }
}

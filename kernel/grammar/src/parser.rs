//! One parser for everything a statement of a cell can say: DataFusion's SQL plus the
//! kernel's own statements, into one [`Statement`] enum that `SqlEngine` dispatches with one
//! `match` (the shape of DataFusion's `DFParser`, which tries its own statements by keyword
//! and hands everything else down to sqlparser).
//!
//! The statement is tokenized once; its leading keywords pick the one family that parses
//! it (so no family depends on the order others are tried in), and anything that is not
//! the kernel's own goes to DataFusion's parser. `${name}` substitution happens first, in
//! every statement but the kernel's own `SET` (whose value is evaluated, not substituted);
//! time-travel clauses are folded into table names for the statements that read tables.

use std::borrow::Cow;

use datafusion_sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::describe::{self, Describe};
use crate::error::{CellError, ErrorKind};
use crate::options::{Dialect, IcebergReader};
use crate::params::{self, Params};
use crate::refs::{self, RefStatement};
use crate::show_lineage::{self, ShowLineage};
use crate::split::Piece;
use crate::{depth, errors, guard, summarize, tokens, travel, write};

/// Display settings a session can change with `SET lakehouse.<key> = n`.
pub const DISPLAY_SETTINGS: &[&str] = &["max_rows", "max_col_width"];

/// Words of the kernel's own statements that DataFusion's parser does not know as keywords,
/// for completion (the statements themselves are parsed below and in their families).
pub const OWN_KEYWORDS: &[&str] = &[
    "BRANCH",
    "REFERENCE",
    "REFERENCES",
    "ASSIGN",
    "MERGE",
    "TAG",
    "LOG",
    "PARAMETERS",
    "SETTINGS",
];

/// Everything a statement of a cell can be.
#[derive(Debug)]
pub enum Statement {
    /// `SHOW SETTINGS`: the kernel's settings (DataFusion's options are `SHOW ALL`).
    ShowSettings,
    /// `SHOW LIMITS`: memory, CPU and spilling limits in force.
    ShowLimits,
    /// `SHOW PARAMETERS`: the session's `SET` parameters.
    ShowParameters,
    /// `SET lakehouse.max_rows = 200`: a display setting for the rest of the session.
    SetDisplay { key: &'static str, value: usize },
    /// `SET lakehouse.dialect = 'spark' | 'datafusion'`.
    SetDialect(Dialect),
    /// `SET name = expr`: a session parameter (`$name`, `${name}`).
    SetParameter { name: String, expr: String },
    /// `IF <condition> THEN <statement>`.
    Guarded {
        condition: String,
        statement: String,
    },
    /// `ASSERT <condition> [, 'message']`.
    Assert {
        condition: String,
        message: Option<String>,
    },
    /// `SHOW LINEAGE …`.
    ShowLineage(ShowLineage),
    /// Nessie's branch and tag statements (`CREATE BRANCH`, `USE REFERENCE`, `SHOW LOG`, …).
    Reference(RefStatement),
    /// `CREATE [OR REPLACE] TABLE`, `ALTER TABLE`, `DROP TABLE … PURGE`: the kernel's write
    /// path, with Spark's clauses DataFusion does not parse.
    Write(write::Early),
    /// `SHOW DATABASES|SCHEMAS|NAMESPACES`, `DESCRIBE [TABLE] EXTENDED t`.
    Describe(Describe),
    /// `SUMMARIZE <table or query>`: the query to summarize.
    Summarize { query: String },
    /// `MERGE INTO … USING … ON … WHEN …` (sqlparser's statement; DataFusion cannot plan it).
    Merge(Box<DFStatement>),
    /// Anything else: DataFusion's statement.
    Sql(Box<DFStatement>),
}

/// A statement as its handler reads it.
#[derive(Debug)]
pub struct Parsed {
    pub statement: Statement,
    /// The statement's text after `${name}` substitution and time-travel folding, where
    /// the cell it came from is: what error messages point at.
    pub piece: Piece,
    /// The text's tokens (empty when it does not tokenize: DataFusion's parser reports it).
    pub tokens: Vec<TokenWithSpan>,
}

/// The family a statement's leading words belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    ShowSettings,
    ShowLimits,
    ShowParameters,
    /// `SET lakehouse.…`
    SetDisplay,
    /// `SET name …` with a plain name (a parameter, unless it is DataFusion's own SET).
    Set,
    Guarded,
    Assert,
    ShowLineage,
    Reference,
    Write,
    Describe,
    Summarize,
    Sql,
}

/// The text's tokens, none where it does not tokenize.
fn tokenize(text: &str) -> Vec<TokenWithSpan> {
    tokens::tokenize(text).unwrap_or_default()
}

/// The leading words of a statement, upper-cased, from its tokens (comments and blanks
/// skipped; a quoted word is not a keyword), or from its text where it does not tokenize.
fn leading_words(text: &str, tokens: &[TokenWithSpan], n: usize) -> Vec<String> {
    if tokens.is_empty() {
        return text
            .split_whitespace()
            .take(n)
            .map(str::to_ascii_uppercase)
            .collect();
    }
    tokens::significant(tokens)
        .take(n)
        .map(|(_, t)| match &t.token {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            other => other.to_string(),
        })
        .collect()
}

/// Which family parses a statement that starts with `words` (upper-cased; `tokens`, when
/// present, decide the write family's `DROP TABLE … PURGE`).
fn family(words: &[String], tokens: &[TokenWithSpan]) -> Family {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["SHOW", "SETTINGS"] => Family::ShowSettings,
        ["SHOW", "LIMITS"] => Family::ShowLimits,
        ["SHOW", "PARAMETERS"] => Family::ShowParameters,
        ["SHOW", "LINEAGE", ..] => Family::ShowLineage,
        // `lakehouse.max_rows` is three tokens; one word where the text did not tokenize.
        ["SET", "LAKEHOUSE", ".", ..] => Family::SetDisplay,
        ["SET", name, ..] if name.starts_with("LAKEHOUSE.") => Family::SetDisplay,
        ["SET", ..] => Family::Set,
        ["IF", _, ..] => Family::Guarded,
        ["ASSERT", _, ..] => Family::Assert,
        [first, second, ..] if refs::is_ref_head(first, second) => Family::Reference,
        ["SHOW", "DATABASES" | "SCHEMAS" | "NAMESPACES" | "TBLPROPERTIES", ..] => Family::Describe,
        ["DESCRIBE" | "DESC", "EXTENDED" | "FORMATTED", ..]
        | ["DESCRIBE" | "DESC", "TABLE", "EXTENDED" | "FORMATTED", ..] => Family::Describe,
        ["SUMMARIZE", ..] => Family::Summarize,
        ["CREATE" | "ALTER" | "DROP" | "CALL", ..] if write::classify(tokens).is_some() => {
            Family::Write
        }
        _ => Family::Sql,
    }
}

/// What parsing a statement needs from its session.
#[derive(Debug, Clone, Copy)]
pub struct Grammar<'a> {
    /// The session's `SET` parameters, for `${name}`.
    pub params: &'a Params,
    /// DataFusion's `sql_parser.recursion_limit` in force.
    pub recursion_limit: usize,
    /// The session's dialect: Spark's result names and casts are written in when it is Spark.
    pub dialect: Dialect,
}

impl Grammar<'_> {
    /// Parses one statement of `cell` into what the session runs.
    pub fn parse_statement(&self, cell: &str, piece: &Piece) -> Result<Parsed, CellError> {
        let context = || errors::statement_context(piece);
        let in_context = |e: CellError| e.with_context(context());
        // The kernel's own SETs are read as written: their values are evaluated.
        let raw_tokens = tokenize(&piece.text);
        let words = leading_words(&piece.text, &raw_tokens, 4);
        if words.first().map(String::as_str) == Some("SET") {
            let own = match family(&words, &raw_tokens) {
                Family::SetDisplay => match dialect_setting(&piece.text) {
                    Some(d) => Some(Statement::SetDialect(
                        d.map_err(|m| CellError::new(ErrorKind::Setting, m))?,
                    )),
                    None => match session_option(&piece.text) {
                        // Checked here, stored by DataFusion's SET (a config extension).
                        Some(checked) => {
                            checked.map_err(|m| CellError::new(ErrorKind::Setting, m))?;
                            None
                        }
                        None => {
                            let (key, value) = display_setting(&piece.text)
                                .map_err(|m| CellError::new(ErrorKind::Setting, m))?;
                            Some(Statement::SetDisplay { key, value })
                        }
                    },
                },
                _ => match params::parse_set(&piece.text) {
                    Some(set) => {
                        let (name, expr) = set.map_err(in_context)?;
                        Some(Statement::SetParameter { name, expr })
                    }
                    // DataFusion's own SET (dotted names, SET TIME ZONE).
                    None => None,
                },
            };
            if let Some(statement) = own {
                return Ok(Parsed {
                    statement,
                    piece: piece.clone(),
                    tokens: raw_tokens,
                });
            }
        }
        // `${name}` substitution: identifiers and numbers, never a value that could change
        // the statement (params::substitute).
        let (piece, tokens) =
            match params::substitute(&piece.text, self.params).map_err(in_context)? {
                Cow::Borrowed(_) => (piece.clone(), raw_tokens),
                Cow::Owned(text) => {
                    let tokens = tokenize(&text);
                    (
                        Piece {
                            text,
                            ..piece.clone()
                        },
                        tokens,
                    )
                }
            };
        let words = leading_words(&piece.text, &tokens, 4);
        let text = piece.text.as_str();
        let statement = match family(&words, &tokens) {
            Family::ShowSettings => Statement::ShowSettings,
            Family::ShowLimits => Statement::ShowLimits,
            Family::ShowParameters => Statement::ShowParameters,
            Family::SetDisplay | Family::Set => self.parse_sql(cell, &piece)?,
            Family::Guarded => match guard::parse(text) {
                Some(g) => {
                    let (condition, statement) = g.map_err(in_context)?;
                    Statement::Guarded {
                        condition,
                        statement,
                    }
                }
                None => self.parse_sql(cell, &piece)?,
            },
            Family::Assert => match params::parse_assert(text) {
                Some((condition, message)) => Statement::Assert { condition, message },
                None => self.parse_sql(cell, &piece)?,
            },
            Family::ShowLineage => match show_lineage::parse(text) {
                Some(s) => Statement::ShowLineage(s?),
                None => self.parse_sql(cell, &piece)?,
            },
            Family::Reference => match refs::parse(text) {
                Some(r) => Statement::Reference(r?),
                None => self.parse_sql(cell, &piece)?,
            },
            family @ (Family::Write | Family::Describe | Family::Summarize | Family::Sql) => {
                // These read tables: `t VERSION AS OF …` and friends become table names.
                let (piece, tokens) = match travel::rewrite(&piece.text).map_err(in_context)? {
                    Cow::Borrowed(_) => (piece, tokens),
                    Cow::Owned(text) => {
                        let tokens = tokenize(&text);
                        (Piece { text, ..piece }, tokens)
                    }
                };
                let statement = self.parse_table_family(cell, &piece, &tokens, family)?;
                return Ok(Parsed {
                    statement,
                    piece,
                    tokens,
                });
            }
        };
        Ok(Parsed {
            statement,
            piece,
            tokens,
        })
    }

    /// The statements that read tables, once time travel is folded.
    fn parse_table_family(
        &self,
        cell: &str,
        piece: &Piece,
        tokens: &[TokenWithSpan],
        family: Family,
    ) -> Result<Statement, CellError> {
        let in_context = |e: CellError| e.with_context(errors::statement_context(piece));
        Ok(match family {
            Family::Write => match write::classify(tokens) {
                Some(kind) => Statement::Write(kind),
                None => self.parse_sql(cell, piece)?,
            },
            Family::Describe => match describe::parse(&piece.text) {
                Some(d) => Statement::Describe(d.map_err(in_context)?),
                None => self.parse_sql(cell, piece)?,
            },
            Family::Summarize => match summarize::parse(&piece.text) {
                Some(q) => Statement::Summarize {
                    query: q.map_err(in_context)?,
                },
                None => self.parse_sql(cell, piece)?,
            },
            _ => self.parse_sql(cell, piece)?,
        })
    }

    fn parse_sql(&self, cell: &str, piece: &Piece) -> Result<Statement, CellError> {
        let statement = self.parse(cell, piece)?;
        if let DFStatement::Statement(s) = &statement {
            if matches!(
                s.as_ref(),
                datafusion_sql::sqlparser::ast::Statement::Merge(_)
            ) {
                return Ok(Statement::Merge(Box::new(statement)));
            }
        }
        Ok(Statement::Sql(Box::new(statement)))
    }

    /// Parses `piece` with DataFusion's parser (one statement), refusing statements nested
    /// deeper than [`depth`] allows before anything walks them recursively.
    pub fn parse(&self, cell: &str, piece: &Piece) -> Result<DFStatement, CellError> {
        let dialect = GenericDialect {};
        let limit = self.recursion_limit;
        // Spark's `UPDATE SET *` / `INSERT *` in a MERGE and `a DIV b`, as sqlparser reads them.
        let stars = write::spark_stars(&piece.text);
        let text = stars.as_deref().unwrap_or(piece.text.as_str());
        let div = crate::dialect::syntax::div_keyword(text);
        let mut stmts = DFParserBuilder::new(div.as_deref().unwrap_or(text))
            .with_dialect(&dialect)
            .with_recursion_limit(limit)
            .build()
            .and_then(|mut p| p.parse_statements())
            .map_err(|e| errors::syntax(e, cell, piece))?;
        match stmts.len() {
            1 => {
                let mut statement = stmts.pop_front().expect("one statement");
                if let Err(e) = depth::check(&statement) {
                    depth::release(statement);
                    return Err(e.with_context(errors::statement_context(piece)));
                }
                // DataFusion drops `WITH ROLLUP` / `WITH CUBE`: run them as ROLLUP(…)/CUBE(…).
                let rewritten = match &mut statement {
                    DFStatement::Statement(s) => {
                        crate::dialect::group_by::rewrite_modifiers(s.as_mut())
                            .and_then(|()| crate::dialect::syntax::rewrite(s.as_mut()))
                            .map(|()| {
                                if self.dialect == Dialect::Spark {
                                    crate::dialect::names::spark_names(s.as_mut());
                                    crate::dialect::syntax::spark_integer_casts(s.as_mut());
                                }
                            })
                    }
                    _ => Ok(()),
                };
                if let Err(m) = rewritten {
                    return Err(CellError::new(ErrorKind::NotSupported, m)
                        .with_context(errors::statement_context(piece)));
                }
                Ok(statement)
            }
            _ => Err(CellError::new(
                ErrorKind::Syntax,
                format!(
                    "expected one statement at line {}, found {}; separate statements with ';'",
                    piece.line,
                    stmts.len()
                ),
            )),
        }
    }
}

/// `SET lakehouse.max_rows = 200` / `SET lakehouse.max_col_width = 100` (also without `=`):
/// the same names as LAKEHOUSE_MAX_ROWS / _MAX_COL_WIDTH.
/// `SET lakehouse.dialect = 'spark'`: the dialect, or why the value is not one; None for the
/// other `lakehouse.` settings.
fn dialect_setting(text: &str) -> Option<Result<Dialect, String>> {
    let (name, value) = set_name_value(text);
    if name != "lakehouse.dialect" {
        return None;
    }
    Some(
        Dialect::parse(value)
            .ok_or_else(|| format!("lakehouse.dialect is 'spark' or 'datafusion', not '{value}'")),
    )
}

/// `SET lakehouse.iceberg_reader = 'datafusion' | 'iceberg'` (`catalog::options`): whether
/// the value is one it takes; None for the other `lakehouse.` settings.
fn session_option(text: &str) -> Option<Result<(), String>> {
    let (name, value) = set_name_value(text);
    if name != "lakehouse.iceberg_reader" {
        return None;
    }
    Some(match IcebergReader::parse(value) {
        Some(_) => Ok(()),
        None => Err(format!(
            "lakehouse.iceberg_reader is '{value}'; set it to 'datafusion' or 'iceberg'"
        )),
    })
}

/// The lower-cased name and the unquoted value of `SET name [=] value`.
fn set_name_value(text: &str) -> (String, &str) {
    let rest = text.trim()[3..].trim_start();
    let (name, value) = rest.split_once(['=', ' ']).unwrap_or((rest, ""));
    let value = value
        .trim()
        .trim_start_matches('=')
        .trim()
        .trim_matches('\'');
    (name.trim().to_ascii_lowercase(), value)
}

fn display_setting(text: &str) -> Result<(&'static str, usize), String> {
    let (name, value) = set_name_value(text);
    let key = name.strip_prefix("lakehouse.").unwrap_or(&name);
    let Some(key) = DISPLAY_SETTINGS.iter().copied().find(|k| *k == key) else {
        let known: Vec<String> = DISPLAY_SETTINGS
            .iter()
            .map(|k| format!("lakehouse.{k}"))
            .collect();
        return Err(format!(
            "unknown setting lakehouse.{key}; settings changeable in a session: {}, lakehouse.dialect, lakehouse.iceberg_reader",
            known.join(", ")
        ));
    };
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok((key, n)),
        _ => Err(format!(
            "lakehouse.{key} needs a whole number above 0, not '{value}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family_of(text: &str) -> Family {
        let tokens = tokenize(text);
        family(&leading_words(text, &tokens, 4), &tokens)
    }

    #[test]
    fn leading_keywords_pick_one_family() {
        for (text, want) in [
            ("show settings", Family::ShowSettings),
            ("SHOW  LIMITS", Family::ShowLimits),
            ("show  limits", Family::ShowLimits),
            ("SHOW LIMITS\n", Family::ShowLimits),
            ("SHOW LIMITS x", Family::Sql),
            ("show parameters -- all of them", Family::ShowParameters),
            ("SHOW LINEAGE demo.t", Family::ShowLineage),
            ("SET lakehouse.max_rows = 5", Family::SetDisplay),
            ("set x = 1", Family::Set),
            ("IF $go THEN SELECT 1", Family::Guarded),
            ("ASSERT 1 = 1", Family::Assert),
            ("CREATE BRANCH dev FROM main", Family::Reference),
            ("use reference dev", Family::Reference),
            ("SHOW LOG main LIMIT 3", Family::Reference),
            ("SHOW DATABASES", Family::Describe),
            ("SHOW TBLPROPERTIES demo.t ('k')", Family::Describe),
            ("DESCRIBE TABLE EXTENDED demo.t", Family::Describe),
            ("desc formatted demo.t", Family::Describe),
            ("SUMMARIZE demo.t", Family::Summarize),
            ("CREATE TABLE t (a INT) PARTITIONED BY (a)", Family::Write),
            ("create or replace table t AS SELECT 1", Family::Write),
            ("ALTER TABLE t ADD COLUMN b INT", Family::Write),
            ("DROP TABLE t PURGE", Family::Write),
            ("DROP TABLE t", Family::Sql),
            ("DESCRIBE demo.t", Family::Sql),
            ("SHOW TABLES", Family::Sql),
            ("SELECT 1", Family::Sql),
            ("CREATE SCHEMA s", Family::Sql),
            // A quoted word is a name, never a keyword.
            ("\"SHOW\" SETTINGS", Family::Sql),
        ] {
            assert_eq!(family_of(text), want, "{text}");
        }
    }

    #[test]
    fn display_settings_are_checked() {
        assert_eq!(
            display_setting("SET lakehouse.max_rows = 200"),
            Ok(("max_rows", 200))
        );
        assert_eq!(
            display_setting("set LAKEHOUSE.MAX_COL_WIDTH 100"),
            Ok(("max_col_width", 100))
        );
        assert!(display_setting("SET lakehouse.max_rows = 0")
            .unwrap_err()
            .contains("whole number above 0"));
        let e = display_setting("SET lakehouse.colour = 1").unwrap_err();
        assert!(e.contains("unknown setting lakehouse.colour"), "{e}");
        assert!(
            e.contains("lakehouse.max_rows, lakehouse.max_col_width"),
            "{e}"
        );
    }
}

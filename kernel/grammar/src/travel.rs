//! Iceberg snapshot time travel in SQL: `FROM t VERSION AS OF 8423…`,
//! `FROM t TIMESTAMP AS OF '2025-01-16 10:00:00'` (Spark's syntax) and
//! `FROM t FOR SYSTEM_TIME AS OF '…'` (the SQL standard's).
//!
//! DataFusion's generic dialect does not parse these clauses, and its planner ignores table
//! versions even where the parser knows them. So before parsing, each clause is folded into
//! the table name it follows (`"t<mark>v8423…"`, see `catalog::versioned`), which the
//! lakehouse catalog provider resolves to that snapshot. The rest of the text is untouched.

use std::borrow::Cow;

use datafusion_sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::error::{CellError, ErrorKind};
use crate::tokens::{significant, tokenize};
use crate::versioned::{encode_snapshot, parse_timestamp, SnapshotSel};

/// `text` with every time-travel clause folded into its table name; `Err` names a clause
/// that is malformed. Text that does not tokenize is returned as is, for the parser to
/// report.
pub fn rewrite(text: &str) -> Result<Cow<'_, str>, CellError> {
    fold(text).map_err(|m| ErrorKind::Syntax.error(m))
}

fn fold(text: &str) -> Result<Cow<'_, str>, String> {
    let upper = text.to_ascii_uppercase();
    if !["VERSION", "TIMESTAMP", "SYSTEM_TIME"]
        .iter()
        .any(|k| upper.contains(k))
    {
        return Ok(Cow::Borrowed(text));
    }
    let Some(tokens) = tokenize(text) else {
        return Ok(Cow::Borrowed(text));
    };
    let sig: Vec<&TokenWithSpan> = significant(&tokens).map(|(_, t)| t).collect();
    // (start, end, replacement) as token locations, in order.
    let mut edits: Vec<(Location, Location, String)> = Vec::new();
    let mut i = 0;
    while i < sig.len() {
        let Some((kind, value_at)) = clause_at(&sig, i) else {
            i += 1;
            continue;
        };
        // Only right after a table name is it a clause (`SELECT version AS of` is an alias).
        let name = match i.checked_sub(1).map(|p| &sig[p].token) {
            Some(Token::Word(w)) if w.quote_style.is_some() || !is_clause_keyword(&w.value) => w,
            _ => {
                i += 1;
                continue;
            }
        };
        let value = sig.get(value_at).map(|t| &t.token);
        let sel = match (kind, value) {
            (Kind::Version, Some(Token::Number(n, _))) => parse_id(n)?,
            (Kind::Version, Some(Token::SingleQuotedString(s))) => parse_id(s)?,
            (Kind::Timestamp, Some(Token::SingleQuotedString(s))) => {
                SnapshotSel::Time(parse_timestamp(s).map_err(|e| e.evalue)?)
            }
            (Kind::Version, _) => {
                return Err("VERSION AS OF needs a snapshot id, e.g. VERSION AS OF 8423156789012345678 (see t$snapshots)".into())
            }
            (Kind::Timestamp, _) => {
                return Err("TIMESTAMP AS OF needs a quoted timestamp, e.g. TIMESTAMP AS OF '2025-01-16 10:00:00' (UTC)".into())
            }
        };
        let mut ident = if name.quote_style.is_some() {
            name.value.clone()
        } else {
            // Unquoted names are folded to lower case by DataFusion; the quoted form we
            // write must say the same name.
            name.value.to_ascii_lowercase()
        };
        ident.push_str(&encode_snapshot(sel));
        edits.push((
            sig[i - 1].span.start,
            sig[value_at].span.end,
            format!("\"{}\"", ident.replace('"', "\"\"")),
        ));
        i = value_at + 1;
    }
    if edits.is_empty() {
        return Ok(Cow::Borrowed(text));
    }
    let edits: Vec<_> = edits.iter().map(|(s, e, r)| (*s, *e, r.as_str())).collect();
    Ok(Cow::Owned(crate::split::splice(text, &edits)))
}

#[derive(Clone, Copy)]
enum Kind {
    Version,
    Timestamp,
}

/// A time-travel clause starting at `sig[i]`: its kind and where its value is.
fn clause_at(sig: &[&TokenWithSpan], i: usize) -> Option<(Kind, usize)> {
    let word = |j: usize, kw: &str| {
        matches!(sig.get(j).map(|t| &t.token), Some(Token::Word(w))
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
    };
    if word(i + 1, "AS") && word(i + 2, "OF") {
        if word(i, "VERSION") {
            return Some((Kind::Version, i + 3));
        }
        if word(i, "TIMESTAMP") {
            // `TIMESTAMP AS OF TIMESTAMP '…'` also reads naturally: skip the type name.
            let v = if word(i + 3, "TIMESTAMP") {
                i + 4
            } else {
                i + 3
            };
            return Some((Kind::Timestamp, v));
        }
    }
    if word(i, "FOR") && word(i + 1, "SYSTEM_TIME") && word(i + 2, "AS") && word(i + 3, "OF") {
        let v = if word(i + 4, "TIMESTAMP") {
            i + 5
        } else {
            i + 4
        };
        return Some((Kind::Timestamp, v));
    }
    None
}

/// Words that can precede `TIMESTAMP AS OF` without being a table name.
fn is_clause_keyword(w: &str) -> bool {
    [
        "AS", "SELECT", "FROM", "JOIN", "ON", "WHERE", "AND", "OR", "BY", "CAST",
    ]
    .iter()
    .any(|k| w.eq_ignore_ascii_case(k))
}

fn parse_id(s: &str) -> Result<SnapshotSel, String> {
    s.trim().parse::<i64>().map(SnapshotSel::Id).map_err(|_| {
        format!("VERSION AS OF needs a snapshot id (a whole number), not '{s}'; see t$snapshots")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versioned::{TableSpec, SNAPSHOT_MARK};

    fn one(sql: &str) -> String {
        rewrite(sql).unwrap().into_owned()
    }

    #[test]
    fn untouched_without_clauses() {
        for sql in [
            "SELECT 1",
            "SELECT CAST(x AS TIMESTAMP) AS ts FROM t",
            "SELECT 'VERSION AS OF 3' FROM t",
        ] {
            assert!(matches!(rewrite(sql).unwrap(), Cow::Borrowed(_)), "{sql}");
        }
    }

    #[test]
    fn version_folds_into_the_name() {
        let out = one("SELECT * FROM demo.Events VERSION AS OF 42 e WHERE x = 1");
        assert_eq!(
            out,
            format!("SELECT * FROM demo.\"events{SNAPSHOT_MARK}v42\" e WHERE x = 1")
        );
        let name = format!("events{SNAPSHOT_MARK}v42");
        assert_eq!(
            TableSpec::parse(&name).unwrap().snapshot,
            Some(SnapshotSel::Id(42))
        );
    }

    #[test]
    fn timestamps_quoted_names_and_several_clauses() {
        let out = one(
            "SELECT * FROM \"t@dev\" TIMESTAMP AS OF '2025-01-16 10:00:00'\nJOIN u FOR SYSTEM_TIME AS OF TIMESTAMP '2025-01-16T10:00:00Z' ON true",
        );
        assert_eq!(
            out,
            format!(
                "SELECT * FROM \"t@dev{m}t1737021600000\"\nJOIN \"u{m}t1737021600000\" ON true",
                m = SNAPSHOT_MARK
            )
        );
    }

    #[test]
    fn malformed_clauses_say_what_is_expected() {
        let e = rewrite("SELECT * FROM t VERSION AS OF 'abc'").unwrap_err();
        assert!(e.evalue.contains("snapshot id"), "{e}");
        let e = rewrite("SELECT * FROM t TIMESTAMP AS OF 5").unwrap_err();
        assert!(e.evalue.contains("quoted timestamp"), "{e}");
        let e = rewrite("SELECT * FROM t TIMESTAMP AS OF 'yesterday'").unwrap_err();
        assert!(e.evalue.contains("not a timestamp"), "{e}");
        // Not after a table name: an alias, left for DataFusion.
        assert!(matches!(
            rewrite("SELECT version AS of FROM t").unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn non_ascii_text_keeps_its_offsets() {
        let out = one("SELECT 'é' AS x FROM t VERSION AS OF 7 -- ü");
        assert_eq!(
            out,
            format!("SELECT 'é' AS x FROM \"t{SNAPSHOT_MARK}v7\" -- ü")
        );
    }
}

//! `SHOW LINEAGE <table>` and `SHOW LINEAGE FOR NOTEBOOK 'path'`: their grammar.

use crate::error::{self, CellError};

/// The grammar, for errors.
pub const GRAMMAR: &str =
    "SHOW LINEAGE <table> [LIMIT n]; SHOW LINEAGE FOR NOTEBOOK '<path or file name>' [LIMIT n]";

/// A parsed `SHOW LINEAGE` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowLineage {
    /// One row per snapshot of the table (`schema.table`, `@ref` allowed).
    Table { name: String, limit: Option<usize> },
    /// The commits a notebook made.
    Notebook { path: String, limit: Option<usize> },
}

/// `None` when `text` is not `SHOW LINEAGE …`; `Some(Err)` when it is but does not parse.
pub fn parse(text: &str) -> Option<Result<ShowLineage, CellError>> {
    read(text).map(|r| r.map_err(|m| error::ErrorKind::Syntax.error(m)))
}

/// [`parse`] with the message of a malformed statement as text.
fn read(text: &str) -> Option<Result<ShowLineage, String>> {
    let t = text.trim().trim_end_matches(';').trim();
    let mut words = t.split_whitespace();
    let (a, b) = (words.next()?, words.next()?);
    if !a.eq_ignore_ascii_case("SHOW") || !b.eq_ignore_ascii_case("LINEAGE") {
        return None;
    }
    let rest = t[t.to_ascii_uppercase().find("LINEAGE")? + "LINEAGE".len()..].trim();
    Some(parse_rest(rest))
}

fn parse_rest(rest: &str) -> Result<ShowLineage, String> {
    let (body, limit) = split_limit(rest)?;
    let mut body = body.trim();
    let upper = body.to_ascii_uppercase();
    if upper.starts_with("FOR ") {
        body = body[4..].trim_start();
    }
    let upper = body.to_ascii_uppercase();
    if upper.starts_with("NOTEBOOK") && !upper["NOTEBOOK".len()..].starts_with(['.', '_']) {
        let path = unquote(body["NOTEBOOK".len()..].trim());
        if path.is_empty() {
            return Err(format!(
                "SHOW LINEAGE FOR NOTEBOOK needs a notebook path or file name; {GRAMMAR}"
            ));
        }
        return Ok(ShowLineage::Notebook { path, limit });
    }
    if body.is_empty() || body.contains(char::is_whitespace) {
        return Err(format!(
            "expected one table name after SHOW LINEAGE; {GRAMMAR}"
        ));
    }
    Ok(ShowLineage::Table {
        name: body.to_string(),
        limit,
    })
}

fn split_limit(rest: &str) -> Result<(&str, Option<usize>), String> {
    let upper = rest.to_ascii_uppercase();
    match upper.rfind(" LIMIT ") {
        Some(at) => {
            let n = rest[at + 7..].trim();
            let n = n
                .parse::<usize>()
                .map_err(|_| format!("LIMIT needs a whole number, not '{n}'"))?;
            Ok((&rest[..at], Some(n)))
        }
        None => Ok((rest, None)),
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['\'', '"', '`'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].replace(&format!("{q}{q}"), &q.to_string());
        }
    }
    s.to_string()
}

//! `SUMMARIZE <table or query>`: its grammar.

use crate::error::{CellError, ErrorKind};

/// The query a `SUMMARIZE` statement summarizes (`SELECT * FROM t` for a table name), or
/// `None` when `text` is not a SUMMARIZE statement.
pub fn parse(text: &str) -> Option<Result<String, CellError>> {
    read(text).map(|r| r.map_err(|m| ErrorKind::Syntax.error(m)))
}

/// [`parse`] with the message of a malformed statement as text.
fn read(text: &str) -> Option<Result<String, String>> {
    let t = text.trim().trim_end_matches(';').trim();
    let (word, rest) = t.split_at_checked(9)?;
    if !word.eq_ignore_ascii_case("SUMMARIZE") {
        return None;
    }
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(Err(
            "SUMMARIZE needs a table or a query: SUMMARIZE demo.events, or SUMMARIZE SELECT amount FROM demo.events"
                .into(),
        ));
    }
    let first = rest
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    Some(Ok(
        if rest.starts_with('(') || ["SELECT", "WITH", "VALUES", "FROM"].contains(&first.as_str()) {
            rest.to_string()
        } else {
            format!("SELECT * FROM {rest}")
        },
    ))
}

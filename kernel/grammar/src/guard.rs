//! `IF <condition> THEN <statement>`: its grammar.

use crate::error::{CellError, ErrorKind};

/// `(condition, statement)` of an `IF … THEN …` statement; `None` for anything else.
pub fn parse(text: &str) -> Option<Result<(String, String), CellError>> {
    read(text).map(|r| r.map_err(|m| ErrorKind::Syntax.error(m)))
}

/// [`parse`] with the message of a malformed statement as text.
fn read(text: &str) -> Option<Result<(String, String), String>> {
    let t = text.trim();
    let head = t.get(..2)?;
    if !head.eq_ignore_ascii_case("IF") || !t[2..].starts_with(char::is_whitespace) {
        return None;
    }
    let body = &t[2..];
    match find_then(body) {
        Some(at) => {
            let cond = body[..at].trim();
            let stmt = body[at + 4..].trim();
            if cond.is_empty() || stmt.is_empty() {
                return Some(Err(usage()));
            }
            Some(Ok((cond.to_string(), stmt.to_string())))
        }
        None => Some(Err(usage())),
    }
}

fn usage() -> String {
    "IF needs a condition and a statement: IF $enable_cleanup THEN DROP TABLE IF EXISTS demo.events"
        .into()
}

/// Byte offset of the first `THEN` outside quotes, parentheses and CASE … END.
fn find_then(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut depth, mut cases) = (0i32, 0i32);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$')
                {
                    i += 1;
                }
                let word = s[start..i].to_ascii_uppercase();
                let before = start.checked_sub(1).map(|p| b[p]);
                if before == Some(b'$') || before == Some(b'.') {
                    continue;
                }
                match word.as_str() {
                    "CASE" => cases += 1,
                    "END" if cases > 0 => cases -= 1,
                    "THEN" if depth == 0 && cases == 0 => return Some(start),
                    _ => {}
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

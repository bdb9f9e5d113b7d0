//! `SHOW DATABASES|SCHEMAS|NAMESPACES [LIKE …]`, `DESCRIBE [TABLE] EXTENDED t` and
//! `SHOW TBLPROPERTIES t [('key')]`: their grammar.

use crate::error::{self, CellError};
use crate::CATALOG_NAME;

/// A statement this module answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Describe {
    /// `SHOW DATABASES [LIKE 'pattern']`
    Schemas { like: Option<String> },
    /// `DESCRIBE [TABLE] EXTENDED name`: the name as written.
    Extended { name: String },
    /// `SHOW TBLPROPERTIES name [('key')]`: the table's properties as (key, value) rows.
    Properties { name: String, key: Option<String> },
}

/// Recognizes the statements above; `None` for anything else (plain DESCRIBE included).
pub fn parse(text: &str) -> Option<Result<Describe, CellError>> {
    read(text).map(|r| r.map_err(|m| error::ErrorKind::Syntax.error(m)))
}

/// [`parse`] with the message of a malformed statement as text.
fn read(text: &str) -> Option<Result<Describe, String>> {
    let t = text.trim().trim_end_matches(';').trim();
    let mut words = t.split_whitespace();
    let first = words.next()?.to_ascii_uppercase();
    match first.as_str() {
        "SHOW" => {
            let what = words.next()?.to_ascii_uppercase();
            if what == "TBLPROPERTIES" {
                return Some(properties_statement(t));
            }
            if !["DATABASES", "SCHEMAS", "NAMESPACES"].contains(&what.as_str()) {
                return None;
            }
            let rest: Vec<&str> = words.collect();
            let rest: Vec<&str> = match rest.as_slice() {
                [kw, cat, tail @ ..]
                    if (kw.eq_ignore_ascii_case("IN") || kw.eq_ignore_ascii_case("FROM"))
                        && cat.trim_matches('`') == CATALOG_NAME =>
                {
                    tail.to_vec()
                }
                other => other.to_vec(),
            };
            Some(match rest.as_slice() {
                [] => Ok(Describe::Schemas { like: None }),
                [kw, pat @ ..] if kw.eq_ignore_ascii_case("LIKE") && !pat.is_empty() => {
                    let pat = pat.join(" ");
                    let p = pat.trim();
                    if p.len() >= 2 && p.starts_with('\'') && p.ends_with('\'') {
                        Ok(Describe::Schemas {
                            like: Some(p[1..p.len() - 1].to_string()),
                        })
                    } else {
                        Err(format!(
                            "SHOW {what} LIKE needs a quoted pattern, e.g. LIKE 'demo*'"
                        ))
                    }
                }
                _ => Err(format!(
                    "SHOW {what} takes [IN {CATALOG_NAME}] [LIKE 'pattern'], e.g. SHOW {what} LIKE 'demo*'"
                )),
            })
        }
        "DESCRIBE" | "DESC" => {
            let mut next = words.next()?;
            if next.eq_ignore_ascii_case("TABLE") {
                next = words.next()?;
            }
            if !(next.eq_ignore_ascii_case("EXTENDED") || next.eq_ignore_ascii_case("FORMATTED")) {
                return None;
            }
            // The name is everything after the keyword (it may hold quoted spaces).
            let at = t.to_ascii_uppercase().find(&next.to_ascii_uppercase())? + next.len();
            let name = t[at..].trim();
            if name.is_empty() {
                return Some(Err(
                    "DESCRIBE EXTENDED needs a table name, e.g. DESCRIBE EXTENDED demo.events"
                        .into(),
                ));
            }
            Some(Ok(Describe::Extended {
                name: name.to_string(),
            }))
        }
        _ => None,
    }
}

/// `SHOW TBLPROPERTIES name [('key')]` (`t` starts with those two words).
fn properties_statement(t: &str) -> Result<Describe, String> {
    let rest = t["SHOW".len()..].trim_start()["TBLPROPERTIES".len()..].trim();
    let (name, key) = match rest.strip_suffix(')').and_then(|r| r.rsplit_once('(')) {
        Some((name, key)) => {
            let key = key.trim();
            let unquoted = ['\'', '"', '`']
                .iter()
                .find_map(|q| key.strip_prefix(*q)?.strip_suffix(*q))
                .unwrap_or(key);
            (name.trim(), Some(unquoted.to_string()))
        }
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(
            "SHOW TBLPROPERTIES needs a table name, e.g. SHOW TBLPROPERTIES demo.events".into(),
        );
    }
    Ok(Describe::Properties {
        name: name.to_string(),
        key,
    })
}

//! Session parameters: `SET name = <literal or expression>;`, used as typed values (`$name`)
//! and as identifiers (`${name}`).
//!
//! This is what papermill injects (see `kernelspec/python`): the notebook's `parameters`
//! cell is `SET num_events = 5000;` and the injected cell overrides it. Values go into plans
//! as DataFusion placeholders bound to typed literals, so a string containing a quote can
//! never change a statement; identifiers are substituted as text only after checking that
//! they are plain (dotted) names.

use std::borrow::Cow;
use std::collections::BTreeMap;

use datafusion_common::ScalarValue;

use crate::error::{CellError, ErrorKind};

/// Names DataFusion itself handles with `SET` (besides dotted `datafusion.*` options).
const DATAFUSION_SETS: &[&str] = &["timezone", "time_zone", "time"];

/// Session parameters, by name.
#[derive(Debug, Default)]
pub struct Params {
    values: std::sync::Mutex<BTreeMap<String, ScalarValue>>,
}

impl Params {
    /// Sets (or replaces) `name`.
    pub fn set(&self, name: &str, value: ScalarValue) {
        self.values
            .lock()
            .expect("params lock")
            .insert(name.to_string(), value);
    }

    /// A copy of every parameter.
    pub fn all(&self) -> BTreeMap<String, ScalarValue> {
        self.values.lock().expect("params lock").clone()
    }

    /// One parameter.
    pub fn get(&self, name: &str) -> Option<ScalarValue> {
        self.values.lock().expect("params lock").get(name).cloned()
    }

    /// The parameter names, for messages.
    pub fn names(&self) -> String {
        let names: Vec<String> = self
            .values
            .lock()
            .expect("params lock")
            .keys()
            .cloned()
            .collect();
        if names.is_empty() {
            "none is set yet".to_string()
        } else {
            format!("set: {}", names.join(", "))
        }
    }
}

/// `SET name = expr` / `SET name TO expr` with a plain name: `Some((name, expr))`. Dotted
/// names (`datafusion.execution.batch_size`) and DataFusion's own `SET TIME ZONE` are not
/// parameters and return `None`.
pub fn parse_set(text: &str) -> Option<Result<(String, String), CellError>> {
    read_set(text).map(|r| r.map_err(|m| ErrorKind::Syntax.error(m)))
}

/// [`parse_set`] with the message of a malformed statement as text.
fn read_set(text: &str) -> Option<Result<(String, String), String>> {
    let t = text.trim();
    let rest = t
        .get(..3)
        .filter(|kw| kw.eq_ignore_ascii_case("SET"))
        .map(|_| &t[3..])?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim_start();
    let name_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    if name.contains('.') || DATAFUSION_SETS.iter().any(|d| name.eq_ignore_ascii_case(d)) {
        return None;
    }
    let after = rest[name_len..].trim_start();
    let expr = if let Some(e) = after.strip_prefix('=') {
        e
    } else if after.get(..2).is_some_and(|w| w.eq_ignore_ascii_case("TO"))
        && after[2..].starts_with(char::is_whitespace)
    {
        &after[2..]
    } else {
        return Some(Err(format!(
            "SET needs a name and a value: SET name = value (e.g. SET num_events = 5000; \
             SET day = DATE '2025-01-16'); got: {t}"
        )));
    };
    if !is_identifier(name) {
        return Some(Err(format!(
            "'{name}' is not a parameter name: use letters, digits and _ and start with a letter or _"
        )));
    }
    let expr = expr.trim();
    if expr.is_empty() {
        return Some(Err(format!("SET {name} needs a value after =")));
    }
    Some(Ok((name.to_ascii_lowercase(), expr.to_string())))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Puts the session's parameter values into the statement as SQL literals (`$n` → `100`,
/// `$day` → `CAST('2025-01-16' AS DATE)`), in the parsed statement, never in its text, so a
/// value cannot change the statement. This reaches places where DataFusion evaluates
/// arguments while planning and cannot bind placeholders later (`range($n)`, `LIMIT $n`,
/// an INSERT's VALUES). Unknown names stay placeholders and are reported when binding.
pub fn inline_parameters(statement: &mut datafusion_sql::parser::Statement, params: &Params) {
    use datafusion_expr::Expr as LogicalExpr;
    use datafusion_sql::sqlparser::ast::{visit_expressions_mut, Expr, Value};
    use datafusion_sql::unparser::Unparser;
    let datafusion_sql::parser::Statement::Statement(st) = statement else {
        return;
    };
    let values = params.all();
    let unparser = Unparser::default();
    let _ = visit_expressions_mut(st.as_mut(), |e: &mut Expr| {
        let Expr::Value(v) = &*e else {
            return std::ops::ControlFlow::<()>::Continue(());
        };
        let Value::Placeholder(id) = &v.value else {
            return std::ops::ControlFlow::Continue(());
        };
        let literal = values
            .get(&id.trim_start_matches('$').to_ascii_lowercase())
            .and_then(|value| {
                unparser
                    .expr_to_sql(&LogicalExpr::Literal(value.clone(), None))
                    .ok()
            });
        let inner = match literal {
            Some(l) => l,
            None => std::mem::replace(e, Expr::value(Value::Null)),
        };
        // Parenthesised: DataFusion's INSERT planner reads a bare placeholder in VALUES as
        // positional (`$1`) and the literal keeps its own precedence.
        *e = Expr::Nested(Box::new(inner));
        std::ops::ControlFlow::Continue(())
    });
}

/// `ASSERT <condition> [, 'message']` (also `AS 'message'`, PostgreSQL's form):
/// `Some((condition, message))`.
pub fn parse_assert(text: &str) -> Option<(String, Option<String>)> {
    let t = text.trim();
    let head = t.get(..6)?;
    if !head.eq_ignore_ascii_case("ASSERT") || !t[6..].starts_with(char::is_whitespace) {
        return None;
    }
    let body = t[6..].trim();
    // A trailing string literal after a top-level `,` or `AS` is the message.
    if body.len() > 1 && body.ends_with('\'') {
        let b = body.as_bytes();
        let mut i = b.len() - 1; // the closing quote
        let mut start = None;
        while i > 0 {
            i -= 1;
            if b[i] == b'\'' {
                if i > 0 && b[i - 1] == b'\'' {
                    i -= 1;
                    continue;
                }
                start = Some(i);
                break;
            }
        }
        if let Some(start) = start {
            let before = body[..start].trim_end();
            let msg = body[start + 1..body.len() - 1].replace("''", "'");
            if let Some(cond) = before.strip_suffix(',') {
                return Some((cond.trim().to_string(), Some(msg)));
            }
            let n = before.len();
            if n > 3 && before[n - 3..].eq_ignore_ascii_case(" AS") {
                return Some((before[..n - 3].trim().to_string(), Some(msg)));
            }
        }
    }
    Some((body.to_string(), None))
}

/// Replaces `${name}` outside strings, quoted names and comments with the parameter's
/// value, which must be a plain (optionally dotted) name or a whole number.
/// A missing or unusable parameter is a ParameterError.
pub fn substitute<'a>(text: &'a str, params: &Params) -> Result<Cow<'a, str>, CellError> {
    replace(text, params).map_err(|m| ErrorKind::Parameter.error(m))
}

fn replace<'a>(text: &'a str, params: &Params) -> Result<Cow<'a, str>, String> {
    if !text.contains("${") {
        return Ok(Cow::Borrowed(text));
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                // Skip to the closing quote (doubled quotes stay inside).
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |j| i + 2 + j + 2);
            }
            b'$' if b.get(i + 1) == Some(&b'{') => {
                let Some(close) = text[i..].find('}') else {
                    return Err("'${' without a closing '}': write ${name}".to_string());
                };
                let name = text[i + 2..i + close].trim();
                let value = params.get(&name.to_ascii_lowercase()).ok_or_else(|| {
                    format!(
                        "parameter '{name}' in ${{{name}}} is not set ({}); set it with SET {name} = …",
                        params.names()
                    )
                })?;
                out.push_str(&text[copied..i]);
                out.push_str(&as_identifier(name, &value)?);
                i += close + 1;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied.min(text.len())..]);
    Ok(Cow::Owned(out))
}

/// A parameter's value as identifier text, refusing anything that could change a statement.
fn as_identifier(name: &str, value: &ScalarValue) -> Result<String, String> {
    let s = match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        v if v.data_type().is_integer() && !v.is_null() => return Ok(v.to_string()),
        v => {
            return Err(format!(
            "${{{name}}} stands for a name (a table, schema or column), but {name} is {v} ({}); \
                 use ${name} for a value",
            v.data_type()
        ))
        }
    };
    if !s.is_empty() && s.split('.').all(is_identifier) {
        Ok(s)
    } else {
        Err(format!(
            "${{{name}}} must be a plain name (letters, digits, _ and dots), not '{s}'; \
             use ${name} where a value is meant"
        ))
    }
}

/// A value as plain text, for metadata (strings unquoted, `NULL` for null).
pub fn plain(value: &ScalarValue) -> String {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        v if v.is_null() => "NULL".to_string(),
        v => v.to_string(),
    }
}

/// A value for `SHOW PARAMETERS` and messages (strings quoted as in SQL).
pub fn show(value: &ScalarValue) -> String {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => format!("'{}'", s.replace('\'', "''")),
        v if v.is_null() => "NULL".to_string(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        let p = Params::default();
        p.set("db", ScalarValue::Utf8(Some("demo2".into())));
        p.set("n", ScalarValue::Int64(Some(5)));
        p.set("evil", ScalarValue::Utf8(Some("x; DROP TABLE t".into())));
        p
    }

    /// Found by the `statement` fuzz target: a character of two or more bytes right after the
    /// name cut the check for `TO` inside it (a panic where a syntax error belongs).
    #[test]
    fn a_wide_character_after_the_name_is_a_syntax_error() {
        for text in ["SET a \u{7b9}b", "SET a é", "SET a T\u{e9}"] {
            let e = read_set(text).unwrap().unwrap_err();
            assert!(e.starts_with("SET needs a name and a value"), "{text}: {e}");
        }
    }

    #[test]
    fn set_statements() {
        assert_eq!(
            parse_set("SET num_events = 5000"),
            Some(Ok(("num_events".into(), "5000".into())))
        );
        assert_eq!(
            parse_set("set Name TO 'O''Brien'"),
            Some(Ok(("name".into(), "'O''Brien'".into())))
        );
        assert_eq!(parse_set("SET datafusion.execution.batch_size = 10"), None);
        assert_eq!(parse_set("SET TIME ZONE = 'UTC'"), None);
        assert_eq!(parse_set("SETTINGS"), None);
        assert_eq!(parse_set("SELECT 1"), None);
        assert!(parse_set("SET x").unwrap().is_err());
        assert!(parse_set("SET 1x = 2").unwrap().is_err());
        assert!(parse_set("SET x =  ").unwrap().is_err());
    }

    #[test]
    fn identifiers_are_substituted_outside_strings_only() {
        let p = params();
        assert_eq!(
            substitute("SELECT * FROM ${db}.events LIMIT ${n} -- ${nope}", &p).unwrap(),
            "SELECT * FROM demo2.events LIMIT 5 -- ${nope}"
        );
        assert_eq!(
            substitute("SELECT '${db}', \"${db}\" FROM t", &p).unwrap(),
            "SELECT '${db}', \"${db}\" FROM t"
        );
        let e = substitute("SELECT * FROM ${evil}", &p).unwrap_err();
        assert!(e.evalue.contains("plain name"), "{e}");
        let e = substitute("SELECT * FROM ${missing}", &p).unwrap_err();
        assert!(
            e.evalue.contains("not set") && e.evalue.contains("db, evil, n"),
            "{e}"
        );
        assert!(matches!(
            substitute("SELECT $n", &p).unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn assert_statements() {
        assert_eq!(parse_assert("SELECT 1"), None);
        assert_eq!(parse_assert("ASSERTION"), None);
        assert_eq!(
            parse_assert("ASSERT (SELECT count(*) FROM t) > 0, 'no rows'"),
            Some((
                "(SELECT count(*) FROM t) > 0".into(),
                Some("no rows".into())
            ))
        );
        assert_eq!(
            parse_assert("assert x = 'a' AS 'x is ''a'''"),
            Some(("x = 'a'".into(), Some("x is 'a'".into())))
        );
        assert_eq!(
            parse_assert("ASSERT x = 'a'"),
            Some(("x = 'a'".into(), None))
        );
    }

    #[test]
    fn shown_values_read_as_sql() {
        assert_eq!(show(&ScalarValue::Utf8(Some("it's".into()))), "'it''s'");
        assert_eq!(show(&ScalarValue::Int64(None)), "NULL");
        assert_eq!(show(&ScalarValue::Float64(Some(1.5))), "1.5");
    }
}

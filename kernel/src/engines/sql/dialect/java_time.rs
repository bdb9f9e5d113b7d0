//! Spark's date functions with Java `DateTimeFormatter` patterns (`'yyyy-MM-dd'`), which
//! DataFusion's functions of the same names read as chrono patterns (`'%Y-%m-%d'`):
//! `date_format(ts, 'yyyy-MM')` returned the text `yyyy-MM`, `from_unixtime(0, 'yyyy-MM-dd')`
//! read the pattern as a time zone. Each function here rewrites itself, once its pattern is
//! known (a literal), into DataFusion's function with the pattern translated, so the work is
//! DataFusion's own; a pattern that is not a literal, or a letter with no chrono equivalent,
//! fails with a message instead of a different answer.

use std::any::Any;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::functions::datetime as df;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    cast, lit, ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, TypeSignature, Volatility,
};

/// Spark's pattern for timestamps as text (`from_unixtime`, `unix_timestamp` of a string).
const SPARK_TIMESTAMP: &str = "yyyy-MM-dd HH:mm:ss";

/// Names only the Spark dialect has (the DataFusion dialect removes them).
pub const SPARK_ONLY: [&str; 1] = ["unix_timestamp"];

/// Spark's functions, for the Spark dialect.
pub fn spark_functions() -> Vec<ScalarUDF> {
    [
        Kind::DateFormat,
        Kind::ToDate,
        Kind::ToTimestamp,
        Kind::FromUnixtime,
        Kind::UnixTimestamp,
    ]
    .into_iter()
    .map(|k| ScalarUDF::new_from_impl(JavaPatternFn::new(k)))
    .collect()
}

/// DataFusion's functions of the same names, for the DataFusion dialect.
pub fn datafusion_functions(config: &ConfigOptions) -> Vec<std::sync::Arc<ScalarUDF>> {
    vec![
        df::to_char(),
        df::to_date(),
        df::to_timestamp(config),
        df::from_unixtime(),
    ]
}

/// Translates a Java `DateTimeFormatter` pattern (as Spark reads it) into chrono's.
pub fn java_to_chrono(pattern: &str) -> std::result::Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted text; '' is a quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                push_literal(&mut out, chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err(format!("the pattern '{pattern}' has an unclosed quote"));
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut out, c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let piece = match (c, n) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M' | 'L', 1) => "%-m",
            ('M' | 'L', 2) => "%m",
            ('M' | 'L', 3) => "%b",
            ('M' | 'L', _) => "%B",
            ('d', 1) => "%-d",
            ('d', 2) => "%d",
            ('D', 1) => "%-j",
            ('D', _) => "%j",
            ('H', 1) => "%-H",
            ('H', 2) => "%H",
            ('h', 1) => "%-I",
            ('h', 2) => "%I",
            ('m', 1) => "%-M",
            ('m', 2) => "%M",
            ('s', 1) => "%-S",
            ('s', 2) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('a', 1) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('X' | 'x' | 'Z', 1..=2) => "%z",
            ('X' | 'x' | 'Z', _) => "%:z",
            _ => {
                return Err(format!(
                    "the pattern letter '{}' in '{pattern}' is not supported by the kernel; use yyyy, MM, MMM, dd, HH, hh, mm, ss, SSS, a, EEE or Z",
                    c.to_string().repeat(n)
                ))
            }
        };
        out.push_str(piece);
        i += n;
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    DateFormat,
    ToDate,
    ToTimestamp,
    FromUnixtime,
    UnixTimestamp,
}

/// One of Spark's pattern-taking date functions.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JavaPatternFn {
    kind: Kind,
    signature: Signature,
}

impl JavaPatternFn {
    fn new(kind: Kind) -> Self {
        let (arities, volatility): (&[usize], _) = match kind {
            Kind::DateFormat => (&[2], Volatility::Immutable),
            Kind::ToDate | Kind::ToTimestamp | Kind::FromUnixtime => {
                (&[1, 2], Volatility::Immutable)
            }
            Kind::UnixTimestamp => (&[0, 1, 2], Volatility::Stable),
        };
        let forms = arities
            .iter()
            .map(|&n| match n {
                0 => TypeSignature::Nullary,
                n => TypeSignature::Any(n),
            })
            .collect();
        JavaPatternFn {
            kind,
            signature: Signature::one_of(forms, volatility),
        }
    }

    fn result(&self) -> DataType {
        match self.kind {
            Kind::DateFormat | Kind::FromUnixtime => DataType::Utf8,
            Kind::ToDate => DataType::Date32,
            Kind::ToTimestamp => DataType::Timestamp(TimeUnit::Nanosecond, None),
            Kind::UnixTimestamp => DataType::Int64,
        }
    }

    /// The DataFusion expression this call is, with `pattern` already translated.
    fn rewrite(
        &self,
        mut args: Vec<Expr>,
        pattern: Option<String>,
        info: &SimplifyContext,
    ) -> Result<Expr> {
        let ts = DataType::Timestamp(TimeUnit::Nanosecond, None);
        let config = info.config_options();
        let chrono = |p: &str| java_to_chrono(p).or_else(|m| plan_err!("{}: {m}", self.name()));
        let first = if args.is_empty() {
            None
        } else {
            Some(args.remove(0))
        };
        let first_type = match &first {
            Some(e) => Some(e.get_type(info.schema())?),
            None => None,
        };
        let is_text = matches!(
            first_type,
            Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        );
        let is_time = matches!(
            first_type,
            Some(DataType::Date32 | DataType::Date64 | DataType::Timestamp(..))
        );
        let e = match self.kind {
            Kind::DateFormat => {
                let value = first.expect("two arguments");
                let p = pattern.expect("a pattern");
                df::to_char().call(vec![cast(value, ts), lit(chrono(&p)?)])
            }
            Kind::FromUnixtime => {
                let seconds = cast(first.expect("an argument"), DataType::Int64);
                let p = pattern.unwrap_or_else(|| SPARK_TIMESTAMP.to_string());
                let when = df::to_timestamp_seconds(config).call(vec![seconds]);
                df::to_char().call(vec![when, lit(chrono(&p)?)])
            }
            Kind::ToDate => {
                let value = first.expect("an argument");
                match pattern {
                    _ if is_time => cast(value, DataType::Date32),
                    Some(p) => df::to_date().call(vec![value, lit(chrono(&p)?)]),
                    None => df::to_date().call(vec![value]),
                }
            }
            Kind::ToTimestamp => {
                let value = first.expect("an argument");
                match pattern {
                    _ if is_time => cast(value, ts.clone()),
                    Some(p) => df::to_timestamp(config).call(vec![value, lit(chrono(&p)?)]),
                    None => df::to_timestamp(config).call(vec![value]),
                }
            }
            Kind::UnixTimestamp => match first {
                None => df::to_unixtime().call(vec![df::now(config).call(vec![])]),
                Some(value) if is_time => df::to_unixtime().call(vec![cast(value, ts)]),
                Some(value) if is_text => {
                    let p = pattern.unwrap_or_else(|| SPARK_TIMESTAMP.to_string());
                    df::to_unixtime().call(vec![value, lit(chrono(&p)?)])
                }
                Some(value) => df::to_unixtime().call(vec![value]),
            },
        };
        // The declared type, whatever the session's time zone makes DataFusion's return.
        Ok(cast(e, self.result()))
    }
}

impl ScalarUDFImpl for JavaPatternFn {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        match self.kind {
            Kind::DateFormat => "date_format",
            Kind::ToDate => "to_date",
            Kind::ToTimestamp => "to_timestamp",
            Kind::FromUnixtime => "from_unixtime",
            Kind::UnixTimestamp => "unix_timestamp",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.result())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Reached only when the pattern was not a literal: simplify rewrites every other call.
        exec_err!(
            "{}: the pattern must be a literal string, e.g. {}(ts, 'yyyy-MM-dd')",
            self.name(),
            self.name()
        )
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let pattern = match args.len() {
            2 => match &args[1] {
                Expr::Literal(
                    ScalarValue::Utf8(Some(p))
                    | ScalarValue::LargeUtf8(Some(p))
                    | ScalarValue::Utf8View(Some(p)),
                    _,
                ) => Some(p.clone()),
                _ => return Ok(ExprSimplifyResult::Original(args)),
            },
            _ => None,
        };
        let mut args = args;
        args.truncate(1);
        Ok(ExprSimplifyResult::Simplified(
            self.rewrite(args, pattern, info)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::java_to_chrono;

    #[test]
    fn java_patterns_become_chrono_patterns() {
        for (java, chrono) in [
            ("yyyy-MM-dd", "%Y-%m-%d"),
            ("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S"),
            ("yyyyMMdd", "%Y%m%d"),
            ("dd/MM/yy", "%d/%m/%y"),
            ("MMM dd, yyyy", "%b %d, %Y"),
            ("MMMM", "%B"),
            ("EEE", "%a"),
            ("EEEE", "%A"),
            ("hh:mm a", "%I:%M %p"),
            ("HH:mm:ss.SSS", "%H:%M:%S.%3f"),
            ("yyyy-MM-dd'T'HH:mm", "%Y-%m-%dT%H:%M"),
            ("'week' D", "week %-j"),
            ("d.M.y", "%-d.%-m.%Y"),
            ("100%", "100%%"),
            ("'it''s' yyyy", "it's %Y"),
        ] {
            assert_eq!(java_to_chrono(java).as_deref(), Ok(chrono), "{java}");
        }
    }

    #[test]
    fn unknown_letters_and_open_quotes_are_refused() {
        let e = java_to_chrono("yyyy QQ").unwrap_err();
        assert!(e.contains("'QQ'"), "{e}");
        assert!(java_to_chrono("'open")
            .unwrap_err()
            .contains("unclosed quote"));
    }
}

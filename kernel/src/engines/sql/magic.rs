//! Cell magics: the first line of a cell may be `%%sql [options]`, e.g.
//! `%%sql --chart bar --x event_type --y n` to chart the cell's last result.

use lakehouse_render::{ChartKind, ChartSpec};

use crate::error::{CellError, ErrorKind};

/// The magics there are, for messages.
pub const MAGICS: &str = "%%sql [--chart bar|line|scatter|area|histogram] [--x COLUMN] [--y COLUMN] [--color COLUMN] [--title TEXT]";

/// The options of `%%sql`, for the parser below and for completion.
const CHART: &str = "--chart";
const X: &str = "--x";
const Y: &str = "--y";
const COLOR: &str = "--color";
const TITLE: &str = "--title";
/// Every option `%%sql` takes.
pub const OPTIONS: &[&str] = &[CHART, X, Y, COLOR, TITLE];

/// What the magic line asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellOptions {
    /// Chart the last result.
    pub chart: Option<ChartSpec>,
}

/// Splits a leading magic line off `cell`. The line is replaced by an empty one so line
/// numbers in error messages still match the cell.
pub fn parse(cell: &str) -> Result<(CellOptions, Option<String>), CellError> {
    let first = cell.lines().next().unwrap_or("");
    let trimmed = first.trim_start();
    if !trimmed.starts_with('%') {
        return Ok((CellOptions::default(), None));
    }
    let words = shell_words(trimmed).map_err(|m| CellError::new(ErrorKind::Magic, m))?;
    let (name, args) = words.split_first().expect("a word starting with %");
    if name != "%%sql" {
        return Err(CellError::new(
            ErrorKind::Magic,
            format!("unknown magic '{name}'; the magics are: {MAGICS}"),
        ));
    }
    let mut opts = CellOptions::default();
    let mut kind = None;
    let (mut x, mut y, mut color, mut title) = (None, None, None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, CellError> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| {
                    CellError::new(
                        ErrorKind::Magic,
                        format!("{flag} needs {what}; usage: {MAGICS}"),
                    )
                })
        };
        match flag.as_str() {
            CHART => {
                let k = value("a chart kind")?;
                kind = Some(ChartKind::parse(&k).ok_or_else(|| {
                    CellError::new(
                        ErrorKind::Magic,
                        format!(
                            "unknown chart kind '{k}'; the kinds are: {}",
                            ChartKind::NAMES
                        ),
                    )
                })?);
            }
            X => x = Some(value("a column name")?),
            Y => y = Some(value("a column name")?),
            COLOR => color = Some(value("a column name")?),
            TITLE => title = Some(value("a title")?),
            other => {
                return Err(CellError::new(
                    ErrorKind::Magic,
                    format!("unknown option '{other}' for %%sql; usage: {MAGICS}"),
                ))
            }
        }
    }
    match kind {
        Some(kind) => {
            opts.chart = Some(ChartSpec {
                kind,
                x,
                y,
                color,
                title,
            })
        }
        None if x.is_some() || y.is_some() || color.is_some() || title.is_some() => {
            return Err(CellError::new(
                ErrorKind::Magic,
                format!("--x/--y/--color/--title go with --chart KIND; usage: {MAGICS}"),
            ))
        }
        None => {}
    }
    let rest = &cell[first.len()..];
    Ok((opts, Some(rest.to_string())))
}

/// Words of a magic line; single or double quotes group words (`--title "Sales by day"`).
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {q} in the magic line: {line}"));
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sql_has_no_options() {
        let (o, rest) = parse("SELECT 1").unwrap();
        assert_eq!(o, CellOptions::default());
        assert!(rest.is_none());
    }

    #[test]
    fn chart_options() {
        let (o, rest) =
            parse("%%sql --chart bar --x event_type --y=n --title \"By type\"\nSELECT 1").unwrap();
        let c = o.chart.unwrap();
        assert_eq!(c.kind, ChartKind::Bar);
        assert_eq!(c.x.as_deref(), Some("event_type"));
        assert_eq!(c.y.as_deref(), Some("n"));
        assert_eq!(c.title.as_deref(), Some("By type"));
        // The magic line becomes an empty line: statement line numbers stay the same.
        assert_eq!(rest.unwrap(), "\nSELECT 1");
        let (o, _) = parse("%%sql\nSELECT 1").unwrap();
        assert!(o.chart.is_none());
    }

    #[test]
    fn bad_magics_list_what_exists() {
        let e = parse("%%python\nprint(1)").unwrap_err();
        assert!(
            e.evalue.contains("unknown magic '%%python'") && e.evalue.contains("%%sql"),
            "{}",
            e.evalue
        );
        let e = parse("%%sql --chart pie\nSELECT 1").unwrap_err();
        assert!(e.evalue.contains("bar, line, scatter"), "{}", e.evalue);
        let e = parse("%%sql --colour x\nSELECT 1").unwrap_err();
        assert!(
            e.evalue.contains("unknown option '--colour'"),
            "{}",
            e.evalue
        );
        let e = parse("%%sql --x a\nSELECT 1").unwrap_err();
        assert!(e.evalue.contains("go with --chart"), "{}", e.evalue);
        assert!(parse("%time SELECT 1").is_err());
    }
}

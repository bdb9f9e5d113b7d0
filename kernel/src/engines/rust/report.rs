//! Compile errors of a Rust cell as a notebook user reads them: rustc's message, the cell line
//! it points at with a caret under the span, and rustc's help — not evcxr's JSON.

use crate::engines::CellError;

/// At most this many errors are shown; rustc's follow-on errors rarely help.
const MAX_ERRORS: usize = 5;

/// One `CompileError` for all of a cell's compile errors. `code` is what was compiled, and
/// `first_line` the cell line it starts on (2 after a `%%rust` line).
pub fn compile_errors(
    errors: &[evcxr::CompilationError],
    code: &str,
    first_line: usize,
) -> CellError {
    let lines: Vec<&str> = code.lines().collect();
    let mut traceback = Vec::new();
    let mut summary = None;
    for e in errors.iter().take(MAX_ERRORS) {
        let head = match e.code() {
            Some(c) => format!("{}[{c}]: {}", e.level(), e.message()),
            None => format!("{}: {}", e.level(), e.message()),
        };
        traceback.push(head.clone());
        let mut at = None;
        if let Some(m) = e.primary_spanned_message() {
            if let Some(span) = &m.span {
                let line_no = span.start_line + first_line - 1;
                at = Some(line_no);
                if let Some(src) = lines.get(span.start_line.saturating_sub(1)) {
                    let width = line_no.to_string().len();
                    let start = span.start_column.saturating_sub(1);
                    let end = if span.end_line == span.start_line {
                        span.end_column.saturating_sub(1).max(start + 1)
                    } else {
                        src.chars().count().max(start + 1)
                    };
                    traceback.push(format!("{:width$}--> cell line {line_no}", ""));
                    traceback.push(format!("{:width$} |", ""));
                    traceback.push(format!("{line_no} | {src}"));
                    traceback.push(format!(
                        "{:width$} | {}{} {}",
                        "",
                        " ".repeat(start),
                        "^".repeat(end - start),
                        m.label
                    ));
                }
            }
        }
        for h in e.help() {
            let mut it = h.lines();
            if let Some(first) = it.next() {
                traceback.push(format!("help: {first}"));
            }
            traceback.extend(it.map(|l| format!("      {l}")));
        }
        if let Some(hint) = e.evcxr_extra_hint() {
            traceback.push(format!("note: {hint}"));
        }
        traceback.push(String::new());
        if summary.is_none() {
            summary = Some(match at {
                Some(n) => format!("{} (cell line {n})", e.message()),
                None => e.message(),
            });
        }
    }
    if errors.len() > MAX_ERRORS {
        traceback.push(format!(
            "... and {} more errors; fix the ones above first",
            errors.len() - MAX_ERRORS
        ));
    }
    while traceback.last().is_some_and(String::is_empty) {
        traceback.pop();
    }
    let evalue = summary.unwrap_or_else(|| "the Rust cell did not compile".into());
    let mut err = CellError::new("CompileError", evalue);
    err.traceback = traceback;
    err
}

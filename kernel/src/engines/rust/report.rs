//! Compile errors of a Rust cell as a notebook user reads them: rustc's message, the cell line
//! it points at with a caret under the span, and rustc's help — not evcxr's JSON.

use crate::error::{CellError, ErrorKind};

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
    let mut err = CellError::new(ErrorKind::Compile, evalue);
    err.traceback = traceback;
    err
}

/// Where rustc asks for a binding's type ("you must specify a type for this binding, like
/// `i32`"): its (1-based line, 1-based column) in the compiled code and the type it proposes.
/// rustc says this when a cell ends with an unsuffixed number bound by `let` (`let x = 1 + 1;
/// x`): evcxr's display call on the value leaves the literal's type open, where plain Rust
/// would default it. evcxr reports the help, not its own display call, so it does not retry.
pub fn binding_type_suggestions(errors: &[evcxr::CompilationError]) -> Vec<(usize, usize, String)> {
    errors
        .iter()
        .filter_map(|e| {
            let ty = e
                .message()
                .strip_prefix("you must specify a type for this binding, like `")?
                .split('`')
                .next()?
                .to_string();
            let span = e.primary_spanned_message()?.span.as_ref()?;
            Some((span.end_line, span.end_column, ty))
        })
        .collect()
}

/// `code` with `: ty` written after each binding rustc named (see
/// [`binding_type_suggestions`]), or `None` when there is nothing to write.
pub fn with_binding_types(code: &str, at: &[(usize, usize, String)]) -> Option<String> {
    if at.is_empty() {
        return None;
    }
    let mut lines: Vec<String> = code.lines().map(str::to_string).collect();
    let mut at = at.to_vec();
    // Right to left, so earlier columns stay where rustc saw them.
    at.sort_by_key(|b| std::cmp::Reverse((b.0, b.1)));
    for (line, column, ty) in at {
        let text = lines.get_mut(line.checked_sub(1)?)?;
        let byte = text
            .char_indices()
            .nth(column.checked_sub(1)?)
            .map_or(text.len(), |(i, _)| i);
        text.insert_str(byte, &format!(": {ty}"));
    }
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_types_go_after_the_names_rustc_points_at() {
        // `let x = 1 + 1; x`: rustc points at the end of `x` (column 6).
        let code = "let x = 1 + 1; x";
        assert_eq!(
            with_binding_types(code, &[(1, 6, "i32".into())]).unwrap(),
            "let x: i32 = 1 + 1; x"
        );
        let two = "let a = 1; let b = 2.0;\nlet café = 3;\n(a, b, café)";
        assert_eq!(
            with_binding_types(
                two,
                &[
                    (1, 6, "i32".into()),
                    (1, 17, "f64".into()),
                    (2, 9, "i32".into())
                ]
            )
            .unwrap(),
            "let a: i32 = 1; let b: f64 = 2.0;\nlet café: i32 = 3;\n(a, b, café)"
        );
        assert_eq!(with_binding_types(code, &[]), None);
        assert_eq!(with_binding_types(code, &[(9, 1, "i32".into())]), None);
    }
}

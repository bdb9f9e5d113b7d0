//! Names that become path segments: table and namespace names are folder names under the
//! warehouse, so a name must never change the folder it lives under.
//!
//! The kernel refuses such names (on every catalog, for every statement that creates or
//! renames) rather than encoding them: an encoded location would differ from what Spark and
//! other Iceberg clients compute for the same name, and a refused name cannot reach another
//! table's folder on any storage (local files, S3 keys that an HTTP client normalizes, URLs).

/// Checks that `name` (a table name or one level of a namespace) is safe as one path segment:
/// not empty, not `.` or `..`, and without `/`, `\` or control characters. `kind` names the
/// object in the error ("table", "schema"), which says which characters are allowed and
/// proposes a name that is.
pub fn check_path_name(kind: &str, name: &str) -> Result<(), String> {
    let bad = |c: char| c == '/' || c == '\\' || c.is_control();
    if !name.is_empty() && name != "." && name != ".." && !name.chars().any(bad) {
        return Ok(());
    }
    let shown: String = name.chars().flat_map(char::escape_debug).collect();
    let mut suggestion: String = name
        .chars()
        .map(|c| if bad(c) || c == '.' { '_' } else { c })
        .collect::<String>()
        .trim_matches('_')
        .to_string();
    if suggestion.is_empty() {
        suggestion = format!("my_{kind}");
    }
    Err(format!(
        "{kind} name '{shown}' cannot be used: {kind} names become folder names in the \
         warehouse, so a name may not be empty, '.' or '..', nor contain '/', '\\' or control \
         characters (letters, digits, '_', '-', spaces and other characters are fine); use e.g. \
         `{suggestion}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::check_path_name;

    #[test]
    fn path_changing_names_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "../../../../trav-escape-table",
            "../victim/t",
            "a/b",
            "a\\b",
            "a\0b",
            "a\nb",
        ] {
            let err = check_path_name("table", bad).unwrap_err();
            assert!(err.starts_with("table name '"), "{err}");
            assert!(err.contains("'/'"), "{err}");
        }
        let err = check_path_name("table", "../victim/t").unwrap_err();
        assert!(err.contains("`victim_t`"), "{err}");
    }

    #[test]
    fn ordinary_names_pass() {
        for ok in [
            "events",
            "my-table",
            "a b",
            "évènements",
            "t$x",
            "..a",
            "a..b",
            "%2e%2e",
        ] {
            check_path_name("table", ok).unwrap();
        }
    }
}

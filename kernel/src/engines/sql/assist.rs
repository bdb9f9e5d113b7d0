//! Editing help: is_complete, completion and inspection for SQL cells.

use std::collections::BTreeSet;

use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;

use super::split::{self, Open};
use super::SqlEngine;
use crate::catalog::{self, CATALOG_NAME};

/// Answer to is_complete_request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsComplete {
    Complete,
    Incomplete,
    Invalid,
}

/// Answer to complete_request: matches replace `code[start..end]` (in characters).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub matches: Vec<String>,
    pub cursor_start: usize,
    pub cursor_end: usize,
}

impl SqlEngine {
    /// Whether a console should run `code` now (psql's rule: a statement ends with `;`).
    pub fn is_complete(&self, code: &str) -> IsComplete {
        let s = split::split(code);
        if s.pieces.is_empty() {
            return IsComplete::Complete;
        }
        if s.open.is_some() || !s.terminated {
            return IsComplete::Incomplete;
        }
        let dialect = datafusion::sql::sqlparser::dialect::GenericDialect {};
        for p in &s.pieces {
            if datafusion::sql::parser::DFParser::parse_sql_with_dialect(&p.text, &dialect).is_err()
            {
                return IsComplete::Invalid;
            }
        }
        IsComplete::Complete
    }

    /// Completes the word before `cursor` (a character offset, clamped to the code).
    pub async fn complete(&self, code: &str, cursor: usize) -> Completion {
        let chars: Vec<char> = code.chars().collect();
        let end = cursor.min(chars.len());
        let mut start = end;
        while start > 0 && is_word_char(chars[start - 1]) {
            start -= 1;
        }
        let word: String = chars[start..end].iter().collect();
        let before: String = chars[..start].iter().collect();
        // Inside a string or comment there is nothing to complete.
        if split::split(&before).open.is_some_and(|o| o != Open::Paren) {
            return Completion {
                matches: vec![],
                cursor_start: end,
                cursor_end: end,
            };
        }
        let listing = match self.catalog.refresh().await {
            Ok(l) => l,
            Err(_) => self.catalog.listing(),
        };
        let mut out: BTreeSet<String> = BTreeSet::new();
        let lower = word.to_lowercase();
        if let Some((qual, _)) = word.rsplit_once('.') {
            // schema.table (or lakehouse.schema.table)
            let schema = qual
                .strip_prefix(&format!("{CATALOG_NAME}."))
                .unwrap_or(qual);
            if let Some(tables) = listing.schemas.get(schema) {
                for t in tables {
                    out.insert(format!("{qual}.{t}"));
                }
            }
            if qual == CATALOG_NAME {
                for s in listing.schemas.keys() {
                    out.insert(format!("{qual}.{s}"));
                }
            }
        } else {
            let upper = word.chars().next().is_some_and(char::is_uppercase) || word.is_empty();
            let after_from = last_keyword(&before).is_some_and(|k| {
                matches!(
                    k.as_str(),
                    "FROM" | "JOIN" | "INTO" | "TABLE" | "UPDATE" | "DESCRIBE"
                )
            });
            for s in listing.schemas.keys() {
                out.insert(s.clone());
            }
            if let Some(tables) = listing.schemas.get(&self.settings.default_schema) {
                out.extend(tables.iter().cloned());
            }
            out.insert(CATALOG_NAME.to_string());
            if !after_from {
                for k in ALL_KEYWORDS {
                    out.insert(if upper {
                        k.to_string()
                    } else {
                        k.to_lowercase()
                    });
                }
                for f in self.function_names() {
                    out.insert(f);
                }
            }
        }
        let mut matches: Vec<String> = out
            .into_iter()
            .filter(|m| m.to_lowercase().starts_with(&lower) && !word.is_empty() || word.is_empty())
            .collect();
        // Shortest first, so `SEL` offers SELECT before SELECTIVITY.
        matches.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        matches.dedup();
        Completion {
            matches,
            cursor_start: start,
            cursor_end: end,
        }
    }

    /// Describes the table or function under `cursor`, as plain text.
    pub async fn inspect(&self, code: &str, cursor: usize) -> Option<String> {
        let chars: Vec<char> = code.chars().collect();
        let pos = cursor.min(chars.len());
        let mut start = pos;
        while start > 0 && is_word_char(chars[start - 1]) {
            start -= 1;
        }
        let mut end = pos;
        while end < chars.len() && is_word_char(chars[end]) {
            end += 1;
        }
        let word: String = chars[start..end].iter().collect();
        if word.is_empty() {
            return None;
        }
        if let Some(text) = self.describe_table(&word).await {
            return Some(text);
        }
        self.describe_function(&word.to_lowercase())
    }

    async fn describe_table(&self, word: &str) -> Option<String> {
        let word = word
            .strip_prefix(&format!("{CATALOG_NAME}."))
            .unwrap_or(word);
        let (schema, table) = match word.rsplit_once('.') {
            Some((s, t)) => (s.to_string(), t.to_string()),
            None => (self.settings.default_schema.clone(), word.to_string()),
        };
        let ident = iceberg::TableIdent::new(catalog::namespace(&schema), table.clone());
        let t = self.catalog.iceberg().load_table(&ident).await.ok()?;
        let meta = t.metadata();
        let mut lines = vec![format!("table {schema}.{table}"), String::new()];
        for f in meta.current_schema().as_struct().fields() {
            lines.push(format!(
                "  {:<24} {}{}",
                f.name,
                f.field_type,
                if f.required { " NOT NULL" } else { "" }
            ));
        }
        lines.push(String::new());
        lines.push(format!("location: {}", meta.location()));
        match meta.current_snapshot() {
            Some(s) => {
                let summary = &s.summary().additional_properties;
                lines.push(format!(
                    "current snapshot: {} at {}",
                    s.snapshot_id(),
                    s.timestamp().map(|t| t.to_string()).unwrap_or_default()
                ));
                if let Some(n) = summary.get("total-records") {
                    lines.push(format!("rows: {n}"));
                }
                if let Some(n) = summary.get("total-data-files") {
                    lines.push(format!("data files: {n}"));
                }
            }
            None => lines.push("current snapshot: none (empty table)".into()),
        }
        Some(lines.join("\n"))
    }

    fn describe_function(&self, name: &str) -> Option<String> {
        let state = self.ctx.state();
        let doc = if let Some(f) = state.scalar_functions().get(name) {
            f.documentation().cloned()
        } else if let Some(f) = state.aggregate_functions().get(name) {
            f.documentation().cloned()
        } else if let Some(f) = state.window_functions().get(name) {
            f.documentation().cloned()
        } else {
            return None;
        }?;
        let mut text = format!("{}\n\n{}", doc.syntax_example, doc.description);
        if let Some(example) = &doc.sql_example {
            text.push_str("\n\nExample:\n");
            text.push_str(example);
        }
        Some(text)
    }

    fn function_names(&self) -> Vec<String> {
        let state = self.ctx.state();
        let mut names: Vec<String> = state.scalar_functions().keys().cloned().collect();
        names.extend(state.aggregate_functions().keys().cloned());
        names.extend(state.window_functions().keys().cloned());
        names.extend(state.table_functions().keys().cloned());
        names
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.' || c == '$'
}

/// The last keyword-like word before the cursor, uppercased.
fn last_keyword(before: &str) -> Option<String> {
    before
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(')
        .rfind(|w| !w.is_empty())
        .map(str::to_uppercase)
}

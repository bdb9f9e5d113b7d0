//! The write family's statements, recognised from their first words (DataFusion does not
//! parse Spark's clauses of them, or cannot plan them), and Spark's `*` in MERGE.

use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::tokens::{keyword, significant, tokenize};

/// Statements recognised from their first words (parser::Statement::Write), which
/// DataFusion does not parse (Spark's clauses) or cannot plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Early {
    Create,
    Alter,
    DropPurge,
    /// `CALL system.remove_orphan_files(…)`.
    RemoveOrphanFiles,
}

/// Which write statement `tokens` start, if any.
pub fn classify(tokens: &[TokenWithSpan]) -> Option<Early> {
    let words: Vec<Option<Keyword>> = significant(tokens)
        .take(4)
        .map(|(_, t)| keyword(&t.token))
        .collect();
    use Keyword as K;
    match words.as_slice() {
        [Some(K::CREATE), Some(K::TABLE), ..]
        | [Some(K::CREATE), Some(K::OR), Some(K::REPLACE), Some(K::TABLE)] => Some(Early::Create),
        [Some(K::ALTER), Some(K::TABLE), ..] => Some(Early::Alter),
        [Some(K::CALL), ..] => Some(Early::RemoveOrphanFiles),
        [Some(K::DROP), Some(K::TABLE), ..] => {
            let last = significant(tokens)
                .filter(|(_, t)| t.token != Token::SemiColon)
                .last()
                .map(|(_, t)| keyword(&t.token));
            (last == Some(Some(K::PURGE))).then_some(Early::DropPurge)
        }
        _ => None,
    }
}

/// The column `UPDATE SET *` is read as assigning.
pub const SET_ALL: &str = "__lakehouse_set_all";

/// Spark's `… THEN UPDATE SET *` and `… THEN INSERT *` in a MERGE, rewritten as sqlparser
/// parses them (`UPDATE SET __lakehouse_set_all = NULL`, `INSERT ROW`); None when the text has
/// neither.
pub fn spark_stars(text: &str) -> Option<String> {
    if !text.contains('*') || !text.to_ascii_uppercase().contains("MERGE") {
        return None;
    }
    // The first token, not the first characters: a comment may come before MERGE.
    let tokens = tokenize(text)?;
    let significant: Vec<&TokenWithSpan> = significant(&tokens).map(|(_, t)| t).collect();
    if significant.first().map(|t| keyword(&t.token)) != Some(Some(Keyword::MERGE)) {
        return None;
    }
    // Each `*` to replace, and what with.
    let mut edits = vec![];
    for (i, star) in significant.iter().enumerate() {
        if star.token != Token::Mul || i < 2 {
            continue;
        }
        let before: Vec<Option<Keyword>> = significant[i.saturating_sub(3)..i]
            .iter()
            .map(|t| keyword(&t.token))
            .collect();
        let (start, end) = (star.span.start, star.span.end);
        use Keyword as K;
        match before.as_slice() {
            [Some(K::THEN), Some(K::UPDATE), Some(K::SET)] => {
                edits.push((start, end, "__lakehouse_set_all = NULL"))
            }
            [_, Some(K::THEN), Some(K::INSERT)] | [Some(K::THEN), Some(K::INSERT)] => {
                edits.push((start, end, "ROW"))
            }
            _ => {}
        }
    }
    (!edits.is_empty()).then(|| crate::split::splice(text, &edits))
}

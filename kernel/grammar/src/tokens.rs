//! Tokens as the grammar reads them: sqlparser's, with their locations, and the ones that are
//! not blanks or comments.

use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// `text`'s tokens with their locations, or `None` where it does not tokenize (DataFusion's
/// parser then reports why).
pub fn tokenize(text: &str) -> Option<Vec<TokenWithSpan>> {
    Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .ok()
}

/// The tokens that are not whitespace or comments, with their indexes.
pub fn significant(tokens: &[TokenWithSpan]) -> impl Iterator<Item = (usize, &TokenWithSpan)> {
    tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.token, Token::Whitespace(_)))
}

/// The keyword `t` is, unless it is quoted.
pub fn keyword(t: &Token) -> Option<Keyword> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    }
}

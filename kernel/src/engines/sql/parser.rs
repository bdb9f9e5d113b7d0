//! The session's side of the one statement parser (`lakehouse_grammar::parser`): what it
//! needs from the session (parameters, DataFusion's recursion limit, the dialect).

use datafusion::config::SqlParserOptions;
use datafusion::sql::parser::Statement as DFStatement;
use lakehouse_grammar::parser::Grammar;
pub use lakehouse_grammar::parser::{Parsed, Statement, OWN_KEYWORDS};

use super::split::Piece;
use super::SqlEngine;
use crate::error::CellError;

impl SqlEngine {
    /// The grammar with this session's parameters, limit and dialect.
    fn grammar(&self) -> Grammar<'_> {
        Grammar {
            params: &self.params,
            recursion_limit: self.sql_parser_option(|o| o.recursion_limit),
            dialect: self.dialect.current(),
        }
    }

    /// One of the session's `sql_parser` options, read without cloning the session state.
    pub(super) fn sql_parser_option<T>(&self, read: impl FnOnce(&SqlParserOptions) -> T) -> T {
        read(&self.ctx.state_ref().read().config().options().sql_parser)
    }

    /// Parses one statement of `cell` into what the session runs.
    pub(super) fn parse_statement(&self, cell: &str, piece: &Piece) -> Result<Parsed, CellError> {
        self.grammar().parse_statement(cell, piece)
    }

    /// Parses `piece` with DataFusion's parser (one statement), depth-checked.
    pub(super) fn parse(&self, cell: &str, piece: &Piece) -> Result<DFStatement, CellError> {
        self.grammar().parse(cell, piece)
    }
}

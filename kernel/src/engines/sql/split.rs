//! Cells into statements: the grammar crate's splitter (`lakehouse_grammar::split`).

pub use lakehouse_grammar::split::*;

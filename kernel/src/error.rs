//! The one error type, defined with the grammar (`lakehouse_grammar::error`) so the parser
//! can fail with it; every engine and the server use it from here.

pub use lakehouse_grammar::error::*;

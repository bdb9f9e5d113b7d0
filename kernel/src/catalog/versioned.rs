//! Table names with references and snapshots (`t@dev`, `t VERSION AS OF …`): the grammar
//! crate's (`lakehouse_grammar::versioned`).

pub use lakehouse_grammar::versioned::*;

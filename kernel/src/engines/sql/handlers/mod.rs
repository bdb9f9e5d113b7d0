//! One handler per family of statements, reached from the one `match` in
//! `SqlEngine::execute_piece` (the families with a grammar of their own keep their handler
//! beside their parser: refs, describe, summarize, show_lineage, guard, write).

mod query;
mod schema;
mod session;
pub(super) use query::display_name;

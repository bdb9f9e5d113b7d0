//! Engines run cells and return outputs; they never publish (see ARCHITECTURE.md).

pub mod sql;

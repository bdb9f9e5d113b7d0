//! Spark's syntax where DataFusion's parser reads it differently: `WITH ROLLUP`/`CUBE`
//! ([`group_by`]), `DIV` and Spark's casts ([`syntax`]), and Spark's result names ([`names`]).

pub mod group_by;
pub mod names;
pub mod syntax;

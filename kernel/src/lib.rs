//! lakehouse-kernel: a Jupyter kernel that runs SQL on DataFusion over Iceberg tables.
//!
//! The binary (`main.rs`) parses arguments; this library holds the parts, so benches and
//! tests can drive them without a process.

pub mod catalog;
pub mod engines;
pub mod error;
pub mod front;
pub mod install;
pub mod lakehouse;
pub mod limits;
pub mod lineage;
pub mod logging;
#[cfg(test)]
mod module_graph;
pub mod optimizer;
pub mod server;
pub mod session;
pub mod settings;
pub use lakehouse_wire::message as wire;

/// The DataFusion version this kernel is built on, shown in kernel_info.
pub const DATAFUSION_VERSION: &str = "53.1";

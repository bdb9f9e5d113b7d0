//! The Spark dialect: Spark's semantics where Spark and DataFusion give different answers to
//! the same SQL, so the strings people paste from `spark.sql(...)` give Spark's numbers
//! (`LAKEHOUSE_DIALECT`, `SET lakehouse.dialect = 'spark' | 'datafusion'`).
//!
//! What it changes so far: `/` and `a[i]` ([`planner`]: a fraction for integers, NULL for a
//! zero divisor; arrays counted from 0), the date functions that take Java
//! `DateTimeFormatter` patterns ([`java_time`]: `date_format`, `to_date`, `to_timestamp`,
//! `from_unixtime`, `unix_timestamp`), and Spark's functions and names in [`functions`]
//! (`concat` with Spark's NULL, `split`, `regexp_extract`, `int(x)`, …), and NULLs sorting
//! first in ascending order. Switching to
//! `datafusion` puts DataFusion's own functions back and leaves the operators alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::context::SessionContext;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::planner::ExprPlanner;

use crate::settings::Dialect;

pub mod functions;
pub use lakehouse_grammar::dialect::group_by;
pub mod java_time;
pub use lakehouse_grammar::dialect::names;
pub mod planner;
pub use lakehouse_grammar::dialect::syntax;

/// The session's dialect, shared with the expression planner that reads it while planning.
#[derive(Debug, Clone, Default)]
pub struct DialectSwitch {
    spark: Arc<AtomicBool>,
}

impl DialectSwitch {
    /// A switch set to DataFusion's semantics until [`DialectSwitch::apply`].
    pub fn new() -> Self {
        DialectSwitch {
            spark: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The session's expression planners: the dialect's, then `defaults` (DataFusion's,
    /// which plan `a[i]` before a later planner could see it).
    pub fn planners(&self, defaults: Vec<Arc<dyn ExprPlanner>>) -> Vec<Arc<dyn ExprPlanner>> {
        let ours: Arc<dyn ExprPlanner> = Arc::new(planner::SparkPlanner::new(self.spark.clone()));
        std::iter::once(ours).chain(defaults).collect()
    }

    /// Switches the session to `dialect`: its functions replace the other's.
    pub fn apply(&self, ctx: &SessionContext, dialect: Dialect) -> Result<()> {
        let state = ctx.state_ref();
        let mut state = state.write();
        match dialect {
            Dialect::Spark => {
                for udf in java_time::spark_functions()
                    .into_iter()
                    .chain(functions::spark_scalars())
                {
                    state.register_udf(Arc::new(udf))?;
                }
                for udaf in functions::spark_aggregates() {
                    state.register_udaf(Arc::new(udaf))?;
                }
            }
            Dialect::DataFusion => {
                for name in java_time::SPARK_ONLY
                    .iter()
                    .chain(functions::SPARK_ONLY_SCALARS.iter())
                {
                    state.deregister_udf(name)?;
                }
                for name in functions::SPARK_ONLY_AGGREGATES {
                    state.deregister_udaf(name)?;
                }
                let config = state.config_options().clone();
                for udf in java_time::datafusion_functions(&config)
                    .into_iter()
                    .chain(functions::datafusion_scalars())
                {
                    state.register_udf(udf)?;
                }
                for udaf in functions::datafusion_aggregates() {
                    state.register_udaf(udaf)?;
                }
            }
        }
        // Spark sorts NULLs as the smallest value: first ascending, last descending
        // (DataFusion, as PostgreSQL: last ascending).
        state
            .config_mut()
            .options_mut()
            .sql_parser
            .default_null_ordering = match dialect {
            Dialect::Spark => "nulls_min",
            Dialect::DataFusion => "nulls_max",
        }
        .to_string();
        self.spark
            .store(dialect == Dialect::Spark, Ordering::SeqCst);
        Ok(())
    }

    /// The dialect in force.
    pub fn current(&self) -> Dialect {
        match self.spark.load(Ordering::SeqCst) {
            true => Dialect::Spark,
            false => Dialect::DataFusion,
        }
    }
}

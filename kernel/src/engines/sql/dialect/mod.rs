//! The Spark dialect: Spark's semantics where Spark and DataFusion give different answers to
//! the same SQL, so the strings people paste from `spark.sql(...)` give Spark's numbers
//! (`LAKEHOUSE_DIALECT`, `SET lakehouse.dialect = 'spark' | 'datafusion'`).
//!
//! What it changes so far: `/` ([`division`]: a fraction for integers, NULL for a zero divisor)
//! and the date functions that take Java `DateTimeFormatter` patterns ([`java_time`]:
//! `date_format`, `to_date`, `to_timestamp`, `from_unixtime`, `unix_timestamp`). Switching
//! to `datafusion` puts DataFusion's own functions back and leaves `/` alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::context::SessionContext;
use datafusion::execution::FunctionRegistry;

use crate::settings::Dialect;

pub mod division;
pub mod java_time;

/// The session's dialect, shared with the expression planner that reads it while planning.
#[derive(Debug, Clone)]
pub struct DialectSwitch {
    spark: Arc<AtomicBool>,
}

impl DialectSwitch {
    /// Adds the dialect's planner to `ctx` and applies `dialect`.
    pub fn install(ctx: &SessionContext, dialect: Dialect) -> Result<Self> {
        let switch = DialectSwitch {
            spark: Arc::new(AtomicBool::new(false)),
        };
        ctx.state_ref()
            .write()
            .register_expr_planner(Arc::new(division::SparkDivision::new(switch.spark.clone())))?;
        switch.apply(ctx, dialect)?;
        Ok(switch)
    }

    /// Switches the session to `dialect`: its functions replace the other's.
    pub fn apply(&self, ctx: &SessionContext, dialect: Dialect) -> Result<()> {
        let state = ctx.state_ref();
        let mut state = state.write();
        match dialect {
            Dialect::Spark => {
                for udf in java_time::spark_functions() {
                    state.register_udf(Arc::new(udf))?;
                }
            }
            Dialect::DataFusion => {
                let config = state.config_options().clone();
                for udf in java_time::datafusion_functions(&config) {
                    state.register_udf(udf)?;
                }
                for name in java_time::SPARK_ONLY {
                    state.deregister_udf(name)?;
                }
            }
        }
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

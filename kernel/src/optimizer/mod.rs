//! Optimizer rules the kernel adds to DataFusion's, for the team's feature queries: one
//! `COUNT(DISTINCT x)` beside other aggregates groups once (`distinct_count`, integer-like
//! values) or twice with vectorized accumulators (`distinct_rule`, the other types). They take
//! DataFusion's types only and are tested on a plain `SessionContext`; the SQL session adds
//! them when it opens. `interrupt` makes every physical plan stop within one batch of an
//! interrupt.

use std::sync::Arc;

use datafusion::optimizer::OptimizerRule;

use crate::settings::Settings;

mod distinct_count;
mod distinct_rule;
pub mod interrupt;
#[cfg(test)]
mod test_support;

/// The `COUNT(DISTINCT)` rules, in the order they run: integer-like values in one vectorized
/// aggregate (`distinct_count`), then `distinct_rule`'s rewrite for the other types. None when
/// the settings turn them off (`LAKEHOUSE_NO_DISTINCT_REWRITE`, for benchmarks comparing both).
pub fn rules(settings: &Settings) -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    if settings.no_distinct_rewrite {
        return vec![];
    }
    vec![
        Arc::new(distinct_count::NativeCountDistinct::new()),
        Arc::new(distinct_rule::MixedDistinctToGroupBy),
    ]
}

//! An optimizer rule for one `COUNT(DISTINCT x)` beside other aggregates.
//!
//! `SELECT g, COUNT(*), COUNT(DISTINCT x), SUM(y), AVG(y) … GROUP BY g` is the shape of the
//! team's feature queries. DataFusion's own rewrite (`single_distinct_to_groupby`) applies
//! only when the other aggregates are SUM/MIN/MAX; otherwise the whole aggregate runs on
//! per-group distinct sets, without the vectorized group accumulators, and that one
//! aggregate takes most of the query's time (PITFALLS.md). This rule aggregates twice
//! instead, which every accumulator handles vectorized:
//!
//! ```text
//! inner:  GROUP BY g, x   COUNT(*) AS c, SUM(y) AS s, COUNT(y) AS n, MIN(y), MAX(y)
//! outer:  GROUP BY g      SUM(c), COUNT(x), SUM(s), SUM(s) / SUM(n), MIN(min), MAX(max)
//! ```
//!
//! then casts each result to the type and name the original aggregate had. It applies only
//! when every other aggregate is COUNT, SUM, AVG (with a DOUBLE result), MIN or MAX without
//! FILTER, ORDER BY or DISTINCT, and all DISTINCT aggregates are COUNT of the same one
//! argument. Grouping sets are left alone.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams};
use datafusion::logical_expr::{cast, col, Aggregate, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct MixedDistinctToGroupBy;

/// What one aggregate of the original becomes.
enum Part {
    /// `COUNT(DISTINCT x)` → `COUNT(x)` of the inner group column.
    Distinct,
    /// COUNT → SUM of counts.
    Count(Expr),
    /// SUM → SUM of sums.
    Sum(Expr),
    /// AVG → SUM of sums / SUM of counts.
    Avg(Expr),
    /// MIN / MAX of MIN / MAX.
    Min(Expr),
    Max(Expr),
}

/// The parts of `aggr_expr`, and the DISTINCT argument, when the rule applies.
fn classify(agg: &Aggregate) -> Option<(Vec<Part>, Expr)> {
    if agg.group_expr.is_empty() || matches!(agg.group_expr.first(), Some(Expr::GroupingSet(_))) {
        return None;
    }
    let mut distinct_arg: Option<Expr> = None;
    let mut parts = vec![];
    let mut plain = 0;
    for (i, e) in agg.aggr_expr.iter().enumerate() {
        // The simplifier may alias an aggregate whose argument it rewrote.
        let e = match e {
            Expr::Alias(a) => a.expr.as_ref(),
            e => e,
        };
        let Expr::AggregateFunction(AggregateFunction {
            func,
            params:
                AggregateFunctionParams {
                    distinct,
                    args,
                    filter,
                    order_by,
                    null_treatment: _,
                },
        }) = e
        else {
            return None;
        };
        if filter.is_some() || !order_by.is_empty() || args.len() != 1 {
            return None;
        }
        let name = func.name().to_ascii_lowercase();
        let arg = args[0].clone();
        if *distinct {
            if name != "count" {
                return None;
            }
            match &distinct_arg {
                Some(d) if d != &arg => return None,
                _ => distinct_arg = Some(arg),
            }
            parts.push(Part::Distinct);
            continue;
        }
        plain += 1;
        let out_type = agg
            .schema
            .field(agg.group_expr.len() + i)
            .data_type()
            .clone();
        parts.push(match name.as_str() {
            "count" => Part::Count(arg),
            "sum" => Part::Sum(arg),
            "avg" if out_type == DataType::Float64 => Part::Avg(arg),
            "min" => Part::Min(arg),
            "max" => Part::Max(arg),
            _ => return None,
        });
    }
    // With no other aggregate (or only SUM/MIN/MAX) DataFusion's own rule does the same.
    let only_sum_min_max = parts.iter().all(|p| {
        matches!(
            p,
            Part::Distinct | Part::Sum(_) | Part::Min(_) | Part::Max(_)
        )
    });
    if plain == 0 || only_sum_min_max {
        return None;
    }
    distinct_arg.map(|d| (parts, d))
}

impl OptimizerRule for MixedDistinctToGroupBy {
    fn name(&self) -> &str {
        "lakehouse_mixed_distinct_to_group_by"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(agg) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let Some((parts, distinct_arg)) = classify(agg) else {
            return Ok(Transformed::no(plan));
        };
        let groups = agg.group_expr.len();
        let g = |i: usize| format!("__lh_g{i}");
        let mut inner_groups: Vec<Expr> = agg
            .group_expr
            .iter()
            .enumerate()
            .map(|(i, e)| e.clone().alias(g(i)))
            .collect();
        inner_groups.push(distinct_arg.alias("__lh_d"));
        let mut inner_aggs = vec![];
        let mut outer_aggs = vec![];
        for (i, part) in parts.into_iter().enumerate() {
            let a = |k: &str| format!("__lh_a{i}_{k}");
            let outer = match part {
                Part::Distinct => count(col("__lh_d")),
                Part::Count(e) => {
                    inner_aggs.push(count(e).alias(a("n")));
                    sum(col(a("n")))
                }
                Part::Sum(e) => {
                    inner_aggs.push(sum(e).alias(a("s")));
                    sum(col(a("s")))
                }
                Part::Avg(e) => {
                    inner_aggs.push(sum(cast(e.clone(), DataType::Float64)).alias(a("s")));
                    inner_aggs.push(count(e).alias(a("n")));
                    sum(col(a("s"))) / sum(col(a("n")))
                }
                Part::Min(e) => {
                    inner_aggs.push(min(e).alias(a("m")));
                    min(col(a("m")))
                }
                Part::Max(e) => {
                    inner_aggs.push(max(e).alias(a("m")));
                    max(col(a("m")))
                }
            };
            outer_aggs.push(outer);
        }
        // Outer aggregates that are expressions (AVG's division) are computed in the final
        // projection; the aggregate itself holds only aggregate functions.
        let mut outer_funcs = vec![];
        let mut finals = vec![];
        for (i, e) in outer_aggs.into_iter().enumerate() {
            match e {
                Expr::BinaryExpr(b) => {
                    let l = format!("__lh_o{i}_l");
                    let r = format!("__lh_o{i}_r");
                    outer_funcs.push(b.left.as_ref().clone().alias(&l));
                    outer_funcs.push(b.right.as_ref().clone().alias(&r));
                    // Optimizer output is not type-coerced again: cast both sides.
                    finals.push(Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
                        Box::new(cast(col(l), DataType::Float64)),
                        b.op,
                        Box::new(cast(col(r), DataType::Float64)),
                    )));
                }
                e => {
                    let name = format!("__lh_o{i}");
                    outer_funcs.push(e.alias(&name));
                    finals.push(col(name));
                }
            }
        }
        let outer_groups: Vec<Expr> = (0..groups).map(|i| col(g(i))).collect();
        let inner = LogicalPlanBuilder::from(agg.input.as_ref().clone())
            .aggregate(inner_groups, inner_aggs)?
            .aggregate(outer_groups, outer_funcs)?
            .build()?;
        let schema = agg.schema.clone();
        let mut projection = vec![];
        for i in 0..groups {
            let (q, f) = schema.qualified_field(i);
            projection
                .push(Expr::Column(Column::from_name(g(i))).alias_qualified(q.cloned(), f.name()));
        }
        for (i, e) in finals.into_iter().enumerate() {
            let (q, f) = schema.qualified_field(groups + i);
            projection.push(cast(e, f.data_type().clone()).alias_qualified(q.cloned(), f.name()));
        }
        let plan = LogicalPlanBuilder::from(inner)
            .project(projection)?
            .build()?;
        Ok(Transformed::yes(plan))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{explain, rows, session, types};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mixed_distinct_gives_the_same_results_through_two_aggregations() {
        let create = "CREATE TABLE ev AS SELECT 'c' || (value % 7) AS customer_id,
                 CASE WHEN value % 5 = 0 THEN NULL
                      ELSE DATE '2025-01-01' + CAST(value % 11 AS INT) END AS day,
                 CASE WHEN value % 5 = 0 THEN NULL ELSE 'day ' || (value % 11) END AS label,
                 CAST(value AS DOUBLE) / 4 AS amount, value % 3 AS k
               FROM range(1000)";
        let e = session(create, true).await;
        let query =
            "SELECT customer_id, COUNT(*) AS n, COUNT(DISTINCT label) AS days, COUNT(day) AS nd,
                            SUM(k) AS sk, AVG(amount) AS am, MIN(amount) AS lo, MAX(day) AS hi,
                            SUM(CASE WHEN k = 1 THEN amount ELSE 0 END) AS s1
                     FROM ev GROUP BY customer_id ORDER BY customer_id";
        let plan = explain(&e, query).await;
        assert!(plan.contains("__lh_d"), "{plan}");
        let got = rows(&e, query).await;
        // The reference: the distinct count in its own GROUP BY (DataFusion's own rewrite),
        // joined to the other aggregates.
        let reference = "SELECT a.customer_id, a.n, d.days, a.nd, a.sk, a.am, a.lo, a.hi, a.s1
            FROM (SELECT customer_id, COUNT(*) AS n, COUNT(day) AS nd, SUM(k) AS sk,
                         AVG(amount) AS am, MIN(amount) AS lo, MAX(day) AS hi,
                         SUM(CASE WHEN k = 1 THEN amount ELSE 0 END) AS s1
                  FROM ev GROUP BY customer_id) a
            JOIN (SELECT customer_id, COUNT(DISTINCT label) AS days FROM ev GROUP BY customer_id) d
              ON a.customer_id = d.customer_id
            ORDER BY a.customer_id";
        assert_eq!(got, rows(&e, reference).await);
        assert_eq!(got.len(), 7);
        // Types and names stay what the query says: those of DataFusion's own plan.
        let plain = session(create, false).await;
        assert!(!explain(&plain, query).await.contains("__lh_d"));
        assert_eq!(got, rows(&plain, query).await);
        assert_eq!(types(&e, query).await, types(&plain, query).await);
    }
}

//! Spark's operators, planned where DataFusion plans them (an `ExprPlanner`, which sees the
//! operand types):
//!
//! - `substring(s, pos [, len])` is Spark's (a negative position counts from the end).
//! - `a[i]` on an array counts from 0 (DataFusion's from 1), and a negative index is NULL.
//! - `/`: the quotient of two integers is a fraction (`7 / 2` is 3.5, DataFusion says 3),
//!   and a zero divisor gives NULL for every numeric type (DataFusion fails on integers and
//!   decimals and gives ±inf or NaN on floats), as Spark does with ANSI mode off, which is
//!   what the team's Spark 3.5 notebooks run with. `a / b` becomes
//!   `CAST(a AS DOUBLE) / nullif(CAST(b AS DOUBLE), 0)` for integers and `a / nullif(b, 0)`
//!   for other numbers.
//! - `a DIV b` (read as `a // b`, see [`super::syntax`]): the integer quotient as a BIGINT,
//!   truncated toward zero (`-7 DIV 2` is -3); NULL for a zero divisor.
//! - `a % b`: NULL for a zero divisor (DataFusion fails on integers, NaN on floats).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::planner::{
    ExprPlanner, PlannerResult, RawBinaryExpr, RawFieldAccessExpr,
};
use datafusion::logical_expr::{cast, lit, when, Expr, ExprSchemable, GetFieldAccess, Operator};
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Plans `/` and `a[i]` as Spark does while the session's dialect is Spark. It must come
/// before DataFusion's own planners, which plan `a[i]` as soon as they see it.
#[derive(Debug)]
pub struct SparkPlanner {
    spark: Arc<AtomicBool>,
}

impl SparkPlanner {
    /// A planner active while `spark` is true.
    pub fn new(spark: Arc<AtomicBool>) -> Self {
        Self { spark }
    }
}

impl ExprPlanner for SparkPlanner {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let ops = [
            BinaryOperator::Divide,
            BinaryOperator::DuckIntegerDivide,
            BinaryOperator::Modulo,
        ];
        if !self.spark.load(Ordering::Relaxed) || !ops.contains(&expr.op) {
            return Ok(PlannerResult::Original(expr));
        }
        // A type that cannot be read here (a parameter placeholder) is DataFusion's to plan.
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        let (left, right) = (expr.left.clone(), expr.right.clone());
        let planned = match expr.op {
            BinaryOperator::Divide => spark_divide(left, &lt, right, &rt),
            BinaryOperator::DuckIntegerDivide => spark_div(left, &lt, right, &rt),
            _ => spark_modulo(left, &lt, right, &rt),
        };
        match planned {
            Some(e) => Ok(PlannerResult::Planned(e)),
            None => Ok(PlannerResult::Original(expr)),
        }
    }

    fn plan_substring(&self, args: Vec<Expr>) -> Result<PlannerResult<Vec<Expr>>> {
        if !self.spark.load(Ordering::Relaxed) {
            return Ok(PlannerResult::Original(args));
        }
        // `substring(s, pos, len)` / `substr(…)` are syntax to sqlparser, planned straight to
        // DataFusion's function: Spark's counts a negative start from the end and 0 as 1.
        Ok(PlannerResult::Planned(
            datafusion_spark::function::string::substring().call(args),
        ))
    }

    fn plan_field_access(
        &self,
        expr: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawFieldAccessExpr>> {
        if !self.spark.load(Ordering::Relaxed) {
            return Ok(PlannerResult::Original(expr));
        }
        let RawFieldAccessExpr { field_access, expr } = expr;
        let is_array = matches!(
            expr.get_type(schema),
            Ok(DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..))
        );
        let field_access = match field_access {
            GetFieldAccess::ListIndex { key } if is_array => {
                // DataFusion counts from 1 and from the end for negative indexes.
                let key = *key;
                let one_based = when(key.clone().lt(lit(0i64)), lit(ScalarValue::Int64(None)))
                    .otherwise(cast(key, DataType::Int64) + lit(1i64))?;
                GetFieldAccess::ListIndex {
                    key: Box::new(one_based),
                }
            }
            other => other,
        };
        // DataFusion's planner plans the access itself.
        Ok(PlannerResult::Original(RawFieldAccessExpr {
            field_access,
            expr,
        }))
    }
}

/// Spark's `left / right` for these operand types, or None where DataFusion's is Spark's
/// (or where neither operand is a number, which DataFusion refuses or coerces itself).
pub fn spark_divide(left: Expr, lt: &DataType, right: Expr, rt: &DataType) -> Option<Expr> {
    let integer = |t: &DataType| t.is_integer() || *t == DataType::Null;
    let number = |t: &DataType| t.is_numeric() || *t == DataType::Null;
    if !number(lt) || !number(rt) || (*lt == DataType::Null && *rt == DataType::Null) {
        return None;
    }
    let (left, right) = if integer(lt) && integer(rt) {
        (
            cast(left, DataType::Float64),
            cast(right, DataType::Float64),
        )
    } else {
        (left, right)
    };
    let zero = match rt {
        DataType::Float32 | DataType::Float64 => lit(0.0f64),
        _ if integer(lt) && integer(rt) => lit(0.0f64),
        _ => lit(ScalarValue::Int64(Some(0))),
    };
    let divisor = datafusion::functions::core::expr_fn::nullif(right, zero);
    Some(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(left),
        Operator::Divide,
        Box::new(divisor),
    )))
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric() || *t == DataType::Null
}

/// Spark's `left DIV right`: BIGINT, truncated toward zero, NULL when `right` is 0.
pub fn spark_div(left: Expr, lt: &DataType, right: Expr, rt: &DataType) -> Option<Expr> {
    if !is_number(lt) || !is_number(rt) {
        return None;
    }
    let integer = |t: &DataType| t.is_integer() || *t == DataType::Null;
    let quotient = if integer(lt) && integer(rt) {
        Expr::BinaryExpr(BinaryExpr::new(
            Box::new(cast(left, DataType::Int64)),
            Operator::Divide,
            Box::new(datafusion::functions::core::expr_fn::nullif(
                cast(right, DataType::Int64),
                lit(0i64),
            )),
        ))
    } else {
        let q = Expr::BinaryExpr(BinaryExpr::new(
            Box::new(cast(left, DataType::Float64)),
            Operator::Divide,
            Box::new(datafusion::functions::core::expr_fn::nullif(
                cast(right, DataType::Float64),
                lit(0.0f64),
            )),
        ));
        cast(
            datafusion::functions::math::expr_fn::trunc(vec![q]),
            DataType::Int64,
        )
    };
    Some(quotient)
}

/// Spark's `left % right`: NULL when `right` is 0 (DataFusion's otherwise).
pub fn spark_modulo(left: Expr, lt: &DataType, right: Expr, rt: &DataType) -> Option<Expr> {
    if !is_number(lt) || !is_number(rt) || *rt == DataType::Null {
        return None;
    }
    let zero = match rt {
        DataType::Float32 | DataType::Float64 => lit(0.0f64),
        _ => lit(ScalarValue::Int64(Some(0))),
    };
    Some(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(left),
        Operator::Modulo,
        Box::new(datafusion::functions::core::expr_fn::nullif(right, zero)),
    )))
}

//! Spark SQL functions for notebooks ported from PySpark.
//!
//! The `datafusion-spark` crate supplies most of them (DATEDIFF, sha2, if, collect_list, …).
//! Its `register_all` would replace DataFusion's functions of the same name with Spark's
//! (`concat`, `trunc`, `avg`, `date_trunc`, …), which changes results the rest of the
//! kernel and its users rely on, so only the functions DataFusion lacks are added. On top
//! come the few that ported notebooks use and neither crate has in a usable form:
//! `DATE(x)`, `year/month/day/dayofmonth/dayofweek/quarter(x)`, and `date_add`/`date_sub`
//! that take timestamps, strings and any integer type (Spark's crate wants exactly a DATE
//! and an INT, so `date_add(ts, 1)` would not plan).

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::types::{logical_date, logical_int32, logical_string, NativeType};
use datafusion::common::{plan_err, Result};
use datafusion::execution::context::SessionContext;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    Coercion, ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, TypeSignatureClass, Volatility,
};

/// Adds the Spark functions DataFusion lacks, then the kernel's own; returns the names added.
pub(super) fn register(ctx: &SessionContext) -> Result<Vec<String>> {
    let state = ctx.state_ref();
    let mut state = state.write();
    let builtin: HashSet<String> = state
        .scalar_functions()
        .keys()
        .chain(state.aggregate_functions().keys())
        .chain(state.window_functions().keys())
        .cloned()
        .collect();
    let mut taken = builtin.clone();
    let mut added = Vec::new();
    // A function is added only when neither its name nor any alias is taken: a Spark
    // alias must not shadow a DataFusion function either (`substr`, `sha`).
    let free = |names: Vec<String>, taken: &mut HashSet<String>| {
        if names.iter().any(|n| taken.contains(n)) {
            return false;
        }
        taken.extend(names);
        true
    };
    for udf in datafusion_spark::all_default_scalar_functions() {
        let names = names_of(udf.name(), udf.aliases());
        if free(names, &mut taken) {
            added.push(udf.name().to_string());
            state.register_udf(udf)?;
        }
    }
    for udaf in datafusion_spark::all_default_aggregate_functions() {
        let names = names_of(udaf.name(), udaf.aliases());
        if free(names, &mut taken) {
            added.push(udaf.name().to_string());
            state.register_udaf(udaf)?;
        }
    }
    for udwf in datafusion_spark::all_default_window_functions() {
        let names = names_of(udwf.name(), udwf.aliases());
        if free(names, &mut taken) {
            added.push(udwf.name().to_string());
            state.register_udwf(udwf)?;
        }
    }
    // Our own: these replace the Spark crate's date_add/date_sub registered just above.
    let own = [
        ScalarUDF::new_from_impl(ToDate::new()),
        ScalarUDF::new_from_impl(DateArith::new(
            "date_add",
            &["dateadd"],
            datafusion_spark::function::datetime::date_add(),
        )),
        ScalarUDF::new_from_impl(DateArith::new(
            "date_sub",
            &[],
            datafusion_spark::function::datetime::date_sub(),
        )),
        ScalarUDF::new_from_impl(DatePart::new("year", "year")),
        ScalarUDF::new_from_impl(DatePart::new("month", "month")),
        ScalarUDF::new_from_impl(DatePart::new("quarter", "quarter")),
        ScalarUDF::new_from_impl(DatePart::new("day", "day").with_alias("dayofmonth")),
        ScalarUDF::new_from_impl(DatePart::new("dayofweek", "dow")),
        ScalarUDF::new_from_impl(DatePart::new("dayofyear", "doy")),
    ];
    for udf in own {
        let names = names_of(udf.name(), udf.aliases());
        // Ours may replace a Spark function added above, never a DataFusion one.
        if names.iter().any(|n| builtin.contains(n)) {
            continue;
        }
        if !added.iter().any(|a| a == udf.name()) {
            added.push(udf.name().to_string());
        }
        state.register_udf(Arc::new(udf))?;
    }
    added.sort();
    Ok(added)
}

fn names_of(name: &str, aliases: &[String]) -> Vec<String> {
    std::iter::once(name.to_string())
        .chain(aliases.iter().cloned())
        .collect()
}

/// A DATE, a TIMESTAMP or a string cast to a DATE, as Spark's implicit casts do.
fn date_like() -> Coercion {
    Coercion::new_implicit(
        TypeSignatureClass::Native(logical_date()),
        vec![
            TypeSignatureClass::Native(logical_string()),
            TypeSignatureClass::Timestamp,
        ],
        NativeType::Date,
    )
}

/// `DATE(x)`: `x` (a timestamp, a date or a 'YYYY-MM-DD' string) as a DATE, like Spark's.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToDate {
    signature: Signature,
}

impl ToDate {
    fn new() -> Self {
        ToDate {
            signature: Signature::coercible(vec![date_like()], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ToDate {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "date"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // The signature has already cast the argument to DATE.
        match <[ColumnarValue; 1]>::try_from(args.args) {
            Ok([value]) => Ok(value),
            Err(_) => plan_err!("date() takes one argument, e.g. date(event_timestamp)"),
        }
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        // A plain cast, so aggregates over DATE(ts) group on a native expression.
        match <[Expr; 1]>::try_from(args) {
            Ok([arg]) => Ok(ExprSimplifyResult::Simplified(
                arg.cast_to(&DataType::Date32, info.schema())?,
            )),
            Err(args) => Ok(ExprSimplifyResult::Original(args)),
        }
    }
}

/// Spark's `date_add(start, days)` / `date_sub(start, days)` with Spark's implicit casts:
/// `start` may be a DATE, TIMESTAMP or string, `days` any integer. The arithmetic is the
/// `datafusion-spark` function's; this only widens the signature.
#[derive(Debug)]
struct DateArith {
    name: &'static str,
    aliases: Vec<String>,
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

impl DateArith {
    fn new(name: &'static str, aliases: &[&str], inner: Arc<ScalarUDF>) -> Self {
        let days = Coercion::new_implicit(
            TypeSignatureClass::Native(logical_int32()),
            vec![TypeSignatureClass::Integer],
            NativeType::Int32,
        );
        DateArith {
            name,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            inner,
            signature: Signature::coercible(vec![date_like(), days], Volatility::Immutable),
        }
    }
}

impl PartialEq for DateArith {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for DateArith {}

impl std::hash::Hash for DateArith {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for DateArith {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.inner.invoke_with_args(args)
    }
}

/// `year(x)`, `month(x)`, … of a DATE, TIMESTAMP or date string, as an INT (Spark's type).
#[derive(Debug, PartialEq, Eq, Hash)]
struct DatePart {
    name: &'static str,
    part: &'static str,
    aliases: Vec<String>,
    signature: Signature,
}

impl DatePart {
    fn new(name: &'static str, part: &'static str) -> Self {
        let ts_or_date = Coercion::new_implicit(
            TypeSignatureClass::Timestamp,
            vec![
                TypeSignatureClass::Native(logical_string()),
                TypeSignatureClass::Native(logical_date()),
            ],
            NativeType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
        );
        DatePart {
            name,
            part,
            aliases: vec![],
            signature: Signature::coercible(vec![ts_or_date], Volatility::Immutable),
        }
    }

    fn with_alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_string());
        self
    }
}

impl ScalarUDFImpl for DatePart {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        plan_err!("{}() is rewritten to date_part before it runs", self.name)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let Ok([arg]) = <[Expr; 1]>::try_from(args) else {
            return plan_err!(
                "{}() takes one argument, e.g. {}(event_timestamp)",
                self.name,
                self.name
            );
        };
        let mut value = datafusion::functions::datetime::expr_fn::date_part(
            datafusion::prelude::lit(self.part),
            arg,
        );
        if self.part == "dow" {
            // Spark's dayofweek is 1 (Sunday) to 7; DataFusion's dow is 0 (Sunday) to 6.
            value = value + datafusion::prelude::lit(1);
        }
        Ok(ExprSimplifyResult::Simplified(
            value.cast_to(&DataType::Int32, info.schema())?,
        ))
    }
}

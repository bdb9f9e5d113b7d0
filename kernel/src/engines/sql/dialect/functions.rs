//! Spark functions the Spark dialect adds or replaces, each a small rewrite into DataFusion's
//! own functions (done when the optimizer simplifies the call, so the work is DataFusion's)
//! or, where DataFusion has nothing close (`split` by a regular expression,
//! `regexp_extract`), a function of its own:
//!
//! - `concat` with Spark's NULL (any NULL argument makes NULL; DataFusion's skips them), and
//!   arrays concatenated as arrays; `concat_ws` joining arrays' elements; `regexp_replace`
//!   replacing every match; `substring`/`substr` with Spark's positions (datafusion-spark's);
//! - `split(s, regex [, limit])`, `regexp_extract(s, regex [, group])`,
//!   `sort_array(a [, asc])`;
//! - `int(x)`, `bigint(x)`, `double(x)`, `string(x)`, … (Spark's cast functions), `isnull`,
//!   `equal_null`, `weekofyear`, `weekday`, `timestamp_seconds`, `e()`, `sequence`,
//!   `try_divide`, `date_from_unix_date`, `locate`;
//! - Spark's names for DataFusion's functions: `ceiling`, `sign`, `len`, `startswith`,
//!   `endswith`, `variance`, `std`, `every`, `some`, `any_value`, `first`, `last`,
//!   `approx_count_distinct`; `count_if`, `isnotnull`.

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, ListBuilder, StringArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    binary_expr, cast, lit, when, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr,
    ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

/// Scalar names only the Spark dialect has (the DataFusion dialect removes them).
pub const SPARK_ONLY_SCALARS: [&str; 30] = [
    "sequence",
    "try_divide",
    "date_from_unix_date",
    "locate",
    "split",
    "regexp_extract",
    "sort_array",
    "int",
    "bigint",
    "smallint",
    "tinyint",
    "double",
    "float",
    "string",
    "boolean",
    "timestamp",
    "isnull",
    "equal_null",
    "weekofyear",
    "weekday",
    "timestamp_seconds",
    "e",
    "ceiling",
    "sign",
    "len",
    "startswith",
    "endswith",
    "isnotnull",
    "decimal",
    "binary",
];

/// Aggregate names only the Spark dialect has.
pub const SPARK_ONLY_AGGREGATES: [&str; 9] = [
    "count_if",
    "variance",
    "std",
    "every",
    "any_value",
    "first",
    "last",
    "some",
    "approx_count_distinct",
];

/// The Spark dialect's scalar functions.
pub fn spark_scalars() -> Vec<ScalarUDF> {
    let mut out: Vec<ScalarUDF> = REWRITES
        .iter()
        .map(|r| ScalarUDF::new_from_impl(r.clone()))
        .collect();
    out.push(ScalarUDF::new_from_impl(Split::new()));
    // Spark's substring: a negative start counts from the end, 0 is 1.
    out.push(
        datafusion_spark::function::string::substring()
            .as_ref()
            .clone(),
    );
    out.push(ScalarUDF::new_from_impl(RegexpExtract::new()));
    use datafusion::functions::{math, string, unicode};
    out.push(math::ceil().as_ref().clone().with_aliases(["ceiling"]));
    out.push(math::signum().as_ref().clone().with_aliases(["sign"]));
    out.push(
        unicode::character_length()
            .as_ref()
            .clone()
            .with_aliases(["len"]),
    );
    out.push(
        string::starts_with()
            .as_ref()
            .clone()
            .with_aliases(["startswith"]),
    );
    out.push(
        string::ends_with()
            .as_ref()
            .clone()
            .with_aliases(["endswith"]),
    );
    out
}

/// The Spark dialect's aggregate functions (Spark's names for DataFusion's).
pub fn spark_aggregates() -> Vec<AggregateUDF> {
    use datafusion::functions_aggregate as agg;
    vec![
        agg::variance::var_samp_udaf()
            .as_ref()
            .clone()
            .with_aliases(["variance"]),
        agg::stddev::stddev_udaf()
            .as_ref()
            .clone()
            .with_aliases(["std"]),
        agg::bool_and_or::bool_and_udaf()
            .as_ref()
            .clone()
            .with_aliases(["every"]),
        agg::bool_and_or::bool_or_udaf()
            .as_ref()
            .clone()
            .with_aliases(["some"]),
        agg::first_last::last_value_udaf()
            .as_ref()
            .clone()
            .with_aliases(["last"]),
        agg::first_last::first_value_udaf()
            .as_ref()
            .clone()
            .with_aliases(["any_value", "first"]),
        agg::approx_distinct::approx_distinct_udaf()
            .as_ref()
            .clone()
            .with_aliases(["approx_count_distinct"]),
        AggregateUDF::new_from_impl(CountIf::new()),
    ]
}

/// Spark's `count_if(condition)`: the rows where the condition is TRUE, rewritten into
/// `count(CASE WHEN condition THEN 1 END)` (DataFusion's count, with its vectorized
/// accumulator) before planning.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CountIf {
    signature: Signature,
}

impl CountIf {
    fn new() -> Self {
        CountIf {
            signature: Signature::exact(vec![DataType::Boolean], Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for CountIf {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "count_if"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn accumulator(
        &self,
        _args: datafusion::logical_expr::function::AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::Accumulator>> {
        exec_err!("count_if was not rewritten before running (please report this)")
    }

    fn simplify(
        &self,
    ) -> Option<datafusion::logical_expr::function::AggregateFunctionSimplification> {
        Some(Box::new(|f, _| {
            let mut params = f.params;
            let cond = params.args.remove(0);
            let one = when(cond, lit(1i64)).end()?;
            Ok(Expr::AggregateFunction(
                datafusion::logical_expr::expr::AggregateFunction::new_udf(
                    datafusion::functions_aggregate::count::count_udaf(),
                    vec![one],
                    params.distinct,
                    params.filter,
                    params.order_by,
                    params.null_treatment,
                ),
            ))
        }))
    }
}

/// DataFusion's functions the Spark dialect replaced, for the DataFusion dialect.
pub fn datafusion_scalars() -> Vec<Arc<ScalarUDF>> {
    use datafusion::functions::{math, string, unicode};
    vec![
        string::concat(),
        string::concat_ws(),
        datafusion::functions::regex::regexp_replace(),
        unicode::substr(),
        math::ceil(),
        math::signum(),
        unicode::character_length(),
        string::starts_with(),
        string::ends_with(),
    ]
}

/// DataFusion's aggregates the Spark dialect gave more names.
pub fn datafusion_aggregates() -> Vec<Arc<AggregateUDF>> {
    use datafusion::functions_aggregate as agg;
    vec![
        agg::variance::var_samp_udaf(),
        agg::stddev::stddev_udaf(),
        agg::bool_and_or::bool_and_udaf(),
        agg::bool_and_or::bool_or_udaf(),
        agg::first_last::first_value_udaf(),
        agg::first_last::last_value_udaf(),
        agg::approx_distinct::approx_distinct_udaf(),
    ]
}

/// How a rewritten function's result type follows from its arguments' types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Returns {
    Fixed(&'static DataType),
    /// The first argument's type (`sort_array`).
    First,
    /// Spark's `concat`: an array when its arguments are arrays, else a string.
    Concat,
    /// `sequence`: a list of the first argument's type (integers as BIGINT).
    Sequence,
}

/// A Spark function that is a rewrite into DataFusion's expressions (one per name, so the
/// name is what tells two apart).
#[derive(Debug, Clone)]
struct Rewrite {
    name: &'static str,
    signature: Signature,
    returns: Returns,
    rewrite: fn(Vec<Expr>, &SimplifyContext) -> Result<Expr>,
}

impl PartialEq for Rewrite {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Rewrite {}

impl std::hash::Hash for Rewrite {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

static INT32: DataType = DataType::Int32;
static INT64: DataType = DataType::Int64;
static INT16: DataType = DataType::Int16;
static INT8: DataType = DataType::Int8;
static FLOAT64: DataType = DataType::Float64;
static FLOAT32: DataType = DataType::Float32;
static UTF8: DataType = DataType::Utf8;
static DATE32: DataType = DataType::Date32;
static BOOLEAN: DataType = DataType::Boolean;
static TIMESTAMP_US: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);
static DECIMAL: DataType = DataType::Decimal128(10, 0);
static BINARY: DataType = DataType::Binary;

fn arity(names: &[usize]) -> Signature {
    Signature::one_of(
        names
            .iter()
            .map(|&n| match n {
                0 => TypeSignature::Nullary,
                n => TypeSignature::Any(n),
            })
            .collect(),
        Volatility::Immutable,
    )
}

macro_rules! cast_fn {
    ($name:literal, $ty:ident) => {
        Rewrite {
            name: $name,
            signature: arity(&[1]),
            returns: Returns::Fixed(&$ty),
            rewrite: |mut a, _| Ok(cast(a.remove(0), $ty.clone())),
        }
    };
}

/// Spark's cast to an integer type: a timestamp becomes seconds since the epoch (DataFusion's
/// cast gives the timestamp's own unit, nanoseconds or microseconds).
macro_rules! int_cast {
    ($name:literal, $ty:ident) => {
        Rewrite {
            name: $name,
            signature: arity(&[1]),
            returns: Returns::Fixed(&$ty),
            rewrite: |mut a, info| {
                let arg = a.remove(0);
                let arg = match arg.get_type(info.schema())? {
                    DataType::Timestamp(_, tz) => {
                        cast(arg, DataType::Timestamp(TimeUnit::Second, tz))
                    }
                    _ => arg,
                };
                Ok(cast(arg, $ty.clone()))
            },
        }
    };
}

static REWRITES: std::sync::LazyLock<Vec<Rewrite>> = std::sync::LazyLock::new(|| {
    vec![
        int_cast!("int", INT32),
        int_cast!("bigint", INT64),
        int_cast!("smallint", INT16),
        int_cast!("tinyint", INT8),
        cast_fn!("double", FLOAT64),
        cast_fn!("float", FLOAT32),
        cast_fn!("string", UTF8),
        cast_fn!("boolean", BOOLEAN),
        cast_fn!("timestamp", TIMESTAMP_US),
        cast_fn!("decimal", DECIMAL),
        cast_fn!("binary", BINARY),
        Rewrite {
            name: "isnull",
            signature: arity(&[1]),
            returns: Returns::Fixed(&BOOLEAN),
            rewrite: |mut a, _| Ok(a.remove(0).is_null()),
        },
        Rewrite {
            name: "isnotnull",
            signature: arity(&[1]),
            returns: Returns::Fixed(&BOOLEAN),
            rewrite: |mut a, _| Ok(a.remove(0).is_not_null()),
        },
        Rewrite {
            name: "equal_null",
            signature: arity(&[2]),
            returns: Returns::Fixed(&BOOLEAN),
            rewrite: |mut a, _| {
                let b = a.pop().expect("two arguments");
                Ok(binary_expr(
                    a.remove(0),
                    datafusion::logical_expr::Operator::IsNotDistinctFrom,
                    b,
                ))
            },
        },
        Rewrite {
            name: "weekofyear",
            signature: arity(&[1]),
            returns: Returns::Fixed(&INT32),
            rewrite: |mut a, _| {
                let d = cast(a.remove(0), DataType::Date32);
                Ok(cast(
                    datafusion::functions::datetime::date_part().call(vec![lit("week"), d]),
                    DataType::Int32,
                ))
            },
        },
        Rewrite {
            name: "weekday",
            signature: arity(&[1]),
            returns: Returns::Fixed(&INT32),
            // Spark: Monday 0 … Sunday 6; DataFusion's dow: Sunday 0.
            rewrite: |mut a, _| {
                let d = cast(a.remove(0), DataType::Date32);
                let dow = cast(
                    datafusion::functions::datetime::date_part().call(vec![lit("dow"), d]),
                    DataType::Int32,
                );
                Ok((dow + lit(6i32)) % lit(7i32))
            },
        },
        Rewrite {
            name: "timestamp_seconds",
            signature: arity(&[1]),
            returns: Returns::Fixed(&TIMESTAMP_US),
            rewrite: |mut a, info| {
                let n = cast(a.remove(0), DataType::Int64);
                let t =
                    datafusion::functions::datetime::to_timestamp_seconds(info.config_options())
                        .call(vec![n]);
                Ok(cast(t, TIMESTAMP_US.clone()))
            },
        },
        Rewrite {
            name: "e",
            signature: arity(&[0]),
            returns: Returns::Fixed(&FLOAT64),
            rewrite: |_, _| Ok(lit(std::f64::consts::E)),
        },
        Rewrite {
            name: "sort_array",
            signature: arity(&[1, 2]),
            returns: Returns::First,
            // Spark: ascending puts NULLs first, descending last.
            rewrite: |mut a, _| {
                let asc = match a.get(1) {
                    None => true,
                    Some(Expr::Literal(ScalarValue::Boolean(Some(b)), _)) => *b,
                    Some(_) => return plan_err!("sort_array: the order must be true or false"),
                };
                let arr = a.remove(0);
                let (dir, nulls) = if asc {
                    ("ASC", "NULLS FIRST")
                } else {
                    ("DESC", "NULLS LAST")
                };
                Ok(
                    datafusion::functions_nested::sort::array_sort_udf().call(vec![
                        arr,
                        lit(dir),
                        lit(nulls),
                    ]),
                )
            },
        },
        Rewrite {
            name: "sequence",
            signature: arity(&[2, 3]),
            returns: Returns::Sequence,
            // Spark's sequence includes its end, as DataFusion's generate_series does.
            rewrite: |a, info| {
                let t = a[0].get_type(info.schema())?;
                Ok(cast(
                    datafusion::functions_nested::range::gen_series_udf().call(a),
                    sequence_type(Some(&t)),
                ))
            },
        },
        Rewrite {
            name: "try_divide",
            signature: arity(&[2]),
            returns: Returns::Fixed(&FLOAT64),
            rewrite: |mut a, _| {
                let b = cast(a.pop().expect("two arguments"), DataType::Float64);
                let x = cast(a.remove(0), DataType::Float64);
                super::planner::spark_divide(x, &DataType::Float64, b, &DataType::Float64)
                    .map_or_else(|| plan_err!("try_divide takes numbers"), Ok)
            },
        },
        Rewrite {
            name: "date_from_unix_date",
            signature: arity(&[1]),
            returns: Returns::Fixed(&DATE32),
            rewrite: |mut a, _| Ok(cast(cast(a.remove(0), DataType::Int32), DataType::Date32)),
        },
        Rewrite {
            name: "locate",
            signature: arity(&[2]),
            returns: Returns::Fixed(&INT32),
            // locate(substr, str) is strpos(str, substr), both 1-based, 0 when absent.
            rewrite: |mut a, _| {
                let s = a.pop().expect("two arguments");
                let sub = a.remove(0);
                Ok(cast(
                    datafusion::functions::unicode::strpos().call(vec![s, sub]),
                    DataType::Int32,
                ))
            },
        },
        Rewrite {
            name: "concat_ws",
            signature: Signature::variadic_any(Volatility::Immutable),
            returns: Returns::Fixed(&UTF8),
            // Spark's concat_ws takes arrays too, joining their elements (NULLs skipped).
            rewrite: |a, info| {
                let Some(sep) = a.first().cloned() else {
                    return plan_err!("concat_ws needs a separator");
                };
                let mut args = vec![sep.clone()];
                for e in a.into_iter().skip(1) {
                    args.push(match e.get_type(info.schema())? {
                        t if is_list(&t) => {
                            datafusion::functions_nested::string::array_to_string_udf()
                                .call(vec![e, sep.clone()])
                        }
                        DataType::Utf8 => e,
                        _ => cast(e, DataType::Utf8),
                    });
                }
                Ok(cast(
                    datafusion::functions::string::concat_ws().call(args),
                    DataType::Utf8,
                ))
            },
        },
        Rewrite {
            name: "regexp_replace",
            signature: arity(&[3]),
            returns: Returns::Fixed(&UTF8),
            // Spark replaces every match; DataFusion's only the first without the 'g' flag.
            rewrite: |a, _| {
                let args = a
                    .into_iter()
                    .map(|e| cast(e, DataType::Utf8))
                    .chain(std::iter::once(lit("g")))
                    .collect();
                Ok(cast(
                    datafusion::functions::regex::regexp_replace().call(args),
                    DataType::Utf8,
                ))
            },
        },
        Rewrite {
            name: "concat",
            signature: Signature::variadic_any(Volatility::Immutable),
            returns: Returns::Concat,
            rewrite: |a, info| {
                let types = a
                    .iter()
                    .map(|e| e.get_type(info.schema()))
                    .collect::<Result<Vec<_>>>()?;
                if types.iter().any(is_list) {
                    return Ok(datafusion::functions_nested::concat::array_concat_udf().call(a));
                }
                // Spark's concat: NULL as soon as one argument is NULL.
                let args = a
                    .into_iter()
                    .zip(types)
                    .map(|(e, t)| match t {
                        DataType::Utf8 => e,
                        _ => cast(e, DataType::Utf8),
                    })
                    .collect();
                Ok(cast(
                    datafusion_spark::function::string::concat().call(args),
                    DataType::Utf8,
                ))
            },
        },
    ]
});

fn sequence_type(first: Option<&DataType>) -> DataType {
    let item = match first {
        Some(t) if t.is_integer() => DataType::Int64,
        Some(t) => t.clone(),
        None => DataType::Int64,
    };
    DataType::List(Arc::new(Field::new("item", item, true)))
}

fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

impl ScalarUDFImpl for Rewrite {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.returns {
            Returns::Fixed(t) => t.clone(),
            Returns::First => arg_types.first().cloned().unwrap_or(DataType::Null),
            Returns::Concat => match arg_types.iter().find(|t| is_list(t)) {
                Some(t) => t.clone(),
                None => DataType::Utf8,
            },
            Returns::Sequence => sequence_type(arg_types.first()),
        })
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!(
            "{} was not rewritten before running (please report this)",
            self.name
        )
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Simplified((self.rewrite)(args, info)?))
    }
}

/// Reads argument `i` as a regular expression, or says which function needs one.
fn regex_arg(name: &str, v: &ColumnarValue) -> Result<Option<regex::Regex>> {
    let text = match v {
        ColumnarValue::Scalar(s) => match s {
            ScalarValue::Utf8(p) | ScalarValue::LargeUtf8(p) | ScalarValue::Utf8View(p) => {
                p.clone()
            }
            ScalarValue::Null => None,
            _ => return exec_err!("{name}: the pattern must be a string"),
        },
        ColumnarValue::Array(_) => {
            return exec_err!("{name}: the pattern must be the same for every row (a literal)")
        }
    };
    match text {
        None => Ok(None),
        Some(p) => regex::Regex::new(&p).map(Some).or_else(|e| {
            exec_err!("{name}: '{p}' is not a regular expression the kernel reads: {e}")
        }),
    }
}

fn int_arg(name: &str, v: Option<&ColumnarValue>, default: i64) -> Result<i64> {
    match v {
        None => Ok(default),
        Some(ColumnarValue::Scalar(s)) => match s.clone().cast_to(&DataType::Int64)? {
            ScalarValue::Int64(Some(n)) => Ok(n),
            _ => exec_err!("{name}: the number argument must not be NULL"),
        },
        Some(_) => exec_err!("{name}: the number argument must be the same for every row"),
    }
}

/// Spark's `split(str, regex [, limit])`: the pieces between matches, as an array.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Split {
    signature: Signature,
}

impl Split {
    fn new() -> Self {
        Split {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Utf8, DataType::Int64]),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for Split {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "split"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i < 2 {
                    DataType::Utf8
                } else {
                    DataType::Int64
                }
            })
            .collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new(
            "item",
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let re = regex_arg("split", &args.args[1])?;
        let limit = int_arg("split", args.args.get(2), -1)?;
        let strings = args.args[0].to_array(n)?;
        let strings = strings
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Execution("split takes a string".into())
            })?;
        let mut out = ListBuilder::new(StringBuilder::new());
        for i in 0..n {
            match (&re, strings.is_null(i)) {
                (Some(re), false) => {
                    let s = strings.value(i);
                    for piece in split_like_java(re, s, limit) {
                        out.values().append_value(piece);
                    }
                    out.append(true);
                }
                _ => out.append(false),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// Java's `String.split(regex, limit)`, as Spark calls it: limit > 0 gives at most that many
/// pieces; otherwise all, trailing empty pieces kept. An empty pattern splits characters.
fn split_like_java<'a>(re: &regex::Regex, s: &'a str, limit: i64) -> Vec<&'a str> {
    if re.as_str().is_empty() {
        let mut chars: Vec<&str> = s
            .char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect();
        if limit > 0 && chars.len() > limit as usize {
            let keep = limit as usize - 1;
            let start: usize = chars[..keep].iter().map(|c| c.len()).sum();
            chars.truncate(keep);
            chars.push(&s[start..]);
        }
        return chars;
    }
    if limit > 0 {
        re.splitn(s, limit as usize).collect()
    } else {
        re.split(s).collect()
    }
}

/// Spark's `regexp_extract(str, regex [, group])`: the group's text in the first match, ""
/// when nothing matches.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RegexpExtract {
    signature: Signature,
}

impl RegexpExtract {
    fn new() -> Self {
        RegexpExtract {
            signature: Signature::one_of(
                vec![TypeSignature::Any(2), TypeSignature::Any(3)],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for RegexpExtract {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "regexp_extract"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let re = regex_arg("regexp_extract", &args.args[1])?;
        let group = int_arg("regexp_extract", args.args.get(2), 1)?;
        let strings =
            datafusion::arrow::compute::cast(&args.args[0].to_array(n)?, &DataType::Utf8)?;
        let strings = strings
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        if let Some(re) = &re {
            if group < 0 || group as usize >= re.captures_len() {
                return exec_err!(
                    "regexp_extract: the pattern '{}' has {} group(s), so group {group} does not exist",
                    re.as_str(),
                    re.captures_len() - 1
                );
            }
        }
        let out: StringArray = (0..n)
            .map(|i| match (&re, strings.is_null(i)) {
                (Some(re), false) => Some(
                    re.captures(strings.value(i))
                        .and_then(|c| c.get(group as usize))
                        .map_or("", |m| m.as_str())
                        .to_string(),
                ),
                _ => None,
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::split_like_java;

    #[test]
    fn split_is_javas() {
        let comma = regex::Regex::new(",").unwrap();
        assert_eq!(
            split_like_java(&comma, "a,b,,c,", -1),
            vec!["a", "b", "", "c", ""]
        );
        assert_eq!(split_like_java(&comma, "a,b,c", 2), vec!["a", "b,c"]);
        let none = regex::Regex::new("").unwrap();
        assert_eq!(split_like_java(&none, "abc", -1), vec!["a", "b", "c"]);
        assert_eq!(split_like_java(&none, "abc", 2), vec!["a", "bc"]);
        let ws = regex::Regex::new(r"\s+").unwrap();
        assert_eq!(split_like_java(&ws, "x  y z", 0), vec!["x", "y", "z"]);
    }
}

//! Spark's names for the unaliased expressions of a query's result (the Spark dialect):
//! `a + b` is `(a + b)`, `CAST(qty AS DOUBLE)` is `CAST(qty AS DOUBLE)`, `count(*)` is
//! `count(1)`, `'x'` is `x`, where DataFusion says `t.a + t.b`, `t.qty` (so a column and its
//! cast collide: "Projections require unique expression names") and `count(*)`.
//!
//! The outermost SELECT's unaliased expressions get the name Spark prints as their alias,
//! before planning. Forms whose Spark name is not known here (window functions, subscripts,
//! subqueries, …) keep DataFusion's; so does a select list whose names would then repeat.
//! Plain column references are left alone (their name is the column's either way).

use datafusion_sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, SelectItem, SetExpr, Statement, UnaryOperator, Value,
};

/// Gives the unaliased expressions of `statement`'s result (a query) Spark's names.
pub fn spark_names(statement: &mut Statement) {
    let Statement::Query(q) = statement else {
        return;
    };
    let mut body = q.body.as_mut();
    // A set operation is named by its first SELECT.
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_mut();
    }
    let SetExpr::Select(select) = body else {
        return;
    };
    // Names the select list has already: its columns and aliases.
    let mut taken: std::collections::HashSet<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(i.value.to_ascii_lowercase()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                parts.last().map(|p| p.value.to_ascii_lowercase())
            }
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let mut names: Vec<Option<String>> = vec![];
    for item in &select.projection {
        let SelectItem::UnnamedExpr(e) = item else {
            names.push(None);
            continue;
        };
        if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            names.push(None);
            continue;
        }
        // Spark names a cast in the select list by what it casts (`CAST(qty AS DOUBLE)` is
        // `qty`), unless that repeats a name (Spark would have two columns `qty`, which a
        // DataFusion result cannot: then the cast's own name). A name that would repeat is
        // left to DataFusion.
        let free = |n: &String| !taken.contains(&n.to_ascii_lowercase());
        let n = cast_child(e)
            .and_then(name)
            .filter(free)
            .or_else(|| name(e).filter(free));
        if let Some(n) = &n {
            taken.insert(n.to_ascii_lowercase());
        }
        names.push(n);
    }
    for (item, n) in select.projection.iter_mut().zip(names) {
        let Some(n) = n else { continue };
        if let SelectItem::UnnamedExpr(e) = item {
            *item = SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias: Ident::with_quote('"', n),
            };
        }
    }
}

/// What `e` casts, when it is a cast (`CAST(x AS T)` or Spark's `int(x)`, …).
fn cast_child(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Cast {
            kind: CastKind::Cast,
            expr,
            format: None,
            ..
        } => Some(expr),
        Expr::Nested(inner) => cast_child(inner),
        Expr::Function(f) if cast_function(&f.name.to_string().to_ascii_lowercase()).is_some() => {
            match &f.args {
                FunctionArguments::List(l) if l.args.len() == 1 && f.over.is_none() => {
                    match &l.args[0] {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The names Spark gives the outermost SELECT's columns as written (an alias's or a column's
/// case kept: `max(p) AS Max_Price`, `SELECT ID`), None where the planned name stands;
/// None for a select list with `*` (its columns are not known here).
pub fn output_names(statement: &Statement) -> Option<Vec<Option<String>>> {
    let Statement::Query(q) = statement else {
        return None;
    };
    let mut body = q.body.as_ref();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_ref();
    }
    // A VALUES statement's columns are col1, col2, … (DataFusion: column1, …).
    if let SetExpr::Values(v) = body {
        let n = v.rows.first().map_or(0, Vec::len);
        return Some((1..=n).map(|i| Some(format!("col{i}"))).collect());
    }
    let SetExpr::Select(select) = body else {
        return None;
    };
    let mut names = vec![];
    for item in &select.projection {
        names.push(match item {
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(i.value.clone()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                Some(parts.last()?.value.clone())
            }
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            SelectItem::UnnamedExpr(_) => None,
            _ => return None,
        });
    }
    Some(names)
}

/// `plan` with its columns renamed to `names` (see [`output_names`]) where they differ; as it
/// is when the counts differ or the new names would repeat.
pub fn rename(
    plan: datafusion_expr::LogicalPlan,
    names: &[Option<String>],
) -> datafusion_common::Result<datafusion_expr::LogicalPlan> {
    use datafusion_expr::{Expr as LExpr, LogicalPlanBuilder};
    let fields = plan.schema().columns();
    if fields.len() != names.len() {
        return Ok(plan);
    }
    let wanted: Vec<String> = fields
        .iter()
        .zip(names)
        .map(|(c, n)| n.clone().unwrap_or_else(|| c.name.clone()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    if !wanted.iter().all(|n| seen.insert(n.clone()))
        || fields.iter().zip(&wanted).all(|(c, w)| c.name == *w)
    {
        return Ok(plan);
    }
    let exprs: Vec<LExpr> = fields
        .into_iter()
        .zip(wanted)
        .map(|(c, w)| {
            let same = c.name == w;
            let e = LExpr::Column(c);
            if same {
                e
            } else {
                e.alias(w)
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(exprs)?.build()
}

/// Spark's name for `e`, where this module knows it.
pub fn name(e: &Expr) -> Option<String> {
    Some(match e {
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => parts.last()?.value.clone(),
        Expr::Nested(inner) => name(inner)?,
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.clone(),
            Value::SingleQuotedString(s) => s.clone(),
            Value::Boolean(b) => b.to_string(),
            Value::Null => "NULL".into(),
            _ => return None,
        },
        Expr::BinaryOp { left, op, right } => {
            let (l, r) = (name(left)?, name(right)?);
            match op {
                BinaryOperator::NotEq => format!("(NOT ({l} = {r}))"),
                BinaryOperator::StringConcat => format!("concat({l}, {r})"),
                _ => format!("({l} {} {r})", operator(op)?),
            }
        }
        Expr::UnaryOp { op, expr } => match (op, expr.as_ref()) {
            (UnaryOperator::Minus, Expr::Value(v)) if matches!(v.value, Value::Number(..)) => {
                format!("-{}", name(expr)?)
            }
            (UnaryOperator::Minus, _) => format!("(- {})", name(expr)?),
            (UnaryOperator::Not, _) => format!("(NOT {})", name(expr)?),
            _ => return None,
        },
        Expr::IsNull(x) => format!("({} IS NULL)", name(x)?),
        Expr::IsNotNull(x) => format!("({} IS NOT NULL)", name(x)?),
        Expr::Cast {
            kind: CastKind::Cast,
            expr,
            data_type,
            format: None,
            ..
        } => format!("CAST({} AS {})", name(expr)?, type_name(data_type)?),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            let mut s = String::from("CASE");
            if let Some(o) = operand {
                s += &format!(" {}", name(o)?);
            }
            for w in conditions {
                s += &format!(" WHEN {} THEN {}", name(&w.condition)?, name(&w.result)?);
            }
            if let Some(e) = else_result {
                s += &format!(" ELSE {}", name(e)?);
            }
            s + " END"
        }
        Expr::Function(f) => {
            if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
                return None;
            }
            let fname = f.name.to_string().to_ascii_lowercase();
            let FunctionArguments::List(list) = &f.args else {
                return match f.args {
                    FunctionArguments::None => Some(format!("{fname}()")),
                    _ => None,
                };
            };
            if !list.clauses.is_empty() {
                return None;
            }
            let mut args = vec![];
            for a in &list.args {
                match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(name(e)?),
                    FunctionArg::Unnamed(FunctionArgExpr::Wildcard) if fname == "count" => {
                        args.push("1".into())
                    }
                    _ => return None,
                }
            }
            // Spark's cast functions are printed as the cast they are.
            if let (Some(t), [arg]) = (cast_function(&fname), args.as_slice()) {
                return Some(format!("CAST({arg} AS {t})"));
            }
            let distinct = match list.duplicate_treatment {
                Some(DuplicateTreatment::Distinct) => "DISTINCT ",
                _ => "",
            };
            // Arguments Spark fills in and prints.
            match (fname.as_str(), args.len()) {
                ("round" | "bround", 1) => args.push("0".into()),
                ("split", 2) => args.push("-1".into()),
                _ => {}
            }
            format!("{fname}({distinct}{})", args.join(", "))
        }
        _ => return None,
    })
}

fn operator(op: &BinaryOperator) -> Option<&'static str> {
    Some(match op {
        BinaryOperator::Plus => "+",
        BinaryOperator::Minus => "-",
        BinaryOperator::Multiply => "*",
        BinaryOperator::Divide => "/",
        BinaryOperator::Modulo => "%",
        BinaryOperator::DuckIntegerDivide => "div",
        BinaryOperator::Eq => "=",
        BinaryOperator::Gt => ">",
        BinaryOperator::Lt => "<",
        BinaryOperator::GtEq => ">=",
        BinaryOperator::LtEq => "<=",
        BinaryOperator::Spaceship => "<=>",
        BinaryOperator::And => "AND",
        BinaryOperator::Or => "OR",
        _ => return None,
    })
}

/// Spark's spelling of a SQL type.
fn type_name(t: &DataType) -> Option<String> {
    Some(match t {
        DataType::Double(_) | DataType::DoublePrecision | DataType::Float64 => "DOUBLE".into(),
        DataType::Float(_) | DataType::Real | DataType::Float32 => "FLOAT".into(),
        DataType::String(_) | DataType::Varchar(_) | DataType::Text => "STRING".into(),
        DataType::Int(_) | DataType::Integer(_) | DataType::Int32 => "INT".into(),
        DataType::BigInt(_) | DataType::Int64 => "BIGINT".into(),
        DataType::SmallInt(_) => "SMALLINT".into(),
        DataType::TinyInt(_) => "TINYINT".into(),
        DataType::Boolean | DataType::Bool => "BOOLEAN".into(),
        DataType::Date => "DATE".into(),
        DataType::Timestamp(None, _) => "TIMESTAMP".into(),
        DataType::Decimal(info) | DataType::Numeric(info) => {
            use datafusion_sql::sqlparser::ast::ExactNumberInfo as E;
            match info {
                E::None => "DECIMAL(10,0)".into(),
                E::Precision(p) => format!("DECIMAL({p},0)"),
                E::PrecisionAndScale(p, s) => format!("DECIMAL({p},{s})"),
            }
        }
        _ => return None,
    })
}

/// The type a Spark cast function (`int(x)`, …) casts to.
fn cast_function(name: &str) -> Option<&'static str> {
    Some(match name {
        "int" => "INT",
        "bigint" => "BIGINT",
        "smallint" => "SMALLINT",
        "tinyint" => "TINYINT",
        "double" => "DOUBLE",
        "float" => "FLOAT",
        "string" => "STRING",
        "boolean" => "BOOLEAN",
        "date" => "DATE",
        "timestamp" => "TIMESTAMP",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use datafusion_sql::sqlparser::dialect::GenericDialect;
    use datafusion_sql::sqlparser::parser::Parser;

    use super::*;

    fn named(sql: &str) -> Vec<String> {
        let mut s = Parser::new(&GenericDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_statement()
            .unwrap();
        spark_names(&mut s);
        let Statement::Query(q) = s else { panic!() };
        let SetExpr::Select(sel) = *q.body else {
            panic!()
        };
        sel.projection
            .iter()
            .map(|i| match i {
                SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                other => format!("<{other}>"),
            })
            .collect()
    }

    #[test]
    fn spark_prints_these_names() {
        assert_eq!(
            named(
                "SELECT qty, CAST(qty AS DOUBLE), a + b, 7 / 2, count(*), count(DISTINCT r) FROM t"
            ),
            [
                "<qty>",
                "CAST(qty AS DOUBLE)",
                "(a + b)",
                "(7 / 2)",
                "count(1)",
                "count(DISTINCT r)"
            ]
        );
        assert_eq!(
            named("SELECT 1, 'x', true, 2.5, NULL, -qty, NOT vip, qty IS NULL, int('1'), round(p)"),
            [
                "1",
                "x",
                "true",
                "2.5",
                "NULL",
                "(- qty)",
                "(NOT vip)",
                "(qty IS NULL)",
                "CAST(1 AS INT)",
                "round(p, 0)"
            ]
        );
        assert_eq!(
            named("SELECT CASE WHEN qty > 2 THEN 'big' ELSE 'small' END, upper(s.region) AS r"),
            ["CASE WHEN (qty > 2) THEN big ELSE small END", "r"]
        );
        // A name that would repeat is left to DataFusion's.
        assert_eq!(named("SELECT 1, 1"), ["1", "<1>"]);
    }
}

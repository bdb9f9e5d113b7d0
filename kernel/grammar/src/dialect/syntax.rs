//! Spark syntax that DataFusion 53 refuses, spelled the way it plans (in either dialect: these
//! forms have no other meaning in DataFusion):
//!
//! - `a DIV b` (no infix parser for `DIV` in sqlparser's generic dialect): the text's `DIV` is
//!   spliced into `//`, which sqlparser reads with the same precedence as `/`; the Spark
//!   dialect's planner gives it Spark's meaning.
//! - `s RLIKE p` / `s REGEXP p` (sqlparser reads them, DataFusion does not plan them):
//!   `regexp_like(s, p)`, a search anywhere in the string as Java's `find`.
//! - `count(DISTINCT a, b)` ("COUNT DISTINCT with multiple arguments" is not supported):
//!   `count(DISTINCT CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN struct(a, b) END)`, the
//!   distinct tuples with no NULL, as Spark counts them.
//! - `WITH x AS (…) INSERT INTO t SELECT … FROM x` ("not implemented yet" in DataFusion):
//!   the CTEs move into the INSERT's query.

use std::ops::ControlFlow;

use datafusion_sql::sqlparser::ast::{
    DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SetExpr, Statement,
    UnaryOperator, VisitMut, VisitorMut,
};
use datafusion_sql::sqlparser::dialect::GenericDialect;
use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::parser::Parser;
use datafusion_sql::sqlparser::tokenizer::Token;

use crate::split::splice;
use crate::tokens::{significant, tokenize};

/// Keywords that begin or join clauses: a `DIV` next to one is a name, not the operator.
const CLAUSE_WORDS: &[Keyword] = &[
    Keyword::SELECT,
    Keyword::FROM,
    Keyword::WHERE,
    Keyword::GROUP,
    Keyword::ORDER,
    Keyword::BY,
    Keyword::HAVING,
    Keyword::LIMIT,
    Keyword::OFFSET,
    Keyword::UNION,
    Keyword::EXCEPT,
    Keyword::INTERSECT,
    Keyword::AS,
    Keyword::AND,
    Keyword::OR,
    Keyword::NOT,
    Keyword::ON,
    Keyword::JOIN,
    Keyword::USING,
    Keyword::WHEN,
    Keyword::THEN,
    Keyword::ELSE,
    Keyword::END,
    Keyword::CASE,
    Keyword::IN,
    Keyword::IS,
    Keyword::LIKE,
    Keyword::BETWEEN,
    Keyword::DISTINCT,
    Keyword::ALL,
    Keyword::SET,
    Keyword::VALUES,
    Keyword::WINDOW,
    Keyword::OVER,
    Keyword::PARTITION,
    Keyword::INTO,
    Keyword::TABLE,
    Keyword::DIV,
];

/// `text` with each `DIV` operator spelled `//`; None when it has none.
pub fn div_keyword(text: &str) -> Option<String> {
    if !text.to_ascii_lowercase().contains("div") {
        return None;
    }
    let tokens = tokenize(text)?;
    let sig: Vec<_> = significant(&tokens).map(|(_, t)| t).collect();
    // Ends an operand: a literal, a closing bracket, a name (not a clause's keyword).
    let ends = |t: &Token| match t {
        Token::Number(..) | Token::SingleQuotedString(_) | Token::RParen | Token::RBracket => true,
        Token::Word(w) => w.quote_style.is_some() || !CLAUSE_WORDS.contains(&w.keyword),
        _ => false,
    };
    let mut edits = vec![];
    for i in 1..sig.len().saturating_sub(1) {
        let Token::Word(w) = &sig[i].token else {
            continue;
        };
        if w.quote_style.is_some() || w.keyword != Keyword::DIV || !ends(&sig[i - 1].token) {
            continue;
        }
        // Starts an operand: a literal, a bracket, a sign, a name or a call.
        let starts = match &sig[i + 1].token {
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::LParen
            | Token::Minus
            | Token::Plus
            | Token::Placeholder(_) => true,
            Token::Word(n) => n.quote_style.is_some() || !CLAUSE_WORDS.contains(&n.keyword),
            _ => false,
        };
        if starts {
            edits.push((sig[i].span.start, sig[i].span.end, "//"));
        }
    }
    (!edits.is_empty()).then(|| splice(text, &edits))
}

/// The Spark dialect's `CAST(x AS INT|BIGINT|SMALLINT|TINYINT)` (and `x::bigint`) as Spark's
/// cast functions (`bigint(x)`, …), which see `x`'s type: a timestamp casts to seconds since
/// the epoch, as in Spark (DataFusion's cast gives nanoseconds).
pub fn spark_integer_casts(statement: &mut Statement) {
    let _ = statement.visit(&mut IntegerCasts);
}

struct IntegerCasts;

impl VisitorMut for IntegerCasts {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        use datafusion_sql::sqlparser::ast::{CastKind, DataType};
        let Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr: inner,
            data_type,
            format: None,
            ..
        } = expr
        else {
            return ControlFlow::Continue(());
        };
        let function = match data_type {
            DataType::Int(_) | DataType::Integer(_) | DataType::Int32 => "int",
            DataType::BigInt(_) | DataType::Int64 => "bigint",
            DataType::SmallInt(_) => "smallint",
            DataType::TinyInt(_) => "tinyint",
            _ => return ControlFlow::Continue(()),
        };
        if let Ok(call) = parse_expr(&format!("{function}({inner})")) {
            *expr = call;
        }
        ControlFlow::Continue(())
    }
}

/// Rewrites the forms above in `statement`; the error says which could not be rewritten.
pub fn rewrite(statement: &mut Statement) -> Result<(), String> {
    with_insert(statement);
    match statement.visit(&mut Rewriter) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(why) => Err(why),
    }
}

/// `WITH … INSERT …` → `INSERT … WITH … SELECT …`.
fn with_insert(statement: &mut Statement) {
    let Statement::Query(q) = statement else {
        return;
    };
    let Some(outer) = q.with.clone() else {
        return;
    };
    let SetExpr::Insert(Statement::Insert(insert)) = q.body.as_ref() else {
        return;
    };
    let mut insert = insert.clone();
    let Some(source) = insert.source.as_mut() else {
        return;
    };
    match source.with.as_mut() {
        None => source.with = Some(outer),
        Some(inner) => {
            let mut tables = outer.cte_tables;
            tables.append(&mut inner.cte_tables);
            inner.cte_tables = tables;
            inner.recursive |= outer.recursive;
        }
    }
    *statement = Statement::Insert(insert);
}

struct Rewriter;

fn parse_expr(sql: &str) -> Result<Expr, String> {
    Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| format!("cannot rewrite {sql}: {e}"))
}

impl VisitorMut for Rewriter {
    type Break = String;

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<String> {
        let replacement = match expr {
            Expr::RLike {
                negated,
                expr: subject,
                pattern,
                ..
            } => {
                let call = match parse_expr(&format!("regexp_like({subject}, {pattern})")) {
                    Ok(e) => e,
                    Err(why) => return ControlFlow::Break(why),
                };
                if *negated {
                    Expr::UnaryOp {
                        op: UnaryOperator::Not,
                        expr: Box::new(Expr::Nested(Box::new(call))),
                    }
                } else {
                    call
                }
            }
            Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("count") => {
                let FunctionArguments::List(list) = &f.args else {
                    return ControlFlow::Continue(());
                };
                if list.duplicate_treatment != Some(DuplicateTreatment::Distinct)
                    || list.args.len() < 2
                {
                    return ControlFlow::Continue(());
                }
                let mut columns = vec![];
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                            columns.push(e.to_string())
                        }
                        other => {
                            return ControlFlow::Break(format!(
                                "count(DISTINCT …) takes expressions, not {other}"
                            ))
                        }
                    }
                }
                let present = columns
                    .iter()
                    .map(|c| format!("({c}) IS NOT NULL"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let sql = format!(
                    "count(DISTINCT CASE WHEN {present} THEN struct({}) END)",
                    columns.join(", ")
                );
                match parse_expr(&sql) {
                    Ok(e) => e,
                    Err(why) => return ControlFlow::Break(why),
                }
            }
            _ => return ControlFlow::Continue(()),
        };
        *expr = replacement;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div_becomes_integer_division_only_as_an_operator() {
        assert_eq!(div_keyword("SELECT 7 DIV 2").unwrap(), "SELECT 7 // 2");
        assert_eq!(
            div_keyword("SELECT a div (b + 1), 'x DIV 2' FROM t").unwrap(),
            "SELECT a // (b + 1), 'x DIV 2' FROM t"
        );
        // A column or alias named div stays.
        assert_eq!(div_keyword("SELECT div FROM t"), None);
        assert_eq!(div_keyword("SELECT a div FROM t"), None);
        assert_eq!(div_keyword("SELECT a AS div, b FROM t"), None);
    }

    fn rewritten(sql: &str) -> String {
        let mut s = Parser::new(&GenericDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_statement()
            .unwrap();
        rewrite(&mut s).unwrap();
        s.to_string()
    }

    #[test]
    fn rlike_count_distinct_and_with_insert() {
        assert_eq!(
            rewritten("SELECT 'abc' RLIKE '^a', s NOT REGEXP 'z' FROM t"),
            "SELECT regexp_like('abc', '^a'), NOT (regexp_like(s, 'z')) FROM t"
        );
        assert_eq!(
            rewritten("SELECT count(DISTINCT a, b + 1) FROM t"),
            "SELECT count(DISTINCT CASE WHEN (a) IS NOT NULL AND (b + 1) IS NOT NULL THEN STRUCT(a, b + 1) END) FROM t"
        );
        assert_eq!(
            rewritten("SELECT count(DISTINCT a) FROM t"),
            "SELECT count(DISTINCT a) FROM t"
        );
        assert_eq!(
            rewritten("WITH x AS (SELECT 1 AS a) INSERT INTO t SELECT a FROM x"),
            "INSERT INTO t WITH x AS (SELECT 1 AS a) SELECT a FROM x"
        );
    }
}

//! The limit on how deeply a statement's expressions nest, checked right after parsing.
//!
//! DataFusion's parser limit (`datafusion.sql_parser.recursion_limit`) only bounds what the
//! parser itself recurses on (parentheses, subqueries). A chain of the same operator
//! (`a OR b OR c …`, `x + 1 + 1 …`) is parsed in a loop but becomes a left-deep tree as deep as
//! it is long, and planning, optimizing, evaluating, cloning and dropping it all recurse that
//! deep: 5,000 terms overflowed the engine thread's stack and aborted the kernel. Statements
//! up to [`MAX_EXPR_DEPTH`] levels run (the engine threads' stack is sized for it, see
//! [`ENGINE_STACK_BYTES`]); deeper ones are refused with an error naming the limit.

use std::ops::ControlFlow;

use datafusion_sql::parser::{CopyToSource, Statement};
use datafusion_sql::sqlparser::ast::{
    Expr, ObjectName, Value, Visit, VisitMut, Visitor, VisitorMut,
};

use crate::error::{CellError, ErrorKind};

/// Deepest expression nesting a statement may have (a chain of N terms nests N deep).
pub const MAX_EXPR_DEPTH: usize = 10_000;

/// Stack size of the threads that parse, plan and run statements: enough for
/// [`MAX_EXPR_DEPTH`] levels in every phase (measured from outside the process: a 9,999-term
/// OR chain touched 27 MiB of an engine thread's stack; DataFusion's own recursion grows onto
/// the heap). Only the pages a statement touches take memory.
pub const ENGINE_STACK_BYTES: usize = 256 * 1024 * 1024;

struct Depth {
    current: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.current += 1;
        if self.current > MAX_EXPR_DEPTH {
            // Stop at once: the visitor recurses too, and must not go deeper than the limit.
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.current -= 1;
        ControlFlow::Continue(())
    }
}

/// Takes operator chains out of the tree and frees them with a loop: dropping a left-deep
/// chain recurses once per term, which a refused (over-deep) statement must not do.
struct Dismantle;

impl VisitorMut for Dismantle {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if !matches!(
            expr,
            Expr::BinaryOp { .. } | Expr::UnaryOp { .. } | Expr::Nested(_)
        ) {
            return ControlFlow::Continue(());
        }
        let mut stack = vec![std::mem::replace(expr, Expr::value(Value::Null))];
        while let Some(e) = stack.pop() {
            match e {
                Expr::BinaryOp { left, right, .. } => {
                    stack.push(*left);
                    stack.push(*right);
                }
                Expr::UnaryOp { expr, .. } | Expr::Nested(expr) => stack.push(*expr),
                // Other kinds nest only as deep as the parser's limit lets them; chains
                // inside them (function arguments, CASE branches) are taken out the same way.
                mut other => {
                    let _ = VisitMut::visit(&mut other, self);
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Frees `statement` without recursing once per term of its operator chains (see
/// [`Dismantle`]): for statements that may be deeper than the stack allows.
pub fn release(mut statement: Statement) {
    let mut v = Dismantle;
    match &mut statement {
        Statement::Statement(s) => {
            let _ = VisitMut::visit(&mut **s, &mut v);
        }
        Statement::CopyTo(c) => {
            if let CopyToSource::Query(q) = &mut c.source {
                let _ = VisitMut::visit(&mut **q, &mut v);
            }
        }
        Statement::Explain(e) => {
            let inner = std::mem::replace(
                &mut *e.statement,
                Statement::Reset(datafusion_sql::parser::ResetStatement::Variable(
                    ObjectName(vec![]),
                )),
            );
            release(inner);
        }
        Statement::CreateExternalTable(_) | Statement::Reset(_) => {}
    }
}

/// Refuses a statement whose expressions nest deeper than [`MAX_EXPR_DEPTH`], with an error
/// that names the limit and says how to stay under it.
pub fn check(statement: &Statement) -> Result<(), CellError> {
    measure(statement).map_err(|m| ErrorKind::StatementTooComplex.error(m))
}

fn measure(statement: &Statement) -> Result<(), String> {
    let mut v = Depth { current: 0 };
    let flow = match statement {
        Statement::Statement(s) => Visit::visit(&**s, &mut v),
        Statement::CopyTo(c) => match &c.source {
            CopyToSource::Query(q) => Visit::visit(&**q, &mut v),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        Statement::Explain(e) => return measure(&e.statement),
        Statement::CreateExternalTable(_) | Statement::Reset(_) => ControlFlow::Continue(()),
    };
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(format!(
            "the statement's expressions nest more than {MAX_EXPR_DEPTH} levels deep (a chain \
             like `a OR b OR …` or `x + y + …` counts one level per term), the most this kernel \
             plans; split the condition, use `col IN (v1, v2, …)` for a list of values, or \
             join with a table of the values"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_sql::parser::DFParser;

    fn parse(sql: &str) -> Statement {
        DFParser::parse_sql(sql).unwrap().pop_front().unwrap()
    }

    fn or_chain(n: usize) -> String {
        let terms: Vec<String> = (0..n).map(|i| format!("x = {i}")).collect();
        format!("SELECT * FROM t WHERE {}", terms.join(" OR "))
    }

    #[test]
    fn a_long_chain_is_released_on_a_small_stack() {
        let sql = format!("SELECT {}", vec!["1"; 300_000].join(" + "));
        // The default 2 MiB test thread would overflow dropping this recursively.
        std::thread::Builder::new()
            .stack_size(ENGINE_STACK_BYTES)
            .spawn(move || parse(&sql))
            .unwrap()
            .join()
            .map(|s| {
                std::thread::Builder::new()
                    .stack_size(2 << 20)
                    .spawn(move || release(s))
                    .unwrap()
                    .join()
                    .unwrap()
            })
            .unwrap();
    }

    #[test]
    fn chains_up_to_the_limit_pass() {
        check(&parse(&or_chain(1000))).unwrap();
        let sum = vec!["1"; MAX_EXPR_DEPTH / 2].join(" + ");
        check(&parse(&format!("SELECT {sum}"))).unwrap();
        // A wide list is not deep.
        let list: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
        check(&parse(&format!(
            "SELECT * FROM t WHERE x IN ({})",
            list.join(",")
        )))
        .unwrap();
    }

    #[test]
    fn deeper_chains_are_refused_naming_the_limit() {
        // Runs in a thread with the engine's stack: parsing and dropping such a tree recurse.
        std::thread::Builder::new()
            .stack_size(ENGINE_STACK_BYTES)
            .spawn(|| {
                for sql in [
                    or_chain(MAX_EXPR_DEPTH + 1),
                    format!("SELECT {}", vec!["1"; 50_000].join(" + ")),
                    format!(
                        "EXPLAIN SELECT * FROM t WHERE {}",
                        vec!["a AND b"; 30_000].join(" AND ")
                    ),
                    format!("COPY (SELECT {}) TO 'x.csv'", vec!["1"; 20_000].join(" * ")),
                ] {
                    let statement = parse(&sql);
                    let err = check(&statement).unwrap_err();
                    assert!(err.evalue.contains("10000 levels"), "{err}");
                    release(statement);
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }
}

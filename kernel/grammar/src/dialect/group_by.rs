//! `GROUP BY a, b WITH ROLLUP` / `WITH CUBE` (Spark's and MySQL's spelling): sqlparser reads
//! the modifier and DataFusion 53's planner drops it, so the query ran as a plain GROUP BY
//! and returned fewer rows without a word (worth reporting upstream). They are rewritten to
//! `GROUP BY ROLLUP(a, b)` / `CUBE(a, b)`, the same grouping sets; other modifiers are
//! refused.

use std::ops::ControlFlow;

use datafusion_sql::sqlparser::ast::{
    Expr, GroupByExpr, GroupByWithModifier, Query, SetExpr, VisitMut, VisitorMut,
};

/// Rewrites every `GROUP BY … WITH ROLLUP|CUBE` in `statement`; the error names a modifier
/// the kernel cannot run.
pub fn rewrite_modifiers<V: VisitMut>(statement: &mut V) -> Result<(), String> {
    match statement.visit(&mut Modifiers) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(why) => Err(why),
    }
}

struct Modifiers;

impl VisitorMut for Modifiers {
    type Break = String;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<String> {
        rewrite_body(&mut query.body)
    }
}

fn rewrite_body(body: &mut SetExpr) -> ControlFlow<String> {
    match body {
        SetExpr::Select(select) => rewrite(&mut select.group_by),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_body(left)?;
            rewrite_body(right)
        }
        // Nested queries are visited as queries of their own.
        _ => ControlFlow::Continue(()),
    }
}

fn rewrite(group_by: &mut GroupByExpr) -> ControlFlow<String> {
    match group_by {
        GroupByExpr::Expressions(exprs, modifiers) if !modifiers.is_empty() => {
            let sets = || exprs.iter().map(|e| vec![e.clone()]).collect::<Vec<_>>();
            let grouped = match modifiers.as_slice() {
                [GroupByWithModifier::Rollup] => Expr::Rollup(sets()),
                [GroupByWithModifier::Cube] => Expr::Cube(sets()),
                other => {
                    return ControlFlow::Break(format!(
                        "GROUP BY … WITH {} is not supported; write GROUP BY ROLLUP(…), CUBE(…) or GROUPING SETS (…)",
                        other
                            .iter()
                            .map(|m| m.to_string().trim_start_matches("WITH ").to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                }
            };
            *group_by = GroupByExpr::Expressions(vec![grouped], vec![]);
            ControlFlow::Continue(())
        }
        GroupByExpr::All(modifiers) if !modifiers.is_empty() => ControlFlow::Break(
            "GROUP BY ALL WITH … is not supported; name the columns: GROUP BY ROLLUP(a, b)".into(),
        ),
        _ => ControlFlow::Continue(()),
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite_modifiers;
    use datafusion_sql::sqlparser::dialect::GenericDialect;
    use datafusion_sql::sqlparser::parser::Parser;

    fn rewritten(sql: &str) -> Result<String, String> {
        let mut s = Parser::parse_sql(&GenericDialect {}, sql).unwrap();
        rewrite_modifiers(&mut s[0])?;
        Ok(s[0].to_string())
    }

    #[test]
    fn with_rollup_and_cube_become_grouping_sets() {
        assert_eq!(
            rewritten("SELECT a, b, sum(c) FROM t GROUP BY a, b WITH ROLLUP").unwrap(),
            "SELECT a, b, sum(c) FROM t GROUP BY ROLLUP (a, b)"
        );
        assert_eq!(
            rewritten("SELECT x FROM (SELECT a AS x FROM t GROUP BY a WITH CUBE) AS s").unwrap(),
            "SELECT x FROM (SELECT a AS x FROM t GROUP BY CUBE (a)) AS s"
        );
        assert_eq!(
            rewritten("SELECT a FROM t GROUP BY a").unwrap(),
            "SELECT a FROM t GROUP BY a"
        );
    }
}

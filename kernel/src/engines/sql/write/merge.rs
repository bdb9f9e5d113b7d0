//! `MERGE INTO t [AS a] USING source [AS s] ON condition WHEN …`: read from sqlparser's
//! statement into [`lakehouse::MergeSpec`] (the source planned as a query, the clauses as
//! their expressions) and run by [`lakehouse::merge`], copy-on-write, in one commit.
//!
//! `UPDATE SET *` and `INSERT *` (Spark's) are not sqlparser's grammar: [`spark_stars`]
//! spells them as sqlparser reads them before the statement is parsed.

use std::time::Instant;

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, Ident, MergeAction as SqlAction, MergeClauseKind, MergeInsertKind,
    ObjectName, Statement, TableFactor,
};
use tokio::sync::mpsc::UnboundedSender;

use super::super::split::Piece;
use super::super::{errors, params, Output, SqlEngine};
use super::create::id_name;
use super::{cell_error, plural, target};
use crate::error::{CellError, ErrorKind};
use crate::lakehouse::{self, MergeAction, MergeClause, MergeSpec, MergeWhen};

#[cfg(test)]
use lakehouse_grammar::write::spark_stars;
use lakehouse_grammar::write::SET_ALL;

fn not_supported(what: &str) -> CellError {
    CellError::new(ErrorKind::NotSupported, what.to_string())
}

/// The name of a column as the user wrote it (unquoted names fold to lower case, as
/// DataFusion folds them).
fn column_name(name: &ObjectName) -> String {
    let ident = name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .cloned()
        .unwrap_or_else(|| Ident::new(name.to_string()));
    id_name(&ident)
}

/// Runs a MERGE statement DataFusion's parser read.
pub(in crate::engines::sql) async fn merge(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    mut statement: DFStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
) -> Result<(), CellError> {
    if piece.text.contains('$') {
        params::inline_parameters(&mut statement, &engine.params);
    }
    let DFStatement::Statement(st) = statement else {
        return Err(not_supported("this is not a MERGE statement"));
    };
    let Statement::Merge(m) = *st else {
        return Err(not_supported("this is not a MERGE statement"));
    };
    if m.output.is_some() {
        return Err(not_supported(
            "MERGE … OUTPUT is not supported; query the table after the MERGE",
        ));
    }
    let TableFactor::Table { name, alias, .. } = &m.table else {
        return Err(not_supported(
            "MERGE INTO needs a table name as its target: MERGE INTO db.t [AS t] USING …",
        ));
    };
    let reference = datafusion::sql::planner::object_name_to_table_reference(name.clone(), true)
        .map_err(|e| errors::from_datafusion(e, cell, piece, &engine.catalog))?;
    if engine.is_session_object(&reference) {
        return Err(not_supported(&format!(
            "MERGE INTO {reference}: it is a view or an in-memory table; MERGE writes Iceberg tables"
        )));
    }
    let table = target(engine, &reference)?;
    let target_alias = match alias {
        Some(a) => id_name(&a.name),
        None => reference.table().to_string(),
    };

    // The source: a table or a query, planned as the session plans any query.
    let (source_sql, source_alias) = match m.source.clone() {
        TableFactor::Table { name, alias, .. } => {
            let source_alias = match &alias {
                Some(a) => id_name(&a.name),
                None => column_name(&name),
            };
            let mut bare = m.source.clone();
            if let TableFactor::Table { alias, .. } = &mut bare {
                *alias = None;
            }
            (format!("SELECT * FROM {bare}"), source_alias)
        }
        TableFactor::Derived {
            subquery,
            alias: Some(alias),
            ..
        } => (subquery.to_string(), id_name(&alias.name)),
        TableFactor::Derived { alias: None, .. } => {
            return Err(not_supported(
                "a MERGE source query needs a name: USING (SELECT …) AS s",
            ))
        }
        other => {
            return Err(not_supported(&format!(
                "MERGE … USING {other} is not supported; use a table or (SELECT …) AS s"
            )))
        }
    };
    if source_alias == target_alias {
        return Err(CellError::new(
            ErrorKind::Plan,
            format!(
                "the MERGE target and source are both named {target_alias}; give one an alias: MERGE INTO t AS t USING s AS s …"
            ),
        ));
    }
    let source_piece = Piece {
        text: source_sql,
        line: piece.line,
        column: piece.column,
    };
    let source_statement = engine.parse(cell, &source_piece)?;
    let source = engine
        .plan_parsed(cell, &source_piece, source_statement)
        .await?;
    if let Some(sandbox) = &engine.sandbox {
        sandbox.check(&source)?;
    }

    let mut clauses = vec![];
    for c in m.clauses {
        let when = match c.clause_kind {
            MergeClauseKind::Matched => MergeWhen::Matched,
            MergeClauseKind::NotMatched | MergeClauseKind::NotMatchedByTarget => {
                MergeWhen::NotMatched
            }
            MergeClauseKind::NotMatchedBySource => MergeWhen::NotMatchedBySource,
        };
        let action = match c.action {
            SqlAction::Delete { .. } => MergeAction::Delete,
            SqlAction::Update(u) => {
                if u.update_predicate.is_some() || u.delete_predicate.is_some() {
                    return Err(not_supported(
                        "UPDATE … WHERE / DELETE WHERE inside a MERGE clause is Oracle's; put the condition after WHEN MATCHED AND …",
                    ));
                }
                let star = matches!(u.assignments.as_slice(),
                    [a] if matches!(&a.target, AssignmentTarget::ColumnName(n) if column_name(n) == SET_ALL));
                if star {
                    MergeAction::UpdateAll
                } else {
                    let mut set = vec![];
                    for a in u.assignments {
                        let AssignmentTarget::ColumnName(n) = &a.target else {
                            return Err(not_supported(
                                "UPDATE SET (a, b) = … is not supported in MERGE; assign each column",
                            ));
                        };
                        set.push((column_name(n), a.value));
                    }
                    MergeAction::Update(set)
                }
            }
            SqlAction::Insert(i) => {
                if i.insert_predicate.is_some() {
                    return Err(not_supported(
                        "INSERT … WHERE inside a MERGE clause is Oracle's; put the condition after WHEN NOT MATCHED AND …",
                    ));
                }
                match i.kind {
                    MergeInsertKind::Row if i.columns.is_empty() => MergeAction::InsertAll,
                    MergeInsertKind::Row => {
                        return Err(not_supported(
                            "INSERT (c, …) ROW is not supported; write INSERT * or INSERT (c, …) VALUES (…)",
                        ))
                    }
                    MergeInsertKind::Values(_) if i.columns.is_empty() => {
                        return Err(not_supported(
                            "a MERGE INSERT needs its column list, as in Spark: INSERT (c, …) VALUES (…), or INSERT *",
                        ))
                    }
                    MergeInsertKind::Values(v) => {
                        let [row] = <[_; 1]>::try_from(v.rows).map_err(|_| {
                            not_supported("a MERGE INSERT takes one row of VALUES")
                        })?;
                        MergeAction::Insert {
                            columns: i.columns.iter().map(column_name).collect(),
                            values: row,
                        }
                    }
                }
            }
        };
        clauses.push(MergeClause {
            when,
            condition: c.predicate,
            action,
        });
    }
    // Spark's order rule: an unconditional clause must be the last of its kind.
    for (i, c) in clauses.iter().enumerate() {
        if c.condition.is_none() && clauses[i + 1..].iter().any(|l| l.when == c.when) {
            return Err(CellError::new(
                ErrorKind::Plan,
                format!(
                    "a {} clause without a condition must be the last {} clause; the ones after it would never apply",
                    c.when, c.when
                ),
            ));
        }
    }
    let spec = MergeSpec {
        source,
        target_alias,
        source_alias,
        on: *m.on,
        clauses,
    };
    let fail = |e| errors::from_datafusion(e, cell, piece, &engine.catalog);
    let done = lakehouse::merge(&table, &engine.ctx.state(), spec)
        .await
        .map_err(|e| cell_error(engine, &fail, e))?;
    let ms = started.elapsed().as_millis();
    let msg = if !done.committed {
        format!(
            "Merged into {}: no clause applied to any row ({ms} ms)",
            table.name
        )
    } else {
        format!(
            "Merged into {}: {} updated, {} deleted, {} inserted ({} rewritten) ({ms} ms)",
            table.name,
            plural(done.updated, "row"),
            plural(done.deleted, "row"),
            plural(done.inserted, "row"),
            plural(done.rewritten as u64, "data file"),
        )
    };
    let _ = out.send(Output::Message(msg));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::spark_stars;

    #[test]
    fn spark_stars_are_spelled_as_sqlparser_reads_them() {
        let sql = "MERGE INTO t USING s ON t.id = s.id AND t.v = 'it''s *'\n\
                   WHEN MATCHED THEN UPDATE SET *\nWHEN NOT MATCHED THEN INSERT *";
        assert_eq!(
            spark_stars(sql).unwrap(),
            "MERGE INTO t USING s ON t.id = s.id AND t.v = 'it''s *'\n\
             WHEN MATCHED THEN UPDATE SET __lakehouse_set_all = NULL\nWHEN NOT MATCHED THEN INSERT ROW"
        );
        // Multiplication, and statements other than MERGE, stay as written.
        assert_eq!(
            spark_stars("MERGE INTO t USING s ON t.a = s.b * 2 WHEN MATCHED THEN DELETE"),
            None
        );
        assert_eq!(spark_stars("SELECT * FROM t"), None);
    }
}

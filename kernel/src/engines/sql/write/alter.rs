//! ALTER TABLE (ADD / RENAME / DROP COLUMN, SET / UNSET TBLPROPERTIES) and DROP TABLE … PURGE: the statement is read
//! here, the change is made by [`crate::lakehouse`]'s operations.

use datafusion::common::TableReference;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{self as sql, AlterTableOperation, ObjectType};
use iceberg::arrow::arrow_type_to_type;
use iceberg::spec::Type;
use tokio::sync::mpsc::UnboundedSender;

use super::super::errors;
use super::super::split::Piece;
use super::super::{Output, SqlEngine};
use super::cell_error;
use super::create::id_name;
use super::target;
use crate::catalog;
use crate::error::{CellError, ErrorKind};
use crate::lakehouse::{self, AlterTable, Dropped};

pub(super) fn sql_statement(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
) -> Result<sql::Statement, CellError> {
    match engine.parse(cell, piece)? {
        DFStatement::Statement(s) => Ok(*s),
        _ => Err(CellError::new(ErrorKind::Syntax, "unexpected statement")),
    }
}

fn object_ref(name: &sql::ObjectName) -> TableReference {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p.as_ident() {
            Some(id) => id_name(id),
            None => p.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [t] => TableReference::bare(t.as_str()),
        [s, t] => TableReference::partial(s.as_str(), t.as_str()),
        [c, s, t] => TableReference::full(c.as_str(), s.as_str(), t.as_str()),
        _ => TableReference::bare(parts.join(".")),
    }
}

/// `DROP TABLE [IF EXISTS] t, … PURGE`.
pub(super) async fn drop_purge(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    out: &UnboundedSender<Output>,
) -> Result<(), CellError> {
    let fail = |e| errors::from_datafusion(e, cell, piece, &engine.catalog);
    let sql::Statement::Drop {
        object_type: ObjectType::Table,
        if_exists,
        names,
        ..
    } = sql_statement(engine, cell, piece)?
    else {
        return Err(CellError::new(
            ErrorKind::Syntax,
            "expected DROP TABLE t PURGE",
        ));
    };
    for n in &names {
        let target = target(engine, &object_ref(n))?;
        let dropped = lakehouse::drop_purge(&target, if_exists)
            .await
            .map_err(|e| cell_error(engine, &fail, e))?;
        let name = &target.name;
        let msg = match dropped {
            Dropped::Absent => format!("Table {name} does not exist"),
            Dropped::KeptFiles => format!(
                "Dropped table {name}; its files stay, since other Nessie references may use them (Nessie's garbage collection removes unreferenced files)"
            ),
            Dropped::Purged => {
                format!("Dropped table {name} and deleted its data and metadata files")
            }
            Dropped::PurgeRequested => {
                format!("Dropped table {name}; the REST catalog was asked to purge its files")
            }
        };
        let _ = out.send(Output::Message(msg));
    }
    engine.refresh_after_ddl().await;
    Ok(())
}

/// `ALTER TABLE t ADD COLUMN c TYPE / RENAME COLUMN a TO b / DROP COLUMN c, …`.
pub(super) async fn alter(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    out: &UnboundedSender<Output>,
) -> Result<(), CellError> {
    let fail = |e| errors::from_datafusion(e, cell, piece, &engine.catalog);
    let lake = |e| cell_error(engine, &fail, e);
    if let Some((name, keys)) = unset_tbl_properties(&piece.text)? {
        let target = target(engine, &object_ref(&name))?;
        let base = target.load().await.map_err(lake)?;
        let n = lakehouse::set_properties(&target, base, Default::default(), keys)
            .await
            .map_err(lake)?;
        engine.refresh_after_ddl().await;
        let _ = out.send(Output::Message(properties_changed(
            &target.name,
            "removed",
            n,
        )));
        return Ok(());
    }
    let sql::Statement::AlterTable(a) = sql_statement(engine, cell, piece)? else {
        return Err(CellError::new(ErrorKind::Syntax, "expected ALTER TABLE"));
    };
    let target = target(engine, &object_ref(&a.name))?;
    let name = target.name.clone();
    let base = target.load().await.map_err(lake)?;
    if let Some(set) = tbl_properties(&a.operations)? {
        let n = lakehouse::set_properties(&target, base, set, vec![])
            .await
            .map_err(lake)?;
        engine.refresh_after_ddl().await;
        let _ = out.send(Output::Message(properties_changed(&name, "set", n)));
        return Ok(());
    }
    let mut alter = AlterTable::new(&name, &base);
    for op in &a.operations {
        match op {
            AlterTableOperation::AddColumn {
                column_def,
                if_not_exists,
                ..
            } => {
                let col = id_name(&column_def.name);
                if !alter.can_add_column(&col, *if_not_exists).map_err(lake)? {
                    continue;
                }
                let ty = iceberg_type(engine, &column_def.data_type, &col).await?;
                alter
                    .add_column(col, ty, *if_not_exists)
                    .map_err(lake)?;
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for c in column_names {
                    alter.drop_column(id_name(c), *if_exists).map_err(lake)?;
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                alter
                    .rename_column(id_name(old_column_name), id_name(new_column_name))
                    .map_err(lake)?;
            }
            other => {
                return Err(CellError::new(
                    ErrorKind::NotSupported,
                    format!("ALTER TABLE … {other} is not supported; supported: ADD COLUMN c TYPE, RENAME COLUMN a TO b, DROP COLUMN c, SET TBLPROPERTIES ('k' = 'v'), UNSET TBLPROPERTIES ('k')"),
                ))
            }
        }
    }
    if alter.is_empty() {
        let _ = out.send(Output::Message(format!("Table {name} unchanged")));
        return Ok(());
    }
    let done = alter.commit(&target, base).await.map_err(lake)?;
    engine.refresh_after_ddl().await;
    let _ = out.send(Output::Message(if done.is_empty() {
        format!("Table {name} unchanged")
    } else {
        let done: Vec<String> = done.iter().map(ToString::to_string).collect();
        format!("Altered table {name}: {}", done.join(", "))
    }));
    Ok(())
}

/// The message of a SET or UNSET TBLPROPERTIES (`verb`: "set", "removed") that changed `n`
/// keys of `table`.
fn properties_changed(table: &str, verb: &str, n: usize) -> String {
    match n {
        0 => format!("Table {table} unchanged"),
        1 => format!("Altered table {table}: {verb} 1 table property"),
        n => format!("Altered table {table}: {verb} {n} table properties"),
    }
}

/// Spark's `ALTER TABLE t UNSET TBLPROPERTIES [IF EXISTS] ('k', …)`, which sqlparser 0.61 does
/// not parse: the table and the keys, or None for any other ALTER TABLE. A key the table lacks
/// is skipped (as Spark does for Iceberg tables).
fn unset_tbl_properties(text: &str) -> Result<Option<(sql::ObjectName, Vec<String>)>, CellError> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::parser::Parser;
    use datafusion::sql::sqlparser::tokenizer::Token;
    let syntax = |e: datafusion::sql::sqlparser::parser::ParserError| {
        CellError::new(
            ErrorKind::Syntax,
            format!("{e}; write ALTER TABLE t UNSET TBLPROPERTIES ('key', ...)"),
        )
    };
    let dialect = GenericDialect {};
    let Ok(mut p) = Parser::new(&dialect).try_with_sql(text) else {
        return Ok(None);
    };
    if !p.parse_keywords(&[Keyword::ALTER, Keyword::TABLE]) {
        return Ok(None);
    }
    let Ok(name) = p.parse_object_name(false) else {
        return Ok(None);
    };
    if !p.parse_keywords(&[Keyword::UNSET, Keyword::TBLPROPERTIES]) {
        return Ok(None);
    }
    let _ = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    p.expect_token(&Token::LParen).map_err(syntax)?;
    let keys = p
        .parse_comma_separated(|p| p.parse_literal_string())
        .map_err(syntax)?;
    p.expect_token(&Token::RParen).map_err(syntax)?;
    let _ = p.consume_token(&Token::SemiColon);
    if p.peek_token().token != Token::EOF {
        return Err(CellError::new(
            ErrorKind::Syntax,
            format!(
                "unexpected {} after UNSET TBLPROPERTIES (…)",
                p.peek_token().token
            ),
        ));
    }
    Ok(Some((name, keys)))
}

/// The properties of `SET TBLPROPERTIES ('k' = 'v', …)` when that is the statement's only
/// operation (Spark takes it alone too), as strings.
fn tbl_properties(
    ops: &[AlterTableOperation],
) -> Result<Option<std::collections::HashMap<String, String>>, CellError> {
    let [AlterTableOperation::SetTblProperties { table_properties }] = ops else {
        if ops
            .iter()
            .any(|o| matches!(o, AlterTableOperation::SetTblProperties { .. }))
        {
            return Err(CellError::new(
                ErrorKind::NotSupported,
                "SET TBLPROPERTIES cannot be combined with other changes in one ALTER TABLE; run it as a statement of its own",
            ));
        }
        return Ok(None);
    };
    let mut out = std::collections::HashMap::new();
    for o in table_properties {
        let sql::SqlOption::KeyValue { key, value } = o else {
            return Err(CellError::new(
                ErrorKind::Syntax,
                format!("SET TBLPROPERTIES takes 'key' = 'value' pairs, not {o}"),
            ));
        };
        let value = match value {
            sql::Expr::Value(v) => match &v.value {
                sql::Value::SingleQuotedString(s) | sql::Value::DoubleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            sql::Expr::Identifier(id) => id_name(id),
            other => other.to_string(),
        };
        out.insert(id_name(key), value);
    }
    Ok(Some(out))
}

/// The Iceberg type for a column type written in SQL, as DataFusion reads the type name.
async fn iceberg_type(engine: &SqlEngine, t: &sql::DataType, col: &str) -> Result<Type, CellError> {
    let bad = |m: String| CellError::new(ErrorKind::Type, format!("column '{col}': {m}"));
    let plan = engine
        .ctx
        .state()
        .create_logical_plan(&format!("SELECT CAST(NULL AS {t}) AS c"))
        .await
        .map_err(|e| bad(e.strip_backtrace()))?;
    let arrow = catalog::iceberg_compatible(plan.schema().as_arrow()).map_err(|e| bad(e.evalue))?;
    arrow_type_to_type(arrow.field(0).data_type()).map_err(|e| bad(e.message().to_string()))
}

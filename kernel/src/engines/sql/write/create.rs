//! CREATE [OR REPLACE] TABLE: the Spark clauses DataFusion's parser does not take
//! (`USING`, `PARTITIONED BY` with transforms, `TBLPROPERTIES`) are cut out of the statement
//! and read here, DataFusion plans the rest, and the table is created (or replaced) by
//! [`crate::lakehouse`]'s operations.

use std::collections::HashMap;
use std::time::Instant;

use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::sql::sqlparser::ast::{
    self as sql, FunctionArg, FunctionArgExpr, FunctionArguments,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan};
use iceberg::spec::{Schema, Transform, UnboundPartitionSpec};
use iceberg::TableIdent;
use tokio::sync::mpsc::UnboundedSender;

use super::super::errors;
use super::super::split::Piece;
use super::super::{Output, SqlEngine};
use super::{cell_error, keyword, plural, significant, target, Fail};
use crate::catalog;
use crate::error::{CellError, ErrorKind};
use crate::lakehouse::{self, CreateTable, LakehouseError, PartitionField, ReplaceTable, Replaced};

/// The Spark clauses of a CREATE TABLE, cut out of the statement (DataFusion's parser takes
/// `PARTITIONED BY` as Hive column definitions — `days(ts)` does not parse — and has no
/// `USING`), and what is left for DataFusion to plan.
#[derive(Debug, Default, PartialEq)]
pub(in crate::engines::sql) struct CreateClauses {
    pub(super) using: Option<String>,
    /// The items of `PARTITIONED BY (...)`, as written.
    pub(super) partitioned_by: Vec<String>,
    pub(super) properties: Vec<(String, String)>,
    /// The statement without those clauses.
    pub(super) rest: String,
}

/// Byte offset of a tokenizer location (1-based line and column, columns in characters).
fn byte_offset(text: &str, loc: Location) -> usize {
    let mut line = 1u64;
    let mut col = 1u64;
    for (i, ch) in text.char_indices() {
        if line == loc.line && col == loc.column {
            return i;
        }
        if ch == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    text.len()
}

pub(super) fn split_create(text: &str, tokens: &[TokenWithSpan]) -> Result<CreateClauses, String> {
    let sig: Vec<(usize, &TokenWithSpan)> = significant(tokens).collect();
    let start_of = |k: usize| -> usize {
        tokens
            .get(k)
            .map_or(text.len(), |t| byte_offset(text, t.span.start))
    };
    let mut clauses = CreateClauses::default();
    let mut cuts: Vec<(usize, usize)> = vec![];
    let mut depth = 0i32;
    let mut i = 0;
    while i < sig.len() {
        let (ti, t) = sig[i];
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        if depth != 0 {
            i += 1;
            continue;
        }
        match keyword(&t.token) {
            // The query of CREATE TABLE … AS starts here: no more clauses.
            Some(Keyword::AS) => break,
            Some(Keyword::USING) => {
                let Some((ni, n)) = sig.get(i + 1) else {
                    return Err("USING needs a format name: USING iceberg".into());
                };
                clauses.using = Some(match &n.token {
                    Token::Word(w) => w.value.clone(),
                    other => other.to_string(),
                });
                cuts.push((start_of(ti), start_of(ni + 1)));
                i += 2;
                continue;
            }
            Some(Keyword::PARTITIONED) | Some(Keyword::TBLPROPERTIES) => {
                let is_partition = keyword(&t.token) == Some(Keyword::PARTITIONED);
                let mut j = i + 1;
                if is_partition {
                    if sig.get(j).and_then(|(_, t)| keyword(&t.token)) != Some(Keyword::BY) {
                        return Err(
                            "PARTITIONED needs BY: PARTITIONED BY (col, days(ts), ...)".into()
                        );
                    }
                    j += 1;
                }
                if sig.get(j).map(|(_, t)| &t.token) != Some(&Token::LParen) {
                    return Err(if is_partition {
                        "PARTITIONED BY needs a list in parentheses: PARTITIONED BY (days(ts), bucket(16, id))".into()
                    } else {
                        "TBLPROPERTIES needs a list in parentheses: TBLPROPERTIES ('key' = 'value')"
                            .into()
                    });
                }
                let open = j;
                let mut d = 0;
                let mut close = None;
                for (k, (_, t)) in sig.iter().enumerate().skip(open) {
                    match t.token {
                        Token::LParen => d += 1,
                        Token::RParen => {
                            d -= 1;
                            if d == 0 {
                                close = Some(k);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some(close) = close else {
                    return Err("a parenthesis is not closed".into());
                };
                let inner = &sig[open + 1..close];
                if is_partition {
                    clauses.partitioned_by = split_items(text, inner, &start_of);
                } else {
                    clauses.properties = parse_properties(inner)?;
                }
                cuts.push((start_of(ti), start_of(sig[close].0 + 1)));
                i = close + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut rest = String::with_capacity(text.len());
    let mut at = 0;
    for (a, b) in cuts {
        rest.push_str(&text[at..a]);
        rest.push(' ');
        at = b;
    }
    rest.push_str(&text[at..]);
    clauses.rest = rest;
    Ok(clauses)
}

/// The comma-separated items of a parenthesised list, as written.
fn split_items(
    text: &str,
    inner: &[(usize, &TokenWithSpan)],
    start_of: &dyn Fn(usize) -> usize,
) -> Vec<String> {
    let mut items = vec![];
    let mut depth = 0;
    let mut first: Option<usize> = None;
    let mut last = 0;
    for (ti, t) in inner {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                if let Some(f) = first.take() {
                    items.push(text[start_of(f)..start_of(last + 1)].trim().to_string());
                }
                continue;
            }
            _ => {}
        }
        first.get_or_insert(*ti);
        last = *ti;
    }
    if let Some(f) = first {
        items.push(text[start_of(f)..start_of(last + 1)].trim().to_string());
    }
    items
}

fn parse_properties(inner: &[(usize, &TokenWithSpan)]) -> Result<Vec<(String, String)>, String> {
    let value = |t: &Token| -> Option<String> {
        match t {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s.clone()),
            Token::Word(w) => Some(w.value.clone()),
            Token::Number(n, _) => Some(n.clone()),
            _ => None,
        }
    };
    let bad = || {
        "TBLPROPERTIES takes 'key' = 'value' pairs separated by commas, e.g. \
         TBLPROPERTIES ('write.format.default' = 'parquet')"
            .to_string()
    };
    let mut out = vec![];
    for pair in inner.split(|(_, t)| t.token == Token::Comma) {
        match pair {
            [] => continue,
            [(_, k), (_, eq), (_, v)] if eq.token == Token::Eq => out.push((
                value(&k.token).ok_or_else(bad)?,
                value(&v.token).ok_or_else(bad)?,
            )),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

/// One `PARTITIONED BY` item: the column and the transform.
pub(super) fn partition_item(item: &str) -> Result<(String, Transform), String> {
    const SUPPORTED: &str = "col, years(col), months(col), days(col), hours(col), \
                             bucket(N, col), truncate(N, col)";
    let unsupported =
        |what: &str| format!("unsupported partition transform {what}; supported: {SUPPORTED}");
    let expr = Parser::new(&GenericDialect {})
        .try_with_sql(item)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| format!("cannot read partition item '{item}': {e}; supported: {SUPPORTED}"))?;
    let column_of = |e: &sql::Expr| -> Option<String> {
        match e {
            sql::Expr::Identifier(id) => Some(id_name(id)),
            sql::Expr::CompoundIdentifier(ids) => {
                Some(ids.iter().map(id_name).collect::<Vec<_>>().join("."))
            }
            _ => None,
        }
    };
    if let Some(c) = column_of(&expr) {
        return Ok((c, Transform::Identity));
    }
    let sql::Expr::Function(f) = &expr else {
        return Err(unsupported(&format!("'{item}'")));
    };
    let fname = f.name.to_string().to_ascii_lowercase();
    let args: Vec<&sql::Expr> = match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => vec![],
    };
    let number = |e: &sql::Expr| -> Option<u32> {
        match e {
            sql::Expr::Value(v) => match &v.value {
                sql::Value::Number(n, _) => n.parse().ok(),
                _ => None,
            },
            _ => None,
        }
    };
    let one_column = || -> Result<String, String> {
        match args.as_slice() {
            [c] => column_of(c).ok_or_else(|| format!("{fname}(...) takes a column: {fname}(ts)")),
            _ => Err(format!("{fname}(...) takes one column: {fname}(ts)")),
        }
    };
    let width_and_column = || -> Result<(u32, String), String> {
        let usage =
            format!("{fname}(N, col) takes a whole number and a column, e.g. {fname}(16, id)");
        match args.as_slice() {
            [a, b] => match (number(a), column_of(b), number(b), column_of(a)) {
                (Some(n), Some(c), _, _) | (_, _, Some(n), Some(c)) if n > 0 => Ok((n, c)),
                _ => Err(usage),
            },
            _ => Err(usage),
        }
    };
    Ok(match fname.as_str() {
        "years" | "year" => (one_column()?, Transform::Year),
        "months" | "month" => (one_column()?, Transform::Month),
        "days" | "day" | "date" => (one_column()?, Transform::Day),
        "hours" | "hour" => (one_column()?, Transform::Hour),
        "identity" => (one_column()?, Transform::Identity),
        "bucket" => {
            let (n, c) = width_and_column()?;
            (c, Transform::Bucket(n))
        }
        "truncate" => {
            let (n, c) = width_and_column()?;
            (c, Transform::Truncate(n))
        }
        other => return Err(unsupported(&format!("'{other}'"))),
    })
}

pub(super) fn id_name(id: &sql::Ident) -> String {
    // DataFusion folds unquoted names to lower case, as it does for the table's columns.
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_ascii_lowercase()
    }
}

pub(super) async fn create(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    tokens: &[TokenWithSpan],
    out: &UnboundedSender<Output>,
) -> Result<(), CellError> {
    let clauses = split_create(&piece.text, tokens).map_err(|m| {
        CellError::new(ErrorKind::Syntax, m).with_context(errors::statement_context(piece))
    })?;
    if let Some(u) = &clauses.using {
        if !u.eq_ignore_ascii_case("iceberg") {
            return Err(CellError::new(
                ErrorKind::NotSupported,
                format!("tables here are Iceberg tables: USING {u} is not supported; write USING iceberg or leave it out"),
            ));
        }
    }
    let stripped = Piece {
        text: clauses.rest.clone(),
        ..piece.clone()
    };
    let fail = |e| errors::from_datafusion(e, cell, &stripped, &engine.catalog);
    let mut statement = engine.parse(cell, &stripped)?;
    if stripped.text.contains('$') {
        super::super::params::inline_parameters(&mut statement, &engine.params);
    }
    engine.catalog.next_statement();
    engine
        .catalog
        .refresh()
        .await
        .map_err(|e| errors::catalog("cannot list the catalog", e))?;
    let state = engine.ctx.state();
    let plan = state.statement_to_plan(statement).await.map_err(fail)?;
    let plan = engine.bind_parameters(plan, cell, &stripped)?;
    let c = match plan {
        LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(c)) if !c.temporary => c,
        _ => {
            return Err(CellError::new(
                ErrorKind::NotSupported,
                "this CREATE TABLE form is not supported; write CREATE [OR REPLACE] TABLE t (...) or CREATE TABLE t AS SELECT ...",
            ))
        }
    };
    create_planned(engine, &c, &clauses, out, &fail).await
}

/// The partition fields of `items` (as written in `PARTITIONED BY`) and the spec they give
/// over `schema`. Items are read and checked against the schema in order, so the first bad
/// item is the one reported.
fn partition(
    schema: &Schema,
    items: &[String],
    table: &str,
) -> Result<(Vec<PartitionField>, Option<UnboundPartitionSpec>), LakehouseError> {
    let mut fields = vec![];
    let mut unreadable = None;
    for item in items {
        match partition_item(item) {
            Ok((column, transform)) => fields.push(PartitionField {
                column,
                transform,
                written: item.clone(),
            }),
            Err(m) => {
                unreadable = Some(m);
                break;
            }
        }
    }
    let spec = lakehouse::partition_spec(schema, &fields, table)?;
    match unreadable {
        Some(m) => Err(LakehouseError::Partition(m)),
        None => Ok((fields, spec)),
    }
}

/// Creates (or, with OR REPLACE, replaces) the Iceberg table of a planned CREATE TABLE,
/// with the Spark clauses `clauses` cut out of it, and writes the rows of its query if any.
pub(in crate::engines::sql) async fn create_planned(
    engine: &SqlEngine,
    c: &datafusion::logical_expr::CreateMemoryTable,
    clauses: &CreateClauses,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    let lake = |e| cell_error(engine, fail, e);
    let (schema, table) = engine.resolve(&c.name)?;
    let name = format!("{schema}.{table}");
    let arrow = c.input.schema().as_arrow().clone();
    let schema_ice = lakehouse::table_schema(&arrow, &name).map_err(lake)?;
    let (fields, spec) = partition(&schema_ice, &clauses.partitioned_by, &name).map_err(lake)?;
    let user_props: HashMap<String, String> = clauses.properties.iter().cloned().collect();
    let lineage = engine.commit_lineage();
    let cat = engine.write_catalog(&lineage);
    let ident = TableIdent::new(catalog::namespace(&schema), table.clone());
    let exists = lakehouse::table_exists(cat.as_ref(), &ident)
        .await
        .map_err(lake)?;
    let is_ctas = !matches!(c.input.as_ref(), LogicalPlan::EmptyRelation(_));
    if exists {
        if c.if_not_exists {
            let _ = out.send(Output::Message(format!("Table {name} already exists")));
            return Ok(());
        }
        if !c.or_replace {
            return Err(lake(LakehouseError::TableExists { table: name }));
        }
        let target = target(engine, &c.name)?;
        target
            .require_custom_commits("CREATE OR REPLACE TABLE")
            .map_err(lake)?;
        let started = Instant::now();
        let replace = ReplaceTable {
            schema: schema_ice,
            partition: fields,
            properties: user_props,
        };
        let query = is_ctas.then(|| c.input.as_ref().clone());
        let done = replace
            .run(&target, &engine.ctx.state(), query)
            .await
            .map_err(lake)?;
        let Replaced::Rows(rows) = done else {
            let _ = out.send(Output::Message(format!(
                "Replaced table {}: nothing changed",
                target.name
            )));
            return Ok(());
        };
        engine.refresh_after_ddl().await;
        let _ = out.send(Output::Message(format!(
            "Replaced table {} with {} (history kept) ({} ms)",
            target.name,
            plural(rows, "row"),
            started.elapsed().as_millis()
        )));
        return Ok(());
    }
    let create = CreateTable {
        ident,
        schema: schema_ice,
        partition_spec: spec,
        properties: user_props,
    };
    let partitioned = if clauses.partitioned_by.is_empty() {
        String::new()
    } else {
        format!(", partitioned by {}", clauses.partitioned_by.join(", "))
    };
    if !is_ctas {
        create.create(cat.as_ref()).await.map_err(lake)?;
        engine.refresh_after_ddl().await;
        let _ = out.send(Output::Message(format!(
            "Created table {name} ({}{partitioned})",
            plural(arrow.fields().len() as u64, "column")
        )));
        return Ok(());
    }
    // CREATE TABLE AS: if writing the rows fails, the new table goes again, so a failed
    // statement leaves nothing behind.
    let written = create
        .create_as(
            cat.as_ref(),
            &engine.ctx.state(),
            c.input.as_ref().clone(),
            &lineage.summary(),
        )
        .await;
    engine.refresh_after_ddl().await;
    let rows = written.map_err(lake)?;
    let _ = out.send(Output::Message(format!(
        "Created table {name} with {}{partitioned}",
        plural(rows, "row")
    )));
    Ok(())
}

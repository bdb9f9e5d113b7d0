//! MERGE INTO, copy-on-write, in two passes over the table's current snapshot:
//!
//! 1. The source is joined with the target's rows, each carrying its data file's index and
//!    its position in that file (a [`StreamingTable`], one partition per file, so nothing is
//!    held but the join's build side: the source). The clauses, in order, become one `CASE`
//!    that picks each joined row's action, and the rows that have one (and every matched row,
//!    to check that no target row is matched twice, as Spark refuses) are collected: the new
//!    values of updated rows, the positions of deleted ones, the rows to insert.
//! 2. The data files that hold an updated or deleted row are read again and written with the
//!    changes applied, as a stream (one partition per file), together with the inserted rows,
//!    and all of it is one overwrite commit that drops the rewritten files.
//!
//! Expressions are the user's SQL (`sqlparser`'s AST), planned against the join's schema with
//! the session's functions, so the dialect's functions and casts apply.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array, UInt64Array,
};
use datafusion::arrow::compute::{concat_batches, filter_record_batch, interleave};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type, UInt64Type};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::common::{Column, JoinType, TableReference};
use datafusion::datasource::{provider_as_source, MemTable, TableProvider};
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, SessionState, TaskContext};
use datafusion::logical_expr::{
    cast as cast_expr, col, lit, Expr, LogicalPlan, LogicalPlanBuilder,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::sql::sqlparser::ast::Expr as SqlExpr;
use datafusion::sql::sqlparser::ast::ExprWithAlias as SQLExprWithAlias;
use futures::TryStreamExt;
use iceberg::scan::FileScanTask;
use iceberg::table::Table;

use super::data_files::{conform, write_data_files};
use super::delete::candidate_files;
use super::snapshot::{Removal, SnapshotChange};
use super::{LakehouseError, Result, TableTarget};

/// Which rows a clause applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeWhen {
    /// `WHEN MATCHED`: a target row the `ON` condition pairs with a source row.
    Matched,
    /// `WHEN NOT MATCHED [BY TARGET]`: a source row no target row pairs with.
    NotMatched,
    /// `WHEN NOT MATCHED BY SOURCE`: a target row no source row pairs with.
    NotMatchedBySource,
}

impl fmt::Display for MergeWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MergeWhen::Matched => "WHEN MATCHED",
            MergeWhen::NotMatched => "WHEN NOT MATCHED",
            MergeWhen::NotMatchedBySource => "WHEN NOT MATCHED BY SOURCE",
        })
    }
}

/// What a clause does to its rows.
#[derive(Debug, Clone)]
pub enum MergeAction {
    /// `UPDATE SET c = value, …`: column names as the table has them.
    Update(Vec<(String, SqlExpr)>),
    /// `UPDATE SET *`: every column from the source column of the same name.
    UpdateAll,
    /// `DELETE`.
    Delete,
    /// `INSERT (c, …) VALUES (…)`: columns not named are NULL (Spark requires the list).
    Insert {
        columns: Vec<String>,
        values: Vec<SqlExpr>,
    },
    /// `INSERT *`: every column from the source column of the same name.
    InsertAll,
}

/// One `WHEN … [AND condition] THEN action` clause.
#[derive(Debug, Clone)]
pub struct MergeClause {
    pub when: MergeWhen,
    pub condition: Option<SqlExpr>,
    pub action: MergeAction,
}

/// A MERGE statement, its parts as the SQL front end read them.
#[derive(Debug, Clone)]
pub struct MergeSpec {
    /// The source's rows (a table or a query), not yet aliased.
    pub source: LogicalPlan,
    /// The names the `ON` condition and the clauses use for the two sides.
    pub target_alias: String,
    pub source_alias: String,
    pub on: SqlExpr,
    pub clauses: Vec<MergeClause>,
}

/// What a MERGE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Merged {
    pub updated: u64,
    pub deleted: u64,
    pub inserted: u64,
    /// Data files rewritten (dropped, their remaining rows written again).
    pub rewritten: usize,
    /// False when no clause applied to any row: nothing was committed.
    pub committed: bool,
}

const FILE: &str = "__lakehouse_merge_file";
const POS: &str = "__lakehouse_merge_pos";
const SOURCE_MARK: &str = "__lakehouse_merge_source";
const ACTION: &str = "__lakehouse_merge_action";
const MATCHED: &str = "__lakehouse_merge_matched";

/// Runs `spec` on `target`: one commit, or none when no clause applies to any row.
pub async fn merge(target: &TableTarget, state: &SessionState, spec: MergeSpec) -> Result<Merged> {
    target.require_custom_commits("MERGE INTO")?;
    let base = target.load().await?;
    let tasks = if base.metadata().current_snapshot().is_some() {
        candidate_files(&base, None).await?
    } else {
        vec![]
    };
    let table_schema: SchemaRef = Arc::new(
        iceberg::arrow::schema_to_arrow_schema(base.metadata().current_schema()).map_err(|e| {
            LakehouseError::iceberg(format!("cannot read {}", base.identifier()), e)
        })?,
    );

    // Pass 1: the join and each row's action.
    let files = FileRows::for_tasks(&base, &tasks, &table_schema);
    let plan = plan_actions(state, &spec, &table_schema, &files, &target.name)?;
    let physical = state.create_physical_plan(&plan).await?;
    let batches = datafusion::physical_plan::collect(physical, state.task_ctx()).await?;
    let found = if batches.is_empty() {
        RecordBatch::new_empty(plan_schema(&plan))
    } else {
        concat_batches(&batches[0].schema(), &batches).map_err(arrow)?
    };
    let mut actions = Actions::read(&found, &spec, &table_schema, &target.name)?;
    if actions.is_empty() {
        return Ok(Merged::default());
    }

    // Pass 2: the touched files rewritten, and the inserted rows.
    let mut partitions: Vec<Arc<dyn PartitionStream>> = vec![];
    let mut remove = HashSet::new();
    let mut touched: Vec<_> = std::mem::take(&mut actions.by_file).into_iter().collect();
    touched.sort_unstable_by_key(|(index, _)| *index);
    let rewritten = touched.len();
    for (index, changes) in touched {
        let file = &files[index as usize];
        remove.insert(file.task.data_file_path.clone());
        partitions.push(Arc::new(Rewrite {
            file: file.clone(),
            changes: Arc::new(changes),
            values: actions.values.clone(),
        }));
    }
    if actions.inserts.num_rows() > 0 {
        partitions.push(Arc::new(Rows {
            schema: table_schema.clone(),
            batch: actions.inserts.clone(),
        }));
    }
    let rows = StreamingTable::try_new(table_schema.clone(), partitions)?;
    let input = LogicalPlanBuilder::scan("merged_rows", provider_as_source(Arc::new(rows)), None)?
        .build()?;
    let added = write_data_files(state, &base, input).await?;
    let removal = if remove.is_empty() {
        Removal::Nothing
    } else {
        Removal::Paths(remove)
    };
    let change = SnapshotChange::rows(added, removal, target.summary.clone());
    // No retry: a row committed meanwhile might be matched (serializable, as DELETE).
    target
        .commit_change(base, None, change, vec![], false)
        .await?;
    Ok(Merged {
        updated: actions.updated,
        deleted: actions.deleted,
        inserted: actions.inserts.num_rows() as u64,
        rewritten,
        committed: true,
    })
}

fn arrow(e: datafusion::arrow::error::ArrowError) -> DataFusionError {
    DataFusionError::ArrowError(Box::new(e), None)
}

/// A NULL for a NOT NULL column, said as such.
fn not_null(e: datafusion::arrow::error::ArrowError, table: &str) -> LakehouseError {
    invalid(format!(
        "MERGE INTO {table} would write NULL into a NOT NULL column ({e}); give the column a value"
    ))
}

fn plan_schema(plan: &LogicalPlan) -> SchemaRef {
    Arc::new(plan.schema().as_arrow().clone())
}

fn invalid(message: String) -> LakehouseError {
    LakehouseError::DataFusion(DataFusionError::Plan(message))
}

/// The logical plan of pass 1: file, position, action, matched, then the table's columns as
/// the action leaves them (the new values of an update, the values of an insert).
fn plan_actions(
    state: &SessionState,
    spec: &MergeSpec,
    table_schema: &SchemaRef,
    files: &[FileRows],
    table: &str,
) -> Result<LogicalPlan> {
    let t = TableReference::bare(spec.target_alias.as_str());
    let s = TableReference::bare(spec.source_alias.as_str());
    let tcol = |name: &str| Expr::Column(Column::new(Some(t.clone()), name));
    let scol = |name: &str| Expr::Column(Column::new(Some(s.clone()), name));

    let mut stream_fields: Vec<Field> = table_schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    stream_fields.push(Field::new(FILE, DataType::UInt32, false));
    stream_fields.push(Field::new(POS, DataType::UInt64, false));
    let stream_schema = Arc::new(Schema::new(stream_fields));
    let provider: Arc<dyn TableProvider> = if files.is_empty() {
        Arc::new(MemTable::try_new(stream_schema.clone(), vec![vec![]])?)
    } else {
        let partitions = files
            .iter()
            .map(|f| {
                Arc::new(Positioned {
                    file: f.clone(),
                    schema: stream_schema.clone(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        Arc::new(StreamingTable::try_new(stream_schema, partitions)?)
    };
    let target_plan = LogicalPlanBuilder::scan("merge_target", provider_as_source(provider), None)?
        .alias(t.clone())?
        .build()?;

    let source = LogicalPlanBuilder::from(spec.source.clone());
    let mut exprs: Vec<Expr> = spec
        .source
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    if exprs
        .iter()
        .any(|e| matches!(e, Expr::Column(c) if c.name.starts_with("__lakehouse_merge")))
    {
        return Err(invalid(
            "the MERGE source has a column named __lakehouse_merge…; rename it".into(),
        ));
    }
    exprs.push(lit(true).alias(SOURCE_MARK));
    let source_plan = source.project(exprs)?.alias(s.clone())?.build()?;

    let has = |w: MergeWhen| spec.clauses.iter().any(|c| c.when == w);
    // The source is the join's left (build) side: it is usually the small one.
    let join_type = match (
        has(MergeWhen::NotMatched),
        has(MergeWhen::NotMatchedBySource),
    ) {
        (false, false) => JoinType::Inner,
        (true, false) => JoinType::Left,
        (false, true) => JoinType::Right,
        (true, true) => JoinType::Full,
    };
    let joined_schema = source_plan.schema().join(target_plan.schema())?;
    let sql = |e: &SqlExpr, what: &str| -> Result<Expr> {
        state
            .create_logical_expr_from_sql_expr(
                SQLExprWithAlias {
                    expr: e.clone(),
                    alias: None,
                },
                &joined_schema,
            )
            .map_err(|err| {
                invalid(format!(
                    "cannot plan the MERGE {what} {e}: {}",
                    err.strip_backtrace()
                ))
            })
    };
    let on = sql(&spec.on, "condition")?;
    let joined = LogicalPlanBuilder::from(source_plan)
        .join_on(target_plan, join_type, [on])?
        .build()?;

    let matched = tcol(FILE)
        .is_not_null()
        .and(scol(SOURCE_MARK).is_not_null());
    let kind = |w: MergeWhen| match w {
        MergeWhen::Matched => matched.clone(),
        MergeWhen::NotMatched => tcol(FILE).is_null(),
        MergeWhen::NotMatchedBySource => scol(SOURCE_MARK).is_null(),
    };
    if spec.clauses.is_empty() {
        return Err(invalid("MERGE needs at least one WHEN clause".into()));
    }
    let mut arms = vec![];
    for (i, clause) in spec.clauses.iter().enumerate() {
        let mut cond = kind(clause.when);
        if let Some(c) = &clause.condition {
            cond = cond.and(sql(c, &format!("{} condition", clause.when))?);
        }
        arms.push((cond, lit(i as i32)));
    }
    let action = case(arms, lit(datafusion::scalar::ScalarValue::Int32(None)));
    let mut with_action: Vec<Expr> = joined
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    with_action.push(action.alias(ACTION));
    let keep = if has(MergeWhen::Matched) {
        col(ACTION).is_not_null().or(matched.clone())
    } else {
        col(ACTION).is_not_null()
    };

    // The value of each table column after each clause.
    let names: Vec<&str> = table_schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let find = |name: &str, among: &[&str]| -> Option<usize> {
        among
            .iter()
            .position(|n| *n == name)
            .or_else(|| among.iter().position(|n| n.eq_ignore_ascii_case(name)))
    };
    let source_names: Vec<String> = spec
        .source
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let source_refs: Vec<&str> = source_names.iter().map(String::as_str).collect();
    let from_source = |name: &str, what: &str| -> Result<Expr> {
        match find(name, &source_refs) {
            Some(i) => Ok(scol(source_refs[i])),
            None => Err(invalid(format!(
                "{what} needs a source column named {name}, as the target has; the source has {}",
                source_refs.join(", ")
            ))),
        }
    };
    let mut per_column: Vec<Vec<Option<Expr>>> = vec![vec![]; names.len()];
    for clause in &spec.clauses {
        let mut values: Vec<Option<Expr>> = vec![None; names.len()];
        match &clause.action {
            MergeAction::Delete => {}
            MergeAction::Update(assignments) => {
                for (k, name) in names.iter().enumerate() {
                    values[k] = Some(tcol(name));
                }
                for (name, value) in assignments {
                    let Some(k) = find(name, &names) else {
                        return Err(LakehouseError::ColumnNotFound {
                            table: table.to_string(),
                            column: name.clone(),
                            columns: names.join(", "),
                        });
                    };
                    values[k] = Some(sql(value, "value")?);
                }
            }
            MergeAction::UpdateAll => {
                for (k, name) in names.iter().enumerate() {
                    values[k] = Some(from_source(name, "UPDATE SET *")?);
                }
            }
            MergeAction::InsertAll => {
                for (k, name) in names.iter().enumerate() {
                    values[k] = Some(from_source(name, "INSERT *")?);
                }
            }
            MergeAction::Insert { columns, values: v } => {
                if columns.len() != v.len() {
                    return Err(invalid(format!(
                        "the MERGE INSERT names {} columns but gives {} values",
                        columns.len(),
                        v.len()
                    )));
                }
                for (name, e) in columns.iter().zip(v) {
                    let Some(k) = find(name, &names) else {
                        return Err(LakehouseError::ColumnNotFound {
                            table: table.to_string(),
                            column: name.clone(),
                            columns: names.join(", "),
                        });
                    };
                    values[k] = Some(sql(e, "value")?);
                }
            }
        }
        for (k, v) in values.into_iter().enumerate() {
            per_column[k].push(v);
        }
    }
    let mut out = vec![
        tcol(FILE).alias(FILE),
        tcol(POS).alias(POS),
        col(ACTION),
        matched.alias(MATCHED),
    ];
    for (k, field) in table_schema.fields().iter().enumerate() {
        let typed = |e: Expr| cast_expr(e, field.data_type().clone());
        let arms = per_column[k]
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((col(ACTION).eq(lit(i as i32)), typed(v.clone()?))))
            .collect();
        let value = case(arms, typed(lit(datafusion::scalar::ScalarValue::Null)));
        out.push(value.alias(field.name()));
    }
    Ok(LogicalPlanBuilder::from(joined)
        .project(with_action)?
        .filter(keep)?
        .project(out)?
        .build()?)
}

/// `CASE WHEN c THEN v … ELSE otherwise END`; `otherwise` alone without arms.
fn case(arms: Vec<(Expr, Expr)>, otherwise: Expr) -> Expr {
    if arms.is_empty() {
        return otherwise;
    }
    let arms = arms
        .into_iter()
        .map(|(c, v)| (Box::new(c), Box::new(v)))
        .collect();
    Expr::Case(datafusion::logical_expr::Case::new(
        None,
        arms,
        Some(Box::new(otherwise)),
    ))
}

/// What pass 1 found.
struct Actions {
    /// File index → (position → row of `values` with the new row, or None to delete).
    by_file: HashMap<u32, HashMap<u64, Option<u32>>>,
    /// The new rows of updated rows, in the table's schema.
    values: RecordBatch,
    inserts: RecordBatch,
    updated: u64,
    deleted: u64,
}

impl Actions {
    fn is_empty(&self) -> bool {
        self.by_file.is_empty() && self.inserts.num_rows() == 0
    }

    /// Reads pass 1's rows (see [`plan_actions`]); refuses a target row matched twice.
    fn read(
        found: &RecordBatch,
        spec: &MergeSpec,
        table_schema: &SchemaRef,
        table: &str,
    ) -> Result<Actions> {
        let file = found.column(0).as_primitive::<UInt32Type>();
        let pos = found.column(1).as_primitive::<UInt64Type>();
        let action = found
            .column(2)
            .as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        let matched = found.column(3).as_boolean();
        let columns: Vec<ArrayRef> = found.columns()[4..].to_vec();
        // Rows that are deleted or not acted on have no values: every column may be NULL
        // here; the table's NOT NULL columns are checked on the rows that are written.
        let nullable = Arc::new(Schema::new(
            table_schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        let values = RecordBatch::try_new(nullable, columns).map_err(arrow)?;
        let check = spec.clauses.iter().any(|c| c.when == MergeWhen::Matched);
        let mut seen: HashSet<(u32, u64)> = HashSet::new();
        let mut by_file: HashMap<u32, HashMap<u64, Option<u32>>> = HashMap::new();
        let mut insert_rows: Vec<bool> = Vec::with_capacity(found.num_rows());
        let (mut updated, mut deleted) = (0u64, 0u64);
        for row in 0..found.num_rows() {
            insert_rows.push(false);
            let in_target = file.is_valid(row);
            if check && matched.is_valid(row) && matched.value(row) {
                let key = (file.value(row), pos.value(row));
                if !seen.insert(key) {
                    return Err(LakehouseError::MergeCardinality {
                        table: table.to_string(),
                    });
                }
            }
            if !action.is_valid(row) {
                continue;
            }
            let clause = &spec.clauses[action.value(row) as usize];
            match (&clause.action, in_target) {
                (MergeAction::Delete, true) => {
                    by_file
                        .entry(file.value(row))
                        .or_default()
                        .insert(pos.value(row), None);
                    deleted += 1;
                }
                (MergeAction::Update(_) | MergeAction::UpdateAll, true) => {
                    by_file
                        .entry(file.value(row))
                        .or_default()
                        .insert(pos.value(row), Some(row as u32));
                    updated += 1;
                }
                (MergeAction::Insert { .. } | MergeAction::InsertAll, false) => {
                    *insert_rows.last_mut().expect("pushed above") = true;
                }
                // The plan gives each clause only rows of its own kind.
                _ => {}
            }
        }
        let inserts =
            filter_record_batch(&values, &BooleanArray::from(insert_rows)).map_err(arrow)?;
        let inserts = RecordBatch::try_new(table_schema.clone(), inserts.columns().to_vec())
            .map_err(|e| not_null(e, table))?;
        Ok(Actions {
            by_file,
            values,
            inserts,
            updated,
            deleted,
        })
    }
}

/// One data file of the target's snapshot: its scan task, its index in the MERGE, and the
/// number of rows pass 1 read from it (pass 2 must read as many).
#[derive(Debug, Clone)]
struct FileRows {
    table: Table,
    task: FileScanTask,
    index: u32,
    table_schema: SchemaRef,
    rows: Arc<AtomicU64>,
}

impl FileRows {
    fn for_tasks(base: &Table, tasks: &[FileScanTask], schema: &SchemaRef) -> Vec<FileRows> {
        tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut task = t.clone();
                // Every row, in the file's order, in both passes.
                task.predicate = None;
                FileRows {
                    table: base.clone(),
                    task,
                    index: i as u32,
                    table_schema: schema.clone(),
                    rows: Arc::new(AtomicU64::new(0)),
                }
            })
            .collect()
    }

    /// The file's rows in the table's schema, in order.
    fn read(&self) -> impl futures::Stream<Item = datafusion::error::Result<RecordBatch>> {
        let table = self.table.clone();
        let task = self.task.clone();
        let schema = self.table_schema.clone();
        let what = format!("cannot read {}", task.data_file_path);
        let ice =
            move |e: iceberg::Error| DataFusionError::External(Box::new(e)).context(what.clone());
        let ice2 = ice.clone();
        futures::stream::once(async move {
            table
                .reader_builder()
                .build()
                .read(Box::pin(futures::stream::iter([Ok(task)])))
                .map(|s| s.stream().map_err(ice2))
                .map_err(ice)
        })
        .try_flatten()
        .and_then(move |batch| {
            let schema = schema.clone();
            async move { conform(&batch, &schema).map_err(arrow) }
        })
    }
}

/// Pass 1's partition for one file: its rows with the file's index and each row's position.
#[derive(Debug)]
struct Positioned {
    file: FileRows,
    schema: SchemaRef,
}

impl PartitionStream for Positioned {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = self.schema.clone();
        let index = self.file.index;
        let counter = self.file.rows.clone();
        let mut next = 0u64;
        let stream = self.file.read().and_then(move |batch| {
            let n = batch.num_rows();
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(UInt32Array::from(vec![index; n])));
            columns.push(Arc::new(UInt64Array::from_iter_values(
                next..next + n as u64,
            )));
            next += n as u64;
            counter.store(next, Ordering::Relaxed);
            let out = RecordBatch::try_new(schema.clone(), columns).map_err(arrow);
            async move { out }
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// Pass 2's partition for one touched file: its rows with the updates and deletes applied.
#[derive(Debug)]
struct Rewrite {
    file: FileRows,
    /// Position → row of `values` with the new row, or None to delete.
    changes: Arc<HashMap<u64, Option<u32>>>,
    values: RecordBatch,
}

impl PartitionStream for Rewrite {
    fn schema(&self) -> &SchemaRef {
        &self.file.table_schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = self.file.table_schema.clone();
        let changes = self.changes.clone();
        let values = self.values.clone();
        let expected = self.file.rows.load(Ordering::Relaxed);
        let path = self.file.task.data_file_path.clone();
        let mut next = 0u64;
        let rows = self.file.read().and_then(move |batch| {
            let start = next;
            next += batch.num_rows() as u64;
            let out = if next > expected {
                Err(DataFusionError::Execution(format!(
                    "{path} has more rows than when MERGE matched it; run the MERGE again"
                )))
            } else {
                apply(&batch, start, &changes, &values)
            };
            async move { out }
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, rows))
    }
}

/// The rows of `batch` (positions from `start`) with `changes` applied.
fn apply(
    batch: &RecordBatch,
    start: u64,
    changes: &HashMap<u64, Option<u32>>,
    values: &RecordBatch,
) -> datafusion::error::Result<RecordBatch> {
    let mut indices: Vec<(usize, usize)> = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        match changes.get(&(start + i as u64)) {
            None => indices.push((0, i)),
            Some(None) => {}
            Some(Some(row)) => indices.push((1, *row as usize)),
        }
    }
    if indices.is_empty() {
        return Ok(RecordBatch::new_empty(batch.schema()));
    }
    let columns = (0..batch.num_columns())
        .map(|k| {
            let sources: [&dyn Array; 2] = [batch.column(k).as_ref(), values.column(k).as_ref()];
            interleave(&sources, &indices).map_err(arrow)
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    RecordBatch::try_new(batch.schema(), columns).map_err(arrow)
}

/// The inserted rows, as one partition.
#[derive(Debug)]
struct Rows {
    schema: SchemaRef,
    batch: RecordBatch,
}

impl PartitionStream for Rows {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batch = self.batch.clone();
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter([Ok(batch)]),
        ))
    }
}

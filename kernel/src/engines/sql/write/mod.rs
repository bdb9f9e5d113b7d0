//! The write path the kernel runs itself, beyond iceberg-datafusion's append-only INSERT:
//!
//! * `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t (...) [USING iceberg]
//!   [PARTITIONED BY (days(ts), bucket(16, id), truncate(4, s), col, ...)]
//!   [TBLPROPERTIES ('k'='v', ...)] [AS SELECT ...]`
//! * `INSERT OVERWRITE [TABLE] t SELECT ...` (dynamic partition overwrite; full overwrite when
//!   unpartitioned)
//! * `DELETE FROM t [WHERE ...]` (whole files dropped, partly matching files rewritten)
//! * `DROP TABLE [IF EXISTS] t PURGE`, `ALTER TABLE t ADD COLUMN / RENAME COLUMN / DROP COLUMN`
//! * a type check on `INSERT INTO` (a string into a numeric column is refused, as Spark's
//!   ANSI store assignment does, instead of failing or converting row by row).
//!
//! New data files are written by iceberg-datafusion's own writer (its INSERT plan, up to the
//! commit node), so partitioned tables and every transform work as they do for INSERT INTO;
//! the snapshot and its commit are built by [`crate::catalog::commit`]. Each statement is one
//! Iceberg commit: a failing statement leaves the table as it was.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::CatalogProvider;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, TableReference};
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{
    DdlStatement, DmlStatement, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, WriteOp,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    self as sql, AlterTableOperation, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectType,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};
use futures::TryStreamExt;
use iceberg::arrow::{arrow_schema_to_schema_auto_assign_ids, arrow_type_to_type};
use iceberg::spec::{
    deserialize_data_file_from_json, DataFile, ListType, MapType, NestedField, NestedFieldRef,
    Operation, PartitionSpec, Schema, StructType, Transform, Type, UnboundPartitionField,
    UnboundPartitionSpec,
};
use iceberg::table::Table;
use iceberg::transaction::{AddColumn, ApplyTransactionAction, Transaction};
use iceberg::{
    Catalog, Error, ErrorKind, Namespace, NamespaceIdent, Result as IceResult, TableCommit,
    TableCreation, TableIdent, TableUpdate,
};
use iceberg_datafusion::IcebergCatalogProvider;
use tokio::sync::mpsc::UnboundedSender;

use super::errors::{self, CellError};
use super::split::Piece;
use super::{Output, SqlEngine};
use crate::catalog;
use crate::catalog::commit::{self, CommitTarget, Removal, SnapshotChange, StagedCommit};
use crate::catalog::versioned::TableSpec;
use crate::lineage::CommitLineage;

/// The Nessie commit extras (author, properties) for `lineage`.
pub(super) fn nessie_extra(lineage: &CommitLineage) -> lakehouse_nessie::CommitExtra {
    lakehouse_nessie::CommitExtra {
        author: lineage.author.clone(),
        properties: lineage
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// Turns a DataFusion error into the cell's error (statement context and all).
type Fail<'a> = &'a (dyn Fn(DataFusionError) -> CellError + Sync);

/// Table properties every new table gets (see `create_table`).
fn default_properties() -> HashMap<String, String> {
    // Notebooks of a team append to shared tables at the same time; Iceberg's default of
    // 4 commit retries gives up too early under that contention (Java reads the same key).
    HashMap::from([("commit.retry.num-retries".to_string(), "10".to_string())])
}

// --- the hooks SqlEngine::execute_piece calls -----------------------------------------------

/// Statements recognised from their first words, before DataFusion parses them (their Spark
/// clauses do not parse, or DataFusion cannot plan them).
enum Early {
    Create,
    Alter,
    DropPurge,
}

/// Runs `CREATE TABLE …`, `ALTER TABLE …` and `DROP TABLE … PURGE`; `None` for any other
/// statement (DataFusion's path runs it).
pub(super) async fn run_early(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    out: &UnboundedSender<Output>,
) -> Option<Result<(), CellError>> {
    let tokens = Tokenizer::new(&GenericDialect {}, &piece.text)
        .tokenize_with_location()
        .ok()?;
    let kind = classify(&tokens)?;
    Some(match kind {
        Early::Create => create(engine, cell, piece, &tokens, out).await,
        Early::Alter => alter(engine, cell, piece, out).await,
        Early::DropPurge => drop_purge(engine, cell, piece, out).await,
    })
}

fn significant(tokens: &[TokenWithSpan]) -> impl Iterator<Item = (usize, &TokenWithSpan)> {
    tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.token, Token::Whitespace(_)))
}

fn keyword(t: &Token) -> Option<Keyword> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    }
}

fn classify(tokens: &[TokenWithSpan]) -> Option<Early> {
    let words: Vec<Option<Keyword>> = significant(tokens)
        .take(4)
        .map(|(_, t)| keyword(&t.token))
        .collect();
    use Keyword as K;
    match words.as_slice() {
        [Some(K::CREATE), Some(K::TABLE), ..]
        | [Some(K::CREATE), Some(K::OR), Some(K::REPLACE), Some(K::TABLE)] => Some(Early::Create),
        [Some(K::ALTER), Some(K::TABLE), ..] => Some(Early::Alter),
        [Some(K::DROP), Some(K::TABLE), ..] => {
            let last = significant(tokens)
                .filter(|(_, t)| t.token != Token::SemiColon)
                .last()
                .map(|(_, t)| keyword(&t.token));
            (last == Some(Some(K::PURGE))).then_some(Early::DropPurge)
        }
        _ => None,
    }
}

/// True for the DML statements [`run_dml`] runs (INSERT OVERWRITE and DELETE on Iceberg
/// tables).
pub(super) fn is_ours(engine: &SqlEngine, dml: &DmlStatement) -> bool {
    matches!(
        dml.op,
        WriteOp::Insert(InsertOp::Overwrite | InsertOp::Append) | WriteOp::Delete
    ) && !engine.is_session_object(&dml.table_name)
}

/// Runs INSERT OVERWRITE or DELETE (see [`is_ours`]).
pub(super) async fn run_dml(
    engine: &SqlEngine,
    dml: DmlStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    let target = WriteTarget::resolve(engine, &dml.table_name)?;
    match dml.op {
        WriteOp::Delete => delete(engine, &target, &dml, started, out, fail).await,
        WriteOp::Insert(InsertOp::Append) => {
            append(engine, &target, &dml, started, out, fail).await
        }
        _ => overwrite(engine, &target, &dml, started, out, fail).await,
    }
}

/// Refuses an INSERT that would store a string in a numeric or boolean column: DataFusion
/// would cast it (failing on the first bad row, or silently converting '12'), Spark refuses
/// it at analysis. The message names the column and both types.
pub(super) fn check_insert_types(dml: &DmlStatement) -> Result<(), CellError> {
    if !matches!(dml.op, WriteOp::Insert(_)) {
        return Ok(());
    }
    let LogicalPlan::Projection(p) = dml.input.as_ref() else {
        return Ok(());
    };
    // `VALUES` rows get the casts inside the Values node (DataFusion types them by the
    // table's columns); a query gets them in the projection.
    let values = match p.input.as_ref() {
        LogicalPlan::Values(v) => Some(v),
        _ => None,
    };
    for (i, (expr, field)) in p.expr.iter().zip(p.schema.fields()).enumerate() {
        let mut found = string_cast(expr, p.input.schema().as_ref());
        if found.is_none() {
            if let (Some(v), Expr::Column(_)) = (values, strip_alias(expr)) {
                found = v
                    .values
                    .iter()
                    .filter_map(|row| row.get(i))
                    .find_map(|e| string_cast(e, &DFSchema::empty()));
            }
        }
        if let Some((from, to)) = found {
            return Err(CellError::new(
                "TypeError",
                format!(
                    "cannot insert into {}: column '{}' is {} but the value is {}; \
                     write a {} value or convert it with CAST(... AS {})",
                    display(&dml.table_name),
                    field.name(),
                    sql_type(&to),
                    sql_type(&from),
                    sql_type(&to),
                    sql_type(&to)
                ),
            ));
        }
    }
    Ok(())
}

fn strip_alias(e: &Expr) -> &Expr {
    match e {
        Expr::Alias(a) => strip_alias(&a.expr),
        e => e,
    }
}

/// `(from, to)` when `e` casts a string to a number or boolean.
fn string_cast(e: &Expr, schema: &DFSchema) -> Option<(DataType, DataType)> {
    let (source, to) = match strip_alias(e) {
        Expr::Cast(c) => (c.expr.as_ref(), &c.data_type),
        Expr::TryCast(c) => (c.expr.as_ref(), &c.data_type),
        _ => return None,
    };
    let from = source.get_type(schema).ok()?;
    let is_string = matches!(
        from,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
    );
    (is_string && (to.is_numeric() || matches!(to, DataType::Boolean))).then(|| (from, to.clone()))
}

/// A SQL name for an Arrow type, as users write it in DDL.
fn sql_type(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "STRING".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        other => other.to_string(),
    }
}

fn display(r: &TableReference) -> String {
    super::display_name(&r.to_string())
}

// --- where a statement writes ----------------------------------------------------------------

/// The table a statement writes, the catalog it is read from, and where its commit goes.
struct WriteTarget {
    /// `schema.table` as the user wrote it (with `@ref`).
    name: String,
    ident: TableIdent,
    catalog: Arc<dyn Catalog>,
    commit: CommitTarget,
    /// Who, which notebook and cell: the snapshot summary keys (and, on Nessie, the
    /// commit's author and properties, through `catalog`).
    lineage: CommitLineage,
}

impl WriteTarget {
    fn resolve(engine: &SqlEngine, r: &TableReference) -> Result<WriteTarget, CellError> {
        let (schema, table) = engine.resolve(r)?;
        let spec = TableSpec::parse(&table).map_err(|m| CellError::new("SyntaxError", m))?;
        let name = format!("{schema}.{}", spec.display());
        if spec.metadata.is_some() || spec.snapshot.is_some() || spec.point.is_some() {
            return Err(CellError::new(
                "ReadOnlyTable",
                format!(
                    "{name} is read-only (a metadata table or a past version); write to {schema}.{}",
                    spec.table
                ),
            ));
        }
        let ident = TableIdent::new(catalog::namespace(&schema), spec.table.clone());
        let lineage = engine.commit_lineage();
        use crate::config::CatalogKind;
        let (catalog, commit) = match &engine.settings.catalog {
            CatalogKind::Embedded => {
                if spec.reference.is_some() {
                    return Err(CellError::new(
                        "CatalogError",
                        format!("{name}: table names with @branch need the Nessie catalog (set NESSIE_URI)"),
                    ));
                }
                let db_uri = catalog::embedded_db_uri(&engine.settings);
                (engine.catalog.iceberg(), CommitTarget::Embedded { db_uri })
            }
            CatalogKind::Nessie { .. } => {
                let nessie = engine.catalog.nessie().ok_or_else(|| {
                    CellError::new("CatalogError", "the Nessie catalog is not open")
                })?;
                let nessie = match &spec.reference {
                    Some(r) => nessie.with_reference(r, None),
                    None => nessie,
                }
                .with_commit_extra(nessie_extra(&lineage));
                (
                    Arc::new(nessie.clone()) as Arc<dyn Catalog>,
                    CommitTarget::Nessie(nessie),
                )
            }
            CatalogKind::Rest(_) => {
                if spec.reference.is_some() {
                    return Err(CellError::new(
                        "CatalogError",
                        format!("{name}: table names with @branch need the Nessie catalog"),
                    ));
                }
                (engine.catalog.iceberg(), CommitTarget::Rest)
            }
        };
        Ok(WriteTarget {
            name,
            ident,
            catalog,
            commit,
            lineage,
        })
    }

    /// Fails before anything is written when the catalog cannot take our commits.
    fn require_custom_commits(&self, what: &str) -> Result<(), CellError> {
        if matches!(self.commit, CommitTarget::Rest) {
            return Err(CellError::new(
                "NotSupported",
                format!(
                    "{what} on {} is not supported on the Iceberg REST catalog yet: iceberg-rust 0.10's \
                     REST client can only append. Use INSERT INTO, or the embedded or Nessie catalog",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    async fn load(&self, engine: &SqlEngine) -> Result<Table, CellError> {
        match self.catalog.load_table(&self.ident).await {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == ErrorKind::TableNotFound => {
                Err(errors::unknown_table(&self.name, &engine.catalog.listing()))
            }
            Err(e) => Err(errors::catalog(
                &format!("cannot load table {}", self.name),
                e,
            )),
        }
    }

    async fn commit(&self, base: &Table, staged: StagedCommit) -> Result<(), CellError> {
        self.commit_raw(base, staged)
            .await
            .map_err(|f| commit_error(&self.name, f))
    }

    async fn commit_raw(
        &self,
        base: &Table,
        staged: StagedCommit,
    ) -> Result<(), commit::CommitFailure> {
        commit::commit(&self.commit, self.catalog.as_ref(), base, staged).await
    }
}

/// Stages `change` on `base` (after the `pre` updates; `staged_table` is the metadata the new
/// files were written for, `base` itself when `None`) and commits it. With `retry_appends`, a
/// conflict caused only by appends whose files the change does not drop is retried on the
/// new table state (up to 3 attempts), so INSERT INTOs into other partitions do not fail a
/// dynamic overwrite. On failure the new data files are deleted (unless the outcome is
/// unknown). Returns the data files and rows the new snapshot dropped.
async fn commit_change(
    target: &WriteTarget,
    base: Table,
    staged_table: Option<Table>,
    change: SnapshotChange,
    pre: Vec<TableUpdate>,
    retry_appends: bool,
) -> Result<(usize, u64), CellError> {
    const ATTEMPTS: usize = 3;
    let data: Vec<String> = change
        .added
        .iter()
        .map(|f| f.file_path().to_string())
        .collect();
    let file_io = base.file_io().clone();
    let mut base = base;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let on = staged_table.clone().unwrap_or_else(|| base.clone());
        let staged = match commit::stage_snapshot(&base, &on, change.clone(), pre.clone()).await {
            Ok(s) => s,
            Err(e) => {
                commit::delete_quietly(&file_io, &data).await;
                return Err(errors::catalog(
                    &format!("cannot write to {}", target.name),
                    e,
                ));
            }
        };
        let counts = (staged.removed_files, staged.removed_rows);
        let failure = match target.commit_raw(&base, staged).await {
            Ok(()) => return Ok(counts),
            Err(f) => f,
        };
        let conflict =
            !failure.state_unknown && failure.error.kind() == ErrorKind::CatalogCommitConflicts;
        if retry_appends && conflict && attempt < ATTEMPTS {
            if let Ok(fresh) = target.catalog.load_table(&target.ident).await {
                if commit::only_disjoint_appends(&base, &fresh, &change.removal).await {
                    base = fresh;
                    continue;
                }
            }
        }
        if !failure.state_unknown {
            commit::delete_quietly(&file_io, &data).await;
        }
        return Err(commit_error(&target.name, failure));
    }
}

fn commit_error(name: &str, f: commit::CommitFailure) -> CellError {
    let ename = match f.error.kind() {
        ErrorKind::CatalogCommitConflicts => "CommitConflict",
        ErrorKind::FeatureUnsupported => "NotSupported",
        _ => "CatalogError",
    };
    let mut msg = format!("cannot commit to {name}: {}", f.error.message());
    if f.state_unknown {
        msg.push_str(
            " — the catalog could not say whether the commit landed; check the table's history \
             ($snapshots) before running the statement again",
        );
    }
    CellError::new(ename, msg)
}

// --- writing data files ----------------------------------------------------------------------

/// Writes the rows of `input` as data files of `table` (its schema, partition spec and
/// properties), through iceberg-datafusion's INSERT plan cut below its commit node: nothing is
/// committed. The files are the caller's to commit, or orphans if it fails.
async fn write_data_files(
    engine: &SqlEngine,
    table: &Table,
    input: LogicalPlan,
) -> datafusion::error::Result<Vec<DataFile>> {
    let external = |e: Error| DataFusionError::External(Box::new(e));
    let fixed = Arc::new(FixedCatalog {
        table: table.clone(),
    });
    let provider = IcebergCatalogProvider::try_new(fixed)
        .await
        .map_err(external)?;
    let ident = table.identifier();
    let schema_name = catalog::schema_name(ident.namespace());
    let missing = || DataFusionError::Internal(format!("table {ident} vanished from its view"));
    let target = provider
        .schema(&schema_name)
        .ok_or_else(missing)?
        .table(ident.name())
        .await?
        .ok_or_else(missing)?;
    let state = engine.ctx.state();
    let input = state.create_physical_plan(&input).await?;
    // iceberg-datafusion's partitioned writer wants the table's schema exactly (types and
    // nullability): a `SELECT 1, 'x'` has non-null columns, and CTAS or kept DELETE rows may
    // have other string or timestamp types.
    let schema = Arc::new(
        iceberg::arrow::schema_to_arrow_schema(table.metadata().current_schema())
            .map_err(external)?,
    );
    if schema.fields().len() != input.schema().fields().len() {
        return Err(DataFusionError::Plan(format!(
            "{ident} has {} columns but the query gives {}",
            schema.fields().len(),
            input.schema().fields().len()
        )));
    }
    let input = Arc::new(ConformExec::new(input, schema));
    let physical = target.insert_into(&state, input, InsertOp::Append).await?;
    let writer = below_commit(&physical).ok_or_else(|| {
        DataFusionError::Internal(
            "iceberg-datafusion's INSERT plan has no IcebergCommitExec: cannot write files for this commit"
                .into(),
        )
    })?;
    let batches = datafusion::physical_plan::collect(writer, engine.ctx.task_ctx()).await?;
    let meta = table.metadata();
    let mut files = Vec::new();
    for b in &batches {
        let Some(col) = b.column(0).as_string_opt::<i32>() else {
            return Err(DataFusionError::Internal(
                "IcebergWriteExec returned no data_files column".into(),
            ));
        };
        for json in col.iter().flatten() {
            files.push(
                deserialize_data_file_from_json(
                    json,
                    meta.default_partition_spec_id(),
                    meta.default_partition_type(),
                    meta.current_schema(),
                )
                .map_err(external)?,
            );
        }
    }
    Ok(files)
}

/// Gives its input's batches the table's schema: columns by position, cast where the type
/// differs, every column nullable as Iceberg's optional columns are.
#[derive(Debug)]
struct ConformExec {
    input: Arc<dyn ExecutionPlan>,
    schema: datafusion::arrow::datatypes::SchemaRef,
    properties: Arc<datafusion::physical_plan::PlanProperties>,
}

impl ConformExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        schema: datafusion::arrow::datatypes::SchemaRef,
    ) -> ConformExec {
        use datafusion::physical_plan::ExecutionPlanProperties;
        let properties = Arc::new(datafusion::physical_plan::PlanProperties::new(
            datafusion::physical_expr::EquivalenceProperties::new(schema.clone()),
            input.output_partitioning().clone(),
            datafusion::physical_plan::execution_plan::EmissionType::Incremental,
            datafusion::physical_plan::execution_plan::Boundedness::Bounded,
        ));
        ConformExec {
            input,
            schema,
            properties,
        }
    }
}

impl datafusion::physical_plan::DisplayAs for ConformExec {
    fn fmt_as(
        &self,
        _t: datafusion::physical_plan::DisplayFormatType,
        f: &mut std::fmt::Formatter,
    ) -> std::fmt::Result {
        write!(f, "ConformExec")
    }
}

impl ExecutionPlan for ConformExec {
    fn name(&self) -> &str {
        "ConformExec"
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn properties(&self) -> &Arc<datafusion::physical_plan::PlanProperties> {
        &self.properties
    }
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let child = children
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Internal("ConformExec needs one child".into()))?;
        Ok(Arc::new(ConformExec::new(child, self.schema.clone())))
    }
    fn execute(
        &self,
        partition: usize,
        context: Arc<datafusion::execution::TaskContext>,
    ) -> datafusion::error::Result<datafusion::execution::SendableRecordBatchStream> {
        use futures::StreamExt;
        let schema = self.schema.clone();
        let stream = self.input.execute(partition, context)?;
        let out = schema.clone();
        let mapped = stream.map(move |batch| {
            let batch = batch?;
            let columns = batch
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| {
                    if c.data_type() == f.data_type() {
                        Ok(c.clone())
                    } else {
                        datafusion::arrow::compute::cast(c, f.data_type())
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(schema.clone(), columns)?)
        });
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(out, mapped),
        ))
    }
}

/// The input of the plan's `IcebergCommitExec`: the writers, which return the data files.
fn below_commit(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    if plan.name() == "IcebergCommitExec" {
        return plan.children().first().copied().cloned();
    }
    plan.children().into_iter().find_map(below_commit)
}

/// A catalog that holds one table as given (not reloaded): iceberg-datafusion's writer then
/// writes against exactly the metadata the statement's commit is built on — for CREATE OR
/// REPLACE, metadata with the new schema and spec that is not committed yet.
#[derive(Debug)]
struct FixedCatalog {
    table: Table,
}

impl FixedCatalog {
    fn refuse(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::FeatureUnsupported,
            format!(
                "{what} is not available on the write view of {}",
                self.table.identifier()
            ),
        )
    }
}

#[async_trait]
impl Catalog for FixedCatalog {
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> IceResult<Vec<NamespaceIdent>> {
        Ok(match parent {
            None => vec![self.table.identifier().namespace().clone()],
            Some(_) => vec![],
        })
    }
    async fn create_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> IceResult<Namespace> {
        Err(self.refuse("create_namespace"))
    }
    async fn get_namespace(&self, namespace: &NamespaceIdent) -> IceResult<Namespace> {
        Ok(Namespace::new(namespace.clone()))
    }
    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> IceResult<bool> {
        Ok(namespace == self.table.identifier().namespace())
    }
    async fn update_namespace(
        &self,
        _namespace: &NamespaceIdent,
        _properties: HashMap<String, String>,
    ) -> IceResult<()> {
        Err(self.refuse("update_namespace"))
    }
    async fn drop_namespace(&self, _namespace: &NamespaceIdent) -> IceResult<()> {
        Err(self.refuse("drop_namespace"))
    }
    async fn list_tables(&self, namespace: &NamespaceIdent) -> IceResult<Vec<TableIdent>> {
        Ok(if namespace == self.table.identifier().namespace() {
            vec![self.table.identifier().clone()]
        } else {
            vec![]
        })
    }
    async fn create_table(
        &self,
        _namespace: &NamespaceIdent,
        _creation: TableCreation,
    ) -> IceResult<Table> {
        Err(self.refuse("create_table"))
    }
    async fn load_table(&self, table: &TableIdent) -> IceResult<Table> {
        if table == self.table.identifier() {
            Ok(self.table.clone())
        } else {
            Err(Error::new(
                ErrorKind::TableNotFound,
                format!("no table {table} here"),
            ))
        }
    }
    async fn drop_table(&self, _table: &TableIdent) -> IceResult<()> {
        Err(self.refuse("drop_table"))
    }
    async fn purge_table(&self, _table: &TableIdent) -> IceResult<()> {
        Err(self.refuse("purge_table"))
    }
    async fn table_exists(&self, table: &TableIdent) -> IceResult<bool> {
        Ok(table == self.table.identifier())
    }
    async fn rename_table(&self, _src: &TableIdent, _dest: &TableIdent) -> IceResult<()> {
        Err(self.refuse("rename_table"))
    }
    async fn register_table(&self, _table: &TableIdent, _location: String) -> IceResult<Table> {
        Err(self.refuse("register_table"))
    }
    async fn update_table(&self, _commit: TableCommit) -> IceResult<Table> {
        // The commit node of the INSERT plan is never executed (see `below_commit`).
        Err(self.refuse("update_table"))
    }
}

fn plural(n: impl Into<u64>, word: &str) -> String {
    let n = n.into();
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

// --- INSERT INTO ------------------------------------------------------------------------------

/// Appends `files` to `table` with iceberg's own fast append (every catalog kind takes it; a
/// conflicting concurrent append is retried after a jittered backoff, see
/// [`commit::append_with_retries`]), with the lineage keys in the snapshot summary. On
/// failure the files are deleted.
async fn fast_append(
    catalog: &dyn Catalog,
    table: &Table,
    files: Vec<DataFile>,
    lineage: &CommitLineage,
) -> IceResult<()> {
    if files.is_empty() {
        return Ok(());
    }
    let paths: Vec<String> = files.iter().map(|f| f.file_path().to_string()).collect();
    match commit::append_with_retries(catalog, table, files, lineage.summary()).await {
        Ok(_) => Ok(()),
        Err(e) => {
            commit::delete_quietly(table.file_io(), &paths).await;
            Err(e)
        }
    }
}

async fn append(
    engine: &SqlEngine,
    target: &WriteTarget,
    dml: &DmlStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    check_insert_types(dml)?;
    let base = target.load(engine).await?;
    let files = write_data_files(engine, &base, dml.input.as_ref().clone())
        .await
        .map_err(fail)?;
    let rows: u64 = files.iter().map(DataFile::record_count).sum();
    fast_append(target.catalog.as_ref(), &base, files, &target.lineage)
        .await
        .map_err(|e| errors::catalog(&format!("cannot insert into {}", target.name), e))?;
    let _ = out.send(Output::Message(format!(
        "Inserted {} into {} ({} ms)",
        plural(rows, "row"),
        target.name,
        started.elapsed().as_millis()
    )));
    Ok(())
}

// --- INSERT OVERWRITE ------------------------------------------------------------------------

async fn overwrite(
    engine: &SqlEngine,
    target: &WriteTarget,
    dml: &DmlStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    target.require_custom_commits("INSERT OVERWRITE")?;
    check_insert_types(dml)?;
    let base = target.load(engine).await?;
    let files = write_data_files(engine, &base, dml.input.as_ref().clone())
        .await
        .map_err(fail)?;
    let rows: u64 = files.iter().map(DataFile::record_count).sum();
    let spec = base.metadata().default_partition_spec().clone();
    let removal = if spec.is_unpartitioned() {
        Removal::All
    } else {
        // Spark's dynamic partition overwrite: the partitions the query wrote are replaced.
        Removal::Partitions {
            spec_id: spec.spec_id(),
            partitions: files.iter().map(|f| f.partition().clone()).collect(),
        }
    };
    let nothing_to_do = files.is_empty()
        && (base.metadata().current_snapshot().is_none() || !spec.is_unpartitioned());
    if nothing_to_do {
        let _ = out.send(Output::Message(format!(
            "Overwrote no partitions of {}: the query returned no rows ({} ms)",
            target.name,
            started.elapsed().as_millis()
        )));
        return Ok(());
    }
    let change = SnapshotChange {
        operation: Operation::Overwrite,
        added: files,
        removal,
        properties: target.lineage.summary(),
    };
    let (removed_files, removed_rows) =
        commit_change(target, base, None, change, vec![], true).await?;
    let _ = out.send(Output::Message(format!(
        "Overwrote {} with {} (replaced {} holding {}) ({} ms)",
        target.name,
        plural(rows, "row"),
        plural(removed_files as u64, "data file"),
        plural(removed_rows, "row"),
        started.elapsed().as_millis()
    )));
    Ok(())
}

// --- DELETE ----------------------------------------------------------------------------------

/// Removes the table qualifier DataFusion put on the predicate's columns, so it binds to the
/// batches read from the data files.
fn unqualify(e: Expr) -> datafusion::error::Result<Expr> {
    e.transform(|e| {
        Ok(match e {
            Expr::Column(c) if c.relation.is_some() => {
                Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))
            }
            e => Transformed::no(e),
        })
    })
    .map(|t| t.data)
}

async fn delete(
    engine: &SqlEngine,
    target: &WriteTarget,
    dml: &DmlStatement,
    started: Instant,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    target.require_custom_commits("DELETE")?;
    let predicate = match dml.input.as_ref() {
        LogicalPlan::Filter(f) => Some(unqualify(f.predicate.clone()).map_err(fail)?),
        LogicalPlan::TableScan(_) => None,
        _ => {
            return Err(CellError::new(
                "NotSupported",
                "this DELETE form is not supported; write DELETE FROM t [WHERE condition]",
            ))
        }
    };
    let base = target.load(engine).await?;
    if base.metadata().current_snapshot().is_none() {
        let _ = out.send(Output::Message(format!(
            "Deleted 0 rows from {}: it has no rows",
            target.name
        )));
        return Ok(());
    }
    let (removal, added, deleted_rows, whole, rewritten) = match predicate {
        None => (Removal::All, vec![], None, None, 0usize),
        Some(p) => {
            let plan = plan_delete(engine, &base, p, fail).await?;
            if plan.remove.is_empty() {
                let _ = out.send(Output::Message(format!(
                    "Deleted 0 rows from {}: no row matches ({} ms)",
                    target.name,
                    started.elapsed().as_millis()
                )));
                return Ok(());
            }
            let rewritten = plan.rewritten;
            let added = if plan.kept.is_empty() {
                vec![]
            } else {
                let schema = plan.kept[0].schema();
                let mem = MemTable::try_new(schema, vec![plan.kept]).map_err(fail)?;
                let input =
                    LogicalPlanBuilder::scan("kept_rows", provider_as_source(Arc::new(mem)), None)
                        .and_then(|b| b.build())
                        .map_err(fail)?;
                write_data_files(engine, &base, input).await.map_err(fail)?
            };
            (
                Removal::Paths(plan.remove),
                added,
                Some(plan.deleted_rows),
                Some(plan.whole),
                rewritten,
            )
        }
    };
    let operation = if added.is_empty() {
        Operation::Delete
    } else {
        Operation::Overwrite
    };
    let change = SnapshotChange {
        operation,
        added,
        removal,
        properties: target.lineage.summary(),
    };
    // No retry: rows appended meanwhile might match the condition (serializable, as
    // Iceberg's default isolation for DELETE).
    let (removed_files, removed_rows) =
        commit_change(target, base, None, change, vec![], false).await?;
    let n = deleted_rows.unwrap_or(removed_rows);
    let whole = whole.unwrap_or(removed_files);
    let _ = out.send(Output::Message(format!(
        "Deleted {} from {} ({} dropped, {} rewritten) ({} ms)",
        plural(n, "row"),
        target.name,
        plural(whole as u64, "data file"),
        rewritten,
        started.elapsed().as_millis()
    )));
    Ok(())
}

/// What a DELETE with a condition does to the data files.
struct DeletePlan {
    /// Paths of the files the new snapshot drops (all matching, or rewritten).
    remove: HashSet<String>,
    /// The rows of partly matching files that stay, to be written again.
    kept: Vec<RecordBatch>,
    deleted_rows: u64,
    /// Files dropped whole (every row matched).
    whole: usize,
    /// Files rewritten without their matching rows.
    rewritten: usize,
}

/// Reads the files that may hold matching rows (iceberg prunes the others by partition and
/// column statistics from the condition, where it can convert it) and evaluates the
/// condition on every row: a row is deleted when the condition is TRUE (not NULL).
async fn plan_delete(
    engine: &SqlEngine,
    base: &Table,
    predicate: Expr,
    fail: Fail<'_>,
) -> Result<DeletePlan, CellError> {
    let ice = |e: Error| errors::catalog(&format!("cannot read {}", base.identifier()), e);
    // Only for pruning: files it rules out cannot hold a matching row.
    let pruning = iceberg_datafusion::physical_plan::convert_filters_to_predicate(
        std::slice::from_ref(&predicate),
    );
    let tasks = async {
        let mut scan = base.scan();
        if let Some(p) = pruning.clone() {
            scan = scan.with_filter(p);
        }
        scan.build()?
            .plan_files()
            .await?
            .try_collect::<Vec<_>>()
            .await
    }
    .await;
    let tasks = match tasks {
        Ok(t) => t,
        // A condition iceberg cannot bind (e.g. a literal of another type): read every file.
        Err(_) if pruning.is_some() => base
            .scan()
            .build()
            .map_err(ice)?
            .plan_files()
            .await
            .map_err(ice)?
            .try_collect::<Vec<_>>()
            .await
            .map_err(ice)?,
        Err(e) => return Err(ice(e)),
    };
    // The condition on partition values alone, for files it can decide without reading.
    let by_partition = PartitionDecider::new(engine, base, &predicate);
    let mut plan = DeletePlan {
        remove: HashSet::new(),
        kept: vec![],
        deleted_rows: 0,
        whole: 0,
        rewritten: 0,
    };
    for mut task in tasks {
        match by_partition.as_ref().and_then(|d| d.decide(&task)) {
            Some(true) => {
                plan.deleted_rows += task.record_count.unwrap_or(0);
                plan.remove.insert(task.data_file_path.clone());
                plan.whole += 1;
                continue;
            }
            Some(false) => continue,
            None => {}
        }
        // All rows of the file are needed, not only the matching ones.
        task.predicate = None;
        let path = task.data_file_path.clone();
        let stream = base
            .reader_builder()
            .build()
            .read(Box::pin(futures::stream::iter([Ok(task)])))
            .map_err(ice)?;
        let mut stream = stream.stream();
        let mut evaluator: Option<Arc<dyn datafusion::physical_expr::PhysicalExpr>> = None;
        let mut kept = vec![];
        let mut matched = 0u64;
        while let Some(batch) = stream.try_next().await.map_err(ice)? {
            if evaluator.is_none() {
                let schema = DFSchema::try_from(batch.schema().as_ref().clone()).map_err(fail)?;
                evaluator = Some(
                    engine
                        .ctx
                        .create_physical_expr(predicate.clone(), &schema)
                        .map_err(|e| {
                            CellError::new(
                                "NotSupported",
                                format!(
                                    "cannot evaluate the DELETE condition {predicate} row by row \
                                     (subqueries are not supported here): {}",
                                    e.strip_backtrace()
                                ),
                            )
                        })?,
                );
            }
            let eval = evaluator.as_ref().expect("set above");
            let value = eval
                .evaluate(&batch)
                .and_then(|v| v.into_array(batch.num_rows()))
                .map_err(fail)?;
            let Some(mask) = value.as_boolean_opt() else {
                return Err(CellError::new(
                    "TypeError",
                    format!(
                        "the DELETE condition {predicate} is {}, not true/false",
                        value.data_type()
                    ),
                ));
            };
            let keep: BooleanArray = (0..mask.len())
                .map(|i| Some(!(mask.is_valid(i) && mask.value(i))))
                .collect();
            let kept_here = keep.true_count();
            matched += (batch.num_rows() - kept_here) as u64;
            if kept_here > 0 {
                kept.push(
                    filter_record_batch(&batch, &keep)
                        .map_err(|e| fail(DataFusionError::ArrowError(Box::new(e), None)))?,
                );
            }
        }
        if matched == 0 {
            continue;
        }
        plan.deleted_rows += matched;
        plan.remove.insert(path);
        if kept.is_empty() {
            plan.whole += 1;
        } else {
            plan.rewritten += 1;
            plan.kept.extend(kept);
        }
    }
    Ok(plan)
}

/// Evaluates a DELETE condition that names only identity-partition columns on a file's
/// partition values: every row of the file has those values, so the file is dropped whole or
/// kept without reading it (`DELETE FROM t WHERE day = DATE '2025-01-16'`).
struct PartitionDecider {
    /// The table's columns, all nullable (columns the condition does not name are NULL).
    schema: datafusion::arrow::datatypes::SchemaRef,
    iceberg: iceberg::spec::SchemaRef,
    columns: HashSet<String>,
    eval: Arc<dyn datafusion::physical_expr::PhysicalExpr>,
    /// The table's partition spec, when it has only one (a scan task does not say which
    /// spec its file has).
    spec: Option<iceberg::spec::PartitionSpecRef>,
}

impl PartitionDecider {
    fn new(engine: &SqlEngine, base: &Table, predicate: &Expr) -> Option<PartitionDecider> {
        let iceberg = base.metadata().current_schema().clone();
        let arrow = iceberg::arrow::schema_to_arrow_schema(&iceberg).ok()?;
        let fields: Vec<_> = arrow
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).ok()?;
        let eval = engine
            .ctx
            .create_physical_expr(predicate.clone(), &df_schema)
            .ok()?;
        let columns = predicate
            .column_refs()
            .into_iter()
            .map(|c| c.name.clone())
            .collect();
        let meta = base.metadata();
        let spec = (meta.partition_specs_iter().count() == 1)
            .then(|| meta.default_partition_spec().clone());
        Some(PartitionDecider {
            schema,
            iceberg,
            columns,
            eval,
            spec,
        })
    }

    /// `Some(true)`: every row matches; `Some(false)`: none does; `None`: read the file.
    fn decide(&self, task: &iceberg::scan::FileScanTask) -> Option<bool> {
        use datafusion::scalar::ScalarValue;
        // Position or equality deletes make the file's record count (and rows) differ.
        if !task.deletes.is_empty() || task.record_count.is_none() {
            return None;
        }
        let spec = task.partition_spec.as_ref().or(self.spec.as_ref())?;
        let partition = task.partition.as_ref()?;
        if partition.fields().len() != spec.fields().len() {
            return None;
        }
        let mut values: HashMap<&str, ScalarValue> = HashMap::new();
        for (field, value) in spec.fields().iter().zip(partition.iter()) {
            if field.transform != Transform::Identity {
                continue;
            }
            let name = self.iceberg.field_by_id(field.source_id)?.name.as_str();
            if !self.columns.contains(name) {
                continue;
            }
            let dt = self.schema.field_with_name(name).ok()?.data_type();
            let v = match value {
                None => ScalarValue::try_from(dt).ok()?,
                Some(l) => scalar(l.as_primitive_literal()?, dt)?,
            };
            values.insert(name, v);
        }
        if !self.columns.iter().all(|c| values.contains_key(c.as_str())) {
            return None;
        }
        let columns = self
            .schema
            .fields()
            .iter()
            .map(|f| match values.get(f.name().as_str()) {
                Some(v) => v.to_array_of_size(1).ok(),
                None => Some(datafusion::arrow::array::new_null_array(f.data_type(), 1)),
            })
            .collect::<Option<Vec<_>>>()?;
        let batch = RecordBatch::try_new(self.schema.clone(), columns).ok()?;
        let v = self.eval.evaluate(&batch).ok()?.into_array(1).ok()?;
        let b = v.as_boolean_opt()?;
        Some(b.is_valid(0) && b.value(0))
    }
}

/// An Iceberg partition value as a DataFusion scalar of the column's Arrow type.
fn scalar(
    p: iceberg::spec::PrimitiveLiteral,
    dt: &DataType,
) -> Option<datafusion::scalar::ScalarValue> {
    use datafusion::scalar::ScalarValue as S;
    use iceberg::spec::PrimitiveLiteral as P;
    let base = match p {
        P::Boolean(b) => S::Boolean(Some(b)),
        P::Int(i) => S::Int32(Some(i)),
        P::Long(l) => S::Int64(Some(l)),
        P::Float(f) => S::Float32(Some(f.0)),
        P::Double(d) => S::Float64(Some(d.0)),
        P::String(s) => S::Utf8(Some(s)),
        P::Binary(b) => S::Binary(Some(b)),
        P::Int128(i) => match dt {
            DataType::Decimal128(p, s) => S::Decimal128(Some(i), *p, *s),
            _ => return None,
        },
        _ => return None,
    };
    // Dates are days and timestamps microseconds: the casts reinterpret, as Iceberg stores them.
    if base.data_type() == *dt {
        Some(base)
    } else {
        base.cast_to(dt).ok()
    }
}

// --- CREATE TABLE ----------------------------------------------------------------------------

/// The Spark clauses of a CREATE TABLE, cut out of the statement (DataFusion's parser takes
/// `PARTITIONED BY` as Hive column definitions — `days(ts)` does not parse — and has no
/// `USING`), and what is left for DataFusion to plan.
#[derive(Debug, Default, PartialEq)]
pub(super) struct CreateClauses {
    using: Option<String>,
    /// The items of `PARTITIONED BY (...)`, as written.
    partitioned_by: Vec<String>,
    properties: Vec<(String, String)>,
    /// The statement without those clauses.
    rest: String,
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

fn split_create(text: &str, tokens: &[TokenWithSpan]) -> Result<CreateClauses, String> {
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
fn partition_item(item: &str) -> Result<(String, Transform), String> {
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

fn id_name(id: &sql::Ident) -> String {
    // DataFusion folds unquoted names to lower case, as it does for the table's columns.
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_ascii_lowercase()
    }
}

/// The partition field name Iceberg's Spark DDL gives a transform of `col`.
fn partition_field_name(col: &str, t: &Transform) -> String {
    match t {
        Transform::Identity => col.to_string(),
        Transform::Year => format!("{col}_year"),
        Transform::Month => format!("{col}_month"),
        Transform::Day => format!("{col}_day"),
        Transform::Hour => format!("{col}_hour"),
        Transform::Bucket(_) => format!("{col}_bucket"),
        Transform::Truncate(_) => format!("{col}_trunc"),
        _ => format!("{col}_{t}"),
    }
}

/// Builds the partition spec of `items` over `schema`, with field ids left for the catalog
/// to assign. Unknown columns and transforms that do not fit a column's type are errors
/// naming them.
fn partition_spec(
    schema: &Schema,
    items: &[String],
    table: &str,
) -> Result<Option<UnboundPartitionSpec>, String> {
    if items.is_empty() {
        return Ok(None);
    }
    let columns = || {
        schema
            .as_struct()
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut builder = PartitionSpec::builder(schema.clone());
    for item in items {
        let (col, transform) = partition_item(item)?;
        if schema.field_by_name(&col).is_none() {
            return Err(format!(
                "PARTITIONED BY names column '{col}', which {table} does not have; its columns: {}",
                columns()
            ));
        }
        let name = partition_field_name(&col, &transform);
        builder = builder
            .add_partition_field(&col, name, transform)
            .map_err(|e| format!("cannot partition {table} by {item}: {}", e.message()))?;
    }
    let spec = builder
        .build()
        .map_err(|e| format!("cannot partition {table}: {}", e.message()))?;
    let fields = spec.fields().iter().map(|f| UnboundPartitionField {
        source_id: f.source_id,
        field_id: None,
        name: f.name.clone(),
        transform: f.transform,
    });
    UnboundPartitionSpec::builder()
        .add_partition_fields(fields)
        .map(|b| Some(b.build()))
        .map_err(|e| format!("cannot partition {table}: {}", e.message()))
}

async fn create(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    tokens: &[TokenWithSpan],
    out: &UnboundedSender<Output>,
) -> Result<(), CellError> {
    let clauses = split_create(&piece.text, tokens).map_err(|m| {
        CellError::new("SyntaxError", m).with_context(errors::statement_context(piece))
    })?;
    if let Some(u) = &clauses.using {
        if !u.eq_ignore_ascii_case("iceberg") {
            return Err(CellError::new(
                "NotSupported",
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
        super::params::inline_parameters(&mut statement, &engine.params);
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
                "NotSupported",
                "this CREATE TABLE form is not supported; write CREATE [OR REPLACE] TABLE t (...) or CREATE TABLE t AS SELECT ...",
            ))
        }
    };
    create_planned(engine, &c, &clauses, out, &fail).await
}

/// Creates (or, with OR REPLACE, replaces) the Iceberg table of a planned CREATE TABLE,
/// with the Spark clauses `clauses` cut out of it, and writes the rows of its query if any.
pub(super) async fn create_planned(
    engine: &SqlEngine,
    c: &datafusion::logical_expr::CreateMemoryTable,
    clauses: &CreateClauses,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    let (schema, table) = engine.resolve(&c.name)?;
    let name = format!("{schema}.{table}");
    let arrow = c.input.schema().as_arrow().clone();
    let arrow = catalog::iceberg_compatible(&arrow)
        .map_err(|m| CellError::new("TypeError", format!("cannot create table {name}: {m}")))?;
    let schema_ice = arrow_schema_to_schema_auto_assign_ids(&arrow)
        .map_err(|e| errors::catalog(&format!("cannot create table {name}"), e))?;
    let spec = partition_spec(&schema_ice, &clauses.partitioned_by, &name)
        .map_err(|m| CellError::new("PartitionError", m))?;
    let user_props: HashMap<String, String> = clauses.properties.iter().cloned().collect();
    let lineage = engine.commit_lineage();
    let cat = engine.write_catalog(&lineage);
    let ns = catalog::namespace(&schema);
    let ident = TableIdent::new(ns.clone(), table.clone());
    if !cat
        .namespace_exists(&ns)
        .await
        .map_err(|e| errors::catalog(&format!("cannot check schema {schema}"), e))?
    {
        return Err(errors::unknown_schema(&schema, &engine.catalog));
    }
    let exists = cat
        .table_exists(&ident)
        .await
        .map_err(|e| errors::catalog(&format!("cannot check table {name}"), e))?;
    let is_ctas = !matches!(c.input.as_ref(), LogicalPlan::EmptyRelation(_));
    if exists {
        if c.if_not_exists {
            let _ = out.send(Output::Message(format!("Table {name} already exists")));
            return Ok(());
        }
        if !c.or_replace {
            return Err(CellError::new(
                "CatalogError",
                format!("table {name} already exists; use CREATE TABLE IF NOT EXISTS to skip it, CREATE OR REPLACE TABLE to replace it, or DROP TABLE {name} first"),
            ));
        }
        let target = WriteTarget::resolve(engine, &c.name)?;
        target.require_custom_commits("CREATE OR REPLACE TABLE")?;
        return replace(
            engine,
            &target,
            schema_ice,
            &clauses.partitioned_by,
            user_props,
            is_ctas.then(|| c.input.as_ref().clone()),
            out,
            fail,
        )
        .await;
    }
    // The catalog builds the new table's folder from the names (an existing table keeps its).
    catalog::check_schema_name(&schema).map_err(|m| CellError::new("NameError", m))?;
    catalog::check_table_name(&table).map_err(|m| CellError::new("NameError", m))?;
    let mut properties = default_properties();
    properties.extend(user_props);
    let creation = TableCreation::builder()
        .name(table.clone())
        .schema(schema_ice)
        .partition_spec_opt(spec)
        .properties(properties)
        .build();
    cat.create_table(&ns, creation)
        .await
        .map_err(|e| errors::catalog(&format!("cannot create table {name}"), e))?;
    engine.refresh_after_ddl().await;
    let partitioned = if clauses.partitioned_by.is_empty() {
        String::new()
    } else {
        format!(", partitioned by {}", clauses.partitioned_by.join(", "))
    };
    if !is_ctas {
        let _ = out.send(Output::Message(format!(
            "Created table {name} ({}{partitioned})",
            plural(arrow.fields().len() as u64, "column")
        )));
        return Ok(());
    }
    // CREATE TABLE AS: write the rows with an append; if that fails, the new table goes
    // again, so a failed statement leaves nothing behind.
    let insert = async {
        let created = cat
            .load_table(&ident)
            .await
            .map_err(|e| errors::catalog(&format!("cannot load table {name}"), e))?;
        let files = write_data_files(engine, &created, c.input.as_ref().clone())
            .await
            .map_err(fail)?;
        let rows: u64 = files.iter().map(DataFile::record_count).sum();
        fast_append(cat.as_ref(), &created, files, &lineage)
            .await
            .map_err(|e| errors::catalog(&format!("cannot write table {name}"), e))?;
        Ok::<_, CellError>(rows)
    };
    match insert.await {
        Ok(n) => {
            let _ = out.send(Output::Message(format!(
                "Created table {name} with {}{partitioned}",
                plural(n, "row")
            )));
            Ok(())
        }
        Err(e) => {
            let _ = cat.drop_table(&ident).await;
            engine.refresh_after_ddl().await;
            Err(e)
        }
    }
}

/// The new schema with field ids for a replaced table: a top-level column of the same name
/// and primitive type keeps its id, everything else gets ids above the table's last one (as
/// Iceberg's replace transaction reassigns them), so old snapshots keep meaning what they did.
fn replacement_schema(new: &Schema, current: &Schema, last_column_id: i32) -> IceResult<Schema> {
    let mut next = last_column_id;
    let fields: Vec<NestedFieldRef> = new
        .as_struct()
        .fields()
        .iter()
        .map(|f| match current.field_by_name(&f.name) {
            Some(old)
                if old.field_type == f.field_type
                    && matches!(*f.field_type, Type::Primitive(_)) =>
            {
                let mut kept = f.as_ref().clone();
                kept.id = old.id;
                Arc::new(kept)
            }
            _ => fresh_ids(f, &mut next),
        })
        .collect();
    Schema::builder().with_fields(fields).build()
}

fn fresh_ids(field: &NestedField, next: &mut i32) -> NestedFieldRef {
    *next += 1;
    let id = *next;
    let field_type = match field.field_type.as_ref() {
        Type::Primitive(_) => field.field_type.as_ref().clone(),
        Type::Struct(s) => Type::Struct(StructType::new(
            s.fields().iter().map(|f| fresh_ids(f, next)).collect(),
        )),
        Type::List(l) => Type::List(ListType {
            element_field: fresh_ids(&l.element_field, next),
        }),
        Type::Map(m) => Type::Map(MapType {
            key_field: fresh_ids(&m.key_field, next),
            value_field: fresh_ids(&m.value_field, next),
        }),
    };
    let mut f = field.clone();
    f.id = id;
    f.field_type = Box::new(field_type);
    Arc::new(f)
}

/// CREATE OR REPLACE TABLE on an existing table: the same table (uuid, history and old
/// snapshots kept) gets the new schema, spec and properties where they differ and one new
/// snapshot holding only the new rows — all in one commit, as Iceberg's replace does.
#[allow(clippy::too_many_arguments)]
async fn replace(
    engine: &SqlEngine,
    target: &WriteTarget,
    schema: Schema,
    partitioned_by: &[String],
    properties: HashMap<String, String>,
    query: Option<LogicalPlan>,
    out: &UnboundedSender<Output>,
    fail: Fail<'_>,
) -> Result<(), CellError> {
    let started = Instant::now();
    let name = &target.name;
    let base = target.load(engine).await?;
    let meta = base.metadata();
    let cat_err = |e: Error| errors::catalog(&format!("cannot replace table {name}"), e);
    let new_schema = replacement_schema(&schema, meta.current_schema(), meta.last_column_id())
        .map_err(cat_err)?;
    let mut pre = vec![];
    if new_schema.as_struct() != meta.current_schema().as_struct() {
        pre.push(TableUpdate::AddSchema {
            schema: new_schema.clone(),
        });
        pre.push(TableUpdate::SetCurrentSchema { schema_id: -1 });
    }
    let spec = partition_spec(&new_schema, partitioned_by, name)
        .map_err(|m| CellError::new("PartitionError", m))?
        .unwrap_or_default();
    let current_spec = meta.default_partition_spec();
    let same_spec = spec.fields().len() == current_spec.fields().len()
        && spec
            .fields()
            .iter()
            .zip(current_spec.fields())
            .all(|(a, b)| {
                a.source_id == b.source_id && a.transform == b.transform && a.name == b.name
            });
    if !same_spec {
        pre.push(TableUpdate::AddSpec { spec });
        pre.push(TableUpdate::SetDefaultSpec { spec_id: -1 });
    }
    let changed_props: HashMap<String, String> = properties
        .into_iter()
        .filter(|(k, v)| meta.properties().get(k) != Some(v))
        .collect();
    if !changed_props.is_empty() {
        pre.push(TableUpdate::SetProperties {
            updates: changed_props,
        });
    }
    let staged_table = commit::stage_metadata(&base, &pre).map_err(cat_err)?;
    let added = match query {
        Some(q) => write_data_files(engine, &staged_table, q)
            .await
            .map_err(fail)?,
        None => vec![],
    };
    let rows: u64 = added.iter().map(DataFile::record_count).sum();
    if meta.current_snapshot().is_none() && added.is_empty() {
        if pre.is_empty() {
            let _ = out.send(Output::Message(format!(
                "Replaced table {name}: nothing changed"
            )));
            return Ok(());
        }
        let mut requirements = commit::base_requirements(meta);
        requirements.extend(commit::schema_requirements(meta));
        let staged = StagedCommit {
            requirements,
            updates: pre,
            ..Default::default()
        };
        target.commit(&base, staged).await?;
    } else {
        let change = SnapshotChange {
            operation: Operation::Overwrite,
            added,
            removal: Removal::All,
            properties: target.lineage.summary(),
        };
        commit_change(target, base, Some(staged_table), change, pre, false).await?;
    }
    engine.refresh_after_ddl().await;
    let _ = out.send(Output::Message(format!(
        "Replaced table {name} with {} (history kept) ({} ms)",
        plural(rows, "row"),
        started.elapsed().as_millis()
    )));
    Ok(())
}

// --- ALTER TABLE / DROP TABLE … PURGE --------------------------------------------------------

fn sql_statement(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
) -> Result<sql::Statement, CellError> {
    match engine.parse(cell, piece)? {
        DFStatement::Statement(s) => Ok(*s),
        _ => Err(CellError::new("SyntaxError", "unexpected statement")),
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

async fn drop_purge(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    out: &UnboundedSender<Output>,
) -> Result<(), CellError> {
    let sql::Statement::Drop {
        object_type: ObjectType::Table,
        if_exists,
        names,
        ..
    } = sql_statement(engine, cell, piece)?
    else {
        return Err(CellError::new("SyntaxError", "expected DROP TABLE t PURGE"));
    };
    for n in &names {
        let target = WriteTarget::resolve(engine, &object_ref(n))?;
        let exists = target
            .catalog
            .table_exists(&target.ident)
            .await
            .map_err(|e| errors::catalog(&format!("cannot check table {}", target.name), e))?;
        if !exists {
            if if_exists {
                let _ = out.send(Output::Message(format!(
                    "Table {} does not exist",
                    target.name
                )));
                continue;
            }
            return Err(errors::unknown_table(
                &target.name,
                &engine.catalog.listing(),
            ));
        }
        let msg = match &target.commit {
            // Other Nessie references may still use the files: only Nessie's GC may delete
            // them (Java's NessieCatalog ignores PURGE for the same reason).
            CommitTarget::Nessie(n) => {
                n.drop_table(&target.ident).await.map_err(|e| {
                    errors::catalog(&format!("cannot drop table {}", target.name), e)
                })?;
                format!(
                    "Dropped table {}; its files stay, since other Nessie references may use them (Nessie's garbage collection removes unreferenced files)",
                    target.name
                )
            }
            CommitTarget::Embedded { .. } => {
                target
                    .catalog
                    .purge_table(&target.ident)
                    .await
                    .map_err(|e| {
                        errors::catalog(&format!("cannot purge table {}", target.name), e)
                    })?;
                format!(
                    "Dropped table {} and deleted its data and metadata files",
                    target.name
                )
            }
            CommitTarget::Rest => {
                target
                    .catalog
                    .purge_table(&target.ident)
                    .await
                    .map_err(|e| {
                        errors::catalog(&format!("cannot purge table {}", target.name), e)
                    })?;
                format!(
                    "Dropped table {}; the REST catalog was asked to purge its files",
                    target.name
                )
            }
        };
        let _ = out.send(Output::Message(msg));
    }
    engine.refresh_after_ddl().await;
    Ok(())
}

async fn alter(
    engine: &SqlEngine,
    cell: &str,
    piece: &Piece,
    out: &UnboundedSender<Output>,
) -> Result<(), CellError> {
    let sql::Statement::AlterTable(a) = sql_statement(engine, cell, piece)? else {
        return Err(CellError::new("SyntaxError", "expected ALTER TABLE"));
    };
    let target = WriteTarget::resolve(engine, &object_ref(&a.name))?;
    let name = target.name.clone();
    let base = target.load(engine).await?;
    let current = base.metadata().current_schema().clone();
    let columns = || {
        current
            .as_struct()
            .fields()
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let has = |c: &str| current.field_by_name(c).is_some();
    let mut adds = vec![];
    let mut added_types: Vec<(String, Type)> = vec![];
    let mut drops: Vec<String> = vec![];
    let mut renames = vec![];
    for op in &a.operations {
        match op {
            AlterTableOperation::AddColumn {
                column_def,
                if_not_exists,
                ..
            } => {
                let col = id_name(&column_def.name);
                if has(&col) {
                    if *if_not_exists {
                        continue;
                    }
                    return Err(CellError::new(
                        "CatalogError",
                        format!("table {name} already has a column '{col}'"),
                    ));
                }
                let ty = iceberg_type(engine, &column_def.data_type, &col).await?;
                added_types.push((col.clone(), ty.clone()));
                adds.push((col.clone(), AddColumn::optional(col, ty)));
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for c in column_names {
                    let col = id_name(c);
                    if !has(&col) {
                        if *if_exists {
                            continue;
                        }
                        return Err(CellError::new(
                            "ColumnNotFound",
                            format!("table {name} has no column '{col}'; its columns: {}", columns()),
                        ));
                    }
                    drops.push(col);
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let (old, new) = (id_name(old_column_name), id_name(new_column_name));
                if !has(&old) {
                    return Err(CellError::new(
                        "ColumnNotFound",
                        format!("table {name} has no column '{old}'; its columns: {}", columns()),
                    ));
                }
                if has(&new) {
                    return Err(CellError::new(
                        "CatalogError",
                        format!("cannot rename {old} to {new}: table {name} already has a column '{new}'"),
                    ));
                }
                renames.push((old, new));
            }
            other => {
                return Err(CellError::new(
                    "NotSupported",
                    format!("ALTER TABLE … {other} is not supported; supported: ADD COLUMN c TYPE, RENAME COLUMN a TO b, DROP COLUMN c"),
                ))
            }
        }
    }
    let mut done = vec![];
    if adds.is_empty() && drops.is_empty() && renames.is_empty() {
        let _ = out.send(Output::Message(format!("Table {name} unchanged")));
        return Ok(());
    }
    if matches!(target.commit, CommitTarget::Rest) {
        if !renames.is_empty() {
            target.require_custom_commits("RENAME COLUMN")?;
        }
        // iceberg's own schema update, which the REST catalog takes.
        let tx = Transaction::new(&base);
        let mut action = tx.update_schema();
        for (col, c) in adds {
            done.push(format!("added column {col}"));
            action = action.add_column(c);
        }
        for c in drops {
            done.push(format!("dropped column {c}"));
            action = action.delete_column(c);
        }
        let tx = action
            .apply(tx)
            .map_err(|e| errors::catalog(&format!("cannot alter table {name}"), e))?;
        tx.commit(target.catalog.as_ref())
            .await
            .map_err(|e| errors::catalog(&format!("cannot alter table {name}"), e))?;
    } else {
        let meta = base.metadata();
        let spec = meta.default_partition_spec();
        let mut fields: Vec<NestedFieldRef> = vec![];
        for f in current.as_struct().fields() {
            if drops.contains(&f.name) {
                if spec.fields().iter().any(|p| p.source_id == f.id) {
                    return Err(CellError::new(
                        "CatalogError",
                        format!(
                            "cannot drop column {}: {name} is partitioned by it; replace the table \
                             (CREATE OR REPLACE TABLE … PARTITIONED BY …) to change its partitioning",
                            f.name
                        ),
                    ));
                }
                done.push(format!("dropped column {}", f.name));
                continue;
            }
            match renames.iter().find(|(o, _)| *o == f.name) {
                Some((o, n)) => {
                    let mut r = f.as_ref().clone();
                    r.name = n.clone();
                    done.push(format!("renamed column {o} to {n}"));
                    fields.push(Arc::new(r));
                }
                None => fields.push(f.clone()),
            }
        }
        let mut next = meta.last_column_id();
        for (col, _) in &adds {
            done.push(format!("added column {col}"));
        }
        for (col, ty) in added_types {
            next += 1;
            fields.push(Arc::new(NestedField::optional(next, col, ty)));
        }
        let schema = Schema::builder()
            .with_fields(fields)
            .with_identifier_field_ids(current.identifier_field_ids())
            .build()
            .map_err(|e| errors::catalog(&format!("cannot alter table {name}"), e))?;
        let pre = vec![
            TableUpdate::AddSchema { schema },
            TableUpdate::SetCurrentSchema { schema_id: -1 },
        ];
        if meta.current_snapshot().is_some() {
            // iceberg-rust resolves a scan's columns with its snapshot's schema: without a
            // snapshot of the new schema (the same files, no data change: "replace"), added or
            // renamed columns could not be read until the next write.
            let staged_table = commit::stage_metadata(&base, &pre)
                .map_err(|e| errors::catalog(&format!("cannot alter table {name}"), e))?;
            let change = SnapshotChange {
                operation: Operation::Replace,
                added: vec![],
                removal: Removal::Nothing,
                properties: target.lineage.summary(),
            };
            commit_change(
                &target,
                base.clone(),
                Some(staged_table),
                change,
                pre,
                false,
            )
            .await?;
        } else {
            let mut requirements = commit::base_requirements(meta);
            requirements.extend(commit::schema_requirements(meta));
            let staged = StagedCommit {
                requirements,
                updates: pre,
                ..Default::default()
            };
            target.commit(&base, staged).await?;
        }
    }
    engine.refresh_after_ddl().await;
    let _ = out.send(Output::Message(if done.is_empty() {
        format!("Table {name} unchanged")
    } else {
        format!("Altered table {name}: {}", done.join(", "))
    }));
    Ok(())
}

/// The Iceberg type for a column type written in SQL, as DataFusion reads the type name.
async fn iceberg_type(engine: &SqlEngine, t: &sql::DataType, col: &str) -> Result<Type, CellError> {
    let bad = |m: String| CellError::new("TypeError", format!("column '{col}': {m}"));
    let plan = engine
        .ctx
        .state()
        .create_logical_plan(&format!("SELECT CAST(NULL AS {t}) AS c"))
        .await
        .map_err(|e| bad(e.strip_backtrace()))?;
    let arrow = catalog::iceberg_compatible(plan.schema().as_arrow()).map_err(bad)?;
    arrow_type_to_type(arrow.field(0).data_type()).map_err(|e| bad(e.message().to_string()))
}

#[cfg(test)]
mod tests;

//! ALTER TABLE: add, rename and drop columns, as one schema change in one commit.
//!
//! Like iceberg's `UpdateSchema` action, an [`AlterTable`] collects the changes (each checked
//! against the table's current schema as it is added) and then commits them. On the REST
//! catalog iceberg's own schema update is used (it takes no renames); elsewhere the new schema
//! is committed with a snapshot of the same files, because iceberg-rust reads a snapshot's
//! files with that snapshot's schema.

use std::collections::HashMap;
use std::sync::Arc;

use iceberg::spec::{NestedField, NestedFieldRef, Operation, Schema, SchemaRef, Type};
use iceberg::table::Table;
use iceberg::transaction::{AddColumn, ApplyTransactionAction, Transaction};
use iceberg::TableUpdate;

use super::snapshot::{self, Removal, SnapshotChange, StagedCommit};
use super::table::CommitTarget;
use super::{LakehouseError, Result, TableTarget};

/// One change an ALTER TABLE made, for messages ("added column b").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnChange {
    Added(String),
    Dropped(String),
    Renamed { from: String, to: String },
}

impl std::fmt::Display for ColumnChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnChange::Added(c) => write!(f, "added column {c}"),
            ColumnChange::Dropped(c) => write!(f, "dropped column {c}"),
            ColumnChange::Renamed { from, to } => write!(f, "renamed column {from} to {to}"),
        }
    }
}

/// The column changes of one ALTER TABLE on a table as it was loaded.
#[derive(Debug, Clone)]
pub struct AlterTable {
    /// The table as messages name it.
    table: String,
    current: SchemaRef,
    adds: Vec<(String, Type)>,
    drops: Vec<String>,
    renames: Vec<(String, String)>,
}

impl AlterTable {
    /// No changes yet to `base` (named `table` in messages).
    pub fn new(table: &str, base: &Table) -> AlterTable {
        AlterTable {
            table: table.to_string(),
            current: base.metadata().current_schema().clone(),
            adds: vec![],
            drops: vec![],
            renames: vec![],
        }
    }

    fn has(&self, column: &str) -> bool {
        self.current.field_by_name(column).is_some()
    }

    fn column_not_found(&self, column: &str) -> LakehouseError {
        LakehouseError::ColumnNotFound {
            table: self.table.clone(),
            column: column.to_string(),
            columns: self
                .current
                .as_struct()
                .fields()
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Whether `column` can be added: false when the table has it and `if_not_exists` says
    /// to skip it, an error when the table has it otherwise.
    pub fn can_add_column(&self, column: &str, if_not_exists: bool) -> Result<bool> {
        if !self.has(column) {
            return Ok(true);
        }
        if if_not_exists {
            return Ok(false);
        }
        Err(LakehouseError::ColumnExists {
            table: self.table.clone(),
            column: column.to_string(),
        })
    }

    /// Adds an optional column of type `ty` (see [`AlterTable::can_add_column`]).
    pub fn add_column(&mut self, column: String, ty: Type, if_not_exists: bool) -> Result<()> {
        if self.can_add_column(&column, if_not_exists)? {
            self.adds.push((column, ty));
        }
        Ok(())
    }

    /// Drops `column`; a column the table lacks is an error unless `if_exists`.
    pub fn drop_column(&mut self, column: String, if_exists: bool) -> Result<()> {
        if !self.has(&column) {
            if if_exists {
                return Ok(());
            }
            return Err(self.column_not_found(&column));
        }
        self.drops.push(column);
        Ok(())
    }

    /// Renames column `from` to `to`, which the table must not have.
    pub fn rename_column(&mut self, from: String, to: String) -> Result<()> {
        if !self.has(&from) {
            return Err(self.column_not_found(&from));
        }
        if self.has(&to) {
            return Err(LakehouseError::RenameTargetExists {
                table: self.table.clone(),
                from,
                to,
            });
        }
        self.renames.push((from, to));
        Ok(())
    }

    /// True when there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty() && self.drops.is_empty() && self.renames.is_empty()
    }

    /// Commits the changes to `target` (`base` is the table they were checked against: a
    /// commit in between makes this one fail). Returns what changed, in the order of the new
    /// schema's columns; nothing is committed when there is nothing to change.
    pub async fn commit(self, target: &TableTarget, base: Table) -> Result<Vec<ColumnChange>> {
        let name = &target.name;
        let cannot = |e| LakehouseError::iceberg(format!("cannot alter table {name}"), e);
        let mut done = vec![];
        if self.is_empty() {
            return Ok(done);
        }
        if matches!(target.commit, CommitTarget::Rest) {
            if !self.renames.is_empty() {
                target.require_custom_commits("RENAME COLUMN")?;
            }
            // iceberg's own schema update, which the REST catalog takes.
            let tx = Transaction::new(&base);
            let mut action = tx.update_schema();
            for (col, ty) in self.adds {
                done.push(ColumnChange::Added(col.clone()));
                action = action.add_column(AddColumn::optional(col, ty));
            }
            for c in self.drops {
                done.push(ColumnChange::Dropped(c.clone()));
                action = action.delete_column(c);
            }
            let tx = action.apply(tx).map_err(cannot)?;
            tx.commit(target.catalog.as_ref()).await.map_err(cannot)?;
            return Ok(done);
        }
        let meta = base.metadata();
        let spec = meta.default_partition_spec();
        let mut fields: Vec<NestedFieldRef> = vec![];
        for f in self.current.as_struct().fields() {
            if self.drops.contains(&f.name) {
                if spec.fields().iter().any(|p| p.source_id == f.id) {
                    return Err(LakehouseError::PartitionColumn {
                        table: name.clone(),
                        column: f.name.clone(),
                    });
                }
                done.push(ColumnChange::Dropped(f.name.clone()));
                continue;
            }
            match self.renames.iter().find(|(o, _)| *o == f.name) {
                Some((o, n)) => {
                    let mut r = f.as_ref().clone();
                    r.name = n.clone();
                    done.push(ColumnChange::Renamed {
                        from: o.clone(),
                        to: n.clone(),
                    });
                    fields.push(Arc::new(r));
                }
                None => fields.push(f.clone()),
            }
        }
        let mut next = meta.last_column_id();
        for (col, ty) in self.adds {
            next += 1;
            done.push(ColumnChange::Added(col.clone()));
            fields.push(Arc::new(NestedField::optional(next, col, ty)));
        }
        let schema = Schema::builder()
            .with_fields(fields)
            .with_identifier_field_ids(self.current.identifier_field_ids())
            .build()
            .map_err(cannot)?;
        let pre = vec![
            TableUpdate::AddSchema { schema },
            TableUpdate::SetCurrentSchema { schema_id: -1 },
        ];
        if meta.current_snapshot().is_some() {
            // iceberg-rust resolves a scan's columns with its snapshot's schema: without a
            // snapshot of the new schema (the same files, no data change: "replace"), added or
            // renamed columns could not be read until the next write.
            let staged_table = snapshot::stage_metadata(&base, &pre).map_err(cannot)?;
            let change = SnapshotChange {
                operation: Operation::Replace,
                added: vec![],
                removal: Removal::Nothing,
                properties: target.summary.clone(),
            };
            target
                .commit_change(base.clone(), Some(staged_table), change, pre, false)
                .await?;
        } else {
            let mut requirements = snapshot::base_requirements(meta);
            requirements.extend(snapshot::schema_requirements(meta));
            let staged = StagedCommit {
                requirements,
                updates: pre,
                ..Default::default()
            };
            target.commit(&base, staged).await?;
        }
        Ok(done)
    }
}

/// `ALTER TABLE … SET TBLPROPERTIES`: sets `set` and removes `unset` in one commit of the
/// metadata (no snapshot). The resulting properties are checked first (a codec the writer does
/// not know, a format version other than 2), so a table never carries properties its next
/// write would fail on. Returns the keys changed.
pub async fn set_properties(
    target: &TableTarget,
    base: Table,
    set: HashMap<String, String>,
    unset: Vec<String>,
) -> Result<usize> {
    let name = &target.name;
    let meta = base.metadata();
    let mut after = meta.properties().clone();
    after.extend(set.clone());
    for k in &unset {
        after.remove(k);
    }
    match set.get("format-version").map(String::as_str) {
        None | Some("2") => {}
        Some(v) => {
            return Err(LakehouseError::InvalidProperty(format!(
                "'format-version' = '{v}' for {name}: the kernel writes Iceberg format version 2 tables and cannot upgrade them"
            )))
        }
    }
    let mut set = set;
    set.remove("format-version");
    super::write_properties::writer_properties(&after).map_err(|e| {
        LakehouseError::InvalidProperty(format!("{e} (table {name}; nothing was changed)"))
    })?;
    let unset: Vec<String> = unset
        .into_iter()
        .filter(|k| meta.properties().contains_key(k))
        .collect();
    let changed = set.len() + unset.len();
    if changed == 0 {
        return Ok(0);
    }
    let cannot = |e| LakehouseError::iceberg(format!("cannot alter table {name}"), e);
    if matches!(target.commit, CommitTarget::Rest) {
        let tx = Transaction::new(&base);
        let mut action = tx.update_table_properties();
        for (k, v) in set {
            action = action.set(k, v);
        }
        for k in unset {
            action = action.remove(k);
        }
        let tx = action.apply(tx).map_err(cannot)?;
        tx.commit(target.catalog.as_ref()).await.map_err(cannot)?;
        return Ok(changed);
    }
    let mut updates = vec![];
    if !set.is_empty() {
        updates.push(TableUpdate::SetProperties { updates: set });
    }
    if !unset.is_empty() {
        updates.push(TableUpdate::RemoveProperties { removals: unset });
    }
    let staged = StagedCommit {
        requirements: snapshot::base_requirements(meta),
        updates,
        ..Default::default()
    };
    target.commit(&base, staged).await?;
    Ok(changed)
}

//! Commits: one Nessie commit per table change, with the conflict handling and the
//! "did it land?" check Java's NessieCatalog has.

use super::*;

impl NessieCatalog {
    pub(super) async fn commit(
        &self,
        expected_hash: &str,
        message: String,
        extra: &[(&str, &str)],
        ops: &[Operation],
    ) -> Result<String, CallError> {
        self.client()
            .commit(
                &self.reference,
                expected_hash,
                self.commit_meta(message, extra),
                ops,
            )
            .await
    }

    /// After a commit whose HTTP call failed: asks Nessie (a few times) whether `key` now holds
    /// what the commit wrote. `None` when Nessie cannot tell us.
    pub(super) async fn commit_landed(
        &self,
        key: &ContentKey,
        landed: impl Fn(Option<&Content>) -> bool,
    ) -> Option<bool> {
        for delay_ms in [200u64, 1000, 3000] {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            if let Ok(resp) = self
                .client()
                .get_contents(&self.reference, std::slice::from_ref(key))
                .await
            {
                let content = resp
                    .contents
                    .iter()
                    .find(|c| &c.key == key)
                    .map(|c| &c.content);
                return Some(landed(content));
            }
        }
        None
    }

    pub(super) async fn delete_quietly(&self, location: &str) {
        let _ = self.shared.file_io.delete(location).await;
    }

    /// Finds the newest commit on this branch that changed `key` (after `since`, if given).
    pub(super) async fn last_change_of(
        &self,
        key: &ContentKey,
        since: Option<&str>,
    ) -> Option<LogEntry> {
        let entries = self
            .client()
            .log(&self.reference, 50, since, true)
            .await
            .ok()?;
        entries
            .iter()
            .filter(|e| Some(e.commit_meta.hash.as_deref()) != Some(since))
            .find(|e| {
                e.operations
                    .as_ref()
                    .is_some_and(|ops| ops.iter().any(|o| o.key.as_ref() == Some(key)))
            })
            .map(|e| e.to_log_entry())
    }

    pub(super) async fn conflict_error(
        &self,
        table: &TableIdent,
        key: &ContentKey,
        since: Option<&str>,
        why: &str,
    ) -> NessieError {
        let detail = match self.last_change_of(key, since).await {
            Some(c) => format!(
                "{why}; it was changed by commit {} (\"{}\" by {}{}). Reload the table and run the statement again",
                short(&c.hash),
                c.message,
                c.author,
                c.commit_time
                    .map(|t| format!(" at {}", t.to_rfc3339()))
                    .unwrap_or_default()
            ),
            None => format!("{why}. Reload the table and run the statement again"),
        };
        NessieError::CommitConflict {
            table: table.to_string(),
            branch: self.reference.clone(),
            detail,
        }
    }

    /// Handles a failed table commit that wrote `new_location`. Returns `None` when the commit
    /// turns out to have landed after all.
    pub(super) async fn after_failed_commit(
        &self,
        e: CallError,
        ident: &TableIdent,
        key: &ContentKey,
        action: &str,
        expected_hash: &str,
        new_location: &str,
    ) -> Option<NessieError> {
        if e.outcome_unknown() {
            let landed = self
                .commit_landed(key, |c| {
                    matches!(c, Some(Content::IcebergTable { metadata_location, .. }) if metadata_location == new_location)
                })
                .await;
            return match landed {
                Some(true) => None,
                Some(false) => {
                    self.delete_quietly(new_location).await;
                    Some(self.client().generic(e))
                }
                None => Some(NessieError::CommitStateUnknown {
                    what: action.to_string(),
                    branch: self.reference.clone(),
                    uri: self.uri().to_string(),
                    detail: match self.client().generic(e) {
                        NessieError::Unreachable { detail, .. } => detail,
                        other => other.to_string(),
                    },
                }),
            };
        }
        self.delete_quietly(new_location).await;
        if e.status() == Some(StatusCode::CONFLICT) {
            let conflicts = match &e {
                CallError::Status { conflicts, .. } => conflicts.clone(),
                _ => vec![],
            };
            let types: Vec<&str> = conflicts
                .iter()
                .filter_map(|c| c.conflict_type.as_deref())
                .collect();
            if types.contains(&"NAMESPACE_ABSENT") {
                return Some(self.namespace_not_found(ident.namespace()).await);
            }
            if types.contains(&"KEY_EXISTS") {
                return Some(NessieError::AlreadyExists {
                    what: format!("table {ident}"),
                    reference: self.describe_ref(),
                    existing: "created by a concurrent commit".to_string(),
                });
            }
            let why = conflicts
                .first()
                .map(|c| c.message.clone())
                .unwrap_or_else(|| "the branch moved".to_string());
            return Some(
                self.conflict_error(ident, key, Some(expected_hash), &why)
                    .await,
            );
        }
        Some(self.fail(e).await)
    }

    pub(super) async fn do_update_table(&self, mut commit: TableCommit) -> Result<Table> {
        let ident = commit.identifier().clone();
        let requirements: Vec<TableRequirement> = commit.take_requirements();
        let updates: Vec<TableUpdate> = commit.take_updates();
        self.commit_table_updates(ident, requirements, updates)
            .await
    }

    /// Commits `updates` to table `ident` on this catalog's reference when `requirements` hold
    /// for its current metadata: what [`Catalog::update_table`] does for a `TableCommit`, for
    /// callers that build their own updates (iceberg-rust 0.10 lets no code outside it build a
    /// `TableCommit`; the kernel's overwrite, delete and replace commits come this way).
    ///
    /// A concurrent commit to another table of the branch is retried; a concurrent change to
    /// this table that breaks a requirement fails with [`NessieError::CommitConflict`]; a
    /// failure whose outcome cannot be known is [`NessieError::CommitStateUnknown`].
    pub async fn commit_table_updates(
        &self,
        ident: TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> Result<Table> {
        let key = table_key(&ident);
        let mut stale_hash: Option<String> = None;
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            let (contents, eff) = self.contents(std::slice::from_ref(&key)).await?;
            let head = self.writable(&format!("commit to table {ident}"), &eff)?;
            let (content_id, current_location) = match contents.get(&key) {
                Some(Content::IcebergTable {
                    id,
                    metadata_location,
                    ..
                }) => (id.clone(), metadata_location.clone()),
                _ => return Err(self.table_not_found(&ident).await),
            };
            let current = TableMetadata::read_from(&self.shared.file_io, &current_location).await?;
            if let Some(failed) = requirements
                .iter()
                .find_map(|r| r.check(Some(&current)).err())
            {
                return Err(self
                    .conflict_error(&ident, &key, stale_hash.as_deref(), failed.message())
                    .await);
            }
            let mut builder = current.clone().into_builder(Some(current_location.clone()));
            for update in updates.iter().cloned() {
                builder = update.apply(builder)?;
            }
            let new_metadata = builder.build()?.metadata;
            let new_ml = match MetadataLocation::from_str(&current_location) {
                Ok(l) => l.with_next_version().with_new_metadata(&new_metadata),
                Err(_) => {
                    MetadataLocation::new_with_metadata(new_metadata.location(), &new_metadata)
                }
            };
            new_metadata.write_to(&self.shared.file_io, &new_ml).await?;
            let new_location = new_ml.to_string();

            let (message, operation) = describe_update(&ident, &current, &new_metadata, &updates);
            let extra: Vec<(&str, &str)> = operation
                .iter()
                .map(|op| ("iceberg.operation", op.as_str()))
                .collect();
            let ops = [Operation::Put {
                key: key.clone(),
                content: Self::table_content(content_id, &new_location, &new_metadata),
            }];
            match self.commit(&head, message.clone(), &extra, &ops).await {
                Ok(_) => return Ok(self.build_table(ident, new_location, new_metadata)?),
                Err(e)
                    if e.status() == Some(StatusCode::CONFLICT)
                        && attempt < MAX_COMMIT_ATTEMPTS =>
                {
                    // The table changed after we read it: drop what we wrote, refresh, and
                    // re-check the requirements against the new version.
                    self.delete_quietly(&new_location).await;
                    stale_hash = Some(head);
                }
                Err(e) => {
                    return match self
                        .after_failed_commit(e, &ident, &key, &message, &head, &new_location)
                        .await
                    {
                        None => Ok(self.build_table(ident, new_location, new_metadata)?),
                        Some(err) => Err(err),
                    };
                }
            }
        }
        unreachable!("the last attempt returns")
    }
}

/// The commit message (what was done, in SQL terms) and the snapshot operation, if any.
pub(super) fn describe_update(
    ident: &TableIdent,
    before: &TableMetadata,
    after: &TableMetadata,
    updates: &[TableUpdate],
) -> (String, Option<SnapshotOperation>) {
    if after.current_snapshot_id() != before.current_snapshot_id() {
        if let Some(snapshot) = after.current_snapshot() {
            let op = snapshot.summary().operation.clone();
            let verb = match op {
                SnapshotOperation::Append => format!("INSERT INTO {ident}"),
                SnapshotOperation::Overwrite => format!("INSERT OVERWRITE {ident}"),
                SnapshotOperation::Delete => format!("DELETE FROM {ident}"),
                SnapshotOperation::Replace => format!("REWRITE TABLE {ident}"),
            };
            return (verb, Some(op));
        }
        return (format!("ALTER TABLE {ident} (set current snapshot)"), None);
    }
    if after.current_schema_id() != before.current_schema_id() {
        return (format!("ALTER TABLE {ident} (schema change)"), None);
    }
    if updates
        .iter()
        .any(|u| matches!(u, TableUpdate::RemoveSnapshots { .. }))
    {
        return (format!("ALTER TABLE {ident} (expire snapshots)"), None);
    }
    if after.properties() != before.properties() {
        return (format!("ALTER TABLE {ident} SET TBLPROPERTIES"), None);
    }
    (format!("ALTER TABLE {ident}"), None)
}

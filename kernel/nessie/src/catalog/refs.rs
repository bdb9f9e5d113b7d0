//! Branch and tag operations: list, create, drop, assign, merge, log.

use super::*;

impl NessieCatalog {
    /// All branches and tags.
    pub async fn list_references(&self) -> Result<Vec<Reference>> {
        let mut refs = self
            .client()
            .list_references()
            .await
            .map_err(|e| self.client().generic(e))?;
        refs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(refs)
    }

    /// One branch or tag; an unknown name lists the existing ones.
    pub async fn get_reference(&self, name: &str) -> Result<Reference> {
        match self.client().get_reference(name).await {
            Ok(r) => r
                .into_reference()
                .ok_or_else(|| NessieError::Config(format!("'{name}' is not a branch or tag"))),
            Err(e) if e.is_reference_not_found() || e.status() == Some(StatusCode::NOT_FOUND) => {
                Err(self.reference_not_found(name).await)
            }
            Err(e) => Err(self.client().generic(e)),
        }
    }

    /// Resolves `name`, `name@hash` or a relative spec such as `name@*1737021600000` (the
    /// commit that was HEAD at that time, epoch milliseconds; see [`at_time`]) to a concrete
    /// commit. `None` means this catalog's reference.
    pub async fn resolve(&self, spec: Option<&str>) -> Result<Reference> {
        let (name, hash) = match spec {
            Some(s) => parse_ref_spec(s),
            None => (self.reference.clone(), self.hash.clone()),
        };
        let mut r = self.get_reference(&name).await?;
        match hash {
            Some(h) if h.contains(['*', '~', '^']) => {
                // Nessie resolves relative parts on read: ask for any key and keep the
                // effective reference it answers with.
                let probe = [ContentKey {
                    elements: vec!["lakehouse-kernel-resolve".to_string()],
                }];
                let pinned = self.with_reference(&name, Some(h.clone()));
                match self
                    .client()
                    .get_contents(&ref_path(&name, Some(&h)), &probe)
                    .await
                {
                    Ok(resp) => {
                        r.hash = resp
                            .effective_reference
                            .and_then(|e| e.hash)
                            .unwrap_or_default()
                    }
                    Err(e) => return Err(pinned.fail(e).await),
                }
            }
            Some(h) => r.hash = h,
            None => {}
        }
        Ok(r)
    }

    /// Creates branch or tag `name` at `from` (`ref` or `ref@hash`; default: this catalog's
    /// reference and commit).
    pub async fn create_reference(
        &self,
        name: &str,
        kind: RefKind,
        from: Option<&str>,
    ) -> Result<Reference> {
        let source = self.resolve(from).await?;
        match self
            .client()
            .create_reference(name, kind, &RawReference::from_reference(&source))
            .await
        {
            Ok(r) => r.into_reference().ok_or_else(|| {
                NessieError::Config(format!(
                    "Nessie returned an unexpected reference for '{name}'"
                ))
            }),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                let existing = match self.client().get_reference(name).await {
                    Ok(r) => r
                        .into_reference()
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                    Err(_) => String::new(),
                };
                Err(NessieError::ReferenceAlreadyExists {
                    name: name.to_string(),
                    existing,
                })
            }
            Err(e) if e.is_reference_not_found() => {
                Err(self.reference_not_found(&source.name).await)
            }
            Err(e) => Err(self.client().generic(e)),
        }
    }

    /// Deletes a branch or tag (at its current HEAD).
    pub async fn delete_reference(&self, name: &str) -> Result<()> {
        let r = self.get_reference(name).await?;
        self.client()
            .delete_reference(&r)
            .await
            .map_err(|e| self.client().generic(e))
    }

    /// Points branch or tag `name` at `to` (`ref` or `ref@hash`).
    pub async fn assign_reference(&self, name: &str, to: &str) -> Result<Reference> {
        let current = self.get_reference(name).await?;
        let target = self.resolve(Some(to)).await?;
        let r = self
            .client()
            .assign_reference(&current, &RawReference::from_reference(&target))
            .await
            .map_err(|e| self.client().generic(e))?;
        r.into_reference().ok_or_else(|| {
            NessieError::Config(format!(
                "Nessie returned an unexpected reference for '{name}'"
            ))
        })
    }

    /// Merges the HEAD of `from` into branch `into`. Conflicting keys (changed on both sides)
    /// fail the merge with [`NessieError::MergeConflict`] and leave `into` unchanged.
    pub async fn merge(&self, from: &str, into: &str) -> Result<MergeOutcome> {
        let source = self.resolve(Some(from)).await?;
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            let target = self.get_reference(into).await?;
            if target.kind != RefKind::Branch {
                return Err(NessieError::ReadOnlyReference {
                    action: format!("merge {from}"),
                    reference: format!("tag '{into}'"),
                    reason: "only branches can be merged into".to_string(),
                });
            }
            // The merge commit carries the same author and properties as the catalog's commits
            // (with_commit_extra: the kernel's lineage).
            let meta = self.commit_meta(
                format!("MERGE BRANCH {} INTO {}", source.name, target.name),
                &[],
            );
            match self.client().merge(&target, &source, meta).await {
                Ok(resp) => {
                    let hash = match resp.resultant_target_hash {
                        Some(h) => h,
                        None => self.get_reference(into).await?.hash,
                    };
                    return Ok(MergeOutcome {
                        target: Reference { hash, ..target },
                        merged_hash: source.hash.clone(),
                    });
                }
                Err(CallError::Status {
                    status, conflicts, ..
                }) if status == StatusCode::CONFLICT && !conflicts.is_empty() => {
                    let mut keys: Vec<String> = conflicts
                        .iter()
                        .map(|c| match &c.key {
                            Some(k) => k.to_string(),
                            None => c.message.clone(),
                        })
                        .collect();
                    keys.sort();
                    keys.dedup();
                    return Err(NessieError::MergeConflict {
                        from: from.to_string(),
                        into: into.to_string(),
                        keys,
                    });
                }
                // The target moved between reading its HEAD and merging: read it again.
                Err(e)
                    if e.status() == Some(StatusCode::CONFLICT)
                        && attempt < MAX_COMMIT_ATTEMPTS => {}
                Err(e) => return Err(self.client().generic(e)),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// The newest `limit` commits of `reference` (`name` or `name@hash`; default: this
    /// catalog's reference), newest first.
    pub async fn log(&self, reference: Option<&str>, limit: usize) -> Result<Vec<LogEntry>> {
        let spec = match reference {
            Some(r) => r.to_string(),
            None => self.read_ref(),
        };
        match self.client().log(&spec, limit, None, false).await {
            Ok(entries) => Ok(entries.iter().map(RawLogEntry::to_log_entry).collect()),
            Err(e) if e.is_reference_not_found() => {
                let (name, _) = parse_ref_spec(&spec);
                Err(self.reference_not_found(&name).await)
            }
            Err(e) => Err(self.client().generic(e)),
        }
    }
}

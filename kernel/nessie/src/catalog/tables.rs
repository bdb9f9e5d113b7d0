//! Tables as Nessie `ICEBERG_TABLE` content: load, create, drop, rename, register.

use super::*;

impl NessieCatalog {
    pub(super) fn build_table(
        &self,
        ident: TableIdent,
        location: String,
        metadata: TableMetadata,
    ) -> iceberg::Result<Table> {
        Table::builder()
            .file_io(self.shared.file_io.clone())
            .identifier(ident)
            .metadata_location(location)
            .metadata(metadata)
            .runtime(Runtime::try_current()?)
            .build()
    }

    pub(super) async fn table_not_found(&self, t: &TableIdent) -> NessieError {
        let existing = match self.tables_in(t.namespace()).await {
            Ok(tables) => tables.into_iter().map(|t| t.name().to_string()).collect(),
            Err(_) => vec![],
        };
        NessieError::TableNotFound {
            table: t.to_string(),
            namespace: dotted(t.namespace()),
            reference: self.describe_ref(),
            existing,
        }
    }

    pub(super) async fn tables_in(&self, ns: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        let n = ns.len();
        let filter = format!(
            "(entry.contentType == 'ICEBERG_TABLE' && size(entry.keyElements) == {}) || (entry.contentType == 'NAMESPACE' && size(entry.keyElements) == {n})",
            n + 1
        );
        let entries = match self.client().entries(&self.read_ref(), &filter).await {
            Ok(e) => e,
            Err(e) => return Err(self.fail(e).await),
        };
        let prefix: &[String] = &ns[..];
        let mut ns_found = false;
        let mut tables = vec![];
        for e in entries {
            let el = &e.name.elements;
            if e.kind == "NAMESPACE" && el.as_slice() == prefix {
                ns_found = true;
            } else if e.kind == "ICEBERG_TABLE" && el.len() == n + 1 && el.starts_with(prefix) {
                tables.push(TableIdent::new(ns.clone(), el[n].clone()));
            }
        }
        if !ns_found && tables.is_empty() {
            return Err(self.namespace_not_found(ns).await);
        }
        tables.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(tables)
    }

    pub(super) fn table_content(id: Option<String>, location: &str, m: &TableMetadata) -> Content {
        Content::IcebergTable {
            id,
            metadata_location: location.to_string(),
            snapshot_id: m.current_snapshot_id().unwrap_or(-1),
            schema_id: m.current_schema_id(),
            spec_id: m.default_partition_spec_id(),
            sort_order_id: m.default_sort_order_id(),
        }
    }

    // --- typed table operations (the iceberg::Catalog impl delegates here) ---------------------

    pub(super) async fn do_load_table(&self, ident: &TableIdent) -> Result<Table> {
        let key = table_key(ident);
        let (contents, _) = self.contents(std::slice::from_ref(&key)).await?;
        match contents.get(&key) {
            Some(Content::IcebergTable {
                metadata_location, ..
            }) => {
                let metadata =
                    TableMetadata::read_from(&self.shared.file_io, metadata_location).await?;
                Ok(self.build_table(ident.clone(), metadata_location.clone(), metadata)?)
            }
            Some(other) => Err(NessieError::Config(format!(
                "{ident} on {} is a {}, not an Iceberg table",
                self.describe_ref(),
                other.kind_name()
            ))),
            None => Err(self.table_not_found(ident).await),
        }
    }

    pub(super) async fn do_create_table(
        &self,
        ns: &NamespaceIdent,
        mut creation: TableCreation,
    ) -> Result<Table> {
        // The location below is built from the names: they must not leave the namespace's folder.
        check_namespace(ns)?;
        check_path_name("table", &creation.name).map_err(NessieError::InvalidName)?;
        let ident = TableIdent::new(ns.clone(), creation.name.clone());
        let action = format!("CREATE TABLE {ident}");
        let (nk, tk) = (ns_key(ns), table_key(&ident));
        let (contents, eff) = self.contents(&[nk.clone(), tk.clone()]).await?;
        let head = self.writable(&action, &eff)?;
        if let Some(existing) = contents.get(&tk) {
            return Err(NessieError::AlreadyExists {
                what: format!("table {ident}"),
                reference: self.describe_ref(),
                existing: format!("a {}", existing.kind_name()),
            });
        }
        let ns_props = match contents.get(&nk) {
            Some(Content::Namespace { properties, .. }) => properties.clone(),
            _ => return Err(self.namespace_not_found(ns).await),
        };
        // As Java's NessieCatalog: tables of the same name on different branches are different
        // tables, so each gets its own directory (`name_<uuid>`).
        let unique = format!("{}_{}", ident.name(), uuid::Uuid::new_v4().simple());
        let location = match creation.location.take() {
            Some(l) => l.trim_end_matches('/').to_string(),
            None => match ns_props.get(NAMESPACE_LOCATION) {
                Some(l) => format!("{}/{unique}", l.trim_end_matches('/')),
                None => format!(
                    "{}/{}/{unique}",
                    self.shared.warehouse,
                    ns.as_ref().join("/"),
                ),
            },
        };
        creation.location = Some(location.clone());
        // Java's NessieCatalog defaults: files may still be referenced from other branches,
        // tags and older commits, so Iceberg's own snapshot expiry and metadata clean-up must
        // not delete them (Nessie GC does that). Spark refuses expire_snapshots on such tables.
        for (key, value) in JAVA_TABLE_DEFAULTS {
            creation
                .properties
                .entry(key.to_string())
                .or_insert_with(|| value.to_string());
        }
        let metadata = TableMetadataBuilder::from_table_creation(creation)?
            .build()?
            .metadata;
        let new_ml = MetadataLocation::new_with_metadata(&location, &metadata);
        metadata.write_to(&self.shared.file_io, &new_ml).await?;
        let metadata_location = new_ml.to_string();
        let ops = [Operation::Put {
            key: tk.clone(),
            content: Self::table_content(None, &metadata_location, &metadata),
        }];
        match self.commit(&head, action.clone(), &[], &ops).await {
            Ok(_) => Ok(self.build_table(ident, metadata_location, metadata)?),
            Err(e) => {
                let err = self
                    .after_failed_commit(e, &ident, &tk, &action, &head, &metadata_location)
                    .await;
                match err {
                    None => Ok(self.build_table(ident, metadata_location, metadata)?),
                    Some(err) => Err(err),
                }
            }
        }
    }

    pub(super) async fn do_drop_table(&self, ident: &TableIdent) -> Result<()> {
        let key = table_key(ident);
        let action = format!("DROP TABLE {ident}");
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            let (contents, eff) = self.contents(std::slice::from_ref(&key)).await?;
            let head = self.writable(&action, &eff)?;
            if !matches!(contents.get(&key), Some(Content::IcebergTable { .. })) {
                return Err(self.table_not_found(ident).await);
            }
            match self
                .commit(
                    &head,
                    action.clone(),
                    &[],
                    &[Operation::Delete { key: key.clone() }],
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.status() == Some(StatusCode::CONFLICT)
                        && attempt < MAX_COMMIT_ATTEMPTS => {}
                Err(e) if e.outcome_unknown() => {
                    return match self.commit_landed(&key, |c| c.is_none()).await {
                        Some(true) => Ok(()),
                        Some(false) => Err(self.client().generic(e)),
                        None => Err(NessieError::CommitStateUnknown {
                            what: action,
                            branch: self.reference.clone(),
                            uri: self.uri().to_string(),
                            detail: self.client().generic(e).to_string(),
                        }),
                    };
                }
                Err(e) => return Err(self.fail(e).await),
            }
        }
        unreachable!("the last attempt returns")
    }

    pub(super) async fn do_rename_table(&self, src: &TableIdent, dest: &TableIdent) -> Result<()> {
        // A renamed table keeps its folder; refusing the name here too means no table ever
        // carries a name that CREATE TABLE would refuse (a later CREATE OR REPLACE reuses it).
        check_namespace(dest.namespace())?;
        check_path_name("table", dest.name()).map_err(NessieError::InvalidName)?;
        let action = format!("ALTER TABLE {src} RENAME TO {dest}");
        let (sk, dk, dnk) = (table_key(src), table_key(dest), ns_key(dest.namespace()));
        let (contents, eff) = self
            .contents(&[sk.clone(), dk.clone(), dnk.clone()])
            .await?;
        let head = self.writable(&action, &eff)?;
        let content = match contents.get(&sk) {
            Some(c @ Content::IcebergTable { .. }) => c.clone(),
            _ => return Err(self.table_not_found(src).await),
        };
        if let Some(existing) = contents.get(&dk) {
            return Err(NessieError::AlreadyExists {
                what: format!("table {dest}"),
                reference: self.describe_ref(),
                existing: format!("a {}", existing.kind_name()),
            });
        }
        if !matches!(contents.get(&dnk), Some(Content::Namespace { .. })) {
            return Err(self.namespace_not_found(dest.namespace()).await);
        }
        let ops = [
            Operation::Delete { key: sk },
            Operation::Put { key: dk, content },
        ];
        match self.commit(&head, action, &[], &ops).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => Err(self
                .conflict_error(
                    src,
                    &table_key(src),
                    Some(&head),
                    "the table changed during the rename",
                )
                .await),
            Err(e) => Err(self.fail(e).await),
        }
    }

    pub(super) async fn do_register_table(
        &self,
        ident: &TableIdent,
        metadata_location: String,
    ) -> Result<Table> {
        let action = format!("REGISTER TABLE {ident}");
        let (nk, tk) = (ns_key(ident.namespace()), table_key(ident));
        let (contents, eff) = self.contents(&[nk.clone(), tk.clone()]).await?;
        let head = self.writable(&action, &eff)?;
        if let Some(existing) = contents.get(&tk) {
            return Err(NessieError::AlreadyExists {
                what: format!("table {ident}"),
                reference: self.describe_ref(),
                existing: format!("a {}", existing.kind_name()),
            });
        }
        if !matches!(contents.get(&nk), Some(Content::Namespace { .. })) {
            return Err(self.namespace_not_found(ident.namespace()).await);
        }
        let metadata = TableMetadata::read_from(&self.shared.file_io, &metadata_location).await?;
        let ops = [Operation::Put {
            key: tk,
            content: Self::table_content(None, &metadata_location, &metadata),
        }];
        match self.commit(&head, action, &[], &ops).await {
            Ok(_) => Ok(self.build_table(ident.clone(), metadata_location, metadata)?),
            Err(e) => Err(self.fail(e).await),
        }
    }

    // --- namespaces ---------------------------------------------------------------------------
}

//! Tests against a real Nessie server (and SeaweedFS S3 for the S3 warehouse).
//!
//! Start the servers from the repo root, then run the tests with their variables:
//!
//! ```sh
//! eval "$(python3 -m tests.services start)"
//! cargo test --release -p lakehouse-nessie
//! ```
//!
//! Without `NESSIE_URI` every test here prints a notice and passes, so a plain `cargo test`
//! on a machine without the services still succeeds. Each test uses its own namespace (and
//! branch names) so they can share one in-memory server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Int64Array, RecordBatch, StringArray};
use futures::TryStreamExt;
use iceberg::spec::{DataFileFormat, NestedField, PrimitiveType, Schema, Type};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::{Catalog, ErrorKind, NamespaceIdent, TableCreation, TableIdent};
use lakehouse_nessie::{NessieCatalog, NessieConfig, NessieError, RefKind};
use parquet::file::properties::WriterProperties;
use tokio::net::{TcpListener, TcpStream};

// --- setup ------------------------------------------------------------------------------------

enum Warehouse {
    Local,
    S3,
}

fn nessie_uri() -> Option<String> {
    match std::env::var("NESSIE_URI") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!(
                "NESSIE_URI is not set: skipping this Nessie server test \
                 (start the servers with `eval \"$(python3 -m tests.services start)\"`)"
            );
            None
        }
    }
}

fn s3_props() -> Option<HashMap<String, String>> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok()?;
    let mut p = HashMap::new();
    p.insert("s3.endpoint".to_string(), endpoint);
    p.insert(
        "s3.access-key-id".to_string(),
        std::env::var("AWS_ACCESS_KEY_ID").ok()?,
    );
    p.insert(
        "s3.secret-access-key".to_string(),
        std::env::var("AWS_SECRET_ACCESS_KEY").ok()?,
    );
    p.insert(
        "s3.region".to_string(),
        std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
    );
    p.insert("s3.path-style-access".to_string(), "true".to_string());
    Some(p)
}

fn local_warehouse() -> String {
    let dir = std::env::temp_dir().join(format!("lakehouse-nessie-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.to_string_lossy().into_owned()
}

fn catalog_at(uri: &str, wh: Warehouse) -> Option<NessieCatalog> {
    let (warehouse, file_io_props) = match wh {
        Warehouse::Local => (local_warehouse(), HashMap::new()),
        Warehouse::S3 => {
            let Some(props) = s3_props() else {
                eprintln!("AWS_ENDPOINT_URL/keys not set: skipping the S3 warehouse test");
                return None;
            };
            let wh = std::env::var("LAKEHOUSE_WAREHOUSE")
                .unwrap_or_else(|_| "s3://lakehouse/warehouse".into());
            (wh, props)
        }
    };
    Some(
        NessieCatalog::new(NessieConfig {
            uri: uri.to_string(),
            reference: "main".into(),
            warehouse,
            token: None,
            file_io_props,
            author: Some("nessie-tests".into()),
        })
        .unwrap(),
    )
}

fn catalog(wh: Warehouse) -> Option<NessieCatalog> {
    catalog_at(&nessie_uri()?, wh)
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

fn schema() -> Schema {
    Schema::builder()
        .with_fields(vec![
            NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String)).into(),
        ])
        .build()
        .unwrap()
}

async fn create_table(cat: &NessieCatalog, ns: &NamespaceIdent, name: &str) -> Table {
    cat.create_table(
        ns,
        TableCreation::builder()
            .name(name.to_string())
            .schema(schema())
            .build(),
    )
    .await
    .unwrap()
}

/// Writes `ids` into a new parquet data file of `table` with iceberg's writers and commits a
/// fast append through `cat`.
async fn append(cat: &NessieCatalog, table: &Table, ids: &[i64]) -> iceberg::Result<Table> {
    let schema = table.metadata().current_schema().clone();
    let arrow_schema = Arc::new(iceberg::arrow::schema_to_arrow_schema(&schema)?);
    let names: Vec<String> = ids.iter().map(|i| format!("row-{i}")).collect();
    let batch = RecordBatch::try_new(
        arrow_schema,
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from(names)),
        ],
    )
    .unwrap();
    let rolling = RollingFileWriterBuilder::new_with_default_file_size(
        ParquetWriterBuilder::new(WriterProperties::default(), schema),
        table.file_io().clone(),
        DefaultLocationGenerator::new(table.metadata())?,
        DefaultFileNameGenerator::new(
            "data".to_string(),
            Some(uuid::Uuid::new_v4().to_string()),
            DataFileFormat::Parquet,
        ),
    );
    let mut writer = DataFileWriterBuilder::new(rolling).build(None).await?;
    writer.write(batch).await?;
    let files = writer.close().await?;
    let tx = Transaction::new(table);
    let tx = tx.fast_append().add_data_files(files).apply(tx)?;
    tx.commit(cat).await
}

async fn ids_in(cat: &NessieCatalog, ident: &TableIdent) -> Vec<i64> {
    let table = cat.load_table(ident).await.unwrap();
    if table.metadata().current_snapshot().is_none() {
        return vec![];
    }
    let batches: Vec<RecordBatch> = table
        .scan()
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    ids.sort();
    ids
}

// --- tests ------------------------------------------------------------------------------------

async fn lifecycle(cat: NessieCatalog) {
    let ns_name = unique("life");
    let ns = NamespaceIdent::new(ns_name.clone());
    let props: HashMap<String, String> = [("owner".to_string(), "tests".to_string())].into();
    cat.create_namespace(&ns, props.clone()).await.unwrap();
    assert!(cat.namespace_exists(&ns).await.unwrap());
    assert_eq!(cat.get_namespace(&ns).await.unwrap().properties(), &props);
    assert!(cat.list_namespaces(None).await.unwrap().contains(&ns));
    let err = cat.create_namespace(&ns, HashMap::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NamespaceAlreadyExists, "{err}");

    let mut new_props = props.clone();
    new_props.insert("comment".into(), "updated".into());
    cat.update_namespace(&ns, new_props.clone()).await.unwrap();
    assert_eq!(
        cat.get_namespace(&ns).await.unwrap().properties(),
        &new_props
    );

    // Nested namespace.
    let child = NamespaceIdent::from_strs([ns_name.as_str(), "child"]).unwrap();
    cat.create_namespace(&child, HashMap::new()).await.unwrap();
    assert_eq!(
        cat.list_namespaces(Some(&ns)).await.unwrap(),
        vec![child.clone()]
    );

    let table = create_table(&cat, &ns, "events").await;
    let ident = table.identifier().clone();
    // `events_<uuid>`, as Java's NessieCatalog places tables.
    let ml = table.metadata_location().unwrap();
    let dir = ml
        .strip_prefix(&format!("{}/{ns_name}/events_", cat.warehouse()))
        .unwrap_or_else(|| panic!("unexpected location {ml}"));
    assert!(dir.split('/').nth(1) == Some("metadata"), "{ml}");
    assert!(dir.split('/').nth(2).unwrap().starts_with("00000-"), "{ml}");
    let props = table.metadata().properties();
    assert_eq!(props.get("gc.enabled").map(String::as_str), Some("false"));
    assert_eq!(
        props
            .get("write.metadata.delete-after-commit.enabled")
            .map(String::as_str),
        Some("false")
    );
    assert!(cat.table_exists(&ident).await.unwrap());
    assert_eq!(cat.list_tables(&ns).await.unwrap(), vec![ident.clone()]);
    let err = cat
        .create_table(
            &ns,
            TableCreation::builder()
                .name("events".into())
                .schema(schema())
                .build(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableAlreadyExists, "{err}");

    let loaded = cat.load_table(&ident).await.unwrap();
    assert_eq!(loaded.metadata().uuid(), table.metadata().uuid());

    let appended = append(&cat, &loaded, &[1, 2, 3]).await.unwrap();
    assert!(appended
        .metadata_location()
        .unwrap()
        .contains("/metadata/00001-"));
    assert_eq!(ids_in(&cat, &ident).await, vec![1, 2, 3]);

    // Other tests commit to main at the same time: keep this test's commits only.
    let log: Vec<_> = cat
        .log(None, 200)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.message.contains(&ns_name))
        .collect();
    let messages: Vec<&str> = log.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            format!("INSERT INTO {ns_name}.events"),
            format!("CREATE TABLE {ns_name}.events"),
            format!("CREATE NAMESPACE {ns_name}.child"),
            format!("ALTER NAMESPACE {ns_name} SET PROPERTIES"),
            format!("CREATE NAMESPACE {ns_name}"),
        ]
    );
    assert_eq!(log[0].author, "nessie-tests");
    assert!(log[0].commit_time.is_some());
    assert_eq!(
        log[0]
            .properties
            .get("iceberg.operation")
            .map(String::as_str),
        Some("append")
    );

    // Unknown table: the error lists what exists.
    let missing = TableIdent::new(ns.clone(), "nope".into());
    let err = cat.load_table(&missing).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound);
    assert!(
        err.message().contains("nope") && err.message().contains("events"),
        "{err}"
    );

    // Rename and drop.
    let renamed = TableIdent::new(ns.clone(), "events2".into());
    cat.rename_table(&ident, &renamed).await.unwrap();
    assert!(!cat.table_exists(&ident).await.unwrap());
    assert_eq!(ids_in(&cat, &renamed).await, vec![1, 2, 3]);

    let err = cat.drop_namespace(&ns).await.unwrap_err();
    assert!(
        err.message().contains("not empty") && err.message().contains("events2"),
        "{err}"
    );

    cat.drop_table(&renamed).await.unwrap();
    assert!(!cat.table_exists(&renamed).await.unwrap());
    let err = cat.drop_table(&renamed).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound);

    cat.drop_namespace(&child).await.unwrap();
    cat.drop_namespace(&ns).await.unwrap();
    assert!(!cat.namespace_exists(&ns).await.unwrap());
    let err = cat.list_tables(&ns).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NamespaceNotFound, "{err}");
}

#[tokio::test]
async fn lifecycle_local_warehouse() {
    let Some(cat) = catalog(Warehouse::Local) else {
        return;
    };
    lifecycle(cat).await;
}

#[tokio::test]
async fn lifecycle_s3_warehouse() {
    if nessie_uri().is_none() {
        return;
    }
    let Some(cat) = catalog(Warehouse::S3) else {
        return;
    };
    assert!(cat.warehouse().starts_with("s3://"));
    lifecycle(cat).await;
}

#[tokio::test]
async fn branches_merge_and_log() {
    let Some(cat) = catalog(Warehouse::Local) else {
        return;
    };
    let ns_name = unique("br");
    let ns = NamespaceIdent::new(ns_name.clone());
    cat.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_table(&cat, &ns, "t").await;
    let ident = table.identifier().clone();
    append(&cat, &table, &[1]).await.unwrap();

    let dev_name = unique("dev");
    let dev_ref = cat
        .create_reference(&dev_name, RefKind::Branch, Some("main"))
        .await
        .unwrap();
    assert_eq!(dev_ref.kind, RefKind::Branch);
    assert_eq!(
        ids_in(&cat.with_reference(&dev_name, None), &ident).await,
        vec![1]
    );
    assert!(cat
        .list_references()
        .await
        .unwrap()
        .iter()
        .any(|r| r.name == dev_name));

    let dev = cat.with_reference(&dev_name, None);
    let on_dev = dev.load_table(&ident).await.unwrap();
    append(&dev, &on_dev, &[2, 3]).await.unwrap();
    assert_eq!(ids_in(&dev, &ident).await, vec![1, 2, 3]);
    assert_eq!(
        ids_in(&cat, &ident).await,
        vec![1],
        "main unchanged by writes on dev"
    );

    // A tag at main's HEAD, and a catalog pinned to that commit: readable, not writable.
    let tag_name = unique("tag");
    let tag = cat
        .create_reference(&tag_name, RefKind::Tag, None)
        .await
        .unwrap();
    let on_tag = cat.with_reference(&tag_name, None);
    let t = on_tag.load_table(&ident).await.unwrap();
    let err = append(&on_tag, &t, &[9]).await.unwrap_err();
    assert!(err.message().contains("tags are read-only"), "{err}");
    let pinned = cat.with_reference("main", Some(tag.hash.clone()));
    let err = pinned
        .create_namespace(&NamespaceIdent::new(unique("x")), HashMap::new())
        .await
        .unwrap_err();
    assert!(err.message().contains("read-only"), "{err}");

    let outcome = cat.merge(&dev_name, "main").await.unwrap();
    assert_eq!(outcome.target.name, "main");
    assert_eq!(
        ids_in(&cat, &ident).await,
        vec![1, 2, 3],
        "main has dev's rows"
    );
    // The old commit, pinned, still shows the old data.
    assert_eq!(ids_in(&pinned, &ident).await, vec![1]);
    assert_eq!(ids_in(&on_tag, &ident).await, vec![1]);

    let log = cat.log(Some("main"), 200).await.unwrap();
    let messages: Vec<&str> = log.iter().map(|c| c.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains(&format!("INSERT INTO {ns_name}.t"))),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains(&format!("MERGE BRANCH {dev_name} INTO main"))),
        "{messages:?}"
    );
    let dev_log = cat.log(Some(&dev_name), 1).await.unwrap();
    assert_eq!(dev_log[0].message, format!("INSERT INTO {ns_name}.t"));

    // Assign the tag to main's new HEAD, then clean up.
    let moved = cat.assign_reference(&tag_name, "main").await.unwrap();
    assert_ne!(moved.hash, tag.hash);
    assert_eq!(cat.get_reference(&tag_name).await.unwrap(), moved);
    cat.delete_reference(&tag_name).await.unwrap();
    cat.delete_reference(&dev_name).await.unwrap();

    // Unknown branch: the error lists the existing references.
    let err = cat.get_reference("no-such-branch").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no-such-branch") && text.contains("main (branch)"),
        "{text}"
    );
    let ghost = cat.with_reference("no-such-branch", None);
    let err = ghost.load_table(&ident).await.unwrap_err();
    assert!(err.message().contains("main (branch)"), "{err}");
    let err = cat
        .create_reference("main", RefKind::Branch, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NessieError::ReferenceAlreadyExists { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn merge_conflict_names_keys_and_leaves_target_unchanged() {
    let Some(cat) = catalog(Warehouse::Local) else {
        return;
    };
    let ns_name = unique("mc");
    let ns = NamespaceIdent::new(ns_name.clone());
    cat.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_table(&cat, &ns, "t").await;
    let ident = table.identifier().clone();
    let dev_name = unique("dev");
    cat.create_reference(&dev_name, RefKind::Branch, None)
        .await
        .unwrap();
    let dev = cat.with_reference(&dev_name, None);

    append(&cat, &table, &[1]).await.unwrap();
    let on_dev = dev.load_table(&ident).await.unwrap();
    append(&dev, &on_dev, &[2]).await.unwrap();

    let before = cat.load_table(&ident).await.unwrap();
    let err = cat.merge(&dev_name, "main").await.unwrap_err();
    match &err {
        NessieError::MergeConflict { keys, .. } => {
            assert_eq!(keys, &vec![format!("{ns_name}.t")], "{err}")
        }
        other => panic!("expected a merge conflict, got {other}"),
    }
    assert!(err.to_string().contains("target branch is unchanged"));
    // main moves with other tests' commits; this table on main must not have changed.
    assert_eq!(
        cat.load_table(&ident).await.unwrap().metadata_location(),
        before.metadata_location()
    );
    assert_eq!(ids_in(&cat, &ident).await, vec![1]);
    cat.delete_reference(&dev_name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_from_two_catalogs_all_land() {
    let Some(uri) = nessie_uri() else { return };
    let a = catalog_at(&uri, Warehouse::Local).unwrap();
    let b = catalog_at(&uri, Warehouse::Local).unwrap();
    let ns = NamespaceIdent::new(unique("cc"));
    a.create_namespace(&ns, HashMap::new()).await.unwrap();
    let ident = create_table(&a, &ns, "t").await.identifier().clone();

    let writer = |cat: NessieCatalog, base: i64| {
        let ident = ident.clone();
        tokio::spawn(async move {
            let mut conflicts_seen = 0;
            for i in 0..20 {
                // Like a kernel cell: load, write, commit; iceberg's Transaction retries on the
                // retryable conflict the catalog reports.
                loop {
                    let table = cat.load_table(&ident).await.unwrap();
                    match append(&cat, &table, &[base + i]).await {
                        Ok(_) => break,
                        Err(e) if e.kind() == ErrorKind::CatalogCommitConflicts => {
                            conflicts_seen += 1;
                            assert!(e.message().contains(&ident.to_string()), "{e}");
                        }
                        Err(e) => panic!("append failed: {e}"),
                    }
                }
            }
            conflicts_seen
        })
    };
    let (ra, rb) = tokio::join!(writer(a.clone(), 0), writer(b.clone(), 1000));
    let (ca, cb) = (ra.unwrap(), rb.unwrap());
    // Without any conflict each append costs 4 Nessie calls (load, reload in the transaction,
    // read + commit in update_table): anything above 2 * 80 is conflict handling.
    eprintln!(
        "conflicts that exhausted iceberg's own retries: a={ca} b={cb}; Nessie requests a={} b={} (80 each without conflicts)",
        a.nessie_requests(),
        b.nessie_requests()
    );

    let mut expected: Vec<i64> = (0..20).chain(1000..1020).collect();
    expected.sort();
    assert_eq!(ids_in(&a, &ident).await, expected, "every row once");
    let table = a.load_table(&ident).await.unwrap();
    assert_eq!(table.metadata().snapshots().count(), 40);
    let inserts = a
        .log(None, 100)
        .await
        .unwrap()
        .iter()
        .filter(|c| c.message == format!("INSERT INTO {ident}"))
        .count();
    assert_eq!(inserts, 40);
}

#[tokio::test]
async fn load_table_is_one_nessie_call_and_overhead_is_measured() {
    let Some(cat) = catalog(Warehouse::Local) else {
        return;
    };
    let ns = NamespaceIdent::new(unique("plan"));
    cat.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_table(&cat, &ns, "t").await;
    let ident = table.identifier().clone();
    append(&cat, &table, &[1, 2]).await.unwrap();

    let n = 50;
    let before = cat.nessie_requests();
    let start = Instant::now();
    for _ in 0..n {
        cat.load_table(&ident).await.unwrap();
    }
    let per_load = start.elapsed() / n;
    assert_eq!(
        cat.nessie_requests() - before,
        n as u64,
        "one Nessie call per load"
    );

    let start = Instant::now();
    for _ in 0..n {
        cat.table_exists(&ident).await.unwrap();
    }
    let per_call = start.elapsed() / n;
    eprintln!(
        "planning overhead per table: load_table {per_load:?} (one Nessie call {per_call:?} + metadata read)"
    );
}

// --- Nessie down ------------------------------------------------------------------------------

/// A TCP forwarder in front of Nessie that can be switched off (refusing and cutting
/// connections) and on again, so a test can stop "Nessie" mid-session without losing the
/// in-memory server's state.
struct Switch {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Switch {
    async fn start(target: std::net::SocketAddr) -> Switch {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let task = tokio::spawn(Self::serve(listener, target, up.clone()));
        Switch { addr, up, task }
    }

    async fn serve(listener: TcpListener, target: std::net::SocketAddr, up: Arc<AtomicBool>) {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            if !up.load(Ordering::SeqCst) {
                drop(inbound); // connection reset: "the server is gone"
                continue;
            }
            let up = up.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(target).await else {
                    return;
                };
                let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                let watch = async {
                    while up.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                tokio::select! { _ = copy => {}, _ = watch => {} }
            });
        }
    }

    fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn nessie_down_names_the_uri_and_a_failed_write_changes_nothing() {
    let Some(uri) = nessie_uri() else { return };
    let url = reqwest_free_parse(&uri);
    let switch = Switch::start(url.0).await;
    let proxied = format!("http://{}{}", switch.addr, url.1);
    let cat = catalog_at(&proxied, Warehouse::Local).unwrap();

    let ns = NamespaceIdent::new(unique("down"));
    cat.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_table(&cat, &ns, "t").await;
    let ident = table.identifier().clone();
    let table = append(&cat, &table, &[1]).await.unwrap();
    let good_location = table.metadata_location().unwrap().to_string();

    switch.set(false);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = cat.load_table(&ident).await.unwrap_err();
    assert!(
        err.message().contains(&proxied) && err.message().contains("NESSIE_URI"),
        "{err}"
    );
    let err = append(&cat, &table, &[2]).await.unwrap_err();
    assert!(err.message().contains(&proxied), "{err}");

    switch.set(true);
    let reloaded = cat.load_table(&ident).await.unwrap();
    assert_eq!(
        reloaded.metadata_location().unwrap(),
        good_location,
        "the ref still points at the last good metadata"
    );
    assert_eq!(ids_in(&cat, &ident).await, vec![1]);
    append(&cat, &reloaded, &[2]).await.unwrap();
    assert_eq!(
        ids_in(&cat, &ident).await,
        vec![1, 2],
        "same session works again"
    );
}

#[tokio::test]
async fn unreachable_server_error_names_the_uri() {
    // Runs without the services too: nothing listens on a port we just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("http://127.0.0.1:{port}/api/v2");
    let cat = NessieCatalog::new(NessieConfig {
        uri: uri.clone(),
        warehouse: local_warehouse(),
        ..Default::default()
    })
    .unwrap();
    let err = cat.list_namespaces(None).await.unwrap_err();
    assert!(err.message().contains(&uri), "{err}");
    assert!(err.message().contains("NESSIE_URI"), "{err}");
    let err = cat.list_references().await.unwrap_err();
    assert!(matches!(err, NessieError::Unreachable { .. }), "{err}");
}

/// `http://host:port/path` → (socket address, path), without pulling in a URL crate.
fn reqwest_free_parse(uri: &str) -> (std::net::SocketAddr, String) {
    let rest = uri.strip_prefix("http://").expect("http NESSIE_URI");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    use std::net::ToSocketAddrs;
    let addr = authority.to_socket_addrs().unwrap().next().unwrap();
    (addr, path.to_string())
}

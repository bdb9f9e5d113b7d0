//! The kernel's end of the Rust cells' bridge: a Unix socket on which the evcxr child process
//! (through the `lakehouse` client crate) runs SQL in the session, registers batches and shows
//! results. Framing and operations are in `lakehouse::wire`; data is Arrow IPC.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use lakehouse::wire::{self, op, status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc::UnboundedSender;

use crate::engines::{Output, Session, TableOutput};
use crate::error::{CellError, ErrorKind};

/// The cell a Rust engine is running: where its outputs go and when it started.
#[derive(Clone)]
pub struct Current {
    pub out: UnboundedSender<Output>,
    pub started: Instant,
}

/// Shared slot for the running cell (None between cells).
pub type CurrentCell = Arc<Mutex<Option<Current>>>;

/// A listening bridge; dropping it stops serving and removes the socket's folder.
pub struct Bridge {
    dir: PathBuf,
    /// The socket path handed to the child (`LAKEHOUSE_BRIDGE`).
    pub path: PathBuf,
    /// The token the child must send first (`LAKEHOUSE_BRIDGE_TOKEN`).
    pub token: String,
    task: tokio::task::JoinHandle<()>,
}

impl Bridge {
    /// Listens on a new socket in a folder only this user can open.
    pub fn start(
        rt: &tokio::runtime::Handle,
        session: Arc<dyn Session>,
        current: CurrentCell,
    ) -> std::io::Result<Bridge> {
        use std::os::unix::fs::PermissionsExt;
        remove_stale_dirs(&std::env::temp_dir(), "lakehouse-bridge-");
        let dir = std::env::temp_dir().join(format!(
            "lakehouse-bridge-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let path = dir.join("session.sock");
        let token = uuid::Uuid::new_v4().simple().to_string();
        let listener = {
            let _guard = rt.enter();
            UnixListener::bind(&path)?
        };
        let t = token.clone();
        let task = rt.spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (session, current, token) = (session.clone(), current.clone(), t.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve(conn, session, current, &token).await {
                        log::debug!("bridge connection ended: {e}");
                    }
                });
            }
        });
        Ok(Bridge {
            dir,
            path,
            token,
            task,
        })
    }
}

/// Removes the socket folders of kernels that are gone: a kernel that was killed (or ended
/// without dropping its session) leaves its `<prefix><pid>-…` folder behind
/// (`lakehouse-bridge-` here, `lakehouse-wire-` for the sockets' relays).
pub fn remove_stale_dirs(tmp: &Path, prefix: &str) {
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return; // no cheap way to tell a live pid here; leave them
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn read_message(conn: &mut UnixStream) -> std::io::Result<Vec<Vec<u8>>> {
    let n = conn.read_u32_le().await?;
    if n > wire::MAX_PARTS {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "a bridge message has {n} parts (at most {})",
                wire::MAX_PARTS
            ),
        ));
    }
    let mut lens = Vec::with_capacity(n as usize);
    for _ in 0..n {
        lens.push(conn.read_u64_le().await? as usize);
    }
    let mut parts = Vec::with_capacity(lens.len());
    for len in lens {
        let mut p = vec![0u8; len];
        conn.read_exact(&mut p).await?;
        parts.push(p);
    }
    Ok(parts)
}

async fn write_message(conn: &mut UnixStream, parts: &[&[u8]]) -> std::io::Result<()> {
    conn.write_all(&wire::header(parts)).await?;
    for p in parts {
        conn.write_all(p).await?;
    }
    conn.flush().await
}

/// A reply: `ok` and its parts, or `error <kind> <message>`.
type Reply = Result<Vec<Vec<u8>>, CellError>;

async fn serve(
    mut conn: UnixStream,
    session: Arc<dyn Session>,
    current: CurrentCell,
    token: &str,
) -> std::io::Result<()> {
    let hello = read_message(&mut conn).await?;
    if hello.len() != 2 || hello[0] != op::HELLO.as_bytes() || hello[1] != token.as_bytes() {
        let msg = "this socket serves the lakehouse kernel's Rust cells only (wrong token)";
        write_message(
            &mut conn,
            &[status::ERROR.as_bytes(), b"BridgeError", msg.as_bytes()],
        )
        .await?;
        return Ok(());
    }
    write_message(&mut conn, &[status::OK.as_bytes()]).await?;
    loop {
        let request = match read_message(&mut conn).await {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        let reply = handle(request, session.as_ref(), &current).await;
        match reply {
            Ok(parts) => {
                let mut all: Vec<&[u8]> = vec![status::OK.as_bytes()];
                all.extend(parts.iter().map(Vec::as_slice));
                write_message(&mut conn, &all).await?;
            }
            Err(e) => {
                write_message(
                    &mut conn,
                    &[
                        status::ERROR.as_bytes(),
                        e.ename().as_bytes(),
                        e.evalue.as_bytes(),
                    ],
                )
                .await?
            }
        }
    }
}

fn arrow_error(e: datafusion::arrow::error::ArrowError) -> CellError {
    CellError::new(
        ErrorKind::Arrow,
        format!("the batches could not be read or written: {e}"),
    )
}

async fn handle(request: Vec<Vec<u8>>, session: &dyn Session, current: &CurrentCell) -> Reply {
    let mut parts = request.into_iter();
    let op = String::from_utf8(parts.next().unwrap_or_default()).unwrap_or_default();
    let mut text = || String::from_utf8_lossy(&parts.next().unwrap_or_default()).into_owned();
    match op.as_str() {
        op::SQL => {
            let query = text();
            let result = session.query(&query).await?;
            let data = match result.rows {
                Some((schema, batches)) => {
                    wire::encode_batches(&schema, &batches).map_err(arrow_error)?
                }
                None => Vec::new(),
            };
            Ok(vec![result.messages.join("\n").into_bytes(), data])
        }
        op::REGISTER => {
            let name = text();
            let data = parts.next().unwrap_or_default();
            let (schema, batches) = wire::decode_batches(data).map_err(arrow_error)?;
            let msg = session.register_batches(&name, schema, batches).await?;
            Ok(vec![msg.into_bytes()])
        }
        op::PARAMS => {
            let b = session.parameters()?;
            Ok(vec![wire::encode_batches(&b.schema(), &[b]).map_err(arrow_error)?])
        }
        op::SETTINGS => {
            let b = settings_batch(&session.settings_rows());
            Ok(vec![wire::encode_batches(&b.schema(), &[b]).map_err(arrow_error)?])
        }
        op::DISPLAY => Ok(vec![session.max_rows().to_string().into_bytes()]),
        op::SHOW => {
            let total: usize = text().parse().unwrap_or(0);
            let (schema, batches) =
                wire::decode_batches(parts.next().unwrap_or_default()).map_err(arrow_error)?;
            let cell = current.lock().expect("current cell lock").clone();
            let Some(cell) = cell else {
                return Err(CellError::new(
                    ErrorKind::Bridge,
                    "no Rust cell is running to show this in",
                ));
            };
            let _ = cell.out.send(Output::Table(TableOutput {
                schema,
                batches,
                total_rows: total,
                elapsed: cell.started.elapsed(),
            }));
            Ok(vec![])
        }
        other => Err(CellError::new(
            ErrorKind::Bridge,
            format!(
                "unknown bridge operation '{other}'; the client crate and the kernel differ in version"
            ),
        )),
    }
}

/// Settings rows as a two-column batch (`setting`, `value`).
fn settings_batch(rows: &[(String, String)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("setting", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]));
    let k = StringArray::from_iter_values(rows.iter().map(|r| r.0.as_str()));
    let v = StringArray::from_iter_values(rows.iter().map(|r| r.1.as_str()));
    RecordBatch::try_new(schema, vec![Arc::new(k), Arc::new(v)]).expect("two string columns")
}

#[cfg(test)]
mod tests {
    #[test]
    fn socket_folders_of_gone_kernels_are_removed() {
        let tmp = std::env::temp_dir().join(format!("lh-stale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        // pid 1 is alive; no process has a pid above the kernel's pid_max (4194304).
        let alive = tmp.join("lakehouse-bridge-1-aaaa");
        let mine = tmp.join(format!("lakehouse-bridge-{}-bbbb", std::process::id()));
        let gone = tmp.join("lakehouse-bridge-4194305-cccc");
        let other = tmp.join("something-else-4194305");
        for d in [&alive, &mine, &gone, &other] {
            std::fs::create_dir_all(d).unwrap();
        }
        remove_stale_dirs(&tmp, "lakehouse-bridge-");
        assert!(alive.exists() && mine.exists() && other.exists());
        assert!(!gone.exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_client_crate_talks_to_the_session_through_the_bridge() {
        let (engine, dir) = crate::engines::sql::test_engine("bridge").await;
        let engine = Arc::new(engine);
        engine
            .query("CREATE TABLE t AS SELECT value AS x FROM range(1000); SET n = 42")
            .await
            .unwrap();
        let current: CurrentCell = Arc::new(Mutex::new(None));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        *current.lock().unwrap() = Some(Current {
            out: tx,
            started: Instant::now(),
        });
        let bridge =
            Bridge::start(&tokio::runtime::Handle::current(), engine.clone(), current).unwrap();
        let (path, token) = (bridge.path.clone(), bridge.token.clone());
        // The client crate blocks: run it off the runtime, as the evcxr child process would.
        let client = tokio::task::spawn_blocking(move || {
            std::env::set_var(wire::BRIDGE_ENV, &path);
            std::env::set_var(wire::TOKEN_ENV, &token);
            let f = lakehouse::sql("SELECT x FROM t ORDER BY x").unwrap();
            assert_eq!(f.num_rows(), 1000);
            let e = lakehouse::sql("SELECT * FROM missing_table").unwrap_err();
            assert_eq!(e.kind, "TableNotFound");
            let msg = lakehouse::register("feats", f.to_batch().unwrap()).unwrap();
            assert_eq!(msg, "Registered default.feats (1000 rows) for this session");
            assert_eq!(lakehouse::param::<i64>("n").unwrap(), 42);
            assert_eq!(
                lakehouse::param::<i64>("missing").unwrap_err().kind,
                "ParameterError"
            );
            assert_eq!(lakehouse::setting("lakehouse.max_rows").unwrap(), "50");
            lakehouse::show(f).unwrap();
        });
        tokio::time::timeout(std::time::Duration::from_secs(30), client)
            .await
            .unwrap()
            .unwrap();
        // What Rust registered, SQL reads.
        let r = engine.query("SELECT sum(x) FROM feats").await.unwrap();
        let (_, b) = r.rows.unwrap();
        assert_eq!(
            datafusion::arrow::util::display::array_value_to_string(b[0].column(0), 0).unwrap(),
            "499500"
        );
        // show sends only the rows a table shows, with the total.
        match rx.recv().await {
            Some(Output::Table(t)) => {
                assert_eq!(t.total_rows, 1000);
                assert_eq!(
                    t.batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
                    50
                );
            }
            other => panic!("expected a table, got {other:?}"),
        }
        // A wrong token is refused.
        let mut s = UnixStream::connect(&bridge.path).await.unwrap();
        write_message(&mut s, &[op::HELLO.as_bytes(), b"nope"])
            .await
            .unwrap();
        let reply = read_message(&mut s).await.unwrap();
        assert_eq!(reply[0], status::ERROR.as_bytes());
        let socket_dir = bridge.dir.clone();
        drop(bridge);
        assert!(!socket_dir.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

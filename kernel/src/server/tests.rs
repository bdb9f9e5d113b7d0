//! Protocol tests of the dispatch without sockets (as xeus's `xmock_server`): a request is
//! framed and decoded as the receiver task does, handed to `Kernel::handle`, and what the
//! kernel would send is read from its outlets (iopub, shell replies). The SQL session is a
//! real one on an embedded catalog in a temporary folder.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};

use super::{Chan, Kernel, Outlets};
use crate::settings::Settings;
use crate::wire::{self, Outgoing, Signer};

/// A kernel with its outlets, on a fresh embedded catalog.
struct Harness {
    kernel: Arc<Kernel>,
    out: Outlets,
    signer: Signer,
    dir: PathBuf,
}

/// What one request caused.
struct Exchange {
    /// What `handle` returned (true: a failed cell with stop_on_error).
    stop: bool,
    /// Messages on iopub, in order, without progress lines (they appear only when a
    /// statement runs longer than half a second: timing, not protocol).
    iopub: Vec<Outgoing>,
    /// Replies on the request's channel.
    replies: Vec<Outgoing>,
}

impl Exchange {
    fn iopub_types(&self) -> Vec<&str> {
        self.iopub
            .iter()
            .map(|m| m.header.msg_type.as_str())
            .collect()
    }

    /// The one reply, which must be of type `msg_type`.
    fn reply(&self, msg_type: &str) -> &Value {
        assert_eq!(self.replies.len(), 1, "replies: {:?}", self.replies);
        assert_eq!(self.replies[0].header.msg_type, msg_type);
        &self.replies[0].content
    }

    /// The one iopub message of type `msg_type`.
    fn only(&self, msg_type: &str) -> &Value {
        let found: Vec<&Outgoing> = self
            .iopub
            .iter()
            .filter(|m| m.header.msg_type == msg_type)
            .collect();
        assert_eq!(found.len(), 1, "{msg_type} in {:?}", self.iopub_types());
        &found[0].content
    }
}

impl Harness {
    fn new(name: &str) -> Harness {
        let dir = std::env::temp_dir().join(format!("lh-server-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let env = BTreeMap::from([
            ("LAKEHOUSE_HOME".to_string(), dir.display().to_string()),
            // No start-up file of the user running the tests.
            ("LAKEHOUSE_STARTUP_FILE".to_string(), "none".to_string()),
        ]);
        let settings = Settings::from_map(&env).expect("settings");
        let signer = || Signer::new("", "hmac-sha256").expect("signer");
        let (kernel, out) =
            Kernel::new(signer(), settings, tokio::runtime::Handle::current(), false);
        Harness {
            kernel,
            out,
            signer: signer(),
            dir,
        }
    }

    /// Sends `content` as a `msg_type` request on shell and collects what it caused.
    async fn shell(&mut self, msg_type: &str, content: Value) -> Exchange {
        let msg_id = uuid::Uuid::new_v4().to_string();
        let header = json!({
            "msg_id": msg_id, "username": "test", "session": "client",
            "date": "2025-01-01T00:00:00Z", "msg_type": msg_type, "version": "5.3",
        });
        let frames = vec![
            Bytes::from_static(b"client-identity"),
            Bytes::from_static(b"<IDS|MSG>"),
            Bytes::new(),
            Bytes::from(header.to_string()),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::from(content.to_string()),
        ];
        let msg = wire::decode(frames, &mut self.signer).expect("a valid request");
        let stop = self.kernel.handle(msg, Chan::Shell).await;
        let drain = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<Outgoing>| {
            let mut got = vec![];
            while let Ok(m) = rx.try_recv() {
                got.push(m);
            }
            got
        };
        let iopub = drain(&mut self.out.iopub);
        let replies = drain(&mut self.out.shell);
        assert!(drain(&mut self.out.control).is_empty());
        // Everything the request caused names it as the parent; replies go back to its sender.
        for m in iopub.iter().chain(&replies) {
            let parent = m.parent.as_ref().expect("a parent header");
            assert_eq!(parent.msg_id, msg_id, "{}", m.header.msg_type);
        }
        for r in &replies {
            assert_eq!(r.identities, vec![Bytes::from_static(b"client-identity")]);
        }
        let iopub = iopub
            .into_iter()
            .filter(|m| {
                let progress = m.content["transient"]["display_id"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("lakehouse-progress-"));
                !(progress || m.header.msg_type == "update_display_data")
            })
            .collect();
        Exchange {
            stop,
            iopub,
            replies,
        }
    }

    async fn execute(&mut self, code: &str) -> Exchange {
        self.shell(
            "execute_request",
            json!({"code": code, "silent": false, "store_history": true,
                   "user_expressions": {}, "allow_stdin": false, "stop_on_error": true}),
        )
        .await
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// busy first, idle last, each exactly once.
fn assert_busy_idle(x: &Exchange) {
    let states: Vec<&str> = x
        .iopub
        .iter()
        .filter(|m| m.header.msg_type == "status")
        .map(|m| m.content["execution_state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["busy", "idle"], "{:?}", x.iopub_types());
    assert_eq!(x.iopub_types().first(), Some(&"status"));
    assert_eq!(x.iopub_types().last(), Some(&"status"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_info_reply() {
    let mut h = Harness::new("info");
    let x = h.shell("kernel_info_request", json!({})).await;
    assert_eq!(x.iopub_types(), ["status", "status"]);
    assert_busy_idle(&x);
    let reply = x.reply("kernel_info_reply");
    assert_eq!(reply["status"], "ok");
    assert_eq!(reply["protocol_version"], wire::PROTOCOL_VERSION);
    assert_eq!(reply["implementation"], "lakehouse-kernel");
    assert_eq!(reply["language_info"]["name"], "sql");
    assert_eq!(reply["language_info"]["file_extension"], ".sql");
    let banner = reply["banner"].as_str().unwrap();
    assert!(banner.contains(&h.dir.display().to_string()), "{banner}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_one_is_a_table_result() {
    let mut h = Harness::new("select");
    let x = h.execute("SELECT 1").await;
    assert_eq!(
        x.iopub_types(),
        ["status", "execute_input", "execute_result", "status"]
    );
    assert_busy_idle(&x);
    assert_eq!(x.only("execute_input")["code"], "SELECT 1");
    assert_eq!(x.only("execute_input")["execution_count"], 1);
    let result = x.only("execute_result");
    assert_eq!(result["execution_count"], 1);
    let data = result["data"].as_object().unwrap();
    let mut mimes: Vec<&str> = data.keys().map(String::as_str).collect();
    mimes.sort();
    assert_eq!(mimes, ["text/html", "text/plain"]);
    let html = data["text/html"].as_str().unwrap();
    assert!(html.contains("<table class=\"lh-table\">"), "{html}");
    assert!(html.contains("<td class=\"lh-num\">1</td>"), "{html}");
    let plain = data["text/plain"].as_str().unwrap();
    assert!(plain.contains("| 1 |") || plain.contains(" 1 |"), "{plain}");
    assert!(plain.ends_with("1 row"), "{plain}");
    assert!(!x.stop);
    let reply = x.reply("execute_reply");
    assert_eq!(reply["status"], "ok");
    assert_eq!(reply["execution_count"], 1);
    assert_eq!(reply["user_expressions"], json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_cell_has_one_error_output_and_an_error_reply() {
    let mut h = Harness::new("error");
    let x = h.execute("SELECT * FROM no_such_table").await;
    assert_eq!(
        x.iopub_types(),
        ["status", "execute_input", "error", "status"]
    );
    assert_busy_idle(&x);
    let error = x.only("error");
    let reply = x.reply("execute_reply");
    assert_eq!(reply["status"], "error");
    assert_eq!(reply["ename"], error["ename"]);
    assert_eq!(reply["evalue"], error["evalue"]);
    assert!(
        error["evalue"].as_str().unwrap().contains("no_such_table"),
        "{error}"
    );
    // stop_on_error: the shell worker aborts what is queued behind it.
    assert!(x.stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_expressions_are_evaluated_as_text() {
    let mut h = Harness::new("userexpr");
    let x = h
        .shell(
            "execute_request",
            json!({"code": "SELECT 1", "silent": false, "store_history": true,
                   "user_expressions": {"two": "1 + 1"}, "allow_stdin": false,
                   "stop_on_error": true}),
        )
        .await;
    let reply = x.reply("execute_reply");
    assert_eq!(reply["user_expressions"]["two"]["status"], "ok");
    assert_eq!(
        reply["user_expressions"]["two"]["data"],
        json!({"text/plain": "2"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_cell_is_vega_lite_and_text_without_html() {
    let mut h = Harness::new("chart");
    let x = h
        .execute("%%sql --chart bar --x k --y n\nSELECT 'a' AS k, 3 AS n")
        .await;
    let data = x.only("execute_result")["data"].as_object().unwrap();
    let mut mimes: Vec<&str> = data.keys().map(String::as_str).collect();
    mimes.sort();
    assert_eq!(mimes, ["application/vnd.vegalite.v5+json", "text/plain"]);
    // JSON on the wire, not JSON text.
    assert_eq!(
        data["application/vnd.vegalite.v5+json"]["data"]["values"],
        json!([{"k": "a", "n": 3}])
    );
    assert_eq!(x.reply("execute_reply")["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_complete_reply() {
    let mut h = Harness::new("complete");
    for (code, status) in [
        ("SELECT 1;", "complete"),
        ("SELECT 1", "incomplete"),
        ("SELEC 1;", "invalid"),
    ] {
        let x = h.shell("is_complete_request", json!({"code": code})).await;
        assert_busy_idle(&x);
        assert_eq!(x.reply("is_complete_reply")["status"], status, "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_this_session() {
    let mut h = Harness::new("history");
    let cells = ["SELECT 1 AS a;", "SELECT 2 AS b;", "SELECT 3 AS c;"];
    for cell in cells {
        assert_eq!(h.execute(cell).await.reply("execute_reply")["status"], "ok");
    }
    let x = h
        .shell(
            "history_request",
            json!({"output": false, "raw": true, "hist_access_type": "tail", "n": 2}),
        )
        .await;
    assert_busy_idle(&x);
    let reply = x.reply("history_reply");
    assert_eq!(reply["status"], "ok");
    assert_eq!(
        reply["history"],
        json!([[0, 2, "SELECT 2 AS b;"], [0, 3, "SELECT 3 AS c;"]])
    );
    // jupyter_client leaves out `unique`: the request is still answered.
    let x = h
        .shell(
            "history_request",
            json!({"output": false, "raw": true, "hist_access_type": "search",
                   "pattern": "SELECT 2*", "n": 10}),
        )
        .await;
    assert_eq!(
        x.reply("history_reply")["history"],
        json!([[0, 2, "SELECT 2 AS b;"]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unknown_requests_get_error_replies() {
    let mut h = Harness::new("malformed");
    let x = h.shell("execute_request", json!({"silent": 3})).await;
    assert_busy_idle(&x);
    let reply = x.reply("execute_reply");
    assert_eq!(reply["status"], "error");
    assert_eq!(reply["ename"], "MalformedMessage");
    assert_eq!(reply["execution_count"], 0);
    let x = h.shell("debug_request", json!({})).await;
    let reply = x.reply("debug_reply");
    assert_eq!(reply["ename"], "UnknownMessageType");
}

//! Jupyter wire format: framing, HMAC-SHA256 signing and verification, typed content.
//!
//! Message content types come from `jupyter-protocol`; this module owns what that crate
//! leaves to the transport: the multipart frame layout, the signature (checked in constant
//! time, with a replay history as jupyter_client keeps), and header stamping.

use std::collections::{HashSet, VecDeque};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use jupyter_protocol::{Header, JupyterMessageContent};
use serde_json::{Map, Value};
use sha2::Sha256;

use lakehouse_grammar::error::{CellError, ErrorKind};

/// Frame separating ZeroMQ routing identities from the signed message parts.
const DELIMITER: &[u8] = b"<IDS|MSG>";
/// Protocol version this kernel speaks (stamped into every header).
pub const PROTOCOL_VERSION: &str = "5.3";
/// How many recent signatures are remembered to refuse replays.
const DIGEST_HISTORY: usize = 2048;

/// Why an incoming frame was refused. Every variant is logged; none is answered, because
/// an unsigned or mis-signed message has no trustworthy sender to answer.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("message has no <IDS|MSG> delimiter")]
    MissingDelimiter,
    #[error("message has {0} parts after the delimiter; at least 5 are needed")]
    TooFewParts(usize),
    #[error("message signature is missing or wrong (check the connection file key)")]
    BadSignature,
    #[error("message signature was already seen (replayed message)")]
    Replay,
    #[error("message header is not valid JSON: {0}")]
    BadHeader(String),
}

/// Signs and verifies message parts with the connection key.
pub struct Signer {
    key: Option<Vec<u8>>,
    seen: HashSet<Vec<u8>>,
    order: VecDeque<Vec<u8>>,
}

impl Signer {
    /// `key` empty means signing is disabled (allowed by the protocol for local testing).
    /// Any scheme but `hmac-sha256` is refused rather than silently running unsigned.
    pub fn new(key: &str, scheme: &str) -> Result<Self, CellError> {
        if !key.is_empty() && scheme != "hmac-sha256" {
            return Err(ErrorKind::Connection.error(format!(
                "signature_scheme '{scheme}' is not supported; use 'hmac-sha256' in the connection file"
            )));
        }
        Ok(Signer {
            key: (!key.is_empty()).then(|| key.as_bytes().to_vec()),
            seen: HashSet::new(),
            order: VecDeque::new(),
        })
    }

    fn mac(&self) -> Option<Hmac<Sha256>> {
        self.key
            .as_ref()
            .map(|k| Hmac::<Sha256>::new_from_slice(k).expect("HMAC accepts any key length"))
    }

    /// Hex signature over header, parent header, metadata and content (not buffers).
    pub fn sign(&self, parts: &[&[u8]]) -> String {
        match self.mac() {
            None => String::new(),
            Some(mut mac) => {
                for p in parts {
                    mac.update(p);
                }
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }

    /// Checks the signature in constant time and refuses replays.
    pub fn verify(&mut self, signature: &[u8], parts: &[&[u8]]) -> Result<(), WireError> {
        let Some(mut mac) = self.mac() else {
            return Ok(());
        };
        let sig = hex::decode(signature).map_err(|_| WireError::BadSignature)?;
        for p in parts {
            mac.update(p);
        }
        mac.verify_slice(&sig)
            .map_err(|_| WireError::BadSignature)?;
        if !self.seen.insert(sig.clone()) {
            return Err(WireError::Replay);
        }
        self.order.push_back(sig);
        if self.order.len() > DIGEST_HISTORY {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        Ok(())
    }
}

/// A received request: routing identities, header, the parent's header as sent, and the
/// typed content (or `Err` with the parse error, so the caller can still answer).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub identities: Vec<Bytes>,
    pub header: Header,
    pub content: Result<JupyterMessageContent, CellError>,
    pub raw_content: Value,
    pub metadata: Value,
}

impl Incoming {
    /// The request's message type as the client sent it.
    pub fn msg_type(&self) -> &str {
        &self.header.msg_type
    }
}

/// Splits and verifies a multipart frame.
pub fn decode(frames: Vec<Bytes>, signer: &mut Signer) -> Result<Incoming, WireError> {
    let pos = frames
        .iter()
        .position(|f| f.as_ref() == DELIMITER)
        .ok_or(WireError::MissingDelimiter)?;
    let rest = &frames[pos + 1..];
    if rest.len() < 5 {
        return Err(WireError::TooFewParts(rest.len()));
    }
    let parts: Vec<&[u8]> = rest[1..5].iter().map(|b| b.as_ref()).collect();
    signer.verify(rest[0].as_ref(), &parts)?;
    let header: Header =
        serde_json::from_slice(parts[0]).map_err(|e| WireError::BadHeader(e.to_string()))?;
    let metadata = serde_json::from_slice(parts[2]).unwrap_or(Value::Object(Map::new()));
    // Content that is not UTF-8 or not JSON is still answered (with an error reply).
    let (raw_content, content) = match serde_json::from_slice::<Value>(parts[3]) {
        Ok(v) => {
            let typed = JupyterMessageContent::from_type_and_content(&header.msg_type, v.clone())
                .map_err(|e| {
                    ErrorKind::MalformedMessage
                        .error(format!("content of {} is malformed: {e}", header.msg_type))
                });
            (v, typed)
        }
        Err(e) => (
            Value::Null,
            Err(ErrorKind::MalformedMessage.error(format!(
                "content of {} is not valid UTF-8 JSON: {e}",
                header.msg_type
            ))),
        ),
    };
    Ok(Incoming {
        identities: frames[..pos].to_vec(),
        header,
        content,
        raw_content,
        metadata,
    })
}

/// An outgoing message, before framing.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub identities: Vec<Bytes>,
    pub header: Header,
    pub parent: Option<Header>,
    pub metadata: Value,
    pub content: Value,
}

impl Outgoing {
    /// A message of `content`'s type answering (or caused by) `parent`.
    pub fn new(session: &str, content: JupyterMessageContent, parent: Option<&Incoming>) -> Self {
        let msg_type = content.message_type().to_string();
        let value = normalize(serde_json::to_value(&content).unwrap_or(Value::Null));
        Self::raw(session, &msg_type, value, parent)
    }

    /// A message with hand-built content (for types jupyter-protocol lacks).
    pub fn raw(session: &str, msg_type: &str, content: Value, parent: Option<&Incoming>) -> Self {
        Outgoing {
            identities: parent.map(|p| p.identities.clone()).unwrap_or_default(),
            header: Header {
                msg_id: uuid::Uuid::new_v4().to_string(),
                username: "lakehouse".into(),
                session: session.to_string(),
                date: chrono::Utc::now(),
                msg_type: msg_type.to_string(),
                version: PROTOCOL_VERSION.into(),
            },
            parent: parent.map(|p| p.header.clone()),
            metadata: Value::Object(Map::new()),
            content,
        }
    }

    /// Frames and signs the message.
    pub fn encode(&self, signer: &Signer) -> Vec<Bytes> {
        let header = serde_json::to_vec(&self.header).expect("header serializes");
        let parent = match &self.parent {
            Some(p) => serde_json::to_vec(p).expect("header serializes"),
            None => b"{}".to_vec(),
        };
        let metadata = serde_json::to_vec(&self.metadata).expect("json serializes");
        let content = serde_json::to_vec(&self.content).expect("json serializes");
        let sig = signer.sign(&[&header, &parent, &metadata, &content]);
        let mut frames = self.identities.clone();
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(sig));
        frames.push(header.into());
        frames.push(parent.into());
        frames.push(metadata.into());
        frames.push(content.into());
        frames
    }
}

/// Fixes the few places where jupyter-protocol's serialization differs from what the v5
/// schema (and jupyter_kernel_test) require: `null` where a dict or absence is expected.
fn normalize(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        if m.get("user_expressions").is_some_and(Value::is_null) {
            m.insert("user_expressions".into(), Value::Object(Map::new()));
        }
        if m.get("transient").is_some_and(Value::is_null) {
            m.remove("transient");
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use jupyter_protocol::{KernelInfoRequest, Status};

    fn frames_for(signer: &Signer, msg_type: &str, content: &str) -> Vec<Bytes> {
        let header = format!(
            r#"{{"msg_id":"1","username":"u","session":"s","date":"2025-01-01T00:00:00Z","msg_type":"{msg_type}","version":"5.3"}}"#
        );
        let sig = signer.sign(&[header.as_bytes(), b"{}", b"{}", content.as_bytes()]);
        vec![
            Bytes::from_static(b"id"),
            Bytes::from_static(DELIMITER),
            Bytes::from(sig),
            Bytes::from(header),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::from(content.to_string()),
        ]
    }

    #[test]
    fn signed_message_round_trips_and_replay_is_refused() {
        let mut signer = Signer::new("secret", "hmac-sha256").unwrap();
        let frames = frames_for(&signer, "kernel_info_request", "{}");
        let msg = decode(frames.clone(), &mut signer).unwrap();
        assert_eq!(msg.msg_type(), "kernel_info_request");
        assert!(matches!(
            msg.content,
            Ok(JupyterMessageContent::KernelInfoRequest(
                KernelInfoRequest {}
            ))
        ));
        assert_eq!(msg.identities, vec![Bytes::from_static(b"id")]);
        assert!(matches!(
            decode(frames, &mut signer),
            Err(WireError::Replay)
        ));
    }

    #[test]
    fn wrong_key_is_refused() {
        let other = Signer::new("other", "hmac-sha256").unwrap();
        let mut signer = Signer::new("secret", "hmac-sha256").unwrap();
        let frames = frames_for(&other, "kernel_info_request", "{}");
        assert!(matches!(
            decode(frames, &mut signer),
            Err(WireError::BadSignature)
        ));
    }

    #[test]
    fn unknown_scheme_is_refused() {
        assert!(Signer::new("k", "hmac-md5").is_err());
    }

    #[test]
    fn malformed_content_is_reported_not_dropped() {
        let mut signer = Signer::new("secret", "hmac-sha256").unwrap();
        let frames = frames_for(&signer, "execute_request", r#"{"silent": 3}"#);
        let msg = decode(frames, &mut signer).unwrap();
        assert!(msg.content.unwrap_err().evalue.contains("execute_request"));
    }

    #[test]
    fn random_signed_messages_are_decoded_or_refused_never_a_panic() {
        // What an authenticated but broken client could send: every request type with
        // content cut short, bytes flipped or values of the wrong type, and random frames.
        let mut signer = Signer::new("secret", "hmac-sha256").unwrap();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let types = [
            "execute_request",
            "complete_request",
            "inspect_request",
            "history_request",
            "is_complete_request",
            "kernel_info_request",
            "comm_info_request",
            "shutdown_request",
            "interrupt_request",
            "comm_open",
            "comm_msg",
            "input_reply",
        ];
        let contents = [
            r#"{"code": "SELECT 1", "silent": false, "store_history": true, "user_expressions": {"a": "1"}, "allow_stdin": false, "stop_on_error": true}"#,
            r#"{"code": "SEL", "cursor_pos": 3, "detail_level": 0}"#,
            r#"{"hist_access_type": "search", "pattern": "*a*", "n": -5, "unique": true, "output": true, "raw": false}"#,
            r#"{"hist_access_type": "range", "session": 0, "start": -9223372036854775808, "stop": 99999999999}"#,
            r#"{"restart": "yes", "comm_id": 7, "target_name": null, "data": [[[[]]]]}"#,
            r#"{"value": "\ud800", "cursor_pos": 1e400}"#,
        ];
        let (mut decoded, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let msg_type = types[(next() % types.len() as u64) as usize];
            let mut content = contents[(next() % contents.len() as u64) as usize]
                .as_bytes()
                .to_vec();
            match next() % 4 {
                0 => content.truncate((next() % (content.len() as u64 + 1)) as usize),
                1 => {
                    let at = (next() % content.len() as u64) as usize;
                    content[at] ^= 1 << (next() % 8);
                }
                _ => {}
            }
            // A fresh msg_id each time, so the replay check does not refuse repeated contents.
            let header = format!(
                r#"{{"msg_id":"{}","username":"u","session":"s","date":"2025-01-01T00:00:00Z","msg_type":"{msg_type}","version":"5.3"}}"#,
                next()
            );
            let sig = signer.sign(&[header.as_bytes(), b"{}", b"{}", &content]);
            let mut frames: Vec<Bytes> = vec![
                Bytes::from_static(b"id"),
                Bytes::from_static(DELIMITER),
                Bytes::from(sig),
                Bytes::from(header),
                Bytes::from_static(b"{}"),
                Bytes::from_static(b"{}"),
                Bytes::from(content),
            ];
            if next() % 8 == 0 {
                let at = (next() % frames.len() as u64) as usize;
                frames.remove(at);
            }
            match decode(frames, &mut signer) {
                Ok(m) => {
                    assert_eq!(m.msg_type(), msg_type);
                    decoded += 1;
                }
                Err(_) => refused += 1,
            }
        }
        assert!(
            decoded > 1000 && refused > 100,
            "decoded {decoded}, refused {refused}"
        );
    }

    #[test]
    fn encode_signs_what_decode_verifies() {
        let mut signer = Signer::new("secret", "hmac-sha256").unwrap();
        let out = Outgoing::new("sess", Status::busy().into(), None);
        let mut frames = out.encode(&signer);
        frames.insert(0, Bytes::from_static(b"x"));
        // A status message is not a request type, but decoding still verifies it.
        let back = decode(frames, &mut signer).unwrap();
        assert_eq!(back.msg_type(), "status");
        assert_eq!(back.raw_content["execution_state"], "busy");
    }
}

//! The bridge's framing, shared by this crate (the Rust cell's side) and the kernel.
//!
//! A message is a list of byte parts: a little-endian `u32` count, then each part as a `u64`
//! length and its bytes. Part 0 names the operation (request) or the status (reply); tabular
//! data travels as one part holding an Arrow IPC stream, so no value is ever turned into text.

use std::io::{self, Read, Write};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, Schema, SchemaRef};

/// Environment variable with the path of the kernel's Unix socket.
pub const BRIDGE_ENV: &str = "LAKEHOUSE_BRIDGE";
/// Environment variable with the token the first message must carry.
pub const TOKEN_ENV: &str = "LAKEHOUSE_BRIDGE_TOKEN";

/// A message has at most this many parts; more means the peer is not speaking this protocol.
pub const MAX_PARTS: u32 = 64;

/// Request operations (part 0 of a request).
pub mod op {
    /// `hello <token>`: the first request on a connection.
    pub const HELLO: &str = "hello";
    /// `sql <text>` → `ok <messages> <ipc of the last result, or empty>`.
    pub const SQL: &str = "sql";
    /// `register <name> <ipc>` → `ok <message>`.
    pub const REGISTER: &str = "register";
    /// `params` → `ok <ipc: one row, one column per parameter>`.
    pub const PARAMS: &str = "params";
    /// `settings` → `ok <ipc: setting, value>`.
    pub const SETTINGS: &str = "settings";
    /// `show <total rows> <ipc of the rows to show>` → `ok`: the cell's result table.
    pub const SHOW: &str = "show";
    /// `display` → `ok <max rows shown>`.
    pub const DISPLAY: &str = "display";
}

/// Reply status (part 0 of a reply): `ok ...` or `error <kind> <message>`.
pub mod status {
    /// Success; the parts that follow depend on the operation.
    pub const OK: &str = "ok";
    /// Failure: part 1 is the kind (e.g. `TableNotFound`), part 2 the message.
    pub const ERROR: &str = "error";
}

/// Writes one message.
pub fn write_message(w: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    w.write_all(&header(parts))?;
    for p in parts {
        w.write_all(p)?;
    }
    w.flush()
}

/// The count and lengths that precede the parts of a message, for writers that send the parts
/// themselves (the kernel's async side).
pub fn header(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Vec::with_capacity(4 + 8 * parts.len());
    h.extend_from_slice(&(parts.len() as u32).to_le_bytes());
    for p in parts {
        h.extend_from_slice(&(p.len() as u64).to_le_bytes());
    }
    h
}

/// Reads one message.
pub fn read_message(r: &mut impl Read) -> io::Result<Vec<Vec<u8>>> {
    let mut n = [0u8; 4];
    r.read_exact(&mut n)?;
    let n = u32::from_le_bytes(n);
    if n > MAX_PARTS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a bridge message has {n} parts (at most {MAX_PARTS})"),
        ));
    }
    let mut lens = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let mut l = [0u8; 8];
        r.read_exact(&mut l)?;
        lens.push(u64::from_le_bytes(l) as usize);
    }
    let mut parts = Vec::with_capacity(n as usize);
    for len in lens {
        let mut p = vec![0u8; len];
        r.read_exact(&mut p)?;
        parts.push(p);
    }
    Ok(parts)
}

/// Batches as one Arrow IPC stream.
pub fn encode_batches(schema: &Schema, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::with_capacity(batches.iter().map(|b| b.get_array_memory_size()).sum());
    let mut w = StreamWriter::try_new(&mut out, schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    drop(w);
    Ok(out)
}

/// Reads an Arrow IPC stream without copying the column data out of `bytes`.
pub fn decode_batches(bytes: Vec<u8>) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let mut buf = Buffer::from_vec(bytes);
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::new();
    while !buf.is_empty() {
        if let Some(b) = decoder.decode(&mut buf)? {
            batches.push(b);
        }
    }
    let schema = decoder
        .schema()
        .ok_or_else(|| ArrowError::IpcError("the Arrow stream has no schema".into()))?;
    decoder.finish()?;
    Ok((schema, batches))
}

/// The schema of `batches`, or an empty one.
pub fn schema_of(batches: &[RecordBatch]) -> SchemaRef {
    batches
        .first()
        .map(RecordBatch::schema)
        .unwrap_or_else(|| Arc::new(Schema::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field};

    #[test]
    fn messages_round_trip() {
        let mut buf = Vec::new();
        write_message(&mut buf, &[b"sql", b"SELECT 1", b""]).unwrap();
        let parts = read_message(&mut buf.as_slice()).unwrap();
        assert_eq!(parts, vec![b"sql".to_vec(), b"SELECT 1".to_vec(), vec![]]);
    }

    #[test]
    fn a_message_with_too_many_parts_is_refused() {
        let mut buf = Vec::new();
        buf.extend_from_slice(&1000u32.to_le_bytes());
        let err = read_message(&mut buf.as_slice()).unwrap_err();
        assert!(err.to_string().contains("1000 parts"), "{err}");
    }

    #[test]
    fn batches_round_trip_through_ipc() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
            ],
        )
        .unwrap();
        let bytes = encode_batches(&schema, &[b.clone(), b.slice(1, 2)]).unwrap();
        let (s, batches) = decode_batches(bytes).unwrap();
        assert_eq!(s, schema);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0], b);
        assert_eq!(batches[1].num_rows(), 2);
        // An empty result still carries its schema.
        let (s, batches) = decode_batches(encode_batches(&schema, &[]).unwrap()).unwrap();
        assert_eq!(s, schema);
        assert!(batches.is_empty());
    }
}

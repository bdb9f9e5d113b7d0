//! Run SQL in the lakehouse kernel's session from a Rust cell, and hand Arrow data back.
//!
//! In a `%%rust` cell of the lakehouse kernel this crate is already a dependency and its
//! prelude is in scope:
//!
//! ```no_run
//! use lakehouse::prelude::*;
//!
//! # fn main() -> lakehouse::Result<()> {
//! let events = sql("SELECT customer_id, amount FROM demo.events")?;   // same session, same ref
//! let amounts = events.column("amount")?;                            // an Arrow array
//! let big = events.to_batch()?;                                      // one RecordBatch
//! register("rust_features", big)?;                                   // SQL cells can query it
//! let n: i64 = param("num_events")?;                                 // SET num_events = ...
//! # Ok(()) }
//! ```
//!
//! A `RecordBatch`, `Vec<RecordBatch>` or [`Frame`] as a cell's last expression is shown with
//! the same table renderer as SQL results.
//!
//! The kernel serves the session on a Unix socket named by `LAKEHOUSE_BRIDGE`; data crosses it
//! as Arrow IPC streams ([`wire`]).

use std::fmt;
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};

pub use arrow_array;
pub use arrow_schema;

use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, PrimitiveArray, RecordBatch};
use arrow_schema::{DataType, SchemaRef};

pub mod wire;

/// What went wrong, as the kernel names it (`TableNotFound`, `SyntaxError`, ...) or
/// `BridgeError` when the kernel could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The kind of error, as SQL cells name it.
    pub kind: String,
    /// What happened and what to do.
    pub message: String,
}

impl Error {
    fn new(kind: &str, message: impl Into<String>) -> Self {
        Error {
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    fn bridge(message: impl Into<String>) -> Self {
        Self::new("BridgeError", message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::new("ArrowError", e.to_string())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The result of [`sql`]: the rows of the last statement, and what the other statements said.
#[derive(Debug, Clone)]
pub struct Frame {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    messages: Vec<String>,
}

impl Frame {
    /// The result's schema (also for a result without rows).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The result's batches, as DataFusion produced them.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// The batches, without copying.
    pub fn into_batches(self) -> Vec<RecordBatch> {
        self.batches
    }

    /// Rows in all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// What statements that return no rows said ("Inserted 3 rows into demo.events").
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// All rows as one `RecordBatch` (copies when there is more than one batch).
    pub fn to_batch(&self) -> Result<RecordBatch> {
        match self.batches.as_slice() {
            [one] => Ok(one.clone()),
            many => Ok(arrow_select::concat::concat_batches(&self.schema, many)?),
        }
    }

    /// One column over all rows as a typed array (`Int64Type`, `Float64Type`, ...). The
    /// array owns its data, so a Rust cell can keep it in a variable (evcxr keeps no borrows
    /// from one cell to the next).
    pub fn primitive<T: ArrowPrimitiveType>(&self, name: &str) -> Result<PrimitiveArray<T>> {
        let col = self.column(name)?;
        col.as_any()
            .downcast_ref::<PrimitiveArray<T>>()
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    "TypeError",
                    format!(
                        "column '{name}' is {}, not {}; CAST it in the SQL or pick the matching type",
                        col.data_type(),
                        T::DATA_TYPE
                    ),
                )
            })
    }

    /// One text column over all rows (any of Arrow's string types), NULL as `None`.
    pub fn strings(&self, name: &str) -> Result<Vec<Option<String>>> {
        use arrow_array::cast::AsArray;
        let col = self.column(name)?;
        let owned = |it: &mut dyn Iterator<Item = Option<&str>>| {
            it.map(|v| v.map(str::to_string)).collect()
        };
        match col.data_type() {
            DataType::Utf8 => Ok(owned(&mut col.as_string::<i32>().iter())),
            DataType::LargeUtf8 => Ok(owned(&mut col.as_string::<i64>().iter())),
            DataType::Utf8View => Ok(owned(&mut col.as_string_view().iter())),
            other => Err(Error::new(
                "TypeError",
                format!("column '{name}' is {other}, not text; CAST it AS STRING in the SQL"),
            )),
        }
    }

    /// One column over all rows, by name.
    pub fn column(&self, name: &str) -> Result<ArrayRef> {
        let i = self.schema.index_of(name).map_err(|_| {
            let names: Vec<_> = self
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            Error::new(
                "ColumnNotFound",
                format!(
                    "no column '{name}' in the result; its columns are {}",
                    names.join(", ")
                ),
            )
        })?;
        let parts: Vec<&dyn Array> = self.batches.iter().map(|b| b.column(i).as_ref()).collect();
        match parts.as_slice() {
            [] => Ok(arrow_array::new_empty_array(
                self.schema.field(i).data_type(),
            )),
            [_] => Ok(self.batches[0].column(i).clone()),
            _ => Ok(arrow_select::concat::concat(&parts)?),
        }
    }
}

/// Anything that is a set of batches: `RecordBatch`, `Vec<RecordBatch>`, `&[RecordBatch]`,
/// [`Frame`].
pub trait IntoBatches {
    /// The schema and the batches.
    fn into_schema_batches(self) -> (SchemaRef, Vec<RecordBatch>);
}

impl IntoBatches for RecordBatch {
    fn into_schema_batches(self) -> (SchemaRef, Vec<RecordBatch>) {
        (self.schema(), vec![self])
    }
}

impl IntoBatches for &RecordBatch {
    fn into_schema_batches(self) -> (SchemaRef, Vec<RecordBatch>) {
        self.clone().into_schema_batches()
    }
}

impl IntoBatches for Vec<RecordBatch> {
    fn into_schema_batches(self) -> (SchemaRef, Vec<RecordBatch>) {
        (wire::schema_of(&self), self)
    }
}

impl IntoBatches for &[RecordBatch] {
    fn into_schema_batches(self) -> (SchemaRef, Vec<RecordBatch>) {
        self.to_vec().into_schema_batches()
    }
}

impl IntoBatches for Frame {
    fn into_schema_batches(self) -> (SchemaRef, Vec<RecordBatch>) {
        (self.schema, self.batches)
    }
}

impl IntoBatches for &Frame {
    fn into_schema_batches(self) -> (SchemaRef, Vec<RecordBatch>) {
        (self.schema.clone(), self.batches.clone())
    }
}

/// Runs `query` (one or more `;`-separated statements) in the kernel's SQL session: the same
/// catalog, Nessie reference, parameters and temporary views as SQL cells. Returns every row
/// of the last statement that returned rows.
pub fn sql(query: &str) -> Result<Frame> {
    let reply = call(&[wire::op::SQL.as_bytes(), query.as_bytes()])?;
    let mut reply = reply.into_iter();
    let messages = text(reply.next().unwrap_or_default());
    let messages = messages
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let data = reply.next().unwrap_or_default();
    let (schema, batches) = if data.is_empty() {
        (wire::schema_of(&[]), vec![])
    } else {
        wire::decode_batches(data)?
    };
    Ok(Frame {
        schema,
        batches,
        messages,
    })
}

/// Makes `data` a table SQL cells can query as `name` (`features` or `schema.features`) for
/// the rest of the session, replacing an earlier one of that name. Returns the kernel's
/// message. The rows live in the kernel's memory; write them to an Iceberg table with
/// `sql("INSERT INTO ... SELECT * FROM name")`.
pub fn register(name: &str, data: impl IntoBatches) -> Result<String> {
    let (schema, batches) = data.into_schema_batches();
    let ipc = wire::encode_batches(&schema, &batches)?;
    let reply = call(&[wire::op::REGISTER.as_bytes(), name.as_bytes(), &ipc])?;
    Ok(text(reply.into_iter().next().unwrap_or_default()))
}

/// The session's parameters (`SET name = value` in SQL cells, papermill's `-p`) as one row,
/// one typed column per parameter.
pub fn params() -> Result<RecordBatch> {
    let reply = call(&[wire::op::PARAMS.as_bytes()])?;
    let data = reply.into_iter().next().unwrap_or_default();
    let (schema, batches) = wire::decode_batches(data)?;
    match batches.into_iter().next() {
        Some(b) => Ok(b),
        None => Ok(RecordBatch::new_empty(schema)),
    }
}

/// One parameter, converted to `T` (`i64`, `f64`, `String`, `bool`, ... or `Option<T>` for
/// a parameter that may be NULL).
pub fn param<T: FromParam>(name: &str) -> Result<T> {
    let all = params()?;
    let key = name.trim_start_matches('$').to_ascii_lowercase();
    let Some(col) = all.column_by_name(&key) else {
        let names: Vec<_> = all
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        return Err(Error::new(
            "ParameterError",
            format!(
                "parameter {key} is not set ({}); set it in a SQL cell with SET {key} = ...",
                if names.is_empty() {
                    "no parameters are set".to_string()
                } else {
                    format!("set: {}", names.join(", "))
                }
            ),
        ));
    };
    T::from_param(col.as_ref()).map_err(|want| {
        Error::new(
            "ParameterError",
            format!("parameter {key} is {}, not {want}", col.data_type()),
        )
    })
}

/// The kernel's settings as `SHOW SETTINGS` lists them (secrets hidden), plus the session's
/// `lakehouse.max_rows`, `lakehouse.max_col_width` and `lakehouse.reference`.
pub fn settings() -> Result<Vec<(String, String)>> {
    let reply = call(&[wire::op::SETTINGS.as_bytes()])?;
    let (_, batches) = wire::decode_batches(reply.into_iter().next().unwrap_or_default())?;
    let mut out = Vec::new();
    for b in &batches {
        let (Some(k), Some(v)) = (
            b.column(0)
                .as_any()
                .downcast_ref::<arrow_array::StringArray>(),
            b.column(1)
                .as_any()
                .downcast_ref::<arrow_array::StringArray>(),
        ) else {
            return Err(Error::bridge(
                "the kernel sent settings of an unexpected shape",
            ));
        };
        for i in 0..b.num_rows() {
            out.push((k.value(i).to_string(), v.value(i).to_string()));
        }
    }
    Ok(out)
}

/// One setting by the name `SHOW SETTINGS` gives it (`NESSIE_REF`, `LAKEHOUSE_MAX_ROWS`,
/// `lakehouse.reference`, ...), case-insensitively.
pub fn setting(name: &str) -> Result<String> {
    let all = settings()?;
    all.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            let names: Vec<_> = all.iter().map(|(k, _)| k.as_str()).collect();
            Error::new(
                "SettingError",
                format!("no setting {name}; the settings are {}", names.join(", ")),
            )
        })
}

/// Shows `data` as the cell's result table, with the renderer SQL results use.
pub fn show(data: impl IntoBatches) -> Result<()> {
    let (schema, batches) = data.into_schema_batches();
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    // Only the rows the table shows cross the socket.
    let reply = call(&[wire::op::DISPLAY.as_bytes()])?;
    let max_rows: usize = text(reply.into_iter().next().unwrap_or_default())
        .parse()
        .unwrap_or(50);
    let mut kept = Vec::new();
    let mut left = max_rows;
    for b in &batches {
        if left == 0 {
            break;
        }
        let take = left.min(b.num_rows());
        kept.push(b.slice(0, take));
        left -= take;
    }
    let ipc = wire::encode_batches(&schema, &kept)?;
    call(&[
        wire::op::SHOW.as_bytes(),
        total.to_string().as_bytes(),
        &ipc,
    ])?;
    Ok(())
}

/// How a cell's last expression is shown: evcxr calls `evcxr_display` on the value when such
/// a method is in scope. Batches and frames become the cell's result table; any other
/// `Debug` value is its `{:?}` text, as evcxr would print it. One impl for every type, so
/// that evcxr's first compile of the cell succeeds: without it, evcxr compiles each cell
/// that ends in a plain value twice (the display call fails, then its fallback runs).
/// A type with an inherent `evcxr_display` method keeps its own display.
pub trait Show {
    /// Shows the value as the cell's result.
    fn evcxr_display(&self);
}

fn show_or_report(data: impl IntoBatches) {
    if let Err(e) = show(data) {
        eprintln!("cannot show the result: {e}");
    }
}

impl<T: std::fmt::Debug + 'static> Show for T {
    fn evcxr_display(&self) {
        let any = self as &dyn std::any::Any;
        if let Some(b) = any.downcast_ref::<RecordBatch>() {
            show_or_report(b)
        } else if let Some(v) = any.downcast_ref::<Vec<RecordBatch>>() {
            show_or_report(v.as_slice())
        } else if let Some(f) = any.downcast_ref::<Frame>() {
            show_or_report(f)
        } else {
            use std::io::Write;
            let text = format!("{self:?}");
            let mut out = std::io::stdout().lock();
            let _ = write!(
                out,
                "EVCXR_BEGIN_CONTENT text/plain\n{text}\nEVCXR_END_CONTENT\n"
            );
            let _ = out.flush();
        }
    }
}

/// Conversion of a parameter's one-value Arrow column into a Rust value.
pub trait FromParam: Sized {
    /// The value, or the name of the wanted type when the column cannot become one.
    fn from_param(col: &dyn Array) -> std::result::Result<Self, &'static str>;
}

fn int_of(col: &dyn Array) -> Option<i64> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    if col.is_null(0) {
        return None;
    }
    Some(match col.data_type() {
        DataType::Int8 => col.as_primitive::<Int8Type>().value(0) as i64,
        DataType::Int16 => col.as_primitive::<Int16Type>().value(0) as i64,
        DataType::Int32 => col.as_primitive::<Int32Type>().value(0) as i64,
        DataType::Int64 => col.as_primitive::<Int64Type>().value(0),
        DataType::UInt8 => col.as_primitive::<UInt8Type>().value(0) as i64,
        DataType::UInt16 => col.as_primitive::<UInt16Type>().value(0) as i64,
        DataType::UInt32 => col.as_primitive::<UInt32Type>().value(0) as i64,
        DataType::UInt64 => i64::try_from(col.as_primitive::<UInt64Type>().value(0)).ok()?,
        _ => return None,
    })
}

impl FromParam for i64 {
    fn from_param(col: &dyn Array) -> std::result::Result<Self, &'static str> {
        int_of(col).ok_or("an integer")
    }
}

impl FromParam for i32 {
    fn from_param(col: &dyn Array) -> std::result::Result<Self, &'static str> {
        int_of(col)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or("a 32-bit integer")
    }
}

impl FromParam for usize {
    fn from_param(col: &dyn Array) -> std::result::Result<Self, &'static str> {
        int_of(col)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or("a non-negative integer")
    }
}

impl FromParam for f64 {
    fn from_param(col: &dyn Array) -> std::result::Result<Self, &'static str> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::*;
        if col.is_null(0) {
            return Err("a number");
        }
        match col.data_type() {
            DataType::Float32 => Ok(col.as_primitive::<Float32Type>().value(0) as f64),
            DataType::Float64 => Ok(col.as_primitive::<Float64Type>().value(0)),
            DataType::Decimal128(_, s) => {
                Ok(col.as_primitive::<Decimal128Type>().value(0) as f64 / 10f64.powi(*s as i32))
            }
            _ => int_of(col).map(|v| v as f64).ok_or("a number"),
        }
    }
}

impl FromParam for bool {
    fn from_param(col: &dyn Array) -> std::result::Result<Self, &'static str> {
        use arrow_array::cast::AsArray;
        match col.data_type() {
            DataType::Boolean if !col.is_null(0) => Ok(col.as_boolean().value(0)),
            _ => Err("a boolean"),
        }
    }
}

impl FromParam for String {
    fn from_param(col: &dyn Array) -> std::result::Result<Self, &'static str> {
        use arrow_array::cast::AsArray;
        if col.is_null(0) {
            return Err("a string");
        }
        match col.data_type() {
            DataType::Utf8 => Ok(col.as_string::<i32>().value(0).to_string()),
            DataType::LargeUtf8 => Ok(col.as_string::<i64>().value(0).to_string()),
            DataType::Utf8View => Ok(col.as_string_view().value(0).to_string()),
            _ => Err("a string"),
        }
    }
}

impl<T: FromParam> FromParam for Option<T> {
    fn from_param(col: &dyn Array) -> std::result::Result<Self, &'static str> {
        if col.is_null(0) {
            Ok(None)
        } else {
            T::from_param(col).map(Some)
        }
    }
}

/// What a Rust cell usually needs: the functions above, the display trait and the common
/// Arrow types.
pub mod prelude {
    pub use crate::{param, params, register, setting, settings, show, sql, Frame, Show};
    pub use arrow_array::cast::AsArray;
    pub use arrow_array::types::{Float64Type, Int32Type, Int64Type};
    pub use arrow_array::{
        Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch,
        StringArray,
    };
    pub use arrow_schema::{DataType, Field, Schema, SchemaRef};
}

/// The line a panicking Rust cell prints on stdout, before evcxr's own notice, so the kernel
/// can report the panic as the cell's error.
pub const PANIC_MARKER: &str = "LAKEHOUSE_PANIC ";

/// Reports panics to the kernel as one marked stdout line (newlines escaped). The kernel
/// calls this when it starts the Rust process; nothing else needs it.
#[doc(hidden)]
pub fn __install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a panic without a message)".to_string());
        let escaped = message.replace('\\', "\\\\").replace('\n', "\\n");
        println!("{PANIC_MARKER}{escaped}");
    }));
}

/// The process's one connection to the kernel, opened on first use.
static CONNECTION: Mutex<Option<UnixStream>> = Mutex::new(None);

fn connection() -> Result<MutexGuard<'static, Option<UnixStream>>> {
    let mut guard = CONNECTION.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        let path = std::env::var(wire::BRIDGE_ENV).map_err(|_| {
            Error::bridge(format!(
                "{} is not set: this code is not running in a lakehouse kernel's Rust cell",
                wire::BRIDGE_ENV
            ))
        })?;
        let token = std::env::var(wire::TOKEN_ENV).unwrap_or_default();
        let mut s = UnixStream::connect(&path)
            .map_err(|e| Error::bridge(format!("cannot reach the kernel at {path}: {e}")))?;
        wire::write_message(&mut s, &[wire::op::HELLO.as_bytes(), token.as_bytes()])
            .and_then(|_| wire::read_message(&mut s))
            .map_err(|e| Error::bridge(format!("the kernel did not answer at {path}: {e}")))
            .and_then(check)?;
        *guard = Some(s);
    }
    Ok(guard)
}

/// One request and its reply. A broken connection is dropped, so the next call reconnects.
fn call(parts: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
    let mut guard = connection()?;
    let s = guard.as_mut().expect("connected");
    let reply = wire::write_message(s, parts).and_then(|_| wire::read_message(s));
    match reply {
        Ok(reply) => check(reply),
        Err(e) => {
            *guard = None;
            Err(Error::bridge(format!(
                "lost the connection to the kernel ({e}); run the cell again"
            )))
        }
    }
}

fn check(reply: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>> {
    let mut it = reply.into_iter();
    let status = text(it.next().unwrap_or_default());
    match status.as_str() {
        wire::status::OK => Ok(it.collect()),
        wire::status::ERROR => {
            let kind = text(it.next().unwrap_or_default());
            let message = text(it.next().unwrap_or_default());
            Err(Error { kind, message })
        }
        other => Err(Error::bridge(format!(
            "the kernel answered '{other}', which this client does not understand (client {})",
            env!("CARGO_PKG_VERSION")
        ))),
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn parameters_convert_to_rust_types() {
        let i: ArrayRef = Arc::new(Int64Array::from(vec![42]));
        let f: ArrayRef = Arc::new(Float64Array::from(vec![1.5]));
        let s: ArrayRef = Arc::new(StringArray::from(vec!["it's"]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![None::<i64>]));
        assert_eq!(i64::from_param(i.as_ref()), Ok(42));
        assert_eq!(f64::from_param(i.as_ref()), Ok(42.0));
        assert_eq!(f64::from_param(f.as_ref()), Ok(1.5));
        assert_eq!(String::from_param(s.as_ref()), Ok("it's".to_string()));
        assert_eq!(Option::<i64>::from_param(n.as_ref()), Ok(None));
        assert_eq!(i64::from_param(n.as_ref()), Err("an integer"));
        assert_eq!(i64::from_param(s.as_ref()), Err("an integer"));
    }

    #[test]
    fn frame_columns_span_batches_and_name_missing_ones() {
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "x",
            DataType::Int64,
            false,
        )]));
        let b = |v: Vec<i64>| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(v))]).unwrap()
        };
        let f = Frame {
            schema: schema.clone(),
            batches: vec![b(vec![1, 2]), b(vec![3])],
            messages: vec![],
        };
        assert_eq!(f.num_rows(), 3);
        assert_eq!(f.column("x").unwrap().len(), 3);
        assert_eq!(f.to_batch().unwrap().num_rows(), 3);
        assert_eq!(
            f.primitive::<arrow_array::types::Int64Type>("x")
                .unwrap()
                .values(),
            &[1, 2, 3]
        );
        let e = f
            .primitive::<arrow_array::types::Float64Type>("x")
            .unwrap_err();
        assert!(e.message.contains("is Int64, not Float64"), "{e}");
        assert_eq!(f.strings("x").unwrap_err().kind, "TypeError");
        let e = f.column("y").unwrap_err();
        assert_eq!(e.kind, "ColumnNotFound");
        assert!(e.message.contains("its columns are x"), "{e}");
    }

    #[test]
    fn outside_a_kernel_calls_say_so() {
        std::env::remove_var(wire::BRIDGE_ENV);
        let e = sql("SELECT 1").unwrap_err();
        assert_eq!(e.kind, "BridgeError");
        assert!(
            e.message.contains("not running in a lakehouse kernel"),
            "{e}"
        );
    }
}

//! MIME bundles: what every output becomes here before the server wraps it in a message.
//!
//! A bundle is the `data` map of a Jupyter `display_data` or `execute_result`: one entry per
//! MIME type, the front end showing the richest it can. It is a plain list so the render
//! crate stays free of the protocol types; the server converts it and publishes it.

/// The content of one MIME type in a bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// Text (`text/plain`, `text/html`, `text/markdown`, or a Rust cell's own type).
    Text(String),
    /// A JSON document (`application/vnd.vegalite.v5+json`), sent as JSON rather than text.
    Json(serde_json::Value),
}

/// A MIME bundle: `(MIME type, content)` pairs, in the order they were chosen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bundle {
    entries: Vec<(String, Data)>,
}

impl Bundle {
    /// An empty bundle.
    pub fn new() -> Bundle {
        Bundle::default()
    }

    /// The bundle with `text` added under `mime`.
    pub fn text(mut self, mime: &str, text: impl Into<String>) -> Bundle {
        self.entries
            .push((mime.to_string(), Data::Text(text.into())));
        self
    }

    /// The bundle with the JSON document `value` added under `mime`.
    pub fn json(mut self, mime: &str, value: serde_json::Value) -> Bundle {
        self.entries.push((mime.to_string(), Data::Json(value)));
        self
    }

    /// A bundle a Rust cell made itself (`{mime: text}`): every entry is passed on as text.
    pub fn from_text_pairs(pairs: Vec<(String, String)>) -> Bundle {
        Bundle {
            entries: pairs.into_iter().map(|(m, t)| (m, Data::Text(t))).collect(),
        }
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[(String, Data)] {
        &self.entries
    }

    /// The entries, in order, by value (for converting to protocol types).
    pub fn into_entries(self) -> Vec<(String, Data)> {
        self.entries
    }

    /// The content of `mime`, if the bundle has it.
    pub fn get(&self, mime: &str) -> Option<&Data> {
        self.entries.iter().find(|(m, _)| m == mime).map(|(_, d)| d)
    }

    /// The text of `mime`, if the bundle has it as text.
    pub fn get_text(&self, mime: &str) -> Option<&str> {
        match self.get(mime)? {
            Data::Text(t) => Some(t),
            Data::Json(_) => None,
        }
    }

    /// The MIME types, in order.
    pub fn mime_types(&self) -> Vec<&str> {
        self.entries.iter().map(|(m, _)| m.as_str()).collect()
    }
}

//! Editing help: is_complete, completion and inspection for SQL cells.
//!
//! [`context`] finds what may be typed at the cursor from the text alone; the catalog facts
//! come from the session's [`cache::AssistCache`], so a completion answers from memory and
//! leaves network round trips to background refreshes.

mod cache;
mod context;
mod inspect;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use datafusion::catalog::CatalogProvider;
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use serde_json::{json, Map, Value};

pub use cache::{AssistCache, Column};
pub use inspect::Inspection;

use super::split;
use super::SqlEngine;
use crate::catalog::{Listing, CATALOG_NAME};
use context::{Analysis, Slot};

/// Answer to is_complete_request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsComplete {
    Complete,
    Incomplete,
    Invalid,
}

/// Answer to complete_request: matches replace `code[start..end]` (in characters).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    /// Replacement texts, best first.
    pub matches: Vec<String>,
    /// Start of the replaced text (characters).
    pub cursor_start: usize,
    /// End of the replaced text (characters).
    pub cursor_end: usize,
    /// The kind of each match: keyword, function, table, column, schema, catalog, branch,
    /// tag or magic.
    pub kinds: Vec<&'static str>,
    /// A short detail per match (a column's type, a function's syntax, a commit hash).
    pub details: Vec<Option<String>>,
}

impl Completion {
    /// complete_reply metadata: `_jupyter_types_experimental`, from which JupyterLab shows
    /// the kind of each match.
    pub fn metadata(&self) -> Map<String, Value> {
        let types: Vec<Value> = self
            .matches
            .iter()
            .zip(&self.kinds)
            .zip(&self.details)
            .map(|((text, kind), detail)| {
                let mut item = json!({
                    "start": self.cursor_start,
                    "end": self.cursor_end,
                    "text": text,
                    "type": kind,
                });
                if let Some(d) = detail {
                    item["signature"] = json!(d);
                }
                item
            })
            .collect();
        let mut m = Map::new();
        m.insert("_jupyter_types_experimental".into(), Value::Array(types));
        m
    }
}

/// Cell magics offered after `%` at the start of a cell, with their usage.
const MAGICS: &[(&str, &str)] = &[("%%sql", super::magic::MAGICS)];
/// How long a completion waits for facts it has never fetched when they are all it can
/// offer (a table's columns after `alias.`, branch names): the first time only.
const FIRST_FETCH_WAIT: Duration = Duration::from_secs(2);
/// How long it waits for columns it has never fetched when it has keywords and functions
/// to offer meanwhile; the fetch goes on, and the next completion has them.
const EXTRA_FETCH_WAIT: Duration = Duration::from_millis(30);

/// Keywords the SQL parser knows, plus this kernel's own, shortest first.
fn keywords() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let own = super::parser::OWN_KEYWORDS.iter().copied();
        let mut words: Vec<&'static str> = ALL_KEYWORDS.iter().copied().chain(own).collect();
        words.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        words.dedup();
        words
    })
}

/// The tables of DataFusion's `information_schema`.
const INFORMATION_SCHEMA: &[&str] = &[
    "columns",
    "df_settings",
    "parameters",
    "routines",
    "schemata",
    "tables",
    "views",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// A SQL identifier: quoted when it has to be (or the user started a quote).
    Ident,
    /// A branch or tag name (the branch statements take any word).
    RefName,
    /// A keyword, in the case the user started it in.
    Keyword,
    /// As is (functions, magics).
    Raw,
}

/// Matches as they are collected: filtered by what was typed, without duplicates, in the
/// order added.
struct Items<'a> {
    prefix: String,
    quote: Option<char>,
    upper: bool,
    seen: HashSet<String>,
    out: &'a mut Completion,
}

impl<'a> Items<'a> {
    fn new(prefix: &str, quote: Option<char>, out: &'a mut Completion) -> Self {
        Items {
            prefix: prefix.to_lowercase(),
            quote,
            upper: prefix.chars().next().is_none_or(char::is_uppercase),
            seen: HashSet::new(),
            out,
        }
    }

    fn wants(&self, name: &str) -> bool {
        name.to_lowercase().starts_with(&self.prefix)
    }

    fn add(&mut self, name: &str, form: Form, kind: &'static str, detail: Option<String>) {
        if !self.wants(name) || (self.quote.is_some() && matches!(form, Form::Keyword | Form::Raw))
        {
            return;
        }
        let text = match form {
            Form::Ident => ident(name, self.quote),
            Form::RefName if self.quote.is_some() || name.contains(char::is_whitespace) => {
                let q = self.quote.unwrap_or('`');
                format!("{q}{}{q}", name.replace(q, &format!("{q}{q}")))
            }
            Form::Keyword if !self.upper => name.to_lowercase(),
            _ => name.to_string(),
        };
        if self.seen.insert(text.to_lowercase()) {
            self.out.matches.push(text);
            self.out.kinds.push(kind);
            self.out.details.push(detail);
        }
    }
}

/// `name` as SQL: bare when DataFusion reads it back unchanged, else double-quoted.
fn ident(name: &str, quote: Option<char>) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    match quote {
        None if plain => name.to_string(),
        q => {
            let q = q.unwrap_or('"');
            format!("{q}{}{q}", name.replace(q, &format!("{q}{q}")))
        }
    }
}

impl SqlEngine {
    /// Whether a console should run `code` now (psql's rule: a statement ends with `;`).
    /// A `%%sql` line is read as the magic it is, and the SQL after it as SQL.
    pub fn is_complete(&self, code: &str) -> IsComplete {
        let code = match super::magic::parse(code) {
            Ok((_, Some(rest))) => rest,
            Ok((_, None)) => code.to_string(),
            Err(_) => return IsComplete::Invalid,
        };
        let s = split::split(&code);
        if s.pieces.is_empty() {
            return IsComplete::Complete;
        }
        if s.open.is_some() || !s.terminated {
            return IsComplete::Incomplete;
        }
        let dialect = datafusion::sql::sqlparser::dialect::GenericDialect {};
        for p in &s.pieces {
            match datafusion::sql::parser::DFParser::parse_sql_with_dialect(&p.text, &dialect) {
                // This runs beside the sockets: free deep chains without deep recursion.
                Ok(statements) => statements.into_iter().for_each(super::depth::release),
                Err(_) => return IsComplete::Invalid,
            }
        }
        IsComplete::Complete
    }

    /// Completes the name before `cursor` (a character offset, clamped to the code) from
    /// what may stand there: keywords, functions, schemas, tables, columns, branches.
    pub async fn complete(&self, code: &str, cursor: usize) -> Completion {
        let a = context::analyze(code, cursor);
        let mut out = Completion {
            cursor_start: a.target.start,
            cursor_end: a.target.end,
            ..Completion::default()
        };
        let mut items = Items::new(&a.target.prefix, a.target.quote, &mut out);
        match a.slot {
            Slot::Nothing => {}
            Slot::Magic => {
                for (name, what) in MAGICS {
                    items.add(name, Form::Raw, "magic", Some(what.to_string()));
                }
            }
            Slot::MagicArg(ref option) => self.complete_magic_arg(&a, option, &mut items).await,
            Slot::Table => self.complete_table(&a, &mut items),
            Slot::Reference => self.complete_reference(&mut items).await,
            Slot::RefGrammar => {
                for w in super::refs::AFTER_NAME {
                    items.add(w, Form::Keyword, "keyword", None);
                }
            }
            Slot::Catalog => items.add(CATALOG_NAME, Form::Ident, "catalog", None),
            Slot::Expression => self.complete_expression(&a, &mut items).await,
        }
        if !matches!(a.slot, Slot::Nothing | Slot::Magic | Slot::MagicArg(_)) {
            // Columns of the statement's tables, for the next completion.
            self.prefetch_columns(&a).await;
        }
        out
    }

    /// `%%sql --chart ba` → chart kinds; `--x ` → the cell's columns; else the options.
    async fn complete_magic_arg(&self, a: &Analysis, option: &str, items: &mut Items<'_>) {
        match option {
            "--chart" => {
                for kind in lakehouse_render::ChartKind::NAMES.split(", ") {
                    items.add(kind, Form::Raw, "keyword", None);
                }
            }
            "--x" | "--y" | "--color" => {
                let listing = self.assist.listing(&self.catalog);
                for t in &a.tables {
                    if let Some((schema, table)) = self.resolve_table(&t.parts, &listing) {
                        if let Some(cols) = self.columns(&schema, &table, FIRST_FETCH_WAIT).await {
                            for c in cols.iter() {
                                items.add(&c.name, Form::Raw, "column", Some(c.data_type.clone()));
                            }
                        }
                    }
                }
            }
            "--title" => {}
            _ => {
                for o in super::magic::OPTIONS {
                    items.add(o, Form::Raw, "magic", None);
                }
            }
        }
    }

    fn complete_table(&self, a: &Analysis, items: &mut Items<'_>) {
        let listing = self.assist.listing(&self.catalog);
        let q = &a.target.qualifier;
        let schema = match q.as_slice() {
            [] => {
                for s in self.schema_names(&listing) {
                    items.add(&s, Form::Ident, "schema", None);
                }
                for t in self.table_names(&listing, &self.settings.default_schema) {
                    items.add(&t, Form::Ident, "table", None);
                }
                items.add(CATALOG_NAME, Form::Ident, "catalog", None);
                let mut functions: Vec<String> = {
                    let state = self.ctx.state_ref();
                    let state = state.read();
                    state.table_functions().keys().cloned().collect()
                };
                functions.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
                for f in functions {
                    items.add(&f, Form::Raw, "function", None);
                }
                return;
            }
            [c] if c == CATALOG_NAME => {
                for s in self.schema_names(&listing) {
                    items.add(&s, Form::Ident, "schema", None);
                }
                return;
            }
            [c, rest @ ..] if c == CATALOG_NAME => rest.join("."),
            parts => parts.join("."),
        };
        for t in self.table_names(&listing, &schema) {
            items.add(&t, Form::Ident, "table", None);
        }
    }

    async fn complete_reference(&self, items: &mut Items<'_>) {
        let Some(nessie) = &self.nessie else {
            return;
        };
        if let Some(refs) = self.assist.references(nessie, FIRST_FETCH_WAIT).await {
            for r in refs.iter() {
                let kind = match r.kind {
                    lakehouse_nessie::RefKind::Branch => "branch",
                    lakehouse_nessie::RefKind::Tag => "tag",
                };
                let hash = r.hash.chars().take(12).collect();
                items.add(&r.name, Form::RefName, kind, Some(hash));
            }
        }
    }

    async fn complete_expression(&self, a: &Analysis, items: &mut Items<'_>) {
        let listing = self.assist.listing(&self.catalog);
        let q = &a.target.qualifier;
        if !q.is_empty() {
            // `alias.`, `table.`, `schema.table.`: that table's columns.
            if let Some((schema, table)) = self.qualified_table(a, q, &listing) {
                if let Some(cols) = self.columns(&schema, &table, FIRST_FETCH_WAIT).await {
                    for c in cols.iter() {
                        items.add(&c.name, Form::Ident, "column", Some(c.data_type.clone()));
                    }
                }
                return;
            }
            // `schema.` or `lakehouse.` outside FROM: tables or schemas.
            if matches!(q.as_slice(), [c] if c == CATALOG_NAME) {
                for s in self.schema_names(&listing) {
                    items.add(&s, Form::Ident, "schema", None);
                }
            } else {
                let schema = match q.as_slice() {
                    [c, rest @ ..] if c == CATALOG_NAME => rest.join("."),
                    parts => parts.join("."),
                };
                for t in self.table_names(&listing, &schema) {
                    items.add(&t, Form::Ident, "table", None);
                }
            }
            return;
        }
        // The columns of the statement's tables: all fetches start at once and share one wait.
        let tables: Vec<(String, String)> = a
            .tables
            .iter()
            .filter_map(|t| self.resolve_table(&t.parts, &listing))
            .collect();
        let deadline = Instant::now() + EXTRA_FETCH_WAIT;
        for (schema, table) in &tables {
            let _ = self.columns(schema, table, Duration::ZERO).await;
        }
        for (schema, table) in &tables {
            let wait = deadline.saturating_duration_since(Instant::now());
            if let Some(cols) = self.columns(schema, table, wait).await {
                for c in cols.iter() {
                    items.add(&c.name, Form::Ident, "column", Some(c.data_type.clone()));
                }
            }
        }
        if items.quote.is_some() {
            return;
        }
        for (name, syntax) in self.functions(&items.prefix) {
            items.add(&name, Form::Raw, "function", syntax);
        }
        for k in keywords() {
            items.add(k, Form::Keyword, "keyword", None);
        }
    }

    async fn prefetch_columns(&self, a: &Analysis) {
        let listing = self.assist.listing(&self.catalog);
        for t in &a.tables {
            if let Some((schema, table)) = self.resolve_table(&t.parts, &listing) {
                let _ = self.columns(&schema, &table, Duration::ZERO).await;
            }
        }
    }

    /// Scalar, aggregate and window functions whose names start with `prefix` (lower case),
    /// shortest first, with their syntax when documented.
    fn functions(&self, prefix: &str) -> Vec<(String, Option<String>)> {
        let state = self.ctx.state_ref();
        let state = state.read();
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        for (name, f) in state.scalar_functions() {
            if name.starts_with(prefix) {
                out.push((
                    name.clone(),
                    f.documentation().map(|d| d.syntax_example.clone()),
                ));
            }
        }
        for (name, f) in state.aggregate_functions() {
            if name.starts_with(prefix) {
                out.push((
                    name.clone(),
                    f.documentation().map(|d| d.syntax_example.clone()),
                ));
            }
        }
        for (name, f) in state.window_functions() {
            if name.starts_with(prefix) {
                out.push((
                    name.clone(),
                    f.documentation().map(|d| d.syntax_example.clone()),
                ));
            }
        }
        out.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(&b.0)));
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// Schemas: the catalog's, the session's (views) and `information_schema`.
    fn schema_names(&self, listing: &Listing) -> Vec<String> {
        let mut names: Vec<String> = listing.schemas.keys().cloned().collect();
        for o in self.catalog.session_objects() {
            if let Some((s, _)) = o.rsplit_once('.') {
                names.push(s.to_string());
            }
        }
        names.push("information_schema".into());
        names.sort();
        names.dedup();
        names
    }

    /// Tables (and this session's views) of `schema`.
    fn table_names(&self, listing: &Listing, schema: &str) -> Vec<String> {
        if schema == "information_schema" {
            return INFORMATION_SCHEMA.iter().map(|s| s.to_string()).collect();
        }
        let mut names: Vec<String> = listing
            .schemas
            .get(schema)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        for o in self.catalog.session_objects() {
            if let Some((s, t)) = o.rsplit_once('.') {
                if s == schema {
                    names.push(t.to_string());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// `[lakehouse.]schema.table`, `table` (default schema) → (schema, table) when it exists.
    /// Names on other references (`t@dev`) resolve to the table; metadata tables do not.
    fn resolve_table(&self, parts: &[String], listing: &Listing) -> Option<(String, String)> {
        let parts = match parts {
            [c, rest @ ..] if c == CATALOG_NAME && rest.len() >= 2 => rest,
            p => p,
        };
        let (table, schema) = parts.split_last()?;
        let schema = if schema.is_empty() {
            self.settings.default_schema.clone()
        } else {
            schema.join(".")
        };
        if table.contains('$') {
            return None;
        }
        let table = table.split(['@', '#']).next().unwrap_or(table).to_string();
        let exists = listing
            .schemas
            .get(&schema)
            .is_some_and(|ts| ts.contains(&table))
            || self.is_view(&schema, &table);
        exists.then_some((schema, table))
    }

    /// The table `qualifier` names in the statement (alias or name), or as a table name.
    fn qualified_table(
        &self,
        a: &Analysis,
        qualifier: &[String],
        listing: &Listing,
    ) -> Option<(String, String)> {
        if let Some(t) = context::table_for(&a.tables, qualifier) {
            if let Some(found) = self.resolve_table(&t.parts, listing) {
                return Some(found);
            }
        }
        self.resolve_table(qualifier, listing)
    }

    fn is_view(&self, schema: &str, table: &str) -> bool {
        self.catalog
            .session_objects()
            .contains(&format!("{schema}.{table}"))
    }

    /// A table's columns: views from the session, Iceberg tables from the cache.
    async fn columns(&self, schema: &str, table: &str, wait: Duration) -> Option<Arc<Vec<Column>>> {
        if self.is_view(schema, table) {
            let provider = self.catalog.schema(schema)?.table(table).await.ok()??;
            let cols = provider
                .schema()
                .fields()
                .iter()
                .map(|f| Column {
                    name: f.name().clone(),
                    data_type: f.data_type().to_string(),
                })
                .collect();
            return Some(Arc::new(cols));
        }
        self.assist
            .columns(&self.catalog, schema, table, wait)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn engine(name: &str) -> (SqlEngine, std::path::PathBuf) {
        super::super::test_engine(&format!("assist-{name}")).await
    }

    async fn run(e: &SqlEngine, sql: &str) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        e.execute(sql, &tx).await.unwrap();
        drop(tx);
        while rx.recv().await.is_some() {}
    }

    /// Completes at `|` and returns (match, kind) pairs.
    async fn complete(e: &SqlEngine, code: &str) -> Vec<(String, &'static str)> {
        let cursor = code.chars().position(|c| c == '|').unwrap();
        let code: String = code.chars().filter(|&c| c != '|').collect();
        let c = e.complete(&code, cursor).await;
        assert_eq!(c.matches.len(), c.kinds.len());
        c.matches.into_iter().zip(c.kinds).collect()
    }

    fn has(got: &[(String, &'static str)], text: &str, kind: &str) -> bool {
        got.iter().any(|(t, k)| t == text && *k == kind)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn completes_by_context_from_the_live_catalog() {
        let (e, dir) = engine("context").await;
        run(
            &e,
            "CREATE SCHEMA demo; CREATE TABLE demo.events (customer_id STRING, amount DOUBLE);
             CREATE TABLE demo.customers (id STRING, \"Name\" STRING)",
        )
        .await;
        let got = complete(&e, "SELECT * FROM de|").await;
        assert!(has(&got, "demo", "schema"), "{got:?}");
        let got = complete(&e, "SELECT * FROM demo.|").await;
        assert!(has(&got, "events", "table") && has(&got, "customers", "table"));
        let got = complete(&e, "SELECT e.| FROM demo.events e").await;
        assert_eq!(
            got,
            vec![
                ("customer_id".to_string(), "column"),
                ("amount".to_string(), "column")
            ]
        );
        let got = complete(&e, "SELECT c.n| FROM demo.customers AS c").await;
        assert_eq!(got, vec![("\"Name\"".to_string(), "column")]);
        let got = complete(&e, "SELECT a| FROM demo.events").await;
        assert_eq!(got[0], ("amount".to_string(), "column"), "{got:?}");
        assert!(has(&got, "abs", "function") && has(&got, "avg", "function"));
        assert!(has(&got, "and", "keyword"), "{got:?}");
        let got = complete(&e, "SEL|").await;
        assert!(has(&got, "SELECT", "keyword"));
        let got = complete(&e, "SELECT 'de|").await;
        assert!(got.is_empty());
        let got = complete(&e, "%%s|").await;
        assert!(has(&got, "%%sql", "magic"));
        let got = complete(&e, "%%sql --chart bar --x |\nSELECT * FROM demo.events").await;
        assert!(has(&got, "customer_id", "column"), "{got:?}");
        // A table created in the session is there at once.
        run(&e, "CREATE TABLE demo.orders (x INT)").await;
        let got = complete(&e, "SELECT * FROM demo.o|").await;
        assert_eq!(got, vec![("orders".to_string(), "table")]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn magic_line_is_not_sql_for_is_complete() {
        let (e, dir) = engine("is-complete").await;
        assert_eq!(
            e.is_complete("%%sql --chart bar\nSELECT 1;"),
            IsComplete::Complete
        );
        assert_eq!(e.is_complete("%%sql\nSELECT 1"), IsComplete::Incomplete);
        assert_eq!(e.is_complete("%%python\nSELECT 1;"), IsComplete::Invalid);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inspects_tables_columns_and_functions() {
        let (e, dir) = engine("inspect").await;
        run(
            &e,
            "CREATE SCHEMA demo; CREATE TABLE demo.events (customer_id STRING, amount DOUBLE);
             INSERT INTO demo.events VALUES ('a', 1.0), ('b', 2.0)",
        )
        .await;
        let code = "SELECT e.amount, count(*) FROM demo.events e";
        let t = e.inspect(code, code.len() - 4).await.unwrap();
        assert!(t.plain.starts_with("table demo.events"), "{}", t.plain);
        for want in [
            "customer_id",
            "amount",
            "rows: 2",
            "data files: 1",
            "location: ",
        ] {
            assert!(t.plain.contains(want), "{want} in {}", t.plain);
        }
        assert!(
            t.markdown.contains("| amount | `double` |"),
            "{}",
            t.markdown
        );
        let c = e.inspect(code, 11).await.unwrap();
        assert_eq!(c.plain, "column amount: double (of demo.events)");
        let f = e.inspect(code, 18).await.unwrap();
        assert!(
            f.plain.starts_with("count: aggregate function"),
            "{}",
            f.plain
        );
        assert!(f.markdown.contains("count("), "{}", f.markdown);
        assert!(e.inspect("SELECT 1 + zzz_unknown", 20).await.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

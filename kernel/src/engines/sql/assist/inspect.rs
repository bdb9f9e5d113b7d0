//! Inspection (Shift+Tab): what the name under the cursor is — a table, a column, a
//! function, a schema or a branch/tag — as text/plain and text/markdown.

use std::fmt::Write as _;

use datafusion::logical_expr::Documentation;
use iceberg::table::Table;
use iceberg::TableIdent;

use super::context::{self, Slot, Word};
use super::Column;
use crate::catalog::{self, CATALOG_NAME};
use crate::engines::sql::SqlEngine;

/// An answer to inspect_request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// text/plain
    pub plain: String,
    /// text/markdown
    pub markdown: String,
}

impl SqlEngine {
    /// Describes the name under `cursor`: a table (columns, partitioning, snapshot, rows,
    /// files, location, properties), a column, a function (signature and documentation), a
    /// schema, or a branch/tag (hash and last commit).
    pub async fn inspect(&self, code: &str, cursor: usize) -> Option<Inspection> {
        let w = context::word_at(code, cursor)?;
        if w.slot == Slot::Reference {
            return self.describe_reference(&w.parts.join(".")).await;
        }
        if matches!(w.slot, Slot::Nothing | Slot::Magic) {
            return None;
        }
        let last = w.parts.last()?.clone();
        if w.call {
            if let Some(found) = self.describe_function(&last) {
                return Some(found);
            }
        }
        let listing = self.assist.listing(&self.catalog);
        // The table the whole name stands for, or the name up to the cursor (`e` of
        // `e.amount`: the alias's table; `events` of `events.amount`).
        let upto = &w.parts[..=w.index];
        let table = self
            .resolve_table(&w.parts, &listing)
            .or_else(|| {
                (upto.len() == 1)
                    .then(|| context::table_for(&w.tables, upto))
                    .flatten()
                    .and_then(|t| self.resolve_table(&t.parts, &listing))
            })
            .or_else(|| {
                (upto.len() < w.parts.len())
                    .then(|| self.resolve_table(upto, &listing))
                    .flatten()
            });
        if let Some((schema, table)) = table {
            return self.describe_table(&schema, &table).await;
        }
        if w.slot == Slot::Table && w.parts.len() >= 2 {
            // Not listed yet (created elsewhere a moment ago): ask the catalog.
            let (t, s) = w.parts.split_last()?;
            let s: Vec<String> = match s {
                [c, rest @ ..] if c == CATALOG_NAME && !rest.is_empty() => rest.to_vec(),
                s => s.to_vec(),
            };
            if let Some(found) = self.describe_table(&s.join("."), t).await {
                return Some(found);
            }
        }
        if let Some(found) = self.describe_column(&w).await {
            return Some(found);
        }
        if w.parts.len() == 1 {
            if let Some(found) = self.describe_function(&last) {
                return Some(found);
            }
            if let Some(found) = self.describe_schema(&last) {
                return Some(found);
            }
            if let Some(nessie) = &self.nessie {
                let known = self
                    .assist
                    .references(nessie, std::time::Duration::ZERO)
                    .await
                    .is_some_and(|refs| refs.iter().any(|r| r.name == last));
                if known {
                    return self.describe_reference(&last).await;
                }
            }
        }
        None
    }

    async fn describe_table(&self, schema: &str, table: &str) -> Option<Inspection> {
        if self.is_view(schema, table) {
            let cols = self
                .columns(schema, table, std::time::Duration::ZERO)
                .await?;
            let title = format!("view {schema}.{table} (this session)");
            return Some(Inspection {
                plain: format!("{title}\n\n{}", columns_plain(&cols, &[])),
                markdown: format!("**{}**\n\n{}", md(&title), columns_md(&cols, &[])),
            });
        }
        let ident = TableIdent::new(catalog::namespace(schema), table.to_string());
        let t = self.catalog.iceberg().load_table(&ident).await.ok()?;
        Some(table_inspection(&format!("{schema}.{table}"), &t))
    }

    /// `e.amount`, `demo.events.amount` or a bare column of the statement's tables.
    async fn describe_column(&self, w: &Word) -> Option<Inspection> {
        let listing = self.assist.listing(&self.catalog);
        let (column, qualifier) = w.parts.split_last()?;
        let tables: Vec<(String, String)> = if qualifier.is_empty() {
            w.tables
                .iter()
                .filter_map(|t| self.resolve_table(&t.parts, &listing))
                .collect()
        } else {
            context::table_for(&w.tables, qualifier)
                .and_then(|t| self.resolve_table(&t.parts, &listing))
                .or_else(|| self.resolve_table(qualifier, &listing))
                .into_iter()
                .collect()
        };
        for (schema, table) in tables {
            let cols = self
                .columns(&schema, &table, std::time::Duration::from_secs(5))
                .await?;
            if let Some(c) = cols.iter().find(|c| &c.name == column) {
                let plain = format!("column {}: {} (of {schema}.{table})", c.name, c.data_type);
                let markdown = format!(
                    "**{}** {} — column of {}",
                    md(&c.name),
                    code(&c.data_type),
                    code(&format!("{schema}.{table}"))
                );
                return Some(Inspection { plain, markdown });
            }
        }
        None
    }

    fn describe_schema(&self, name: &str) -> Option<Inspection> {
        let listing = self.assist.listing(&self.catalog);
        let tables = self.table_names(&listing, name);
        if !listing.schemas.contains_key(name) && tables.is_empty() {
            return None;
        }
        let shown = if tables.is_empty() {
            "no tables".to_string()
        } else {
            tables.join(", ")
        };
        Some(Inspection {
            plain: format!("schema {name}: {} tables\n\n{shown}", tables.len()),
            markdown: format!(
                "**schema {}** — {} tables\n\n{}",
                md(name),
                tables.len(),
                md(&shown)
            ),
        })
    }

    /// A scalar, aggregate, window or table function, from its DataFusion documentation.
    pub(super) fn describe_function(&self, name: &str) -> Option<Inspection> {
        let name = name.to_lowercase();
        let state = self.ctx.state_ref();
        let state = state.read();
        let (kind, doc, signature) = if let Some(f) = state.scalar_functions().get(&name) {
            (
                "scalar function",
                f.documentation().cloned(),
                f.signature().type_signature.to_string_repr(),
            )
        } else if let Some(f) = state.aggregate_functions().get(&name) {
            (
                "aggregate function",
                f.documentation().cloned(),
                f.signature().type_signature.to_string_repr(),
            )
        } else if let Some(f) = state.window_functions().get(&name) {
            (
                "window function",
                f.documentation().cloned(),
                f.signature().type_signature.to_string_repr(),
            )
        } else if state.table_functions().contains_key(&name) {
            ("table function", None, vec![])
        } else {
            return None;
        };
        Some(function_inspection(&name, kind, doc.as_ref(), &signature))
    }

    /// A Nessie branch or tag: its hash and last commit.
    async fn describe_reference(&self, name: &str) -> Option<Inspection> {
        let nessie = self.nessie.as_ref()?;
        let r = nessie.get_reference(name).await.ok()?;
        let last = nessie
            .log(Some(&r.name), 1)
            .await
            .ok()
            .and_then(|l| l.into_iter().next());
        let mut plain = format!("{} {}\nhash: {}", r.kind, r.name, r.hash);
        let mut markdown = format!(
            "**{} {}**\n\n- hash: {}",
            r.kind,
            md(&r.name),
            code(&r.hash)
        );
        if let Some(c) = last {
            let when = c
                .commit_time
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "unknown time".into());
            let _ = write!(
                plain,
                "\nlast commit: {} by {} at {when}\n  {}",
                short(&c.hash),
                c.author,
                c.message
            );
            let _ = write!(
                markdown,
                "\n- last commit: {} by {} at {when}\n\n> {}",
                code(short(&c.hash)),
                md(&c.author),
                md(&c.message)
            );
        }
        if self
            .active_reference()
            .is_some_and(|a| a.split('@').next() == Some(r.name.as_str()))
        {
            plain.push_str("\n(the session's active reference)");
            markdown.push_str("\n\n*the session's active reference*");
        }
        Some(Inspection { plain, markdown })
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// Escapes Markdown's special characters in text shown as is (names, messages): every ASCII
/// punctuation character that can start markup, so no value becomes a tag, link or emphasis.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\`*_[]<>|#!&~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` as one CommonMark code span: its fence is one backtick longer than the longest run of
/// backticks inside, and spaces pad it where needed (a space on each side is stripped when
/// rendered), so nothing inside can close it and turn the rest into markup. Line breaks become spaces: a
/// blank line would end the span's paragraph.
fn code(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.is_empty() {
        return "` `".to_string();
    }
    let (mut longest, mut run) = (0, 0);
    for c in flat.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // Padding only where the content needs it: a backtick at either end would join the
    // fence, and a space at both ends would be stripped.
    let pad = flat.starts_with('`')
        || flat.ends_with('`')
        || (flat.starts_with(' ') && flat.ends_with(' '));
    if pad {
        format!("{fence} {flat} {fence}")
    } else {
        format!("{fence}{flat}{fence}")
    }
}

/// A code span inside a GFM table cell: a `|` would end the cell even inside the span, so it
/// is escaped (GFM reads `\|` in a cell as a plain `|`, in code spans too).
fn code_cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// Columns as aligned text; `notes[i]` is appended to column i (NOT NULL, docs).
fn columns_plain(cols: &[Column], notes: &[String]) -> String {
    let width = cols
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    cols.iter()
        .enumerate()
        .map(|(i, c)| {
            let note = notes.get(i).map(String::as_str).unwrap_or("");
            format!("  {:<width$}  {}{note}", c.name, c.data_type)
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn columns_md(cols: &[Column], notes: &[String]) -> String {
    let mut out = String::from("| column | type | |\n| --- | --- | --- |\n");
    for (i, c) in cols.iter().enumerate() {
        let note = notes.get(i).map(String::as_str).unwrap_or("").trim();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            md(&c.name),
            code_cell(&c.data_type),
            md(note)
        );
    }
    out
}

/// An Iceberg table: columns with types, partitioning, sort order, current snapshot (id,
/// time, rows and data files from its summary), location and properties.
pub(super) fn table_inspection(name: &str, table: &Table) -> Inspection {
    let meta = table.metadata();
    let schema = meta.current_schema();
    let fields = schema.as_struct().fields();
    let cols: Vec<Column> = fields
        .iter()
        .map(|f| Column {
            name: f.name.clone(),
            data_type: f.field_type.to_string(),
        })
        .collect();
    let notes: Vec<String> = fields
        .iter()
        .map(|f| {
            let mut n = String::new();
            if f.required {
                n.push_str(" NOT NULL");
            }
            if let Some(doc) = &f.doc {
                let _ = write!(n, "  -- {doc}");
            }
            n
        })
        .collect();
    let column_name = |id: i32| {
        schema
            .field_by_id(id)
            .map(|f| f.name.clone())
            .unwrap_or_else(|| format!("#{id}"))
    };
    let spec = meta.default_partition_spec();
    let partitioning = if spec.is_unpartitioned() {
        "unpartitioned".to_string()
    } else {
        spec.fields()
            .iter()
            .map(|f| match f.transform {
                iceberg::spec::Transform::Identity => column_name(f.source_id),
                t => format!("{t}({})", column_name(f.source_id)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let order = meta.default_sort_order();
    let sorting = (!order.fields.is_empty()).then(|| {
        order
            .fields
            .iter()
            .map(|f| format!("{} {}", column_name(f.source_id), f.direction))
            .collect::<Vec<_>>()
            .join(", ")
    });
    // (label, plain value, markdown value)
    let mut facts: Vec<(&str, String, String)> = vec![];
    facts.push(("partitioned by", partitioning.clone(), md(&partitioning)));
    if let Some(s) = &sorting {
        facts.push(("sorted by", s.clone(), md(s)));
    }
    match meta.current_snapshot() {
        Some(s) => {
            let when = s
                .timestamp()
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
                .unwrap_or_default();
            facts.push((
                "current snapshot",
                format!("{} at {when}", s.snapshot_id()),
                format!("{} at {when}", code(&s.snapshot_id().to_string())),
            ));
            let summary = &s.summary().additional_properties;
            if let Some(n) = summary.get("total-records") {
                facts.push(("rows", n.clone(), n.clone()));
            }
            if let Some(n) = summary.get("total-data-files") {
                facts.push(("data files", n.clone(), n.clone()));
            }
            if let Some(n) = summary.get("total-files-size") {
                facts.push(("data size", format!("{n} bytes"), format!("{n} bytes")));
            }
        }
        None => facts.push((
            "current snapshot",
            "none (no data yet)".into(),
            "none (no data yet)".into(),
        )),
    }
    facts.push((
        "location",
        meta.location().to_string(),
        code(meta.location()),
    ));
    let mut props: Vec<(&String, &String)> = meta.properties().iter().collect();
    props.sort();
    let mut plain = format!("table {name}\n\n{}\n", columns_plain(&cols, &notes));
    let mut markdown = format!("**table {}**\n\n{}\n", md(name), columns_md(&cols, &notes));
    for (label, p, m) in &facts {
        let _ = write!(plain, "\n{label}: {p}");
        let _ = write!(markdown, "\n- {label}: {m}");
    }
    if !props.is_empty() {
        plain.push_str("\nproperties:");
        markdown.push_str("\n- properties:");
        for (k, v) in props {
            let _ = write!(plain, "\n  {k} = {v}");
            let _ = write!(markdown, "\n  - {} = {}", code(k), code(v));
        }
    }
    Inspection { plain, markdown }
}

fn function_inspection(
    name: &str,
    kind: &str,
    doc: Option<&Documentation>,
    signature: &[String],
) -> Inspection {
    let mut plain = format!("{name}: {kind}");
    let mut markdown = format!("**{}** — {kind}", md(name));
    match doc {
        Some(d) => {
            let _ = write!(
                plain,
                "\n\n{}\n\n{}",
                d.syntax_example,
                d.description.trim()
            );
            let _ = write!(
                markdown,
                "\n\n```sql\n{}\n```\n\n{}",
                d.syntax_example,
                d.description.trim()
            );
            if let Some(args) = d.arguments.as_ref().filter(|a| !a.is_empty()) {
                plain.push_str("\n\nArguments:");
                markdown.push_str("\n\n**Arguments**\n");
                for (arg, what) in args {
                    let what = what.trim().replace('\n', " ");
                    let _ = write!(plain, "\n  {arg}: {what}");
                    let _ = write!(markdown, "\n- {}: {what}", code(arg));
                }
            }
            if let Some(alt) = d.alternative_syntax.as_ref().filter(|a| !a.is_empty()) {
                let _ = write!(plain, "\n\nAlso: {}", alt.join("; "));
                let alt: Vec<String> = alt.iter().map(|a| code(a)).collect();
                let _ = write!(markdown, "\n\nAlso: {}", alt.join("; "));
            }
            if let Some(example) = &d.sql_example {
                let _ = write!(plain, "\n\nExample:\n{}", example.trim());
                let _ = write!(markdown, "\n\n**Example**\n\n{}", example.trim());
            }
            if let Some(related) = d.related_udfs.as_ref().filter(|r| !r.is_empty()) {
                let _ = write!(plain, "\n\nRelated: {}", related.join(", "));
                let _ = write!(markdown, "\n\nRelated: {}", md(&related.join(", ")));
            }
        }
        None if !signature.is_empty() && signature.len() <= 12 => {
            let args = signature
                .iter()
                .map(|s| format!("{name}({s})"))
                .collect::<Vec<_>>();
            let _ = write!(plain, "\n\n{}", args.join("\n"));
            let _ = write!(markdown, "\n\n```sql\n{}\n```", args.join("\n"));
        }
        None => {}
    }
    Inspection { plain, markdown }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_escaped() {
        assert_eq!(md("a_b|c*"), "a\\_b\\|c\\*");
        assert_eq!(md("x<img src=x>"), "x\\<img src=x\\>");
    }

    #[test]
    fn code_spans_hold_any_backticks() {
        assert_eq!(code("double"), "`double`");
        assert_eq!(
            code("a`<img src=x onerror=alert(1)>"),
            "``a`<img src=x onerror=alert(1)>``"
        );
        assert_eq!(code("`x``"), "``` `x`` ```");
        assert_eq!(code(" a "), "`  a  `");
        assert_eq!(code("a\n\n<b>"), "`a  <b>`");
        assert_eq!(code(""), "` `");
        assert_eq!(code_cell("a|b"), "`a\\|b`");
    }

    #[test]
    fn columns_align() {
        let cols = vec![
            Column {
                name: "id".into(),
                data_type: "long".into(),
            },
            Column {
                name: "amount".into(),
                data_type: "double".into(),
            },
        ];
        let text = columns_plain(&cols, &[" NOT NULL".into()]);
        assert_eq!(text, "  id      long NOT NULL\n  amount  double");
        assert!(columns_md(&cols, &[]).contains("| amount | `double` |"));
    }
}

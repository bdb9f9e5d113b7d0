//! Table names that carry a version: a Nessie reference, commit or time, and an Iceberg
//! snapshot.
//!
//! Nessie's Spark syntax puts the reference in the table name, so it needs no grammar:
//! ``ns.`t@dev` ``, `ns."t#1a2b3c4d"`, `ns."t@dev#2025-01-16T10:00:00Z"`. Iceberg snapshot
//! time travel (`t VERSION AS OF 123`, `t TIMESTAMP AS OF '…'`) is written after the name;
//! the SQL layer folds it into the name with [`SNAPSHOT_MARK`] before DataFusion plans it,
//! so the catalog provider sees one string and DataFusion needs no changes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::error::{CellError, ErrorKind};

/// Separates a table name from the snapshot selector that the SQL layer appended. A control
/// character, so no user-written name can contain it by accident.
pub const SNAPSHOT_MARK: char = '\u{1}';

/// A point in a Nessie reference's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefPoint {
    /// A commit hash (or a unique prefix of one).
    Hash(String),
    /// The HEAD of the reference at this time (epoch milliseconds).
    Time(i64),
}

/// Which Iceberg snapshot of a table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotSel {
    /// `VERSION AS OF id`
    Id(i64),
    /// `TIMESTAMP AS OF ts`: the snapshot current at that time (epoch milliseconds).
    Time(i64),
}

/// A table name split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// The table's own name.
    pub table: String,
    /// `@ref`
    pub reference: Option<String>,
    /// `#hash` or `#timestamp`
    pub point: Option<RefPoint>,
    /// `$snapshots` etc.: an Iceberg metadata table of `table`.
    pub metadata: Option<String>,
    /// `VERSION AS OF` / `TIMESTAMP AS OF`
    pub snapshot: Option<SnapshotSel>,
}

impl TableSpec {
    /// Splits `t[@ref][#hash|#timestamp][$metadata]` plus an appended snapshot selector;
    /// a malformed name is a SyntaxError.
    pub fn parse(name: &str) -> Result<TableSpec, CellError> {
        Self::split(name).map_err(|m| ErrorKind::Syntax.error(m))
    }

    fn split(name: &str) -> Result<TableSpec, String> {
        let (name, snapshot) = match name.split_once(SNAPSHOT_MARK) {
            Some((n, sel)) => (n, Some(decode_snapshot(sel)?)),
            None => (name, None),
        };
        let (name, metadata) = match name.split_once('$') {
            Some((n, m)) => (n, Some(m.to_string())),
            None => (name, None),
        };
        let (name, point) = match name.split_once('#') {
            Some((n, p)) => (n, Some(point(p)?)),
            None => (name, None),
        };
        let (table, reference) = match name.split_once('@') {
            Some((t, "")) => return Err(format!("'{t}@' needs a branch or tag name after @")),
            Some((t, r)) => (t, Some(r.to_string())),
            None => (name, None),
        };
        if table.is_empty() {
            return Err(format!("'{name}' has no table name before @ or #"));
        }
        Ok(TableSpec {
            table: table.to_string(),
            reference,
            point,
            metadata,
            snapshot,
        })
    }

    /// True when the name selects a Nessie reference or commit (needs the Nessie catalog).
    pub fn has_ref(&self) -> bool {
        self.reference.is_some() || self.point.is_some()
    }

    /// The name iceberg-datafusion knows: `table` or `table$metadata`.
    pub fn provider_name(&self) -> String {
        match &self.metadata {
            Some(m) => format!("{}${m}", self.table),
            None => self.table.clone(),
        }
    }

    /// The name as the user wrote it (without the internal snapshot encoding).
    pub fn display(&self) -> String {
        let mut s = self.table.clone();
        if let Some(r) = &self.reference {
            s.push('@');
            s.push_str(r);
        }
        match &self.point {
            Some(RefPoint::Hash(h)) => s.push_str(&format!("#{h}")),
            Some(RefPoint::Time(ms)) => s.push_str(&format!("#{}", format_millis(*ms))),
            None => {}
        }
        if let Some(m) = &self.metadata {
            s.push('$');
            s.push_str(m);
        }
        match self.snapshot {
            Some(SnapshotSel::Id(id)) => s.push_str(&format!(" VERSION AS OF {id}")),
            Some(SnapshotSel::Time(ms)) => {
                s.push_str(&format!(" TIMESTAMP AS OF '{}'", format_millis(ms)))
            }
            None => {}
        }
        s
    }
}

/// The suffix the SQL layer appends to a table name for a snapshot selector.
pub fn encode_snapshot(sel: SnapshotSel) -> String {
    match sel {
        SnapshotSel::Id(id) => format!("{SNAPSHOT_MARK}v{id}"),
        SnapshotSel::Time(ms) => format!("{SNAPSHOT_MARK}t{ms}"),
    }
}

fn decode_snapshot(sel: &str) -> Result<SnapshotSel, String> {
    let bad = || format!("malformed snapshot selector '{sel}'");
    let (kind, n) = sel.split_at_checked(1).ok_or_else(bad)?;
    let n: i64 = n.parse().map_err(|_| bad())?;
    match kind {
        "v" => Ok(SnapshotSel::Id(n)),
        "t" => Ok(SnapshotSel::Time(n)),
        _ => Err(bad()),
    }
}

/// Replaces the internal snapshot encoding in a message with the clause the user wrote.
pub fn humanize(msg: &str) -> String {
    if !msg.contains(SNAPSHOT_MARK) {
        return msg.to_string();
    }
    let mut out = String::with_capacity(msg.len() + 16);
    let mut rest = msg;
    while let Some(i) = rest.find(SNAPSHOT_MARK) {
        out.push_str(&rest[..i]);
        let after = &rest[i + SNAPSHOT_MARK.len_utf8()..];
        let digits = after
            .char_indices()
            .skip(1)
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '-'))
            .map_or(after.len(), |(j, _)| j);
        match decode_snapshot(&after[..digits]) {
            Ok(SnapshotSel::Id(id)) => out.push_str(&format!(" VERSION AS OF {id}")),
            Ok(SnapshotSel::Time(ms)) => {
                out.push_str(&format!(" TIMESTAMP AS OF '{}'", format_millis(ms)))
            }
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// `#…` after a table name, or `AT …` after `USE REFERENCE x`: a commit hash or a time.
pub fn parse_point(s: &str) -> Result<RefPoint, CellError> {
    point(s).map_err(|m| ErrorKind::Syntax.error(m))
}

fn point(s: &str) -> Result<RefPoint, String> {
    let s = s.trim();
    if s.len() >= 8 && s.len() <= 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(RefPoint::Hash(s.to_ascii_lowercase()));
    }
    parse_timestamp(s).map(RefPoint::Time).map_err(|_| {
        format!(
            "'{s}' is neither a commit hash (8 to 64 hex digits) nor a timestamp \
             (e.g. 2025-01-16T10:00:00Z, 2025-01-16 10:00:00 or 2025-01-16; UTC unless an offset is given)"
        )
    })
}

/// A timestamp as epoch milliseconds: RFC 3339 with offset, or a date and time without
/// one (taken as UTC), or a date (midnight UTC).
pub fn parse_timestamp(s: &str) -> Result<i64, CellError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis());
    }
    Err(ErrorKind::Syntax.error(format!(
        "'{s}' is not a timestamp; write e.g. 2025-01-16T10:00:00Z or 2025-01-16 10:00:00 (UTC)"
    )))
}

/// Epoch milliseconds as RFC 3339 (UTC).
pub fn format_millis(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_plain() {
        let s = TableSpec::parse("events").unwrap();
        assert_eq!(s.table, "events");
        assert!(!s.has_ref());
        assert_eq!(s.provider_name(), "events");
        assert_eq!(
            TableSpec::parse("t$snapshots").unwrap().provider_name(),
            "t$snapshots"
        );
    }

    #[test]
    fn references_commits_and_times() {
        let s = TableSpec::parse("t@dev").unwrap();
        assert_eq!(
            (s.table.as_str(), s.reference.as_deref()),
            ("t", Some("dev"))
        );
        let s = TableSpec::parse("t#1A2B3C4D5E").unwrap();
        assert_eq!(s.point, Some(RefPoint::Hash("1a2b3c4d5e".into())));
        assert_eq!(s.reference, None);
        let s = TableSpec::parse("t@dev#2025-01-16T10:00:00Z$snapshots").unwrap();
        assert_eq!(s.reference.as_deref(), Some("dev"));
        assert_eq!(s.point, Some(RefPoint::Time(1_737_021_600_000)));
        assert_eq!(s.provider_name(), "t$snapshots");
        assert_eq!(s.display(), "t@dev#2025-01-16T10:00:00Z$snapshots");
        let err = TableSpec::parse("t#yesterday").unwrap_err();
        assert!(err.evalue.contains("neither a commit hash"), "{err}");
        assert!(TableSpec::parse("t@").is_err());
        assert!(TableSpec::parse("@dev").is_err());
    }

    #[test]
    fn snapshot_selectors_round_trip() {
        let name = format!("t@dev{}", encode_snapshot(SnapshotSel::Id(42)));
        let s = TableSpec::parse(&name).unwrap();
        assert_eq!(s.snapshot, Some(SnapshotSel::Id(42)));
        assert_eq!(s.reference.as_deref(), Some("dev"));
        assert_eq!(s.display(), "t@dev VERSION AS OF 42");
        let name = format!("t{}", encode_snapshot(SnapshotSel::Time(1_737_021_600_000)));
        assert_eq!(
            TableSpec::parse(&name).unwrap().display(),
            "t TIMESTAMP AS OF '2025-01-16T10:00:00Z'"
        );
    }

    #[test]
    fn messages_show_the_clause_not_the_encoding() {
        let msg = format!("table 'lakehouse.demo.t{SNAPSHOT_MARK}v42' not found");
        assert_eq!(
            humanize(&msg),
            "table 'lakehouse.demo.t VERSION AS OF 42' not found"
        );
        assert_eq!(humanize("plain"), "plain");
    }

    #[test]
    fn timestamps() {
        let want = 1_737_021_600_000;
        for s in [
            "2025-01-16T10:00:00Z",
            "2025-01-16T11:00:00+01:00",
            "2025-01-16 10:00:00",
            "2025-01-16T10:00",
        ] {
            assert_eq!(parse_timestamp(s), Ok(want), "{s}");
        }
        assert_eq!(parse_timestamp("2025-01-16"), Ok(1_736_985_600_000));
        assert!(parse_timestamp("soon").is_err());
    }
}

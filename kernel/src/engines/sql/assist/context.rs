//! Where the cursor stands in a SQL cell: the name being typed and what may go there.
//!
//! Pure functions on the cell's text and a cursor (in characters), so completion and
//! inspection can be tested without a kernel or a catalog. Names are normalized as
//! DataFusion does: unquoted identifiers are lower-cased, quoted ones are kept as written.

/// What may be typed at the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// Inside a string literal or a comment: nothing to complete.
    Nothing,
    /// A `%` magic at the start of the cell.
    Magic,
    /// A word on the magic line after the magic: the value of the option given (`--chart`
    /// → a chart kind, `--x` → a column), or an option when the string is empty.
    MagicArg(String),
    /// A table (after FROM, JOIN, INTO, UPDATE, TABLE, DESCRIBE, ...): schemas and tables,
    /// or a schema's tables after `schema.`.
    Table,
    /// A branch or tag name (USE REFERENCE, MERGE BRANCH, SHOW LOG, ...).
    Reference,
    /// Another word of a branch/tag statement (FROM, INTO, TO, AT, ...).
    RefGrammar,
    /// A catalog name (after `IN` in a branch/tag statement).
    Catalog,
    /// An expression or a keyword: keywords, functions and the columns of the statement's
    /// tables; after `alias.` or `table.` that table's columns.
    Expression,
}

/// The name being typed: `code[start..end]` (characters) is what a completion replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where the replaced text starts (at the opening quote of a quoted name).
    pub start: usize,
    /// Where it ends: the cursor, or just after it when an editor closed the quote already.
    pub end: usize,
    /// What was typed of the last name part, without quotes.
    pub prefix: String,
    /// The quote character when the name is quoted (`"` or `` ` ``).
    pub quote: Option<char>,
    /// The dotted parts before it (`demo.ev` → `["demo"]`), normalized.
    pub qualifier: Vec<String>,
}

/// A table named in the statement (FROM, JOIN, UPDATE, INTO), with its alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    /// Name parts as written (`lakehouse.demo.events` → three parts), normalized.
    pub parts: Vec<String>,
    /// `FROM demo.events e` / `FROM demo.events AS e` → `e`.
    pub alias: Option<String>,
}

/// The cursor's surroundings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// What may go at the cursor.
    pub slot: Slot,
    /// The name being typed.
    pub target: Target,
    /// Tables of the statement the cursor is in (the whole statement, also after the cursor).
    pub tables: Vec<TableRef>,
}

/// The name under the cursor, for inspection: every dotted part, also those after the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Normalized parts (`demo.events` → `["demo", "events"]`).
    pub parts: Vec<String>,
    /// Which part the cursor is on.
    pub index: usize,
    /// Whether `(` follows the name (a function call).
    pub call: bool,
    /// What may stand where the name starts.
    pub slot: Slot,
    /// Tables of the statement.
    pub tables: Vec<TableRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Quoted(char),
    Str,
    Comment,
    Punct(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
    /// Words as written; quoted names and strings without quotes.
    text: String,
    /// False for a string, quoted name or comment still open at the end of the text
    /// (a `--` comment is never closed: it runs to the end of its line).
    closed: bool,
}

impl Tok {
    fn is_word(&self, w: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(w)
    }

    fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    fn is_name(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::Quoted(_))
    }

    /// The name as DataFusion sees it.
    fn name(&self) -> String {
        match self.kind {
            Kind::Word => self.text.to_lowercase(),
            _ => self.text.clone(),
        }
    }

    fn upper(&self) -> String {
        match self.kind {
            Kind::Word => self.text.to_ascii_uppercase(),
            Kind::Punct(c) => c.to_string(),
            _ => String::new(),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

fn lex(chars: &[char]) -> Vec<Tok> {
    let n = chars.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (kind, text, closed) = if c == '-' && next == Some('-') {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
            (Kind::Comment, String::new(), false)
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            let mut closed = false;
            while i < n {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        closed = true;
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            (Kind::Comment, String::new(), closed)
        } else if c == '\'' || c == '"' || c == '`' {
            i += 1;
            let mut text = String::new();
            let mut closed = false;
            while i < n {
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        text.push(c);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    closed = true;
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            let kind = if c == '\'' {
                Kind::Str
            } else {
                Kind::Quoted(c)
            };
            (kind, text, closed)
        } else if is_word_char(c) {
            while i < n && is_word_char(chars[i]) {
                i += 1;
            }
            (Kind::Word, chars[start..i].iter().collect(), true)
        } else {
            i += 1;
            (Kind::Punct(c), String::new(), true)
        };
        out.push(Tok {
            kind,
            start,
            end: i,
            text,
            closed,
        });
    }
    out
}

/// Keywords after which a table name comes.
const TABLE_KEYWORDS: &[&str] = &[
    "FROM", "JOIN", "INTO", "UPDATE", "TABLE", "DESCRIBE", "VIEW",
];

/// Words that end a table name in FROM/JOIN and cannot be its alias.
const NOT_ALIAS: &[&str] = &[
    "ANTI",
    "AS",
    "AT",
    "CROSS",
    "EXCEPT",
    "FETCH",
    "FOR",
    "FULL",
    "GROUP",
    "HAVING",
    "INNER",
    "INTERSECT",
    "JOIN",
    "LATERAL",
    "LEFT",
    "LIMIT",
    "NATURAL",
    "OFFSET",
    "ON",
    "ORDER",
    "OUTER",
    "QUALIFY",
    "RETURNING",
    "RIGHT",
    "SELECT",
    "SEMI",
    "SET",
    "TABLESAMPLE",
    "TIMESTAMP",
    "UNION",
    "USING",
    "VALUES",
    "VERSION",
    "WHERE",
    "WINDOW",
    "WITH",
];

/// Analyses `code` with the cursor at `cursor` (characters; clamped to the code).
pub fn analyze(code: &str, cursor: usize) -> Analysis {
    let mut chars: Vec<char> = code.chars().collect();
    let cursor = cursor.min(chars.len());
    // A first line starting with `%` is the magic line (`%%sql --chart bar`), not SQL.
    let line_end = chars.iter().position(|&c| c == '\n').unwrap_or(chars.len());
    let magic_at = chars[..line_end]
        .iter()
        .position(|c| !c.is_whitespace())
        .filter(|&i| chars[i] == '%');
    if let Some(m) = magic_at {
        if cursor <= line_end {
            return magic_line(&chars, m, line_end, cursor);
        }
        for c in &mut chars[..line_end] {
            *c = ' ';
        }
    }
    let tables = statement_tables(&chars, cursor);
    let toks = lex(&chars[..cursor]);
    let nothing = |tables: Vec<TableRef>| Analysis {
        slot: Slot::Nothing,
        target: Target {
            start: cursor,
            end: cursor,
            prefix: String::new(),
            quote: None,
            qualifier: vec![],
        },
        tables,
    };
    // The partial name at the cursor, if any.
    let mut first = toks.len();
    let mut target = Target {
        start: cursor,
        end: cursor,
        prefix: String::new(),
        quote: None,
        qualifier: vec![],
    };
    if let Some(last) = toks.last().filter(|t| t.end == cursor) {
        match last.kind {
            Kind::Str | Kind::Comment if !last.closed => return nothing(tables),
            Kind::Word => {
                first = toks.len() - 1;
                target.start = last.start;
                target.prefix = last.text.clone();
            }
            Kind::Quoted(q) => {
                first = toks.len() - 1;
                target.start = last.start;
                target.prefix = last.text.clone();
                target.quote = Some(q);
                // An editor that closes quotes leaves the closing one after the cursor.
                if !last.closed && chars.get(cursor) == Some(&q) {
                    target.end = cursor + 1;
                }
            }
            _ => {}
        }
    }
    // `a.b.` before it: the qualifier (only parts written without spaces between).
    let mut edge = target.start;
    let mut qualifier = Vec::new();
    while first >= 2 {
        let (dot, name) = (&toks[first - 1], &toks[first - 2]);
        if dot.is_punct('.') && dot.end == edge && name.is_name() && name.end == dot.start {
            qualifier.push(name.name());
            edge = name.start;
            first -= 2;
        } else {
            break;
        }
    }
    qualifier.reverse();
    target.qualifier = qualifier;
    // The statement's tokens before the name, without comments.
    let stmt_start = toks[..first]
        .iter()
        .rposition(|t| t.is_punct(';'))
        .map_or(0, |i| i + 1);
    let prev: Vec<&Tok> = toks[stmt_start..first]
        .iter()
        .filter(|t| t.kind != Kind::Comment)
        .collect();
    let slot = slot_for(&prev);
    Analysis {
        slot,
        target,
        tables,
    }
}

/// The cursor is on the magic line that starts at `m` and ends at `line_end`.
fn magic_line(chars: &[char], m: usize, line_end: usize, cursor: usize) -> Analysis {
    let mut rest = chars.to_vec();
    for c in &mut rest[..line_end] {
        *c = ' ';
    }
    let toks: Vec<Tok> = lex(&rest)
        .into_iter()
        .filter(|t| t.kind != Kind::Comment)
        .collect();
    let tables = tables_in(&toks);
    let start = (m..cursor)
        .rev()
        .find(|&i| chars[i].is_whitespace())
        .map_or(m, |i| i + 1);
    let prefix: String = chars[start..cursor].iter().collect();
    let before: String = chars[m..start].iter().collect();
    let slot = match before.split_whitespace().collect::<Vec<_>>().as_slice() {
        [] => Slot::Magic,
        [.., prev] if prev.starts_with("--") && !prev.contains('=') => {
            Slot::MagicArg(prev.to_string())
        }
        _ => Slot::MagicArg(String::new()),
    };
    Analysis {
        slot,
        target: Target {
            start,
            end: cursor,
            prefix,
            quote: None,
            qualifier: vec![],
        },
        tables,
    }
}

/// The name under the cursor (for inspection), or `None` when the cursor is not on a name.
pub fn word_at(code: &str, cursor: usize) -> Option<Word> {
    let mut chars: Vec<char> = code.chars().collect();
    let cursor = cursor.min(chars.len());
    let line_end = chars.iter().position(|&c| c == '\n').unwrap_or(chars.len());
    if chars[..line_end].iter().find(|c| !c.is_whitespace()) == Some(&'%') {
        if cursor <= line_end {
            return None;
        }
        for c in &mut chars[..line_end] {
            *c = ' ';
        }
    }
    let toks: Vec<Tok> = lex(&chars)
        .into_iter()
        .filter(|t| t.kind != Kind::Comment)
        .collect();
    // The name token touching the cursor (prefer the one it is in or just after).
    let at = toks
        .iter()
        .rposition(|t| t.is_name() && t.start <= cursor && cursor <= t.end)
        .or_else(|| {
            // On the dot of `a.b`: the part after it.
            toks.iter()
                .position(|t| t.is_punct('.') && t.start <= cursor && cursor <= t.end)
                .map(|i| i + 1)
                .filter(|&i| toks.get(i).is_some_and(Tok::is_name))
        })?;
    let joined = |a: &Tok, b: &Tok| a.end == b.start;
    let mut lo = at;
    while lo >= 2
        && toks[lo - 1].is_punct('.')
        && toks[lo - 2].is_name()
        && joined(&toks[lo - 2], &toks[lo - 1])
        && joined(&toks[lo - 1], &toks[lo])
    {
        lo -= 2;
    }
    let mut hi = at;
    while hi + 2 < toks.len()
        && toks[hi + 1].is_punct('.')
        && toks[hi + 2].is_name()
        && joined(&toks[hi], &toks[hi + 1])
        && joined(&toks[hi + 1], &toks[hi + 2])
    {
        hi += 2;
    }
    let parts: Vec<String> = (lo..=hi).step_by(2).map(|i| toks[i].name()).collect();
    let call = toks.get(hi + 1).is_some_and(|t| t.is_punct('('));
    let start = toks[lo].start;
    let slot = analyze(code, start).slot;
    Some(Word {
        parts,
        index: (at - lo) / 2,
        call,
        slot,
        tables: statement_tables(&chars, cursor),
    })
}

/// What may come after the tokens `prev` of a statement.
fn slot_for(prev: &[&Tok]) -> Slot {
    let words: Vec<String> = prev.iter().map(|t| t.upper()).collect();
    if let Some(slot) = ref_slot(&words) {
        return slot;
    }
    let Some(last) = prev.last() else {
        return Slot::Expression;
    };
    if last.kind == Kind::Word {
        let w = last.text.to_ascii_uppercase();
        if TABLE_KEYWORDS.contains(&w.as_str()) {
            return Slot::Table;
        }
        // DROP TABLE IF EXISTS _, CREATE TABLE IF NOT EXISTS _
        if w == "EXISTS" {
            let n = words.len();
            let table_before = words[..n - 1]
                .iter()
                .rev()
                .find(|w| *w != "IF" && *w != "NOT")
                .is_some_and(|w| w == "TABLE" || w == "VIEW" || w == "SCHEMA");
            if table_before {
                return Slot::Table;
            }
        }
    }
    if last.is_punct(',') && clause(prev).as_deref() == Some("FROM") {
        return Slot::Table;
    }
    Slot::Expression
}

/// The clause keyword the end of `prev` is in, at its parenthesis level.
fn clause(prev: &[&Tok]) -> Option<String> {
    let mut depth = 0usize;
    for t in prev.iter().rev() {
        if t.is_punct(')') {
            depth += 1;
        } else if t.is_punct('(') {
            if depth == 0 {
                return None;
            }
            depth -= 1;
        } else if depth == 0 && t.kind == Kind::Word {
            let w = t.text.to_ascii_uppercase();
            if matches!(
                w.as_str(),
                "SELECT"
                    | "FROM"
                    | "JOIN"
                    | "WHERE"
                    | "GROUP"
                    | "ORDER"
                    | "HAVING"
                    | "ON"
                    | "USING"
                    | "LIMIT"
                    | "SET"
                    | "VALUES"
                    | "INTO"
                    | "UPDATE"
            ) {
                return Some(w);
            }
        }
    }
    None
}

/// The slot in a branch/tag statement (`None` when the statement is not one).
fn ref_slot(words: &[String]) -> Option<Slot> {
    let w = |i: usize| words.get(i).map(String::as_str);
    let is_ref =
        matches!((w(0), w(1)), (Some(a), Some(b)) if super::super::refs::is_ref_head(a, b));
    if !is_ref {
        return None;
    }
    let n = words.len();
    let last = words[n - 1].as_str();
    if last == "IN" {
        return Some(Slot::Catalog);
    }
    let name = match (w(0), w(1)) {
        (Some("USE"), _) | (Some("SHOW"), Some("LOG")) => n == 2,
        (Some("MERGE"), _) => n == 2 || last == "INTO",
        (Some("DROP"), _) => n == 2 || last == "EXISTS",
        (Some("ASSIGN"), _) => n == 2 || last == "TO",
        (Some("CREATE"), _) => last == "FROM",
        _ => false,
    };
    Some(if name {
        Slot::Reference
    } else {
        Slot::RefGrammar
    })
}

/// The tables named by the statement that holds the cursor.
fn statement_tables(chars: &[char], cursor: usize) -> Vec<TableRef> {
    let toks: Vec<Tok> = lex(chars)
        .into_iter()
        .filter(|t| t.kind != Kind::Comment)
        .collect();
    let from = toks
        .iter()
        .rposition(|t| t.is_punct(';') && t.end <= cursor)
        .map_or(0, |i| i + 1);
    let to = toks[from..]
        .iter()
        .position(|t| t.is_punct(';') && t.start >= cursor)
        .map_or(toks.len(), |i| from + i);
    tables_in(&toks[from..to])
}

fn tables_in(toks: &[Tok]) -> Vec<TableRef> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let list = toks[i].is_word("FROM");
        let into = toks[i].is_word("INTO");
        if !(list || into || toks[i].is_word("JOIN") || toks[i].is_word("UPDATE")) {
            i += 1;
            continue;
        }
        i += 1;
        loop {
            let table = if toks.get(i).is_some_and(|t| t.is_punct('(')) {
                // A subquery: its own tables count too (the scan goes on inside it).
                let close = matching_paren(toks, i);
                out.extend(tables_in(&toks[i + 1..close]));
                i = (close + 1).min(toks.len());
                None
            } else if let Some((parts, next)) = dotted_name(toks, i) {
                i = next;
                if !into && toks.get(i).is_some_and(|t| t.is_punct('(')) {
                    // `FROM range(10)`: a table function.
                    i = (matching_paren(toks, i) + 1).min(toks.len());
                    None
                } else {
                    Some(parts)
                }
            } else {
                break;
            };
            let mut alias = None;
            if toks.get(i).is_some_and(|t| t.is_word("AS")) {
                i += 1;
                if toks.get(i).is_some_and(Tok::is_name) {
                    alias = Some(toks[i].name());
                    i += 1;
                }
            } else if toks.get(i).is_some_and(|t| {
                t.is_name()
                    && (t.kind != Kind::Word
                        || !NOT_ALIAS.contains(&t.text.to_ascii_uppercase().as_str()))
            }) {
                alias = Some(toks[i].name());
                i += 1;
            }
            if let Some(parts) = table {
                out.push(TableRef { parts, alias });
            }
            if list && toks.get(i).is_some_and(|t| t.is_punct(',')) {
                i += 1;
                continue;
            }
            break;
        }
    }
    out
}

/// The index of the `)` that closes the `(` at `open` (or the end when it is not closed).
fn matching_paren(toks: &[Tok], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, t) in toks.iter().enumerate().skip(open) {
        if t.is_punct('(') {
            depth += 1;
        } else if t.is_punct(')') {
            depth -= 1;
            if depth == 0 {
                return j;
            }
        }
    }
    toks.len()
}

/// `a.b.c` starting at `toks[i]`: the parts and the index after the name.
fn dotted_name(toks: &[Tok], mut i: usize) -> Option<(Vec<String>, usize)> {
    let first = toks.get(i).filter(|t| t.is_name())?;
    if first.kind == Kind::Word && NOT_ALIAS.contains(&first.text.to_ascii_uppercase().as_str()) {
        return None;
    }
    let mut parts = vec![first.name()];
    i += 1;
    while toks.get(i).is_some_and(|t| t.is_punct('.')) && toks.get(i + 1).is_some_and(Tok::is_name)
    {
        parts.push(toks[i + 1].name());
        i += 2;
    }
    Some((parts, i))
}

/// The table of the statement that `qualifier` (`e`, `events`, `demo.events`) names.
pub fn table_for<'a>(tables: &'a [TableRef], qualifier: &[String]) -> Option<&'a TableRef> {
    if let [q] = qualifier {
        if let Some(t) = tables
            .iter()
            .find(|t| t.alias.as_deref() == Some(q.as_str()))
        {
            return Some(t);
        }
    }
    tables
        .iter()
        .find(|t| !qualifier.is_empty() && t.parts.ends_with(qualifier))
}

#[cfg(test)]
mod tests;

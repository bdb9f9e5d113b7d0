//! Nessie's SQL extensions for branches and tags, as Spark users know them
//! (`CREATE BRANCH dev FROM main`, `USE REFERENCE dev`, `MERGE BRANCH dev INTO main`, …):
//! their grammar. DataFusion's parser does not know these statements, so a statement is
//! first offered to [`parse`]; anything that does not start like one goes to DataFusion.

use crate::error::{CellError, ErrorKind};

/// Whether a reference is a branch (movable by commits) or a tag (a named, fixed commit);
/// the Nessie client has its own, which the kernel converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// `BRANCH`
    Branch,
    /// `TAG`
    Tag,
}

/// One branch/tag statement.
#[derive(Debug, Clone, PartialEq)]
pub enum RefStatement {
    Create {
        kind: RefKind,
        name: String,
        if_not_exists: bool,
        from: Option<String>,
    },
    Drop {
        kind: RefKind,
        name: String,
        if_exists: bool,
    },
    Use {
        name: String,
        at: Option<String>,
    },
    Merge {
        from: Option<String>,
        into: Option<String>,
    },
    Assign {
        kind: RefKind,
        name: String,
        to: Option<String>,
    },
    List,
    Show,
    Log {
        reference: Option<String>,
        limit: Option<usize>,
    },
}

/// The statement grammar, shown when a statement starts like one but does not parse.
pub const GRAMMAR: &str = "CREATE BRANCH|TAG [IF NOT EXISTS] name [FROM ref]; \
DROP BRANCH|TAG [IF EXISTS] name; USE REFERENCE|BRANCH|TAG name [AT hash|[TIMESTAMP] 'ts']; \
MERGE BRANCH [name] [INTO branch]; ASSIGN BRANCH|TAG name [TO ref[@hash]]; \
LIST REFERENCES; SHOW REFERENCE; SHOW LOG [ref] [LIMIT n] (each may end with IN <catalog>)";

/// Whether a statement whose first two words (upper-cased) are `first second` is a
/// branch/tag statement: the parser, [`parse`] and completion ask the same question.
pub fn is_ref_head(first: &str, second: &str) -> bool {
    matches!(
        (first, second),
        ("CREATE" | "DROP" | "ASSIGN", "BRANCH" | "TAG")
            | ("USE", "REFERENCE" | "BRANCH" | "TAG")
            | ("MERGE", "BRANCH")
            | ("LIST", "REFERENCES")
            | ("SHOW", "REFERENCE" | "LOG")
    )
}

/// Words that may follow the reference name in [`GRAMMAR`], for completion.
pub const AFTER_NAME: &[&str] = &[
    "FROM",
    "INTO",
    "TO",
    "AT",
    "TIMESTAMP",
    "LIMIT",
    "IF",
    "NOT",
    "EXISTS",
    "IN",
];

/// `None` when `text` is not a branch/tag statement; `Some(Err)` when it starts like one
/// but is malformed.
pub fn parse(text: &str) -> Option<Result<RefStatement, CellError>> {
    read(text).map(|r| r.map_err(|m| ErrorKind::Syntax.error(m)))
}

/// [`parse`] with the message of a malformed statement as text.
fn read(text: &str) -> Option<Result<RefStatement, String>> {
    let words = tokenize(text);
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let is_ref = match upper.as_slice() {
        [first, second, ..] => is_ref_head(first, second),
        _ => false,
    };
    if !is_ref {
        return None;
    }
    // `IN <catalog>` may stand anywhere after the reference name (Nessie's grammar puts it
    // before FROM/INTO). There is one catalog, so the name itself is not checked.
    let (mut words, mut upper) = (words, upper);
    while let Some(i) = upper.iter().skip(2).position(|w| w == "IN").map(|i| i + 2) {
        if i + 1 >= words.len() {
            return Some(Err(format!(
                "expected a catalog name after IN; the statements are: {GRAMMAR}"
            )));
        }
        words.drain(i..i + 2);
        upper.drain(i..i + 2);
    }
    Some(
        Parser {
            words,
            upper,
            pos: 0,
        }
        .statement(),
    )
}

struct Parser {
    words: Vec<String>,
    upper: Vec<String>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.upper.get(self.pos).map(String::as_str)
    }

    fn eat(&mut self, kw: &str) -> bool {
        if self.peek() == Some(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_all(&mut self, kws: &[&str]) -> bool {
        let ok = kws
            .iter()
            .enumerate()
            .all(|(i, k)| self.upper.get(self.pos + i).map(String::as_str) == Some(*k));
        if ok {
            self.pos += kws.len();
        }
        ok
    }

    fn name(&mut self, what: &str) -> Result<String, String> {
        match self.words.get(self.pos) {
            Some(w) if !is_keyword(&self.upper[self.pos]) => {
                self.pos += 1;
                Ok(w.clone())
            }
            _ => Err(format!("expected {what}; the statements are: {GRAMMAR}")),
        }
    }

    fn optional_name(&mut self) -> Option<String> {
        match self.peek() {
            Some(w) if !is_keyword(w) => self.name("").ok(),
            _ => None,
        }
    }

    fn kind(&mut self) -> RefKind {
        let k = if self.peek() == Some("TAG") {
            RefKind::Tag
        } else {
            RefKind::Branch
        };
        self.pos += 1;
        k
    }

    fn end(self, st: RefStatement) -> Result<RefStatement, String> {
        match self.words.get(self.pos) {
            None => Ok(st),
            Some(w) => Err(format!("unexpected '{w}'; the statements are: {GRAMMAR}")),
        }
    }

    fn statement(mut self) -> Result<RefStatement, String> {
        let first = self.upper[0].clone();
        self.pos = 1;
        match first.as_str() {
            "CREATE" => {
                let kind = self.kind();
                let if_not_exists = self.eat_all(&["IF", "NOT", "EXISTS"]);
                let name = self.name("a branch or tag name")?;
                let from = if self.eat("FROM") {
                    Some(self.name("a reference after FROM")?)
                } else {
                    None
                };
                self.end(RefStatement::Create {
                    kind,
                    name,
                    if_not_exists,
                    from,
                })
            }
            "DROP" => {
                let kind = self.kind();
                let if_exists = self.eat_all(&["IF", "EXISTS"]);
                let name = self.name("a branch or tag name")?;
                self.end(RefStatement::Drop {
                    kind,
                    name,
                    if_exists,
                })
            }
            "USE" => {
                self.pos += 1;
                let name = self.name("a reference name")?;
                let at = if self.eat("AT") {
                    // `AT TIMESTAMP '2025-01-16 10:00:00'`, `AT '2025-01-16T10:00:00Z'` or
                    // `AT <hash>`; the value decides which when TIMESTAMP is left out.
                    let timestamp = self.eat("TIMESTAMP");
                    let v = self.name("a commit hash or timestamp after AT")?;
                    if timestamp {
                        crate::versioned::parse_timestamp(&v).map_err(|e| e.evalue)?;
                    }
                    Some(v)
                } else {
                    None
                };
                self.end(RefStatement::Use { name, at })
            }
            "MERGE" => {
                self.pos += 1;
                let from = self.optional_name();
                let into = if self.eat("INTO") {
                    Some(self.name("a branch after INTO")?)
                } else {
                    None
                };
                self.end(RefStatement::Merge { from, into })
            }
            "ASSIGN" => {
                let kind = self.kind();
                let name = self.name("a branch or tag name")?;
                let to = if self.eat("TO") {
                    let mut r = self.name("a reference after TO")?;
                    if self.eat("AT") {
                        r = format!("{r}@{}", self.name("a commit hash after AT")?);
                    }
                    Some(r)
                } else {
                    None
                };
                self.end(RefStatement::Assign { kind, name, to })
            }
            "LIST" => {
                self.pos += 1;
                self.end(RefStatement::List)
            }
            _ => {
                // SHOW REFERENCE | SHOW LOG
                if self.eat("REFERENCE") {
                    return self.end(RefStatement::Show);
                }
                self.pos += 1;
                let reference = self.optional_name();
                let limit = if self.eat("LIMIT") {
                    let n = self.name("a number after LIMIT")?;
                    Some(
                        n.parse::<usize>()
                            .map_err(|_| format!("LIMIT needs a whole number, not '{n}'"))?,
                    )
                } else {
                    None
                };
                self.end(RefStatement::Log { reference, limit })
            }
        }
    }
}

fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "FROM" | "INTO" | "AT" | "TO" | "LIMIT" | "IF" | "NOT" | "EXISTS"
    )
}

/// Words, with `` `quoted` `` and `"quoted"` names kept whole (and unquoted).
fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.trim().trim_end_matches(';').chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '`' || c == '"' || c == '\'' {
            chars.next();
            let mut w = String::new();
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                w.push(d);
            }
            // A quoted word is never a keyword: mark it by keeping a form that is not.
            out.push(w);
        } else {
            let mut w = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() {
                    break;
                }
                w.push(d);
                chars.next();
            }
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> RefStatement {
        parse(s).expect("is a ref statement").expect("parses")
    }

    #[test]
    fn spark_nessie_statements_parse() {
        assert_eq!(
            ok("CREATE BRANCH IF NOT EXISTS dev IN lakehouse FROM main"),
            RefStatement::Create {
                kind: RefKind::Branch,
                name: "dev".into(),
                if_not_exists: true,
                from: Some("main".into()),
            }
        );
        assert_eq!(
            ok("create tag v1 from main"),
            RefStatement::Create {
                kind: RefKind::Tag,
                name: "v1".into(),
                if_not_exists: false,
                from: Some("main".into()),
            }
        );
        assert_eq!(
            ok("USE REFERENCE `dev` AT 1234abcd"),
            RefStatement::Use {
                name: "dev".into(),
                at: Some("1234abcd".into())
            }
        );
        assert_eq!(
            ok("MERGE BRANCH dev INTO main"),
            RefStatement::Merge {
                from: Some("dev".into()),
                into: Some("main".into())
            }
        );
        assert_eq!(
            ok("MERGE BRANCH"),
            RefStatement::Merge {
                from: None,
                into: None
            }
        );
        assert_eq!(
            ok("ASSIGN TAG v1 TO main AT abcd"),
            RefStatement::Assign {
                kind: RefKind::Tag,
                name: "v1".into(),
                to: Some("main@abcd".into())
            }
        );
        assert_eq!(
            ok("USE REFERENCE main AT TIMESTAMP '2025-01-16 10:00:00' IN lakehouse"),
            RefStatement::Use {
                name: "main".into(),
                at: Some("2025-01-16 10:00:00".into())
            }
        );
        assert!(parse("USE REFERENCE main AT TIMESTAMP 'soon'")
            .unwrap()
            .unwrap_err()
            .evalue
            .contains("not a timestamp"));
        assert_eq!(ok("LIST REFERENCES"), RefStatement::List);
        assert_eq!(ok("SHOW REFERENCE IN lakehouse"), RefStatement::Show);
        assert_eq!(
            ok("SHOW LOG dev LIMIT 5;"),
            RefStatement::Log {
                reference: Some("dev".into()),
                limit: Some(5)
            }
        );
        assert_eq!(
            ok("DROP BRANCH IF EXISTS dev"),
            RefStatement::Drop {
                kind: RefKind::Branch,
                name: "dev".into(),
                if_exists: true
            }
        );
    }

    #[test]
    fn other_sql_is_left_to_datafusion() {
        assert!(parse("SELECT 1").is_none());
        assert!(parse("CREATE TABLE t (a INT)").is_none());
        assert!(parse("SHOW TABLES").is_none());
        assert!(parse("DROP TABLE branch").is_none());
    }

    #[test]
    fn malformed_statements_show_the_grammar() {
        let e = parse("CREATE BRANCH").unwrap().unwrap_err();
        assert!(e.evalue.contains("expected a branch or tag name"), "{e}");
        let e = parse("SHOW LOG dev LIMIT x").unwrap().unwrap_err();
        assert!(e.evalue.contains("whole number"), "{e}");
        let e = parse("MERGE BRANCH dev ONTO main").unwrap().unwrap_err();
        assert!(e.evalue.contains("unexpected 'ONTO'"), "{e}");
    }
}

//! Cursor analysis on cell texts: slots, targets, tables and words.

use super::*;

/// `|` marks the cursor.
fn at(code: &str) -> Analysis {
    let cursor = code
        .chars()
        .position(|c| c == '|')
        .expect("a | in the code");
    let code: String = code.chars().filter(|&c| c != '|').collect();
    analyze(&code, cursor)
}

fn slot(code: &str) -> Slot {
    at(code).slot
}

fn t(parts: &[&str], alias: Option<&str>) -> TableRef {
    TableRef {
        parts: parts.iter().map(|s| s.to_string()).collect(),
        alias: alias.map(str::to_string),
    }
}

#[test]
fn tables_come_after_from_join_into_update_table_describe() {
    for code in [
        "SELECT * FROM |",
        "SELECT * FROM ev|",
        "select * from demo.events e join |",
        "INSERT INTO |",
        "UPDATE |",
        "DESCRIBE |",
        "DROP TABLE |",
        "DROP TABLE IF EXISTS |",
        "SELECT * FROM a, |",
        "SELECT 1; SELECT * FROM |",
        "SELECT * FROM (SELECT 1) x LEFT JOIN de|",
    ] {
        assert_eq!(slot(code), Slot::Table, "{code}");
    }
}

#[test]
fn expressions_elsewhere() {
    for code in [
        "SEL|",
        "|",
        "SELECT |",
        "SELECT a, |",
        "SELECT * FROM t WHERE |",
        "SELECT * FROM t GROUP BY |",
        "SELECT * FROM t ORDER BY a DESC, |",
        "SELECT f(a, |",
        "SELECT * FROM t; SEL|",
        "SELECT * FROM (SELECT a, |",
    ] {
        assert_eq!(slot(code), Slot::Expression, "{code}");
    }
}

#[test]
fn strings_and_comments_complete_nothing() {
    for code in [
        "SELECT 'abc|",
        "SELECT 'it''s |",
        "SELECT 1 -- FROM |",
        "SELECT /* FROM |",
        "SELECT /* a /* b */ FROM |",
    ] {
        assert_eq!(slot(code), Slot::Nothing, "{code}");
    }
    assert_eq!(slot("SELECT 'a' |"), Slot::Expression);
    assert_eq!(slot("SELECT /* x */ * FROM |"), Slot::Table);
    assert_eq!(slot("-- note\nSELECT * FROM |"), Slot::Table);
}

#[test]
fn target_and_qualifier() {
    let a = at("SELECT * FROM demo.ev|");
    assert_eq!(a.slot, Slot::Table);
    assert_eq!(a.target.qualifier, vec!["demo"]);
    assert_eq!(a.target.prefix, "ev");
    assert_eq!((a.target.start, a.target.end), (19, 21));
    let a = at("SELECT * FROM lakehouse.Demo.|");
    assert_eq!(a.target.qualifier, vec!["lakehouse", "demo"]);
    assert_eq!(a.target.prefix, "");
    assert_eq!((a.target.start, a.target.end), (29, 29));
    // A space breaks the chain: `demo. x` is not a qualified name.
    let a = at("SELECT demo. x|");
    assert!(a.target.qualifier.is_empty());
    // Unicode: positions are characters.
    let a = at("SELECT '🦀', coun|");
    assert_eq!((a.target.start, a.target.end), (12, 16));
    assert_eq!(a.target.prefix, "coun");
}

#[test]
fn quoted_names() {
    let a = at("SELECT * FROM demo.\"Ev|");
    assert_eq!(a.slot, Slot::Table);
    assert_eq!(a.target.quote, Some('"'));
    assert_eq!(a.target.prefix, "Ev");
    assert_eq!(a.target.qualifier, vec!["demo"]);
    assert_eq!((a.target.start, a.target.end), (19, 22));
    // The editor closed the quote: the completion replaces it too.
    let a = at("SELECT * FROM demo.`ev|`");
    assert_eq!(a.target.quote, Some('`'));
    assert_eq!((a.target.start, a.target.end), (19, 23));
    // A quoted qualifier keeps its case.
    let a = at("SELECT \"My Table\".|");
    assert_eq!(a.target.qualifier, vec!["My Table"]);
    assert_eq!(a.slot, Slot::Expression);
}

#[test]
fn tables_and_aliases_of_the_statement() {
    let a = at("SELECT e.| FROM demo.events e JOIN demo.customers AS c ON e.id = c.id");
    assert_eq!(a.slot, Slot::Expression);
    assert_eq!(a.target.qualifier, vec!["e"]);
    assert_eq!(
        a.tables,
        vec![
            t(&["demo", "events"], Some("e")),
            t(&["demo", "customers"], Some("c"))
        ]
    );
    let a = at("SELECT | FROM a, s.b x, lakehouse.s.c WHERE 1 = 1 GROUP BY 1");
    assert_eq!(
        a.tables,
        vec![
            t(&["a"], None),
            t(&["s", "b"], Some("x")),
            t(&["lakehouse", "s", "c"], None)
        ]
    );
    // Only the statement with the cursor counts.
    let a = at("SELECT * FROM one; SELECT | FROM two; SELECT * FROM three");
    assert_eq!(a.tables, vec![t(&["two"], None)]);
    // Table functions, subqueries and time travel are not tables or aliases.
    let a = at("SELECT | FROM range(10) r, demo.`events@dev` VERSION AS OF 3");
    assert_eq!(a.tables, vec![t(&["demo", "events@dev"], None)]);
    let a = at("SELECT | FROM demo.events WHERE x IN (SELECT y FROM other o)");
    assert_eq!(
        a.tables,
        vec![t(&["demo", "events"], None), t(&["other"], Some("o"))]
    );
    let a = at("UPDATE Demo.\"Events\" SET |");
    assert_eq!(a.tables, vec![t(&["demo", "Events"], None)]);
}

#[test]
fn qualifier_resolves_alias_or_table_name() {
    let tables = vec![
        t(&["demo", "events"], Some("e")),
        t(&["demo", "customers"], None),
    ];
    let q = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(table_for(&tables, &q(&["e"])), Some(&tables[0]));
    assert_eq!(table_for(&tables, &q(&["customers"])), Some(&tables[1]));
    assert_eq!(
        table_for(&tables, &q(&["demo", "customers"])),
        Some(&tables[1])
    );
    assert_eq!(table_for(&tables, &q(&["x"])), None);
    assert_eq!(table_for(&tables, &q(&[])), None);
}

#[test]
fn branch_and_tag_names() {
    for code in [
        "USE REFERENCE |",
        "USE BRANCH de|",
        "use tag |",
        "MERGE BRANCH |",
        "MERGE BRANCH dev INTO |",
        "DROP BRANCH |",
        "DROP TAG IF EXISTS |",
        "ASSIGN TAG v1 TO |",
        "ASSIGN BRANCH |",
        "SHOW LOG |",
        "CREATE BRANCH dev FROM |",
        "CREATE BRANCH IF NOT EXISTS dev IN lakehouse FROM ma|",
        "SELECT 1; USE REFERENCE |",
    ] {
        assert_eq!(slot(code), Slot::Reference, "{code}");
    }
    for code in [
        "CREATE BRANCH |",
        "CREATE BRANCH dev |",
        "MERGE BRANCH dev |",
        "SHOW LOG main |",
    ] {
        assert_eq!(slot(code), Slot::RefGrammar, "{code}");
    }
    assert_eq!(slot("CREATE BRANCH dev IN |"), Slot::Catalog);
    assert_eq!(slot("SHOW TABLES |"), Slot::Expression);
    assert_eq!(slot("DROP TABLE |"), Slot::Table);
}

#[test]
fn magics_at_the_start_of_the_cell() {
    let a = at("%%s|");
    assert_eq!(a.slot, Slot::Magic);
    assert_eq!((a.target.start, a.target.end), (0, 3));
    assert_eq!(a.target.prefix, "%%s");
    let a = at("  %|");
    assert_eq!(a.slot, Slot::Magic);
    assert_eq!(a.target.start, 2);
    assert_ne!(slot("SELECT 5 %|"), Slot::Magic);
    assert_ne!(slot("\n%|"), Slot::Magic);
    // The magic line is not SQL: the statement after it is read without it.
    assert_eq!(slot("%%sql\nSEL|"), Slot::Expression);
    assert_eq!(slot("%%sql --chart bar\nUSE REFERENCE |"), Slot::Reference);
    let a = at("%%sql\nSELECT | FROM demo.events e");
    assert_eq!(a.tables, vec![t(&["demo", "events"], Some("e"))]);
}

#[test]
fn magic_options_and_values() {
    let a = at("%%sql --ch|\nSELECT 1");
    assert_eq!(a.slot, Slot::MagicArg(String::new()));
    assert_eq!(a.target.prefix, "--ch");
    assert_eq!((a.target.start, a.target.end), (6, 10));
    assert_eq!(slot("%%sql --chart |"), Slot::MagicArg("--chart".into()));
    let a = at("%%sql --chart bar --x |\nSELECT a FROM demo.events");
    assert_eq!(a.slot, Slot::MagicArg("--x".into()));
    assert_eq!(a.tables, vec![t(&["demo", "events"], None)]);
    assert_eq!(slot("%%sql --chart bar |"), Slot::MagicArg(String::new()));
}

#[test]
fn word_under_the_cursor() {
    let code = "SELECT * FROM demo.events e WHERE e.amount > 1";
    let w = word_at(code, 21).unwrap(); // in "events"
    assert_eq!(w.parts, vec!["demo", "events"]);
    assert_eq!(w.index, 1);
    assert_eq!(w.slot, Slot::Table);
    let w = word_at(code, 15).unwrap(); // in "demo"
    assert_eq!(w.parts, vec!["demo", "events"]);
    assert_eq!(w.index, 0);
    let w = word_at(code, 40).unwrap(); // in "amount"
    assert_eq!(w.parts, vec!["e", "amount"]);
    assert_eq!(w.slot, Slot::Expression);
    assert_eq!(w.tables, vec![t(&["demo", "events"], Some("e"))]);
    let w = word_at("SELECT count(*) FROM t", 9).unwrap();
    assert_eq!(w.parts, vec!["count"]);
    assert!(w.call);
    let w = word_at("USE REFERENCE dev", 17).unwrap();
    assert_eq!(w.slot, Slot::Reference);
    assert!(word_at("SELECT 'text'", 10).is_none());
    assert!(word_at("SELECT  ", 7).is_none());
}

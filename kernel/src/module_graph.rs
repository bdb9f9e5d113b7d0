//! A test that the modules of `kernel/src` import one another without a circle.
//!
//! It reads every `kernel/src/**/*.rs`, collects the paths each module names (`use` trees and
//! paths written inline, starting with `crate::`, `super::`, `self::` or a child module), and
//! follows `pub use` re-exports to the module that defines the item. An import from module A
//! to module B becomes an edge between the two siblings under their deepest common parent
//! (`engines::sql::write` → `catalog::commit` is `engines` → `catalog`; `engines::sql::refs` →
//! `engines::sql::errors` is `refs` → `errors`). A module's use of its own parent or children
//! is the ordinary shape of a Rust module and not counted. The sibling graph must have no
//! cycle, at every level: the top-level rooms and the files inside each room.
//!
//! Run it alone with `cargo test --release --workspace --lib no_import_circle` (`-p` would
//! rebuild the dependencies with other features).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Sibling edges that close a known circle in code someone else is rewriting, allowed until
/// it is untangled: (from, to, why), with from and to as the failure message prints them.
/// Empty the list as they go; an entry whose edge no longer exists fails the test, so it
/// cannot go stale, and any other new circle still fails. Empty now: the last circles (inside
/// `lakehouse/`, around `commit.rs`) went when `CommitFailure` moved to `error.rs`,
/// `CommitTarget` to `table.rs` and `delete_quietly` to `data_files.rs`.
const KNOWN: &[(&str, &str, &str)] = &[];

/// A module path below the crate root: `["engines", "sql", "write"]`.
type ModPath = Vec<String>;

#[test]
fn no_import_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = read_modules(&src);
    assert!(
        files.len() > 20,
        "only {} modules found under {}",
        files.len(),
        src.display()
    );
    let graph = Graph::build(&files);
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(a, b, _)| (a.to_string(), b.to_string()))
        .collect();
    for (a, b) in &known {
        assert!(
            graph.has_edge(a, b),
            "module_graph.rs allows {a} -> {b} in KNOWN, but that import is gone: remove the entry"
        );
    }
    let cycles = graph.cycles(&known);
    assert!(
        cycles.is_empty(),
        "import circles among kernel/src modules (each edge: the sibling modules, then a file-level \
         import that makes it):\n{}",
        cycles.join("\n")
    );
}

/// Every module file under `src` (the library's; `main.rs` is the binary's own crate) with
/// its module path and source.
fn read_modules(src: &Path) -> Vec<(ModPath, String)> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("kernel/src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(src, &mut paths);
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let rel = path.strip_prefix(src).expect("under src");
        let mut segs: ModPath = rel
            .with_extension("")
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        if segs == ["main"] {
            continue;
        }
        if matches!(segs.last().map(String::as_str), Some("mod" | "lib")) {
            segs.pop();
        }
        let text = std::fs::read_to_string(&path).expect("a readable source file");
        out.push((segs, text));
    }
    out
}

/// The imports found in the sources, resolved to modules.
struct Graph {
    /// Sibling edges with one file-level import that makes each (for the message).
    edges: BTreeMap<(String, String), (String, String)>,
}

/// What one module file says: the paths it names (with the module they are named from,
/// which differs inside inline `mod x { … }`), and its `pub use` re-exports by name.
#[derive(Default)]
struct Scan {
    paths: Vec<(ModPath, Vec<String>)>,
    reexports: Vec<(ModPath, String, Vec<String>)>,
    inline_mods: Vec<ModPath>,
}

impl Graph {
    fn build(files: &[(ModPath, String)]) -> Graph {
        let mut modules: BTreeSet<ModPath> = files.iter().map(|(m, _)| m.clone()).collect();
        let scans: Vec<(ModPath, Scan)> = files
            .iter()
            .map(|(m, text)| (m.clone(), scan(m, &tokens(&strip(text)))))
            .collect();
        let mut reexports: BTreeMap<(ModPath, String), (ModPath, Vec<String>)> = BTreeMap::new();
        for (_, s) in &scans {
            modules.extend(s.inline_mods.iter().cloned());
            for (m, name, path) in &s.reexports {
                reexports.insert((m.clone(), name.clone()), (m.clone(), path.clone()));
            }
        }
        let resolver = Resolver {
            modules: &modules,
            reexports: &reexports,
        };
        let mut edges = BTreeMap::new();
        for (_, s) in &scans {
            for (from, path) in &s.paths {
                let Some(to) = resolver.resolve(from, path, 0) else {
                    continue;
                };
                let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
                if common == from.len() || common == to.len() {
                    continue; // a parent and its descendant
                }
                let a = from[..=common].join("::");
                let b = to[..=common].join("::");
                edges
                    .entry((a, b))
                    .or_insert_with(|| (from.join("::"), to.join("::")));
            }
        }
        Graph { edges }
    }

    fn has_edge(&self, a: &str, b: &str) -> bool {
        self.edges.contains_key(&(a.to_string(), b.to_string()))
    }

    /// Each strongly connected group of siblings (ignoring `allowed` edges), as text.
    fn cycles(&self, allowed: &BTreeSet<(String, String)>) -> Vec<String> {
        let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (a, b) in self.edges.keys() {
            if !allowed.contains(&(a.clone(), b.clone())) {
                next.entry(a).or_default().push(b);
            }
        }
        let mut out = Vec::new();
        for group in strongly_connected(&next) {
            let members: BTreeSet<&str> = group.iter().copied().collect();
            let mut text = format!("  circle among {{{}}}:", group.join(", "));
            for (a, bs) in &next {
                for b in bs {
                    if members.contains(a) && members.contains(b) {
                        let (fa, fb) = &self.edges[&(a.to_string(), b.to_string())];
                        text.push_str(&format!("\n    {a} -> {b}   ({fa} uses {fb})"));
                    }
                }
            }
            out.push(text);
        }
        out
    }
}

/// Tarjan's algorithm: the groups of more than one node that reach one another.
fn strongly_connected<'a>(next: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        groups: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(v: &'a str, next: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in next.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(w, next, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w);
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.groups.push(group);
            }
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for &v in next.keys() {
        if !s.index.contains_key(v) {
            visit(v, next, &mut s);
        }
    }
    s.groups
}

struct Resolver<'a> {
    modules: &'a BTreeSet<ModPath>,
    reexports: &'a BTreeMap<(ModPath, String), (ModPath, Vec<String>)>,
}

impl Resolver<'_> {
    /// The module `path`, named from module `from`, points into (following re-exports), or
    /// `None` for another crate's path or a local name.
    fn resolve(&self, from: &[String], path: &[String], depth: usize) -> Option<ModPath> {
        let mut base: ModPath;
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base = vec![];
                rest = &rest[1..];
            }
            Some("super" | "self") => {
                base = from.to_vec();
                while let Some(first) = rest.first() {
                    match first.as_str() {
                        "super" => {
                            base.pop()?;
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
            }
            Some(first) => {
                // A child module named without `self::` (2018 paths).
                let mut child = from.to_vec();
                child.push(first.to_string());
                if !self.modules.contains(&child) {
                    return None;
                }
                base = from.to_vec();
            }
            None => return None,
        }
        // The longest prefix that is a module.
        let mut i = 0;
        while i < rest.len() {
            base.push(rest[i].clone());
            if !self.modules.contains(&base) {
                base.pop();
                break;
            }
            i += 1;
        }
        if depth < 16 {
            if let Some(name) = rest.get(i) {
                if let Some((ctx, target)) = self.reexports.get(&(base.clone(), name.clone())) {
                    if let Some(m) = self.resolve(ctx, target, depth + 1) {
                        return Some(m);
                    }
                }
            }
        }
        Some(base)
    }
}

/// `text` without comments, string and character literals (their places kept as spaces), so
/// only code is scanned.
fn strip(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let at = |k: usize| b.get(i + k).copied().unwrap_or('\0');
        if c == '/' && at(1) == '/' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(1) == '*' {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if let Some((start, hashes)) = raw_string_at(&b, i) {
            // r"…", r#"…"#, br"…": ends at a quote followed by as many hashes.
            i = start;
            while i < b.len()
                && !(b[i] == '"' && b[i + 1..].iter().take_while(|&&h| h == '#').count() >= hashes)
            {
                i += 1;
            }
            i += 1 + hashes;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if at(1) == '\\' {
                i += 3; // the quote, the backslash and the escaped character
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if at(2) == '\'' {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where the text of a raw string starting at `i` begins, and its number of hashes.
fn raw_string_at(b: &[char], i: usize) -> Option<(usize, usize)> {
    let after_prefix = match (b.get(i), b.get(i + 1)) {
        (Some('r'), _) => i + 1,
        (Some('b'), Some('r')) => i + 2,
        _ => return None,
    };
    if i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_') {
        return None; // the end of an identifier such as `for`
    }
    let hashes = b[after_prefix..].iter().take_while(|&&h| h == '#').count();
    (b.get(after_prefix + hashes) == Some(&'"')).then_some((after_prefix + hashes + 1, hashes))
}

/// Identifiers and the punctuation the scanner needs (`::` as one token).
fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// The paths named in one file's tokens, the inline modules it declares, and its re-exports.
fn scan(file_mod: &[String], toks: &[String]) -> Scan {
    let mut s = Scan::default();
    // Inline `mod x { … }`: the module paths are named from, with the brace depth each opened at.
    let mut scope: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let current = |scope: &[(String, usize)]| -> ModPath {
        let mut m = file_mod.to_vec();
        m.extend(scope.iter().map(|(n, _)| n.clone()));
        m
    };
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].as_str();
        match t {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if scope.last().is_some_and(|(_, d)| *d == depth) {
                    scope.pop();
                }
            }
            "mod" if toks.get(i + 2).map(String::as_str) == Some("{") => {
                scope.push((toks[i + 1].clone(), depth));
                s.inline_mods.push(current(&scope));
                depth += 1;
                i += 3;
                continue;
            }
            "use" => {
                let public = i > 0 && (toks[i - 1] == "pub" || toks[i - 1] == ")");
                let end = toks[i..]
                    .iter()
                    .position(|t| t == ";")
                    .map_or(toks.len(), |p| i + p);
                let here = current(&scope);
                for (path, name) in use_tree(&toks[i + 1..end]) {
                    if public && path.last().map(String::as_str) != Some("*") {
                        s.reexports.push((here.clone(), name, path.clone()));
                    }
                    s.paths.push((here.clone(), path));
                }
                i = end + 1;
                continue;
            }
            "crate" | "super" | "self" if toks.get(i + 1).map(String::as_str) == Some("::") => {
                let mut path = vec![t.to_string()];
                let mut j = i + 1;
                while toks.get(j).map(String::as_str) == Some("::")
                    && toks
                        .get(j + 1)
                        .is_some_and(|n| n.chars().all(|c| c.is_alphanumeric() || c == '_'))
                {
                    path.push(toks[j + 1].clone());
                    j += 2;
                }
                s.paths.push((current(&scope), path));
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    s
}

/// The paths of a `use` tree (without `use` and `;`), each with the name it brings in:
/// `a::{b, c::{self, d as e}}` → `a::b` (b), `a::c` (c), `a::c::d` (e).
fn use_tree(toks: &[String]) -> Vec<(Vec<String>, String)> {
    fn walk(toks: &[String], prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
        let mut parts: Vec<&[String]> = Vec::new();
        let (mut depth, mut start) = (0, 0);
        for (k, t) in toks.iter().enumerate() {
            match t.as_str() {
                "{" => depth += 1,
                "}" => depth -= 1,
                "," if depth == 0 => {
                    parts.push(&toks[start..k]);
                    start = k + 1;
                }
                _ => {}
            }
        }
        parts.push(&toks[start..]);
        for part in parts {
            let mut path = prefix.to_vec();
            let mut alias = None;
            let mut group = false;
            for (k, t) in part.iter().enumerate() {
                match t.as_str() {
                    "::" => {}
                    "{" => {
                        let close = part.iter().rposition(|t| t == "}").unwrap_or(part.len());
                        walk(&part[k + 1..close], &path, out);
                        group = true;
                        break;
                    }
                    "as" => {
                        alias = part.get(k + 1).cloned();
                        break;
                    }
                    // `a::{self, b}` brings in `a` itself.
                    "self" if k == 0 && !prefix.is_empty() => {}
                    other => path.push(other.to_string()),
                }
            }
            if group || path.is_empty() {
                continue;
            }
            let name = alias.unwrap_or_else(|| path[path.len() - 1].clone());
            out.push((path, name));
        }
    }
    let mut out = Vec::new();
    walk(toks, &[], &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(ModPath, String)> {
        list.iter()
            .map(|(m, text)| {
                let path = if m.is_empty() {
                    vec![]
                } else {
                    m.split("::").map(String::from).collect()
                };
                (path, text.to_string())
            })
            .collect()
    }

    fn circles(list: &[(&str, &str)]) -> Vec<String> {
        Graph::build(&files(list)).cycles(&BTreeSet::new())
    }

    #[test]
    fn use_trees_expand() {
        let t = tokens("a::{b, c::{self, d as e}, f::*}");
        let got: Vec<String> = use_tree(&t)
            .into_iter()
            .map(|(p, n)| format!("{} ({n})", p.join("::")))
            .collect();
        assert_eq!(got, ["a::b (b)", "a::c (c)", "a::c::d (e)", "a::f::* (*)"]);
    }

    #[test]
    fn a_circle_between_rooms_is_found_and_named() {
        let c = circles(&[
            ("", "mod a; mod b;"),
            ("a", "use crate::b::thing;"),
            ("b", "fn f() { crate::a::other(); }"),
        ]);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(
            c[0].contains("a -> b") && c[0].contains("b -> a"),
            "{}",
            c[0]
        );
    }

    #[test]
    fn parents_children_comments_and_strings_are_not_circles() {
        let c = circles(&[
            ("", "mod a; mod b;"),
            ("a", "mod x; use x::Thing; pub struct Top;"),
            (
                "a::x",
                "use super::Top; // crate::b::y\nconst S: &str = \"crate::b::y\";",
            ),
            ("b", "use crate::a::Top;"),
            (
                "b::y",
                "#[cfg(test)] mod tests { use super::*; fn t() { super::super::z(); } }",
            ),
        ]);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn re_exports_lead_to_the_defining_sibling() {
        // `x` uses its parent's re-export of `y::Item`, and `y` uses `x`: a circle between
        // the siblings `x` and `y` that goes through their parent's `pub use`.
        let c = circles(&[
            ("", "mod p;"),
            ("p", "mod x; mod y; pub use y::Item;"),
            ("p::x", "use super::Item;"),
            ("p::y", "pub struct Item; fn f() { super::x::g(); }"),
        ]);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains("p::x -> p::y"), "{}", c[0]);
    }

    #[test]
    fn a_circle_through_nested_modules_is_found_at_their_level() {
        let c = circles(&[
            ("", "mod catalog; mod engines;"),
            (
                "catalog",
                "fn f() -> crate::engines::sql::CellError { todo!() }",
            ),
            ("engines", "pub mod sql;"),
            ("engines::sql", "use crate::catalog;"),
        ]);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains("catalog -> engines") && c[0].contains("engines -> catalog"));
    }
}

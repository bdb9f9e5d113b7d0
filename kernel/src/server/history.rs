//! History requests: the cells run with `store_history`, selected by tail, range or an
//! IPython-style glob search. A search is bounded in pattern length and time (a pathological
//! pattern once never answered), and requests from clients that leave out fields are read
//! leniently.

use std::sync::Arc;
use std::time::Duration;

use jupyter_protocol::{HistoryEntry, HistoryRequest};

use super::Kernel;
use crate::error::{CellError, ErrorKind};

impl Kernel {
    /// The history a request asks for. The cells are copied (shared strings) under the lock
    /// and searched on the blocking pool: a search never holds up the other sockets.
    pub(super) async fn history(
        &self,
        req: HistoryRequest,
    ) -> Result<Vec<HistoryEntry>, CellError> {
        let cells = self.state.lock().expect("state").history.clone();
        tokio::task::spawn_blocking(move || history_entries(&cells, &req, HISTORY_SEARCH_TIME))
            .await
            .map_err(|e| format!("the history search failed: {e}"))
            .and_then(|r| r)
            .map_err(|m| ErrorKind::HistorySearch.error(m))
    }
}

/// The longest history search pattern, in characters.
const MAX_HISTORY_PATTERN: usize = 1000;
/// How long one history search may take before it is given up.
const HISTORY_SEARCH_TIME: Duration = Duration::from_secs(2);

/// The entries of `cells` (execution count, code) that `req` selects.
fn history_entries(
    cells: &[(usize, Arc<str>)],
    req: &HistoryRequest,
    budget: Duration,
) -> Result<Vec<HistoryEntry>, String> {
    let entry = |(n, code): &(usize, Arc<str>), output: bool| {
        if output {
            HistoryEntry::InputOutput(0, *n, (code.to_string(), String::new()))
        } else {
            HistoryEntry::Input(0, *n, code.to_string())
        }
    };
    Ok(match req {
        HistoryRequest::Tail { n, output, .. } => {
            let n = (*n).max(0) as usize;
            let skip = cells.len().saturating_sub(n);
            cells[skip..].iter().map(|h| entry(h, *output)).collect()
        }
        HistoryRequest::Range {
            start,
            stop,
            output,
            ..
        } => cells
            .iter()
            .filter(|(n, _)| {
                (*n as i64) >= (*start as i64) && (*stop <= 0 || (*n as i64) < (*stop as i64))
            })
            .map(|h| entry(h, *output))
            .collect(),
        HistoryRequest::Search {
            pattern,
            unique,
            output,
            n,
            ..
        } => {
            let pattern: Vec<char> = pattern.chars().collect();
            if pattern.len() > MAX_HISTORY_PATTERN {
                return Err(format!(
                    "the history search pattern has {} characters, more than the limit of \
                     {MAX_HISTORY_PATTERN}: search with a shorter pattern",
                    pattern.len()
                ));
            }
            let deadline = std::time::Instant::now() + budget;
            let mut seen = std::collections::HashSet::new();
            let mut hits = vec![];
            for cell in cells.iter().rev() {
                if std::time::Instant::now() > deadline {
                    return Err(format!(
                        "the history search took more than {} s and was stopped: search with \
                         a more specific pattern (fewer `*`)",
                        budget.as_secs()
                    ));
                }
                if glob_match(&pattern, &cell.1) && (!*unique || seen.insert(cell.1.clone())) {
                    hits.push(entry(cell, *output));
                    if *n > 0 && hits.len() >= *n as usize {
                        break;
                    }
                }
            }
            hits.reverse();
            hits
        }
    })
}

/// A history request read with defaults for missing fields.
pub(super) fn lenient_history_request(v: &serde_json::Value) -> HistoryRequest {
    let b = |k: &str| v.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
    let i = |k: &str, d: i32| {
        v.get(k)
            .and_then(|x| x.as_i64())
            .map(|n| n as i32)
            .unwrap_or(d)
    };
    match v.get("hist_access_type").and_then(|x| x.as_str()) {
        Some("range") => HistoryRequest::Range {
            session: v.get("session").and_then(|x| x.as_i64()).map(|n| n as i32),
            start: i("start", 0),
            stop: i("stop", 0),
            output: b("output"),
            raw: b("raw"),
        },
        Some("search") => HistoryRequest::Search {
            pattern: v
                .get("pattern")
                .and_then(|x| x.as_str())
                .unwrap_or("*")
                .to_string(),
            unique: b("unique"),
            output: b("output"),
            raw: b("raw"),
            n: i("n", 0),
        },
        _ => HistoryRequest::Tail {
            n: i("n", 10),
            output: b("output"),
            raw: b("raw"),
        },
    }
}

/// IPython-style history search (sqlite's GLOB without classes): `*` matches any run, `?` one
/// character, and the whole cell must match. Two pointers: on a mismatch only the last `*`
/// takes one more character, so the work is at most pattern × text, never exponential.
fn glob_match(pattern: &[char], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // After the last `*` seen: its pattern position and the text position it resumes from.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                p += 1;
                star = Some((p, t));
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, text: &str) -> bool {
        glob_match(&pattern.chars().collect::<Vec<_>>(), text)
    }

    /// The backtracking matcher this replaced: exponential, but plainly right.
    fn glob_reference(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => {
                glob_reference(&p[1..], t) || (!t.is_empty() && glob_reference(p, &t[1..]))
            }
            (Some('?'), Some(_)) => glob_reference(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => glob_reference(&p[1..], &t[1..]),
            _ => false,
        }
    }

    #[test]
    fn glob_matches_like_ipython() {
        assert!(glob("*SELECT*", "x SELECT 1"));
        assert!(glob("SEL?CT 1", "SELECT 1"));
        assert!(!glob("SELECT", "SELECT 1"));
        assert!(glob("*", ""));
        assert!(!glob("?", ""));
        assert!(glob("*é?", "café!"));
    }

    #[test]
    fn glob_agrees_with_the_backtracking_matcher() {
        // Every pattern over {a, b, *, ?} up to 5 long against every text over {a, b} up to 6.
        fn all(alphabet: &[char], max: usize) -> Vec<Vec<char>> {
            let mut out = vec![vec![]];
            let mut last = vec![vec![]];
            for _ in 0..max {
                let next: Vec<Vec<char>> = last
                    .iter()
                    .flat_map(|w: &Vec<char>| {
                        alphabet.iter().map(move |c| {
                            let mut w = w.clone();
                            w.push(*c);
                            w
                        })
                    })
                    .collect();
                out.extend(next.iter().cloned());
                last = next;
            }
            out
        }
        let patterns = all(&['a', 'b', '*', '?'], 5);
        let texts = all(&['a', 'b'], 6);
        let mut checked = 0;
        for p in &patterns {
            for t in &texts {
                let text: String = t.iter().collect();
                assert_eq!(
                    glob_match(p, &text),
                    glob_reference(p, t),
                    "{:?} on {text:?}",
                    p.iter().collect::<String>()
                );
                checked += 1;
            }
        }
        assert_eq!(checked, patterns.len() * texts.len());
    }

    #[test]
    fn pathological_glob_patterns_are_fast() {
        // The search: exponential before (it never answered).
        let cell = format!("SELECT 1 -- {}", "abcdef".repeat(333));
        let started = std::time::Instant::now();
        assert!(!glob("*a*b*c*d*e*f*q", &cell));
        assert!(glob("*a*b*c*d*e*f*", &cell));
        // Worst case for two pointers: many stars, a near-miss at every position.
        let long = "a".repeat(5000);
        let pattern = format!("{}b", "*a".repeat(500));
        assert!(!glob(&pattern, &long));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn history_search_is_bounded() {
        let cells: Vec<(usize, Arc<str>)> = (1..=3)
            .map(|n| {
                (
                    n,
                    Arc::from(format!("SELECT {n} -- {}", "abcdef".repeat(333))),
                )
            })
            .collect();
        let search = |pattern: &str| HistoryRequest::Search {
            pattern: pattern.into(),
            unique: false,
            output: false,
            raw: true,
            n: 2,
        };
        let hits = history_entries(&cells, &search("SELECT*"), Duration::from_secs(2)).unwrap();
        let counts: Vec<usize> = hits
            .iter()
            .map(|h| match h {
                HistoryEntry::Input(_, n, _) => *n,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(counts, vec![2, 3], "the last n matches, oldest first");
        assert!(
            history_entries(&cells, &search("*a*b*c*d*e*f*q"), Duration::from_secs(2))
                .unwrap()
                .is_empty()
        );
        let too_long = "*".repeat(MAX_HISTORY_PATTERN + 1);
        let err = history_entries(&cells, &search(&too_long), Duration::from_secs(2)).unwrap_err();
        assert!(err.contains("limit of 1000"), "{err}");
        // Over budget: an error that says what to do, not a hang.
        let err = history_entries(&cells, &search("*"), Duration::ZERO).unwrap_err();
        assert!(err.contains("more specific pattern"), "{err}");
    }

    #[test]
    fn history_search_without_unique_is_understood() {
        let v = serde_json::json!({"hist_access_type": "search", "pattern": "SELECT*", "n": 3,
                                   "output": false, "raw": true});
        match lenient_history_request(&v) {
            HistoryRequest::Search {
                pattern, unique, n, ..
            } => {
                assert_eq!(pattern, "SELECT*");
                assert!(!unique);
                assert_eq!(n, 3);
            }
            other => panic!("{other:?}"),
        }
    }
}

//! Live progress of a running query, read from DataFusion's execution metrics.
//!
//! Operators count their output rows in atomics while they run, so a plan can be asked at
//! any time how many rows its scans have produced (rows read) and how many rows its root has
//! produced (rows out). No operator is slowed down by being observed.

use std::sync::Arc;
use std::time::Duration;

use datafusion::physical_plan::ExecutionPlan;

/// How long a query runs before a status line appears, and how often it is updated.
pub const FIRST_AFTER: Duration = Duration::from_millis(500);
/// See [`FIRST_AFTER`].
pub const EVERY: Duration = Duration::from_millis(500);

/// Rows counted so far in a running plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows produced by the plan's leaves (scans, generators).
    pub rows_read: usize,
    /// Rows produced by the root (the result so far).
    pub rows_out: usize,
    /// Leaves that have finished producing (end time recorded), and all leaves.
    pub leaves_done: usize,
    /// All leaf operators.
    pub leaves: usize,
}

/// Reads the counters of `plan` now.
pub fn counts(plan: &Arc<dyn ExecutionPlan>) -> Counts {
    let mut c = Counts {
        rows_out: output_rows(plan),
        ..Counts::default()
    };
    walk(plan, &mut c);
    c
}

fn output_rows(plan: &Arc<dyn ExecutionPlan>) -> usize {
    plan.metrics().and_then(|m| m.output_rows()).unwrap_or(0)
}

fn walk(plan: &Arc<dyn ExecutionPlan>, c: &mut Counts) {
    let children = plan.children();
    if children.is_empty() {
        c.rows_read += output_rows(plan);
        c.leaves += 1;
        if plan
            .metrics()
            .is_some_and(|m| m.iter().any(|m| m.value().name() == "end_timestamp"))
        {
            c.leaves_done += 1;
        }
    }
    for child in children {
        walk(child, c);
    }
}

/// The status line: `Running 3.2 s · 1,204,000 rows read · 12 rows out`.
pub fn line(elapsed: Duration, c: Counts, done: bool) -> String {
    let mut s = format!(
        "{} {:.1} s · {} rows read",
        if done { "Finished in" } else { "Running" },
        elapsed.as_secs_f64(),
        thousands(c.rows_read)
    );
    if c.rows_out > 0 || done {
        s.push_str(&format!(" · {} rows out", thousands(c.rows_out)));
    }
    if c.leaves > 1 && !done {
        s.push_str(&format!(" · {}/{} inputs done", c.leaves_done, c.leaves));
    }
    s
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        let c = Counts {
            rows_read: 1_204_000,
            rows_out: 0,
            leaves_done: 1,
            leaves: 2,
        };
        assert_eq!(
            line(Duration::from_millis(3210), c, false),
            "Running 3.2 s · 1,204,000 rows read · 1/2 inputs done"
        );
        assert_eq!(
            line(
                Duration::from_millis(4000),
                Counts { rows_out: 3, ..c },
                true
            ),
            "Finished in 4.0 s · 1,204,000 rows read · 3 rows out"
        );
    }
}

//! Any text a cell can hold: the splitter must never panic, every statement it finds must be
//! non-empty and placed inside the cell, and the error helpers that point into the cell
//! (caret, locations) must not panic for any line and column.
#![no_main]

use lakehouse_grammar::split::{caret, cell_location, error_location, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|cell: &str| {
    let s = split(cell);
    let lines = cell.lines().count().max(1);
    for piece in &s.pieces {
        assert!(!piece.text.trim().is_empty(), "an empty statement: {s:?}");
        assert!(
            piece.line >= 1 && piece.line <= lines,
            "line {} of {lines}",
            piece.line
        );
        assert!(piece.column >= 1);
        let (line, column) = cell_location(piece, 1, 1);
        let _ = caret(cell, line, column);
    }
    // Messages the parser produces end in a location; any text must be safe to read.
    let _ = error_location(cell);
    let _ = caret(cell, cell.len() % 7, cell.len() % 13);
});

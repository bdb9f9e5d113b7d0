//! Any cell, parsed as the kernel parses it: split into statements, each through the one
//! grammar (the kernel's own statements, `${name}` parameters, time travel, Spark's syntax,
//! DataFusion's parser and the depth check), with both dialects. It must end in a statement or
//! an error for every input, never a panic, a stack overflow or a hang (libFuzzer's -timeout).
#![no_main]

use datafusion_common::ScalarValue;
use lakehouse_grammar::depth;
use lakehouse_grammar::options::Dialect;
use lakehouse_grammar::params::Params;
use lakehouse_grammar::parser::{Grammar, Statement};
use lakehouse_grammar::split::split;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|cell: &str| {
    let params = Params::default();
    params.set("n", ScalarValue::Int64(Some(3)));
    params.set("t", ScalarValue::Utf8(Some("demo.events".into())));
    params.set("flag", ScalarValue::Boolean(Some(true)));
    for dialect in [Dialect::Spark, Dialect::DataFusion] {
        // DataFusion's default sql_parser.recursion_limit.
        let grammar = Grammar {
            params: &params,
            recursion_limit: 50,
            dialect,
        };
        for piece in split(cell).pieces {
            if let Ok(parsed) = grammar.parse_statement(cell, &piece) {
                if let Statement::Sql(s) | Statement::Merge(s) = parsed.statement {
                    depth::release(*s);
                }
            }
        }
    }
});

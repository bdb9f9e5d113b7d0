//! A plain DataFusion session with the kernel's rules, and readers for its results: the rules
//! are tested without a catalog or the SQL front end.

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;

use crate::settings::Settings;

/// A session with the rules on (`rewrite`) or off, holding `create` (a `CREATE TABLE … AS`).
pub(super) async fn session(create: &str, rewrite: bool) -> SessionContext {
    let ctx = SessionContext::new();
    let mut settings = Settings::from_map(&Default::default()).expect("default settings");
    settings.no_distinct_rewrite = !rewrite;
    for rule in super::rules(&settings) {
        ctx.add_optimizer_rule(rule);
    }
    ctx.sql(create).await.unwrap().collect().await.unwrap();
    ctx
}

async fn batches(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The rows of `sql` as text.
pub(super) async fn rows(ctx: &SessionContext, sql: &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    for b in batches(ctx, sql).await {
        for r in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| array_value_to_string(c, r).unwrap())
                    .collect(),
            );
        }
    }
    out
}

/// The names and types of the columns `sql` gives.
pub(super) async fn types(ctx: &SessionContext, sql: &str) -> Vec<(String, DataType)> {
    let df = ctx.sql(sql).await.unwrap();
    df.schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

/// `EXPLAIN sql` as one text.
pub(super) async fn explain(ctx: &SessionContext, sql: &str) -> String {
    rows(ctx, &format!("EXPLAIN {sql}"))
        .await
        .into_iter()
        .map(|r| r.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

//! Opening a session: the catalog, the DataFusion context and its extensions, then the
//! start-up files, in that order, so every way in (the server, tests, benches) gets the
//! same session.
//!
//! The session room sits above the engines: it imports `engines::sql` and `settings`, and
//! nothing below imports it, which keeps the module graph free of circles.

pub mod startup;

use crate::engines::sql::SqlEngine;
use crate::error::CellError;
use crate::settings::Settings;

/// Opens a SQL session on `settings`: builds the catalog and the context
/// ([`SqlEngine::new`]), then runs the start-up files; what failed in them waits for the
/// first cell ([`SqlEngine::take_startup_report`]).
pub async fn open(settings: Settings) -> Result<SqlEngine, CellError> {
    let engine = SqlEngine::new(settings).await?;
    let report = startup::run(&engine).await.report();
    engine.set_startup_report(report);
    Ok(engine)
}

//! Iceberg metadata tables (`t$snapshots`, …) with column projection.
//!
//! iceberg-datafusion 0.10's metadata scan ignores the projection DataFusion asks for and
//! always returns every column, so `SELECT count(*) FROM "t$snapshots"` (no columns) fails
//! with a schema mismatch. This wrapper scans everything and projects on top.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;

/// A metadata table whose scans honour the projection.
#[derive(Debug)]
pub struct ProjectedMetadataTable {
    inner: Arc<dyn TableProvider>,
}

impl ProjectedMetadataTable {
    /// Wraps iceberg-datafusion's metadata table provider.
    pub fn new(inner: Arc<dyn TableProvider>) -> Self {
        ProjectedMetadataTable { inner }
    }
}

#[async_trait]
impl TableProvider for ProjectedMetadataTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let full = self.inner.scan(state, None, &[], limit).await?;
        let Some(projection) = projection else {
            return Ok(full);
        };
        let schema = full.schema();
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = projection
            .iter()
            .map(|&i| {
                let name = schema.field(i).name().clone();
                (
                    Arc::new(Column::new(&name, i)) as Arc<dyn PhysicalExpr>,
                    name,
                )
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, full)?))
    }
}

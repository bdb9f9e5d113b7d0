//! Interrupts that stop any plan within one batch.
//!
//! Aborting a cell's task only stops a query at an await point. A join or an aggregate over
//! `range()` polls its inputs in a loop that never returns `Pending` (a cross join turns one
//! input batch into thousands of output batches), so tokio never gets to drop it: the
//! interrupt waited for the end of the query, or was lost when the query finished first.
//! The session's query planner wraps every operator of every plan it runs in
//! [`Interruptible`], which looks at the session's [`InterruptSwitch`] before each batch it
//! passes up and fails with [`Interrupted`] once the switch has moved past the generation the
//! plan was planned in. Plans planned after the interrupt run normally, so there is nothing to
//! reset and no race with the next cell. `EXPLAIN` and `EXPLAIN ANALYZE` are left as
//! DataFusion plans them: they print the plan, and wrappers would double every line.

use std::any::Any;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, Statistics};
use datafusion::error::DataFusionError;
use datafusion::execution::context::{QueryPlanner, SessionState};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use futures::Stream;

/// The session's interrupt counter: plans remember the generation they were planned in and
/// stop once it changes.
#[derive(Debug, Default)]
pub struct InterruptSwitch {
    generation: AtomicU64,
}

impl InterruptSwitch {
    /// Stops every plan planned so far, at its next batch.
    pub fn interrupt(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current generation (plans planned now stop at the next interrupt).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// The error a plan fails with when interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the statement was interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Whether `e` (or an error it wraps, however deep) is [`Interrupted`].
pub fn is_interrupted(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if err.is::<Interrupted>() {
            return true;
        }
        // DataFusion's Shared and Context variants name no source; look inside them.
        if let Some(df) = err.downcast_ref::<DataFusionError>() {
            match df {
                DataFusionError::Shared(inner) => return is_interrupted(inner.as_ref()),
                DataFusionError::Context(_, inner) => return is_interrupted(inner.as_ref()),
                DataFusionError::External(inner) => return is_interrupted(inner.as_ref()),
                _ => {}
            }
        }
        next = err.source();
    }
    false
}

/// The session's query planner: DataFusion's, then every operator wrapped in
/// [`Interruptible`].
#[derive(Debug)]
pub struct InterruptiblePlanner {
    switch: Arc<InterruptSwitch>,
}

impl InterruptiblePlanner {
    /// A planner whose plans stop when `switch` is interrupted.
    pub fn new(switch: Arc<InterruptSwitch>) -> Self {
        Self { switch }
    }
}

#[async_trait]
impl QueryPlanner for InterruptiblePlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &SessionState,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Read before planning: an interrupt while planning stops the plan too.
        let generation = self.switch.generation();
        let plan = DefaultPhysicalPlanner::default()
            .create_physical_plan(logical_plan, session_state)
            .await?;
        if matches!(
            logical_plan,
            LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)
        ) {
            return Ok(plan);
        }
        if self.switch.generation() != generation {
            return Err(DataFusionError::External(Box::new(Interrupted)));
        }
        Ok(wrap(plan, &self.switch, generation))
    }
}

/// `plan` with every operator wrapped in [`Interruptible`] for `generation`. An operator
/// that cannot take new children (none of DataFusion's or ours) leaves the plan as it was:
/// it still stops at its await points.
pub fn wrap(
    plan: Arc<dyn ExecutionPlan>,
    switch: &Arc<InterruptSwitch>,
    generation: u64,
) -> Arc<dyn ExecutionPlan> {
    let wrapped = plan.clone().transform_up(|node| {
        Ok(Transformed::yes(Arc::new(Interruptible {
            input: node,
            switch: switch.clone(),
            generation,
        }) as Arc<dyn ExecutionPlan>))
    });
    match wrapped {
        Ok(t) => t.data,
        Err(e) => {
            log::warn!(
                "the plan cannot be made interruptible ({e}); it stops at await points only"
            );
            plan
        }
    }
}

/// The operator `node` without its [`Interruptible`] wrapper.
pub fn unwrap(node: &Arc<dyn ExecutionPlan>) -> &Arc<dyn ExecutionPlan> {
    match node.as_any().downcast_ref::<Interruptible>() {
        Some(i) => &i.input,
        None => node,
    }
}

/// One operator of a plan, which fails with [`Interrupted`] before the next batch once the
/// session is interrupted. It adds nothing else: properties, statistics and metrics are its
/// input's.
#[derive(Debug)]
pub struct Interruptible {
    input: Arc<dyn ExecutionPlan>,
    switch: Arc<InterruptSwitch>,
    generation: u64,
}

impl DisplayAs for Interruptible {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interruptible")
    }
}

impl ExecutionPlan for Interruptible {
    fn name(&self) -> &str {
        "Interruptible"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(format!(
                "Interruptible takes one child, not {}",
                children.len()
            )));
        }
        Ok(Arc::new(Interruptible {
            input: children.swap_remove(0),
            switch: self.switch.clone(),
            generation: self.generation,
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if self.switch.generation() != self.generation {
            return Err(DataFusionError::External(Box::new(Interrupted)));
        }
        let inner = self.input.execute(partition, context)?;
        Ok(Box::pin(InterruptibleStream {
            inner,
            switch: self.switch.clone(),
            generation: self.generation,
            done: false,
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.input.metrics()
    }

    fn partition_statistics(&self, partition: Option<usize>) -> Result<Statistics> {
        self.input.partition_statistics(partition)
    }
}

struct InterruptibleStream {
    inner: SendableRecordBatchStream,
    switch: Arc<InterruptSwitch>,
    generation: u64,
    done: bool,
}

impl Stream for InterruptibleStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.switch.generation() != self.generation {
            self.done = true;
            return Poll::Ready(Some(Err(DataFusionError::External(Box::new(Interrupted)))));
        }
        self.inner.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl RecordBatchStream for InterruptibleStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::session_state::SessionStateBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use std::time::{Duration, Instant};

    fn session(switch: &Arc<InterruptSwitch>, partitions: usize) -> SessionContext {
        let state = SessionStateBuilder::new()
            .with_config(SessionConfig::new().with_target_partitions(partitions))
            .with_default_features()
            .with_query_planner(Arc::new(InterruptiblePlanner::new(switch.clone())))
            .build();
        SessionContext::new_with_state(state)
    }

    /// A cross join that runs for minutes and never awaits: it stops within a second of the
    /// interrupt, on one thread (what CPU_LIMIT=1 gives) and on two.
    #[test]
    fn a_cpu_bound_cross_join_stops_at_the_next_batch() {
        for threads in [1, 2] {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()
                .unwrap();
            let switch = Arc::new(InterruptSwitch::default());
            let ctx = session(&switch, threads);
            let sql =
                "SELECT sum(a.value * b.value) FROM range(300000) a CROSS JOIN range(300000) b";
            let task = rt.spawn(async move { ctx.sql(sql).await?.collect().await });
            std::thread::sleep(Duration::from_millis(500));
            assert!(!task.is_finished(), "the query should still run");
            let asked = Instant::now();
            switch.interrupt();
            let outcome = rt.block_on(task).unwrap();
            let took = asked.elapsed();
            let err = outcome.expect_err("an interrupted query fails");
            assert!(is_interrupted(&err), "not an interrupt: {err}");
            assert!(
                took < Duration::from_secs(1),
                "{threads} thread(s): stopped after {took:?}"
            );
            rt.shutdown_background();
        }
    }

    /// A plan planned after the interrupt runs as usual, and the wrappers change no result
    /// nor what EXPLAIN prints.
    #[tokio::test]
    async fn plans_after_the_interrupt_run_and_explain_is_unchanged() {
        let switch = Arc::new(InterruptSwitch::default());
        let ctx = session(&switch, 2);
        switch.interrupt();
        let sql = "SELECT count(*) AS n, sum(value) AS s FROM range(100000) WHERE value % 3 = 0";
        let ours = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let plain = SessionContext::new()
            .sql(sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(ours, plain);
        let explain = |c: SessionContext| async move {
            let b = c
                .sql(&format!("EXPLAIN {sql}"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            datafusion::arrow::util::pretty::pretty_format_batches(&b)
                .unwrap()
                .to_string()
        };
        let plain_ctx =
            SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        assert_eq!(explain(ctx).await, explain(plain_ctx).await);
    }

    /// The wrapper is found through DataFusion's and Arrow's wrapping errors.
    #[test]
    fn interrupted_is_found_inside_wrapping_errors() {
        let e = DataFusionError::Context(
            "joining".into(),
            Box::new(DataFusionError::Shared(Arc::new(
                DataFusionError::ArrowError(
                    Box::new(datafusion::arrow::error::ArrowError::ExternalError(
                        Box::new(DataFusionError::External(Box::new(Interrupted))),
                    )),
                    None,
                ),
            ))),
        );
        assert!(is_interrupted(&e));
        assert!(!is_interrupted(&DataFusionError::Execution("other".into())));
    }
}

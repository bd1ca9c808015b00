//! The statement pool: every statement is planned and executed here, off the threads
//! that handle connections, so one session's heavy statement never stalls another
//! session's messages.
//!
//! ```text
//!  connection task ──run(prepare/execute)──▶ pool worker ──▶ Output
//!        ▲                                        │ rows
//!        └───────── channel (2 batches) ◀── producer task on the pool
//! ```
//!
//! The pool is a tokio runtime with a fixed number of workers ([`default_workers`]),
//! each with a 16 MiB stack (planning recurses once per level of nesting; the limits
//! in `sql::complexity` are sized for it). A statement told to stop (cancel request,
//! `statement_timeout`) is answered at once with `57014`; work that cannot notice
//! (planning is not interruptible) finishes in the background and its result is
//! dropped, holding one worker meanwhile. Each session has one slot on the pool
//! (`RunningStatement::session_slot`), held by its work until the work ends, abandoned
//! or not: a session's next statement waits for it (its own timeout still applies),
//! so no session holds more than one worker and the others always find one free
//! while fewer sessions than workers are busy.

use std::future::Future;
use std::io;

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use tokio::runtime::Runtime;
use tokio::task::{AbortHandle, JoinHandle};

use crate::error::{Result, SluiceError};
use crate::sql::backends::RunningStatement;

/// Stack of each pool worker (reserved address space, touched as deep as used).
const WORKER_STACK_BYTES: usize = 16 << 20;

/// Rows produced ahead of the client, in batches.
const ROWS_AHEAD: usize = 2;

/// Four per core, and at least 8: a session holds at most one worker for its own
/// work, but DataFusion spreads a query's execution over tasks of its own (one per
/// partition), so a few heavy statements must still leave workers for everyone else.
pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (4 * cores).max(8)
}

/// Runs statements on a fixed set of worker threads.
#[derive(Debug)]
pub struct StatementPool {
    runtime: Option<Runtime>,
}

impl StatementPool {
    /// A pool of `workers` threads.
    pub fn new(workers: usize) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("sluice-statement")
            .thread_stack_size(WORKER_STACK_BYTES)
            .enable_all()
            .build()?;
        Ok(StatementPool {
            runtime: Some(runtime),
        })
    }

    fn runtime(&self) -> Result<&Runtime> {
        self.runtime
            .as_ref()
            .ok_or_else(|| SluiceError::Internal("the statement pool has shut down".into()))
    }

    /// Runs `work` on the pool and waits for it, or until `statement` is told to stop
    /// (then `57014` at once; `work` is aborted at its next await point).
    ///
    /// Only for work that may be abandoned at any await point: planning and reads.
    /// Writes go through [`StatementPool::run_to_completion`].
    pub async fn run<T: Send + 'static>(
        &self,
        statement: &RunningStatement,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let interrupt = statement.interrupt();
        let task = self.spawn_in_session_slot(statement, work).await?;
        let _abort = AbortOnDrop(task.abort_handle());
        tokio::select! {
            biased;
            joined = task => joined.map_err(task_failed)?,
            _ = interrupt.interrupted() => Err(interrupt.error()),
        }
    }

    /// Runs `work` on the pool and waits for it to finish, whatever happens to the
    /// wait: a write honours its statement's interrupt itself, only where stopping
    /// leaves nothing half done (see `sql::interrupt`).
    pub async fn run_to_completion<T: Send + 'static>(
        &self,
        statement: &RunningStatement,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let task = self.spawn_in_session_slot(statement, work).await?;
        task.await.map_err(task_failed)?
    }

    /// Waits for the session's slot (or until `statement` is told to stop), then
    /// spawns `work` holding it until `work` ends.
    async fn spawn_in_session_slot<T: Send + 'static>(
        &self,
        statement: &RunningStatement,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<JoinHandle<Result<T>>> {
        let slot = statement.session_slot();
        let permit = statement
            .interrupt()
            .run(async { slot.acquire_owned().await.map_err(closed) })
            .await?;
        Ok(self.runtime()?.spawn(async move {
            let _permit = permit;
            work.await
        }))
    }

    /// Produces `rows` on the pool, at most [`ROWS_AHEAD`] batches ahead of the
    /// client, ending with `57014` if `statement` is told to stop. The statement stays
    /// running (cancellable, timed) until its last row is handed over.
    pub fn stream_rows(
        &self,
        mut rows: SendableRecordBatchStream,
        statement: RunningStatement,
    ) -> Result<SendableRecordBatchStream> {
        let schema = rows.schema();
        let (sender, receiver) = tokio::sync::mpsc::channel::<
            std::result::Result<RecordBatch, DataFusionError>,
        >(ROWS_AHEAD);
        let producer = self.runtime()?.spawn(async move {
            let interrupt = statement.interrupt().clone();
            loop {
                let next = tokio::select! {
                    biased;
                    _ = interrupt.interrupted() => {
                        Some(Err(DataFusionError::External(Box::new(interrupt.error()))))
                    }
                    next = rows.next() => next,
                };
                let Some(next) = next else { break };
                let last = next.is_err();
                if sender.send(next).await.is_err() || last {
                    break;
                }
            }
            drop(statement);
        });
        // A client that stops reading (it left, or the portal closed) stops the producer.
        let abort = AbortOnDrop(producer.abort_handle());
        let batches = futures::stream::unfold((receiver, abort), |(mut receiver, abort)| async {
            let next = receiver.recv().await?;
            Some((next, (receiver, abort)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }
}

impl Drop for StatementPool {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its workers stop, which is not allowed on an
        // async thread (the server's handlers are dropped on one in tests).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Aborts a task when dropped.
#[derive(Debug)]
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn closed(error: tokio::sync::AcquireError) -> SluiceError {
    SluiceError::Internal(format!("a session's statement slot closed: {error}"))
}

fn task_failed(error: tokio::task::JoinError) -> SluiceError {
    SluiceError::Internal(format!("statement task failed: {error}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::error::sqlstate;
    use crate::sql::backends::Backends;

    fn batch(value: i64) -> RecordBatch {
        let schema = Schema::new(vec![Field::new("v", DataType::Int64, false)]);
        RecordBatch::try_new(
            std::sync::Arc::new(schema),
            vec![std::sync::Arc::new(Int64Array::from(vec![value]))],
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_stopped_statement_is_answered_at_once_while_its_work_would_go_on() {
        let pool = StatementPool::new(2).unwrap();
        let backends = Backends::new();
        let session = backends.register(vec![1]);
        let statement = session.start_statement(Some(Duration::from_millis(50)));
        let started = std::time::Instant::now();
        let forever = async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        };
        let error = pool.run(&statement, forever).await.unwrap_err();
        assert_eq!(error.sqlstate(), sqlstate::QUERY_CANCELED);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            pool.run(&session.start_statement(None), async { Ok(5) })
                .await
                .unwrap(),
            5
        );
    }

    #[tokio::test]
    async fn rows_stream_through_and_a_cancel_ends_the_stream_with_57014() {
        let pool = StatementPool::new(2).unwrap();
        let backends = Backends::new();
        let session = backends.register(vec![1]);
        let schema = batch(0).schema();
        let endless = futures::stream::unfold(0, |n| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Some((Ok(batch(n)), n + 1))
        });
        let rows = Box::pin(RecordBatchStreamAdapter::new(schema, endless));
        let statement = session.start_statement(None);
        let mut stream = pool.stream_rows(rows, statement).unwrap();
        for expected in 0..3 {
            let got = stream.next().await.unwrap().unwrap();
            assert_eq!(got, batch(expected));
        }
        assert!(backends.cancel(session.pid()));
        let mut ended_with = None;
        while let Some(next) = stream.next().await {
            if let Err(e) = next {
                ended_with = Some(SluiceError::from(e));
                break;
            }
        }
        let error = ended_with.expect("the stream ended without an error");
        assert_eq!(error.sqlstate(), sqlstate::QUERY_CANCELED);
        assert!(stream.next().await.is_none());
    }
}

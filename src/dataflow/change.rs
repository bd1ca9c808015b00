//! [`ChangeBatch`]: the unit of change that flows between Sluice's components.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, RecordBatchOptions,
};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};

use crate::error::{Result, SluiceError};

/// Name of the weight column when a change batch is stored as one Arrow batch
/// (write-ahead log records, tests).
pub const WEIGHT_COLUMN: &str = "__weight";

/// A set of row changes: `data` holds the rows, `weights[i]` says how many copies of
/// row `i` are added (positive) or removed (negative).
///
/// Invariants, checked by [`ChangeBatch::try_new`]:
/// - `weights.len() == data.num_rows()`, and `weights` has no nulls;
/// - no weight is zero (a zero-weight row carries no information and is dropped);
/// - a negative weight removes rows that existed *before* this batch, so a consumer
///   may apply removals before insertions.
///
/// An `UPDATE` of one row is a removal of the old row (−1) and an insertion of the
/// new one (+1) in the same batch. Inserts from append-only sources have weight +1.
#[derive(Debug, Clone)]
pub struct ChangeBatch {
    data: RecordBatch,
    weights: Arc<Int64Array>,
}

impl ChangeBatch {
    /// Builds a change batch, checking the invariants above.
    pub fn try_new(data: RecordBatch, weights: Int64Array) -> Result<Self> {
        if weights.len() != data.num_rows() {
            return Err(SluiceError::Internal(format!(
                "change batch has {} rows but {} weights",
                data.num_rows(),
                weights.len()
            )));
        }
        if weights.null_count() > 0 {
            return Err(SluiceError::Internal("change batch weight is null".into()));
        }
        let (data, weights) = if weights.values().contains(&0) {
            let keep = datafusion::arrow::compute::kernels::cmp::neq(
                &weights,
                &Int64Array::new_scalar(0),
            )?;
            let data = filter_record_batch(&data, &keep)?;
            let weights = datafusion::arrow::compute::filter(&weights, &keep)?;
            (data, weights.as_primitive::<Int64Type>().clone())
        } else {
            (data, weights)
        };
        Ok(ChangeBatch {
            data,
            weights: Arc::new(weights),
        })
    }

    /// Every row of `data` inserted once.
    pub fn inserts(data: RecordBatch) -> Self {
        let weights = Int64Array::from(vec![1i64; data.num_rows()]);
        ChangeBatch {
            data,
            weights: Arc::new(weights),
        }
    }

    /// Every row of `removed` deleted once, then every row of `added` inserted once.
    pub fn replace(removed: &RecordBatch, added: &RecordBatch) -> Result<Self> {
        let data = concat_batches(&removed.schema(), [removed, added])?;
        let mut weights = vec![-1i64; removed.num_rows()];
        weights.resize(removed.num_rows() + added.num_rows(), 1);
        Self::try_new(data, Int64Array::from(weights))
    }

    /// The changed rows.
    pub fn data(&self) -> &RecordBatch {
        &self.data
    }

    /// The weight of each row of [`ChangeBatch::data`].
    pub fn weights(&self) -> &Int64Array {
        &self.weights
    }

    /// The schema of the changed rows.
    pub fn schema(&self) -> SchemaRef {
        self.data.schema()
    }

    /// `length` rows from `offset`, sharing this batch's buffers.
    pub fn slice(&self, offset: usize, length: usize) -> ChangeBatch {
        ChangeBatch {
            data: self.data.slice(offset, length),
            weights: Arc::new(self.weights.slice(offset, length)),
        }
    }

    /// Number of rows in the batch (not the sum of weights).
    pub fn num_rows(&self) -> usize {
        self.data.num_rows()
    }

    /// True when the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.data.num_rows() == 0
    }

    /// The rows with positive weight (insertions) and negative weight (removals).
    pub fn split(&self) -> Result<(RecordBatch, RecordBatch)> {
        use datafusion::arrow::compute::kernels::cmp::{gt, lt};
        let zero = Int64Array::new_scalar(0);
        let added = filter_record_batch(&self.data, &gt(self.weights.as_ref(), &zero)?)?;
        let removed = filter_record_batch(&self.data, &lt(self.weights.as_ref(), &zero)?)?;
        Ok((added, removed))
    }

    /// The batch as one Arrow batch whose last column is [`WEIGHT_COLUMN`].
    pub fn to_weighted_batch(&self) -> Result<RecordBatch> {
        let schema = weighted_schema(&self.data.schema());
        let mut columns = self.data.columns().to_vec();
        columns.push(self.weights.clone());
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// The inverse of [`ChangeBatch::to_weighted_batch`].
    pub fn from_weighted_batch(batch: &RecordBatch) -> Result<Self> {
        let last = batch
            .num_columns()
            .checked_sub(1)
            .filter(|&i| batch.schema().field(i).name() == WEIGHT_COLUMN)
            .ok_or_else(|| SluiceError::Internal("batch has no weight column".into()))?;
        let weights = batch
            .column(last)
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| SluiceError::Internal("weight column is not BIGINT".into()))?
            .clone();
        let mut data = batch.clone();
        data.remove_column(last);
        Self::try_new(data, weights)
    }
}

/// `schema` with every field nullable: the shape a batch is first built in when some
/// of its values may still violate NOT NULL (checked, and reported, afterwards).
pub fn nullable(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// `columns` (`rows` rows) as a batch in `schema`, or in its [`nullable`] form when a
/// column holds NULLs the schema does not allow (values read back from state, or a
/// NOT NULL violation still to be reported).
pub fn batch_in(schema: &SchemaRef, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    match RecordBatch::try_new_with_options(schema.clone(), columns.clone(), &options) {
        Ok(batch) => Ok(batch),
        Err(_) => Ok(RecordBatch::try_new_with_options(
            nullable(schema),
            columns,
            &options,
        )?),
    }
}

/// The Arrow row codec of rows made of `fields`: the encoding that row keys, and so
/// every spine of the state layer, are built from.
pub fn row_codec(fields: &[FieldRef]) -> Result<RowConverter> {
    let fields = fields
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    Ok(RowConverter::new(fields)?)
}

/// `schema` plus a trailing non-null `BIGINT` weight column.
pub fn weighted_schema(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(WEIGHT_COLUMN, DataType::Int64, false));
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// A change as a subscriber receives it: the epoch it was committed at (see
/// [`super::Sequencer`]) and which of the subscriber's inputs it belongs to.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Global commit order of the change.
    pub epoch: u64,
    /// The subscriber's own number for the input that changed.
    pub input: usize,
    /// The change itself.
    pub batch: ChangeBatch,
    /// For rows a source reader sent: what they count in the reader's [`Backlog`]
    /// until the view has processed them (dropped).
    pub credit: Option<Arc<Credit>>,
}

/// The rows a source reader has sent a view that the view has not processed yet.
/// The reader waits while they are more than its bound ([`Backlog::wait_below`]), so
/// a slow view slows its reader (Kafka stays unread) and holds a bounded inbox,
/// while table writes are never held up.
#[derive(Debug, Default)]
pub struct Backlog {
    rows: std::sync::Mutex<usize>,
    drained: std::sync::Condvar,
}

impl Backlog {
    /// Counts `rows` more until the returned credit is dropped.
    pub fn credit(self: &Arc<Self>, rows: usize) -> Arc<Credit> {
        *self.lock() += rows;
        Arc::new(Credit {
            backlog: self.clone(),
            rows,
        })
    }

    /// Waits until at most `limit` rows are unprocessed, or `give_up` says so
    /// (checked at least every 50 ms).
    ///
    /// `give_up` is called without the count's lock held: it may take other locks
    /// (the source's feeds), whose holders may in turn read this count — holding
    /// both in opposite orders deadlocked a reader, its view and a status query.
    pub fn wait_below(&self, limit: usize, give_up: impl Fn() -> bool) {
        loop {
            {
                let rows = self.lock();
                if *rows <= limit {
                    return;
                }
                // The guard comes back and is dropped here, poisoned or not.
                let _ = self
                    .drained
                    .wait_timeout(rows, std::time::Duration::from_millis(50));
            }
            if give_up() {
                return;
            }
        }
    }

    /// Rows sent and not processed.
    pub fn rows(&self) -> usize {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        // A count stays a count even if a holder panicked.
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Rows of a [`Backlog`], counted until this is dropped.
#[derive(Debug)]
pub struct Credit {
    backlog: Arc<Backlog>,
    rows: usize,
}

impl Drop for Credit {
    fn drop(&mut self) {
        *self.backlog.lock() -= self.rows;
        self.backlog.drained.notify_all();
    }
}

/// What a subscriber's inbox carries.
#[derive(Debug)]
pub enum Message {
    /// A change of one of the subscriber's inputs.
    Change(Delivery),
    /// Input `input`'s watermark advanced to `micros` (µs since the epoch): no row
    /// with an earlier event time is expected from it.
    Watermark {
        /// The subscriber's number for the input.
        input: usize,
        /// The new watermark.
        micros: i64,
    },
    /// A flush marker: answer once every message before it is processed.
    Flush(tokio::sync::oneshot::Sender<()>),
    /// A checkpoint barrier from the coordinator (see [`super::barrier`]).
    Barrier(super::barrier::Barrier),
    /// The view read as input `input` has passed barrier `id`: what it sends after
    /// this comes after the barrier.
    BarrierFrom {
        /// The barrier.
        id: u64,
        /// The subscriber's number for the view.
        input: usize,
    },
    /// Source input `input` has delivered everything up to `position` (sent right
    /// after its rows, under the sequencer's lock).
    SourcePosition {
        /// The subscriber's number for the source.
        input: usize,
        /// Where the reader is.
        position: super::barrier::SourcePosition,
    },
    /// The clock advanced to `micros` (µs since the epoch): views whose operators
    /// read the clock (temporal filters) move them to it.
    Tick {
        /// The wall clock when the tick was sent.
        micros: i64,
    },
    /// Stop processing (the subscriber is being dropped).
    Stop,
}

impl Message {
    /// The input a change, a watermark or a position belongs to.
    pub fn input(&self) -> Option<usize> {
        match self {
            Message::Change(delivery) => Some(delivery.input),
            Message::Watermark { input, .. }
            | Message::SourcePosition { input, .. }
            | Message::BarrierFrom { input, .. } => Some(*input),
            Message::Flush(_) | Message::Barrier(_) | Message::Tick { .. } | Message::Stop => None,
        }
    }
}

/// The sending half of a change subscription. Unbounded on purpose: a table write must
/// never block on, or silently drop changes for, a slow subscriber.
pub type ChangeSender = tokio::sync::mpsc::UnboundedSender<Message>;
/// The receiving half of a change subscription.
pub type ChangeReceiver = tokio::sync::mpsc::UnboundedReceiver<Message>;

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Int32Array};

    fn batch(values: &[i32]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int32, true)]));
        let column: ArrayRef = Arc::new(Int32Array::from(values.to_vec()));
        RecordBatch::try_new(schema, vec![column]).unwrap()
    }

    #[test]
    fn a_backlog_waits_for_credits_and_asks_to_give_up_without_its_lock() {
        let backlog = Arc::new(Backlog::default());
        let credit = backlog.credit(10);
        let (done, finished) = std::sync::mpsc::channel();
        let waiting = backlog.clone();
        std::thread::spawn(move || {
            // `give_up` reads the count, as a status query holding the feeds' lock
            // does: with the count's lock held by the waiter, this deadlocked.
            waiting.wait_below(5, || waiting.rows() == usize::MAX);
            let _ = done.send(());
        });
        assert!(
            finished
                .recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "ten rows are more than five: the reader waits"
        );
        // Returned from another thread: were the waiter to hold the count's lock,
        // this would block, and the wait below fails rather than hangs.
        std::thread::spawn(move || drop(credit));
        finished
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the wait ends once the credit is returned");
    }

    #[test]
    fn zero_weights_are_dropped() {
        let change =
            ChangeBatch::try_new(batch(&[1, 2, 3]), Int64Array::from(vec![1, 0, -1])).unwrap();
        assert_eq!(change.num_rows(), 2);
        assert_eq!(change.weights().values().as_ref(), &[1, -1]);
    }

    #[test]
    fn mismatched_lengths_are_rejected() {
        assert!(ChangeBatch::try_new(batch(&[1, 2]), Int64Array::from(vec![1])).is_err());
    }

    #[test]
    fn replace_puts_removals_first() {
        let change = ChangeBatch::replace(&batch(&[1]), &batch(&[2, 3])).unwrap();
        assert_eq!(change.weights().values().as_ref(), &[-1, 1, 1]);
        let (added, removed) = change.split().unwrap();
        assert_eq!(added.num_rows(), 2);
        assert_eq!(removed.num_rows(), 1);
    }

    #[test]
    fn weighted_batch_round_trips() {
        let change = ChangeBatch::try_new(batch(&[7, 8]), Int64Array::from(vec![2, -1])).unwrap();
        let stored = change.to_weighted_batch().unwrap();
        assert_eq!(stored.num_columns(), 2);
        let back = ChangeBatch::from_weighted_batch(&stored).unwrap();
        assert_eq!(back.data(), change.data());
        assert_eq!(back.weights(), change.weights());
    }
}

//! The [`Operator`] trait every incremental operator implements, and the shared
//! pieces they use: expression evaluation over change batches and the per-row error
//! log.
//!
//! An operator turns an input [`ChangeBatch`] into an output [`ChangeBatch`] such that
//! `op(a + b) = op(a) + op(b)` over Z-sets: feeding changes one batch at a time gives
//! the same result as running the query on the accumulated input.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::exchange::Partitioning;
use super::state::Spine;
use crate::error::{Result, SluiceError};

/// One incremental operator over one or more inputs (a join has two).
pub trait Operator: Send + Debug {
    /// Applies one change of input number `input` (0 for one-input operators) and
    /// returns the resulting output change. Rows whose expressions fail are not
    /// passed on but recorded in `errors` with their weight.
    fn process(
        &mut self,
        input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch>;

    /// A one-line description for `EXPLAIN CREATE MATERIALIZED VIEW`.
    fn describe(&self) -> String;

    /// How input `input` is spread over a view's workers (see [`super::workers`]):
    /// rows that meet in the operator's state must meet on one worker. By default
    /// all rows go to one worker.
    fn partitioning(&self, _input: usize) -> Partitioning {
        Partitioning::Single
    }

    /// Output produced before any input arrives (an aggregate without GROUP BY
    /// answers one row even over no input). Called once, when the view starts.
    fn initial_output(&mut self) -> Result<Option<ChangeBatch>> {
        Ok(None)
    }

    /// Bytes of state held (for system relations and benchmarks); 0 when stateless.
    fn state_size(&self) -> usize {
        0
    }

    /// Forgets the state of groups closed by the view's watermark `watermark` (µs;
    /// see [`super::watermark`]): they take no more changes (rows for them are late
    /// and dropped), so forgetting them cannot change what the view shows.
    fn evict_closed(&mut self, _watermark: i64) -> Result<()> {
        Ok(())
    }

    /// Moves the operator to the view's watermark `watermark` (µs) and returns the
    /// rows that releases: rows emitted once the watermark has passed them
    /// (`EMIT ON WINDOW CLOSE` over window functions). Called on every advance, before
    /// [`Operator::evict_closed`].
    fn advance_watermark(&mut self, _watermark: i64) -> Result<Option<ChangeBatch>> {
        Ok(None)
    }

    /// True when the operator's output moves with the clock (a temporal filter):
    /// the view then ticks it ([`Operator::advance_clock`]).
    fn reads_clock(&self) -> bool {
        false
    }

    /// Moves the operator's clock to `now` (µs since the epoch; never backwards) and
    /// returns the change that makes: rows whose time came or passed.
    fn advance_clock(&mut self, _now: i64) -> Result<Option<ChangeBatch>> {
        Ok(None)
    }

    /// Input rows this operator dropped as late, for groups already closed by the
    /// watermark (counted in `sluice_catalog.view_status.late_rows`).
    fn late_rows(&self) -> u64 {
        0
    }

    /// Everything the operator remembers between changes, as spines, each under a
    /// name unique within the operator: what a checkpoint writes and a restore
    /// replaces (see [`super::state`]). Whatever else an operator keeps is derived
    /// from these, and made consistent with them again by [`Operator::restored`].
    fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        Vec::new()
    }

    /// Called after [`Operator::spines`] were replaced by a checkpoint's: the
    /// operator drops what it derived from the old ones.
    fn restored(&mut self) {}
}

/// Rows whose evaluation failed, as a Z-set over error messages: a failing row
/// inserted adds 1, the same row deleted takes it away again. A view whose log is
/// not empty answers queries with the first error, like Postgres would have failed
/// the statement that introduced the row (Materialize behaves the same way).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ErrorLog {
    counts: BTreeMap<(&'static str, String), i64>,
}

impl ErrorLog {
    /// Adds `weight` occurrences of `error`.
    pub fn record(&mut self, error: &SluiceError, weight: i64) {
        let key = (error.sqlstate(), error.to_string());
        let count = self.counts.entry(key.clone()).or_default();
        *count += weight;
        if *count == 0 {
            self.counts.remove(&key);
        }
    }

    /// Merges another log into this one.
    pub fn absorb(&mut self, other: ErrorLog) {
        for ((code, message), weight) in other.counts {
            let count = self.counts.entry((code, message.clone())).or_default();
            *count += weight;
            if *count == 0 {
                self.counts.remove(&(code, message));
            }
        }
    }

    /// The first standing error, if any.
    pub fn first(&self) -> Option<SluiceError> {
        self.counts
            .iter()
            .find(|(_, count)| **count != 0)
            .map(|((code, message), _)| SluiceError::coded(code, message.clone()))
    }

    /// True when no error stands.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The standing errors as `(SQLSTATE, message, count)`, for a checkpoint.
    pub fn entries(&self) -> Vec<(String, String, i64)> {
        self.counts
            .iter()
            .map(|((code, message), count)| (code.to_string(), message.clone(), *count))
            .collect()
    }

    /// The log [`ErrorLog::entries`] gave. An unknown SQLSTATE (written by another
    /// version) is refused rather than reported under a wrong code.
    pub fn from_entries(entries: &[(String, String, i64)]) -> Result<ErrorLog> {
        let mut log = ErrorLog::default();
        for (code, message, count) in entries {
            let code = crate::error::sqlstate::known(code).ok_or_else(|| {
                SluiceError::Internal(format!("a checkpoint holds an unknown SQLSTATE {code}"))
            })?;
            log.counts.insert((code, message.clone()), *count);
        }
        Ok(log)
    }
}

/// Evaluates `exprs` over `batch`, one array per expression.
pub fn evaluate(exprs: &[Arc<dyn PhysicalExpr>], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    exprs
        .iter()
        .map(|e| Ok(e.evaluate(batch)?.into_array(batch.num_rows())?))
        .collect()
}

/// Evaluates `exprs` over the change's rows. When the batch fails as a whole, rows
/// are evaluated one by one: the failing ones are recorded in `errors` and left out.
/// Returns the surviving change and its evaluated columns.
pub fn evaluate_rows(
    exprs: &[Arc<dyn PhysicalExpr>],
    change: &ChangeBatch,
    errors: &mut ErrorLog,
) -> Result<(ChangeBatch, Vec<ArrayRef>)> {
    let (_, survivors, columns) = evaluate_rows_masked(exprs, change, errors)?;
    Ok((survivors, columns))
}

/// [`evaluate_rows`], also saying which of the change's rows survived: `None` when
/// all did.
pub fn evaluate_rows_masked(
    exprs: &[Arc<dyn PhysicalExpr>],
    change: &ChangeBatch,
    errors: &mut ErrorLog,
) -> Result<(Option<BooleanArray>, ChangeBatch, Vec<ArrayRef>)> {
    match evaluate(exprs, change.data()) {
        Ok(columns) => Ok((None, change.clone(), columns)),
        Err(_) => {
            let mut keep = Vec::with_capacity(change.num_rows());
            for row in 0..change.num_rows() {
                let one = change.data().slice(row, 1);
                match evaluate(exprs, &one) {
                    Ok(_) => keep.push(true),
                    Err(e) => {
                        errors.record(&e, change.weights().value(row));
                        keep.push(false);
                    }
                }
            }
            let mask = BooleanArray::from(keep);
            let survivors = filter_change(change, &mask)?;
            let columns = evaluate(exprs, survivors.data())?;
            Ok((Some(mask), survivors, columns))
        }
    }
}

/// `columns` with every float `-0.0` turned into `0.0`, so values SQL calls equal also
/// encode equal (grouping keys, DISTINCT, arrangement keys).
pub fn canonical_floats(columns: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    use datafusion::arrow::compute::kernels::numeric::add;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::scalar::ScalarValue;
    columns
        .iter()
        .map(|c| {
            // IEEE 754: -0.0 + 0.0 = +0.0, and every other value is unchanged.
            let zero = match c.data_type() {
                DataType::Float32 => ScalarValue::Float32(Some(0.0)),
                DataType::Float64 => ScalarValue::Float64(Some(0.0)),
                _ => return Ok(c.clone()),
            };
            Ok(add(c, &zero.to_scalar()?)?)
        })
        .collect()
}

/// The rows of `change` where `mask` is true (NULL counts as false).
pub fn filter_change(change: &ChangeBatch, mask: &BooleanArray) -> Result<ChangeBatch> {
    use datafusion::arrow::compute::{filter, filter_record_batch, prep_null_mask_filter};
    let mask = if mask.null_count() > 0 {
        prep_null_mask_filter(mask)
    } else {
        mask.clone()
    };
    let data = filter_record_batch(change.data(), &mask)?;
    let weights = filter(change.weights(), &mask)?;
    let weights = weights
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .ok_or_else(|| SluiceError::Internal("weights are not BIGINT".into()))?
        .clone();
    ChangeBatch::try_new(data, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_log_cancels_out() {
        let mut log = ErrorLog::default();
        let e = SluiceError::coded("22012", "division by zero");
        log.record(&e, 1);
        assert_eq!(log.first().map(|e| e.sqlstate()), Some("22012"));
        log.record(&e, -1);
        assert!(log.is_empty());
    }
}

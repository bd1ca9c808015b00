//! Closing a view's output by the watermark. [`InputWatermarks`] tracks a view's
//! watermark — the minimum of its inputs' watermarks — and [`WindowCloser`] applies it
//! to the view's output rows by their watermarked columns (see [`super::watermark`]):
//!
//! ```text
//!   operator output ──▶ closed (a watermarked column below its watermark)?
//!                         yes: late, dropped and counted
//!                         no:  Release::Immediately: to the view now
//!                              Release::OnClose: pending
//!   watermark advances ──▶ pending rows that are now closed ──▶ the view
//! ```
//!
//! `Release::OnClose` is `EMIT ON WINDOW CLOSE`: a window's row is released once, when
//! it closes, and never changes after. `Release::Immediately` is the continuous mode
//! of a view over watermarked sources: a window's row changes as rows arrive until the
//! window closes, and is final after. Either way a closed window takes no more
//! changes, so the operators may forget its state (`Operator::evict_closed`).
//!
//! The rows held back live in a [`Spine`], indexed once per closing column:
//! `column number (u16, big-endian) ++ the row's value in it ++ row`, weighted by the
//! row's pending weight (values in [`sortable_i64`], so each column's entries are in
//! the order the watermark closes them). A row with NULL in a column has no entry
//! for it.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::{filter, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::RowConverter;

use super::ChangeBatch;
use super::change::row_codec;
use super::state::{Spine, SpineDelta, sortable_i64};
use super::watermark::Closing;
use crate::error::{Result, SluiceError};

/// A view's watermark: the minimum over its inputs' watermarks, once every input has
/// sent one; it never moves backwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputWatermarks {
    inputs: Vec<Option<i64>>,
    current: Option<i64>,
}

impl InputWatermarks {
    /// Tracking for a view with `inputs` inputs, each of which sends watermarks.
    pub fn new(inputs: usize) -> Self {
        InputWatermarks {
            inputs: vec![None; inputs],
            current: None,
        }
    }

    /// The view's watermark (µs since the epoch), once every input has one.
    pub fn current(&self) -> Option<i64> {
        self.current
    }

    /// Each input's watermark (µs), `None` for an input that has sent none.
    pub fn inputs(&self) -> &[Option<i64>] {
        &self.inputs
    }

    /// The tracking [`InputWatermarks::inputs`] gave.
    pub fn restore(inputs: Vec<Option<i64>>) -> Self {
        let current = if inputs.iter().all(Option::is_some) {
            inputs.iter().copied().min().flatten()
        } else {
            None
        };
        InputWatermarks { inputs, current }
    }

    /// Records input `input`'s watermark; returns the view's watermark when it
    /// advanced.
    pub fn advance(&mut self, input: usize, watermark: i64) -> Result<Option<i64>> {
        let slot = self
            .inputs
            .get_mut(input)
            .ok_or_else(|| SluiceError::Internal(format!("watermark for unknown input {input}")))?;
        *slot = Some(slot.map_or(watermark, |w| w.max(watermark)));
        let Some(view) = self.inputs.iter().copied().min().flatten() else {
            return Ok(None);
        };
        if self.inputs.iter().any(Option::is_none) || self.current.is_some_and(|w| view <= w) {
            return Ok(None);
        }
        self.current = Some(view);
        Ok(Some(view))
    }
}

/// When a window's rows reach the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// As they change, until the window closes (continuous results).
    Immediately,
    /// Once, when the window closes (`EMIT ON WINDOW CLOSE`).
    OnClose,
}

/// Drops late rows and, for `EMIT ON WINDOW CLOSE`, holds rows back until their
/// window closes. See the module docs.
#[derive(Debug)]
pub struct WindowCloser {
    schema: SchemaRef,
    closing: Closing,
    release: Release,
    codec: RowConverter,
    /// `Release::OnClose`: the rows held back, indexed by each closing column (see
    /// the module docs).
    pending: Spine,
    late_rows: u64,
}

impl WindowCloser {
    /// A closer for rows shaped `schema`, closed by `closing`'s columns.
    pub fn try_new(schema: SchemaRef, closing: Closing, release: Release) -> Result<Self> {
        let codec = row_codec(schema.fields())?;
        if closing.columns().count() > usize::from(u16::MAX) {
            return Err(SluiceError::Internal("too many closing columns".into()));
        }
        Ok(WindowCloser {
            schema,
            closing,
            release,
            codec,
            pending: Spine::new(),
            late_rows: 0,
        })
    }

    /// When rows are released.
    pub fn release(&self) -> Release {
        self.release
    }

    /// A one-line description for `EXPLAIN CREATE MATERIALIZED VIEW`.
    pub fn describe(&self) -> String {
        let columns: Vec<&str> = self
            .closing
            .columns()
            .map(|i| self.schema.field(i).name().as_str())
            .collect();
        let mode = match self.release {
            Release::Immediately => "continuous",
            Release::OnClose => "EMIT ON WINDOW CLOSE",
        };
        format!(
            "WindowClose ({mode}): rows close by the watermark of [{}]",
            columns.join(", ")
        )
    }

    /// Rows dropped because their window had already closed.
    pub fn late_rows(&self) -> u64 {
        self.late_rows
    }

    /// Takes in an operator output change: rows of closed windows are late (dropped
    /// and counted). Returns the rows to apply to the view now: the on-time rows with
    /// `Release::Immediately`, none with `Release::OnClose` (they wait).
    pub fn absorb(&mut self, change: &ChangeBatch) -> Result<Option<ChangeBatch>> {
        if change.is_empty() {
            return Ok(None);
        }
        let values = self.closing.values(change.data().columns())?;
        let weights = change.weights().values();
        let on_time: BooleanArray = (0..change.num_rows())
            .map(|row| {
                let late = self.closing.is_closed(&values, row);
                if late {
                    self.late_rows += weights[row].unsigned_abs();
                }
                Some(!late)
            })
            .collect();
        match self.release {
            Release::Immediately => {
                if on_time.true_count() == change.num_rows() {
                    return Ok(Some(change.clone()));
                }
                let data = filter_record_batch(change.data(), &on_time)?;
                let weights = filter(change.weights(), &on_time)?;
                let weights = weights.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                Ok(Some(ChangeBatch::try_new(data, weights.clone())?))
            }
            Release::OnClose => {
                let rows = self.codec.convert_columns(change.data().columns())?;
                let mut held = SpineDelta::default();
                for (row, weight) in weights.iter().enumerate() {
                    if on_time.value(row) {
                        index_row(&mut held, &values, row, rows.row(row).data(), *weight);
                    }
                }
                held.apply_to(&mut self.pending)?;
                Ok(None)
            }
        }
    }

    /// Moves the view's watermark to `watermark`; returns the held rows that it
    /// closed (`Release::OnClose`).
    pub fn close(&mut self, watermark: i64) -> Result<Option<ChangeBatch>> {
        if !self.closing.advance(watermark)? {
            return Ok(None);
        }
        // The rows some column closes (a row closed by two columns is found twice).
        let mut closed: BTreeMap<&[u8], i64> = BTreeMap::new();
        for (column, threshold) in self.closing.thresholds().iter().enumerate() {
            let Some(threshold) = threshold else { continue };
            let prefix = (column as u16).to_be_bytes();
            let threshold = sortable_i64(*threshold);
            for (entry, weight) in self.pending.prefix(&prefix) {
                let Some((value, row)) = entry.get(2..).and_then(|e| e.split_at_checked(8)) else {
                    return Err(SluiceError::Internal(
                        "a held row's entry is damaged".into(),
                    ));
                };
                if value >= threshold.as_slice() {
                    break;
                }
                closed.insert(row, weight);
            }
        }
        if closed.is_empty() {
            return Ok(None);
        }
        let parser = self.codec.parser();
        let columns = self
            .codec
            .convert_rows(closed.keys().map(|row| parser.parse(row)))?;
        let weights = Int64Array::from_iter_values(closed.values().copied());
        // Released: they leave every column's index.
        let values = self.closing.values(&columns)?;
        let mut released = SpineDelta::default();
        for (i, (row, weight)) in closed.iter().enumerate() {
            index_row(&mut released, &values, i, row, -weight);
        }
        drop(closed);
        released.apply_to(&mut self.pending)?;
        let data = RecordBatch::try_new(self.schema.clone(), columns)?;
        Ok(Some(ChangeBatch::try_new(data, weights)?))
    }

    /// Bytes held back.
    pub fn size(&self) -> usize {
        self.pending.bytes()
    }

    /// The rows held back, for checkpoints.
    pub fn spine(&mut self) -> &mut Spine {
        &mut self.pending
    }
}

/// Adds `weight` to row number `row` (encoded: `encoded`) in every closing column's
/// index where its value (`values`) is not NULL. A row that no column can close is
/// not windowed data and is not held.
fn index_row(
    delta: &mut SpineDelta,
    values: &[Int64Array],
    row: usize,
    encoded: &[u8],
    weight: i64,
) {
    for (column, values) in values.iter().enumerate() {
        if values.is_valid(row) {
            let column = (column as u16).to_be_bytes();
            delta.push(
                &[&column, &sortable_i64(values.value(row)), encoded],
                weight,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::rows_of;
    use crate::dataflow::watermark::testing::shifted;
    use datafusion::arrow::array::TimestampMicrosecondArray;
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;

    fn change(ends: &[i64], counts: &[i64], weights: &[i64]) -> ChangeBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "window_end",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("n", DataType::Int64, false),
        ]));
        let data = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(TimestampMicrosecondArray::from(ends.to_vec())),
                Arc::new(Int64Array::from(counts.to_vec())),
            ],
        )
        .unwrap();
        ChangeBatch::try_new(data, Int64Array::from(weights.to_vec())).unwrap()
    }

    /// Closing by column 0, a window end: the window `[.., end)` is closed when the
    /// watermark reaches `end`, so the column's watermark is one past the view's.
    fn by_end() -> Closing {
        Closing::new(vec![(0, shifted(1))]).unwrap()
    }

    #[test]
    fn rows_wait_for_their_window_and_late_ones_are_dropped() {
        let first = change(&[10, 20], &[1, 1], &[1, 1]);
        let mut buffer = WindowCloser::try_new(first.schema(), by_end(), Release::OnClose).unwrap();
        let mut watermarks = InputWatermarks::new(2);
        assert!(buffer.absorb(&first).unwrap().is_none());
        // Window 10 is updated before it closes: only the final row comes out.
        buffer
            .absorb(&change(&[10, 10], &[1, 2], &[-1, 1]))
            .unwrap();
        assert_eq!(
            watermarks.advance(0, 15).unwrap(),
            None,
            "input 1 has no watermark yet"
        );
        assert_eq!(watermarks.advance(1, 12).unwrap(), Some(12));
        let out = buffer.close(12).unwrap().unwrap();
        assert_eq!(rows_of(&out), vec!["1970-01-01T00:00:00.000010,2 x1"]);
        // A change to the closed window is late; window 20 is still pending.
        buffer
            .absorb(&change(&[10, 10], &[2, 3], &[-1, 1]))
            .unwrap();
        assert_eq!(buffer.late_rows(), 2);
        assert_eq!(watermarks.advance(1, 14).unwrap(), Some(14));
        assert!(buffer.close(14).unwrap().is_none());
        assert_eq!(
            watermarks.advance(0, 25).unwrap(),
            None,
            "input 1 still holds the watermark at 14"
        );
        assert_eq!(watermarks.advance(1, 30).unwrap(), Some(25));
        assert_eq!(watermarks.advance(1, 20).unwrap(), None, "never backwards");
        let out = buffer.close(25).unwrap().unwrap();
        assert_eq!(rows_of(&out), vec!["1970-01-01T00:00:00.000020,1 x1"]);
    }

    #[test]
    fn held_rows_are_indexed_once_whatever_their_updates() {
        let first = change(&[20, 30], &[1, 1], &[1, 1]);
        // Two closing columns (both window_end here; the second closes later).
        let closing = Closing::new(vec![(0, shifted(1)), (0, shifted(-5))]).unwrap();
        let mut closer = WindowCloser::try_new(first.schema(), closing, Release::OnClose).unwrap();
        closer.absorb(&first).unwrap();
        for n in 1..100 {
            closer
                .absorb(&change(&[20, 20], &[n, n + 1], &[-1, 1]))
                .unwrap();
        }
        // Two rows, each in both columns' indexes.
        assert_eq!(closer.pending.distinct_keys(), 4);
        // The first column closes window 20; it leaves the second column's index too.
        let out = closer.close(25).unwrap().unwrap();
        assert_eq!(rows_of(&out), vec!["1970-01-01T00:00:00.000020,100 x1"]);
        assert_eq!(closer.pending.distinct_keys(), 2);
    }

    #[test]
    fn continuous_rows_pass_until_their_window_closes() {
        let first = change(&[10, 20], &[1, 1], &[1, 1]);
        let mut closer =
            WindowCloser::try_new(first.schema(), by_end(), Release::Immediately).unwrap();
        let out = closer.absorb(&first).unwrap().unwrap();
        assert_eq!(out.num_rows(), 2, "no watermark yet: everything passes");
        assert!(closer.close(12).unwrap().is_none(), "nothing is held back");
        // An update of closed window 10 and of open window 20 in one change.
        let out = closer
            .absorb(&change(&[10, 10, 20, 20], &[1, 2, 1, 2], &[-1, 1, -1, 1]))
            .unwrap()
            .unwrap();
        assert_eq!(
            rows_of(&out),
            vec![
                "1970-01-01T00:00:00.000020,1 x-1",
                "1970-01-01T00:00:00.000020,2 x1"
            ]
        );
        assert_eq!(closer.late_rows(), 2);
    }
}

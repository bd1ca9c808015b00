//! Closing windows by the watermark. [`InputWatermarks`] tracks a view's watermark —
//! the minimum of its inputs' watermarks — and [`WindowCloser`] applies it to the
//! view's output rows by their `window_end`:
//!
//! ```text
//!   operator output ──▶ window_end ≤ watermark?  yes: late, dropped and counted
//!                                                no:  Release::Immediately: to the view now
//!                                                     Release::OnClose: pending (by window_end)
//!   watermark advances to W ──▶ pending rows with window_end ≤ W ──▶ the view
//! ```
//!
//! `Release::OnClose` is `EMIT ON WINDOW CLOSE`: a window's row is released once, when
//! it closes, and never changes after. `Release::Immediately` is the continuous mode
//! of a view over watermarked sources: a window's row changes as rows arrive until the
//! window closes, and is final after. Either way a closed window takes no more
//! changes, so the operators may forget its state (`Operator::evict_closed`).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::{cast, filter, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::row::{RowConverter, SortField};

use super::ChangeBatch;
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
    window_end: usize,
    release: Release,
    codec: RowConverter,
    watermark: Option<i64>,
    pending: BTreeMap<(i64, Box<[u8]>), i64>,
    late_rows: u64,
}

impl WindowCloser {
    /// A closer for rows shaped `schema` whose column `window_end` ends their window.
    pub fn try_new(schema: SchemaRef, window_end: usize, release: Release) -> Result<Self> {
        let codec = RowConverter::new(
            schema
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        Ok(WindowCloser {
            schema,
            window_end,
            release,
            codec,
            watermark: None,
            pending: BTreeMap::new(),
            late_rows: 0,
        })
    }

    /// When rows are released.
    pub fn release(&self) -> Release {
        self.release
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
        let ends = micros(change.data().column(self.window_end))?;
        let weights = change.weights().values();
        let on_time: BooleanArray = (0..change.num_rows())
            .map(|row| {
                let late =
                    !ends.is_null(row) && self.watermark.is_some_and(|w| ends.value(row) <= w);
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
                for (row, weight) in weights.iter().enumerate() {
                    // A row without a window never closes: it is not windowed data.
                    if ends.is_null(row) || !on_time.value(row) {
                        continue;
                    }
                    let key = (ends.value(row), Box::<[u8]>::from(rows.row(row).as_ref()));
                    let count = self.pending.entry(key.clone()).or_default();
                    *count += weight;
                    if *count == 0 {
                        self.pending.remove(&key);
                    }
                }
                Ok(None)
            }
        }
    }

    /// Moves the watermark to `watermark`; returns the held rows of windows that
    /// closed (`Release::OnClose`).
    pub fn close(&mut self, watermark: i64) -> Result<Option<ChangeBatch>> {
        if self.watermark.is_some_and(|w| watermark <= w) {
            return Ok(None);
        }
        self.watermark = Some(watermark);
        let open = self
            .pending
            .split_off(&(watermark.saturating_add(1), Box::default()));
        let closed = std::mem::replace(&mut self.pending, open);
        if closed.is_empty() {
            return Ok(None);
        }
        let parser = self.codec.parser();
        let columns = self
            .codec
            .convert_rows(closed.keys().map(|(_, row)| parser.parse(row)))?;
        let weights = Int64Array::from_iter_values(closed.values().copied());
        let data = RecordBatch::try_new(self.schema.clone(), columns)?;
        Ok(Some(ChangeBatch::try_new(data, weights)?))
    }

    /// Approximate bytes held back.
    pub fn size(&self) -> usize {
        self.pending.keys().map(|(_, row)| row.len() + 48).sum()
    }
}

fn micros(
    column: &dyn Array,
) -> Result<datafusion::arrow::array::PrimitiveArray<TimestampMicrosecondType>> {
    let cast = cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    Ok(cast.as_primitive::<TimestampMicrosecondType>().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::rows_of;
    use datafusion::arrow::array::TimestampMicrosecondArray;
    use datafusion::arrow::datatypes::{Field, Schema};
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

    #[test]
    fn rows_wait_for_their_window_and_late_ones_are_dropped() {
        let first = change(&[10, 20], &[1, 1], &[1, 1]);
        let mut buffer = WindowCloser::try_new(first.schema(), 0, Release::OnClose).unwrap();
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
    fn continuous_rows_pass_until_their_window_closes() {
        let first = change(&[10, 20], &[1, 1], &[1, 1]);
        let mut closer = WindowCloser::try_new(first.schema(), 0, Release::Immediately).unwrap();
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

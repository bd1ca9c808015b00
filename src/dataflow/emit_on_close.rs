//! [`EmitOnClose`]: `EMIT ON WINDOW CLOSE` for a windowed view — its rows are held
//! back until the watermark passes their `window_end`, then released once and never
//! changed again.
//!
//! ```text
//!   operator output ──▶ window_end ≤ watermark?  yes: late, dropped and counted
//!                                                no:  pending (by window_end)
//!   watermark advances to W ──▶ pending rows with window_end ≤ W ──▶ the view
//! ```
//!
//! The view's watermark is the minimum of its inputs' source watermarks: a window is
//! closed when no input can still deliver rows for it.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::row::{RowConverter, SortField};

use super::ChangeBatch;
use crate::error::{Result, SluiceError};

/// The hold-back buffer of one view. See the module docs.
#[derive(Debug)]
pub struct EmitOnClose {
    schema: SchemaRef,
    window_end: usize,
    codec: RowConverter,
    inputs: Vec<Option<i64>>,
    watermark: Option<i64>,
    pending: BTreeMap<(i64, Box<[u8]>), i64>,
    late_rows: u64,
}

impl EmitOnClose {
    /// A buffer for rows shaped `schema` whose column `window_end` ends their window,
    /// for a view with `inputs` inputs (each must send watermarks).
    pub fn try_new(schema: SchemaRef, window_end: usize, inputs: usize) -> Result<Self> {
        let codec = RowConverter::new(
            schema
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        Ok(EmitOnClose {
            schema,
            window_end,
            codec,
            inputs: vec![None; inputs],
            watermark: None,
            pending: BTreeMap::new(),
            late_rows: 0,
        })
    }

    /// The view's watermark (µs since the epoch), once every input has one.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// Rows dropped because their window had already closed.
    pub fn late_rows(&self) -> u64 {
        self.late_rows
    }

    /// Takes in an operator output change: rows of closed windows are late (dropped
    /// and counted), the others wait for their window to close.
    pub fn absorb(&mut self, change: &ChangeBatch) -> Result<()> {
        if change.is_empty() {
            return Ok(());
        }
        let ends = micros(change.data().column(self.window_end))?;
        let rows = self.codec.convert_columns(change.data().columns())?;
        for (row, weight) in change.weights().values().iter().enumerate() {
            if ends.is_null(row) {
                continue;
            }
            let end = ends.value(row);
            if self.watermark.is_some_and(|w| end <= w) {
                self.late_rows += weight.unsigned_abs();
                continue;
            }
            let key = (end, Box::<[u8]>::from(rows.row(row).as_ref()));
            let count = self.pending.entry(key.clone()).or_default();
            *count += weight;
            if *count == 0 {
                self.pending.remove(&key);
            }
        }
        Ok(())
    }

    /// Records input `input`'s watermark; returns the rows of windows that closed.
    pub fn advance(&mut self, input: usize, watermark: i64) -> Result<Option<ChangeBatch>> {
        let slot = self
            .inputs
            .get_mut(input)
            .ok_or_else(|| SluiceError::Internal(format!("watermark for unknown input {input}")))?;
        *slot = Some(slot.map_or(watermark, |w| w.max(watermark)));
        let Some(view) = self.inputs.iter().copied().collect::<Option<Vec<i64>>>() else {
            return Ok(None);
        };
        let view = view.into_iter().min().unwrap_or(i64::MIN);
        if self.watermark.is_some_and(|w| view <= w) {
            return Ok(None);
        }
        self.watermark = Some(view);
        let open = self
            .pending
            .split_off(&(view.saturating_add(1), Box::default()));
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
        let mut buffer = EmitOnClose::try_new(first.schema(), 0, 2).unwrap();
        buffer.absorb(&first).unwrap();
        // Window 10 is updated before it closes: only the final row comes out.
        buffer
            .absorb(&change(&[10, 10], &[1, 2], &[-1, 1]))
            .unwrap();
        assert!(
            buffer.advance(0, 15).unwrap().is_none(),
            "input 1 has no watermark yet"
        );
        let out = buffer.advance(1, 12).unwrap().unwrap();
        assert_eq!(rows_of(&out), vec!["1970-01-01T00:00:00.000010,2 x1"]);
        // A change to the closed window is late; window 20 is still pending.
        buffer
            .absorb(&change(&[10, 10], &[2, 3], &[-1, 1]))
            .unwrap();
        assert_eq!(buffer.late_rows(), 2);
        assert!(buffer.advance(1, 14).unwrap().is_none());
        let out = buffer.advance(0, 25).unwrap();
        assert!(out.is_none(), "input 1 still holds the watermark at 14");
        let out = buffer.advance(1, 30).unwrap().unwrap();
        assert_eq!(rows_of(&out), vec!["1970-01-01T00:00:00.000020,1 x1"]);
    }
}

//! [`Arrangement`]: a materialized view's current rows, kept in a [`Spine`] ordered
//! by their row-encoded bytes so rows sharing leading column values are adjacent.
//!
//! That order is what lets `SELECT ... WHERE first_col = x` read only the matching
//! range instead of the whole view (see [`Arrangement::prefix_batches`]): Arrow's row
//! format encodes a row as its columns' encodings back to back, so the encoding of
//! the leading columns alone is a prefix of every matching row.

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::RowConverter;

use super::ChangeBatch;
use super::change::row_codec;
use super::state::Spine;
use crate::error::{Result, SluiceError};

/// Rows per batch when the arrangement is read out.
const READ_BATCH_ROWS: usize = 8192;

/// A multiset of rows. See the module docs.
#[derive(Debug)]
pub struct Arrangement {
    schema: SchemaRef,
    codec: RowConverter,
    rows: Spine,
}

impl Arrangement {
    /// An empty arrangement of rows shaped like `schema`.
    pub fn try_new(schema: SchemaRef) -> Result<Self> {
        Ok(Arrangement {
            codec: row_codec(schema.fields())?,
            schema,
            rows: Spine::new(),
        })
    }

    /// Adds the change's rows with their weights.
    pub fn apply(&mut self, change: &ChangeBatch) -> Result<()> {
        if change.is_empty() {
            return Ok(());
        }
        let columns = super::operator::canonical_floats(change.data().columns())?;
        let rows = self.codec.convert_columns(&columns)?;
        let keys: Vec<&[u8]> = rows.iter().map(|row| row.data()).collect();
        self.rows.apply(&keys, change.weights().values())
    }

    /// A copy of the rows as they are now, sharing the runs (nothing is copied): read
    /// it after letting go of the view's lock, so that a long read never holds up the
    /// view's changes.
    pub fn snapshot(&self) -> Result<Arrangement> {
        Ok(Arrangement {
            codec: row_codec(self.schema.fields())?,
            schema: self.schema.clone(),
            rows: self.rows.clone(),
        })
    }

    /// Every row (repeated by multiplicity), in batches.
    pub fn batches(&self) -> Result<Vec<RecordBatch>> {
        self.read(self.rows.iter())
    }

    /// Every distinct row once, with its weight (which may be negative: an
    /// arrangement of changes, such as a sink's backlog, holds removals too).
    pub fn changes(&self) -> Result<Vec<ChangeBatch>> {
        let parser = self.codec.parser();
        let mut changes = Vec::new();
        let mut rows = Vec::with_capacity(READ_BATCH_ROWS);
        let mut weights = Vec::with_capacity(READ_BATCH_ROWS);
        let mut entries = self.rows.iter().peekable();
        while entries.peek().is_some() {
            for (key, weight) in entries.by_ref().take(READ_BATCH_ROWS) {
                rows.push(parser.parse(key));
                weights.push(weight);
            }
            let columns = self.codec.convert_rows(rows.drain(..))?;
            let data = RecordBatch::try_new(self.schema.clone(), columns)?;
            let weights = datafusion::arrow::array::Int64Array::from(std::mem::take(&mut weights));
            changes.push(ChangeBatch::try_new(data, weights)?);
        }
        Ok(changes)
    }

    /// Builds the arrangement of `schema`'s rows held by `rows` (restored from a
    /// checkpoint).
    pub fn from_spine(schema: SchemaRef, rows: Spine) -> Result<Self> {
        Ok(Arrangement {
            codec: row_codec(schema.fields())?,
            schema,
            rows,
        })
    }

    /// The rows whose leading columns equal `prefix` (one value per leading column).
    pub fn prefix_batches(&self, prefix: &[ArrayRef]) -> Result<Vec<RecordBatch>> {
        let codec = row_codec(&self.schema.fields()[..prefix.len()])?;
        let encoded = codec.convert_columns(&super::operator::canonical_floats(prefix)?)?;
        self.read(self.rows.prefix(encoded.row(0).data()))
    }

    fn read<'a>(&self, rows: impl Iterator<Item = (&'a [u8], i64)>) -> Result<Vec<RecordBatch>> {
        let parser = self.codec.parser();
        let mut batches = Vec::new();
        let mut pending = Vec::with_capacity(READ_BATCH_ROWS);
        let mut repeats: Vec<u32> = Vec::with_capacity(READ_BATCH_ROWS);
        let mut flush = |pending: &mut Vec<_>, repeats: &mut Vec<u32>| -> Result<()> {
            if pending.is_empty() {
                return Ok(());
            }
            let distinct_rows = pending.len();
            let columns = self.codec.convert_rows(pending.drain(..))?;
            let mut batch = RecordBatch::try_new(self.schema.clone(), columns)?;
            if repeats.len() != distinct_rows {
                let indices: UInt32Array = repeats.iter().copied().collect();
                batch = take_record_batch(&batch, &indices)?;
            }
            repeats.clear();
            batches.push(batch);
            Ok(())
        };
        let mut distinct = 0u32;
        for (key, count) in rows {
            if count < 0 {
                return Err(SluiceError::Internal(format!(
                    "materialized view holds a row {count} times"
                )));
            }
            pending.push(parser.parse(key));
            for _ in 0..count {
                repeats.push(distinct);
            }
            distinct += 1;
            if pending.len() >= READ_BATCH_ROWS {
                flush(&mut pending, &mut repeats)?;
                distinct = 0;
            }
        }
        flush(&mut pending, &mut repeats)?;
        Ok(batches)
    }

    /// Distinct rows held. Reads the whole arrangement.
    pub fn len(&self) -> usize {
        self.rows.distinct_keys()
    }

    /// True when the view is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.rows.bytes()
    }

    /// The rows, for checkpoints.
    pub fn spine(&self) -> &Spine {
        &self.rows
    }

    /// The rows, for restoring a checkpoint.
    pub fn spine_mut(&mut self) -> &mut Spine {
        &mut self.rows
    }

    /// The rows' schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{batch, change_of, rows_of};
    use datafusion::arrow::array::Int64Array;
    use std::sync::Arc;

    #[test]
    fn applies_weights_and_reads_back_multiplicities() {
        let data = batch(&[
            ("a", &[Some(1), Some(2), Some(1)]),
            ("b", &[Some(10), Some(20), Some(11)]),
        ]);
        let mut arrangement = Arrangement::try_new(data.schema()).unwrap();
        arrangement
            .apply(&change_of(data.clone(), &[2, 1, 1]))
            .unwrap();
        arrangement
            .apply(&change_of(data.slice(1, 1), &[-1]))
            .unwrap();
        let out = arrangement.batches().unwrap();
        let total: usize = out.iter().map(|b| b.num_rows()).sum();
        assert_eq!(total, 3);
        let all = ChangeBatch::inserts(
            datafusion::arrow::compute::concat_batches(&data.schema(), &out).unwrap(),
        );
        assert_eq!(rows_of(&all), vec!["1,10 x1", "1,10 x1", "1,11 x1"]);
    }

    #[test]
    fn a_snapshot_keeps_the_rows_of_its_moment() {
        let data = batch(&[("a", &[Some(1), Some(2)])]);
        let mut arrangement = Arrangement::try_new(data.schema()).unwrap();
        arrangement
            .apply(&ChangeBatch::inserts(data.clone()))
            .unwrap();
        let snapshot = arrangement.snapshot().unwrap();
        arrangement.apply(&change_of(data, &[-1, 2])).unwrap();
        let count =
            |a: &Arrangement| -> usize { a.batches().unwrap().iter().map(|b| b.num_rows()).sum() };
        assert_eq!((count(&snapshot), snapshot.len()), (2, 2));
        assert_eq!((count(&arrangement), arrangement.len()), (3, 1));
    }

    #[test]
    fn prefix_reads_only_matching_rows() {
        let data = batch(&[
            ("a", &[Some(1), Some(2), Some(1), None]),
            ("b", &[Some(10), Some(20), Some(11), Some(5)]),
        ]);
        let mut arrangement = Arrangement::try_new(data.schema()).unwrap();
        arrangement.apply(&ChangeBatch::inserts(data)).unwrap();
        let prefix: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let out = arrangement.prefix_batches(&[prefix]).unwrap();
        assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    }
}

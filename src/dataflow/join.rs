//! [`Join`]: an inner equi-join maintained incrementally.
//!
//! Each side keeps its rows indexed by join key (a Z-set per key). A change on one
//! side is joined with the other side's current rows, then folded into its own side:
//!
//! ```text
//!   Δ(L ⋈ R) = ΔL ⋈ R  +  (L + ΔL) ⋈ ΔR
//! ```
//!
//! so a change on both sides at once (a self-join) is counted exactly once. Work is
//! proportional to the change times the matching rows, never to the whole state.
//! Rows with a NULL key match nothing, as in SQL. A residual `ON` condition is applied
//! to the joined rows.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, RecordBatchOptions, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::operator::{ErrorLog, canonical_floats, evaluate_rows, filter_change};
use crate::error::{Result, SluiceError};

/// Row-encoded rows with their multiplicity.
type Rows = HashMap<Box<[u8]>, i64>;

/// One side's rows: join key → rows with that key.
#[derive(Debug)]
struct Side {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    rows: RowConverter,
    index: HashMap<Box<[u8]>, Rows>,
}

/// Which side a change arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinSide {
    /// The left input.
    Left,
    /// The right input.
    Right,
}

/// The incremental inner join. See the module docs.
#[derive(Debug)]
pub struct Join {
    left: Side,
    right: Side,
    key_codec: Option<RowConverter>,
    filter: Option<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
}

impl Join {
    /// A join of rows shaped `left_schema` and `right_schema` on
    /// `left_keys[i] = right_keys[i]`, with an optional residual `filter` over the
    /// joined row; `schema` is the output (left columns, then right columns).
    pub fn try_new(
        left_schema: &Schema,
        right_schema: &Schema,
        keys: Vec<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)>,
        filter: Option<Arc<dyn PhysicalExpr>>,
        schema: SchemaRef,
    ) -> Result<Self> {
        let codec = |schema: &Schema| {
            RowConverter::new(
                schema
                    .fields()
                    .iter()
                    .map(|f| SortField::new(f.data_type().clone()))
                    .collect(),
            )
        };
        let key_codec = if keys.is_empty() {
            None
        } else {
            let fields = keys
                .iter()
                .map(|(l, _)| Ok(SortField::new(l.data_type(left_schema)?)))
                .collect::<Result<Vec<_>>>()?;
            Some(RowConverter::new(fields)?)
        };
        let (left_keys, right_keys) = keys.into_iter().unzip();
        Ok(Join {
            left: Side {
                keys: left_keys,
                rows: codec(left_schema)?,
                index: HashMap::new(),
            },
            right: Side {
                keys: right_keys,
                rows: codec(right_schema)?,
                index: HashMap::new(),
            },
            key_codec,
            filter,
            schema,
        })
    }

    /// Applies a change of one side and returns the change of the join.
    pub fn process(
        &mut self,
        side: JoinSide,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let (this, other) = match side {
            JoinSide::Left => (&mut self.left, &self.right),
            JoinSide::Right => (&mut self.right, &self.left),
        };
        let (change, key_columns) = evaluate_rows(&this.keys, change, errors)?;
        let key_columns = canonical_floats(&key_columns)?;
        let keys = match &self.key_codec {
            Some(codec) => Some(codec.convert_columns(&key_columns)?),
            None => None,
        };
        let own_rows = this.rows.convert_columns(change.data().columns())?;

        let mut own_indices: Vec<u32> = Vec::new();
        let mut other_rows: Vec<&[u8]> = Vec::new();
        let mut weights: Vec<i64> = Vec::new();
        let mut updates: Vec<(Box<[u8]>, usize)> = Vec::with_capacity(change.num_rows());
        for row in 0..change.num_rows() {
            if key_columns.iter().any(|k| k.is_null(row)) {
                continue;
            }
            let key: Box<[u8]> = keys
                .as_ref()
                .map_or_else(Box::default, |k| k.row(row).as_ref().into());
            let weight = change.weights().value(row);
            if let Some(matches) = other.index.get(&key) {
                for (other_row, other_weight) in matches {
                    own_indices.push(row as u32);
                    other_rows.push(other_row);
                    weights.push(weight * other_weight);
                }
            }
            updates.push((key, row));
        }
        let output = self.assemble(side, &change, &own_indices, &other_rows, weights)?;

        let this = match side {
            JoinSide::Left => &mut self.left,
            JoinSide::Right => &mut self.right,
        };
        for (key, row) in updates {
            let bucket = this.index.entry(key.clone()).or_default();
            let encoded: Box<[u8]> = own_rows.row(row).as_ref().into();
            let count = bucket.entry(encoded.clone()).or_default();
            *count += change.weights().value(row);
            if *count == 0 {
                bucket.remove(&encoded);
                if bucket.is_empty() {
                    this.index.remove(&key);
                }
            }
        }
        match &self.filter {
            Some(filter) => {
                let (output, mask) = evaluate_rows(std::slice::from_ref(filter), &output, errors)?;
                let mask = mask[0]
                    .as_boolean_opt()
                    .ok_or_else(|| SluiceError::Internal("join condition is not boolean".into()))?;
                filter_change(&output, mask)
            }
            None => Ok(output),
        }
    }

    /// Joined rows: the change's rows at `own_indices` beside the other side's stored
    /// rows, in output column order.
    fn assemble(
        &self,
        side: JoinSide,
        change: &ChangeBatch,
        own_indices: &[u32],
        other_rows: &[&[u8]],
        weights: Vec<i64>,
    ) -> Result<ChangeBatch> {
        let indices = UInt32Array::from(own_indices.to_vec());
        let own: Vec<ArrayRef> = change
            .data()
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<_, _>>()?;
        let other_codec = match side {
            JoinSide::Left => &self.right.rows,
            JoinSide::Right => &self.left.rows,
        };
        let other: Vec<ArrayRef> = if other_rows.is_empty() {
            let fields = match side {
                JoinSide::Left => self.schema.fields()[own.len()..].to_vec(),
                JoinSide::Right => {
                    self.schema.fields()[..self.schema.fields().len() - own.len()].to_vec()
                }
            };
            fields
                .iter()
                .map(|f| datafusion::arrow::array::new_empty_array(f.data_type()))
                .collect()
        } else {
            let parser = other_codec.parser();
            other_codec.convert_rows(other_rows.iter().map(|bytes| parser.parse(bytes)))?
        };
        let columns = match side {
            JoinSide::Left => own.into_iter().chain(other).collect::<Vec<_>>(),
            JoinSide::Right => other.into_iter().chain(own).collect::<Vec<_>>(),
        };
        let loose = crate::dataflow::change::nullable(&self.schema);
        let options = RecordBatchOptions::new().with_row_count(Some(weights.len()));
        let data = RecordBatch::try_new_with_options(loose, columns, &options)?;
        let data = RecordBatch::try_new_with_options(
            self.schema.clone(),
            data.columns().to_vec(),
            &options,
        )
        .unwrap_or(data);
        ChangeBatch::try_new(data, Int64Array::from(weights))
    }

    /// A one-line description for `EXPLAIN`.
    pub fn describe(&self) -> String {
        let pairs: Vec<String> = self
            .left
            .keys
            .iter()
            .zip(&self.right.keys)
            .map(|(l, r)| format!("{l} = {r}"))
            .collect();
        match &self.filter {
            Some(f) => format!("InnerJoin: {} AND {f}", pairs.join(" AND ")),
            None => format!("InnerJoin: {}", pairs.join(" AND ")),
        }
    }

    /// The join's output schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Approximate bytes of state held.
    pub fn state_size(&self) -> usize {
        [&self.left, &self.right]
            .iter()
            .map(|side| {
                side.index
                    .iter()
                    .map(|(k, rows)| {
                        k.len() + 48 + rows.keys().map(|r| r.len() + 32).sum::<usize>()
                    })
                    .sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{batch, change_of, rows_of};
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::physical_expr::expressions::Column;

    fn join() -> Join {
        let left = Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("a", DataType::Int64, true),
        ]);
        let right = Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
        ]);
        let out = Arc::new(Schema::new(
            left.fields()
                .iter()
                .chain(right.fields().iter())
                .map(|f| f.as_ref().clone())
                .collect::<Vec<_>>(),
        ));
        let key: Arc<dyn PhysicalExpr> = Arc::new(Column::new("k", 0));
        Join::try_new(&left, &right, vec![(key.clone(), key)], None, out).unwrap()
    }

    #[test]
    fn changes_on_either_side_join_with_the_other_sides_rows() {
        let mut j = join();
        let mut e = ErrorLog::default();
        let l = change_of(
            batch(&[
                ("k", &[Some(1), Some(2), None]),
                ("a", &[Some(10), Some(20), Some(30)]),
            ]),
            &[1, 1, 1],
        );
        assert!(rows_of(&j.process(JoinSide::Left, &l, &mut e).unwrap()).is_empty());
        let r = change_of(
            batch(&[
                ("k", &[Some(1), Some(1), None]),
                ("b", &[Some(100), Some(101), Some(0)]),
            ]),
            &[1, 1, 1],
        );
        assert_eq!(
            rows_of(&j.process(JoinSide::Right, &r, &mut e).unwrap()),
            vec!["1,10,1,100 x1", "1,10,1,101 x1"]
        );
        // Deleting the left row retracts both joined rows.
        let del = change_of(batch(&[("k", &[Some(1)]), ("a", &[Some(10)])]), &[-1]);
        assert_eq!(
            rows_of(&j.process(JoinSide::Left, &del, &mut e).unwrap()),
            vec!["1,10,1,100 x-1", "1,10,1,101 x-1"]
        );
        assert_eq!(j.left.index.len(), 1, "only key 2 remains on the left");
    }
}

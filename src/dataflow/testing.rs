//! Helpers for operator unit tests: small batches written inline, results as text.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::display::array_value_to_string;

use super::ChangeBatch;
use super::accumulator::{AggregateKind, AggregateSignature};
use super::aggregate::AggregateCall;

/// A batch of nullable BIGINT columns: `[("a", &[Some(1), None])]`.
pub fn batch(columns: &[(&str, &[Option<i64>])]) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, _)| Field::new(*name, DataType::Int64, true))
        .collect();
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|(_, values)| Arc::new(Int64Array::from(values.to_vec())) as ArrayRef)
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("test batch")
}

/// `kind(arg)` over a BIGINT argument (`None`: `count(*)`), giving BIGINT.
pub fn bigint_call(
    kind: AggregateKind,
    arg: Option<Arc<dyn datafusion::physical_expr::PhysicalExpr>>,
) -> AggregateCall {
    AggregateCall {
        signature: AggregateSignature::try_new(kind, &DataType::Int64, DataType::Int64)
            .expect("test aggregate"),
        args: arg.into_iter().collect(),
        filter: None,
    }
}

/// `data` with the given weights.
pub fn change_of(data: RecordBatch, weights: &[i64]) -> ChangeBatch {
    ChangeBatch::try_new(data, Int64Array::from(weights.to_vec())).expect("test change")
}

/// Each row as `"v1,v2 xW"`, sorted, for comparing outputs regardless of order.
pub fn rows_of(change: &ChangeBatch) -> Vec<String> {
    let data = change.data();
    let mut rows: Vec<String> = (0..data.num_rows())
        .map(|row| {
            let values: Vec<String> = data
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(row) {
                        "NULL".to_string()
                    } else {
                        array_value_to_string(c, row).unwrap_or_default()
                    }
                })
                .collect();
            format!("{} x{}", values.join(","), change.weights().value(row))
        })
        .collect();
    rows.sort();
    rows
}

/// A small deterministic generator (xorshift), so randomized tests replay.
pub struct Xorshift(pub u64);

impl Xorshift {
    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// An operator's output accumulated from its changes: a multiset of rows written as
/// [`rows_of`] writes them (without the weight).
#[derive(Default, Clone)]
pub struct Multiset(std::collections::HashMap<String, i64>);

impl Multiset {
    /// Adds `change`; panics when a row is retracted more often than inserted.
    /// (A change may insert and delete the same row, in any order.)
    pub fn apply(&mut self, change: &ChangeBatch) {
        for shown in rows_of(change) {
            let (row, weight) = shown.rsplit_once(" x").expect("rows_of's form");
            *self.0.entry(row.to_string()).or_default() += weight.parse::<i64>().expect("a weight");
        }
        if let Some((row, _)) = self.0.iter().find(|(_, copies)| **copies < 0) {
            panic!("{row} was retracted more often than inserted");
        }
        self.0.retain(|_, copies| *copies != 0);
    }

    /// The rows, each as often as it occurs, sorted.
    pub fn rows(&self) -> Vec<String> {
        let mut rows: Vec<String> = self
            .0
            .iter()
            .flat_map(|(row, copies)| std::iter::repeat_n(row.clone(), *copies as usize))
            .collect();
        rows.sort();
        rows
    }
}

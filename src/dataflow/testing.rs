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

//! [`OverWindow`]: window functions `f(...) OVER (PARTITION BY ... ORDER BY ...
//! [frame])` maintained incrementally — running sums, moving averages over `ROWS` or
//! `RANGE` frames, `LAG`/`LEAD`, `FIRST_VALUE`, `ROW_NUMBER`, `RANK`, `NTILE`, ...:
//! every window function DataFusion evaluates, with DataFusion's evaluation.
//!
//! State: the input's rows by partition, in order ([`OrderedPartitions`]).
//!
//! A change touches some partitions. Each touched partition is evaluated — its rows
//! read in order and every window function evaluated over them, as a batch query
//! evaluates one partition — before and after the change is applied; the output is
//! the difference between the two evaluations' rows, so rows whose values did not
//! move are not emitted. Work per change is proportional to the sizes of the
//! partitions it touches (as in Materialize), not to the whole state: partition by
//! something with many values (a seller, a device) to keep partitions small.
//!
//! Rows tied in the `ORDER BY` follow their own encoding, so a function that tells
//! tied rows apart (`ROW_NUMBER`, `LAG`, a `ROWS` frame) gives every row the same
//! value at every evaluation; PostgreSQL may order ties either way.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, RecordBatchOptions, UInt32Array, new_empty_array,
};
use datafusion::arrow::compute::{concat, take};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::row::RowConverter;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::WindowExpr;
use foldhash::HashMap;

use super::ChangeBatch;
use super::change::{batch_in, nullable, row_codec};
use super::exchange::Partitioning;
use super::operator::{ErrorLog, Operator, canonical_floats};
use super::ordered_partitions::{OrderKey, OrderedPartitions};
use super::state::Spine;
use crate::error::{Result, SluiceError};

/// The incremental window-function operator. See the module docs.
#[derive(Debug)]
pub struct OverWindow {
    rows: OrderedPartitions,
    /// Evaluated over one partition's rows in order; all share the partition and
    /// order keys of `rows`.
    functions: Vec<Arc<dyn WindowExpr>>,
    /// The input's schema, every column nullable (rows are read back from state).
    input: SchemaRef,
    /// The input's columns, then one column per function.
    schema: SchemaRef,
    output_rows: RowConverter,
}

impl OverWindow {
    /// Window `functions` over rows shaped `input`, partitioned by `partition` and
    /// ordered by `order` (the functions' own keys); `schema` is the input's columns
    /// followed by the functions' values.
    pub fn try_new(
        input: &Schema,
        partition: Vec<Arc<dyn PhysicalExpr>>,
        order: Vec<OrderKey>,
        functions: Vec<Arc<dyn WindowExpr>>,
        schema: SchemaRef,
    ) -> Result<Self> {
        if schema.fields().len() != input.fields().len() + functions.len() {
            return Err(SluiceError::Internal(
                "a window's output is its input's columns and one column per function".into(),
            ));
        }
        Ok(OverWindow {
            rows: OrderedPartitions::try_new(input, partition, order)?,
            functions,
            input: nullable(input),
            output_rows: row_codec(schema.fields())?,
            schema,
        })
    }

    /// The output columns of the partition `prefix` as it is now: its rows, each
    /// as often as it occurs, in order, and the functions' values for them.
    fn evaluate(&self, prefix: &[u8]) -> Result<Vec<ArrayRef>> {
        let mut entries: Vec<&[u8]> = Vec::new();
        for (entry, multiplicity) in self.rows.partition(prefix) {
            entries.extend(std::iter::repeat_n(entry, multiplicity.max(0) as usize));
        }
        let rows = entries.len();
        let mut columns = self.rows.columns(entries.into_iter())?;
        if rows == 0 {
            // A partition now empty (some functions cannot evaluate no rows).
            let fields = &self.schema.fields()[columns.len()..];
            columns.extend(fields.iter().map(|f| new_empty_array(f.data_type())));
            return Ok(columns);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch =
            RecordBatch::try_new_with_options(self.input.clone(), columns.clone(), &options)?;
        columns.extend(evaluate_functions(&self.functions, &batch)?);
        Ok(columns)
    }

    /// Adds the evaluation of partition `prefix` to `evaluations` with `sign`. A
    /// partition whose functions fail on its values (a `sum` out of range) has no
    /// rows: its error is in the view's errors for as long as the partition holds
    /// those values, like a failing row's (recorded with `sign`, taken back when the
    /// partition is evaluated again before its next change).
    fn evaluate_into(
        &self,
        prefix: &[u8],
        sign: i64,
        evaluations: &mut Vec<(Vec<ArrayRef>, i64)>,
        errors: &mut ErrorLog,
    ) -> Result<()> {
        match self.evaluate(prefix) {
            Ok(columns) => evaluations.push((columns, sign)),
            Err(e) if e.sqlstate() != crate::error::sqlstate::INTERNAL_ERROR => {
                errors.record(&e, sign)
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// `evaluations` (each the output columns of one partition, with a sign) as one
    /// change: rows that appear with both signs cancel out.
    fn difference(&self, evaluations: Vec<(Vec<ArrayRef>, i64)>) -> Result<ChangeBatch> {
        let width = self.schema.fields().len();
        let mut columns = Vec::with_capacity(width);
        for column in 0..width {
            let pieces: Vec<&dyn datafusion::arrow::array::Array> = evaluations
                .iter()
                .map(|(c, _)| c[column].as_ref())
                .collect();
            columns.push(concat(&pieces)?);
        }
        let signs: Vec<i64> = evaluations
            .iter()
            .flat_map(|(c, sign)| std::iter::repeat_n(*sign, c.first().map_or(0, |a| a.len())))
            .collect();
        let encoded = self
            .output_rows
            .convert_columns(&canonical_floats(&columns)?)?;
        let mut weights: HashMap<&[u8], (u32, i64)> = HashMap::default();
        let mut first_seen: Vec<&[u8]> = Vec::new();
        for (index, sign) in signs.iter().enumerate() {
            let row = encoded.row(index).data();
            let slot = weights.entry(row).or_insert_with(|| {
                first_seen.push(row);
                (index as u32, 0)
            });
            slot.1 += sign;
        }
        let (indices, weights): (Vec<u32>, Vec<i64>) = first_seen
            .iter()
            .map(|row| weights[row])
            .filter(|(_, weight)| *weight != 0)
            .unzip();
        let indices = UInt32Array::from(indices);
        let columns = columns
            .iter()
            .map(|c| Ok(take(c, &indices, None)?))
            .collect::<Result<Vec<_>>>()?;
        let data = batch_in(&self.schema, columns, weights.len())?;
        ChangeBatch::try_new(data, Int64Array::from(weights))
    }
}

/// The values of window `functions` over `batch`, one partition's rows in order: one
/// column per function.
pub(super) fn evaluate_functions(
    functions: &[Arc<dyn WindowExpr>],
    batch: &RecordBatch,
) -> Result<Vec<ArrayRef>> {
    let rows = batch.num_rows();
    functions
        .iter()
        .map(|function| {
            let values = function.evaluate(batch)?;
            if values.len() != rows {
                return Err(SluiceError::Internal(format!(
                    "window function {} gave {} values for {rows} rows",
                    function.name(),
                    values.len()
                )));
            }
            Ok(values)
        })
        .collect()
}

impl Operator for OverWindow {
    fn process(
        &mut self,
        _input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let change = self.rows.entries(change, errors)?;
        let mut evaluations = Vec::with_capacity(2 * change.touched.len());
        for partition in &change.touched {
            self.evaluate_into(partition, -1, &mut evaluations, errors)?;
        }
        self.rows.apply(&change)?;
        for partition in &change.touched {
            self.evaluate_into(partition, 1, &mut evaluations, errors)?;
        }
        self.difference(evaluations)
    }

    fn partitioning(&self, _input: usize) -> Partitioning {
        self.rows.partitioning()
    }

    fn describe(&self) -> String {
        let (partition, order) = self.rows.describe_keys();
        let functions: Vec<&str> = self.functions.iter().map(|f| f.name()).collect();
        format!(
            "OverWindow: [{}] partitioned by [{partition}] ordered by [{order}]",
            functions.join(", ")
        )
    }

    fn state_size(&self) -> usize {
        self.rows.bytes()
    }

    fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        vec![("rows", self.rows.spine())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{Multiset, Xorshift, batch, change_of, rows_of};
    use datafusion::arrow::compute::SortOptions;
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::common::DFSchema;
    use datafusion::execution::context::ExecutionProps;
    use datafusion::functions_aggregate::sum::sum_udaf;
    use datafusion::functions_window::expr_fn::{lag, row_number};
    use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionDefinition};
    use datafusion::logical_expr::{
        Expr, ExprFunctionExt, WindowFrame, WindowFrameBound, WindowFrameUnits, col,
    };
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_planner::create_window_expr;
    use datafusion::scalar::ScalarValue;

    type Row = (Option<i64>, Option<i64>, Option<i64>);

    /// `(g, t, v)` with `row_number()`, `lag(v)` and the sum of `v` over the current
    /// and two preceding rows, each `OVER (PARTITION BY g ORDER BY t NULLS FIRST)`.
    fn over_window() -> OverWindow {
        let field = |name: &str| Field::new(name, DataType::Int64, true);
        let input = Schema::new(vec![field("g"), field("t"), field("v")]);
        let window = |f: Expr| {
            f.partition_by(vec![col("g")])
                .order_by(vec![col("t").sort(true, true)])
        };
        let frame = WindowFrame::new_bounds(
            WindowFrameUnits::Rows,
            WindowFrameBound::Preceding(ScalarValue::UInt64(Some(2))),
            WindowFrameBound::CurrentRow,
        );
        let exprs = [
            window(row_number()).build().unwrap().alias("rn"),
            window(lag(col("v"), Some(1), None))
                .build()
                .unwrap()
                .alias("previous"),
            window(Expr::from(WindowFunction::new(
                WindowFunctionDefinition::AggregateUDF(sum_udaf()),
                vec![col("v")],
            )))
            .window_frame(frame)
            .build()
            .unwrap()
            .alias("moving"),
        ];
        let logical = DFSchema::try_from(input.clone()).unwrap();
        let functions: Vec<Arc<dyn WindowExpr>> = exprs
            .iter()
            .map(|e| {
                create_window_expr(e, &logical, &ExecutionProps::new(), &Default::default())
                    .unwrap()
            })
            .collect();
        let mut fields = input.fields().to_vec();
        fields.extend(functions.iter().map(|f| f.field().unwrap()));
        OverWindow::try_new(
            &input,
            vec![Arc::new(Column::new("g", 0))],
            vec![(
                Arc::new(Column::new("t", 1)),
                SortOptions {
                    descending: false,
                    nulls_first: true,
                },
            )],
            functions,
            Arc::new(Schema::new(fields)),
        )
        .unwrap()
    }

    fn show(v: Option<i64>) -> String {
        v.map_or("NULL".to_string(), |v| v.to_string())
    }

    /// The output for multiset `rows`, computed from scratch: each partition ordered
    /// by `t` (NULLs first), ties by the row (its encoding's order).
    fn expected(rows: &[(Row, i64)]) -> Vec<String> {
        let mut partitions: Vec<Option<i64>> = rows.iter().map(|((g, _, _), _)| *g).collect();
        partitions.sort();
        partitions.dedup();
        let mut out = Vec::new();
        for g in partitions {
            let mut part: Vec<Row> = Vec::new();
            for (row, copies) in rows.iter().filter(|((rg, _, _), _)| *rg == g) {
                part.extend(std::iter::repeat_n(*row, (*copies).max(0) as usize));
            }
            part.sort();
            for (i, (g, t, v)) in part.iter().enumerate() {
                let previous = if i == 0 { None } else { part[i - 1].2 };
                let frame = &part[i.saturating_sub(2)..=i];
                let present: Vec<i64> = frame.iter().filter_map(|r| r.2).collect();
                let moving = (!present.is_empty()).then(|| present.iter().sum::<i64>());
                out.push(format!(
                    "{},{},{},{},{},{}",
                    show(*g),
                    show(*t),
                    show(*v),
                    i + 1,
                    show(previous),
                    show(moving)
                ));
            }
        }
        out.sort();
        out
    }

    fn push(op: &mut OverWindow, rows: &[Row], weights: &[i64]) -> ChangeBatch {
        let column = |f: fn(&Row) -> Option<i64>| rows.iter().map(f).collect::<Vec<_>>();
        let data = batch(&[
            ("g", &column(|r| r.0)),
            ("t", &column(|r| r.1)),
            ("v", &column(|r| r.2)),
        ]);
        op.process(0, &change_of(data, weights), &mut ErrorLog::default())
            .unwrap()
    }

    #[test]
    fn a_row_inserted_in_the_middle_moves_the_rows_after_it() {
        let mut op = over_window();
        let mut view = Multiset::default();
        let rows = [(Some(1), Some(10), Some(1)), (Some(1), Some(30), Some(3))];
        view.apply(&push(&mut op, &rows, &[1, 1]));
        let change = push(&mut op, &[(Some(1), Some(20), Some(2))], &[1]);
        // The first row keeps its values; the new one appears; the last one moves.
        assert_eq!(change.num_rows(), 3, "{:?}", rows_of(&change));
        view.apply(&change);
        assert_eq!(
            view.rows(),
            vec!["1,10,1,1,NULL,1", "1,20,2,2,1,3", "1,30,3,3,2,6"]
        );
    }

    #[test]
    fn every_evaluation_follows_a_random_stream() {
        let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = |n: u64| rng.below(n);
        let mut op = over_window();
        let mut view = Multiset::default();
        let mut live: Vec<(Row, i64)> = Vec::new();
        for _ in 0..300 {
            let mut rows = Vec::new();
            let mut weights = Vec::new();
            for _ in 0..1 + next(4) {
                let delete = !live.is_empty() && next(3) == 0;
                let (row, weight) = if delete {
                    let i = next(live.len() as u64) as usize;
                    (live[i].0, -1)
                } else {
                    let value = |n: u64, next: &mut dyn FnMut(u64) -> u64| {
                        let v = next(n + 1);
                        (v < n).then_some(v as i64)
                    };
                    (
                        (
                            value(3, &mut next),
                            value(6, &mut next),
                            value(5, &mut next),
                        ),
                        1,
                    )
                };
                match live.iter_mut().find(|(r, _)| *r == row) {
                    Some(slot) => slot.1 += weight,
                    None => live.push((row, weight)),
                }
                live.retain(|(_, w)| *w > 0);
                rows.push(row);
                weights.push(weight);
            }
            view.apply(&push(&mut op, &rows, &weights));
            assert_eq!(view.rows(), expected(&live));
        }
    }
}

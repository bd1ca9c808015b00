//! [`ClosingOverWindow`]: window functions `f(...) OVER (PARTITION BY ... ORDER BY ts
//! ...)` with `EMIT ON WINDOW CLOSE`: each row is emitted once, when its values are
//! final, and never changes after (RisingWave's EOWC over window functions).
//!
//! `ts`, the first `ORDER BY` key (ascending, NULLs last), has a watermark: every row
//! still to arrive or to change has `ts` at or above the bound `B` the view's
//! watermark gives it. Rows below `B` are closed: no row will come before them or
//! between them, so their order within the partition is final. A closed row's values
//! are final once every row its functions read is closed too: `ROWS ... n FOLLOWING`
//! and `LEAD(x, n)` read n rows after it, `RANGE ... c FOLLOWING` the rows up to
//! `ts + c` ([`Reach::ahead`]). At each watermark step the operator evaluates the
//! partitions that hold rows closed and not yet emitted, and emits the rows that
//! became final.
//!
//! ```text
//!   one partition, in order:
//!   [ emitted, kept for later frames | final: emitted now | not final yet           ]
//!                                      ts < B               ts >= B, or waiting for
//!                                                           the rows after it to close
//! ```
//!
//! State: the partition's rows not yet emitted, and before them the emitted rows that
//! later rows' frames still read ([`Reach::back`]: `ROWS n PRECEDING` and `LAG(x, n)`
//! keep n rows, `RANGE c PRECEDING` the rows within c). Functions that read every row
//! before theirs (ranks, `UNBOUNDED PRECEDING` frames) keep the whole partition. An
//! evaluation reads what its partition keeps, so a watermark step costs the kept rows
//! of the partitions that have rows to emit.
//!
//! Rows arriving below `B` are late: dropped and counted. Which rows were emitted is
//! not stored: finality only grows with `B`, so the rows emitted are the rows final at
//! the previous bound, found again from the kept rows (a restore learns that bound from
//! the view's watermark, [`Operator::evict_closed`]).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::WindowExpr;
use foldhash::HashSet;

use super::ChangeBatch;
use super::change::{batch_in, nullable};
use super::exchange::Partitioning;
use super::operator::{ErrorLog, Operator};
use super::ordered_partitions::{OrderKey, OrderedPartitions};
use super::over_window::evaluate_functions;
use super::state::{Spine, SpineDelta, from_sortable_i64, sortable_i64};
use super::watermark::{ColumnWatermark, micros};
use crate::error::{Result, SluiceError};

/// A distance from a row, in rows and, for `RANGE` frames, in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// Rows.
    pub rows: u64,
    /// Microseconds of the time key; `None` when no function reads by time.
    pub micros: Option<i64>,
}

impl Span {
    /// The span that covers both.
    pub fn max(self, other: Span) -> Span {
        Span {
            rows: self.rows.max(other.rows),
            micros: match (self.micros, other.micros) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        }
    }
}

/// How far around a row the window functions read to compute its values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    /// Before the row; `None` when a function reads every row before it.
    pub back: Option<Span>,
    /// After the row (the operator cannot hold functions that read every row after).
    pub ahead: Span,
}

impl Reach {
    /// The reach of two sets of functions together.
    pub fn max(self, other: Reach) -> Reach {
        Reach {
            back: self.back.zip(other.back).map(|(a, b)| a.max(b)),
            ahead: self.ahead.max(other.ahead),
        }
    }
}

/// Window functions emitted on close. See the module docs.
#[derive(Debug)]
pub struct ClosingOverWindow {
    /// Invariant: every row of a partition not yet emitted, and before them the
    /// emitted rows that the frames of rows not yet emitted may read.
    rows: OrderedPartitions,
    /// The rows not yet emitted whose time is not NULL, by time: entries `time ‖
    /// partition key`, weighted by how many rows. Finds the partitions with rows to
    /// emit without reading the others.
    pending: Spine,
    /// The time key: the first order key.
    time: Arc<dyn PhysicalExpr>,
    /// The time key's watermark.
    closing: ColumnWatermark,
    reach: Reach,
    /// Evaluated over one partition's kept rows in order.
    functions: Vec<Arc<dyn WindowExpr>>,
    /// The input's schema, every column nullable (rows are read back from state).
    input: SchemaRef,
    /// The input's columns, then one column per function.
    schema: SchemaRef,
    /// Rows whose time is below this are closed; `None` before the first watermark.
    bound: Option<i64>,
    late: u64,
}

impl ClosingOverWindow {
    /// Window `functions` over rows shaped `input`, partitioned by `partition` and
    /// ordered by `order`, whose first key is a timestamp, ascending with NULLs last,
    /// with the watermark `closing`; the functions read as far as `reach`. `schema` is
    /// the input's columns followed by the functions' values.
    pub fn try_new(
        input: &Schema,
        partition: Vec<Arc<dyn PhysicalExpr>>,
        order: Vec<OrderKey>,
        closing: ColumnWatermark,
        reach: Reach,
        functions: Vec<Arc<dyn WindowExpr>>,
        schema: SchemaRef,
    ) -> Result<Self> {
        if schema.fields().len() != input.fields().len() + functions.len() {
            return Err(SluiceError::Internal(
                "a window's output is its input's columns and one column per function".into(),
            ));
        }
        let Some((time, options)) = order.first() else {
            return Err(SluiceError::Internal(
                "a window closed by the watermark is ordered by time".into(),
            ));
        };
        if !matches!(time.data_type(input)?, DataType::Timestamp(..))
            || options.descending
            || options.nulls_first
        {
            return Err(SluiceError::Internal(format!(
                "a window closed by the watermark is ordered by a timestamp, ascending with \
                 NULLs last, not by {time} {options:?}"
            )));
        }
        let time = time.clone();
        Ok(ClosingOverWindow {
            rows: OrderedPartitions::try_new(input, partition, order)?,
            pending: Spine::new(),
            time,
            closing,
            reach,
            functions,
            input: nullable(input),
            schema,
            bound: None,
            late: 0,
        })
    }

    /// How many rows at the front of a partition (`times`: its kept rows' times, in
    /// order) are final when the bound is `bound`: closed, and every row they read
    /// ahead closed too.
    fn final_rows(&self, times: &Int64Array, bound: i64) -> usize {
        let closed = (0..times.len())
            .take_while(|&i| times.is_valid(i) && times.value(i) < bound)
            .count();
        let ahead = self.reach.ahead;
        (0..closed)
            .take_while(|&i| {
                (i as u64).saturating_add(ahead.rows) < closed as u64
                    && times.value(i).saturating_add(ahead.micros.unwrap_or(0)) < bound
            })
            .count()
    }

    /// How many rows at the front of a partition no row still to be emitted reads,
    /// once its first `emitted` rows are emitted.
    fn forgettable(&self, times: &Int64Array, emitted: usize, bound: i64) -> usize {
        let Some(back) = self.reach.back else {
            return 0;
        };
        // Rows still to come sort after the closed ones: the earliest row still to be
        // emitted is the first kept one that is not, or one at the bound.
        let earliest = match emitted < times.len() && times.is_valid(emitted) {
            true => times.value(emitted).min(bound),
            false => bound,
        };
        (0..emitted)
            .take_while(|&i| {
                (i as u64).saturating_add(back.rows) < emitted as u64
                    && back
                        .micros
                        .is_none_or(|c| times.value(i).saturating_add(c) < earliest)
            })
            .count()
    }

    /// Emits the rows of partition `prefix` that became final between the bounds
    /// `previous` and `bound`, and forgets the rows no later one reads. Returns the
    /// emitted rows' output columns.
    fn emit(
        &mut self,
        prefix: &[u8],
        previous: Option<i64>,
        bound: i64,
    ) -> Result<Option<Vec<ArrayRef>>> {
        let kept: Vec<(Vec<u8>, usize)> = self
            .rows
            .partition(prefix)
            .map(|(entry, copies)| (entry.to_vec(), copies.max(0) as usize))
            .collect();
        let entries: Vec<&[u8]> = kept
            .iter()
            .flat_map(|(entry, copies)| std::iter::repeat_n(entry.as_slice(), *copies))
            .collect();
        let count = entries.len();
        let mut columns = self.rows.columns(entries.into_iter())?;
        let options = RecordBatchOptions::new().with_row_count(Some(count));
        let batch =
            RecordBatch::try_new_with_options(self.input.clone(), columns.clone(), &options)?;
        let times = micros(&self.time.evaluate(&batch)?.into_array(count)?)?;
        let from = previous.map_or(0, |b| self.final_rows(&times, b));
        let to = self.final_rows(&times, bound);
        if to <= from {
            return Ok(None);
        }
        columns.extend(evaluate_functions(&self.functions, &batch)?);
        let emitted: Vec<ArrayRef> = columns.iter().map(|c| c.slice(from, to - from)).collect();

        let mut pending = SpineDelta::default();
        for row in from..to {
            pending.push(&[&sortable_i64(times.value(row)), prefix], -1);
        }
        pending.apply_to(&mut self.pending)?;

        let forget = self.forgettable(&times, to, bound);
        let mut end = 0;
        let (mut gone, mut weights) = (Vec::new(), Vec::new());
        for (entry, copies) in kept {
            end += copies;
            if end > forget {
                break;
            }
            gone.push(entry);
            weights.push(-(copies as i64));
        }
        self.rows.adjust(&gone, &weights)?;
        Ok(Some(emitted))
    }

    /// `pieces` (output columns) as one batch of inserts.
    fn inserts(&self, pieces: Vec<Vec<ArrayRef>>) -> Result<ChangeBatch> {
        let width = self.schema.fields().len();
        let mut columns = Vec::with_capacity(width);
        for column in 0..width {
            let parts: Vec<&dyn Array> = pieces.iter().map(|p| p[column].as_ref()).collect();
            columns.push(concat(&parts)?);
        }
        let rows = pieces
            .iter()
            .map(|p| p.first().map_or(0, |c| c.len()))
            .sum();
        Ok(ChangeBatch::inserts(batch_in(&self.schema, columns, rows)?))
    }
}

/// The time and partition key of an entry of [`ClosingOverWindow::pending`].
fn pending_parts(entry: &[u8]) -> Result<(i64, &[u8])> {
    let (time, partition) = entry.split_at_checked(8).ok_or_else(|| {
        SluiceError::Internal("a window's pending index holds a malformed entry".into())
    })?;
    let time: [u8; 8] = time
        .try_into()
        .map_err(|_| SluiceError::Internal("a malformed pending entry".into()))?;
    Ok((from_sortable_i64(time), partition))
}

impl Operator for ClosingOverWindow {
    /// Keeps the change's rows until they are final; emits nothing.
    fn process(
        &mut self,
        _input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let entries = self.rows.entries(change, errors)?;
        // The time key is the first order key.
        let times = micros(entries.order_keys[0].as_ref())?;
        let (mut kept, mut weights, mut pending) = (Vec::new(), Vec::new(), SpineDelta::default());
        for (row, entry) in entries.entries.into_iter().enumerate() {
            let time = times.is_valid(row).then(|| times.value(row));
            if let (Some(time), Some(bound)) = (time, self.bound)
                && time < bound
            {
                self.late += 1;
                continue;
            }
            let weight = entries.weights[row];
            if let Some(time) = time {
                let partition = &entries.touched[entries.partition_of[row]];
                pending.push(&[&sortable_i64(time), partition], weight);
            }
            kept.push(entry);
            weights.push(weight);
        }
        pending.apply_to(&mut self.pending)?;
        self.rows.adjust(&kept, &weights)?;
        Ok(ChangeBatch::inserts(RecordBatch::new_empty(
            self.schema.clone(),
        )))
    }

    fn advance_watermark(&mut self, watermark: i64) -> Result<Option<ChangeBatch>> {
        let Some(bound) = self.closing.at(watermark)? else {
            return Ok(None);
        };
        if self.bound.is_some_and(|b| bound <= b) {
            return Ok(None);
        }
        let previous = self.bound.replace(bound);
        let mut partitions: Vec<Vec<u8>> = Vec::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::default();
        for (entry, _) in self.pending.iter() {
            let (time, partition) = pending_parts(entry)?;
            if time >= bound {
                break;
            }
            if seen.insert(partition.to_vec()) {
                partitions.push(partition.to_vec());
            }
        }
        let mut pieces = Vec::new();
        for partition in partitions {
            pieces.extend(self.emit(&partition, previous, bound)?);
        }
        if pieces.is_empty() {
            return Ok(None);
        }
        self.inserts(pieces).map(Some)
    }

    /// Learns the bound after a restore: the rows final at it were emitted before the
    /// checkpoint.
    fn evict_closed(&mut self, watermark: i64) -> Result<()> {
        if let Some(bound) = self.closing.at(watermark)?
            && self.bound.is_none_or(|b| bound > b)
        {
            self.bound = Some(bound);
        }
        Ok(())
    }

    fn late_rows(&self) -> u64 {
        self.late
    }

    fn partitioning(&self, _input: usize) -> Partitioning {
        self.rows.partitioning()
    }

    fn describe(&self) -> String {
        let (partition, order) = self.rows.describe_keys();
        let functions: Vec<&str> = self.functions.iter().map(|f| f.name()).collect();
        let kept = match self.reach.back {
            None => "every row of a partition".to_string(),
            Some(span) => {
                let time = span
                    .micros
                    .map_or(String::new(), |c| format!(" and the rows within {c} µs"));
                format!("{} emitted row(s){time} per partition", span.rows)
            }
        };
        format!(
            "ClosingOverWindow: [{}] partitioned by [{partition}] ordered by [{order}], \
             emits rows once {} closes them, keeps {kept}",
            functions.join(", "),
            self.closing
        )
    }

    fn state_size(&self) -> usize {
        self.rows.bytes() + self.pending.bytes()
    }

    fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        vec![("rows", self.rows.spine()), ("pending", &mut self.pending)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{Multiset, Xorshift, change_of};
    use crate::dataflow::watermark::testing::shifted;
    use datafusion::arrow::compute::SortOptions;
    use datafusion::arrow::datatypes::{Field, TimeUnit};
    use datafusion::arrow::util::display::array_value_to_string;
    use datafusion::common::DFSchema;
    use datafusion::execution::context::ExecutionProps;
    use datafusion::functions_aggregate::sum::sum_udaf;
    use datafusion::functions_window::expr_fn::{lag, lead, row_number};
    use datafusion::logical_expr::expr::{WindowFunction, WindowFunctionDefinition};
    use datafusion::logical_expr::{
        Expr, ExprFunctionExt, WindowFrame, WindowFrameBound, WindowFrameUnits, col,
    };
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_planner::create_window_expr;
    use datafusion::scalar::ScalarValue;

    /// `(g, t, v)`: t in µs, v never NULL.
    type Row = (i64, i64, i64);

    fn input() -> Schema {
        Schema::new(vec![
            Field::new("g", DataType::Int64, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("v", DataType::Int64, true),
        ])
    }

    /// The window functions a test runs, and how far they read.
    #[derive(Clone, Copy)]
    enum Functions {
        /// `lag(v)`, `lead(v)`, the sum of v over 2 preceding rows and the current.
        Bounded,
        /// `row_number()` and the running sum of v.
        Unbounded,
    }

    fn operator(functions: Functions) -> ClosingOverWindow {
        let window = |f: Expr| {
            f.partition_by(vec![col("g")])
                .order_by(vec![col("t").sort(true, false)])
        };
        let sum = |frame: WindowFrame| {
            window(Expr::from(WindowFunction::new(
                WindowFunctionDefinition::AggregateUDF(sum_udaf()),
                vec![col("v")],
            )))
            .window_frame(frame)
            .build()
            .unwrap()
        };
        let rows_frame = |start| {
            WindowFrame::new_bounds(WindowFrameUnits::Rows, start, WindowFrameBound::CurrentRow)
        };
        let (exprs, reach) = match functions {
            Functions::Bounded => (
                vec![
                    window(lag(col("v"), Some(1), None)).build().unwrap(),
                    window(lead(col("v"), Some(1), None)).build().unwrap(),
                    sum(rows_frame(WindowFrameBound::Preceding(
                        ScalarValue::UInt64(Some(2)),
                    ))),
                ],
                Reach {
                    back: Some(Span {
                        rows: 2,
                        micros: None,
                    }),
                    ahead: Span {
                        rows: 1,
                        micros: None,
                    },
                },
            ),
            Functions::Unbounded => (
                vec![
                    window(row_number()).build().unwrap(),
                    sum(rows_frame(WindowFrameBound::Preceding(
                        ScalarValue::UInt64(None),
                    ))),
                ],
                Reach {
                    back: None,
                    ahead: Span::default(),
                },
            ),
        };
        let input = input();
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
        ClosingOverWindow::try_new(
            &input,
            vec![Arc::new(Column::new("g", 0))],
            vec![(
                Arc::new(Column::new("t", 1)),
                SortOptions {
                    descending: false,
                    nulls_first: false,
                },
            )],
            shifted(0),
            reach,
            functions,
            Arc::new(Schema::new(fields)),
        )
        .unwrap()
    }

    fn push(op: &mut ClosingOverWindow, rows: &[Row], weights: &[i64]) {
        let data = RecordBatch::try_new(
            Arc::new(input()),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(
                    datafusion::arrow::array::TimestampMicrosecondArray::from_iter_values(
                        rows.iter().map(|r| r.1),
                    ),
                ),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .unwrap();
        let out = op
            .process(0, &change_of(data, weights), &mut ErrorLog::default())
            .unwrap();
        assert_eq!(out.num_rows(), 0, "rows are only emitted on close");
    }

    fn time(micros: i64) -> String {
        let array = datafusion::arrow::array::TimestampMicrosecondArray::from(vec![micros]);
        array_value_to_string(&array, 0).unwrap()
    }

    fn show(v: Option<i64>) -> String {
        v.map_or("NULL".to_string(), |v| v.to_string())
    }

    /// The rows final at `bound` over the multiset `live`, computed from scratch over
    /// whole partitions (ties in t ordered by v, as the rows' encodings order them).
    fn expected(functions: Functions, live: &[(Row, i64)], bound: i64) -> Vec<String> {
        let mut groups: Vec<i64> = live.iter().map(|((g, _, _), _)| *g).collect();
        groups.sort();
        groups.dedup();
        let mut out = Vec::new();
        for g in groups {
            let mut part: Vec<Row> = Vec::new();
            for (row, copies) in live.iter().filter(|((rg, _, _), _)| *rg == g) {
                part.extend(std::iter::repeat_n(*row, (*copies).max(0) as usize));
            }
            part.sort_by_key(|(_, t, v)| (*t, *v));
            let closed = part.iter().filter(|(_, t, _)| *t < bound).count();
            let ahead = match functions {
                Functions::Bounded => 1,
                Functions::Unbounded => 0,
            };
            for (i, (g, t, v)) in part.iter().enumerate().take(closed.saturating_sub(ahead)) {
                let values = match functions {
                    Functions::Bounded => {
                        let previous = i.checked_sub(1).map(|p| part[p].2);
                        let next = part.get(i + 1).map(|n| n.2);
                        let moving: i64 = part[i.saturating_sub(2)..=i].iter().map(|r| r.2).sum();
                        vec![show(previous), show(next), moving.to_string()]
                    }
                    Functions::Unbounded => {
                        let running: i64 = part[..=i].iter().map(|r| r.2).sum();
                        vec![(i + 1).to_string(), running.to_string()]
                    }
                };
                out.push(format!("{g},{},{v},{}", time(*t), values.join(",")));
            }
        }
        out.sort();
        out
    }

    /// Kept rows, copies counted.
    fn kept(op: &mut ClosingOverWindow) -> i64 {
        op.rows.spine().iter().map(|(_, copies)| copies).sum()
    }

    /// A random stream, roughly in time order: late rows, deletes of rows not yet
    /// closed, watermark steps. After every step the rows emitted are exactly the
    /// rows final so far over the on-time rows, each once.
    fn follows_a_random_stream(functions: Functions, seed: u64) -> ClosingOverWindow {
        let mut rng = Xorshift(seed);
        let mut op = operator(functions);
        let mut view = Multiset::default();
        let mut live: Vec<(Row, i64)> = Vec::new();
        let mut bound = i64::MIN;
        let mut late = 0;
        for step in 0..400 {
            let (mut rows, mut weights) = (Vec::new(), Vec::new());
            for _ in 0..1 + rng.below(4) {
                let open: Vec<usize> = (0..live.len()).filter(|&i| live[i].0.1 >= bound).collect();
                if !open.is_empty() && rng.below(4) == 0 {
                    let i = open[rng.below(open.len() as u64) as usize];
                    rows.push(live[i].0);
                    weights.push(-1);
                    live[i].1 -= 1;
                } else {
                    let t = step / 2 + rng.below(8) as i64 - 3;
                    let row = (rng.below(3) as i64, t, rng.below(5) as i64);
                    rows.push(row);
                    weights.push(1);
                    if t < bound {
                        late += 1;
                    } else {
                        match live.iter_mut().find(|(r, _)| *r == row) {
                            Some(slot) => slot.1 += 1,
                            None => live.push((row, 1)),
                        }
                    }
                }
                live.retain(|(_, copies)| *copies > 0);
            }
            push(&mut op, &rows, &weights);
            if rng.below(3) == 0 {
                let watermark = step / 2 - rng.below(3) as i64;
                if let Some(out) = op.advance_watermark(watermark).unwrap() {
                    assert!(out.weights().values().iter().all(|w| *w == 1));
                    view.apply(&out);
                }
                bound = bound.max(watermark);
            }
            assert_eq!(
                view.rows(),
                expected(functions, &live, bound),
                "step {step}"
            );
        }
        assert_eq!(op.late_rows(), late);
        op
    }

    #[test]
    fn bounded_frames_emit_final_rows_and_forget_what_no_frame_reads() {
        let mut op = follows_a_random_stream(Functions::Bounded, 0x2545_f491_4f6c_dd1d);
        // Per partition: the rows not yet final (about the last 4 µs of 3 rows per
        // step) and the 2 rows the next one's frame reads.
        let kept = kept(&mut op);
        assert!(kept < 60, "{kept} rows kept");
    }

    #[test]
    fn ranks_and_running_sums_emit_final_rows_and_keep_their_partitions() {
        let mut op = follows_a_random_stream(Functions::Unbounded, 0x9e37_79b9_7f4a_7c15);
        assert!(kept(&mut op) > 300);
    }

    #[test]
    fn a_restored_operator_learns_its_bound_and_emits_each_row_once() {
        let mut op = operator(Functions::Bounded);
        let rows = [(1, 10, 1), (1, 20, 2), (1, 30, 3), (1, 40, 4)];
        push(&mut op, &rows, &[1, 1, 1, 1]);
        let first = op.advance_watermark(35).unwrap().unwrap();
        assert_eq!(
            first.num_rows(),
            2,
            "10 and 20: 30 waits for the row after it"
        );
        // A restore: the same spines, the bound learnt from the view's watermark.
        let mut restored = operator(Functions::Bounded);
        for ((_, mine), (_, theirs)) in restored.spines().into_iter().zip(op.spines()) {
            *mine = theirs.clone();
        }
        restored.evict_closed(35).unwrap();
        let next = restored.advance_watermark(50).unwrap().unwrap();
        assert_eq!(
            crate::dataflow::testing::rows_of(&next),
            vec![format!("1,{},3,2,4,6 x1", time(30))]
        );
    }
}

//! [`Memo`]: remembers what an operator's expressions gave for each live input row,
//! so that the row's retraction carries exactly the values its insertion did; and
//! [`Evaluation`], how an operator evaluates its expressions (directly or through a
//! memo).
//!
//! Why: an operator maintains `op(a + b) = op(a) + op(b)` only if an expression gives
//! a row the same value whenever it is evaluated. Some do not — `PREDICT` of a
//! dynamically quantized model scales activations over the whole batch, so a row
//! predicts differently next to other rows; a retraction evaluated afresh would
//! remove a value that was never inserted. Over an input that can retract rows, such
//! expressions are evaluated once per inserted row and the result remembered:
//!
//! ```text
//!   change ──▶ retraction (w < 0): look the row up, emit the remembered values,
//!              │                   count −|w|, forget the row at 0
//!              └ insertion  (w > 0): remembered? emit those values, count +w;
//!                                    else evaluate (with the batch's other new
//!                                    rows) and remember
//! ```
//!
//! A change is sorted by row once: a row's copies in the change become adjacent, the
//! memo is read forward, and the entries to remember come out in key order. A
//! change's negative weights remove rows that existed before it ([`ChangeBatch`]'s
//! invariant), so retractions take from the count remembered before the change; an
//! update (−old, +new) in one change, a row deleted and inserted again (it keeps its
//! values) and a row inserted several times (its copies share the first one's
//! values) all work. A row whose evaluation fails is not remembered: its error is
//! recorded, and its retraction, found nowhere, is evaluated again and cancels the
//! error.
//!
//! The memo is operator state, held in a [`Spine`] of the state layer: one entry per
//! distinct live input row, holding the row's encoding, its values' encoding and its
//! count.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, AsArray, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::change::row_codec;
use super::operator::{ErrorLog, evaluate_rows, evaluate_rows_masked, filter_change};
use super::state::{Spine, SpineDelta};
use crate::error::{Result, SluiceError};

/// How an operator evaluates its expressions over a change's rows.
#[derive(Debug, Default)]
pub enum Evaluation {
    /// Afresh for every change: right when every expression is a pure function of its
    /// row, or when the input never retracts a row.
    #[default]
    Direct,
    /// Through a memo (see the module docs).
    Memoized(Memo),
}

impl Evaluation {
    /// Memoized evaluation of `exprs` over rows shaped like `input`.
    pub fn memoized(exprs: &[Arc<dyn PhysicalExpr>], input: &Schema) -> Result<Self> {
        Ok(Evaluation::Memoized(Memo::try_new(exprs, input)?))
    }

    /// Evaluates `exprs` (the same ones on every call) over the change's rows; rows
    /// that fail are recorded in `errors` and left out. Returns the surviving change
    /// and its evaluated columns, as [`evaluate_rows`] does.
    pub fn rows(
        &mut self,
        exprs: &[Arc<dyn PhysicalExpr>],
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<(ChangeBatch, Vec<ArrayRef>)> {
        match self {
            Evaluation::Direct => evaluate_rows(exprs, change, errors),
            Evaluation::Memoized(memo) => memo.rows(exprs, change, errors),
        }
    }

    /// Bytes held by the memo; 0 when evaluating directly.
    pub fn state_size(&self) -> usize {
        match self {
            Evaluation::Direct => 0,
            Evaluation::Memoized(memo) => memo.entries.bytes(),
        }
    }

    /// The memo's entries, when there is a memo (see [`Operator::spines`]).
    ///
    /// [`Operator::spines`]: super::operator::Operator::spines
    pub fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        match self {
            Evaluation::Direct => Vec::new(),
            Evaluation::Memoized(memo) => vec![("memo", &mut memo.entries)],
        }
    }

    /// The operator name's suffix in `EXPLAIN`: ` (memoized)` or nothing.
    pub fn label(&self) -> &'static str {
        match self {
            Evaluation::Direct => "",
            Evaluation::Memoized(_) => " (memoized)",
        }
    }
}

/// Input row → the values its expressions gave when it was inserted.
///
/// Held in a [`Spine`]: each live input row as its encoding followed by its values'
/// encoding, weighted by the row's live multiplicity. Invariant: an input row has at
/// most one entry, with a positive weight. Arrow's row encoding of a row is never a
/// prefix of another row's, so a row's entry is the one its encoding prefixes.
#[derive(Debug)]
pub struct Memo {
    /// Encodes input rows (the key).
    rows: RowConverter,
    /// Encodes and decodes the expressions' values.
    values: RowConverter,
    entries: Spine,
}

/// The encoded values each row of a change carries out, in one buffer; a row without
/// values (failed) has none. Rows carrying the same values share one copy.
struct Carried {
    bytes: Vec<u8>,
    spans: Vec<Option<Span>>,
}

/// Where one set of values lies in [`Carried::bytes`].
type Span = (usize, usize);

impl Carried {
    fn new(rows: usize) -> Carried {
        Carried {
            bytes: Vec::new(),
            spans: vec![None; rows],
        }
    }

    /// Adds a copy of `values`, carried by no row yet.
    fn add(&mut self, values: &[u8]) -> Span {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(values);
        (start, self.bytes.len())
    }

    fn assign(&mut self, row: usize, span: Option<Span>) {
        self.spans[row] = span;
    }

    fn bytes(&self, (start, end): Span) -> &[u8] {
        &self.bytes[start..end]
    }

    fn get(&self, row: usize) -> Option<&[u8]> {
        self.spans[row].map(|span| self.bytes(span))
    }
}

impl Memo {
    /// A memo for `exprs` evaluated over rows shaped like `input`.
    pub fn try_new(exprs: &[Arc<dyn PhysicalExpr>], input: &Schema) -> Result<Self> {
        let values = exprs
            .iter()
            .map(|e| Ok(SortField::new(e.data_type(input)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Memo {
            rows: row_codec(input.fields())?,
            values: RowConverter::new(values)?,
            entries: Spine::new(),
        })
    }

    /// Distinct live input rows remembered. Reads the whole memo.
    pub fn len(&self) -> usize {
        self.entries.distinct_keys()
    }

    /// True when no row is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// For each of `probes` (distinct, ascending), the values remembered for it and
    /// its live multiplicity.
    fn lookup<'a>(&'a self, probes: &[&[u8]]) -> Vec<Option<(&'a [u8], i64)>> {
        let mut found = vec![None; probes.len()];
        for (probe, entry, count) in self.entries.prefix_matches(probes) {
            let key_len = probes[probe as usize].len();
            found[probe as usize].get_or_insert((&entry[key_len..], count));
        }
        found
    }

    fn rows(
        &mut self,
        exprs: &[Arc<dyn PhysicalExpr>],
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<(ChangeBatch, Vec<ArrayRef>)> {
        let keys = RowKeys::of(&self.rows, change)?;
        let weights = change.weights().values();
        let rows = change.num_rows();
        // One sort of the change's rows by key (row order among equal keys): a row's
        // copies become adjacent, the lookups walk the memo forward, and the entries
        // to remember come out in key order.
        let mut order: Vec<usize> = (0..rows).collect();
        order.sort_unstable_by(|&a, &b| keys.key(a).cmp(keys.key(b)).then(a.cmp(&b)));
        let groups: Vec<&[usize]> = order
            .chunk_by(|&a, &b| keys.key(a) == keys.key(b))
            .collect();
        let probes: Vec<&[u8]> = groups.iter().map(|g| keys.key(g[0])).collect();
        let found = self.lookup(&probes);

        // Which rows need a fresh value, and how each remembered row's count moves.
        // Retractions remove copies that existed before the change ([`ChangeBatch`]'s
        // invariant), so they take from the count found; a retraction beyond it (its
        // insertion failed, or predates the memo) is evaluated afresh.
        let mut fresh_needed = vec![false; rows];
        let mut moved = vec![0i64; groups.len()];
        for ((group, found), moved) in groups.iter().zip(&found).zip(&mut moved) {
            let Some((_, count)) = found else {
                group.iter().for_each(|&row| fresh_needed[row] = true);
                continue;
            };
            let mut left = *count;
            for &row in *group {
                let weight = weights[row];
                if weight > 0 {
                    *moved += weight;
                } else if left > 0 {
                    let taken = (-weight).min(left);
                    left -= taken;
                    *moved -= taken;
                } else {
                    fresh_needed[row] = true;
                }
            }
        }
        let misses: Vec<usize> = (0..rows).filter(|&row| fresh_needed[row]).collect();
        let fresh = self.evaluate(exprs, change, &misses, errors)?;

        // Every row's values; the entries to remember, in key order.
        let mut out = Carried::new(rows);
        let mut remember = SpineDelta::default();
        for ((group, found), moved) in groups.iter().zip(&found).zip(&moved) {
            let key = keys.key(group[0]);
            let remembered = found.map(|(values, _)| out.add(values));
            // Copies inserted afresh in this change share the first one's values.
            let mut inserted = None;
            let mut inserted_weight = 0;
            for &row in *group {
                if !fresh_needed[row] {
                    out.assign(row, remembered);
                } else if let Some(values) = fresh.values(row) {
                    if weights[row] < 0 {
                        // Nothing to forget: the fresh value is the best there is.
                        let span = out.add(values);
                        out.assign(row, Some(span));
                    } else {
                        let span = *inserted.get_or_insert_with(|| out.add(values));
                        out.assign(row, Some(span));
                        inserted_weight += weights[row];
                    }
                }
            }
            if let Some(span) = remembered
                && *moved != 0
            {
                remember.push(&[key, out.bytes(span)], *moved);
            }
            if let Some(span) = inserted {
                remember.push(&[key, out.bytes(span)], inserted_weight);
            }
        }
        remember.apply_to(&mut self.entries)?;

        let survivors = if out.spans.iter().all(Option::is_some) {
            change.clone()
        } else {
            let survived = BooleanArray::from_iter(out.spans.iter().map(|v| Some(v.is_some())));
            filter_change(change, &survived)?
        };
        let parser = self.values.parser();
        let columns = self
            .values
            .convert_rows((0..rows).filter_map(|row| out.get(row).map(|v| parser.parse(v))))?;
        Ok((survivors, columns))
    }

    /// Evaluates the rows `misses` (ascending) of `change` together; rows that fail
    /// are recorded in `errors` and get no values.
    fn evaluate(
        &self,
        exprs: &[Arc<dyn PhysicalExpr>],
        change: &ChangeBatch,
        misses: &[usize],
        errors: &mut ErrorLog,
    ) -> Result<Fresh> {
        let mut at = vec![None; change.num_rows()];
        if misses.is_empty() {
            return Ok(Fresh { values: None, at });
        }
        let subset = if misses.len() == change.num_rows() {
            change.clone()
        } else {
            let indices = UInt32Array::from_iter_values(misses.iter().map(|&r| r as u32));
            let columns = change
                .data()
                .columns()
                .iter()
                .map(|c| take(c, &indices, None))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            // The row count is explicit: a change may have no columns.
            let options = RecordBatchOptions::new().with_row_count(Some(misses.len()));
            let data = RecordBatch::try_new_with_options(change.schema(), columns, &options)?;
            let weights = take(change.weights(), &indices, None)?;
            ChangeBatch::try_new(data, weights.as_primitive().clone())?
        };
        let (mask, _, columns) = evaluate_rows_masked(exprs, &subset, errors)?;
        let survivors = misses
            .iter()
            .enumerate()
            .filter(|(i, _)| mask.as_ref().is_none_or(|m| m.value(*i)))
            .map(|(_, &row)| row);
        for (i, row) in survivors.enumerate() {
            at[row] = Some(i);
        }
        let values = self.values.convert_columns(&columns)?;
        Ok(Fresh {
            values: Some(values),
            at,
        })
    }
}

/// The values of the rows evaluated afresh in a change.
struct Fresh {
    values: Option<Rows>,
    /// Per row of the change: where its values are in `values` (none when the row
    /// was not evaluated, or failed).
    at: Vec<Option<usize>>,
}

impl Fresh {
    fn values(&self, row: usize) -> Option<&[u8]> {
        let i = self.at[row]?;
        self.values.as_ref().map(|values| values.row(i).data())
    }
}

/// The input rows' encodings. A row with no columns encodes as no bytes (the row
/// format cannot count rows of zero columns).
struct RowKeys(Option<Rows>);

impl RowKeys {
    fn of(codec: &RowConverter, change: &ChangeBatch) -> Result<Self> {
        let columns = change.data().columns();
        if columns.is_empty() {
            return Ok(RowKeys(None));
        }
        let rows = codec.convert_columns(columns)?;
        if rows.num_rows() != change.num_rows() {
            return Err(SluiceError::Internal("memo keys lost rows".into()));
        }
        Ok(RowKeys(Some(rows)))
    }

    fn key(&self, row: usize) -> &[u8] {
        match &self.0 {
            Some(rows) => rows.row(row).data(),
            None => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{batch, change_of, rows_of};
    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::ColumnarValue;
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_expr::expressions::Literal;
    use datafusion::scalar::ScalarValue;
    use std::fmt;
    use std::hash::Hash;

    /// `a + (number of rows in the batch) * 100`: a batch-dependent expression, like a
    /// dynamically quantized model. Fails (22012) where `a` is 0.
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct PlusBatchSize;

    impl fmt::Display for PlusBatchSize {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a + 100 * batch_rows")
        }
    }

    impl PhysicalExpr for PlusBatchSize {
        fn data_type(&self, _: &Schema) -> datafusion::error::Result<DataType> {
            Ok(DataType::Int64)
        }
        fn nullable(&self, _: &Schema) -> datafusion::error::Result<bool> {
            Ok(true)
        }
        fn evaluate(
            &self,
            batch: &datafusion::arrow::array::RecordBatch,
        ) -> datafusion::error::Result<ColumnarValue> {
            let a = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            if a.iter().any(|v| v == Some(0)) {
                return Err(datafusion::error::DataFusionError::External(Box::new(
                    SluiceError::coded("22012", "division by zero"),
                )));
            }
            let n = batch.num_rows() as i64;
            let out: Int64Array = a.iter().map(|v| v.map(|v| v + 100 * n)).collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }
        fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
            vec![]
        }
        fn with_new_children(
            self: Arc<Self>,
            _: Vec<Arc<dyn PhysicalExpr>>,
        ) -> datafusion::error::Result<Arc<dyn PhysicalExpr>> {
            Ok(self)
        }
        fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(self, f)
        }
    }

    fn exprs() -> Vec<Arc<dyn PhysicalExpr>> {
        vec![Arc::new(Column::new("a", 0)), Arc::new(PlusBatchSize)]
    }

    fn memoized() -> Evaluation {
        let schema = batch(&[("a", &[])]).schema();
        Evaluation::memoized(&exprs(), &schema).unwrap()
    }

    fn memo_len(eval: &Evaluation) -> usize {
        let Evaluation::Memoized(m) = eval else {
            unreachable!()
        };
        m.len()
    }

    fn run(eval: &mut Evaluation, values: &[Option<i64>], weights: &[i64]) -> Vec<String> {
        let mut errors = ErrorLog::default();
        run_logged(eval, values, weights, &mut errors)
    }

    fn run_logged(
        eval: &mut Evaluation,
        values: &[Option<i64>],
        weights: &[i64],
        errors: &mut ErrorLog,
    ) -> Vec<String> {
        let change = change_of(batch(&[("a", values)]), weights);
        let (change, columns) = eval.rows(&exprs(), &change, errors).unwrap();
        let schema = batch(&[("a", &[]), ("p", &[])]).schema();
        let data = datafusion::arrow::array::RecordBatch::try_new(schema, columns).unwrap();
        rows_of(&ChangeBatch::try_new(data, change.weights().clone()).unwrap())
    }

    #[test]
    fn direct_evaluation_of_a_batch_dependent_expression_retracts_what_was_never_inserted() {
        // What the memo protects against: 1 inserted alone gets 101, deleted next to
        // another row it gets 201.
        let mut direct = Evaluation::Direct;
        assert_eq!(run(&mut direct, &[Some(1)], &[1]), ["1,101 x1"]);
        assert_eq!(
            run(&mut direct, &[Some(1), Some(2)], &[-1, 1]),
            ["1,201 x-1", "2,202 x1"]
        );
    }

    #[test]
    fn retractions_carry_the_inserted_values_and_forget_them() {
        let mut memo = memoized();
        assert_eq!(run(&mut memo, &[Some(1)], &[1]), ["1,101 x1"]);
        assert_eq!(
            run(&mut memo, &[Some(1), Some(2)], &[-1, 1]),
            ["1,101 x-1", "2,102 x1"],
            "2 is evaluated alone: the retraction is not evaluated"
        );
        let Evaluation::Memoized(m) = &memo else {
            unreachable!()
        };
        assert_eq!(m.len(), 1, "only 2 is live");
        assert!(memo.state_size() > 0);
        assert_eq!(run(&mut memo, &[Some(2)], &[-1]), ["2,102 x-1"]);
        assert_eq!(memo.state_size(), 0, "nothing is live");
    }

    #[test]
    fn rows_inserted_several_times_keep_their_first_value_until_the_last_copy_goes() {
        let mut memo = memoized();
        // Twice in one change (evaluated together), then once more alone.
        assert_eq!(
            run(&mut memo, &[Some(5), Some(5), Some(6)], &[1, 2, 1]),
            ["5,305 x1", "5,305 x2", "6,306 x1"]
        );
        assert_eq!(run(&mut memo, &[Some(5)], &[1]), ["5,305 x1"]);
        // An update in one change: the old row's values go, the new row is evaluated
        // with the change's other new rows.
        assert_eq!(
            run(&mut memo, &[Some(6), Some(7), Some(8)], &[-1, 1, 1]),
            ["6,306 x-1", "7,207 x1", "8,208 x1"]
        );
        assert_eq!(run(&mut memo, &[Some(5)], &[-3]), ["5,305 x-3"]);
        assert_eq!(
            run(&mut memo, &[Some(5)], &[-1]),
            ["5,305 x-1"],
            "last copy"
        );
        assert_eq!(run(&mut memo, &[Some(5)], &[1]), ["5,105 x1"], "forgotten");
        // Deleted and inserted again in one change: the row keeps its values (the
        // view sees no change for it); only 9 is evaluated.
        assert_eq!(
            run(&mut memo, &[Some(5), Some(5), Some(9)], &[-1, 1, 1]),
            ["5,105 x-1", "5,105 x1", "9,109 x1"]
        );
        assert_eq!(run(&mut memo, &[Some(5)], &[-1]), ["5,105 x-1"]);
        assert_eq!(memo_len(&memo), 3, "7, 8 and 9 are live");
    }

    #[test]
    fn failing_rows_are_logged_not_remembered_and_their_retraction_cancels_the_error() {
        let mut memo = memoized();
        let mut errors = ErrorLog::default();
        let out = run_logged(
            &mut memo,
            &[Some(0), Some(3), None],
            &[1, 1, 1],
            &mut errors,
        );
        // The batch fails, so rows are evaluated one by one and the survivors together.
        assert_eq!(out, ["3,203 x1", "NULL,NULL x1"]);
        assert_eq!(errors.first().map(|e| e.sqlstate()), Some("22012"));
        let out = run_logged(&mut memo, &[Some(0), Some(3)], &[-1, -1], &mut errors);
        assert_eq!(out, ["3,203 x-1"]);
        assert!(errors.is_empty());
    }

    #[test]
    fn rows_without_columns_share_one_entry() {
        let exprs: Vec<Arc<dyn PhysicalExpr>> =
            vec![Arc::new(Literal::new(ScalarValue::Int64(Some(7))))];
        let mut memo = Evaluation::memoized(&exprs, &Schema::empty()).unwrap();
        let data = datafusion::arrow::array::RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(2)),
        )
        .unwrap();
        let change = change_of(data, &[1, 2]);
        let mut errors = ErrorLog::default();
        let (_, columns) = memo.rows(&exprs, &change, &mut errors).unwrap();
        assert_eq!(columns[0].len(), 2);
        let Evaluation::Memoized(m) = &memo else {
            unreachable!()
        };
        assert_eq!(m.len(), 1);
    }
}

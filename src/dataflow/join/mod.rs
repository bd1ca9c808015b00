//! [`Join`]: an equi-join maintained incrementally — inner, left, right and full outer
//! joins, semi / anti / mark joins (`IN`, `EXISTS`, `NOT EXISTS`), `NOT IN`, and the
//! `ALL` forms of `INTERSECT` and `EXCEPT`.
//!
//! Each side keeps its rows indexed by join key: a [`Spine`] of the key's encoding
//! followed by the row's, read by key prefix. For an inner join a
//! change on one side is joined with the other side's current rows, then folded into
//! its own side:
//!
//! ```text
//!   Δ(L ⋈ R) = ΔL ⋈ R  +  (L + ΔL) ⋈ ΔR
//! ```
//!
//! so a change on both sides at once (a self-join) is counted exactly once. Work is
//! proportional to the change times the matching rows, never to the whole state.
//! Rows with a NULL key match nothing, as in SQL (except for `INTERSECT`/`EXCEPT`,
//! which compare rows as `DISTINCT` does). A residual `ON` condition is applied to the
//! joined rows.
//!
//! The other kinds show a side's rows by their number of matches; see [`counted`].
//! Rows that no row still to come can match are forgotten by the watermark; see
//! [`expiry`]. A temporal join looks its left rows up in the right side as it is when
//! they arrive, and never revisits them; see [`temporal`].

mod counted;
mod expiry;
mod temporal;

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, RecordBatchOptions,
    UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::change::row_codec;
use super::exchange::Partitioning;
use super::operator::{ErrorLog, Operator, canonical_floats, evaluate_rows, filter_change};
use super::state::{Spine, SpineDelta};
use super::watermark::Closing;
use crate::error::{Result, SluiceError};
use counted::NotIn;
pub use expiry::Expiry;

/// A row-encoded join key, or `None` for a key with a NULL (which matches nothing).
type Key = Option<Box<[u8]>>;

/// One side's rows, by join key.
#[derive(Debug)]
struct Side {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    rows: RowConverter,
    /// Each stored row as its key's encoding followed by its own, weighted by its
    /// multiplicity. Arrow's row encoding of a key is never a prefix of another
    /// key's, so the rows with a key are exactly those prefixed by it.
    index: Spine,
    /// For the kinds that show this side's rows by their matches (see
    /// [`Join::counts`]): each stored row (its own encoding) weighted by its number
    /// of matches, the sum of the multiplicities of the other side's rows it matches
    /// (absent: none).
    matches: Option<Spine>,
    /// When this side's stored rows are forgotten (see [`expiry`]).
    expiry: Option<Expiry>,
    /// The rows of this side that arrive late: those the other side's [`Expiry`]
    /// counts on never arriving. Dropped and counted.
    late: Option<Closing>,
}

impl Side {
    /// The multiplicity of `row`, stored with `key`.
    fn multiplicity(&self, key: &[u8], row: &[u8]) -> i64 {
        self.index.get(&[key, row].concat())
    }

    /// The number of matches of stored `row` (0 when this side keeps no counts).
    fn matches_of(&self, row: &[u8]) -> i64 {
        self.matches.as_ref().map_or(0, |m| m.get(row))
    }
}

/// Which side a change arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinSide {
    /// The left input.
    Left,
    /// The right input.
    Right,
}

impl JoinSide {
    fn other(self) -> JoinSide {
        match self {
            JoinSide::Left => JoinSide::Right,
            JoinSide::Right => JoinSide::Left,
        }
    }
}

/// What a join outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Every matching (left, right) pair.
    Inner,
    /// The left rows with a match (`IN`, `EXISTS`).
    LeftSemi,
    /// The left rows without a match (`NOT EXISTS`).
    LeftAnti,
    /// Every left row, with a last `mark` column saying whether it has a match
    /// (`IN` and `EXISTS` under `OR`).
    LeftMark,
    /// The matching pairs, and each left row without a match beside NULLs
    /// (`LEFT JOIN`).
    LeftOuter,
    /// The matching pairs, and each row of either side without a match beside NULLs
    /// (`FULL JOIN`).
    FullOuter,
    /// `x NOT IN (subquery)` on one key: the left rows whose key differs from every
    /// right key, with SQL's NULL rules — every left row while the right side is
    /// empty, none while it holds a NULL key, never a left row whose key is NULL.
    LeftNotIn,
    /// `INTERSECT ALL` (keys: every column, NULLs equal): each left row as many times
    /// as it appears on both sides (the smaller multiplicity).
    IntersectAll,
    /// `EXCEPT ALL` (keys: every column, NULLs equal): each left row as many times as
    /// it appears on the left more than on the right.
    ExceptAll,
}

/// The incremental join. See the module docs.
#[derive(Debug)]
pub struct Join {
    kind: JoinKind,
    left: Side,
    right: Side,
    key_codec: Option<RowConverter>,
    /// NULL keys match each other (`INTERSECT`, `EXCEPT`).
    nulls_equal: bool,
    filter: Option<Arc<dyn PhysicalExpr>>,
    /// The output: left then right columns (inner, outer), the left columns (semi,
    /// anti, set operations), the left columns and a mark (mark).
    schema: SchemaRef,
    /// A matched pair's columns (left then right), which `filter` reads.
    pair_schema: SchemaRef,
    /// The number of left columns.
    left_width: usize,
    /// `NOT IN`'s state beyond the counts.
    not_in: Option<NotIn>,
    /// Input rows dropped as late (see [`Side::late`]), counted by weight.
    late_rows: u64,
    /// A temporal join (see [`temporal`]): the left side is not stored.
    temporal: bool,
}

impl Join {
    /// A `kind` join of rows shaped `left_schema` and `right_schema` on
    /// `left_keys[i] = right_keys[i]`, with an optional residual `filter` over a
    /// matched pair (left columns, then right columns); `schema` is the output.
    /// `INTERSECT ALL` and `EXCEPT ALL` match NULL keys; `NOT IN` takes one key and
    /// no filter.
    pub fn try_new(
        kind: JoinKind,
        left_schema: &Schema,
        right_schema: &Schema,
        keys: Vec<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)>,
        filter: Option<Arc<dyn PhysicalExpr>>,
        schema: SchemaRef,
    ) -> Result<Self> {
        if kind == JoinKind::LeftNotIn && (keys.len() != 1 || filter.is_some()) {
            return Err(SluiceError::Internal(
                "a NOT IN join compares one key and has no other condition".into(),
            ));
        }
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
        let pair_schema = Arc::new(Schema::new(
            left_schema
                .fields()
                .iter()
                .chain(right_schema.fields().iter())
                .cloned()
                .collect::<Vec<_>>(),
        ));
        Ok(Join {
            kind,
            left: Side {
                keys: left_keys,
                rows: row_codec(left_schema.fields())?,
                index: Spine::new(),
                // An inner join keeps it empty: checkpoints of every kind name it.
                matches: Some(Spine::new()),
                expiry: None,
                late: None,
            },
            right: Side {
                keys: right_keys,
                rows: row_codec(right_schema.fields())?,
                index: Spine::new(),
                matches: (kind == JoinKind::FullOuter).then(Spine::new),
                expiry: None,
                late: None,
            },
            key_codec,
            nulls_equal: matches!(kind, JoinKind::IntersectAll | JoinKind::ExceptAll),
            filter,
            schema,
            pair_schema,
            left_width: left_schema.fields().len(),
            not_in: (kind == JoinKind::LeftNotIn).then(NotIn::default),
            late_rows: 0,
            temporal: false,
        })
    }

    /// A join that forgets `side`'s stored rows by `expiry`, dropping the other
    /// side's rows closed by `late` (the rows `expiry` counts on never arriving).
    /// The set operations and `NOT IN` compare whole rows and never expire.
    pub fn expiring(mut self, side: JoinSide, expiry: Expiry, late: Closing) -> Result<Self> {
        if matches!(
            self.kind,
            JoinKind::LeftNotIn | JoinKind::IntersectAll | JoinKind::ExceptAll
        ) {
            return Err(SluiceError::Internal(format!(
                "a {:?} join does not forget rows by the watermark",
                self.kind
            )));
        }
        self.side_mut(side).expiry = Some(expiry);
        let other = self.side_mut(side.other());
        other.late = Some(match other.late.take() {
            Some(known) => known.merged(late),
            None => late,
        });
        Ok(self)
    }

    /// A join whose NULL keys match each other (the `INTERSECT`/`EXCEPT` that
    /// DataFusion plans as a semi or anti join comparing rows as `DISTINCT` does).
    pub fn matching_nulls(mut self) -> Self {
        self.nulls_equal = true;
        self
    }

    /// Applies a change of one side and returns the change of the join.
    pub fn process_side(
        &mut self,
        side: JoinSide,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let change = self.on_time(side, change)?;
        if self.temporal {
            return self.process_temporal(side, &change, errors);
        }
        match self.kind {
            JoinKind::Inner => self.process_inner(side, &change, errors),
            _ => self.process_counted(side, &change, errors),
        }
    }

    /// The change without its late rows (see [`Side::late`]), which are counted.
    fn on_time(&mut self, side: JoinSide, change: &ChangeBatch) -> Result<ChangeBatch> {
        let Some(late) = &self.side(side).late else {
            return Ok(change.clone());
        };
        let closed = late.closed(change.data().columns(), change.num_rows())?;
        if !closed.contains(&true) {
            return Ok(change.clone());
        }
        let weights = change.weights();
        self.late_rows += closed
            .iter()
            .enumerate()
            .filter(|(_, closed)| **closed)
            .map(|(row, _)| weights.value(row).unsigned_abs())
            .sum::<u64>();
        let on_time: BooleanArray = closed.iter().map(|c| Some(!c)).collect();
        filter_change(change, &on_time)
    }

    fn process_inner(
        &mut self,
        side: JoinSide,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let (change, keys) = self.keys_of(side, change, errors)?;
        let own_rows = self
            .side(side)
            .rows
            .convert_columns(change.data().columns())?;
        let matching = self.matching(side, &keys);
        let pairs = self.pairs(side, &change, &matching)?;
        let passing = self.pair_mask(&pairs, errors)?;
        let output = filter_change(&pairs, &BooleanArray::from(passing))?;
        self.store(side, &change, &own_rows, updates_of(&keys))?;
        Ok(output)
    }

    /// One side's rows and index.
    fn side(&self, side: JoinSide) -> &Side {
        match side {
            JoinSide::Left => &self.left,
            JoinSide::Right => &self.right,
        }
    }

    fn side_mut(&mut self, side: JoinSide) -> &mut Side {
        match side {
            JoinSide::Left => &mut self.left,
            JoinSide::Right => &mut self.right,
        }
    }

    fn other_side_mut(&mut self, side: JoinSide) -> &mut Side {
        self.side_mut(side.other())
    }

    /// The stored rows of the side opposite `side` matching each changed row's key:
    /// (changed row, stored row, stored row's multiplicity), in change order.
    fn matching(&self, side: JoinSide, keys: &[Key]) -> Vec<(u32, &[u8], i64)> {
        let other = match side {
            JoinSide::Left => &self.right,
            JoinSide::Right => &self.left,
        };
        let probes: Vec<(u32, &[u8])> = keys
            .iter()
            .enumerate()
            .filter_map(|(row, key)| key.as_deref().map(|k| (row as u32, k)))
            .collect();
        let prefixes: Vec<&[u8]> = probes.iter().map(|(_, key)| *key).collect();
        other
            .index
            .prefix_matches(&prefixes)
            .into_iter()
            .map(|(probe, stored, weight)| {
                let (row, key) = probes[probe as usize];
                (row, &stored[key.len()..], weight)
            })
            .collect()
    }

    /// The `matching` pairs as rows (the pair schema for semi, anti, mark joins),
    /// each weighted by the product of its two rows' weights.
    fn pairs(
        &self,
        side: JoinSide,
        change: &ChangeBatch,
        matching: &[(u32, &[u8], i64)],
    ) -> Result<ChangeBatch> {
        let own_indices: Vec<u32> = matching.iter().map(|(row, _, _)| *row).collect();
        let other_rows: Vec<&[u8]> = matching.iter().map(|(_, other, _)| *other).collect();
        let weights = matching
            .iter()
            .map(|(row, _, weight)| change.weights().value(*row as usize) * weight)
            .collect();
        self.assemble(side, change, &own_indices, &other_rows, weights)
    }

    /// Folds a change's rows (`updates`: key and row number) into its side's index.
    fn store(
        &mut self,
        side: JoinSide,
        change: &ChangeBatch,
        own_rows: &datafusion::arrow::row::Rows,
        updates: Vec<(Box<[u8]>, usize)>,
    ) -> Result<()> {
        let this = self.side_mut(side);
        let mut stored = SpineDelta::default();
        for (key, row) in &updates {
            stored.push(
                &[key.as_ref(), own_rows.row(*row).data()],
                change.weights().value(*row),
            );
        }
        stored.apply_to(&mut this.index)?;
        let Some(expiry) = &mut this.expiry else {
            return Ok(());
        };
        let times = expiry.times(change.data().columns())?;
        expiry.record(
            updates
                .iter()
                .filter(|(_, row)| times.is_valid(*row))
                .map(|(key, row)| {
                    (
                        times.value(*row),
                        Expiry::index_entry(key, own_rows.row(*row).data()),
                        change.weights().value(*row),
                    )
                }),
        )
    }

    /// Forgets `side`'s stored rows that expired by the view's watermark `watermark`.
    fn expire(&mut self, side: JoinSide, watermark: i64) -> Result<()> {
        let this = self.side_mut(side);
        let Some(expiry) = &mut this.expiry else {
            return Ok(());
        };
        let expired = expiry.advance(watermark)?;
        let (mut index, mut matches) = (SpineDelta::default(), SpineDelta::default());
        for row in &expired {
            index.push(&[&row.key, &row.row], -row.weight);
            let count = this.matches.as_ref().map_or(0, |m| m.get(&row.row));
            if count != 0 {
                matches.push(&[&row.row], -count);
            }
        }
        index.apply_to(&mut this.index)?;
        match &mut this.matches {
            Some(spine) => matches.apply_to(spine),
            None => Ok(()),
        }
    }

    /// The join keys of a change's rows (`None` for a row with a NULL key), after
    /// dropping rows whose key fails to evaluate.
    fn keys_of(
        &self,
        side: JoinSide,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<(ChangeBatch, Vec<Key>)> {
        let (change, key_columns) = evaluate_rows(&self.side(side).keys, change, errors)?;
        let key_columns = canonical_floats(&key_columns)?;
        let encoded = match &self.key_codec {
            Some(codec) => Some(codec.convert_columns(&key_columns)?),
            None => None,
        };
        let keys = (0..change.num_rows())
            .map(|row| {
                if !self.nulls_equal && key_columns.iter().any(|k| k.is_null(row)) {
                    return None;
                }
                Some(
                    encoded
                        .as_ref()
                        .map_or_else(Box::default, |k| k.row(row).as_ref().into()),
                )
            })
            .collect();
        Ok((change, keys))
    }

    /// Which pairs pass the residual condition, aligned with `pairs`' rows. A pair
    /// whose condition fails to evaluate is recorded in `errors` and does not match.
    fn pair_mask(&self, pairs: &ChangeBatch, errors: &mut ErrorLog) -> Result<Vec<bool>> {
        let Some(filter) = &self.filter else {
            return Ok(vec![true; pairs.num_rows()]);
        };
        let evaluate = |batch: &RecordBatch| -> Result<Vec<bool>> {
            let value = filter.evaluate(batch)?.into_array(batch.num_rows())?;
            let mask = value
                .as_boolean_opt()
                .ok_or_else(|| SluiceError::Internal("join condition is not boolean".into()))?;
            Ok((0..mask.len())
                .map(|i| mask.is_valid(i) && mask.value(i))
                .collect())
        };
        match evaluate(pairs.data()) {
            Ok(mask) => Ok(mask),
            Err(_) => (0..pairs.num_rows())
                .map(|row| match evaluate(&pairs.data().slice(row, 1)) {
                    Ok(one) => Ok(one.first().copied().unwrap_or(false)),
                    Err(e) => {
                        errors.record(&e, pairs.weights().value(row));
                        Ok(false)
                    }
                })
                .collect(),
        }
    }

    /// Rows `rows` of a change of `side`, with `weights` (and `marks`, for a mark
    /// join), in the output schema.
    fn rows_of_change(
        &self,
        side: JoinSide,
        change: &ChangeBatch,
        rows: &[u32],
        weights: Vec<i64>,
        marks: Vec<bool>,
    ) -> Result<ChangeBatch> {
        let indices = UInt32Array::from(rows.to_vec());
        let columns = change
            .data()
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.output(side, columns, weights, marks)
    }

    /// Stored rows of `side` (row-encoded), with `weights` (and `marks`), in the
    /// output schema.
    fn decode_rows(
        &self,
        side: JoinSide,
        rows: &[&[u8]],
        weights: Vec<i64>,
        marks: Vec<bool>,
    ) -> Result<ChangeBatch> {
        let codec = &self.side(side).rows;
        let columns = if rows.is_empty() {
            let fields = match side {
                JoinSide::Left => self.pair_schema.fields()[..self.left_width].to_vec(),
                JoinSide::Right => self.pair_schema.fields()[self.left_width..].to_vec(),
            };
            fields
                .iter()
                .map(|f| datafusion::arrow::array::new_empty_array(f.data_type()))
                .collect()
        } else {
            let parser = codec.parser();
            codec.convert_rows(rows.iter().map(|bytes| parser.parse(bytes)))?
        };
        self.output(side, columns, weights, marks)
    }

    /// One side's rows (`columns`) as output rows: beside NULLs for the other side's
    /// columns (outer joins), with their marks (mark joins), or alone.
    fn output(
        &self,
        side: JoinSide,
        mut columns: Vec<ArrayRef>,
        weights: Vec<i64>,
        marks: Vec<bool>,
    ) -> Result<ChangeBatch> {
        let rows = weights.len();
        let nulls = |fields: &[datafusion::arrow::datatypes::FieldRef]| -> Vec<ArrayRef> {
            fields
                .iter()
                .map(|f| datafusion::arrow::array::new_null_array(f.data_type(), rows))
                .collect()
        };
        match (self.kind, side) {
            (JoinKind::LeftMark, _) => {
                columns.push(Arc::new(BooleanArray::from(marks)));
            }
            (JoinKind::LeftOuter | JoinKind::FullOuter, JoinSide::Left) => {
                columns.extend(nulls(&self.schema.fields()[self.left_width..]));
            }
            (JoinKind::FullOuter, JoinSide::Right) => {
                let mut padded = nulls(&self.schema.fields()[..self.left_width]);
                padded.extend(columns);
                columns = padded;
            }
            _ => {}
        }
        let data = crate::dataflow::change::batch_in(&self.schema, columns, rows)?;
        ChangeBatch::try_new(data, Int64Array::from(weights))
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
        // Inner and outer joins output the pairs; semi, anti and mark joins only
        // test them.
        let schema = if self.outputs_pairs() {
            &self.schema
        } else {
            &self.pair_schema
        };
        let other: Vec<ArrayRef> = if other_rows.is_empty() {
            let fields = match side {
                JoinSide::Left => schema.fields()[own.len()..].to_vec(),
                JoinSide::Right => schema.fields()[..schema.fields().len() - own.len()].to_vec(),
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
        let loose = crate::dataflow::change::nullable(schema);
        let options = RecordBatchOptions::new().with_row_count(Some(weights.len()));
        let data = RecordBatch::try_new_with_options(loose, columns, &options)?;
        let data =
            RecordBatch::try_new_with_options(schema.clone(), data.columns().to_vec(), &options)
                .unwrap_or(data);
        ChangeBatch::try_new(data, Int64Array::from(weights))
    }
}

/// A join is an operator over two inputs: 0 is the left side, 1 the right.
impl Operator for Join {
    fn process(
        &mut self,
        input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let side = match input {
            0 => JoinSide::Left,
            1 => JoinSide::Right,
            other => {
                return Err(SluiceError::Internal(format!(
                    "a join has two inputs, not input {other}"
                )));
            }
        };
        self.process_side(side, change, errors)
    }

    /// By join key: matching rows meet on one worker. `NOT IN` (whether the right
    /// side is empty or holds a NULL is known only over all rows) and joins without
    /// an equality on one worker.
    fn partitioning(&self, input: usize) -> Partitioning {
        match (self.kind, input) {
            (JoinKind::LeftNotIn, _) => Partitioning::Single,
            (_, 0) => Partitioning::by(&self.left.keys),
            _ => Partitioning::by(&self.right.keys),
        }
    }

    fn describe(&self) -> String {
        let pairs: Vec<String> = self
            .left
            .keys
            .iter()
            .zip(&self.right.keys)
            .map(|(l, r)| format!("{l} = {r}"))
            .collect();
        let kind = match self.kind {
            JoinKind::Inner => "InnerJoin",
            JoinKind::LeftSemi => "LeftSemiJoin",
            JoinKind::LeftAnti => "LeftAntiJoin",
            JoinKind::LeftMark => "LeftMarkJoin",
            JoinKind::LeftOuter => "LeftJoin",
            JoinKind::FullOuter => "FullJoin",
            JoinKind::LeftNotIn => "NotInJoin",
            JoinKind::IntersectAll => "IntersectAll",
            JoinKind::ExceptAll => "ExceptAll",
        };
        let kind = if self.nulls_equal
            && !matches!(self.kind, JoinKind::IntersectAll | JoinKind::ExceptAll)
        {
            format!("{kind} (NULLs equal)")
        } else {
            kind.to_string()
        };
        let mut described = match &self.filter {
            Some(f) => format!("{kind}: {} AND {f}", pairs.join(" AND ")),
            None => format!("{kind}: {}", pairs.join(" AND ")),
        };
        if self.temporal {
            described.push_str(", temporal: each left row with the right side as it arrives");
        }
        for (name, side, width) in [
            ("left", &self.left, 0),
            ("right", &self.right, self.left_width),
        ] {
            if let Some(expiry) = &side.expiry {
                let column = self
                    .pair_schema
                    .fields()
                    .get(width + expiry.column())
                    .map_or("?", |f| f.name().as_str());
                described.push_str(&format!(
                    ", forgets {name} rows when {}",
                    expiry.describe(column)
                ));
            }
        }
        described
    }

    fn evict_closed(&mut self, watermark: i64) -> Result<()> {
        for side in [JoinSide::Left, JoinSide::Right] {
            if let Some(late) = &mut self.side_mut(side).late {
                late.advance(watermark)?;
            }
            self.expire(side, watermark)?;
        }
        Ok(())
    }

    fn late_rows(&self) -> u64 {
        self.late_rows
    }

    fn state_size(&self) -> usize {
        let counts = [&self.left.matches, &self.right.matches]
            .into_iter()
            .flatten()
            .map(Spine::bytes)
            .sum::<usize>();
        let not_in = self.not_in.as_ref().map_or(0, NotIn::bytes);
        let by_time = [&self.left.expiry, &self.right.expiry]
            .into_iter()
            .flatten()
            .map(Expiry::bytes)
            .sum::<usize>();
        self.left.index.bytes() + self.right.index.bytes() + counts + not_in + by_time
    }

    /// The names are part of checkpoints: a kind's list never changes.
    fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        let mut spines = vec![
            ("left", &mut self.left.index),
            ("right", &mut self.right.index),
        ];
        if let Some(matches) = &mut self.left.matches {
            spines.push(("matches", matches));
        }
        if let Some(matches) = &mut self.right.matches {
            spines.push(("right_matches", matches));
        }
        if let Some(not_in) = &mut self.not_in {
            spines.extend(not_in.spines());
        }
        if let Some(expiry) = &mut self.left.expiry {
            spines.push(("left_by_time", expiry.spine()));
        }
        if let Some(expiry) = &mut self.right.expiry {
            spines.push(("right_by_time", expiry.spine()));
        }
        spines
    }
}

/// `first`'s rows then `second`'s (same columns).
fn concat(first: &ChangeBatch, second: &ChangeBatch) -> Result<ChangeBatch> {
    let data =
        datafusion::arrow::compute::concat_batches(&first.schema(), [first.data(), second.data()])?;
    let weights = datafusion::arrow::compute::concat(&[first.weights(), second.weights()])?;
    ChangeBatch::try_new(
        data,
        weights
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .clone(),
    )
}

/// The (key, row number) of each change row with a key.
fn updates_of(keys: &[Key]) -> Vec<(Box<[u8]>, usize)> {
    keys.iter()
        .enumerate()
        .filter_map(|(row, key)| key.clone().map(|k| (k, row)))
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::dataflow::testing::{batch, change_of, rows_of};
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::physical_expr::expressions::Column;

    /// A `kind` join of `(k, a)` and `(k, b)` on `k` (the set operations: on `k`
    /// and `a = b`), with `b > a` as the residual condition when `residual` is set.
    pub(in crate::dataflow::join) fn join_of(kind: JoinKind, residual: bool) -> Join {
        use datafusion::logical_expr::Operator;
        use datafusion::physical_expr::expressions::BinaryExpr;
        let field = |name: &str| Field::new(name, DataType::Int64, true);
        let left = Schema::new(vec![field("k"), field("a")]);
        let right = Schema::new(vec![field("k"), field("b")]);
        let out = match kind {
            JoinKind::Inner | JoinKind::LeftOuter | JoinKind::FullOuter => {
                vec![field("k"), field("a"), field("k"), field("b")]
            }
            JoinKind::LeftSemi
            | JoinKind::LeftAnti
            | JoinKind::LeftNotIn
            | JoinKind::IntersectAll
            | JoinKind::ExceptAll => vec![field("k"), field("a")],
            JoinKind::LeftMark => vec![
                field("k"),
                field("a"),
                Field::new("mark", DataType::Boolean, false),
            ],
        };
        let key: Arc<dyn PhysicalExpr> = Arc::new(Column::new("k", 0));
        let mut keys = vec![(key.clone(), key)];
        if matches!(kind, JoinKind::IntersectAll | JoinKind::ExceptAll) {
            keys.push((Arc::new(Column::new("a", 1)), Arc::new(Column::new("b", 1))));
        }
        // The pair's columns: k, a, k, b.
        let filter: Option<Arc<dyn PhysicalExpr>> = residual.then(|| {
            Arc::new(BinaryExpr::new(
                Arc::new(Column::new("b", 3)),
                Operator::Gt,
                Arc::new(Column::new("a", 1)),
            )) as Arc<dyn PhysicalExpr>
        });
        let out = Arc::new(Schema::new(out));
        Join::try_new(kind, &left, &right, keys, filter, out).unwrap()
    }

    #[test]
    fn changes_on_either_side_join_with_the_other_sides_rows() {
        let mut j = join_of(JoinKind::Inner, false);
        let mut e = ErrorLog::default();
        let l = change_of(
            batch(&[
                ("k", &[Some(1), Some(2), None]),
                ("a", &[Some(10), Some(20), Some(30)]),
            ]),
            &[1, 1, 1],
        );
        assert!(rows_of(&j.process_side(JoinSide::Left, &l, &mut e).unwrap()).is_empty());
        let r = change_of(
            batch(&[
                ("k", &[Some(1), Some(1), None]),
                ("b", &[Some(100), Some(101), Some(0)]),
            ]),
            &[1, 1, 1],
        );
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &r, &mut e).unwrap()),
            vec!["1,10,1,100 x1", "1,10,1,101 x1"]
        );
        // Deleting the left row retracts both joined rows.
        let del = change_of(batch(&[("k", &[Some(1)]), ("a", &[Some(10)])]), &[-1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Left, &del, &mut e).unwrap()),
            vec!["1,10,1,100 x-1", "1,10,1,101 x-1"]
        );
        assert_eq!(
            j.left.index.distinct_keys(),
            1,
            "only the row of key 2 remains on the left"
        );
    }

    fn left(k: &[Option<i64>], a: &[Option<i64>], w: &[i64]) -> ChangeBatch {
        change_of(batch(&[("k", k), ("a", a)]), w)
    }

    fn right(k: &[Option<i64>], b: &[Option<i64>], w: &[i64]) -> ChangeBatch {
        change_of(batch(&[("k", k), ("b", b)]), w)
    }

    #[test]
    fn semi_join_rows_enter_and_leave_with_their_first_and_last_match() {
        let mut j = join_of(JoinKind::LeftSemi, true);
        let mut e = ErrorLog::default();
        let l = left(
            &[Some(1), Some(1), Some(2), None],
            &[Some(5), Some(5), Some(7), Some(0)],
            &[1, 1, 1, 1],
        );
        assert!(rows_of(&j.process_side(JoinSide::Left, &l, &mut e).unwrap()).is_empty());
        // b = 6 > 5 matches both (equal) rows of key 1; b = 3 matches nothing.
        let r = right(&[Some(1), Some(2)], &[Some(6), Some(3)], &[1, 1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &r, &mut e).unwrap()),
            vec!["1,5 x2"]
        );
        // A second match changes nothing; removing one of two keeps the rows in.
        let r2 = right(&[Some(1)], &[Some(9)], &[1]);
        assert!(rows_of(&j.process_side(JoinSide::Right, &r2, &mut e).unwrap()).is_empty());
        let r3 = right(&[Some(1)], &[Some(6)], &[-1]);
        assert!(rows_of(&j.process_side(JoinSide::Right, &r3, &mut e).unwrap()).is_empty());
        // A new left row with a match comes out at once; the last match's removal
        // takes every matched left row out.
        let l2 = left(&[Some(1)], &[Some(8)], &[1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Left, &l2, &mut e).unwrap()),
            vec!["1,8 x1"]
        );
        let r4 = right(&[Some(1)], &[Some(9)], &[-1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &r4, &mut e).unwrap()),
            vec!["1,5 x-2", "1,8 x-1"]
        );
        assert!(
            j.left.matches.as_ref().is_some_and(Spine::is_empty),
            "no left row has a match"
        );
    }

    #[test]
    fn anti_join_keeps_rows_without_a_match_null_keys_included() {
        let mut j = join_of(JoinKind::LeftAnti, false);
        let mut e = ErrorLog::default();
        let l = left(&[Some(1), None], &[Some(5), Some(6)], &[1, 1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Left, &l, &mut e).unwrap()),
            vec!["1,5 x1", "NULL,6 x1"]
        );
        let r = right(&[Some(1), None], &[Some(0), Some(0)], &[1, 1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &r, &mut e).unwrap()),
            vec!["1,5 x-1"]
        );
        let gone = right(&[Some(1)], &[Some(0)], &[-1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &gone, &mut e).unwrap()),
            vec!["1,5 x1"]
        );
        let deleted = left(&[Some(1), None], &[Some(5), Some(6)], &[-1, -1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Left, &deleted, &mut e).unwrap()),
            vec!["1,5 x-1", "NULL,6 x-1"]
        );
        assert!(j.left.matches.as_ref().is_some_and(Spine::is_empty) && j.left.index.is_empty());
    }

    #[test]
    fn mark_join_keeps_every_row_and_flips_its_mark() {
        let mut j = join_of(JoinKind::LeftMark, false);
        let mut e = ErrorLog::default();
        let l = left(&[Some(1), None], &[Some(5), Some(6)], &[1, 1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Left, &l, &mut e).unwrap()),
            vec!["1,5,false x1", "NULL,6,false x1"]
        );
        let r = right(&[Some(1)], &[Some(0)], &[1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &r, &mut e).unwrap()),
            vec!["1,5,false x-1", "1,5,true x1"]
        );
        let l2 = left(&[Some(1)], &[Some(7)], &[1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Left, &l2, &mut e).unwrap()),
            vec!["1,7,true x1"]
        );
    }

    #[test]
    fn left_join_pads_unmatched_rows_until_a_match_arrives() {
        let mut j = join_of(JoinKind::LeftOuter, false);
        let mut e = ErrorLog::default();
        let l = left(&[Some(1), None], &[Some(5), Some(6)], &[1, 1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Left, &l, &mut e).unwrap()),
            vec!["1,5,NULL,NULL x1", "NULL,6,NULL,NULL x1"]
        );
        // The first match replaces the padded row; a second adds a pair.
        let r = right(&[Some(1), Some(1)], &[Some(7), Some(8)], &[1, 1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &r, &mut e).unwrap()),
            vec!["1,5,1,7 x1", "1,5,1,8 x1", "1,5,NULL,NULL x-1"]
        );
        // The last match going brings the padded row back.
        let gone = right(&[Some(1), Some(1)], &[Some(7), Some(8)], &[-1, -1]);
        assert_eq!(
            rows_of(&j.process_side(JoinSide::Right, &gone, &mut e).unwrap()),
            vec!["1,5,1,7 x-1", "1,5,1,8 x-1", "1,5,NULL,NULL x1"]
        );
    }
}

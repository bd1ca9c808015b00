//! [`Aggregate`]: `GROUP BY` with retractable accumulators (also `DISTINCT`, which
//! DataFusion plans as a group-by without aggregates).
//!
//! State, in two [`Spine`]s (see [`super::state`]):
//! - `groups`: one entry per live group, `group key ++ state ++ state length`, the
//!   state being the row count and the accumulators ([`Accumulator::encode`]), with
//!   weight 1. A group is read with its key as the prefix (the trailing length
//!   separates key and state when the whole spine is scanned); a change retracts the
//!   old entry and adds the new one.
//! - `values`: for min, max and count(DISTINCT), `group key ++ call number ++ value`,
//!   weighted by how often the value occurs in the group; the extreme is the first
//!   entry under `group key ++ call number`. Min and max keep their extreme in the
//!   group's state too, and read this spine only when a change deletes it; over an
//!   input that never retracts ([`Aggregate::append_only`]) they keep only the
//!   extreme.
//!
//! Group keys are Arrow row encodings, and no row encoding is a prefix of another, so
//! a read by a group key finds that group's entries and no other's.
//!
//! Per input change:
//! 1. evaluate the group keys and aggregate arguments of its rows;
//! 2. read the touched groups' state (one batched read) and their output rows;
//! 3. fold the rows in: weights add to the group's row count and to each
//!    accumulator; the kept values change as one consolidated run;
//! 4. for each group touched, emit `-old` and `+new` where they differ and write its
//!    new state; a group whose row count reached zero is gone.
//!
//! Work is proportional to the rows changed and groups touched, never to the state.
//! Step 1 goes through a memo when an expression is not a pure function of its row
//! (see [`super::memo`]).
//! An aggregate without `GROUP BY` has one group that always has an output row
//! (`count(*)` of nothing is 0).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, new_empty_array,
};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::row::RowConverter;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::scalar::ScalarValue;
use foldhash::HashMap;

use super::ChangeBatch;
use super::accumulator::{Accumulator, AggregateKind, AggregateSignature, take_i64};
use super::change::row_codec;
use super::exchange::Partitioning;
use super::memo::Evaluation;
use super::operator::{ErrorLog, Operator, canonical_floats};
use super::state::{Spine, SpineDelta};
use super::watermark::Closing;
use crate::error::{Result, SluiceError};

/// One aggregate call: `kind(args) FILTER (WHERE filter)`.
#[derive(Debug)]
pub struct AggregateCall {
    /// Function, input and output types.
    pub signature: AggregateSignature,
    /// The argument (none for `count(*)`); for the listing aggregates, the order
    /// key's expressions then the arguments.
    pub args: Vec<Arc<dyn PhysicalExpr>>,
    /// Rows for which this is not true are not aggregated.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
}

/// One group's state: its row count and one accumulator per call.
#[derive(Debug, Clone, PartialEq)]
struct Group {
    rows: i64,
    states: Vec<Accumulator>,
}

/// The group-by operator. See the module docs.
#[derive(Debug)]
pub struct Aggregate {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    calls: Vec<AggregateCall>,
    schema: SchemaRef,
    evaluation: Evaluation,
    key_codec: Option<RowConverter>,
    /// `group key ++ Group ++ its length (u32)`, weight 1 per live group (a group's
    /// row count is > 0).
    groups: Spine,
    /// `group key ++ call number (u16, big-endian) ++ value`, weighted by the value's
    /// multiplicity in the group (never negative).
    values: Spine,
    /// The group keys with a watermark (indexes among the keys): groups they close
    /// are forgotten, and rows for closed groups are late, dropped here and counted
    /// (so a late row makes no group to forget again).
    closing: Option<Closing>,
    /// Per closing key, a lower bound of its values among the groups: no eviction
    /// scan is needed before a watermark passes one.
    earliest: Vec<Option<i64>>,
    late_rows: u64,
    /// The input never retracts a row: min and max keep no values beside their
    /// extreme.
    append_only: bool,
}

type Output = std::result::Result<Option<Vec<ScalarValue>>, SluiceError>;

impl Aggregate {
    /// An aggregate grouping by `keys` (empty: one global group) and computing
    /// `calls`; `schema` is the output: key columns then one column per call.
    pub fn try_new(
        keys: Vec<Arc<dyn PhysicalExpr>>,
        calls: Vec<AggregateCall>,
        schema: SchemaRef,
    ) -> Result<Self> {
        if calls.len() > usize::from(u16::MAX) {
            return Err(SluiceError::not_supported(
                "a materialized view may compute at most 65535 aggregates per GROUP BY",
            ));
        }
        let key_codec = if keys.is_empty() {
            None
        } else {
            Some(row_codec(&schema.fields()[..keys.len()])?)
        };
        Ok(Aggregate {
            keys,
            calls,
            schema,
            evaluation: Evaluation::Direct,
            key_codec,
            groups: Spine::new(),
            values: Spine::new(),
            closing: None,
            earliest: Vec::new(),
            late_rows: 0,
            append_only: false,
        })
    }

    /// The aggregate over an input that never retracts a row (it reads only sources):
    /// min and max keep only their extreme, as a deletion can never take it away.
    pub fn append_only(mut self, append_only: bool) -> Self {
        self.append_only = append_only;
        self
    }

    /// The aggregate closing groups by the watermarks of the keys in `closing`
    /// (indexes among the keys; see [`super::watermark`]).
    pub fn closing_by(mut self, closing: Option<Closing>) -> Self {
        self.earliest = vec![None; closing.as_ref().map_or(0, |c| c.columns().count())];
        self.closing = closing;
        self
    }

    /// The aggregate remembering each input row's keys and arguments (`input`: its
    /// rows' shape), for expressions that are not a pure function of their row.
    pub fn memoized(mut self, input: &Schema) -> Result<Self> {
        self.evaluation = Evaluation::memoized(&self.row_exprs(), input)?;
        Ok(self)
    }

    /// What is evaluated per input row: keys, then arguments, then filters. Together,
    /// so a row that fails in any of them is left out of all of them.
    fn row_exprs(&self) -> Vec<Arc<dyn PhysicalExpr>> {
        let mut exprs = self.keys.clone();
        exprs.extend(self.calls.iter().flat_map(|c| c.args.iter().cloned()));
        exprs.extend(self.calls.iter().filter_map(|c| c.filter.clone()));
        exprs
    }

    fn is_global(&self) -> bool {
        self.keys.is_empty()
    }

    fn new_group(&self) -> Group {
        Group {
            rows: 0,
            states: self.calls.iter().map(|c| c.signature.new_state()).collect(),
        }
    }

    /// Appends the group's state, then its length.
    fn encode_group(&self, group: &Group, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend(group.rows.to_le_bytes());
        for state in &group.states {
            state.encode(out);
        }
        // A group's state is a few counts and at most a few values: far below 4 GiB.
        let length = (out.len() - start) as u32;
        out.extend(length.to_le_bytes());
    }

    /// Reads a state written by [`Aggregate::encode_group`], length included.
    fn decode_group(&self, bytes: &[u8]) -> Result<Group> {
        let mut bytes = match bytes.split_last_chunk::<4>() {
            Some((state, length)) if u32::from_le_bytes(*length) as usize == state.len() => state,
            _ => {
                return Err(SluiceError::Internal(
                    "an aggregate group's state does not have its recorded length".into(),
                ));
            }
        };
        let rows = take_i64(&mut bytes)?;
        let states = self
            .calls
            .iter()
            .map(|c| c.signature.decode(&mut bytes))
            .collect::<Result<Vec<_>>>()?;
        if !bytes.is_empty() {
            return Err(SluiceError::Internal(
                "an aggregate group's state is longer than its encoding".into(),
            ));
        }
        Ok(Group { rows, states })
    }

    /// The state of each group in `keys` (`None`: no such group), in one read.
    fn read_groups(&self, keys: &[&[u8]]) -> Result<Vec<Option<Group>>> {
        let mut groups = vec![None; keys.len()];
        for (i, entry, weight) in self.groups.prefix_matches(keys) {
            let slot = &mut groups[i as usize];
            if weight != 1 || slot.is_some() {
                return Err(SluiceError::Internal(
                    "an aggregate group's state is not a single entry".into(),
                ));
            }
            *slot = Some(self.decode_group(&entry[keys[i as usize].len()..])?);
        }
        Ok(groups)
    }

    /// The output values (aggregates only) of the group `key` holding `group`, `None`
    /// when it has no output row. The listing aggregates read their kept values: call
    /// this before the group's kept values change and after, never between.
    fn output(&self, key: &[u8], group: Option<&Group>) -> Output {
        let empty;
        let group = match group {
            Some(g) => g,
            None if self.is_global() => {
                empty = self.new_group();
                &empty
            }
            None => return Ok(None),
        };
        if group.rows <= 0 && !self.is_global() {
            return Ok(None);
        }
        let mut prefix = Vec::new();
        self.calls
            .iter()
            .zip(&group.states)
            .enumerate()
            .map(|(number, (call, state))| match state {
                Accumulator::Listed(_) => {
                    values_prefix(key, number, &mut prefix);
                    let kept = self.values.prefix(&prefix);
                    call.signature
                        .listed_output(kept.map(|(entry, copies)| (&entry[prefix.len()..], copies)))
                }
                _ => call.signature.output(state),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// Applies the changes to the kept values (`changes`: per touched group, call and
    /// value, the change in its multiplicity); counts the distinct values that appear
    /// or disappear into the groups' `count(DISTINCT)` accumulators, and reads the
    /// extreme of the min and max accumulators in `lost` (group, call) whose extreme
    /// a deletion may have taken.
    fn change_values(
        &mut self,
        touched: &[&[u8]],
        groups: &mut [Group],
        changes: HashMap<(u32, u16, &[u8]), i64>,
        mut lost: Vec<(u32, u16)>,
    ) -> Result<()> {
        lost.sort_unstable();
        lost.dedup();
        let mut delta = SpineDelta::default();
        // The changes to count(DISTINCT) values: their delta index, group and call.
        let mut distinct = Vec::new();
        for ((group, call, value), weight) in changes {
            if weight == 0 {
                continue;
            }
            let state = &groups[group as usize].states[usize::from(call)];
            if matches!(state, Accumulator::Distinct(_)) {
                distinct.push((delta.weights().len(), group as usize, usize::from(call)));
            }
            delta.push(
                &[touched[group as usize], &call.to_be_bytes(), value],
                weight,
            );
        }
        if !distinct.is_empty() {
            let keys = delta.keys();
            let lookups: Vec<&[u8]> = distinct.iter().map(|&(i, _, _)| keys[i]).collect();
            let mut before = vec![0; lookups.len()];
            for (i, entry, weight) in self.values.prefix_matches(&lookups) {
                if entry == lookups[i as usize] {
                    before[i as usize] = weight;
                }
            }
            for (&(i, group, call), before) in distinct.iter().zip(before) {
                let after = before + delta.weights()[i];
                if after < 0 {
                    return Err(SluiceError::Internal(
                        "a value was deleted from an aggregate group more often than inserted"
                            .into(),
                    ));
                }
                if let Accumulator::Distinct(n) = &mut groups[group].states[call] {
                    *n += i64::from(after > 0) - i64::from(before > 0);
                }
            }
        }
        delta.apply_to(&mut self.values)?;
        let mut prefix = Vec::new();
        for (group, call) in lost {
            values_prefix(touched[group as usize], usize::from(call), &mut prefix);
            let first = self.values.prefix(&prefix).next();
            groups[group as usize].states[usize::from(call)]
                .set_extreme(first.map(|(entry, _)| &entry[prefix.len()..]));
        }
        Ok(())
    }

    /// Builds the output change from `(key, values, weight)` rows.
    fn emit(&self, rows: Vec<(&[u8], Vec<ScalarValue>, i64)>) -> Result<ChangeBatch> {
        if rows.is_empty() {
            return Ok(ChangeBatch::inserts(RecordBatch::new_empty(
                self.schema.clone(),
            )));
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        if let Some(codec) = &self.key_codec {
            let parser = codec.parser();
            columns.extend(codec.convert_rows(rows.iter().map(|(k, _, _)| parser.parse(k)))?);
        }
        for (i, field) in self.schema.fields()[self.keys.len()..].iter().enumerate() {
            let values = rows.iter().map(|(_, v, _)| v[i].clone());
            let array = if rows.is_empty() {
                new_empty_array(field.data_type())
            } else {
                ScalarValue::iter_to_array(values)?
            };
            columns.push(array);
        }
        let weights = Int64Array::from_iter_values(rows.iter().map(|(_, _, w)| *w));
        let data = RecordBatch::try_new(self.schema.clone(), columns)?;
        ChangeBatch::try_new(data, weights)
    }
}

/// Writes the prefix of the kept values of call number `call` of group `key`.
fn values_prefix(key: &[u8], call: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(key);
    // `try_new` refuses more calls than a u16 can number.
    out.extend((call as u16).to_be_bytes());
}

/// The group key of an entry of the `groups` spine (see [`Aggregate::encode_group`]).
fn group_key(entry: &[u8]) -> Result<&[u8]> {
    entry
        .split_last_chunk::<4>()
        .and_then(|(rest, length)| {
            let key_end = rest
                .len()
                .checked_sub(u32::from_le_bytes(*length) as usize)?;
            rest.get(..key_end)
        })
        .ok_or_else(|| SluiceError::Internal("an aggregate group's entry is damaged".into()))
}

impl Operator for Aggregate {
    fn process(
        &mut self,
        _input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let exprs = self.row_exprs();
        let (change, columns) = self.evaluation.rows(&exprs, change, errors)?;
        let columns = canonical_floats(&columns)?;
        let (key_columns, rest) = columns.split_at(self.keys.len());
        let mut inputs = Vec::with_capacity(self.calls.len());
        let mut rest = rest;
        for call in &self.calls {
            let (columns, others) = rest
                .split_at_checked(call.args.len())
                .ok_or_else(|| SluiceError::Internal("missing argument".into()))?;
            rest = others;
            inputs.push(if columns.is_empty() {
                None
            } else {
                Some(call.signature.prepare(columns)?)
            });
        }
        let mut rest = rest.iter();
        let mut filters = Vec::with_capacity(self.calls.len());
        for call in &self.calls {
            filters.push(match &call.filter {
                Some(_) => rest.next().map(|c| c.as_boolean().clone()),
                None => None,
            });
        }
        let keys = match &self.key_codec {
            Some(codec) => Some(codec.convert_columns(key_columns)?),
            None => None,
        };

        // 1. The groups touched, and each row's group (`None`: late, dropped).
        let closing = match &self.closing {
            Some(closing) => Some((closing, closing.values(key_columns)?)),
            None => None,
        };
        let mut touched: Vec<&[u8]> = Vec::new();
        let mut numbers: HashMap<&[u8], u32> = HashMap::default();
        let mut row_groups = Vec::with_capacity(change.num_rows());
        for row in 0..change.num_rows() {
            if let Some((closing, values)) = &closing {
                if closing.is_closed(values, row) {
                    self.late_rows += change.weights().value(row).unsigned_abs();
                    row_groups.push(None);
                    continue;
                }
                for (earliest, column) in self.earliest.iter_mut().zip(values) {
                    if column.is_valid(row) {
                        let value = column.value(row);
                        *earliest = Some(earliest.map_or(value, |e| e.min(value)));
                    }
                }
            }
            let key: &[u8] = keys.as_ref().map_or(&[][..], |k| k.row(row).data());
            let number = *numbers.entry(key).or_insert_with(|| {
                touched.push(key);
                (touched.len() - 1) as u32
            });
            row_groups.push(Some(number));
        }

        // 2. Their state and output rows before the change.
        let before = self.read_groups(&touched)?;
        let old_outputs: Vec<Output> = before
            .iter()
            .zip(&touched)
            .map(|(group, key)| self.output(key, group.as_ref()))
            .collect();

        // 3. The rows folded in.
        let mut after: Vec<Group> = before
            .iter()
            .map(|g| g.clone().unwrap_or_else(|| self.new_group()))
            .collect();
        let mut value_changes: HashMap<(u32, u16, &[u8]), i64> = HashMap::default();
        let mut lost_extremes = Vec::new();
        for (row, group) in row_groups.into_iter().enumerate() {
            let Some(group) = group else { continue };
            let weight = change.weights().value(row);
            let state = &mut after[group as usize];
            state.rows += weight;
            for (call, accumulator) in state.states.iter_mut().enumerate() {
                let included = filters[call]
                    .as_ref()
                    .is_none_or(|f| f.is_valid(row) && f.value(row));
                if !included {
                    continue;
                }
                let input = inputs[call].as_ref();
                accumulator.update(input, row, weight)?;
                if let Some(value) = input.filter(|i| !i.is_null(row)).and_then(|i| i.value(row)) {
                    if self.append_only && matches!(accumulator, Accumulator::Extreme(_)) {
                        if weight < 0 {
                            return Err(SluiceError::Internal(
                                "an append-only input retracted a row".into(),
                            ));
                        }
                        continue;
                    }
                    *value_changes
                        .entry((group, call as u16, value))
                        .or_default() += weight;
                    if accumulator.loses_extreme(value, weight) {
                        lost_extremes.push((group, call as u16));
                    }
                }
            }
        }
        if !value_changes.is_empty() {
            self.change_values(&touched, &mut after, value_changes, lost_extremes)?;
        }

        // 4. The output, and the groups' new state.
        let mut out = Vec::new();
        let mut states = SpineDelta::default();
        let mut encoded = Vec::new();
        for (((key, before), after), old) in touched.iter().zip(before).zip(&after).zip(old_outputs)
        {
            if after.rows < 0 {
                return Err(SluiceError::Internal(
                    "a group's row count went negative".into(),
                ));
            }
            if before.as_ref() != Some(after) {
                if let Some(before) = &before {
                    encoded.clear();
                    self.encode_group(before, &mut encoded);
                    states.push(&[key, &encoded], -1);
                }
                if after.rows > 0 {
                    encoded.clear();
                    self.encode_group(after, &mut encoded);
                    states.push(&[key, &encoded], 1);
                }
            }
            let new = self.output(key, Some(after));
            let (old, new) = match (old, new) {
                (Ok(old), Ok(new)) if old == new => continue,
                (old, new) => (old, new),
            };
            match old {
                Ok(Some(values)) => out.push((*key, values, -1)),
                Ok(None) => {}
                Err(e) => errors.record(&e, -1),
            }
            match new {
                Ok(Some(values)) => out.push((*key, values, 1)),
                Ok(None) => {}
                Err(e) => errors.record(&e, 1),
            }
        }
        states.apply_to(&mut self.groups)?;
        self.emit(out)
    }

    /// By group key; a global aggregate, and one whose keys are remembered per row
    /// (not a function of the row), on one worker.
    fn partitioning(&self, _input: usize) -> Partitioning {
        match self.evaluation {
            Evaluation::Direct => Partitioning::by(&self.keys),
            _ => Partitioning::Single,
        }
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(|k| k.to_string()).collect();
        let calls: Vec<String> = self
            .calls
            .iter()
            .map(|c| {
                let args: Vec<String> = c.args.iter().map(|a| a.to_string()).collect();
                match args.is_empty() {
                    true => format!("{:?}(*)", c.signature.kind()),
                    false => format!("{:?}({})", c.signature.kind(), args.join(", ")),
                }
            })
            .collect();
        let closing = match &self.closing {
            Some(closing) => {
                let closed_by: Vec<&str> = closing.columns().map(|i| keys[i].as_str()).collect();
                format!(
                    ", groups close by the watermark of [{}]",
                    closed_by.join(", ")
                )
            }
            None => String::new(),
        };
        let extremes_only = self.append_only
            && self
                .calls
                .iter()
                .any(|c| matches!(c.signature.kind(), AggregateKind::Min | AggregateKind::Max));
        let append_only = if extremes_only {
            ", append-only input: min/max keep only their extreme"
        } else {
            ""
        };
        format!(
            "Aggregate{}: group by [{}], [{}]{closing}{append_only}",
            self.evaluation.label(),
            keys.join(", "),
            calls.join(", ")
        )
    }

    fn initial_output(&mut self) -> Result<Option<ChangeBatch>> {
        if !self.is_global() {
            return Ok(None);
        }
        match self.output(&[], None)? {
            Some(values) => Ok(Some(self.emit(vec![(&[][..], values, 1)])?)),
            None => Ok(None),
        }
    }

    fn evict_closed(&mut self, watermark: i64) -> Result<()> {
        let (Some(codec), Some(closing)) = (&self.key_codec, &mut self.closing) else {
            return Ok(());
        };
        if !closing.advance(watermark)? {
            return Ok(());
        }
        let due = closing.thresholds().iter().zip(&self.earliest).any(
            |(threshold, earliest)| matches!((threshold, earliest), (Some(t), Some(e)) if e < t),
        );
        if !due {
            return Ok(());
        }
        let entries: Vec<&[u8]> = self.groups.iter().map(|(entry, _)| entry).collect();
        let keys = entries
            .iter()
            .map(|entry| group_key(entry))
            .collect::<Result<Vec<_>>>()?;
        let parser = codec.parser();
        let columns = codec.convert_rows(keys.iter().map(|key| parser.parse(key)))?;
        let values = closing.values(&columns)?;
        let mut earliest = vec![None; values.len()];
        let mut forgotten_groups = SpineDelta::default();
        let mut forgotten_values = SpineDelta::default();
        for (row, (entry, key)) in entries.iter().zip(&keys).enumerate() {
            if closing.is_closed(&values, row) {
                forgotten_groups.push(&[entry], -1);
                for (value, weight) in self.values.prefix(key) {
                    forgotten_values.push(&[value], -weight);
                }
                continue;
            }
            for (earliest, column) in earliest.iter_mut().zip(&values) {
                if column.is_valid(row) {
                    let value = column.value(row);
                    *earliest = Some(earliest.map_or(value, |e: i64| e.min(value)));
                }
            }
        }
        drop((entries, keys));
        forgotten_groups.apply_to(&mut self.groups)?;
        forgotten_values.apply_to(&mut self.values)?;
        self.earliest = earliest;
        Ok(())
    }

    fn late_rows(&self) -> u64 {
        self.late_rows
    }

    fn state_size(&self) -> usize {
        self.groups.bytes() + self.values.bytes() + self.evaluation.state_size()
    }

    fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        let mut spines = vec![("groups", &mut self.groups), ("values", &mut self.values)];
        spines.extend(self.evaluation.spines());
        spines
    }

    fn restored(&mut self) {
        // Unknown lower bounds: the next watermark that can close a group scans.
        for earliest in &mut self.earliest {
            *earliest = Some(i64::MIN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{batch, bigint_call, change_of, rows_of};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::Column;

    fn grouped(kind: AggregateKind) -> Aggregate {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("agg", DataType::Int64, true),
        ]));
        let call = bigint_call(kind, Some(Arc::new(Column::new("v", 1))));
        Aggregate::try_new(vec![Arc::new(Column::new("k", 0))], vec![call], schema).unwrap()
    }

    fn push(agg: &mut Aggregate, k: &[Option<i64>], v: &[Option<i64>], w: &[i64]) -> Vec<String> {
        let change = change_of(batch(&[("k", k), ("v", v)]), w);
        rows_of(&agg.process(0, &change, &mut ErrorLog::default()).unwrap())
    }

    #[test]
    fn closed_windows_are_forgotten_and_their_late_rows_dropped() {
        use datafusion::arrow::datatypes::TimeUnit;
        use datafusion::physical_expr::expressions::CastExpr;
        let time = DataType::Timestamp(TimeUnit::Microsecond, None);
        let schema = Arc::new(Schema::new(vec![
            Field::new("window_end", time.clone(), true),
            Field::new("agg", DataType::Int64, true),
        ]));
        let call = bigint_call(AggregateKind::Count, Some(Arc::new(Column::new("v", 1))));
        let end = Arc::new(CastExpr::new(Arc::new(Column::new("k", 0)), time, None));
        // A window `[.., end)` is closed once the watermark reaches `end`.
        let closing = Closing::new(vec![(0, crate::dataflow::watermark::testing::shifted(1))]);
        let mut agg = Aggregate::try_new(vec![end], vec![call], schema)
            .unwrap()
            .closing_by(closing);
        push(
            &mut agg,
            &[Some(10), Some(20)],
            &[Some(1), Some(1)],
            &[1, 1],
        );
        agg.evict_closed(10).unwrap();
        assert_eq!(
            agg.groups.distinct_keys(),
            1,
            "window 10 is closed and forgotten"
        );
        // A late row for window 10 is dropped and counted; window 20 still updates.
        let out = push(
            &mut agg,
            &[Some(10), Some(20)],
            &[Some(1), Some(1)],
            &[1, 1],
        );
        assert_eq!(
            out,
            vec![
                "1970-01-01T00:00:00.000020,1 x-1",
                "1970-01-01T00:00:00.000020,2 x1"
            ]
        );
        assert_eq!(agg.late_rows(), 1);
        assert_eq!(agg.groups.distinct_keys(), 1);
    }

    #[test]
    fn max_retracts_and_replaces_the_old_row() {
        let mut agg = grouped(AggregateKind::Max);
        assert_eq!(
            push(
                &mut agg,
                &[Some(1), Some(1), Some(2)],
                &[Some(5), Some(7), Some(1)],
                &[1, 1, 1]
            ),
            vec!["1,7 x1", "2,1 x1"]
        );
        // Deleting the max of group 1 brings back 5; deleting group 2's only row removes it.
        assert_eq!(
            push(
                &mut agg,
                &[Some(1), Some(2)],
                &[Some(7), Some(1)],
                &[-1, -1]
            ),
            vec!["1,5 x1", "1,7 x-1", "2,1 x-1"]
        );
        assert_eq!(agg.groups.distinct_keys(), 1);
    }

    #[test]
    fn over_an_append_only_input_max_keeps_only_its_extreme() {
        let mut agg = grouped(AggregateKind::Max).append_only(true);
        let mut kept = grouped(AggregateKind::Max);
        for (k, v) in [(1, 5), (1, 7), (2, 1), (1, 6), (2, 3)] {
            let change = (&[Some(k)][..], &[Some(v)][..]);
            assert_eq!(
                push(&mut agg, change.0, change.1, &[1]),
                push(&mut kept, change.0, change.1, &[1])
            );
        }
        assert!(agg.values.is_empty(), "no values kept beside the extremes");
        assert_eq!(kept.values.distinct_keys(), 5);
        let change = change_of(batch(&[("k", &[Some(1)]), ("v", &[Some(7)])]), &[-1]);
        assert!(agg.process(0, &change, &mut ErrorLog::default()).is_err());
    }

    #[test]
    fn unchanged_groups_emit_nothing() {
        let mut agg = grouped(AggregateKind::Sum);
        push(&mut agg, &[Some(1)], &[Some(5)], &[1]);
        // +0 and +NULL do not change sum(v) = 5.
        assert!(push(&mut agg, &[Some(1), Some(1)], &[Some(0), None], &[1, 1]).is_empty());
    }

    #[test]
    fn null_keys_form_their_own_group() {
        let mut agg = grouped(AggregateKind::Count);
        assert_eq!(
            push(
                &mut agg,
                &[None, None, Some(3)],
                &[Some(1), None, Some(1)],
                &[1, 1, 1]
            ),
            vec!["3,1 x1", "NULL,1 x1"]
        );
    }

    #[test]
    fn global_aggregate_always_has_a_row() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let call = bigint_call(AggregateKind::Count, None);
        let mut agg = Aggregate::try_new(vec![], vec![call], schema).unwrap();
        let initial = agg.initial_output().unwrap().unwrap();
        assert_eq!(rows_of(&initial), vec!["0 x1"]);
        let change = change_of(batch(&[("v", &[Some(1), Some(2)])]), &[1, 1]);
        let out = agg.process(0, &change, &mut ErrorLog::default()).unwrap();
        assert_eq!(rows_of(&out), vec!["0 x-1", "2 x1"]);
        let change = change_of(batch(&[("v", &[Some(1), Some(2)])]), &[-1, -1]);
        let out = agg.process(0, &change, &mut ErrorLog::default()).unwrap();
        assert_eq!(rows_of(&out), vec!["0 x1", "2 x-1"]);
    }

    /// `g, string_agg(v::text, '-' ORDER BY t DESC), array_agg(v ORDER BY t),
    /// first_value(v ORDER BY t), last_value(v ORDER BY t)` over `(g, t, v)` (`t`'s NULLs
    /// first), tied rows ordered by `v` (the listing arguments), NULLs last.
    fn listing() -> Aggregate {
        use datafusion::arrow::compute::SortOptions;
        use datafusion::physical_expr::expressions::{CastExpr, Literal};
        let column =
            |name: &str, i: usize| -> Arc<dyn PhysicalExpr> { Arc::new(Column::new(name, i)) };
        let text: Arc<dyn PhysicalExpr> =
            Arc::new(CastExpr::new(column("v", 2), DataType::Utf8, None));
        let dash: Arc<dyn PhysicalExpr> =
            Arc::new(Literal::new(ScalarValue::Utf8(Some("-".into()))));
        let ascending = SortOptions::new(false, true);
        let list = DataType::new_list(DataType::Int64, true);
        let call = |kind,
                    order: SortOptions,
                    tiebreak: &[DataType],
                    args: Vec<Arc<dyn PhysicalExpr>>,
                    output: DataType| {
            let types: Vec<DataType> = if kind == AggregateKind::StringAgg {
                vec![DataType::Utf8, DataType::Utf8]
            } else {
                vec![DataType::Int64]
            };
            let mut all = vec![column("t", 1)];
            all.extend(tiebreak.iter().map(|_| column("v", 2)));
            all.extend(args);
            AggregateCall {
                signature: AggregateSignature::listing(
                    kind,
                    &[(DataType::Int64, order)],
                    tiebreak,
                    &types,
                    (false, false),
                    output,
                )
                .unwrap(),
                args: all,
                filter: None,
            }
        };
        let v = &[DataType::Int64][..];
        let calls = vec![
            call(
                AggregateKind::StringAgg,
                !ascending,
                v,
                vec![text, dash],
                DataType::Utf8,
            ),
            call(
                AggregateKind::ArrayAgg,
                ascending,
                v,
                vec![column("v", 2)],
                list.clone(),
            ),
            call(
                AggregateKind::FirstValue,
                ascending,
                v,
                vec![column("v", 2)],
                DataType::Int64,
            ),
            call(
                AggregateKind::LastValue,
                ascending,
                v,
                vec![column("v", 2)],
                DataType::Int64,
            ),
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("a", list, true),
            Field::new("f", DataType::Int64, true),
            Field::new("l", DataType::Int64, true),
        ]));
        Aggregate::try_new(vec![column("g", 0)], calls, schema).unwrap()
    }

    #[test]
    fn listing_aggregates_follow_a_random_stream() {
        type Row = (Option<i64>, Option<i64>, Option<i64>);
        let show = |v: Option<i64>| v.map_or("NULL".to_string(), |v| v.to_string());
        let expected = |live: &[(Row, i64)]| -> Vec<String> {
            let mut groups: Vec<Option<i64>> = live.iter().map(|((g, _, _), _)| *g).collect();
            groups.sort();
            groups.dedup();
            let mut out = Vec::new();
            for g in groups {
                let mut rows: Vec<(Option<i64>, Option<i64>)> = Vec::new();
                for ((rg, t, v), copies) in live.iter().filter(|((rg, _, _), _)| *rg == g) {
                    let _ = rg;
                    rows.extend(std::iter::repeat_n((*t, *v), *copies as usize));
                }
                // Ascending by t (NULLs first), then v (NULLs last).
                let v_order = |a: &Option<i64>, b: &Option<i64>| match (a, b) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, _) => std::cmp::Ordering::Greater,
                    (_, None) => std::cmp::Ordering::Less,
                    (a, b) => a.cmp(b),
                };
                rows.sort_by(|a, b| a.0.cmp(&b.0).then(v_order(&a.1, &b.1)));
                let mut descending = rows.clone();
                // string_agg: t descending (NULLs last), ties by v ascending.
                descending.sort_by(|a, b| b.0.cmp(&a.0).then(v_order(&a.1, &b.1)));
                let joined: Vec<String> = descending
                    .iter()
                    .filter_map(|(_, v)| v.map(|v| v.to_string()))
                    .collect();
                let joined = if joined.is_empty() {
                    "NULL".to_string()
                } else {
                    joined.join("-")
                };
                // Arrow shows a NULL element as nothing.
                let array: Vec<String> = rows
                    .iter()
                    .map(|(_, v)| v.map_or(String::new(), |v| v.to_string()))
                    .collect();
                // last_value: the last t; among its ties the first v (the order of ties
                // is the same in every listing aggregate).
                let last_t = rows.last().map(|r| r.0);
                let last = rows.iter().find(|r| Some(r.0) == last_t).and_then(|r| r.1);
                out.push(format!(
                    "{},{joined},[{}],{},{}",
                    show(g),
                    array.join(", "),
                    show(rows[0].1),
                    show(last)
                ));
            }
            out
        };
        let mut rng = crate::dataflow::testing::Xorshift(0x9e37_79b9_7f4a_7c15);
        let mut next = |n: u64| rng.below(n);
        let mut agg = listing();
        let mut view = crate::dataflow::testing::Multiset::default();
        let mut live: Vec<(Row, i64)> = Vec::new();
        for _ in 0..300 {
            let (mut g, mut t, mut v, mut w) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..1 + next(4) {
                let row = if !live.is_empty() && next(3) == 0 {
                    let row = live[next(live.len() as u64) as usize].0;
                    w.push(-1);
                    row
                } else {
                    let mut value = |n: u64| {
                        let x = next(n + 1);
                        (x < n).then_some(x as i64)
                    };
                    w.push(1);
                    (value(3), value(4), value(5))
                };
                let weight = *w.last().unwrap();
                match live.iter_mut().find(|(r, _)| *r == row) {
                    Some(slot) => slot.1 += weight,
                    None => live.push((row, weight)),
                }
                live.retain(|(_, copies)| *copies > 0);
                g.push(row.0);
                t.push(row.1);
                v.push(row.2);
            }
            let change = change_of(batch(&[("g", &g), ("t", &t), ("v", &v)]), &w);
            let out = agg.process(0, &change, &mut ErrorLog::default()).unwrap();
            view.apply(&out);
            let mut want = expected(&live);
            want.sort();
            assert_eq!(view.rows(), want);
        }
    }
}

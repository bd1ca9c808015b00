//! `sum` of `bigint` values that fails with `22003` instead of wrapping around.
//!
//! DataFusion's `sum` of 64-bit integers wraps around on overflow:
//! `sum(9223372036854775807, 1)` was `-9223372036854775807`. PostgreSQL's
//! `sum(bigint)` is a `numeric` and never overflows; Sluice's keeps the `bigint` type
//! its clients already read, adds in 128 bits, and fails with `bigint out of range`
//! when the total (or, in a parallel plan, a partial total) does not fit — a refusal,
//! never a wrong total. Smaller integers are summed as `bigint` (DataFusion widens
//! them), other types by DataFusion's `sum`. Materialized views keep their sums with
//! their own accumulator (`dataflow::accumulator`), which checks the same way.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    ReversedUDAF, SetMonotonicity, Signature,
};

use crate::error::{SluiceError, sqlstate};

/// `sum`, to register in place of DataFusion's.
pub fn sum() -> AggregateUDF {
    AggregateUDF::new_from_impl(CheckedSum {
        inner: datafusion::functions_aggregate::sum::sum_udaf(),
    })
}

fn out_of_range() -> DataFusionError {
    DataFusionError::External(Box::new(SluiceError::coded(
        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
        "bigint out of range",
    )))
}

/// A total as a `bigint`, or the error that says it is out of range.
fn as_bigint(total: i128) -> Result<i64> {
    i64::try_from(total).map_err(|_| out_of_range())
}

/// DataFusion's `sum`, with [`CheckedTotal`] and [`CheckedGroupTotals`] for `bigint`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CheckedSum {
    inner: Arc<AggregateUDF>,
}

impl CheckedSum {
    /// Whether this call sums `bigint`s without `DISTINCT` (which keeps its values and
    /// is DataFusion's).
    fn checked(args: &AccumulatorArgs) -> bool {
        !args.is_distinct && args.return_field.data_type() == &DataType::Int64
    }
}

impl AggregateUDFImpl for CheckedSum {
    same_as_inner_aggregate!();

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if Self::checked(&args) {
            Ok(Box::new(CheckedTotal::default()))
        } else {
            self.inner.accumulator(args)
        }
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if Self::checked(&args) {
            Ok(Box::new(CheckedGroupTotals::default()))
        } else {
            self.inner.create_groups_accumulator(args)
        }
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if Self::checked(&args) {
            Ok(Box::new(CheckedTotal::default()))
        } else {
            self.inner.create_sliding_accumulator(args)
        }
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
}

/// The total of one group: the sum of its values and how many there are (a sum of no
/// values is NULL). Values can be taken back (sliding window frames).
#[derive(Debug, Default)]
struct CheckedTotal {
    sum: i128,
    values: i64,
}

impl CheckedTotal {
    fn add(&mut self, values: &ArrayRef, sign: i128) {
        for value in values.as_primitive::<Int64Type>().iter().flatten() {
            self.sum += sign * i128::from(value);
            self.values += sign as i64;
        }
    }
}

impl Accumulator for CheckedTotal {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], 1);
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], -1);
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    /// A partial total is one value of the final sum.
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.add(&states[0], 1);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let total = (self.values > 0).then(|| as_bigint(self.sum)).transpose()?;
        Ok(ScalarValue::Int64(total))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }
}

/// The totals of many groups ([`CheckedTotal`] without retraction, column-wise).
#[derive(Debug, Default)]
struct CheckedGroupTotals {
    sums: Vec<i128>,
    /// Whether the group has had a value (else its sum is NULL).
    seen: Vec<bool>,
}

impl CheckedGroupTotals {
    fn add(
        &mut self,
        values: &ArrayRef,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) {
        self.sums.resize(total_num_groups, 0);
        self.seen.resize(total_num_groups, false);
        let values = values.as_primitive::<Int64Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            let kept = filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if kept && values.is_valid(row) {
                self.sums[group] += i128::from(values.value(row));
                self.seen[group] = true;
            }
        }
    }
}

impl GroupsAccumulator for CheckedGroupTotals {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.add(&values[0], group_indices, opt_filter, total_num_groups);
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.add(&values[0], group_indices, None, total_num_groups);
        Ok(())
    }

    /// Each row its own partial total: its value, NULL where the filter drops it.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<Int64Type>();
        let states: Int64Array = (0..values.len())
            .map(|row| {
                let kept = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
                (kept && values.is_valid(row)).then(|| values.value(row))
            })
            .collect();
        Ok(vec![Arc::new(states)])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = emit_to.take_needed(&mut self.sums);
        let seen = emit_to.take_needed(&mut self.seen);
        let totals = sums
            .into_iter()
            .zip(seen)
            .map(|(sum, seen)| seen.then(|| as_bigint(sum)).transpose())
            .collect::<Result<Int64Array>>()?;
        Ok(Arc::new(totals))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate(emit_to)?])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<i128>() + self.seen.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bigints(values: &[Option<i64>]) -> ArrayRef {
        Arc::new(Int64Array::from(values.to_vec()))
    }

    #[test]
    fn a_total_out_of_range_fails_and_one_back_in_range_does_not() {
        let mut total = CheckedTotal::default();
        assert_eq!(total.evaluate().unwrap(), ScalarValue::Int64(None));
        total
            .update_batch(&[bigints(&[Some(i64::MAX), None, Some(1)])])
            .unwrap();
        let error = total.evaluate().unwrap_err();
        assert!(error.to_string().contains("bigint out of range"), "{error}");
        total.retract_batch(&[bigints(&[Some(1)])]).unwrap();
        assert_eq!(
            total.evaluate().unwrap(),
            ScalarValue::Int64(Some(i64::MAX))
        );
        total.retract_batch(&[bigints(&[Some(i64::MAX)])]).unwrap();
        assert_eq!(total.evaluate().unwrap(), ScalarValue::Int64(None));
    }

    #[test]
    fn group_totals_check_each_group() {
        let mut totals = CheckedGroupTotals::default();
        let values = bigints(&[Some(i64::MAX), Some(5), Some(i64::MAX), None]);
        let filter = BooleanArray::from(vec![true, true, true, true]);
        totals
            .update_batch(&[values], &[0, 1, 0, 2], Some(&filter), 3)
            .unwrap();
        let error = totals.evaluate(EmitTo::First(1)).unwrap_err();
        assert!(error.to_string().contains("bigint out of range"), "{error}");
        let mut totals = CheckedGroupTotals::default();
        let values = bigints(&[Some(i64::MIN), Some(5), Some(-1), None]);
        totals
            .update_batch(&[values], &[0, 1, 1, 2], None, 3)
            .unwrap();
        let sums = totals.evaluate(EmitTo::All).unwrap();
        assert_eq!(
            sums.as_primitive::<Int64Type>(),
            &Int64Array::from(vec![Some(i64::MIN), Some(4), None])
        );
    }
}

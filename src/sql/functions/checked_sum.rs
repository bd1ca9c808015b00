//! `sum` as PostgreSQL types it: `sum(bigint)` is a `numeric`, `sum(smallint)` and
//! `sum(int)` a `bigint` that fails with `22003` instead of wrapping around, `sum(real)`
//! a `real`.
//!
//! DataFusion's `sum` of any integer is a `bigint` that wraps around on overflow:
//! `sum(9223372036854775807, 1)` was `-9223372036854775807`. PostgreSQL's `sum(bigint)`
//! is a `numeric` and never overflows; here the `bigint`s are summed as a `numeric`
//! with 38 digits (`numeric(38,0)`, beyond the reach of any count of `bigint`s),
//! DataFusion's decimal sum. Smaller integers are summed as `bigint` (DataFusion widens
//! them) in 128 bits and fail with `bigint out of range` when the total (or, in a
//! parallel plan, a partial total) does not fit — a refusal, as in PostgreSQL, never a
//! wrong total. `real`s are summed as DataFusion sums `double precision`s and the total
//! rounded to a `real` (DataFusion's `sum(real)` was a `double precision`, printed with
//! 17 digits: `3.300000071525574` where PostgreSQL prints `3.3000002`). Other types
//! are DataFusion's. Materialized views keep their sums with their own accumulator
//! (`dataflow::accumulator`), which checks the same way.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    ReversedUDAF, SetMonotonicity, Signature, Volatility,
};
use datafusion::logical_expr::{ExprSchemable, LogicalPlan, Projection};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::single_distinct_to_groupby::SingleDistinctToGroupBy;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use crate::error::{SluiceError, sqlstate};

/// `sum`, to register in place of DataFusion's.
pub fn sum() -> AggregateUDF {
    AggregateUDF::new_from_impl(CheckedSum {
        inner: datafusion::functions_aggregate::sum::sum_udaf(),
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

/// The type `bigint`s are summed as: PostgreSQL's `sum(bigint)` is a `numeric`.
const BIGINT_TOTAL: DataType = DataType::Decimal128(38, 0);

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

/// DataFusion's `sum`, with [`CheckedTotal`] and [`CheckedGroupTotals`] for `smallint`
/// and `int`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CheckedSum {
    inner: Arc<AggregateUDF>,
    /// User-defined: [`CheckedSum::coerce_types`] changes DataFusion's coercions.
    signature: Signature,
}

impl CheckedSum {
    /// Whether this call sums smaller integers (as `bigint`s) without `DISTINCT` (which
    /// keeps its values and is DataFusion's).
    fn checked(args: &AccumulatorArgs) -> bool {
        !args.is_distinct && args.return_field.data_type() == &DataType::Int64
    }

    /// Whether the call's argument is a `smallint` or `int`, summed as `bigint`s.
    fn widened(args: &AccumulatorArgs) -> bool {
        args.expr_fields
            .first()
            .is_some_and(|field| is_small_integer(field.data_type()))
    }

    /// Whether the call sums `real`s (as `double precision`s).
    fn sums_reals(args: &AccumulatorArgs) -> bool {
        args.return_field.data_type() == &DataType::Float32
    }

    /// `accumulator` of DataFusion's (or [`CheckedTotal`] where [`Self::checked`]),
    /// reading its values as `bigint`s where [`Self::widened`], and `real`s as `double
    /// precision`s.
    fn wrapped(
        &self,
        args: AccumulatorArgs,
        accumulator: impl FnOnce(AccumulatorArgs) -> Result<Box<dyn Accumulator>>,
    ) -> Result<Box<dyn Accumulator>> {
        if Self::sums_reals(&args) {
            return Ok(Box::new(Converted {
                inner: of_doubles(args, accumulator)?,
                values: DataType::Float64,
                total: Some(DataType::Float32),
            }));
        }
        let widened = Self::widened(&args);
        let accumulator = if Self::checked(&args) {
            Box::new(CheckedTotal::default())
        } else {
            accumulator(args)?
        };
        Ok(if widened {
            Box::new(Converted {
                inner: accumulator,
                values: DataType::Int64,
                total: None,
            })
        } else {
            accumulator
        })
    }
}

/// `field` as a `double precision`.
fn double(field: &FieldRef) -> FieldRef {
    Arc::new(field.as_ref().clone().with_data_type(DataType::Float64))
}

/// `make` given `args` with `double precision` in place of `real`: DataFusion's `sum`
/// of the `double precision`s the `real`s are read as.
fn of_doubles<T>(
    args: AccumulatorArgs,
    make: impl FnOnce(AccumulatorArgs) -> Result<T>,
) -> Result<T> {
    let expr_fields: Vec<FieldRef> = args.expr_fields.iter().map(double).collect();
    make(AccumulatorArgs {
        return_field: double(&args.return_field),
        expr_fields: &expr_fields,
        ..args
    })
}

/// `smallint` and `int`: summed as `bigint`s, not coerced to them (see
/// [`CheckedSum::coerce_types`]).
fn is_small_integer(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8 | DataType::Int16 | DataType::Int32
    )
}

impl AggregateUDFImpl for CheckedSum {
    same_as_inner_aggregate!(but the types and states);

    /// DataFusion's, but a `real`'s states are the `double precision` ones it is summed
    /// with.
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if args.return_field.data_type() != &DataType::Float32 {
            return self.inner.state_fields(args);
        }
        let input_fields: Vec<FieldRef> = args.input_fields.iter().map(double).collect();
        self.inner.state_fields(StateFieldsArgs {
            input_fields: &input_fields,
            return_field: double(&args.return_field),
            ..args
        })
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// DataFusion's coercions, but `bigint`s are summed as `numeric(38,0)` and smaller
    /// integers are left as they are (their accumulators read them as `bigint`s). The
    /// coercion must give the same types again when a plan is coerced a second time:
    /// were `int` coerced to `bigint`, it would become a `numeric` then.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let given: Vec<FieldRef> = arg_types
            .iter()
            .map(|t| Arc::new(Field::new("argument", t.clone(), true)))
            .collect();
        let coerced = fields_with_udf(&given, self.inner.as_ref())?;
        Ok(arg_types
            .iter()
            .zip(coerced)
            .map(|(given, coerced)| match given {
                DataType::Int64 => BIGINT_TOTAL,
                small if is_small_integer(small) => small.clone(),
                DataType::Float32 => DataType::Float32,
                _ => coerced.data_type().clone(),
            })
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [small] if is_small_integer(small) => Ok(DataType::Int64),
            [DataType::Float32] => Ok(DataType::Float32),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.wrapped(args, |args| self.inner.accumulator(args))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        if Self::sums_reals(&args) {
            return of_doubles(args, |args| {
                Ok(self.inner.groups_accumulator_supported(args))
            })
            .unwrap_or(false);
        }
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if Self::sums_reals(&args) {
            let inner = of_doubles(args, |args| self.inner.create_groups_accumulator(args))?;
            Ok(Box::new(RealGroupTotals(inner)))
        } else if Self::checked(&args) {
            Ok(Box::new(CheckedGroupTotals::default()))
        } else {
            self.inner.create_groups_accumulator(args)
        }
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.wrapped(args, |args| self.inner.create_sliding_accumulator(args))
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
}

/// The session's optimizer rules, with DataFusion's
/// `single_distinct_aggregation_to_group_by` typed as the plan it replaces
/// ([`SingleDistinctTyped`]).
pub fn optimizer_rules(
    rules: &[Arc<dyn OptimizerRule + Send + Sync>],
) -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    rules
        .iter()
        .map(|rule| {
            if rule.name() == SingleDistinctToGroupBy::new().name() {
                Arc::new(SingleDistinctTyped(SingleDistinctToGroupBy::new()))
            } else {
                rule.clone()
            }
        })
        .collect()
}

/// DataFusion's rule that plans `count(DISTINCT b), sum(c)` as two aggregates, the
/// outer one summing the inner one's partial sums with `sum` again — which assumes that
/// a `sum` of partial sums has the type of the sum. Not so for `smallint` and `int`:
/// their sum is a `bigint`, and a sum of `bigint`s a `numeric`. Such a column of the
/// rewritten plan is cast back to the type it had (the total is the same; one beyond
/// bigint's range fails with `22003`, as the one-step sum does).
#[derive(Debug)]
struct SingleDistinctTyped(SingleDistinctToGroupBy);

impl OptimizerRule for SingleDistinctTyped {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        self.0.apply_order()
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let original = Arc::clone(plan.schema());
        let rewritten = self.0.rewrite(plan, config)?;
        let LogicalPlan::Projection(projection) = &rewritten.data else {
            return Ok(rewritten);
        };
        if projection.schema.fields() == original.fields() {
            return Ok(rewritten);
        }
        let input = projection.input.schema();
        let exprs = projection
            .expr
            .iter()
            .zip(original.fields())
            .map(|(expr, field)| {
                if &expr.get_type(input)? == field.data_type() {
                    return Ok(expr.clone());
                }
                let (relation, name) = expr.qualified_name();
                Ok(expr
                    .clone()
                    .unalias()
                    .cast_to(field.data_type(), input)?
                    .alias_qualified(relation, name))
            })
            .collect::<Result<Vec<_>>>()?;
        let projection = Projection::try_new(exprs, Arc::clone(&projection.input))?;
        Ok(Transformed::yes(LogicalPlan::Projection(projection)))
    }
}

/// An accumulator of wider values than it is given (`bigint`s for `smallint` or `int`,
/// `double precision`s for `real`s): the values are widened before it sees them (its
/// states are of the wider type already), and the total converted back to `total`.
#[derive(Debug)]
struct Converted {
    inner: Box<dyn Accumulator>,
    values: DataType,
    total: Option<DataType>,
}

/// `values` as values of `to`.
fn converted(values: &[ArrayRef], to: &DataType) -> Result<Vec<ArrayRef>> {
    values.iter().map(|v| Ok(cast(v, to)?)).collect()
}

impl Accumulator for Converted {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(&converted(values, &self.values)?)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.retract_batch(&converted(values, &self.values)?)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let total = self.inner.evaluate()?;
        match &self.total {
            Some(to) => total.cast_to(to),
            None => Ok(total),
        }
    }

    fn size(&self) -> usize {
        self.inner.size() + size_of::<Self>()
    }
}

/// DataFusion's group totals of `double precision`s, given `real`s and giving `real`s.
struct RealGroupTotals(Box<dyn GroupsAccumulator>);

impl GroupsAccumulator for RealGroupTotals {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let values = converted(values, &DataType::Float64)?;
        self.0
            .update_batch(&values, group_indices, opt_filter, total_num_groups)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.0.merge_batch(values, group_indices, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        self.0
            .convert_to_state(&converted(values, &DataType::Float64)?, opt_filter)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(cast(&self.0.evaluate(emit_to)?, &DataType::Float32)?)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.0.state(emit_to)
    }

    fn size(&self) -> usize {
        self.0.size()
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

/// The totals of many groups ([`CheckedTotal`] without retraction, column-wise), given
/// `smallint` or `int` values.
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
        let values = cast(&values[0], &DataType::Int64)?;
        self.add(&values, group_indices, opt_filter, total_num_groups);
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
        let values = cast(&values[0], &DataType::Int64)?;
        let values = values.as_primitive::<Int64Type>();
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

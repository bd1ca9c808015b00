//! `min` and `max` that place `NaN` as PostgreSQL does in grouped queries.
//!
//! PostgreSQL orders `NaN` above every other floating-point value: over 1, `NaN` and 2
//! `min` is 1 and `max` is `NaN`. DataFusion's per-group accumulator for floats
//! (used with `GROUP BY`) answered 2 and 2 there; its one-group accumulator (used
//! without `GROUP BY` and over windows) answers as PostgreSQL does. These wrappers
//! use that one for floats with `GROUP BY` too; other types keep DataFusion's
//! per-group accumulators. Materialized views keep their extremes with their own
//! accumulators (`dataflow::accumulator`).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, ReversedUDAF,
    SetMonotonicity, Signature,
};

/// `min` and `max`, to register in place of DataFusion's.
pub fn functions() -> [AggregateUDF; 2] {
    use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
    [min_udaf(), max_udaf()].map(|inner| AggregateUDF::new_from_impl(FloatExtreme { inner }))
}

/// DataFusion's `min` or `max`, without its per-group accumulator for floats.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FloatExtreme {
    inner: Arc<AggregateUDF>,
}

impl AggregateUDFImpl for FloatExtreme {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.return_field.data_type().is_floating()
            && self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        self.inner.create_groups_accumulator(args)
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.create_sliding_accumulator(args)
    }

    fn is_descending(&self) -> Option<bool> {
        self.inner.inner().is_descending()
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner.inner().reverse_expr()
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.order_sensitivity()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.inner().set_monotonicity(data_type)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

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
    same_as_inner_aggregate!();

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
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
}

//! `sluice_session_start(ts, gap_µs)` and `sluice_session_end(ts, gap_µs)`: window
//! functions that give each row its session's bounds within its `OVER (PARTITION BY
//! ...)` partition. `SESSION(...)` is rewritten to them (see
//! [`super::windows`]), so plain queries compute sessions with the same rule
//! ([`session_bounds`]) as the incremental [`Session`](crate::dataflow::session::Session)
//! operator that replaces them in materialized views.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result as DfResult, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};

use crate::dataflow::session::{Bound, micros, session_bounds};

/// Name of the function giving a row's session start.
pub const SESSION_START: &str = "sluice_session_start";
/// Name of the function giving a row's session end.
pub const SESSION_END: &str = "sluice_session_end";

/// One of the two session window functions. See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SessionBound {
    bound: Bound,
    signature: Signature,
}

/// Both session window functions, for registering with the session context.
pub fn session_functions() -> Vec<WindowUDF> {
    [Bound::Start, Bound::End]
        .into_iter()
        .map(|bound| {
            WindowUDF::new_from_impl(SessionBound {
                bound,
                signature: Signature::any(2, Volatility::Immutable),
            })
        })
        .collect()
}

/// Which bound a window function call computes, when it is one of these functions.
pub fn bound_of(name: &str) -> Option<Bound> {
    match name {
        SESSION_START => Some(Bound::Start),
        SESSION_END => Some(Bound::End),
        _ => None,
    }
}

impl WindowUDFImpl for SessionBound {
    fn name(&self) -> &str {
        match self.bound {
            Bound::Start => SESSION_START,
            Bound::End => SESSION_END,
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> DfResult<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(Evaluator { bound: self.bound }))
    }

    fn field(&self, args: WindowUDFFieldArgs) -> DfResult<FieldRef> {
        let types: Vec<DataType> = args
            .input_fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        match types.as_slice() {
            [time @ DataType::Timestamp(..), DataType::Int64] => {
                Ok(Arc::new(Field::new(args.name(), time.clone(), true)))
            }
            _ => plan_err!(
                "{}: the time column of a SESSION window must be a timestamp",
                self.name()
            ),
        }
    }
}

#[derive(Debug)]
struct Evaluator {
    bound: Bound,
}

impl PartitionEvaluator for Evaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> DfResult<ArrayRef> {
        let (Some(times), Some(gap)) = (values.first(), values.get(1)) else {
            return plan_err!("session window functions take (time, gap)");
        };
        let gap = gap.as_primitive::<Int64Type>();
        if gap.is_empty() || gap.is_null(0) || gap.value(0) <= 0 {
            return plan_err!("a SESSION gap must be positive");
        }
        let micros = micros(times.as_ref())
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        let mut order: Vec<usize> = (0..num_rows).filter(|&i| micros.is_valid(i)).collect();
        order.sort_by_key(|&i| micros.value(i));
        let sorted: Vec<i64> = order.iter().map(|&i| micros.value(i)).collect();
        let mut out: Vec<Option<i64>> = vec![None; num_rows];
        for (&i, (start, end)) in order.iter().zip(session_bounds(&sorted, gap.value(0))) {
            out[i] = Some(match self.bound {
                Bound::Start => start,
                Bound::End => end,
            });
        }
        let out = TimestampMicrosecondArray::from(out);
        Ok(cast(&out, times.data_type())?)
    }
}

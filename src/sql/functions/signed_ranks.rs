//! `row_number()`, `rank()` and `dense_rank()` are `bigint` and `ntile(n)` is an
//! `integer`, as in PostgreSQL. DataFusion's return unsigned 64-bit integers, a type
//! the Postgres protocol does not have: Sluice described them as `numeric`, so drivers
//! read a decimal (pgjdbc a `BigDecimal`) where PostgreSQL gives them an integer.
//!
//! Each is DataFusion's function with its results cast, registered under the same
//! name; views (which evaluate window functions with DataFusion's evaluators, and
//! number top-N rows themselves in `dataflow::top_n`) give the same types.

use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::sort::SortOptions;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions_window::{ntile, rank, row_number};
use datafusion::logical_expr::function::{
    ExpressionArgs, PartitionEvaluatorArgs, WindowUDFFieldArgs,
};
use datafusion::logical_expr::window_state::WindowAggState;
use datafusion::logical_expr::{
    LimitEffect, PartitionEvaluator, ReversedUDWF, Signature, WindowUDF, WindowUDFImpl,
};
use datafusion::physical_expr::PhysicalExpr;

/// The functions, to register in place of DataFusion's.
pub fn functions() -> Vec<WindowUDF> {
    [
        (row_number::row_number_udwf(), DataType::Int64),
        (rank::rank_udwf(), DataType::Int64),
        (rank::dense_rank_udwf(), DataType::Int64),
        (ntile::ntile_udwf(), DataType::Int32),
    ]
    .into_iter()
    .map(|(inner, output)| WindowUDF::new_from_impl(SignedRank { inner, output }))
    .collect()
}

/// `inner` with its results cast to `output`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SignedRank {
    inner: Arc<WindowUDF>,
    output: DataType,
}

impl WindowUDFImpl for SignedRank {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn expressions(&self, expr_args: ExpressionArgs) -> Vec<Arc<dyn PhysicalExpr>> {
        self.inner.expressions(expr_args)
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(CastEvaluator {
            inner: self.inner.partition_evaluator_factory(args)?,
            output: self.output.clone(),
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let field = self.inner.field(field_args)?;
        Ok(Arc::new(
            field.as_ref().clone().with_data_type(self.output.clone()),
        ))
    }

    fn sort_options(&self) -> Option<SortOptions> {
        self.inner.sort_options()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn reverse_expr(&self) -> ReversedUDWF {
        match self.inner.reverse_expr() {
            ReversedUDWF::Reversed(inner) => {
                ReversedUDWF::Reversed(Arc::new(WindowUDF::new_from_impl(SignedRank {
                    inner,
                    output: self.output.clone(),
                })))
            }
            other => other,
        }
    }

    fn limit_effect(&self, args: &[Arc<dyn PhysicalExpr>]) -> LimitEffect {
        self.inner.inner().limit_effect(args)
    }
}

/// A partition evaluator whose results are cast to `output`.
#[derive(Debug)]
struct CastEvaluator {
    inner: Box<dyn PartitionEvaluator>,
    output: DataType,
}

impl PartitionEvaluator for CastEvaluator {
    fn memoize(&mut self, state: &mut WindowAggState) -> Result<()> {
        self.inner.memoize(state)
    }

    fn get_range(&self, idx: usize, n_rows: usize) -> Result<Range<usize>> {
        self.inner.get_range(idx, n_rows)
    }

    fn is_causal(&self) -> bool {
        self.inner.is_causal()
    }

    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        Ok(cast(
            &self.inner.evaluate_all(values, num_rows)?,
            &self.output,
        )?)
    }

    fn evaluate(&mut self, values: &[ArrayRef], range: &Range<usize>) -> Result<ScalarValue> {
        self.inner.evaluate(values, range)?.cast_to(&self.output)
    }

    fn evaluate_all_with_rank(
        &self,
        num_rows: usize,
        ranks_in_partition: &[Range<usize>],
    ) -> Result<ArrayRef> {
        let ranks = self
            .inner
            .evaluate_all_with_rank(num_rows, ranks_in_partition)?;
        Ok(cast(&ranks, &self.output)?)
    }

    fn supports_bounded_execution(&self) -> bool {
        self.inner.supports_bounded_execution()
    }

    fn uses_window_frame(&self) -> bool {
        self.inner.uses_window_frame()
    }

    fn include_rank(&self) -> bool {
        self.inner.include_rank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn ranks_are_signed_as_in_postgres() {
        let context = SessionContext::new();
        for function in functions() {
            context.register_udwf(function);
        }
        let frame = context
            .sql(
                "SELECT row_number() OVER w, rank() OVER w, dense_rank() OVER w, \
                 ntile(2) OVER w FROM (VALUES (1), (1), (2)) t(x) WINDOW w AS (ORDER BY x) \
                 ORDER BY 1",
            )
            .await
            .unwrap();
        let batches = frame.collect().await.unwrap();
        let types: Vec<DataType> = batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            [
                DataType::Int64,
                DataType::Int64,
                DataType::Int64,
                DataType::Int32
            ]
        );
        let batch =
            datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let column = |i: usize| -> Vec<i64> {
            let values = cast(batch.column(i), &DataType::Int64).unwrap();
            values.as_primitive::<Int64Type>().values().to_vec()
        };
        assert_eq!(column(0), [1, 2, 3]);
        assert_eq!(column(1), [1, 1, 3]);
        assert_eq!(column(2), [1, 1, 2]);
        assert_eq!(column(3), [1, 1, 2]);
    }
}

//! [`Filter`]: keeps the rows whose predicate is true; weights pass through.
//! Stateless, unless its predicate is memoized (see [`super::memo`]).

use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Schema;
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::exchange::Partitioning;
use super::memo::Evaluation;
use super::operator::{ErrorLog, Operator, filter_change};
use super::state::Spine;
use crate::error::{Result, SluiceError};

/// `WHERE` / `HAVING`: a change maps to the change of its kept rows.
#[derive(Debug)]
pub struct Filter {
    predicate: Arc<dyn PhysicalExpr>,
    evaluation: Evaluation,
}

impl Filter {
    /// A filter keeping rows where `predicate` is true.
    pub fn new(predicate: Arc<dyn PhysicalExpr>) -> Self {
        Filter {
            predicate,
            evaluation: Evaluation::Direct,
        }
    }

    /// The filter remembering each input row's verdict (`input`: its rows' shape),
    /// for a predicate that is not a pure function of its row.
    pub fn memoized(mut self, input: &Schema) -> Result<Self> {
        self.evaluation = Evaluation::memoized(std::slice::from_ref(&self.predicate), input)?;
        Ok(self)
    }
}

impl Operator for Filter {
    fn process(
        &mut self,
        _input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let (change, columns) =
            self.evaluation
                .rows(std::slice::from_ref(&self.predicate), change, errors)?;
        let mask = columns[0]
            .as_boolean_opt()
            .ok_or_else(|| SluiceError::Internal("filter predicate is not boolean".into()))?;
        filter_change(&change, mask)
    }

    /// Keeps nothing across rows (a memo or a held row is the row's own, and a row
    /// always reaches the same worker): rows stay where they are.
    fn partitioning(&self, _input: usize) -> Partitioning {
        Partitioning::Local
    }

    fn describe(&self) -> String {
        format!("Filter{}: {}", self.evaluation.label(), self.predicate)
    }

    fn state_size(&self) -> usize {
        self.evaluation.state_size()
    }

    fn spines(&mut self) -> Vec<(&'static str, &mut Spine)> {
        self.evaluation.spines()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::testing::{batch, change_of, rows_of};
    use datafusion::logical_expr::Operator as Op;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    #[test]
    fn keeps_matching_rows_with_their_weights() {
        // a > 1
        let predicate = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("a", 0)),
            Op::Gt,
            Arc::new(Literal::new(ScalarValue::Int64(Some(1)))),
        ));
        let mut filter = Filter::new(predicate);
        let input = change_of(
            batch(&[("a", &[Some(1), Some(2), None, Some(3)])]),
            &[1, -1, 1, 2],
        );
        let out = filter.process(0, &input, &mut ErrorLog::default()).unwrap();
        assert_eq!(rows_of(&out), vec!["2 x-1", "3 x2"]);
    }
}

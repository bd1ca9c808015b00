//! [`Filter`]: keeps the rows whose predicate is true; weights pass through.

use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::operator::{ErrorLog, Operator, evaluate_rows, filter_change};
use crate::error::{Result, SluiceError};

/// `WHERE` / `HAVING`: stateless, so a change maps to the change of its kept rows.
#[derive(Debug)]
pub struct Filter {
    predicate: Arc<dyn PhysicalExpr>,
}

impl Filter {
    /// A filter keeping rows where `predicate` is true.
    pub fn new(predicate: Arc<dyn PhysicalExpr>) -> Self {
        Filter { predicate }
    }
}

impl Operator for Filter {
    fn process(&mut self, change: &ChangeBatch, errors: &mut ErrorLog) -> Result<ChangeBatch> {
        let (change, columns) =
            evaluate_rows(std::slice::from_ref(&self.predicate), change, errors)?;
        let mask = columns[0]
            .as_boolean_opt()
            .ok_or_else(|| SluiceError::Internal("filter predicate is not boolean".into()))?;
        filter_change(&change, mask)
    }

    fn describe(&self) -> String {
        format!("Filter: {}", self.predicate)
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
        let out = filter.process(&input, &mut ErrorLog::default()).unwrap();
        assert_eq!(rows_of(&out), vec!["2 x-1", "3 x2"]);
    }
}

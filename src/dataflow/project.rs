//! [`Project`]: computes the output columns of each row; weights pass through.
//! Stateless, unless its expressions are memoized (see [`super::memo`]).

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::physical_expr::PhysicalExpr;

use super::ChangeBatch;
use super::exchange::Partitioning;
use super::memo::Evaluation;
use super::operator::{ErrorLog, Operator};
use super::state::Spine;
use crate::error::Result;

/// `SELECT expr, ...`.
#[derive(Debug)]
pub struct Project {
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
    evaluation: Evaluation,
}

impl Project {
    /// A projection producing `schema` from `exprs`.
    pub fn new(exprs: Vec<Arc<dyn PhysicalExpr>>, schema: SchemaRef) -> Self {
        Project {
            exprs,
            schema,
            evaluation: Evaluation::Direct,
        }
    }

    /// The projection remembering each input row's values (`input`: its rows' shape),
    /// for expressions that are not a pure function of their row.
    pub fn memoized(mut self, input: &Schema) -> Result<Self> {
        self.evaluation = Evaluation::memoized(&self.exprs, input)?;
        Ok(self)
    }
}

impl Operator for Project {
    fn process(
        &mut self,
        _input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let (change, columns) = self.evaluation.rows(&self.exprs, change, errors)?;
        let options = RecordBatchOptions::new().with_row_count(Some(change.num_rows()));
        let data = RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?;
        ChangeBatch::try_new(data, change.weights().clone())
    }

    /// Keeps nothing across rows (a memo or a held row is the row's own, and a row
    /// always reaches the same worker): rows stay where they are.
    fn partitioning(&self, _input: usize) -> Partitioning {
        Partitioning::Local
    }

    fn describe(&self) -> String {
        let exprs: Vec<String> = self.exprs.iter().map(|e| e.to_string()).collect();
        format!("Project{}: {}", self.evaluation.label(), exprs.join(", "))
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
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::logical_expr::Operator as Op;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
    use datafusion::scalar::ScalarValue;

    #[test]
    fn computes_columns_and_isolates_failing_rows() {
        // 10 / a
        let expr = Arc::new(BinaryExpr::new(
            Arc::new(Literal::new(ScalarValue::Int64(Some(10)))),
            Op::Divide,
            Arc::new(Column::new("a", 0)),
        ));
        let schema = Arc::new(Schema::new(vec![Field::new("q", DataType::Int64, true)]));
        let mut project = Project::new(vec![expr], schema);
        let mut errors = ErrorLog::default();
        let input = change_of(batch(&[("a", &[Some(2), Some(0), Some(5)])]), &[1, 1, -1]);
        let out = project.process(0, &input, &mut errors).unwrap();
        assert_eq!(rows_of(&out), vec!["2 x-1", "5 x1"]);
        assert_eq!(errors.first().map(|e| e.sqlstate()), Some("22012"));
        // Deleting the failing row clears the error.
        let delete = change_of(batch(&[("a", &[Some(0)])]), &[-1]);
        project.process(0, &delete, &mut errors).unwrap();
        assert!(errors.is_empty());
    }
}

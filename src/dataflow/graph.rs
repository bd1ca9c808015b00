//! [`Node`]: a view's dataflow as a tree of operators over its inputs.
//!
//! ```text
//!   Operator(Aggregate)
//!     └─ Operator(Filter)
//!          └─ Union ─┬─ Input 0   (table or view the view reads)
//!                    └─ Input 1
//! ```
//!
//! A change from input `i` enters at every leaf reading `i` and flows up; each
//! operator turns its child's output change into its own.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::SchemaRef;

use super::ChangeBatch;
use super::change::nullable;
use super::operator::{ErrorLog, Operator};
use crate::error::Result;

/// One node of a view's dataflow.
#[derive(Debug)]
pub enum Node {
    /// Changes of the view's input number `input`.
    Input {
        /// The input's number (its position in the view's input list).
        input: usize,
        /// The input's name, for `EXPLAIN`.
        name: String,
    },
    /// Rows that never change (`VALUES`, `SELECT` without `FROM`), emitted at start.
    Constant(RecordBatch),
    /// An operator over one child.
    Operator {
        /// The operator.
        op: Box<dyn Operator>,
        /// Its input.
        child: Box<Node>,
    },
    /// An inner join of two children.
    Join {
        /// The join and its state.
        op: Box<super::join::Join>,
        /// The left input.
        left: Box<Node>,
        /// The right input.
        right: Box<Node>,
    },
    /// `UNION ALL`: the children's changes, in the union's schema.
    Union {
        /// The branches.
        children: Vec<Node>,
        /// The output schema.
        schema: SchemaRef,
    },
}

impl Node {
    /// Feeds a change of input `input`; returns the change at this node, if any.
    pub fn push(
        &mut self,
        input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<Option<ChangeBatch>> {
        match self {
            Node::Input { input: mine, .. } => Ok((*mine == input).then(|| change.clone())),
            Node::Constant(_) => Ok(None),
            Node::Operator { op, child } => match child.push(input, change, errors)? {
                Some(c) if !c.is_empty() => Ok(Some(op.process(&c, errors)?)),
                _ => Ok(None),
            },
            Node::Join { op, left, right } => {
                let left_change = left.push(input, change, errors)?;
                let right_change = right.push(input, change, errors)?;
                join_changes(op, left_change, right_change, errors)
            }
            Node::Union { children, schema } => {
                let mut outputs = Vec::new();
                for child in children.iter_mut() {
                    if let Some(c) = child.push(input, change, errors)? {
                        outputs.push(c);
                    }
                }
                union(schema, outputs)
            }
        }
    }

    /// The output before any input change: constants, and rows operators produce
    /// over no input (global aggregates).
    pub fn initial(&mut self, errors: &mut ErrorLog) -> Result<Option<ChangeBatch>> {
        match self {
            Node::Input { .. } => Ok(None),
            Node::Constant(batch) => Ok(Some(ChangeBatch::inserts(batch.clone()))),
            Node::Operator { op, child } => {
                let mut outputs = Vec::new();
                if let Some(c) = op.initial_output()? {
                    outputs.push(c);
                }
                if let Some(c) = child.initial(errors)? {
                    outputs.push(op.process(&c, errors)?);
                }
                let Some(first) = outputs.first() else {
                    return Ok(None);
                };
                let schema = first.schema();
                union(&schema, outputs)
            }
            Node::Join { op, left, right } => {
                let left_change = left.initial(errors)?;
                let right_change = right.initial(errors)?;
                join_changes(op, left_change, right_change, errors)
            }
            Node::Union { children, schema } => {
                let mut outputs = Vec::new();
                for child in children.iter_mut() {
                    if let Some(c) = child.initial(errors)? {
                        outputs.push(c);
                    }
                }
                union(schema, outputs)
            }
        }
    }

    /// The tree, one node per line, for `EXPLAIN CREATE MATERIALIZED VIEW`.
    pub fn explain(&self, depth: usize, out: &mut Vec<String>) {
        let pad = "  ".repeat(depth);
        match self {
            Node::Input { input, name } => out.push(format!("{pad}Input #{input}: {name}")),
            Node::Constant(batch) => {
                out.push(format!("{pad}Constant: {} row(s)", batch.num_rows()))
            }
            Node::Operator { op, child } => {
                out.push(format!("{pad}{}", op.describe()));
                child.explain(depth + 1, out);
            }
            Node::Join { op, left, right } => {
                out.push(format!("{pad}{}", op.describe()));
                left.explain(depth + 1, out);
                right.explain(depth + 1, out);
            }
            Node::Union { children, .. } => {
                out.push(format!("{pad}UnionAll"));
                for child in children {
                    child.explain(depth + 1, out);
                }
            }
        }
    }

    /// Forgets the state of groups closed by the view's watermark `watermark` (see
    /// [`Operator::evict_closed`]).
    pub fn evict_closed(&mut self, watermark: i64) -> Result<()> {
        match self {
            Node::Input { .. } | Node::Constant(_) => Ok(()),
            Node::Operator { op, child } => {
                op.evict_closed(watermark)?;
                child.evict_closed(watermark)
            }
            Node::Join { left, right, .. } => {
                left.evict_closed(watermark)?;
                right.evict_closed(watermark)
            }
            Node::Union { children, .. } => children
                .iter_mut()
                .try_for_each(|c| c.evict_closed(watermark)),
        }
    }

    /// Input rows the tree's operators dropped as late.
    pub fn late_rows(&self) -> u64 {
        match self {
            Node::Input { .. } | Node::Constant(_) => 0,
            Node::Operator { op, child } => op.late_rows() + child.late_rows(),
            Node::Join { left, right, .. } => left.late_rows() + right.late_rows(),
            Node::Union { children, .. } => children.iter().map(Node::late_rows).sum(),
        }
    }

    /// Bytes of operator state in the tree.
    pub fn state_size(&self) -> usize {
        match self {
            Node::Input { .. } | Node::Constant(_) => 0,
            Node::Operator { op, child } => op.state_size() + child.state_size(),
            Node::Join { op, left, right } => {
                op.state_size() + left.state_size() + right.state_size()
            }
            Node::Union { children, .. } => children.iter().map(Node::state_size).sum(),
        }
    }
}

/// The join's change for changes of its left and right inputs (both at once for a
/// self-join): left first, against the right side as it was; then right, against the
/// updated left side.
fn join_changes(
    op: &mut super::join::Join,
    left: Option<ChangeBatch>,
    right: Option<ChangeBatch>,
    errors: &mut ErrorLog,
) -> Result<Option<ChangeBatch>> {
    use super::join::JoinSide;
    let mut outputs = Vec::new();
    if let Some(c) = left.filter(|c| !c.is_empty()) {
        outputs.push(op.process(JoinSide::Left, &c, errors)?);
    }
    if let Some(c) = right.filter(|c| !c.is_empty()) {
        outputs.push(op.process(JoinSide::Right, &c, errors)?);
    }
    let schema = op.schema();
    union(&schema, outputs)
}

/// Concatenates changes into one in `schema` (branches may name or type columns
/// differently; values are cast to the union's types).
fn union(schema: &SchemaRef, outputs: Vec<ChangeBatch>) -> Result<Option<ChangeBatch>> {
    match outputs.len() {
        0 => Ok(None),
        _ => {
            let mut data = Vec::with_capacity(outputs.len());
            let mut weights = Vec::new();
            for change in &outputs {
                let columns = change
                    .data()
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(c, f)| {
                        if c.data_type() == f.data_type() {
                            Ok(c.clone())
                        } else {
                            cast(c, f.data_type())
                        }
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let options = datafusion::arrow::array::RecordBatchOptions::new()
                    .with_row_count(Some(change.num_rows()));
                data.push(RecordBatch::try_new_with_options(
                    nullable(schema),
                    columns,
                    &options,
                )?);
                weights.extend_from_slice(change.weights().values());
            }
            let data = concat_batches(&nullable(schema), &data)?;
            let data = RecordBatch::try_new(schema.clone(), data.columns().to_vec())
                .or_else(|_| Ok::<_, datafusion::arrow::error::ArrowError>(data))?;
            Ok(Some(ChangeBatch::try_new(
                data,
                datafusion::arrow::array::Int64Array::from(weights),
            )?))
        }
    }
}

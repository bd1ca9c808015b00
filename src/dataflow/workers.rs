//! [`Workers`]: a view's dataflow run data-parallel, on N copies of its operator tree.
//!
//! ```text
//!   change ──spread by row hash──▶ worker 0: Filter ─┐ exchange by    ┌▶ Aggregate (keys of 0) ─┐
//!                                 worker 1: Filter ─┴─ group key  ───┴▶ Aggregate (keys of 1) ─┴▶ result
//! ```
//!
//! Every worker holds a copy of the tree, each operator with its share of the state:
//! an input change is spread over the workers (cut in pieces when the input never
//! retracts a row, else by a hash of each row), each operator's
//! input is exchanged as its [`Partitioning`] says (keyed operators get the rows of
//! their keys; stateless ones work where the rows are), and the view's change is the
//! sum of the workers' outputs. As in DBSP, the workers go through the tree in step:
//! each operator runs on all workers at once (on the shared thread pool), then its
//! outputs are exchanged for the operator above. The result equals one worker's for
//! every N (see [`super::exchange`] for why); with N = 1 nothing is hashed or moved.
//!
//! The exchange moves Arrow batches between threads of one process; the design for
//! moving them between processes (Kafka repartition topics) is in docs/scale-out.md.

use std::collections::HashMap;

use rayon::prelude::*;

use super::ChangeBatch;
use super::exchange::{cut, exchange, spread_rows};
use super::graph::{Node, concat, union};
use super::operator::{ErrorLog, Operator};
use super::state::Spine;
use crate::error::{Result, SluiceError};

/// Below this many rows an operator's shares run one after the other on the view's
/// thread: handing them to the pool would cost more than it saves.
const PARALLEL_ROWS: usize = 1024;

/// A view's operator trees, one per worker. Invariant: at least one, all of the same
/// shape (planned from the same query).
#[derive(Debug)]
pub struct Workers {
    trees: Vec<Node>,
    /// The inputs that never retract a row (by input number).
    append_only: Vec<bool>,
}

/// What a walk through the trees does at each node.
enum Step<'a> {
    /// Feeds a change of input `input`, already spread: `shares[w]` is worker w's.
    Push {
        input: usize,
        shares: &'a [Option<ChangeBatch>],
    },
    /// The output before any change: constants, global aggregates' rows.
    Initial,
    /// Calls this on every operator, after its inputs' changes.
    Advance(&'a (dyn Fn(&mut dyn Operator) -> Result<Option<ChangeBatch>> + Sync)),
}

impl Workers {
    /// The trees of `workers.len()` workers; `trees` must be planned from the same
    /// query.
    pub fn new(trees: Vec<Node>) -> Result<Workers> {
        let trees = trees
            .into_iter()
            .map(Node::shared_first)
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = trees.first() else {
            return Err(SluiceError::Internal(
                "a view runs on at least one worker".into(),
            ));
        };
        let mut append_only = Vec::new();
        first.visit_inputs(&mut |input, appends| {
            if append_only.len() <= input {
                append_only.resize(input + 1, true);
            }
            append_only[input] &= appends;
        });
        Ok(Workers { trees, append_only })
    }

    /// How many workers.
    pub fn count(&self) -> usize {
        self.trees.len()
    }

    /// Feeds a change of input `input`; returns the view's change, if any.
    pub fn push(
        &mut self,
        input: usize,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<Option<ChangeBatch>> {
        let shares = if self.count() == 1 {
            vec![Some(change.clone())]
        } else if self.append_only.get(input).copied().unwrap_or(false) {
            cut(change, self.count())
        } else {
            spread_rows(change, self.count())?
        };
        self.walk(
            &Step::Push {
                input,
                shares: &shares,
            },
            errors,
        )
    }

    /// The output before any input change: constants, and rows operators produce
    /// over no input (global aggregates).
    pub fn initial(&mut self, errors: &mut ErrorLog) -> Result<Option<ChangeBatch>> {
        self.walk(&Step::Initial, errors)
    }

    /// Moves every operator's clock to `now` (see [`Operator::advance_clock`]).
    pub fn tick(&mut self, now: i64, errors: &mut ErrorLog) -> Result<Option<ChangeBatch>> {
        self.walk(&Step::Advance(&|op| op.advance_clock(now)), errors)
    }

    /// Moves every operator to the view's watermark (see
    /// [`Operator::advance_watermark`]).
    pub fn close(&mut self, watermark: i64, errors: &mut ErrorLog) -> Result<Option<ChangeBatch>> {
        self.walk(
            &Step::Advance(&|op| op.advance_watermark(watermark)),
            errors,
        )
    }

    fn walk(&mut self, step: &Step, errors: &mut ErrorLog) -> Result<Option<ChangeBatch>> {
        let mut shared = HashMap::new();
        let outputs = walk(self.trees.iter_mut().collect(), step, errors, &mut shared)?;
        concat(outputs.into_iter().flatten().collect())
    }

    /// True when an operator reads the clock.
    pub fn reads_clock(&self) -> bool {
        self.trees[0].reads_clock()
    }

    /// The tree, for `EXPLAIN` (and the view's fingerprint: another worker count is
    /// another plan).
    pub fn explain(&self, depth: usize, out: &mut Vec<String>) {
        self.trees[0].explain(depth, out);
        if self.count() > 1 {
            out.push(format!("{}Workers: {}", "  ".repeat(depth), self.count()));
        }
    }

    /// Forgets what the watermark closed, on every worker.
    pub fn evict_closed(&mut self, watermark: i64) -> Result<()> {
        self.trees
            .iter_mut()
            .try_for_each(|t| t.evict_closed(watermark))
    }

    /// Rows the operators dropped as late, over all workers.
    pub fn late_rows(&self) -> u64 {
        self.trees.iter().map(Node::late_rows).sum()
    }

    /// The operators' state in bytes, over all workers.
    pub fn state_size(&self) -> usize {
        self.trees.iter().map(Node::state_size).sum()
    }

    /// Every operator's state runs, named by worker (from the second worker on) and
    /// operator: one worker's names are those of a tree.
    pub fn spines(&mut self) -> Vec<(String, &mut Spine)> {
        let mut spines = Vec::new();
        for (worker, tree) in self.trees.iter_mut().enumerate() {
            for (name, spine) in tree.spines() {
                let name = if worker == 0 {
                    name
                } else {
                    format!("w{worker}/{name}")
                };
                spines.push((name, spine));
            }
        }
        spines
    }

    /// Tells every operator its state was restored.
    pub fn restored(&mut self) {
        self.trees.iter_mut().for_each(Node::restored);
    }
}

/// Each shared subtree's output in a walk, per worker (by the subtree's number).
type SharedOutputs = HashMap<usize, Vec<Option<ChangeBatch>>>;

/// Walks `trees` (same shape, one per worker) in step; returns each worker's change
/// at this node. A shared subtree's output is kept in `shared` for the nodes that
/// reuse it later in the walk.
fn walk(
    trees: Vec<&mut Node>,
    step: &Step,
    errors: &mut ErrorLog,
    shared: &mut SharedOutputs,
) -> Result<Vec<Option<ChangeBatch>>> {
    let workers = trees.len();
    let mut outputs: Vec<Vec<ChangeBatch>> = vec![Vec::new(); workers];
    match &*trees[0] {
        Node::Input { input: mine, .. } => {
            return Ok(match step {
                Step::Push { input, shares } if input == mine => shares.to_vec(),
                _ => vec![None; workers],
            });
        }
        Node::Shared { id, .. } => {
            let id = *id;
            let children = trees
                .into_iter()
                .map(|t| match t {
                    Node::Shared { child, .. } => Ok(&mut **child),
                    _ => Err(shape()),
                })
                .collect::<Result<Vec<_>>>()?;
            let outputs = walk(children, step, errors, shared)?;
            shared.insert(id, outputs.clone());
            return Ok(outputs);
        }
        Node::Reuse { id } => {
            return shared.get(id).cloned().ok_or_else(|| {
                SluiceError::Internal(format!(
                    "a view reads shared subtree #{id} before computing it"
                ))
            });
        }
        Node::Constant(batch) => {
            if let Step::Initial = step {
                // Constant rows enter once, on the first worker.
                outputs[0].push(ChangeBatch::inserts(batch.clone()));
            }
        }
        Node::Union { schema, children } => {
            let (schema, branches) = (schema.clone(), children.len());
            let mut trees = trees;
            for branch in 0..branches {
                let children = trees
                    .iter_mut()
                    .map(|t| child(t, branch))
                    .collect::<Result<Vec<_>>>()?;
                for (worker, change) in walk(children, step, errors, shared)?
                    .into_iter()
                    .enumerate()
                {
                    outputs[worker].extend(change);
                }
            }
            return outputs.into_iter().map(|o| union(&schema, o)).collect();
        }
        Node::Operator { .. } => {
            let mut parts = trees
                .into_iter()
                .map(|t| match t {
                    Node::Operator { op, children } => Ok((op, children)),
                    _ => Err(shape()),
                })
                .collect::<Result<Vec<_>>>()?;
            if let Step::Initial = step
                && let Some(change) = parts[0].0.initial_output()?
            {
                // Operators with an initial row hold all their input on the first
                // worker (a global aggregate is [`Partitioning::Single`]).
                outputs[0].push(change);
            }
            for input in 0..parts[0].1.len() {
                let children = parts
                    .iter_mut()
                    .map(|(_, children)| children.get_mut(input).ok_or_else(shape))
                    .collect::<Result<Vec<_>>>()?;
                let shares = walk(children, step, errors, shared)?;
                // One worker has nothing to exchange (and no key expressions to clone
                // per change).
                let shares = if workers > 1 {
                    exchange(&parts[0].0.partitioning(input), shares, workers)?
                } else {
                    shares
                };
                let tasks = parts
                    .iter_mut()
                    .map(|(op, _)| &mut **op)
                    .zip(shares)
                    .map(|(op, share)| (op, share.filter(|c| !c.is_empty())))
                    .collect();
                let changed = on_each(tasks, |op, change, errors| match change {
                    Some(change) => op.process(input, &change, errors).map(Some),
                    None => Ok(None),
                });
                collect(changed, &mut outputs, errors)?;
            }
            if let Step::Advance(advance) = step {
                let tasks = parts.iter_mut().map(|(op, _)| (&mut **op, None)).collect();
                let advanced = on_each(tasks, |op, _, _| advance(op));
                collect(advanced, &mut outputs, errors)?;
            }
        }
    }
    outputs.into_iter().map(concat).collect()
}

type Task<'a> = (&'a mut Box<dyn Operator>, Option<ChangeBatch>);

/// Runs `work` for each worker's operator and change: on the pool when there is
/// enough to do, else one after the other. Each gets its own error log.
fn on_each<F>(tasks: Vec<Task<'_>>, work: F) -> Vec<(Result<Option<ChangeBatch>>, ErrorLog)>
where
    F: Fn(&mut dyn Operator, Option<ChangeBatch>, &mut ErrorLog) -> Result<Option<ChangeBatch>>
        + Sync,
{
    let rows: usize = tasks
        .iter()
        .flat_map(|(_, c)| c)
        .map(ChangeBatch::num_rows)
        .sum();
    let run = |(op, change): Task<'_>| {
        let mut errors = ErrorLog::default();
        (work(op.as_mut(), change, &mut errors), errors)
    };
    if tasks.len() > 1 && rows >= PARALLEL_ROWS {
        tasks.into_par_iter().map(run).collect()
    } else {
        tasks.into_iter().map(run).collect()
    }
}

/// Adds each worker's output to `outputs` and its errors to `errors`.
fn collect(
    results: Vec<(Result<Option<ChangeBatch>>, ErrorLog)>,
    outputs: &mut [Vec<ChangeBatch>],
    errors: &mut ErrorLog,
) -> Result<()> {
    for (worker, (output, log)) in results.into_iter().enumerate() {
        errors.absorb(log);
        outputs[worker].extend(output?);
    }
    Ok(())
}

fn child(tree: &mut Node, branch: usize) -> Result<&mut Node> {
    match tree {
        Node::Union { children, .. } => children.get_mut(branch).ok_or_else(shape),
        _ => Err(shape()),
    }
}

fn shape() -> SluiceError {
    SluiceError::Internal("a view's workers hold trees of different shapes".into())
}

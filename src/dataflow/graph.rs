//! [`Node`]: a view's dataflow as a tree of operators over its inputs.
//!
//! ```text
//!   Operator(Aggregate)
//!     └─ Operator(InnerJoin)
//!          ├─ Operator(Filter)        operator input 0 (the left side)
//!          │    └─ Input 0            (table or view the view reads)
//!          └─ Union ─┬─ Input 1       operator input 1 (the right side)
//!                    └─ Input 2
//! ```
//!
//! A change from input `i` enters at every leaf reading `i` and flows up (the walk is
//! [`super::workers`]', over one copy of the tree per worker); each
//! operator turns its children's output changes into its own, child by child in
//! order (a self-join sees the change of its left side first, then of its right
//! side against the updated left).
//!
//! A subtree the query computes twice (Nexmark q5 counts bids per auction and window
//! in both sides of its join) is built once: its first occurrence in walk order is a
//! [`Node::Shared`] holding it, the others are [`Node::Reuse`] leaves that hand on
//! the output the shared subtree gave in the same walk. The tree becomes a DAG whose
//! shared operators hold their state and do their work once.

use std::collections::{HashMap, HashSet};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::SchemaRef;

use super::ChangeBatch;
use super::change::nullable;
use super::operator::Operator;
use super::state::Spine;
use crate::error::{Result, SluiceError};

/// One node of a view's dataflow.
#[derive(Debug)]
pub enum Node {
    /// Changes of the view's input number `input`.
    Input {
        /// The input's number (its position in the view's input list).
        input: usize,
        /// The input's name, for `EXPLAIN`.
        name: String,
        /// The input never retracts a row (a source, an `APPEND ONLY` table): no
        /// deletion has to find where an insertion went, so its changes may be cut
        /// among workers anywhere ([`super::workers`]).
        append_only: bool,
    },
    /// Rows that never change (`VALUES`, `SELECT` without `FROM`), emitted at start.
    Constant(RecordBatch),
    /// An operator over its children: child `i` is the operator's input `i`.
    Operator {
        /// The operator.
        op: Box<dyn Operator>,
        /// Its inputs.
        children: Vec<Node>,
    },
    /// `UNION ALL`: the children's changes, in the union's schema.
    Union {
        /// The branches.
        children: Vec<Node>,
        /// The output schema.
        schema: SchemaRef,
    },
    /// A subtree other nodes read too ([`Node::Reuse`] with the same `id`).
    /// Invariant (kept by [`Node::shared_first`]): it comes before every `Reuse` of
    /// its `id` in walk order (children in order, depth first).
    Shared {
        /// The subtree's number in the view.
        id: usize,
        /// The subtree.
        child: Box<Node>,
    },
    /// The output of the [`Node::Shared`] subtree numbered `id`, in the same walk.
    Reuse {
        /// The shared subtree's number.
        id: usize,
    },
}

impl Node {
    /// Calls `f(input, append_only)` for each input leaf of the tree.
    pub fn visit_inputs(&self, f: &mut dyn FnMut(usize, bool)) {
        match self {
            Node::Input {
                input, append_only, ..
            } => f(*input, *append_only),
            Node::Constant(_) | Node::Reuse { .. } => {}
            Node::Operator { children, .. } | Node::Union { children, .. } => {
                children.iter().for_each(|c| c.visit_inputs(f))
            }
            Node::Shared { child, .. } => child.visit_inputs(f),
        }
    }

    /// True when an operator of the tree reads the clock (see
    /// [`Operator::reads_clock`]).
    pub fn reads_clock(&self) -> bool {
        match self {
            Node::Input { .. } | Node::Constant(_) | Node::Reuse { .. } => false,
            Node::Operator { op, children } => {
                op.reads_clock() || children.iter().any(Node::reads_clock)
            }
            Node::Union { children, .. } => children.iter().any(Node::reads_clock),
            Node::Shared { child, .. } => child.reads_clock(),
        }
    }

    /// The tree, one node per line, for `EXPLAIN CREATE MATERIALIZED VIEW`.
    pub fn explain(&self, depth: usize, out: &mut Vec<String>) {
        let pad = "  ".repeat(depth);
        match self {
            Node::Input { input, name, .. } => out.push(format!("{pad}Input #{input}: {name}")),
            Node::Constant(batch) => {
                out.push(format!("{pad}Constant: {} row(s)", batch.num_rows()))
            }
            Node::Operator { op, children } => {
                out.push(format!("{pad}{}", op.describe()));
                for child in children {
                    child.explain(depth + 1, out);
                }
            }
            Node::Union { children, .. } => {
                out.push(format!("{pad}UnionAll"));
                for child in children {
                    child.explain(depth + 1, out);
                }
            }
            Node::Shared { id, child } => {
                out.push(format!("{pad}Shared #{id}"));
                child.explain(depth + 1, out);
            }
            Node::Reuse { id } => out.push(format!("{pad}Reuse #{id}")),
        }
    }

    /// Forgets the state of groups closed by the view's watermark `watermark` (see
    /// [`Operator::evict_closed`]).
    pub fn evict_closed(&mut self, watermark: i64) -> Result<()> {
        match self {
            Node::Input { .. } | Node::Constant(_) | Node::Reuse { .. } => Ok(()),
            Node::Operator { op, children } => {
                op.evict_closed(watermark)?;
                children
                    .iter_mut()
                    .try_for_each(|c| c.evict_closed(watermark))
            }
            Node::Union { children, .. } => children
                .iter_mut()
                .try_for_each(|c| c.evict_closed(watermark)),
            Node::Shared { child, .. } => child.evict_closed(watermark),
        }
    }

    /// Input rows the tree's operators dropped as late.
    pub fn late_rows(&self) -> u64 {
        match self {
            Node::Input { .. } | Node::Constant(_) | Node::Reuse { .. } => 0,
            Node::Operator { op, children } => {
                op.late_rows() + children.iter().map(Node::late_rows).sum::<u64>()
            }
            Node::Union { children, .. } => children.iter().map(Node::late_rows).sum(),
            Node::Shared { child, .. } => child.late_rows(),
        }
    }

    /// Bytes of operator state in the tree.
    pub fn state_size(&self) -> usize {
        match self {
            Node::Input { .. } | Node::Constant(_) | Node::Reuse { .. } => 0,
            Node::Operator { op, children } => {
                op.state_size() + children.iter().map(Node::state_size).sum::<usize>()
            }
            Node::Union { children, .. } => children.iter().map(Node::state_size).sum(),
            Node::Shared { child, .. } => child.state_size(),
        }
    }

    /// Every operator's spines in the tree (see [`Operator::spines`]), each named
    /// `{operator number}/{spine name}` with operators numbered in pre-order: the
    /// names are the same for every tree built from the same plan.
    pub fn spines(&mut self) -> Vec<(String, &mut Spine)> {
        let mut spines = Vec::new();
        self.collect_spines(&mut 0, &mut spines);
        spines
    }

    fn collect_spines<'a>(&'a mut self, next: &mut usize, out: &mut Vec<(String, &'a mut Spine)>) {
        match self {
            Node::Input { .. } | Node::Constant(_) | Node::Reuse { .. } => {}
            Node::Operator { op, children } => {
                let number = *next;
                *next += 1;
                for (name, spine) in op.spines() {
                    out.push((format!("{number}/{name}"), spine));
                }
                for child in children {
                    child.collect_spines(next, out);
                }
            }
            Node::Union { children, .. } => {
                for child in children {
                    child.collect_spines(next, out);
                }
            }
            Node::Shared { child, .. } => child.collect_spines(next, out),
        }
    }

    /// Tells every operator that its spines were replaced (see
    /// [`Operator::restored`]).
    pub fn restored(&mut self) {
        match self {
            Node::Input { .. } | Node::Constant(_) | Node::Reuse { .. } => {}
            Node::Operator { op, children } => {
                op.restored();
                children.iter_mut().for_each(Node::restored);
            }
            Node::Union { children, .. } => children.iter_mut().for_each(Node::restored),
            Node::Shared { child, .. } => child.restored(),
        }
    }

    /// The tree with each shared subtree at the first of its occurrences in walk
    /// order (the invariant of [`Node::Shared`]), wherever it was built; fails when a
    /// [`Node::Reuse`] names no shared subtree.
    pub fn shared_first(mut self) -> Result<Node> {
        let mut subtrees = HashMap::new();
        self.take_shared(&mut subtrees);
        self.place_shared(&mut subtrees, &mut HashSet::new())?;
        Ok(self)
    }

    /// Turns every [`Node::Shared`] into a [`Node::Reuse`], its subtree into
    /// `subtrees`.
    fn take_shared(&mut self, subtrees: &mut HashMap<usize, Box<Node>>) {
        match self {
            Node::Input { .. } | Node::Constant(_) | Node::Reuse { .. } => {}
            Node::Operator { children, .. } | Node::Union { children, .. } => {
                children.iter_mut().for_each(|c| c.take_shared(subtrees))
            }
            Node::Shared { id, child } => {
                let id = *id;
                child.take_shared(subtrees);
                subtrees.insert(id, std::mem::replace(child, Box::new(Node::Reuse { id })));
                *self = Node::Reuse { id };
            }
        }
    }

    /// Puts each subtree of `subtrees` back at the first [`Node::Reuse`] of its id in
    /// walk order (`placed`: the ids put back so far).
    fn place_shared(
        &mut self,
        subtrees: &mut HashMap<usize, Box<Node>>,
        placed: &mut HashSet<usize>,
    ) -> Result<()> {
        match self {
            Node::Input { .. } | Node::Constant(_) => Ok(()),
            Node::Operator { children, .. } | Node::Union { children, .. } => children
                .iter_mut()
                .try_for_each(|c| c.place_shared(subtrees, placed)),
            Node::Shared { child, .. } => child.place_shared(subtrees, placed),
            Node::Reuse { id } => {
                let id = *id;
                if let Some(mut child) = subtrees.remove(&id) {
                    child.place_shared(subtrees, placed)?;
                    placed.insert(id);
                    *self = Node::Shared { id, child };
                } else if !placed.contains(&id) {
                    return Err(SluiceError::Internal(format!(
                        "a view reads shared subtree #{id}, which it does not have"
                    )));
                }
                Ok(())
            }
        }
    }
}

/// An operator's output changes (one per input that changed, and its initial
/// output) as one change; they share the operator's schema.
/// The changes as one (`None`: no change).
pub(super) fn concat(mut outputs: Vec<ChangeBatch>) -> Result<Option<ChangeBatch>> {
    match outputs.len() {
        0 => Ok(None),
        1 => Ok(outputs.pop()),
        _ => {
            let schema = outputs[0].schema();
            union(&schema, outputs)
        }
    }
}

/// Concatenates changes into one in `schema` (branches may name or type columns
/// differently; values are cast to the union's types).
/// The changes as one in `schema` (columns cast to its types).
pub(super) fn union(schema: &SchemaRef, outputs: Vec<ChangeBatch>) -> Result<Option<ChangeBatch>> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::PhysicalExpr;
    use datafusion::physical_expr::expressions::Column;

    use super::*;
    use crate::dataflow::accumulator::AggregateKind;
    use crate::dataflow::aggregate::Aggregate;
    use crate::dataflow::join::{Join, JoinKind};
    use crate::dataflow::operator::ErrorLog;
    use crate::dataflow::session::{Bound, Session};
    use crate::dataflow::state::checkpoint;
    use crate::dataflow::testing::{Multiset, batch, bigint_call, change_of, rows_of};
    use crate::dataflow::workers::Workers;

    fn column(name: &str, index: usize) -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(name, index))
    }

    fn input(input: usize) -> Node {
        Node::Input {
            input,
            name: format!("t{input}"),
            append_only: false,
        }
    }

    /// `SELECT l.k, min(r.b), max(r.b), count(DISTINCT r.b), sum(l.a), count(*)
    /// FROM l LEFT JOIN r ON l.k = r.k GROUP BY l.k`, over inputs `l(k, a)`, `r(k, b)`.
    fn join_then_aggregate() -> Node {
        let field = |name: &str| Field::new(name, DataType::Int64, true);
        let side = |value: &str| Schema::new(vec![field("k"), field(value)]);
        let pairs = Arc::new(Schema::new(vec![
            field("k"),
            field("a"),
            field("k"),
            field("b"),
        ]));
        let join = Join::try_new(
            JoinKind::LeftOuter,
            &side("a"),
            &side("b"),
            vec![(column("k", 0), column("k", 0))],
            None,
            pairs,
        )
        .unwrap();
        let calls = vec![
            bigint_call(AggregateKind::Min, Some(column("b", 3))),
            bigint_call(AggregateKind::Max, Some(column("b", 3))),
            bigint_call(AggregateKind::CountDistinct, Some(column("b", 3))),
            bigint_call(AggregateKind::Sum, Some(column("a", 1))),
            bigint_call(AggregateKind::Count, None),
        ];
        let output = Arc::new(Schema::new(
            ["k", "min", "max", "distinct", "sum", "count"]
                .map(field)
                .to_vec(),
        ));
        let aggregate = Aggregate::try_new(vec![column("k", 0)], calls, output).unwrap();
        Node::Operator {
            op: Box::new(aggregate),
            children: vec![Node::Operator {
                op: Box::new(join),
                children: vec![input(0), input(1)],
            }],
        }
    }

    /// Session windows over input 0 `(k, a)`: partitioned by `k`, event time `a`, gap 3.
    fn sessions() -> Node {
        let field = |name: &str| Field::new(name, DataType::Int64, true);
        let input_schema = Arc::new(Schema::new(vec![field("k"), field("a")]));
        let output = Arc::new(Schema::new(
            ["k", "a", "window_start", "window_end"].map(field).to_vec(),
        ));
        let session = Session::try_new(
            vec![column("k", 0)],
            column("a", 1),
            3,
            vec![Bound::Start, Bound::End],
            &input_schema,
            output,
        )
        .unwrap();
        Node::Operator {
            op: Box::new(session),
            children: vec![input(0)],
        }
    }

    /// A deterministic stream of changes to inputs 0 and 1 (rows `(k, v)`, small
    /// domains so that groups, duplicates and deletions are frequent): each delete
    /// removes a row that is there. Every `wide`-th change has about 2,000 rows
    /// (0: none).
    fn stream(steps: usize, wide: usize) -> Vec<(usize, ChangeBatch)> {
        let mut seed = 0x5eed_u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut live: [Vec<(i64, i64)>; 2] = [Vec::new(), Vec::new()];
        let mut changes = Vec::new();
        for step in 0..steps {
            let input = next(2) as usize;
            let (mut keys, mut values, mut weights) = (Vec::new(), Vec::new(), Vec::new());
            let rows = if wide > 0 && step % wide == 0 {
                2_000 + next(100)
            } else {
                1 + next(4)
            };
            for _ in 0..rows {
                let row = if next(3) == 0 && !live[input].is_empty() {
                    let row = live[input].swap_remove(next(live[input].len() as u64) as usize);
                    weights.push(-1);
                    row
                } else {
                    let row = (next(5) as i64, next(12) as i64);
                    live[input].push(row);
                    weights.push(1);
                    row
                };
                keys.push(Some(row.0));
                values.push(Some(row.1));
            }
            let value = if input == 0 { "a" } else { "b" };
            let data = batch(&[("k", &keys), (value, &values)]);
            changes.push((input, change_of(data, &weights)));
        }
        changes
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sluice-graph-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn push_all(workers: &mut Workers, input: usize, change: &ChangeBatch) -> Vec<String> {
        let mut errors = ErrorLog::default();
        let out = workers.push(input, change, &mut errors).unwrap();
        assert!(errors.is_empty());
        out.map(|c| rows_of(&c)).unwrap_or_default()
    }

    /// A tree restored from a checkpoint continues exactly as the tree it was taken
    /// of: the spines hold everything its operators remember. Two checkpoints into
    /// one directory (the second writes only the runs made since the first), each
    /// restored into a fresh tree; all trees then agree change for change.
    fn restores_exactly(name: &str, build: fn() -> Node) {
        let dir = scratch(name);
        let changes = stream(300, 0);
        let mut original = on_workers(build, 1);
        let mut restored: Vec<Workers> = Vec::new();
        let mut checkpoints = Vec::new();
        for (step, (input, change)) in changes.iter().enumerate() {
            if step == 100 || step == 200 {
                let taken = checkpoint::checkpoint(
                    original.spines().into_iter().map(|(n, s)| (n, &*s)),
                    &dir,
                )
                .unwrap();
                assert!(taken.bytes_written > 0);
                let mut fresh = on_workers(build, 1);
                checkpoint::restore(fresh.spines(), &dir, &taken).unwrap();
                fresh.restored();
                restored.push(fresh);
                checkpoints.push(taken);
            }
            let expected = push_all(&mut original, *input, change);
            for tree in &mut restored {
                assert_eq!(push_all(tree, *input, change), expected, "step {step}");
            }
        }
        // State taken of another plan is refused.
        let mut other = if name == "sessions" {
            join_then_aggregate()
        } else {
            sessions()
        };
        let error = checkpoint::restore(other.spines(), &dir, &checkpoints[1]).unwrap_err();
        assert!(error.to_string().contains("another plan"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `SELECT count(*), sum(a) FROM t0`: one group, on the first worker.
    fn global_aggregate() -> Node {
        let field = |name: &str| Field::new(name, DataType::Int64, true);
        let calls = vec![
            bigint_call(AggregateKind::Count, None),
            bigint_call(AggregateKind::Sum, Some(column("a", 1))),
        ];
        let output = Arc::new(Schema::new(vec![field("count"), field("sum")]));
        Node::Operator {
            op: Box::new(Aggregate::try_new(Vec::new(), calls, output).unwrap()),
            children: vec![input(0)],
        }
    }

    /// `SELECT * FROM (SELECT k, count(*) FROM t0 GROUP BY k) a JOIN (the same) b
    /// ON a.k = b.k`, the count built once (shared by both sides, the reuse built
    /// first: [`Node::shared_first`] moves the subtree to the left side, read first)
    /// or twice.
    fn counts_joined(shared: bool) -> Node {
        let field = |name: &str| Field::new(name, DataType::Int64, true);
        let counts = Arc::new(Schema::new(vec![field("k"), field("count")]));
        let count = || Node::Operator {
            op: Box::new(
                Aggregate::try_new(
                    vec![column("k", 0)],
                    vec![bigint_call(AggregateKind::Count, None)],
                    counts.clone(),
                )
                .unwrap(),
            ),
            children: vec![input(0)],
        };
        let pairs = Arc::new(Schema::new(
            ["k", "count", "k", "count"].map(field).to_vec(),
        ));
        let join = Join::try_new(
            JoinKind::Inner,
            &counts,
            &counts,
            vec![(column("k", 0), column("k", 0))],
            None,
            pairs,
        )
        .unwrap();
        let children = if shared {
            let child = Box::new(count());
            vec![Node::Reuse { id: 7 }, Node::Shared { id: 7, child }]
        } else {
            vec![count(), count()]
        };
        Node::Operator {
            op: Box::new(join),
            children,
        }
    }

    fn shared_counts_joined() -> Node {
        counts_joined(true)
    }

    fn on_workers(build: fn() -> Node, workers: usize) -> Workers {
        Workers::new((0..workers).map(|_| build()).collect()).unwrap()
    }

    /// Four workers (changes spread, exchanged by key, some wide enough to run on the
    /// pool) hold the same result as one after every change, and a checkpoint of the
    /// four restores into four that go on alike.
    #[test]
    fn four_workers_give_one_workers_result() {
        for build in [
            join_then_aggregate,
            sessions,
            global_aggregate,
            shared_counts_joined,
        ] {
            let dir = scratch("workers");
            let mut one = on_workers(build, 1);
            let mut four = on_workers(build, 4);
            let mut restored = None;
            let (mut expected, mut got, mut again) = (
                Multiset::default(),
                Multiset::default(),
                Multiset::default(),
            );
            let mut errors = ErrorLog::default();
            for (workers, seen) in [(&mut one, &mut expected), (&mut four, &mut got)] {
                if let Some(c) = workers.initial(&mut errors).unwrap() {
                    seen.apply(&c);
                }
            }
            for (step, (input, change)) in stream(200, 25).iter().enumerate() {
                if step == 120 {
                    let taken = checkpoint::checkpoint(
                        four.spines().into_iter().map(|(n, s)| (n, &*s)),
                        &dir,
                    )
                    .unwrap();
                    let mut fresh = on_workers(build, 4);
                    checkpoint::restore(fresh.spines(), &dir, &taken).unwrap();
                    fresh.restored();
                    again = got.clone();
                    restored = Some(fresh);
                }
                for (workers, seen) in [(&mut one, &mut expected), (&mut four, &mut got)]
                    .into_iter()
                    .chain(restored.as_mut().map(|r| (r, &mut again)))
                {
                    if let Some(c) = workers.push(*input, change, &mut errors).unwrap() {
                        seen.apply(&c);
                    }
                }
                assert_eq!(got.rows(), expected.rows(), "step {step}");
                if restored.is_some() {
                    assert_eq!(again.rows(), expected.rows(), "restored, step {step}");
                }
            }
            assert!(errors.is_empty());
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// A subtree built once and read twice gives what its two copies give, on one
    /// worker and on four, and holds its state once.
    #[test]
    fn a_shared_subtree_gives_what_its_copies_give() {
        for workers in [1, 4] {
            let mut copies = on_workers(|| counts_joined(false), workers);
            let mut shared = on_workers(shared_counts_joined, workers);
            let mut lines = Vec::new();
            shared.explain(0, &mut lines);
            assert_eq!(lines[1].trim(), "Shared #7", "{lines:?}");
            assert!(lines.iter().any(|l| l.trim() == "Reuse #7"), "{lines:?}");
            let (mut expected, mut got) = (Multiset::default(), Multiset::default());
            let mut errors = ErrorLog::default();
            for (step, (input, change)) in stream(200, 25).iter().enumerate() {
                if *input != 0 {
                    continue;
                }
                for (tree, seen) in [(&mut copies, &mut expected), (&mut shared, &mut got)] {
                    if let Some(c) = tree.push(*input, change, &mut errors).unwrap() {
                        seen.apply(&c);
                    }
                }
                assert_eq!(
                    got.rows(),
                    expected.rows(),
                    "{workers} workers, step {step}"
                );
            }
            assert!(!expected.rows().is_empty());
            assert!(errors.is_empty());
            assert!(shared.state_size() < copies.state_size());
            assert!(shared.spines().len() < copies.spines().len());
        }
    }

    /// A reuse with no shared subtree is refused when the trees are built.
    #[test]
    fn a_reuse_of_nothing_is_refused() {
        let error = Workers::new(vec![Node::Reuse { id: 3 }]).unwrap_err();
        assert!(error.to_string().contains("#3"), "{error}");
    }

    #[test]
    fn a_restored_shared_subtree_continues_exactly() {
        restores_exactly("shared", shared_counts_joined);
    }

    #[test]
    fn a_restored_join_and_aggregate_continue_exactly() {
        restores_exactly("join-aggregate", join_then_aggregate);
    }

    #[test]
    fn restored_session_windows_continue_exactly() {
        restores_exactly("sessions", sessions);
    }
}

//! Temporal joins (`JOIN t FOR SYSTEM_TIME AS OF PROCTIME()`, RisingWave's process-time
//! temporal join, Flink's lookup join): each left row is joined with the right side's
//! rows as they are when it arrives, and the result never changes after.
//!
//! ```text
//!   left row (stream, only appended) ──▶ look up its key in the right side ──▶ pairs
//!   right change (a table)           ──▶ the right side's index; no output
//! ```
//!
//! Only the right side is stored: no right change looks back at left rows. Since a
//! left row's pairs depend on when it came, a retraction could not be answered, so the
//! left side must only append (the planner checks; a retraction here is an error).
//! Inner joins emit the pairs; left joins also a left row with NULLs where no right
//! row matches.

use datafusion::arrow::array::{BooleanArray, RecordBatch};

use super::{Join, JoinKind, JoinSide, concat, updates_of};
use crate::dataflow::ChangeBatch;
use crate::dataflow::operator::{ErrorLog, filter_change};
use crate::error::{Result, SluiceError};

impl Join {
    /// This join as a temporal one (see the module docs): inner and left joins only.
    pub fn temporal(mut self) -> Result<Self> {
        if !matches!(self.kind, JoinKind::Inner | JoinKind::LeftOuter) {
            return Err(SluiceError::Internal(format!(
                "a {:?} join cannot be temporal",
                self.kind
            )));
        }
        self.temporal = true;
        Ok(self)
    }

    /// A change of `side` in a temporal join.
    pub(super) fn process_temporal(
        &mut self,
        side: JoinSide,
        change: &ChangeBatch,
        errors: &mut ErrorLog,
    ) -> Result<ChangeBatch> {
        let (change, keys) = self.keys_of(side, change, errors)?;
        if side == JoinSide::Right {
            let rows = self.right.rows.convert_columns(change.data().columns())?;
            self.store(side, &change, &rows, updates_of(&keys))?;
            return Ok(ChangeBatch::inserts(RecordBatch::new_empty(
                self.schema.clone(),
            )));
        }
        if change.weights().values().iter().any(|w| *w < 0) {
            return Err(SluiceError::Internal(
                "a temporal join's left side retracted a row".into(),
            ));
        }
        let matching = self.matching(side, &keys);
        let pairs = self.pairs(side, &change, &matching)?;
        let passing = self.pair_mask(&pairs, errors)?;
        let mut matched = vec![false; change.num_rows()];
        for ((row, _, _), passes) in matching.iter().zip(&passing) {
            matched[*row as usize] |= *passes;
        }
        let joined = filter_change(&pairs, &BooleanArray::from(passing))?;
        if self.kind != JoinKind::LeftOuter {
            return Ok(joined);
        }
        let alone: Vec<u32> = (0..change.num_rows() as u32)
            .filter(|row| !matched[*row as usize])
            .collect();
        let weights = alone
            .iter()
            .map(|row| change.weights().value(*row as usize))
            .collect();
        let padded = self.rows_of_change(side, &change, &alone, weights, Vec::new())?;
        concat(&joined, &padded)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::join_of;
    use super::*;
    use crate::dataflow::operator::Operator;
    use crate::dataflow::testing::{batch, change_of, rows_of};

    fn push(join: &mut Join, input: usize, rows: &[(i64, i64)], weights: &[i64]) -> Vec<String> {
        let (first, second) = if input == 0 { ("k", "a") } else { ("k", "b") };
        let keys: Vec<Option<i64>> = rows.iter().map(|r| Some(r.0)).collect();
        let values: Vec<Option<i64>> = rows.iter().map(|r| Some(r.1)).collect();
        let data = batch(&[(first, &keys), (second, &values)]);
        rows_of(
            &join
                .process(input, &change_of(data, weights), &mut ErrorLog::default())
                .unwrap(),
        )
    }

    #[test]
    fn left_rows_see_the_right_side_as_it_is_when_they_come() {
        for kind in [JoinKind::Inner, JoinKind::LeftOuter] {
            let mut join = join_of(kind, false).temporal().unwrap();
            assert!(push(&mut join, 1, &[(1, 10), (2, 20)], &[1, 1]).is_empty());
            assert_eq!(
                push(&mut join, 0, &[(1, 100), (3, 300)], &[1, 1]),
                match kind {
                    JoinKind::Inner => vec!["1,100,1,10 x1"],
                    _ => vec!["1,100,1,10 x1", "3,300,NULL,NULL x1"],
                }
            );
            // The right side changes: rows already joined stay as they are.
            assert!(push(&mut join, 1, &[(1, 10), (1, 11), (3, 30)], &[-1, 1, 1]).is_empty());
            assert_eq!(
                push(&mut join, 0, &[(1, 101), (3, 301)], &[1, 1]),
                vec!["1,101,1,11 x1", "3,301,3,30 x1"]
            );
            // The left side only appends.
            let data = batch(&[("k", &[Some(1)]), ("a", &[Some(100)])]);
            assert!(
                join.process(0, &change_of(data, &[-1]), &mut ErrorLog::default())
                    .is_err()
            );
        }
    }
}

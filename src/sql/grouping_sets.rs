//! `GROUP BY GROUPING SETS (...)`, `ROLLUP (...)` and `CUBE (...)` in a view: one
//! aggregate per grouping set, each padded to the full row (NULL for the keys it
//! does not group by) and stamped with DataFusion's `__grouping_id`, under a `UNION
//! ALL` — the rows a batch query gives, each set maintained on its own.
//!
//! The grouping id is DataFusion's ([`Aggregate::INTERNAL_GROUPING_ID`]): bit `i`
//! (from the least significant, counting keys from the last) set when key `i` is not
//! grouped, and above the keys' bits the ordinal of a set that repeats an earlier one
//! (PostgreSQL keeps a row per occurrence). `GROUPING(...)` reads it.

use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::utils::enumerate_grouping_sets;
use datafusion::logical_expr::{Aggregate, Expr, GroupingSet};

use crate::error::SluiceError;

/// The most expressions a `CUBE` may have in a view (2^8 aggregates).
const MAX_CUBE: usize = 8;

/// One grouping set of an aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupingSetPlan {
    /// For each of the aggregate's keys (its distinct grouping expressions, in output
    /// order): grouped by in this set.
    pub grouped: Vec<bool>,
    /// The set's `__grouping_id`, of the aggregate's grouping id type.
    pub grouping_id: ScalarValue,
}

/// The keys of an aggregate over grouping sets (its output's first columns) and its
/// sets; `None` when `group_expr` has no grouping sets.
pub fn grouping_sets(group_expr: &[Expr]) -> Result<Option<(Vec<Expr>, Vec<GroupingSetPlan>)>> {
    if !group_expr.iter().any(|e| matches!(e, Expr::GroupingSet(_))) {
        return Ok(None);
    }
    let enumerated = enumerate_grouping_sets(group_expr.to_vec())?;
    let [Expr::GroupingSet(set)] = enumerated.as_slice() else {
        return Err(DataFusionError::External(Box::new(
            SluiceError::not_supported(
                "this GROUP BY with grouping sets is not supported in a materialized view",
            ),
        )));
    };
    let keys: Vec<Expr> = set.distinct_expr().into_iter().cloned().collect();
    // (`enumerate_grouping_sets` leaves a lone ROLLUP or CUBE as it is.)
    let sets: Vec<Vec<Expr>> = match set {
        GroupingSet::GroupingSets(sets) => sets.clone(),
        GroupingSet::Rollup(exprs) => (0..=exprs.len()).map(|n| exprs[..n].to_vec()).collect(),
        GroupingSet::Cube(exprs) if exprs.len() <= MAX_CUBE => (0..1usize << exprs.len())
            .map(|mask| {
                (0..exprs.len())
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| exprs[i].clone())
                    .collect()
            })
            .collect(),
        GroupingSet::Cube(_) => {
            return Err(DataFusionError::External(Box::new(
                SluiceError::not_supported(format!(
                    "CUBE of more than {MAX_CUBE} expressions is not supported in a \
                     materialized view (it makes one aggregate per subset)"
                )),
            )));
        }
    };
    let masks: Vec<Vec<bool>> = sets
        .iter()
        .map(|set| keys.iter().map(|k| set.contains(k)).collect())
        .collect();
    let mut ordinals = Vec::with_capacity(masks.len());
    for (i, mask) in masks.iter().enumerate() {
        ordinals.push(masks[..i].iter().filter(|m| *m == mask).count());
    }
    let max_ordinal = ordinals.iter().copied().max().unwrap_or(0);
    let id_type = Aggregate::grouping_id_type(keys.len(), max_ordinal);
    let plans = masks
        .into_iter()
        .zip(ordinals)
        .map(|(grouped, ordinal)| {
            let semantic = grouped
                .iter()
                .fold(0u64, |id, grouped| (id << 1) | u64::from(!grouped));
            let id = semantic | ((ordinal as u64) << keys.len());
            Ok(GroupingSetPlan {
                grouped,
                grouping_id: ScalarValue::UInt64(Some(id)).cast_to(&id_type)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((keys, plans)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::col;

    #[test]
    fn rollup_ids_mark_the_keys_left_out() {
        let rollup = Expr::GroupingSet(GroupingSet::Rollup(vec![col("a"), col("b")]));
        let (keys, sets) = grouping_sets(&[rollup]).unwrap().unwrap();
        assert_eq!(keys, vec![col("a"), col("b")]);
        let shown: Vec<(Vec<bool>, ScalarValue)> = sets
            .into_iter()
            .map(|s| (s.grouped, s.grouping_id))
            .collect();
        assert_eq!(
            shown,
            vec![
                (vec![false, false], ScalarValue::UInt8(Some(0b11))),
                (vec![true, false], ScalarValue::UInt8(Some(0b01))),
                (vec![true, true], ScalarValue::UInt8(Some(0b00))),
            ]
        );
    }

    #[test]
    fn a_repeated_set_gets_an_ordinal() {
        let sets = Expr::GroupingSet(GroupingSet::GroupingSets(vec![
            vec![col("a")],
            vec![col("a")],
        ]));
        let (_, sets) = grouping_sets(&[sets]).unwrap().unwrap();
        let ids: Vec<ScalarValue> = sets.into_iter().map(|s| s.grouping_id).collect();
        assert_eq!(
            ids,
            vec![ScalarValue::UInt8(Some(0)), ScalarValue::UInt8(Some(0b10))]
        );
    }
}

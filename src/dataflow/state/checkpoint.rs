//! Checkpoints of a set of named spines (an operator tree's, a view's): each spine
//! writes its new runs under `dir/<name>/` ([`Spine::checkpoint`]), and a
//! [`StateCheckpoint`] lists, per name, the runs that give the spines back.

use std::collections::BTreeMap;
use std::path::Path;

use super::spine::{RunId, RunWrite, Spine};
use crate::error::{Result, SluiceError};

/// The runs that make up each named spine as of a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateCheckpoint {
    /// Per spine name, its runs, oldest first.
    pub spines: BTreeMap<String, Vec<RunId>>,
    /// Bytes this checkpoint wrote (runs already written by an earlier one are not
    /// written again).
    pub bytes_written: u64,
}

/// Writes the runs of `spines` not yet on disk under `dir` (one directory per name).
pub fn checkpoint<'a>(
    spines: impl IntoIterator<Item = (String, &'a Spine)>,
    dir: &Path,
) -> Result<StateCheckpoint> {
    let (mut checkpoint, writes) = plan(spines, dir)?;
    checkpoint.bytes_written = RunWrite::write_all(&writes)?;
    Ok(checkpoint)
}

/// [`checkpoint`] in two steps: what the checkpoint consists of (its
/// `bytes_written` still 0), and the run writes that make it so, which may run on
/// another thread (see [`Spine::plan_checkpoint`]).
pub fn plan<'a>(
    spines: impl IntoIterator<Item = (String, &'a Spine)>,
    dir: &Path,
) -> Result<(StateCheckpoint, Vec<RunWrite>)> {
    let mut checkpoint = StateCheckpoint::default();
    let mut all_writes = Vec::new();
    for (name, spine) in spines {
        let (runs, writes) = spine.plan_checkpoint(&dir.join(&name));
        all_writes.extend(writes);
        if checkpoint.spines.insert(name.clone(), runs).is_some() {
            return Err(SluiceError::Internal(format!("two spines named {name}")));
        }
    }
    Ok((checkpoint, all_writes))
}

/// Replaces `spines` with the ones `checkpoint` lists under `dir`. The names must be
/// exactly the checkpoint's: state taken from another plan is refused, never read
/// into the wrong operator.
pub fn restore(
    spines: Vec<(String, &mut Spine)>,
    dir: &Path,
    checkpoint: &StateCheckpoint,
) -> Result<()> {
    let mut names: Vec<&str> = spines.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    let taken: Vec<&str> = checkpoint.spines.keys().map(String::as_str).collect();
    if names != taken {
        return Err(SluiceError::Internal(format!(
            "the checkpoint in {} holds state [{}], not [{}]: it was taken of another plan",
            dir.display(),
            taken.join(", "),
            names.join(", "),
        )));
    }
    for (name, spine) in spines {
        let runs = checkpoint.spines.get(&name).map_or(&[][..], Vec::as_slice);
        *spine = Spine::restore(&dir.join(&name), runs)?;
    }
    Ok(())
}

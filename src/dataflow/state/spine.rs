//! [`Spine`]: a Z-set of byte keys held as a few immutable, key-sorted runs — the
//! shape of differential dataflow's and DBSP's spines.
//!
//! ```text
//!   apply(batch) ──▶ sort + consolidate once ──▶ new run ──┐
//!                                                          ▼
//!   runs:  [ 4096 keys ][ 1500 ][ 600 ][ 200 ]  ◀── merge the last two while the
//!            oldest, largest           newest       older is at most twice the newer
//! ```
//!
//! Applying a batch costs its own sort plus, amortized, O(log n) merge work per key;
//! no key is inserted into a tree one by one. The merge policy keeps run sizes
//! roughly geometric, so there are O(log n) runs: a key is read with one binary
//! search per run, and a full read merges the runs on the fly ([`Merged`]).
//!
//! Large merges (from [`BACKGROUND_MERGE_KEYS`] up to [`INLINE_MERGE_KEYS_FROM`]
//! keys) run on a thread of their own while the spine goes on taking batches and
//! answering reads from the two runs; the merged run replaces them at a later apply.
//! One merge per spine runs in the background: when the policy asks for a second,
//! the apply waits for the first (so merging cannot fall behind and runs stay
//! O(log n)).
//!
//! Runs never change once built, so a checkpoint ([`Spine::checkpoint`]) writes only
//! the runs made since the previous one — its cost follows the change rate, not the
//! state size — and a copy of the spine ([`Clone`]) shares them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::run::Run;
use crate::error::Result;
use crate::storage::{checkpoint_file, files};

/// A run's name, unique within its spine (and so within its checkpoint directory).
pub type RunId = u64;

/// The runs a checkpoint of a spine consists of, and what writing it cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpineCheckpoint {
    /// Every run of the spine, oldest first: restoring them gives the spine back.
    pub runs: Vec<RunId>,
    /// Bytes written by this checkpoint (runs already on disk are not written again).
    pub bytes_written: u64,
}

/// Merges of runs holding at least this many keys together run in the background,
/// when they hold fewer than [`INLINE_MERGE_KEYS_FROM`].
pub const BACKGROUND_MERGE_KEYS: usize = 1 << 16;

/// Merges this large run where the change is applied again: measured (the
/// `arrangement` benchmark, 10M rows), merges of millions of keys on their own
/// thread made loading five times slower than merging them in place. `perf` shows
/// the merging threads clearing fresh pages (`clear_page_erms`, a third of the
/// samples): the memory of runs merged on one thread and freed on another goes back
/// to the system and is faulted in again. (mimalloc as the global allocator was
/// slower still.)
pub const INLINE_MERGE_KEYS_FROM: usize = 1 << 20;

/// A Z-set of byte keys. See the module docs.
#[derive(Debug, Default)]
pub struct Spine {
    /// Oldest (and largest) first. Invariant: no run is empty.
    runs: Vec<Entry>,
    next_id: RunId,
    /// The merge running in the background, if any. Invariant: its two runs are
    /// adjacent in `runs` until it is installed.
    merging: Option<Merging>,
}

/// Two adjacent runs being merged on another thread.
#[derive(Debug)]
struct Merging {
    /// The runs merged, older first.
    inputs: (RunId, RunId),
    thread: std::thread::JoinHandle<Run>,
}

impl Clone for Spine {
    /// A copy sharing the runs. A merge in progress stays with the original: the
    /// copy holds the two runs it merges (the same keys).
    fn clone(&self) -> Spine {
        Spine {
            runs: self.runs.clone(),
            next_id: self.next_id,
            merging: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    id: RunId,
    run: Arc<Run>,
    /// True once the run is in the checkpoint directory. Shared by the copies of the
    /// spine, like the run: a checkpoint may write a copy (taken under a lock, written
    /// without it) and the spine still knows which runs are on disk.
    written: Arc<AtomicBool>,
}

impl Spine {
    /// The empty Z-set.
    pub fn new() -> Spine {
        Spine::default()
    }

    /// Adds `weights[i]` occurrences of `keys[i]` for every `i` (any order; repeated
    /// keys allowed).
    pub fn apply(&mut self, keys: &[&[u8]], weights: &[i64]) -> Result<()> {
        let run = Run::consolidate(keys, weights)?;
        self.install_merged(false);
        if let Some(entry) = self.entry(run) {
            self.runs.push(entry);
        }
        // Merge the newest pair of adjacent runs whose older is at most twice the
        // newer, until there is none.
        while let Some(at) = (0..self.runs.len().saturating_sub(1)).rev().find(|&at| {
            !self.is_merging(at)
                && !self.is_merging(at + 1)
                && self.runs[at].run.len() <= 2 * self.runs[at + 1].run.len()
        }) {
            let keys = self.runs[at].run.len() + self.runs[at + 1].run.len();
            if !(BACKGROUND_MERGE_KEYS..INLINE_MERGE_KEYS_FROM).contains(&keys) {
                let merged = Run::merge(&self.runs[at].run, &self.runs[at + 1].run);
                self.replace_pair(at, merged);
            } else if self.merging.is_some() {
                self.install_merged(true);
            } else {
                self.merge_in_background(at);
            }
        }
        Ok(())
    }

    /// A new entry for `run`, or none when it is empty.
    fn entry(&mut self, run: Run) -> Option<Entry> {
        if run.is_empty() {
            return None;
        }
        self.next_id += 1;
        Some(Entry {
            id: self.next_id - 1,
            run: Arc::new(run),
            written: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Replaces the runs at `at` and `at + 1` with `merged`, their union.
    fn replace_pair(&mut self, at: usize, merged: Run) {
        let entry = self.entry(merged);
        self.runs.splice(at..at + 2, entry);
    }

    fn is_merging(&self, at: usize) -> bool {
        let id = self.runs[at].id;
        self.merging
            .as_ref()
            .is_some_and(|m| m.inputs.0 == id || m.inputs.1 == id)
    }

    /// Starts merging the runs at `at` and `at + 1` on a thread of its own (at once,
    /// here, when no thread can be started).
    fn merge_in_background(&mut self, at: usize) {
        let (older, newer) = (self.runs[at].run.clone(), self.runs[at + 1].run.clone());
        let started = std::thread::Builder::new()
            .name("spine-merge".into())
            .spawn(move || Run::merge(&older, &newer));
        match started {
            Ok(thread) => {
                self.merging = Some(Merging {
                    inputs: (self.runs[at].id, self.runs[at + 1].id),
                    thread,
                });
            }
            Err(_) => {
                let merged = Run::merge(&self.runs[at].run, &self.runs[at + 1].run);
                self.replace_pair(at, merged);
            }
        }
    }

    /// Puts a background merge that has ended in place of its two runs. A spine that
    /// takes no more changes would otherwise keep both the two runs and the merged
    /// one (held by the ended thread): the view calls this at every checkpoint.
    pub fn install_finished_merge(&mut self) {
        self.install_merged(false);
    }

    /// Puts the background merge's result in place of its two runs, if it has ended
    /// (`wait`: waiting for it to end).
    fn install_merged(&mut self, wait: bool) {
        if !wait
            && self
                .merging
                .as_ref()
                .is_none_or(|m| !m.thread.is_finished())
        {
            return;
        }
        let Some(Merging { inputs, thread }) = self.merging.take() else {
            return;
        };
        let merged = thread.join().ok();
        let Some(at) = self.runs.iter().position(|e| e.id == inputs.0) else {
            return;
        };
        debug_assert_eq!(self.runs.get(at + 1).map(|e| e.id), Some(inputs.1));
        // The merging thread cannot fail short of a panic; then merge here.
        let merged =
            merged.unwrap_or_else(|| Run::merge(&self.runs[at].run, &self.runs[at + 1].run));
        self.replace_pair(at, merged);
    }

    /// The weight of `key` (0 when absent).
    pub fn get(&self, key: &[u8]) -> i64 {
        // A key is in each run at most once: its weight is the sum of one binary
        // search per run (no prefix scan, no merge of the runs).
        self.runs.iter().map(|e| e.run.weight_of(key)).sum()
    }

    /// Every key with a non-zero weight, ascending.
    pub fn iter(&self) -> Merged<'_> {
        Merged::new(self.runs.iter().map(|e| (&*e.run, 0, e.run.len())))
    }

    /// The keys beginning with `prefix` that have a non-zero weight, ascending.
    pub fn prefix(&self, prefix: &[u8]) -> Merged<'_> {
        Merged::new(self.runs.iter().map(|e| {
            let (start, end) = e.run.prefix_range(prefix);
            (&*e.run, start, end)
        }))
    }

    /// For many prefixes at once (any order, repeats allowed): every key with a
    /// non-zero weight that begins with `prefixes[i]`, as `(i, key, weight)`, ordered
    /// by `i` and then by key. Each run is walked once, forward, over the prefixes in
    /// sorted order — cheaper than one [`Spine::prefix`] per prefix.
    pub fn prefix_matches<'a>(&'a self, prefixes: &[&[u8]]) -> Vec<(u32, &'a [u8], i64)> {
        let mut order: Vec<u32> = (0..prefixes.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| prefixes[a as usize].cmp(prefixes[b as usize]));
        let mut found = Vec::new();
        for entry in &self.runs {
            let run = &*entry.run;
            let mut at = 0;
            for &i in &order {
                let prefix = prefixes[i as usize];
                at = run.seek(at, prefix);
                let mut next = at;
                while next < run.len() && run.key(next).starts_with(prefix) {
                    found.push((i, run.key(next), run.weight(next)));
                    next += 1;
                }
            }
        }
        if self.runs.len() > 1 {
            // The same key from several runs: add the weights up.
            found.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            found.dedup_by(|later, kept| {
                let same = (later.0, later.1) == (kept.0, kept.1);
                if same {
                    kept.2 += later.2;
                }
                same
            });
            found.retain(|(_, _, weight)| *weight != 0);
        } else {
            found.sort_by_key(|(i, _, _)| *i);
        }
        found
    }

    /// Keys with a non-zero weight. Reads the whole Z-set.
    pub fn distinct_keys(&self) -> usize {
        self.iter().count()
    }

    /// True when every key's weight is zero.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Bytes of memory held by the runs.
    pub fn bytes(&self) -> usize {
        self.runs.iter().map(|e| e.run.bytes()).sum()
    }

    /// Runs held (O(log n) by the merge policy).
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Writes the runs not yet on disk to `dir` (created if missing) and fsyncs it.
    /// Returns every run the spine consists of now: with the files in `dir`, they are
    /// the spine as of this call ([`Spine::restore`]).
    pub fn checkpoint(&self, dir: &Path) -> Result<SpineCheckpoint> {
        let (runs, writes) = self.plan_checkpoint(dir);
        let bytes_written = RunWrite::write_all(&writes)?;
        Ok(SpineCheckpoint {
            runs,
            bytes_written,
        })
    }

    /// [`Spine::checkpoint`] in two steps: the runs the spine consists of now, and
    /// the writes of those not on disk yet, which may run on another thread while
    /// the spine goes on changing (runs never change; a write marks its run written).
    pub fn plan_checkpoint(&self, dir: &Path) -> (Vec<RunId>, Vec<RunWrite>) {
        let writes = self
            .runs
            .iter()
            .filter(|e| !e.written.load(Ordering::Acquire))
            .map(|e| RunWrite {
                path: run_path(dir, e.id),
                run: e.run.clone(),
                written: e.written.clone(),
            })
            .collect();
        (self.runs.iter().map(|e| e.id).collect(), writes)
    }

    /// The spine a [`Spine::checkpoint`] of `runs` wrote to `dir`. A missing or
    /// damaged run file fails the restore, naming the file.
    pub fn restore(dir: &Path, runs: &[RunId]) -> Result<Spine> {
        let mut spine = Spine::new();
        for &id in runs {
            let batch = checkpoint_file::read_batch(&run_path(dir, id))?;
            let run = Run::from_batch(&batch).map_err(|e| crate::error::SluiceError::Corrupt {
                path: run_path(dir, id).display().to_string(),
                reason: e.to_string(),
            })?;
            spine.runs.push(Entry {
                id,
                run: Arc::new(run),
                written: Arc::new(AtomicBool::new(true)),
            });
            spine.next_id = spine.next_id.max(id + 1);
        }
        Ok(spine)
    }

    /// Deletes the run files in `dir` that none of `keep` (the runs of the
    /// checkpoints still needed) names. Returns how many were deleted.
    pub fn remove_unreferenced(dir: &Path, keep: &HashSet<RunId>) -> Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let id = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(RUN_SUFFIX))
                .and_then(|n| RunId::from_str_radix(n, 16).ok());
            if let Some(id) = id
                && !keep.contains(&id)
            {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A run a checkpoint has still to write (see [`Spine::plan_checkpoint`]).
#[derive(Debug)]
pub struct RunWrite {
    path: PathBuf,
    run: Arc<Run>,
    written: Arc<AtomicBool>,
}

impl RunWrite {
    /// Writes each run (once: a run already written by an earlier call is skipped),
    /// creating and then fsyncing the directories they go to. Returns the bytes
    /// written.
    pub fn write_all(writes: &[RunWrite]) -> Result<u64> {
        let mut dirs: Vec<&Path> = writes.iter().filter_map(|w| w.path.parent()).collect();
        dirs.dedup();
        for dir in &dirs {
            std::fs::create_dir_all(dir).map_err(|e| checkpoint_file::naming(dir, e))?;
        }
        let mut bytes_written = 0;
        for write in writes {
            if write.written.load(Ordering::Acquire) {
                continue;
            }
            bytes_written += checkpoint_file::write_batch(&write.path, &write.run.to_batch()?)?;
            write.written.store(true, Ordering::Release);
        }
        for dir in dirs {
            files::sync_dir(dir).map_err(|e| checkpoint_file::named(dir, e))?;
        }
        Ok(bytes_written)
    }
}

const RUN_SUFFIX: &str = ".run";

fn run_path(dir: &Path, id: RunId) -> PathBuf {
    dir.join(format!("{id:016x}{RUN_SUFFIX}"))
}

/// The keys of several runs (each a range of positions), merged in key order with
/// the weights of equal keys added up; keys whose weights cancel are skipped.
#[derive(Debug)]
pub struct Merged<'a> {
    /// Per run: the run, the next position, the end position.
    cursors: Vec<(&'a Run, usize, usize)>,
}

impl<'a> Merged<'a> {
    fn new(cursors: impl Iterator<Item = (&'a Run, usize, usize)>) -> Merged<'a> {
        Merged {
            cursors: cursors.filter(|(_, start, end)| start < end).collect(),
        }
    }
}

impl<'a> Iterator for Merged<'a> {
    type Item = (&'a [u8], i64);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let key = self.cursors.iter().map(|(run, at, _)| run.key(*at)).min()?;
            let mut weight = 0;
            for (run, at, _) in self.cursors.iter_mut() {
                if run.key(*at) == key {
                    weight += run.weight(*at);
                    *at += 1;
                }
            }
            self.cursors.retain(|(_, at, end)| at < end);
            if weight != 0 {
                return Some((key, weight));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A deterministic pseudo-random sequence (xorshift).
    fn random(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn contents(spine: &Spine) -> Vec<(Vec<u8>, i64)> {
        spine.iter().map(|(k, w)| (k.to_vec(), w)).collect()
    }

    /// Random batches of inserts and deletes (repeated keys, cancelling weights,
    /// sizes from 1 to 500) against a BTreeMap: every read agrees after every batch.
    #[test]
    fn agrees_with_a_map_over_random_batches() {
        let mut seed = 0x5eed;
        let mut spine = Spine::new();
        let mut model: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        for _ in 0..400 {
            let size = 1 + (random(&mut seed) % 500) as usize;
            let mut keys = Vec::with_capacity(size);
            let mut weights = Vec::with_capacity(size);
            for _ in 0..size {
                let k = random(&mut seed) % 2000;
                keys.push(format!("{}:{k}", k % 7).into_bytes());
                weights.push(if random(&mut seed).is_multiple_of(3) {
                    -1
                } else {
                    1
                });
            }
            let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            spine.apply(&refs, &weights).unwrap();
            for (k, w) in keys.into_iter().zip(weights) {
                *model.entry(k).or_default() += w;
            }
            model.retain(|_, w| *w != 0);
            assert!(
                spine.run_count()
                    <= 2 + 2 * (64 - (model.len() as u64 + 1).leading_zeros() as usize)
            );
        }
        let want: Vec<_> = model.iter().map(|(k, w)| (k.clone(), *w)).collect();
        assert_eq!(contents(&spine), want);
        assert_eq!(spine.distinct_keys(), model.len());
        let prefixed: Vec<_> = spine.prefix(b"3:").map(|(k, w)| (k.to_vec(), w)).collect();
        let want: Vec<_> = model
            .iter()
            .filter(|(k, _)| k.starts_with(b"3:"))
            .map(|(k, w)| (k.clone(), *w))
            .collect();
        assert_eq!(prefixed, want);
        for (k, w) in model.iter().take(50) {
            assert_eq!(spine.get(k), *w);
        }
        // Batched prefix reads agree with one prefix read per prefix.
        let prefixes: Vec<&[u8]> = vec![b"3:", b"1:1", b"absent", b"3:", b"6:19"];
        let mut want = Vec::new();
        for (i, prefix) in prefixes.iter().enumerate() {
            want.extend(spine.prefix(prefix).map(|(k, w)| (i as u32, k, w)));
        }
        assert_eq!(spine.prefix_matches(&prefixes), want);
        assert_eq!(spine.get(b"absent"), 0);
    }

    /// Batches big enough for background merges: every read between applies sees
    /// exactly the keys applied (the merging runs answer until the merged one takes
    /// their place), and runs stay O(log n).
    #[test]
    fn background_merges_keep_reads_exact() {
        let mut seed = 0xbac6;
        let mut spine = Spine::new();
        let mut model: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        let mut background = false;
        for round in 0..40u64 {
            let size = 5000 + (random(&mut seed) % 20000) as usize;
            let keys: Vec<Vec<u8>> = (0..size)
                .map(|_| (random(&mut seed) % 300_000).to_be_bytes().to_vec())
                .collect();
            // Every third round deletes what an earlier key holds, once.
            let weights: Vec<i64> = keys
                .iter()
                .map(|k| match model.get(k) {
                    Some(w) if *w > 0 && round % 3 == 2 => -1,
                    _ => 1,
                })
                .collect();
            let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            spine.apply(&refs, &weights).unwrap();
            background |= spine.merging.is_some();
            for (k, w) in keys.into_iter().zip(weights) {
                *model.entry(k).or_default() += w;
            }
            model.retain(|_, w| *w != 0);
            assert!(
                spine.run_count() <= 4 + 2 * (64 - (model.len() as u64).leading_zeros() as usize)
            );
            for (k, w) in model.iter().step_by(997) {
                assert_eq!(spine.get(k), *w);
            }
        }
        assert!(background, "no merge ran in the background");
        // An idle spine gets its ended merge in place when asked.
        while let Some(merging) = &spine.merging {
            while !merging.thread.is_finished() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let runs = spine.run_count();
            spine.install_finished_merge();
            assert_eq!(spine.run_count(), runs - 1);
        }
        let want: Vec<_> = model.iter().map(|(k, w)| (k.clone(), *w)).collect();
        assert_eq!(contents(&spine), want);
        let copy = spine.clone();
        assert_eq!(contents(&copy), want, "a copy holds the merging runs");
    }

    #[test]
    fn cancelled_keys_leave_nothing() {
        let mut spine = Spine::new();
        spine.apply(&[b"a", b"b"], &[1, 1]).unwrap();
        spine.apply(&[b"a", b"b"], &[-1, -1]).unwrap();
        assert!(spine.is_empty());
        assert_eq!(
            spine.run_count(),
            0,
            "merging the two runs cancels them out"
        );
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sluice-spine-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// A checkpoint writes only the runs made since the previous one; restoring any
    /// checkpoint gives the spine as of it; unreferenced files can be deleted.
    #[test]
    fn checkpoints_write_new_runs_only_and_restore_exactly() {
        let dir = scratch("checkpoint");
        let mut spine = Spine::new();
        let keys: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        spine.apply(&refs, &[1; 1000]).unwrap();
        let first = spine.checkpoint(&dir).unwrap();
        let first_contents = contents(&spine);
        assert!(first.bytes_written > 8000, "{first:?}");
        spine.apply(&[b"new"], &[2]).unwrap();
        let second = spine.checkpoint(&dir).unwrap();
        assert!(
            second.bytes_written < first.bytes_written / 10,
            "a one-key change rewrote the state: {second:?} after {first:?}"
        );
        assert_eq!(spine.checkpoint(&dir).unwrap().bytes_written, 0);
        assert_eq!(
            contents(&Spine::restore(&dir, &second.runs).unwrap()),
            contents(&spine)
        );
        assert_eq!(
            contents(&Spine::restore(&dir, &first.runs).unwrap()),
            first_contents
        );

        // A restored spine goes on with fresh run names.
        let mut restored = Spine::restore(&dir, &second.runs).unwrap();
        restored.apply(&[b"later"], &[1]).unwrap();
        let third = restored.checkpoint(&dir).unwrap();
        assert_eq!(restored.get(b"later"), 1);
        let keep: HashSet<RunId> = third.runs.iter().copied().collect();
        // The big run is shared by all three checkpoints; the one-key run of the
        // second was merged away in the third.
        assert_eq!(third.runs[0], first.runs[0]);
        assert_eq!(Spine::remove_unreferenced(&dir, &keep).unwrap(), 1);
        assert_eq!(
            contents(&Spine::restore(&dir, &third.runs).unwrap()),
            contents(&restored)
        );
        assert_eq!(
            contents(&Spine::restore(&dir, &first.runs).unwrap()),
            first_contents
        );
        assert!(Spine::restore(&dir, &second.runs).is_err());
    }

    #[test]
    fn a_damaged_run_file_fails_the_restore_naming_it() {
        let dir = scratch("damaged");
        let mut spine = Spine::new();
        spine.apply(&[b"a", b"b", b"c"], &[1, 2, 3]).unwrap();
        let checkpoint = spine.checkpoint(&dir).unwrap();
        let path = run_path(&dir, checkpoint.runs[0]);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err = Spine::restore(&dir, &checkpoint.runs).unwrap_err();
        assert!(
            matches!(&err, crate::error::SluiceError::Corrupt { path: p, .. } if p.ends_with(".run")),
            "{err:?}"
        );
    }
}

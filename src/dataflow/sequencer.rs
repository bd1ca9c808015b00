//! [`Sequencer`]: the single order of every change in Sluice.
//!
//! Each committed change takes the next *epoch* and is handed to its subscribers
//! while the sequencer's lock is held, so every subscriber sees changes in epoch
//! order, and a subscription taken under the same lock (a snapshot of the inputs
//! plus registration on each) is exact: everything up to the current epoch is in the
//! snapshot, everything after arrives as changes.

use std::sync::{Mutex, MutexGuard};

/// Hands out epochs; see the module docs.
#[derive(Debug, Default)]
pub struct Sequencer {
    epoch: Mutex<u64>,
}

/// Proof that the caller holds the sequencer's lock.
#[derive(Debug)]
pub struct SequencerGuard<'a> {
    epoch: MutexGuard<'a, u64>,
}

impl Sequencer {
    /// Takes the lock. Hold it only for in-memory work (no I/O, no awaits).
    pub fn lock(&self) -> SequencerGuard<'_> {
        SequencerGuard {
            epoch: self.epoch.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

impl SequencerGuard<'_> {
    /// The epoch of the most recent change.
    pub fn current(&self) -> u64 {
        *self.epoch
    }

    /// Advances to and returns the next epoch.
    pub fn next_epoch(&mut self) -> u64 {
        *self.epoch += 1;
        *self.epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_increase() {
        let sequencer = Sequencer::default();
        let mut guard = sequencer.lock();
        assert_eq!(guard.current(), 0);
        assert_eq!(guard.next_epoch(), 1);
        assert_eq!(guard.next_epoch(), 2);
    }
}

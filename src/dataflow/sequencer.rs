//! [`Sequencer`]: the single order of every change in Sluice, and of the
//! checkpoint barriers cut into it ([`super::barrier`]).
//!
//! Each committed change takes the next *epoch* and is handed to its subscribers
//! while the sequencer's lock is held, so every subscriber sees changes in epoch
//! order, and a subscription taken under the same lock (a snapshot of the inputs
//! plus registration on each) is exact: everything up to the current epoch is in the
//! snapshot, everything after arrives as changes.

use std::sync::{Mutex, MutexGuard};

use super::barrier::Participant;

/// Hands out epochs and checkpoint barriers; see the module docs.
#[derive(Debug, Default)]
pub struct Sequencer {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    epoch: u64,
    /// The last checkpoint barrier sent.
    barrier: u64,
    /// The views that take part in checkpoints.
    participants: Vec<Participant>,
}

/// Proof that the caller holds the sequencer's lock.
#[derive(Debug)]
pub struct SequencerGuard<'a> {
    state: MutexGuard<'a, State>,
}

impl Sequencer {
    /// A sequencer that goes on from a checkpoint: epoch `epoch`, barrier `barrier`.
    pub fn resuming(epoch: u64, barrier: u64) -> Self {
        Sequencer {
            state: Mutex::new(State {
                epoch,
                barrier,
                participants: Vec::new(),
            }),
        }
    }

    /// Takes the lock. Hold it only for in-memory work (no I/O, no awaits).
    pub fn lock(&self) -> SequencerGuard<'_> {
        SequencerGuard {
            state: self.state.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

impl SequencerGuard<'_> {
    /// The epoch of the most recent change.
    pub fn current(&self) -> u64 {
        self.state.epoch
    }

    /// Advances to and returns the next epoch.
    pub fn next_epoch(&mut self) -> u64 {
        self.state.epoch += 1;
        self.state.epoch
    }

    /// Registers a view for checkpoints (replacing an earlier instance of the same
    /// view); returns the first barrier it takes part in. Call it in the same locked
    /// step that subscribes the view to its inputs.
    pub fn register(&mut self, participant: Participant) -> u64 {
        let state = &mut *self.state;
        state.participants.retain(|p| {
            (p.view_id, p.role) != (participant.view_id, participant.role) && !p.inbox.is_closed()
        });
        state.participants.push(participant);
        state.barrier + 1
    }

    /// The id of the next barrier (what a view registered now takes part in first).
    pub fn next_barrier(&self) -> u64 {
        self.state.barrier + 1
    }

    /// Starts a barrier: returns its id, the epoch it cuts at, and the views to
    /// send it to (the registered views still running). Send it before releasing
    /// the lock.
    pub fn begin_barrier(&mut self) -> (u64, u64, Vec<Participant>) {
        let state = &mut *self.state;
        state.barrier += 1;
        state.participants.retain(|p| !p.inbox.is_closed());
        (state.barrier, state.epoch, state.participants.clone())
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

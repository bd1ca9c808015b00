//! Checkpoint barriers: how every view writes its state as of one cut of the global
//! change order, views on views included (aligned barriers, as in Flink and
//! Chandy–Lamport).
//!
//! ```text
//!  coordinator, under the Sequencer's lock ──Barrier{id, epoch}──▶ every view's inbox
//!      (tables and source readers also send under that lock: everything before
//!       the barrier is ≤ epoch, everything after is > epoch)
//!  view V1: state as of the barrier ──BarrierFrom{id, input}──▶ views reading V1
//!  view V2 (reads a table and V1): holds the table's messages that come after the
//!      Barrier until V1's BarrierFrom arrives, then writes its state and goes on
//!      with what it held
//! ```
//!
//! [`Alignment`] is that rule, apart from the view: it routes each inbox message
//! (process now, hold, or "the barrier is complete: checkpoint now").
//!
//! Source readers send their position (per partition: the next offset and the
//! largest event time) right after each batch, under the same lock, so the
//! positions a view records at a barrier are exactly those of the rows in its state.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use super::change::{ChangeReceiver, ChangeSender, Message};
use super::state::RunWrite;
use super::view::ViewCheckpoint;
use crate::error::Result;

/// One partition's position in a source reader (partition 0 for generators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionPosition {
    /// The next offset to read: every earlier one was delivered (or skipped).
    pub next_offset: i64,
    /// The largest event time delivered from the partition (µs), for its watermark.
    pub max_event_time: Option<i64>,
}

/// A source reader's position: per partition.
pub type SourcePosition = BTreeMap<i32, PartitionPosition>;

/// What a view answers a barrier with: its checkpoint, `None` when the view has
/// stopped (a failed dataflow: it is rebuilt at the next start), or why it could
/// not take one.
pub type BarrierReply = Result<Option<TakenCheckpoint>>;

/// A view's state as of a barrier: what its checkpoint consists of, and the writes
/// of the runs not on disk yet, which the coordinator does off the view's thread
/// (the view goes on meanwhile; runs never change).
#[derive(Debug)]
pub struct TakenCheckpoint {
    /// The checkpoint (its `state.bytes_written` is set once the writes are done).
    pub checkpoint: ViewCheckpoint,
    /// The runs to write.
    pub writes: Vec<RunWrite>,
}

/// A checkpoint barrier as the coordinator sends it to one view.
#[derive(Debug)]
pub struct Barrier {
    /// Increases with every checkpoint (the manifest's id).
    pub id: u64,
    /// The global epoch it cuts at: the state written holds every change up to it.
    pub epoch: u64,
    /// Where the view writes its runs.
    pub dir: PathBuf,
    /// Receives the view's checkpoint.
    pub reply: tokio::sync::oneshot::Sender<BarrierReply>,
}

/// What a participant's state is the state of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A view's dataflow: a catalog view's, or the one a sink runs of its query.
    #[default]
    View,
    /// A sink's backlog ([`super::sink`]).
    Sink,
}

/// A view (or sink) that takes part in checkpoints, as registered (under the
/// sequencer's lock) when it subscribes to its inputs.
#[derive(Debug, Clone)]
pub struct Participant {
    /// The catalog id of the view, or of the sink (whose own view, when it runs
    /// one, takes part as a [`Role::View`] of the same id).
    pub view_id: u64,
    /// What the state is the state of.
    pub role: Role,
    /// Its directory under the checkpoint's `views/`: unique to this instance of
    /// the view (a view rebuilt from scratch never writes over the runs of the
    /// instance before it).
    pub dir: String,
    /// Identifies what the state is a state of (the definition, the models'
    /// versions): a checkpoint of another fingerprint is never restored.
    pub fingerprint: String,
    /// The view's inbox.
    pub inbox: ChangeSender,
}

/// What an [`AlignedInbox`] hands its owner next.
#[derive(Debug)]
pub enum Next {
    /// Process this message.
    Message(Message),
    /// Every input has passed this barrier: take the checkpoint, answer, pass it on.
    Barrier(Barrier),
}

/// An inbox read through [`Alignment`]: messages held for a pending barrier come
/// back, in order, once it completes (or is abandoned), before anything newer.
#[derive(Debug)]
pub struct AlignedInbox {
    inbox: ChangeReceiver,
    alignment: Alignment,
    replay: VecDeque<Message>,
}

impl AlignedInbox {
    /// Reads `inbox` through `alignment`.
    pub fn new(inbox: ChangeReceiver, alignment: Alignment) -> Self {
        AlignedInbox {
            inbox,
            alignment,
            replay: VecDeque::new(),
        }
    }
}

impl Iterator for AlignedInbox {
    type Item = Next;

    /// The next message to process or barrier to complete, waiting for one; `None`
    /// once every sender is gone.
    fn next(&mut self) -> Option<Next> {
        loop {
            let message = match self.replay.pop_front() {
                Some(message) => message,
                None => self.inbox.blocking_recv()?,
            };
            match self.alignment.admit(message) {
                Admit::Now(message) => return Some(Next::Message(message)),
                Admit::Taken => {}
                Admit::Replay(mut messages) => {
                    messages.append(&mut self.replay);
                    self.replay = messages;
                }
                Admit::Complete(barrier, mut held) => {
                    held.append(&mut self.replay);
                    self.replay = held;
                    return Some(Next::Barrier(barrier));
                }
            }
        }
    }
}

/// What [`Alignment::admit`] decides for a message.
#[derive(Debug)]
pub enum Admit {
    /// Process it now.
    Now(Message),
    /// Taken: held until the barrier completes, or a barrier piece recorded, or a
    /// barrier the view takes no part in.
    Taken,
    /// Every input has passed the barrier: write the checkpoint, answer the
    /// barrier, pass it on, then process the held messages (in order) before
    /// anything else.
    Complete(Barrier, VecDeque<Message>),
    /// Process these again, in order, before anything else (an abandoned
    /// barrier's held messages, then the message that abandoned it).
    Replay(VecDeque<Message>),
}

#[derive(Debug)]
struct Pending {
    id: u64,
    barrier: Option<Barrier>,
    /// The view inputs whose barrier arrived.
    passed: BTreeSet<usize>,
    held: VecDeque<Message>,
}

/// Barrier alignment for one view. See the module docs.
///
/// Invariant: at most one barrier is pending, and the messages held for it came
/// after it on inputs that have passed it, in arrival order.
#[derive(Debug)]
pub struct Alignment {
    /// The first barrier the view takes part in; `None`: it never does (a
    /// subscription's own view).
    first_barrier: Option<u64>,
    /// The inputs that are views: their barriers come from them, not from the
    /// coordinator.
    view_inputs: BTreeSet<usize>,
    pending: Option<Pending>,
}

/// The pending barrier, started as barrier `id` when there is none.
fn new_pending(pending: &mut Option<Pending>, id: u64) -> &mut Pending {
    pending.get_or_insert_with(|| Pending {
        id,
        barrier: None,
        passed: BTreeSet::new(),
        held: VecDeque::new(),
    })
}

impl Alignment {
    /// Alignment for a view whose inputs `view_inputs` are views, taking part from
    /// barrier `first_barrier` on.
    pub fn new(first_barrier: Option<u64>, view_inputs: BTreeSet<usize>) -> Self {
        Alignment {
            first_barrier,
            view_inputs,
            pending: None,
        }
    }

    /// Routes one message from the inbox.
    pub fn admit(&mut self, message: Message) -> Admit {
        let id = match &message {
            Message::Barrier(barrier) => Some(barrier.id),
            Message::BarrierFrom { id, input } => {
                let takes_part = self.first_barrier.is_some_and(|first| *id >= first);
                if !takes_part || !self.view_inputs.contains(input) {
                    return Admit::Taken;
                }
                Some(*id)
            }
            _ => None,
        };
        if let Some(id) = id
            && let Some(stale) = self.pending.take_if(|p| p.id != id)
        {
            // Only one barrier is in flight at a time; one that can no longer
            // complete is dropped, and what it held goes first.
            let mut replay = stale.held;
            replay.push_back(message);
            return Admit::Replay(replay);
        }
        match message {
            Message::Barrier(barrier) => {
                let id = barrier.id;
                new_pending(&mut self.pending, id).barrier = Some(barrier);
                self.complete_if_aligned()
            }
            Message::BarrierFrom { id, input } => {
                new_pending(&mut self.pending, id).passed.insert(input);
                self.complete_if_aligned()
            }
            message => {
                let Some(pending) = &mut self.pending else {
                    return Admit::Now(message);
                };
                let hold = match message.input() {
                    Some(input) if self.view_inputs.contains(&input) => {
                        pending.passed.contains(&input)
                    }
                    Some(_) => pending.barrier.is_some(),
                    // A flush waits for everything before it, held messages included.
                    None => matches!(message, Message::Flush(_)),
                };
                if hold {
                    pending.held.push_back(message);
                    Admit::Taken
                } else {
                    Admit::Now(message)
                }
            }
        }
    }

    fn complete_if_aligned(&mut self) -> Admit {
        let view_inputs = &self.view_inputs;
        let aligned = |p: &mut Pending| {
            p.barrier.is_some() && view_inputs.iter().all(|i| p.passed.contains(i))
        };
        match self.pending.take_if(aligned) {
            Some(Pending {
                barrier: Some(barrier),
                held,
                ..
            }) => Admit::Complete(barrier, held),
            _ => Admit::Taken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn barrier(id: u64) -> (Message, tokio::sync::oneshot::Receiver<BarrierReply>) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let barrier = Barrier {
            id,
            epoch: 10 * id,
            dir: PathBuf::from("unused"),
            reply,
        };
        (Message::Barrier(barrier), answer)
    }

    /// A message on `input`, told apart by `micros`.
    fn on(input: usize, micros: i64) -> Message {
        Message::Watermark { input, micros }
    }

    fn now(admit: Admit) -> (usize, i64) {
        match admit {
            Admit::Now(Message::Watermark { input, micros }) => (input, micros),
            other => panic!("expected a message to process now, got {other:?}"),
        }
    }

    fn complete(admit: Admit) -> (u64, Vec<(usize, i64)>) {
        match admit {
            Admit::Complete(barrier, held) => (
                barrier.id,
                held.into_iter()
                    .map(|m| match m {
                        Message::Watermark { input, micros } => (input, micros),
                        other => panic!("unexpected held message {other:?}"),
                    })
                    .collect(),
            ),
            other => panic!("expected the barrier to complete, got {other:?}"),
        }
    }

    #[test]
    fn a_view_of_tables_and_sources_checkpoints_at_the_barrier() {
        let mut alignment = Alignment::new(Some(1), BTreeSet::new());
        assert_eq!(now(alignment.admit(on(0, 1))), (0, 1));
        let (message, _answer) = barrier(1);
        assert_eq!(complete(alignment.admit(message)), (1, vec![]));
        assert_eq!(now(alignment.admit(on(0, 2))), (0, 2));
    }

    /// Input 0 is a table, input 1 a view: after the coordinator's barrier the
    /// table's messages wait until the view's barrier arrives; the view's messages
    /// before its barrier go on.
    #[test]
    fn messages_after_the_barrier_wait_for_the_slowest_input() {
        let mut alignment = Alignment::new(Some(1), BTreeSet::from([1]));
        let (message, _answer) = barrier(1);
        assert!(matches!(alignment.admit(message), Admit::Taken));
        assert!(matches!(alignment.admit(on(0, 1)), Admit::Taken), "held");
        assert_eq!(now(alignment.admit(on(1, 1))), (1, 1), "before its barrier");
        let (tx, mut flushed) = tokio::sync::oneshot::channel();
        assert!(matches!(alignment.admit(Message::Flush(tx)), Admit::Taken));
        assert!(matches!(alignment.admit(on(0, 2)), Admit::Taken));
        let (id, held) = match alignment.admit(Message::BarrierFrom { id: 1, input: 1 }) {
            Admit::Complete(barrier, held) => (barrier.id, held),
            other => panic!("{other:?}"),
        };
        assert_eq!(id, 1);
        assert_eq!(
            held.len(),
            3,
            "the table's two messages and the flush, in order"
        );
        assert!(matches!(held[1], Message::Flush(_)));
        assert!(
            flushed.try_recv().is_err(),
            "the flush waits for what is held"
        );
        assert_eq!(now(alignment.admit(on(0, 3))), (0, 3));
    }

    #[test]
    fn a_view_barrier_may_come_first() {
        let mut alignment = Alignment::new(Some(1), BTreeSet::from([1, 2]));
        assert!(matches!(
            alignment.admit(Message::BarrierFrom { id: 1, input: 2 }),
            Admit::Taken
        ));
        assert!(matches!(alignment.admit(on(2, 1)), Admit::Taken), "held");
        assert_eq!(now(alignment.admit(on(1, 1))), (1, 1));
        assert_eq!(now(alignment.admit(on(0, 1))), (0, 1), "no barrier yet");
        let (message, _answer) = barrier(1);
        assert!(matches!(alignment.admit(message), Admit::Taken));
        assert!(matches!(alignment.admit(on(0, 2)), Admit::Taken));
        let (id, held) = complete(alignment.admit(Message::BarrierFrom { id: 1, input: 1 }));
        assert_eq!((id, held), (1, vec![(2, 1), (0, 2)]));
    }

    /// A view registered after barrier 1 was sent (it first takes part in 2)
    /// ignores the barrier its input passes on; a subscription's own view ignores
    /// them all.
    #[test]
    fn barriers_before_the_first_are_ignored() {
        for first in [Some(2), None] {
            let mut alignment = Alignment::new(first, BTreeSet::from([0]));
            assert!(matches!(
                alignment.admit(Message::BarrierFrom { id: 1, input: 0 }),
                Admit::Taken
            ));
            assert_eq!(now(alignment.admit(on(0, 1))), (0, 1), "not held");
        }
    }

    #[test]
    fn a_barrier_that_can_no_longer_complete_gives_back_what_it_held() {
        let mut alignment = Alignment::new(Some(1), BTreeSet::from([1]));
        let (message, _answer) = barrier(1);
        assert!(matches!(alignment.admit(message), Admit::Taken));
        assert!(matches!(alignment.admit(on(0, 1)), Admit::Taken));
        let (message, _answer) = barrier(2);
        match alignment.admit(message) {
            Admit::Replay(messages) => {
                assert_eq!(messages.len(), 2);
                assert!(matches!(
                    messages[0],
                    Message::Watermark {
                        input: 0,
                        micros: 1
                    }
                ));
                assert!(matches!(&messages[1], Message::Barrier(b) if b.id == 2));
            }
            other => panic!("{other:?}"),
        }
    }
}

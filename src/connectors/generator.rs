//! Pacing for generator sources: hands out row counts so that `rate` rows per
//! second are produced (0: as fast as the consumer takes them), up to an optional
//! total; and [`Generator`], what the source reader asks of a generator.

use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;

use crate::error::Result;

/// A generator's stream of batches, as a source reader drives it.
pub trait Generator {
    /// The next batch, after waiting for its rows to be due when paced; `None` once
    /// the total is reached.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>>;

    /// Paced (the source's rate) or not: a reader backfilling a view created later
    /// produces the rows the live reader has already produced as fast as it can.
    fn set_paced(&mut self, paced: bool);
}

/// Largest batch a generator produces at once.
pub const MAX_CHUNK: usize = 4096;

/// A rate limiter over row numbers. See the module docs.
#[derive(Debug)]
pub struct Pacer {
    rate: u64,
    total: Option<u64>,
    produced: u64,
    start: Instant,
    /// False while the rate is switched off ([`Pacer::set_paced`]).
    paced: bool,
}

impl Pacer {
    /// `rate` rows per second (0 = unpaced), stopping after `total` rows if given.
    pub fn new(rate: u64, total: Option<u64>) -> Self {
        Pacer {
            rate,
            total,
            produced: 0,
            start: Instant::now(),
            paced: true,
        }
    }

    /// A pacer that has handed out `produced` rows already: the rate goes on from
    /// now as if they had been produced at it.
    pub fn resuming(rate: u64, total: Option<u64>, produced: u64) -> Self {
        let ahead = if rate > 0 {
            Duration::from_secs_f64(produced as f64 / rate as f64)
        } else {
            Duration::ZERO
        };
        let now = Instant::now();
        Pacer {
            rate,
            total,
            produced,
            start: now.checked_sub(ahead).unwrap_or(now),
            paced: true,
        }
    }

    /// Turns the rate on or off (a pacer built with rate 0 stays unpaced). Turned
    /// back on, the rate goes on from now as in [`Pacer::resuming`].
    pub fn set_paced(&mut self, paced: bool) {
        if paced == self.paced {
            return;
        }
        self.paced = paced;
        if paced {
            *self = Pacer::resuming(self.rate, self.total, self.produced);
        }
    }

    /// Waits until some rows are due and returns how many to produce now;
    /// `None` once the total is reached.
    pub fn next_chunk(&mut self) -> Option<usize> {
        let remaining = self
            .total
            .map_or(u64::MAX, |t| t.saturating_sub(self.produced));
        if remaining == 0 {
            return None;
        }
        let mut chunk = (MAX_CHUNK as u64).min(remaining);
        if self.rate > 0 && self.paced {
            // Small chunks at low rates keep latency low: about 100 chunks per second.
            chunk = chunk.min((self.rate / 100).max(1));
            let due = Duration::from_secs_f64((self.produced + chunk) as f64 / self.rate as f64);
            let elapsed = self.start.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
        self.produced += chunk;
        Some(chunk as usize)
    }

    /// Rows handed out so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_totals_are_exact_and_rates_are_kept() {
        let mut pacer = Pacer::new(0, Some(10_000));
        let total: usize = std::iter::from_fn(|| pacer.next_chunk()).sum();
        assert_eq!(total, 10_000);

        let start = Instant::now();
        let mut pacer = Pacer::new(1000, Some(200));
        let total: usize = std::iter::from_fn(|| pacer.next_chunk()).sum();
        assert_eq!(total, 200);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(190),
            "200 rows at 1000/s took {took:?}"
        );

        // Unpaced, 4,096 rows at 10/s come at once; paced again, the rate holds.
        let start = Instant::now();
        let mut pacer = Pacer::new(10, Some(MAX_CHUNK as u64 + 2));
        pacer.set_paced(false);
        assert_eq!(pacer.next_chunk(), Some(MAX_CHUNK));
        assert!(start.elapsed() < Duration::from_millis(150));
        pacer.set_paced(true);
        assert_eq!(pacer.next_chunk(), Some(1));
        assert_eq!(pacer.next_chunk(), Some(1));
        assert_eq!(pacer.next_chunk(), None);
        assert!(start.elapsed() >= Duration::from_millis(150));
    }
}

//! Stopping a running statement: a client's cancel request (psql's Ctrl-C), another
//! session's `pg_cancel_backend(pid)`, or the session's `statement_timeout`.
//!
//! Each statement runs under an [`Interrupt`]. Whoever stops it calls
//! [`Interrupt::interrupt`] with the reason; the statement notices at its next await
//! point and ends with `57014` and PostgreSQL's message for that reason.
//!
//! A statement may be stopped only where stopping leaves nothing half done:
//! - reads (queries, SHOW, EXPLAIN) at any await point, mid-stream included;
//! - INSERT/UPDATE/DELETE while they compute their rows, never once they commit;
//! - DDL before it starts; once it has started it runs to completion and reports
//!   success (like PostgreSQL, where a cancel that arrives during commit is ignored).

use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::error::{Result, SluiceError, sqlstate};

/// Why a statement was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A cancel request or `pg_cancel_backend`.
    UserRequest,
    /// The session's `statement_timeout` passed.
    StatementTimeout,
}

/// The stop signal of one running statement. Clones share the signal.
///
/// Invariant: once interrupted, it stays interrupted with the first reason given.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    token: CancellationToken,
    reason: Arc<OnceLock<Reason>>,
}

impl Interrupt {
    /// A signal not yet given.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the statement (the first reason wins).
    pub fn interrupt(&self, reason: Reason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Whether the statement has been told to stop.
    pub fn is_interrupted(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once the statement has been told to stop.
    pub async fn interrupted(&self) {
        self.token.cancelled().await
    }

    /// The error a stopped statement ends with (PostgreSQL's text for each reason).
    pub fn error(&self) -> SluiceError {
        let message = match self.reason.get() {
            Some(Reason::StatementTimeout) => "canceling statement due to statement timeout",
            Some(Reason::UserRequest) | None => "canceling statement due to user request",
        };
        SluiceError::coded(sqlstate::QUERY_CANCELED, message)
    }

    /// `Err(57014)` when the statement has been told to stop.
    pub fn check(&self) -> Result<()> {
        if self.is_interrupted() {
            Err(self.error())
        } else {
            Ok(())
        }
    }

    /// Runs `work` until it finishes or the statement is told to stop, whichever is
    /// first; `work` is dropped at its current await point in the second case.
    pub async fn run<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::select! {
            biased;
            _ = self.interrupted() => Err(self.error()),
            result = work => result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_interrupted_statement_ends_with_57014_and_the_first_reason() {
        let interrupt = Interrupt::new();
        assert!(interrupt.check().is_ok());
        interrupt.interrupt(Reason::StatementTimeout);
        interrupt.interrupt(Reason::UserRequest);
        let error = interrupt.check().unwrap_err();
        assert_eq!(error.sqlstate(), sqlstate::QUERY_CANCELED);
        assert_eq!(
            error.to_string(),
            "canceling statement due to statement timeout"
        );
        let never = std::future::pending::<Result<()>>();
        assert!(interrupt.run(never).await.is_err());
    }

    #[tokio::test]
    async fn work_that_finishes_first_keeps_its_result() {
        let interrupt = Interrupt::new();
        assert_eq!(interrupt.run(async { Ok(7) }).await.unwrap(), 7);
        let clone = interrupt.clone();
        clone.interrupt(Reason::UserRequest);
        assert!(interrupt.is_interrupted());
        assert_eq!(
            interrupt.error().to_string(),
            "canceling statement due to user request"
        );
    }
}

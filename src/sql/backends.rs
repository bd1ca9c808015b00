//! The server's sessions ("backends" in PostgreSQL's words): each connection's process
//! id and secret key, and the [`Interrupt`]s of its running statements, so that a
//! cancel request or `pg_cancel_backend(pid)` can stop them.
//!
//! ```text
//!  connection ──register──▶ Backend (pid, secret) ──start_statement──▶ RunningStatement
//!  CancelRequest(pid, secret) ─┐                                        (its Interrupt)
//!  pg_cancel_backend(pid) ─────┴──▶ Backends::cancel ──▶ every running statement of pid
//! ```
//!
//! `pg_backend_pid()` and `session_user` (`current_user`, `user`) need the calling
//! session, which a shared function cannot know: [`bind_session`] replaces their calls
//! in a statement by the session's pid and user before planning.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;

use datafusion::arrow::array::{AsArray, BooleanArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlDataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    Statement, Value, visit_expressions_mut,
};

use super::interrupt::{Interrupt, Reason};
use super::parser::SqlStatement;
use super::prepared_statements::{StoredStatement, does_not_exist};
use super::subscribe::Subscription;
use crate::error::{Result, SluiceError, sqlstate};

/// The first process id handed out (PostgreSQL's pids are the OS's; ours only need to
/// be unique while the server runs).
const FIRST_PID: i32 = 10_000;

/// Every connected session. Shared by the server and the `pg_cancel_backend` function.
#[derive(Debug)]
pub struct Backends {
    next_pid: AtomicI32,
    next_statement: AtomicU64,
    sessions: Mutex<HashMap<i32, Session>>,
}

#[derive(Debug)]
struct Session {
    secret: Vec<u8>,
    /// The user it logged in as (`session_user`), once start-up has finished.
    user: String,
    /// Statements started and not yet finished, by statement number.
    running: HashMap<u64, Interrupt>,
    /// One permit: the session's work on the statement threads (see
    /// [`RunningStatement::session_slot`]).
    slot: Arc<Semaphore>,
    /// Open subscription cursors, by name (see [`super::cursors::CursorStatement`]).
    cursors: HashMap<String, Cursor>,
    /// Statements of `PREPARE`, by name.
    prepared_statements: HashMap<String, Arc<StoredStatement>>,
}

/// An open subscription cursor; a `FETCH` holds it while it waits.
pub type Cursor = Arc<tokio::sync::Mutex<Subscription>>;

impl Default for Backends {
    fn default() -> Self {
        Backends {
            next_pid: AtomicI32::new(FIRST_PID),
            next_statement: AtomicU64::new(0),
            sessions: Mutex::new(HashMap::new()),
        }
    }
}

impl Backends {
    /// A new, empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<i32, Session>> {
        // Every update leaves the map consistent, so a panic elsewhere cannot poison
        // it in a way that matters.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new session with `secret` (the key a cancel request must present);
    /// it stays registered until the returned [`Backend`] is dropped.
    pub fn register(self: &Arc<Self>, secret: Vec<u8>) -> Backend {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        self.sessions().insert(
            pid,
            Session {
                secret,
                user: String::new(),
                running: HashMap::new(),
                slot: Arc::new(Semaphore::new(1)),
                cursors: HashMap::new(),
                prepared_statements: HashMap::new(),
            },
        );
        Backend {
            pid,
            backends: self.clone(),
        }
    }

    /// Replaces the key a cancel request for `pid` must present (start-up shortens it
    /// for protocol 3.0 clients, whose keys are 4 bytes).
    pub fn set_secret(&self, pid: i32, secret: Vec<u8>) {
        if let Some(session) = self.sessions().get_mut(&pid) {
            session.secret = secret;
        }
    }

    /// Records the user session `pid` logged in as.
    pub fn set_user(&self, pid: i32, user: &str) {
        if let Some(session) = self.sessions().get_mut(&pid) {
            session.user = user.to_string();
        }
    }

    /// The user session `pid` logged in as.
    pub fn user(&self, pid: i32) -> String {
        self.sessions()
            .get(&pid)
            .map(|s| s.user.clone())
            .unwrap_or_default()
    }

    /// Opens cursor `name` of session `pid` on `subscription` (`42P03` when the
    /// session has one of that name).
    pub fn declare_cursor(&self, pid: i32, name: &str, subscription: Subscription) -> Result<()> {
        let mut sessions = self.sessions();
        let session = sessions
            .get_mut(&pid)
            .ok_or_else(|| SluiceError::Internal(format!("no session {pid}")))?;
        if session.cursors.contains_key(name) {
            return Err(SluiceError::coded(
                sqlstate::DUPLICATE_CURSOR,
                format!("cursor \"{name}\" already exists"),
            ));
        }
        session.cursors.insert(
            name.to_string(),
            Arc::new(tokio::sync::Mutex::new(subscription)),
        );
        Ok(())
    }

    /// Cursor `name` of session `pid`.
    pub fn cursor(&self, pid: i32, name: &str) -> Option<Cursor> {
        self.sessions().get(&pid)?.cursors.get(name).cloned()
    }

    /// Closes cursor `name` (`None`: every cursor) of session `pid`; false when there
    /// was no such cursor.
    pub fn close_cursor(&self, pid: i32, name: Option<&str>) -> bool {
        // Dropped outside the lock: dropping a subscription stops its own view.
        let closed: Vec<Cursor> = match self.sessions().get_mut(&pid) {
            Some(session) => match name {
                Some(name) => session.cursors.remove(name).into_iter().collect(),
                None => session.cursors.drain().map(|(_, c)| c).collect(),
            },
            None => Vec::new(),
        };
        !closed.is_empty() || name.is_none()
    }

    /// Keeps `statement` as session `pid`'s prepared statement `name` (`42P05` when the
    /// session has one of that name).
    pub fn add_prepared_statement(
        &self,
        pid: i32,
        name: &str,
        statement: Arc<StoredStatement>,
    ) -> Result<()> {
        let mut sessions = self.sessions();
        let session = sessions
            .get_mut(&pid)
            .ok_or_else(|| SluiceError::Internal(format!("no session {pid}")))?;
        if session.prepared_statements.contains_key(name) {
            return Err(SluiceError::coded(
                sqlstate::DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        session
            .prepared_statements
            .insert(name.to_string(), statement);
        Ok(())
    }

    /// Session `pid`'s prepared statement `name`.
    pub fn prepared_statement(&self, pid: i32, name: &str) -> Option<Arc<StoredStatement>> {
        self.sessions()
            .get(&pid)?
            .prepared_statements
            .get(name)
            .cloned()
    }

    /// Forgets session `pid`'s prepared statement `name`, or all of them (`None`);
    /// `26000` when there is none of that name.
    pub fn deallocate(&self, pid: i32, name: Option<&str>) -> Result<()> {
        let mut sessions = self.sessions();
        let Some(session) = sessions.get_mut(&pid) else {
            return Ok(());
        };
        match name {
            Some(name) => session
                .prepared_statements
                .remove(name)
                .map(drop)
                .ok_or_else(|| does_not_exist(name)),
            None => {
                session.prepared_statements.clear();
                Ok(())
            }
        }
    }

    /// Starts a statement of session `pid`: see [`Backend::start_statement`].
    pub fn start_statement(
        self: &Arc<Self>,
        pid: i32,
        timeout: Option<Duration>,
    ) -> RunningStatement {
        let interrupt = Interrupt::new();
        let number = self.next_statement.fetch_add(1, Ordering::Relaxed);
        let slot = match self.sessions().get_mut(&pid) {
            Some(session) => {
                session.running.insert(number, interrupt.clone());
                session.slot.clone()
            }
            // Not a registered session (a test's direct call): a slot of its own.
            None => Arc::new(Semaphore::new(1)),
        };
        let timer = timeout.map(|timeout| {
            let interrupt = interrupt.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                interrupt.interrupt(Reason::StatementTimeout);
            })
            .abort_handle()
        });
        RunningStatement {
            interrupt,
            number,
            pid,
            slot,
            backends: self.clone(),
            timer,
        }
    }

    /// A cancel request: stops the running statements of `pid` when `secret` is its
    /// key. Returns whether any statement was told to stop.
    pub fn cancel_request(&self, pid: i32, secret: &[u8]) -> bool {
        let sessions = self.sessions();
        match sessions.get(&pid) {
            Some(session) if session.secret == secret => interrupt_all(session),
            _ => false,
        }
    }

    /// `pg_cancel_backend(pid)`: stops the running statements of `pid`. Returns
    /// whether the session exists (PostgreSQL's result: the signal was sent).
    pub fn cancel(&self, pid: i32) -> bool {
        match self.sessions().get(&pid) {
            Some(session) => {
                interrupt_all(session);
                true
            }
            None => false,
        }
    }

    /// How many sessions are registered.
    pub fn len(&self) -> usize {
        self.sessions().len()
    }

    /// Whether no session is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn interrupt_all(session: &Session) -> bool {
    for interrupt in session.running.values() {
        interrupt.interrupt(Reason::UserRequest);
    }
    !session.running.is_empty()
}

/// One registered session; unregisters it when dropped.
#[derive(Debug)]
pub struct Backend {
    pid: i32,
    backends: Arc<Backends>,
}

impl Backend {
    /// The session's process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The secret key a cancel request for this session must present.
    pub fn secret(&self) -> Vec<u8> {
        self.backends
            .sessions()
            .get(&self.pid)
            .map(|s| s.secret.clone())
            .unwrap_or_default()
    }

    /// Starts a statement: it can be cancelled until the returned guard is dropped,
    /// and is interrupted with [`Reason::StatementTimeout`] after `timeout` (if any).
    /// Must be called inside a tokio runtime when `timeout` is given.
    pub fn start_statement(&self, timeout: Option<Duration>) -> RunningStatement {
        self.backends.start_statement(self.pid, timeout)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        // Dropped outside the lock: its cursors' subscriptions stop their own views.
        let session = self.backends.sessions().remove(&self.pid);
        drop(session);
    }
}

/// A statement that cancel requests and its timeout can stop, until dropped.
#[derive(Debug)]
pub struct RunningStatement {
    interrupt: Interrupt,
    number: u64,
    pid: i32,
    slot: Arc<Semaphore>,
    backends: Arc<Backends>,
    timer: Option<tokio::task::AbortHandle>,
}

impl RunningStatement {
    /// The statement's stop signal.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// The session's single permit for work on the statement threads. Work holds it
    /// until it ends, even when its statement was stopped and the work abandoned
    /// (planning cannot be interrupted), so a session never has more than one
    /// statement's work in progress, and a stopped session cannot fill the pool.
    pub fn session_slot(&self) -> Arc<Semaphore> {
        self.slot.clone()
    }
}

impl Drop for RunningStatement {
    fn drop(&mut self) {
        if let Some(timer) = &self.timer {
            timer.abort();
        }
        if let Some(session) = self.backends.sessions().get_mut(&self.pid) {
            session.running.remove(&self.number);
        }
    }
}

/// The privilege functions whose first argument, when left out, is the session's user.
const USER_PRIVILEGE_FUNCTIONS: [&str; 4] = [
    "has_table_privilege",
    "has_any_column_privilege",
    "has_schema_privilege",
    "has_database_privilege",
];

/// Replaces every `pg_backend_pid()` call in `statement` by the session's `pid`, and
/// every `session_user` by its `user`, and gives the [`USER_PRIVILEGE_FUNCTIONS`]
/// called without one (`has_table_privilege(table, privilege)`) the user as their
/// first argument.
pub fn bind_session(statement: &mut SqlStatement, pid: i32, user: &str) {
    if let SqlStatement::Cursor(cursor) = statement {
        cursor.pid = pid;
        return;
    }
    if let SqlStatement::PreparedStatement(prepared) = statement {
        prepared.pid = pid;
        return;
    }
    let SqlStatement::Standard(statement) = statement else {
        return;
    };
    let statement: &mut Statement = statement;
    let _ = visit_expressions_mut(statement, |expr: &mut Expr| {
        if let Expr::Function(call) = expr
            && call.name.0.last().is_some_and(|n| {
                let name = n.to_string().to_lowercase();
                USER_PRIVILEGE_FUNCTIONS.contains(&name.as_str())
            })
            && let FunctionArguments::List(list) = &mut call.args
            && list.args.len() == 2
        {
            let user = Expr::value(Value::SingleQuotedString(user.to_string()));
            list.args
                .insert(0, FunctionArg::Unnamed(FunctionArgExpr::Expr(user)));
        } else if let Expr::Function(call) = expr
            && call.name.to_string().eq_ignore_ascii_case("session_user")
            && matches!(&call.args, FunctionArguments::None)
        {
            // The pg_catalog crate's rewrite of current_user, session_user and user.
            *expr = Expr::value(Value::SingleQuotedString(user.to_string()));
        } else if let Expr::Function(call) = expr
            && call.name.to_string().eq_ignore_ascii_case("pg_backend_pid")
            && matches!(&call.args, FunctionArguments::List(list) if list.args.is_empty())
        {
            // PostgreSQL's pg_backend_pid() is an integer (int4).
            *expr = Expr::Cast {
                kind: CastKind::DoubleColon,
                expr: Box::new(Expr::value(Value::Number(pid.to_string(), false))),
                data_type: SqlDataType::Int(None),
                array: false,
                format: None,
            };
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `pg_cancel_backend(pid)`: stops the running statements of session `pid`; true when
/// the session exists.
pub fn pg_cancel_backend(backends: Arc<Backends>) -> ScalarUDF {
    create_udf(
        "pg_cancel_backend",
        // Int64, so that any integer argument coerces to it.
        vec![DataType::Int64],
        DataType::Boolean,
        Volatility::Volatile,
        Arc::new(move |args: &[ColumnarValue]| {
            let [pids] = args else {
                return exec_err!("pg_cancel_backend takes one argument");
            };
            let pids = pids.to_array(1)?;
            let pids = pids.as_primitive_opt::<Int64Type>().ok_or_else(|| {
                DataFusionError::Execution("pg_cancel_backend takes an integer".into())
            })?;
            let cancelled: BooleanArray = pids
                .iter()
                .map(|pid| pid.map(|pid| i32::try_from(pid).is_ok_and(|pid| backends.cancel(pid))))
                .collect();
            let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
            Ok(if scalar && cancelled.len() == 1 {
                ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(
                    &cancelled, 0,
                )?)
            } else {
                ColumnarValue::Array(Arc::new(cancelled))
            })
        }),
    )
}

/// `pg_backend_pid()` where [`bind_session`] could not bind it (inside a view's
/// definition, which no session owns): an error, never a made-up pid.
pub fn unbound_pg_backend_pid() -> ScalarUDF {
    create_udf(
        "pg_backend_pid",
        vec![],
        DataType::Int32,
        Volatility::Volatile,
        Arc::new(|_args: &[ColumnarValue]| {
            exec_err!("pg_backend_pid() is only available in a session's own statements")
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancel_request_needs_the_secret_and_stops_every_running_statement() {
        let backends = Backends::new();
        let session = backends.register(vec![1, 2, 3, 4]);
        let other = backends.register(vec![9]);
        assert_ne!(session.pid(), other.pid());
        let first = session.start_statement(None);
        let second = session.start_statement(None);
        let bystander = other.start_statement(None);
        assert!(!backends.cancel_request(session.pid(), &[1, 2, 3, 5]));
        assert!(!first.interrupt().is_interrupted());
        assert!(backends.cancel_request(session.pid(), &[1, 2, 3, 4]));
        assert!(first.interrupt().is_interrupted());
        assert!(second.interrupt().is_interrupted());
        assert!(!bystander.interrupt().is_interrupted());
    }

    #[tokio::test]
    async fn finished_statements_and_closed_sessions_are_forgotten() {
        let backends = Backends::new();
        let session = backends.register(vec![7]);
        let pid = session.pid();
        drop(session.start_statement(None));
        assert!(backends.cancel(pid), "the session exists");
        let later = session.start_statement(None);
        assert!(
            !later.interrupt().is_interrupted(),
            "a finished one was hit"
        );
        drop(later);
        drop(session);
        assert!(backends.is_empty());
        assert!(!backends.cancel(pid));
    }

    #[tokio::test]
    async fn a_statement_times_out() {
        let backends = Backends::new();
        let session = backends.register(vec![]);
        let statement = session.start_statement(Some(Duration::from_millis(10)));
        statement.interrupt().interrupted().await;
        assert_eq!(
            statement.interrupt().error().to_string(),
            "canceling statement due to statement timeout"
        );
    }

    #[test]
    fn pg_backend_pid_is_bound_to_the_session() {
        let parser = crate::sql::parser::SqlParser::default();
        let sql = "SELECT pg_backend_pid(), pg_cancel_backend(pg_backend_pid())";
        let mut statement = SqlStatement::Standard(Box::new(parser.parse_one(sql).unwrap()));
        bind_session(&mut statement, 10_042, "u");
        let SqlStatement::Standard(bound) = statement else {
            panic!("not a standard statement");
        };
        let bound = bound.to_string();
        assert!(bound.starts_with("SELECT 10042::INT"), "{bound}");
        assert!(bound.contains("pg_cancel_backend(10042::INT)"), "{bound}");
        assert!(!bound.contains("pg_backend_pid()"), "{bound}");
    }
}

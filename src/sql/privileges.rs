//! Who may run a statement: superusers run anything; another role reads and writes
//! the relations it was granted (`GRANT`) and changes nothing else, as a role that
//! owns nothing in PostgreSQL 15 (where `public` no longer grants `CREATE`).
//!
//! A session's role is fixed at start-up ([`SESSION_ROLE`] in its metadata: empty
//! for the built-in superuser); its attributes and grants are read at each
//! statement, so `REVOKE` and `ALTER ROLE` apply to running sessions at their next
//! statement. Relations in `pg_catalog`, `information_schema` and `sluice_catalog`
//! are readable by everyone, as in PostgreSQL.

use std::collections::HashMap;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{LogicalPlan, WriteOp};
use datafusion::sql::sqlparser::ast::{Statement, visit_relations};

use super::subscribe::{Subscribe, Target};
use super::{Command, Prepared, cursors, names, roles::RoleStatement};
use crate::catalog::roles::Privilege;
use crate::catalog::{DEFAULT_DATABASE, DEFAULT_SCHEMA, Relation, RelationKind};
use crate::database::Database;
use crate::error::{Result, SluiceError, sqlstate};

/// The session metadata key holding the role a session logged in as (empty: the
/// built-in superuser). Start-up always writes it; `SET` cannot (it is no setting).
pub const SESSION_ROLE: &str = "sluice_session_role";

/// The role a session with metadata `vars` runs as, when it is not a superuser.
fn restricted_role(db: &Database, vars: &HashMap<String, String>) -> Option<String> {
    let name = vars.get(SESSION_ROLE).filter(|n| !n.is_empty())?;
    match db.roles().get(name) {
        Some(role) if role.superuser => None,
        // A role dropped while its session runs keeps no privileges.
        _ => Some(name.clone()),
    }
}

/// The role name to refuse `DROP ROLE` of (the session's own), if any.
pub fn session_role(vars: &HashMap<String, String>) -> Option<&str> {
    vars.get(SESSION_ROLE)
        .map(String::as_str)
        .filter(|n| !n.is_empty())
}

/// Whether the session with metadata `vars` is a superuser (`SHOW is_superuser`).
pub fn is_superuser(db: &Database, vars: &HashMap<String, String>) -> bool {
    restricted_role(db, vars).is_none()
}

fn denied(message: String) -> SluiceError {
    SluiceError::coded(sqlstate::INSUFFICIENT_PRIVILEGE, message)
}

/// Fails with `42501` unless the session may run `prepared`.
pub fn check(db: &Database, prepared: &Prepared, vars: &HashMap<String, String>) -> Result<()> {
    let Some(role) = restricted_role(db, vars) else {
        return Ok(());
    };
    match prepared {
        Prepared::Plan(plan) => check_plan(db, &role, plan),
        // RETURNING and ON CONFLICT DO UPDATE read the target: SELECT on it, as
        // PostgreSQL asks (and UPDATE for the latter).
        Prepared::Write(write) => {
            check_plan(db, &role, &write.plan)?;
            if let Some(rows) = &write.returning {
                check_plan(db, &role, rows)?;
            }
            if let Some(super::on_conflict::OnConflict::Update { plan: update, .. }) =
                &write.on_conflict
            {
                check_plan(db, &role, update)?;
                if let LogicalPlan::Dml(dml) = &write.plan {
                    let target = names::reference_name(&dml.table_name)?;
                    require(db, &role, &target, Privilege::Update)?;
                }
            }
            Ok(())
        }
        Prepared::Command(command) => check_command(db, &role, command),
    }
}

/// Fails with `42501` unless the session may read what `subscribe` reads.
pub fn check_subscription(
    db: &Database,
    subscribe: &Subscribe,
    vars: &HashMap<String, String>,
) -> Result<()> {
    match restricted_role(db, vars) {
        Some(role) => check_subscribe(db, &role, subscribe),
        None => Ok(()),
    }
}

fn check_subscribe(db: &Database, role: &str, subscribe: &Subscribe) -> Result<()> {
    let mut names = Vec::new();
    match &subscribe.target {
        Target::Relation(name) => names.push(names::relation_name(name)?),
        Target::Query(query) => {
            let _ = visit_relations(&Statement::Query(query.clone()), |name| {
                if let Ok(name) = names::relation_name(name) {
                    names.push(name);
                }
                std::ops::ControlFlow::<()>::Continue(())
            });
        }
    }
    names
        .iter()
        .try_for_each(|name| require(db, role, name, Privilege::Select))
}

/// Fails unless `role` holds `privilege` on relation `name` (a name that is no
/// relation of Sluice's is a system relation or a CTE: nothing to check).
fn require(db: &Database, role: &str, name: &str, privilege: Privilege) -> Result<()> {
    let Some(relation) = db.catalog().get(name) else {
        return Ok(());
    };
    if db.roles().holds(role, relation.entry().id, privilege) {
        return Ok(());
    }
    let kind = match relation {
        Relation::Table(_) => "table",
        Relation::View(_) => "materialized view",
        // Sources are foreign tables in pg_class.
        Relation::Source(_) => "foreign table",
    };
    Err(denied(format!("permission denied for {kind} {name}")))
}

fn check_plan(db: &Database, role: &str, plan: &LogicalPlan) -> Result<()> {
    let mut needed: Vec<(String, Privilege)> = Vec::new();
    let read = match plan {
        LogicalPlan::Dml(dml) => {
            let target = names::reference_name(&dml.table_name)?;
            let (privilege, reads_target) = match &dml.op {
                WriteOp::Insert(_) => (Privilege::Insert, false),
                // A WHERE clause reads the target, so it needs SELECT too.
                WriteOp::Update => (Privilege::Update, has_filter(&dml.input)),
                WriteOp::Delete => (Privilege::Delete, has_filter(&dml.input)),
                _ => return Err(denied(format!("permission denied for table {target}"))),
            };
            needed.push((target.clone(), privilege));
            let mut read = scanned(&dml.input);
            if !reads_target {
                read.retain(|name| *name != target);
            }
            read
        }
        plan => scanned(plan),
    };
    needed.extend(read.into_iter().map(|name| (name, Privilege::Select)));
    needed
        .iter()
        .try_for_each(|(name, privilege)| require(db, role, name, *privilege))
}

/// The user relations `plan` scans, subqueries included.
fn scanned(plan: &LogicalPlan) -> Vec<String> {
    let mut names = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let reference = &scan.table_name;
            let user_schema = reference.schema().is_none_or(|s| s == DEFAULT_SCHEMA)
                && reference.catalog().is_none_or(|c| c == DEFAULT_DATABASE);
            if user_schema {
                names.push(reference.table().to_string());
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    names
}

fn has_filter(plan: &LogicalPlan) -> bool {
    plan.exists(|node| Ok(matches!(node, LogicalPlan::Filter(_))))
        .unwrap_or(true)
}

fn check_command(db: &Database, role: &str, command: &Command) -> Result<()> {
    let owner_of = |kind: &str, name: &str| denied(format!("must be owner of {kind} {name}"));
    match command {
        Command::CreateTable(_) | Command::CreateMaterializedView(_) | Command::CreateSource(_) => {
            Err(denied(format!(
                "permission denied for schema {DEFAULT_SCHEMA}"
            )))
        }
        Command::Drop { kind, names, .. } => {
            let name = names.first().map(ToString::to_string).unwrap_or_default();
            let kind = match kind {
                RelationKind::Source => "foreign table",
                other => other.as_str(),
            };
            Err(owner_of(kind, &name))
        }
        Command::CreateModel(_) => Err(denied(
            "permission denied to create model: only superusers load model files".into(),
        )),
        Command::DropModel { names, .. } => {
            Err(owner_of("model", names.first().map_or("", String::as_str)))
        }
        Command::CreateSink(_) => Err(denied(
            "permission denied to create sink: only superusers create sinks".into(),
        )),
        Command::DropSink { names, .. } => Err(owner_of(
            "sink",
            &names.first().map(ToString::to_string).unwrap_or_default(),
        )),
        Command::Function(statement) => match statement.as_ref() {
            crate::sql::sql_functions::FunctionStatement::Create { .. } => Err(denied(format!(
                "permission denied for schema {DEFAULT_SCHEMA}"
            ))),
            crate::sql::sql_functions::FunctionStatement::Drop { targets, .. } => Err(owner_of(
                "function",
                targets.first().map_or("", |(name, _)| name.as_str()),
            )),
        },
        Command::AlterCheckpointInterval(_) => Err(denied(
            "permission denied to set parameter \"checkpoint_interval\"".into(),
        )),
        Command::Role(statement) => Err(denied(match statement.as_ref() {
            RoleStatement::Create { .. } => "permission denied to create role".into(),
            RoleStatement::Alter { name, .. } => {
                format!("permission denied to alter role \"{name}\"")
            }
            RoleStatement::Drop { .. } => "permission denied to drop role".into(),
            RoleStatement::Grant { .. } => {
                "permission denied to grant or revoke privileges: only superusers do".into()
            }
        })),
        Command::Cursor(cursor, _) => match &cursor.op {
            cursors::CursorOp::Declare { subscribe, .. } => check_subscribe(db, role, subscribe),
            _ => Ok(()),
        },
        Command::ExplainView(_)
        | Command::Flush
        | Command::ShowCreate(_)
        | Command::ShowCreateSink(_)
        | Command::Set { .. }
        | Command::Show { .. }
        | Command::Acknowledge(_)
        | Command::Savepoint(..)
        // A prepared statement's privileges are checked when it runs.
        | Command::Prepare { .. }
        | Command::Execute { .. }
        | Command::Deallocate { .. } => Ok(()),
    }
}

//! `pg_roles` and `pg_user`: the built-in superuser (PostgreSQL's bootstrap role,
//! `postgres`, OID 10, which owns every object) and the roles of
//! [`crate::catalog::roles`], with PostgreSQL 15's columns. Passwords show as
//! `********`, as in PostgreSQL's views.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::Result;

use super::oids;
use super::rows::{Rows, Value};
use super::tables::OWNER_NAME;
use crate::catalog::roles::Role;

/// The relations built here.
pub const ROLE_RELATIONS: [&str; 2] = ["pg_roles", "pg_user"];

/// The schema of `pg_roles` or `pg_user`.
pub fn schema(name: &str) -> SchemaRef {
    let timestamp = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let texts = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    let column =
        |name: &str, data_type: &DataType, nullable| Field::new(name, data_type.clone(), nullable);
    let (int, bool, text) = (DataType::Int32, DataType::Boolean, DataType::Utf8);
    Arc::new(Schema::new(match name {
        "pg_user" => vec![
            column("usename", &text, false),
            column("usesysid", &int, false),
            column("usecreatedb", &bool, false),
            column("usesuper", &bool, false),
            column("userepl", &bool, false),
            column("usebypassrls", &bool, false),
            column("passwd", &text, true),
            column("valuntil", &timestamp, true),
            column("useconfig", &texts, true),
        ],
        _ => vec![
            column("rolname", &text, false),
            column("rolsuper", &bool, false),
            column("rolinherit", &bool, false),
            column("rolcreaterole", &bool, false),
            column("rolcreatedb", &bool, false),
            column("rolcanlogin", &bool, false),
            column("rolreplication", &bool, false),
            column("rolconnlimit", &int, false),
            column("rolpassword", &text, true),
            column("rolvaliduntil", &timestamp, true),
            column("rolbypassrls", &bool, false),
            column("rolconfig", &texts, true),
            column("oid", &int, false),
        ],
    }))
}

/// A role's attributes as the views show them.
struct Shown {
    name: String,
    oid: i32,
    superuser: bool,
    /// CREATEROLE, CREATEDB, REPLICATION and BYPASSRLS: the built-in role's only.
    bootstrap: bool,
    login: bool,
}

/// The rows of `name` (one of [`ROLE_RELATIONS`]) for `roles`.
pub fn rows(name: &str, roles: &[(String, Role)]) -> Result<RecordBatch> {
    let builtin = Shown {
        name: OWNER_NAME.to_string(),
        oid: oids::OWNER,
        superuser: true,
        bootstrap: true,
        login: true,
    };
    let shown = std::iter::once(builtin).chain(roles.iter().map(|(name, role)| Shown {
        name: name.clone(),
        oid: i32::try_from(role.oid).unwrap_or(i32::MAX),
        superuser: role.superuser,
        bootstrap: false,
        login: role.login,
    }));
    let mut rows = Rows::new(schema(name));
    for role in shown {
        let password = Value::from("********");
        if name == "pg_user" {
            if role.login {
                rows.push(vec![
                    ("usename", role.name.into()),
                    ("usesysid", role.oid.into()),
                    ("usecreatedb", role.bootstrap.into()),
                    ("usesuper", role.superuser.into()),
                    ("userepl", role.bootstrap.into()),
                    ("usebypassrls", role.bootstrap.into()),
                    ("passwd", password),
                ]);
            }
        } else {
            rows.push(vec![
                ("rolname", role.name.into()),
                ("rolsuper", role.superuser.into()),
                ("rolinherit", true.into()),
                ("rolcreaterole", role.bootstrap.into()),
                ("rolcreatedb", role.bootstrap.into()),
                ("rolcanlogin", role.login.into()),
                ("rolreplication", role.bootstrap.into()),
                ("rolconnlimit", (-1).into()),
                ("rolpassword", password),
                ("rolbypassrls", role.bootstrap.into()),
                ("oid", role.oid.into()),
            ]);
        }
    }
    rows.finish()
}

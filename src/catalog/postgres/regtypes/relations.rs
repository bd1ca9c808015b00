//! `regclass`'s names: the relation an OID is and the OID a relation name means,
//! the search path being `pg_catalog`, then `public` (see [`super`] for the type).

use std::borrow::Cow;

use super::identifiers::quote_identifier;
use crate::catalog::postgres::objects::{PgRelation, namespace_name, namespace_named};
use crate::catalog::postgres::{PgObjects, oids};
use crate::error::{SluiceError, sqlstate};

/// The names and OIDs of every relation, read once for a batch of values.
pub struct Names<'a> {
    objects: &'a PgObjects,
    user: Cow<'a, [PgRelation]>,
}

impl<'a> Names<'a> {
    pub(super) fn new(objects: &'a PgObjects) -> Self {
        Names {
            objects,
            user: Cow::Owned(objects.user_relations()),
        }
    }

    /// The names of the system relations and of `user` (the user relations, as
    /// [`PgObjects::user_relations`] gives them), for a caller that has them already.
    pub fn over(objects: &'a PgObjects, user: &'a [PgRelation]) -> Self {
        Names {
            objects,
            user: Cow::Borrowed(user),
        }
    }

    /// The namespace and name of relation `oid` (a primary key's index included).
    fn relation(&self, oid: i32) -> Option<(i32, &str)> {
        self.objects.system.name_of(oid).or_else(|| {
            self.user.iter().find_map(|r| {
                if r.oid == oid {
                    return Some((r.namespace, r.name.as_str()));
                }
                r.primary_key
                    .as_ref()
                    .filter(|k| k.index_oid == oid)
                    .map(|k| (r.namespace, k.name.as_str()))
            })
        })
    }

    /// The OID of relation `name` in `namespace`.
    pub(super) fn oid_in(&self, namespace: i32, name: &str) -> Option<i32> {
        self.objects.system.oid_of(namespace, name).or_else(|| {
            self.user
                .iter()
                .filter(|r| r.namespace == namespace)
                .find_map(|r| {
                    if r.name == name {
                        return Some(r.oid);
                    }
                    r.primary_key
                        .as_ref()
                        .filter(|k| k.name == name)
                        .map(|k| k.index_oid)
                })
        })
    }

    /// Relation `oid`'s name as `regclass` prints it: qualified unless the search
    /// path finds this relation by it; `None` for an OID that names no relation.
    pub(super) fn name(&self, oid: i32) -> Option<String> {
        let (namespace, name) = self.relation(oid)?;
        Some(if self.search(name) == Some(oid) {
            quote_identifier(name)
        } else {
            format!(
                "{}.{}",
                quote_identifier(namespace_name(namespace)),
                quote_identifier(name)
            )
        })
    }

    /// The relation an unqualified `name` means: `pg_catalog`'s, then `public`'s
    /// (PostgreSQL searches `pg_catalog` first when the path does not name it).
    pub(super) fn search(&self, name: &str) -> Option<i32> {
        [oids::PG_CATALOG, oids::PUBLIC]
            .iter()
            .find_map(|namespace| self.oid_in(*namespace, name))
    }

    /// The OID relation name `text` means, as `regclassin` reads a name.
    pub fn oid(&self, text: &str) -> Result<i32, SluiceError> {
        let (schema, name) = crate::catalog::relation_name_from_text(text.trim());
        match schema {
            None => self.search(&name).ok_or(SluiceError::UndefinedTable(name)),
            Some(schema) => {
                let namespace = namespace_named(&schema).ok_or_else(|| {
                    SluiceError::coded(
                        sqlstate::INVALID_SCHEMA_NAME,
                        format!("schema \"{schema}\" does not exist"),
                    )
                })?;
                self.oid_in(namespace, &name)
                    .ok_or_else(|| SluiceError::UndefinedTable(format!("{schema}.{name}")))
            }
        }
    }
}

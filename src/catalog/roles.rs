//! Roles: who may log in and with which password, who is a superuser, and what the
//! other roles may read and write (`GRANT`/`REVOKE`).
//!
//! ```text
//!  <data-dir>/roles.json   {next_oid, roles: {name: Role}, public: grants}
//!                          (written atomically, readable by its owner only)
//! ```
//!
//! Passwords are kept as SCRAM-SHA-256 verifiers ([`super::password`]). Grants are
//! keyed by the relation's catalog id, so a relation dropped and created again under
//! the same name starts with no grants, as in PostgreSQL. Besides the roles here
//! there is the built-in superuser: under trust authentication a user name that is
//! no role here is that superuser (what Sluice always did), see `docs/security.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use super::password::Verifier;
use crate::error::{Result, SluiceError, sqlstate};
use crate::storage::files::write_atomically;

/// A privilege on a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Privilege {
    /// Read its rows (`SELECT`, `SUBSCRIBE`, `COPY ... TO`).
    Select,
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
}

impl Privilege {
    /// Every privilege, in PostgreSQL's order (`ALL PRIVILEGES`).
    pub const ALL: [Privilege; 4] = [
        Privilege::Insert,
        Privilege::Select,
        Privilege::Update,
        Privilege::Delete,
    ];

    /// The SQL keyword.
    pub fn as_str(&self) -> &'static str {
        match self {
            Privilege::Select => "SELECT",
            Privilege::Insert => "INSERT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
        }
    }
}

/// Privileges granted, per relation catalog id.
pub type Grants = BTreeMap<u64, BTreeSet<Privilege>>;

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Its OID in `pg_authid` (stable across restarts).
    pub oid: u32,
    /// May do everything (no privilege checks).
    pub superuser: bool,
    /// May connect.
    pub login: bool,
    /// The SCRAM-SHA-256 verifier of its password (text form), if it has one.
    pub password: Option<String>,
    /// What it was granted.
    #[serde(default)]
    pub grants: Grants,
}

impl Role {
    /// The verifier to check a login against, if the role may log in with one.
    pub fn verifier(&self) -> Option<Verifier> {
        self.password.as_deref().and_then(Verifier::parse)
    }
}

/// Attributes given to `CREATE ROLE` / `ALTER ROLE`; `None` keeps (or defaults) one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleAttributes {
    /// `SUPERUSER` / `NOSUPERUSER`.
    pub superuser: Option<bool>,
    /// `LOGIN` / `NOLOGIN`.
    pub login: Option<bool>,
    /// `PASSWORD 'verifier'` (`Some(Some(..))`) or `PASSWORD NULL` (`Some(None)`).
    pub password: Option<Option<String>>,
}

/// Who a grant is for: a role, or every role (`PUBLIC`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// `PUBLIC`.
    Public,
    /// A named role.
    Role(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RolesFile {
    next_oid: u32,
    roles: BTreeMap<String, Role>,
    /// Granted to `PUBLIC`: every role has them.
    #[serde(default)]
    public: Grants,
}

/// Role OIDs: `16400 + 4·n + 3`, apart from relations' (`16400 + 4·id`, see
/// `postgres::oids`) and from PostgreSQL's built-in roles.
fn role_oid(n: u32) -> u32 {
    16_400 + 4 * n + 3
}

/// The roles and their grants; changes are written before they take effect.
#[derive(Debug)]
pub struct Roles {
    path: PathBuf,
    state: RwLock<RolesFile>,
}

/// The error for a role that does not exist.
pub fn undefined_role(name: &str) -> SluiceError {
    SluiceError::coded(
        sqlstate::UNDEFINED_OBJECT,
        format!("role \"{name}\" does not exist"),
    )
}

impl Roles {
    /// Reads `<data_dir>/roles.json` (none yet: no roles).
    pub fn open(data_dir: &Path) -> Result<Roles> {
        let path = data_dir.join("roles.json");
        let file = if path.exists() {
            let bytes = std::fs::read(&path)?;
            serde_json::from_slice(&bytes).map_err(|e| SluiceError::Corrupt {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?
        } else {
            RolesFile::default()
        };
        Ok(Roles {
            path,
            state: RwLock::new(file),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, RolesFile> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` to a copy of the roles, writes the copy, then keeps it: a
    /// failed write changes nothing.
    fn update<T>(&self, change: impl FnOnce(&mut RolesFile) -> Result<T>) -> Result<T> {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let mut next = RolesFile {
            next_oid: state.next_oid,
            roles: state.roles.clone(),
            public: state.public.clone(),
        };
        let out = change(&mut next)?;
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| SluiceError::Internal(format!("roles encoding: {e}")))?;
        write_atomically(&self.path, &bytes)?;
        restrict_to_owner(&self.path);
        *state = next;
        Ok(out)
    }

    /// The role named `name`.
    pub fn get(&self, name: &str) -> Option<Role> {
        self.read().roles.get(name).cloned()
    }

    /// Every role, by name.
    pub fn all(&self) -> Vec<(String, Role)> {
        self.read()
            .roles
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect()
    }

    /// Whether some role can log in with a password.
    pub fn any_password_login(&self) -> bool {
        self.read()
            .roles
            .values()
            .any(|r| r.login && r.verifier().is_some())
    }

    /// `CREATE ROLE`: `login_default` is true for `CREATE USER`.
    pub fn create(
        &self,
        name: &str,
        attributes: &RoleAttributes,
        login_default: bool,
    ) -> Result<()> {
        check_role_name(name)?;
        self.update(|file| {
            if file.roles.contains_key(name) {
                return Err(SluiceError::coded(
                    sqlstate::DUPLICATE_OBJECT,
                    format!("role \"{name}\" already exists"),
                ));
            }
            let oid = role_oid(file.next_oid);
            file.next_oid += 1;
            file.roles.insert(
                name.to_string(),
                Role {
                    oid,
                    superuser: attributes.superuser.unwrap_or(false),
                    login: attributes.login.unwrap_or(login_default),
                    password: attributes.password.clone().flatten(),
                    grants: Grants::new(),
                },
            );
            Ok(())
        })
    }

    /// `ALTER ROLE name WITH ...`.
    pub fn alter(&self, name: &str, attributes: &RoleAttributes) -> Result<()> {
        self.update(|file| {
            let role = file
                .roles
                .get_mut(name)
                .ok_or_else(|| undefined_role(name))?;
            if let Some(superuser) = attributes.superuser {
                role.superuser = superuser;
            }
            if let Some(login) = attributes.login {
                role.login = login;
            }
            if let Some(password) = &attributes.password {
                role.password = password.clone();
            }
            Ok(())
        })
    }

    /// `DROP ROLE`: all of `names` or none; refused while one holds privileges
    /// (PostgreSQL's "cannot be dropped because some objects depend on it"), and for
    /// a missing one unless `if_exists`. `relation_name` names a relation in errors.
    pub fn drop_roles(
        &self,
        names: &[String],
        if_exists: bool,
        relation_name: impl Fn(u64) -> String,
    ) -> Result<()> {
        self.update(|file| {
            for name in names {
                let Some(role) = file.roles.remove(name) else {
                    if if_exists {
                        continue;
                    }
                    return Err(undefined_role(name));
                };
                if let Some(id) = role.grants.keys().next() {
                    return Err(SluiceError::coded(
                        sqlstate::DEPENDENT_OBJECTS_STILL_EXIST,
                        format!(
                            "role \"{name}\" cannot be dropped because some objects depend on \
                             it: privileges for table {} (REVOKE them first)",
                            relation_name(*id)
                        ),
                    ));
                }
            }
            Ok(())
        })
    }

    /// `GRANT` (`grant` true) or `REVOKE` of `privileges` on relations `ids` for
    /// `grantees`. Every named grantee must exist.
    pub fn change_grants(
        &self,
        grant: bool,
        privileges: &[Privilege],
        ids: &[u64],
        grantees: &[Grantee],
    ) -> Result<()> {
        self.update(|file| {
            for grantee in grantees {
                let grants = match grantee {
                    Grantee::Public => &mut file.public,
                    Grantee::Role(name) => {
                        &mut file
                            .roles
                            .get_mut(name)
                            .ok_or_else(|| undefined_role(name))?
                            .grants
                    }
                };
                for id in ids {
                    let held = grants.entry(*id).or_default();
                    for privilege in privileges {
                        if grant {
                            held.insert(*privilege);
                        } else {
                            held.remove(privilege);
                        }
                    }
                    if held.is_empty() {
                        grants.remove(id);
                    }
                }
            }
            Ok(())
        })
    }

    /// Forgets every grant on relation `id` (it was dropped).
    pub fn forget_relation(&self, id: u64) -> Result<()> {
        let granted = {
            let file = self.read();
            file.public.contains_key(&id) || file.roles.values().any(|r| r.grants.contains_key(&id))
        };
        if !granted {
            return Ok(());
        }
        self.update(|file| {
            file.public.remove(&id);
            for role in file.roles.values_mut() {
                role.grants.remove(&id);
            }
            Ok(())
        })
    }

    /// Whether role `name` (not a superuser) holds `privilege` on relation `id`,
    /// itself or through `PUBLIC`.
    pub fn holds(&self, name: &str, id: u64, privilege: Privilege) -> bool {
        let file = self.read();
        let has = |grants: &Grants| grants.get(&id).is_some_and(|p| p.contains(&privilege));
        has(&file.public) || file.roles.get(name).is_some_and(|r| has(&r.grants))
    }

    /// The privileges on relation `id`, per grantee (`None`: `PUBLIC`), for `relacl`.
    pub fn grants_on(&self, id: u64) -> Vec<(Option<String>, BTreeSet<Privilege>)> {
        let file = self.read();
        let public = file.public.get(&id).map(|p| (None, p.clone()));
        file.roles
            .iter()
            .filter_map(|(name, role)| {
                role.grants
                    .get(&id)
                    .map(|p| (Some(name.clone()), p.clone()))
            })
            .chain(public)
            .collect()
    }
}

/// PostgreSQL's reserved role names.
fn check_role_name(name: &str) -> Result<()> {
    if matches!(name, "public" | "none") || name.starts_with("pg_") {
        return Err(SluiceError::coded(
            "42939",
            format!("role name \"{name}\" is reserved"),
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: the verifiers do not give the passwords, but need not be shown.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Option<Option<String>> {
        Some(Some(Verifier::from_password(text).unwrap().to_string()))
    }

    #[test]
    fn roles_and_grants_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let roles = Roles::open(dir.path()).unwrap();
        assert!(!roles.any_password_login());
        let bi = RoleAttributes {
            password: password("pw"),
            ..Default::default()
        };
        roles.create("bi", &bi, true).unwrap();
        roles
            .create("group", &RoleAttributes::default(), false)
            .unwrap();
        assert_eq!(
            roles.create("bi", &bi, true).unwrap_err().sqlstate(),
            "42710"
        );
        assert_eq!(
            roles.create("pg_x", &bi, true).unwrap_err().sqlstate(),
            "42939"
        );
        roles
            .change_grants(
                true,
                &[Privilege::Select],
                &[7, 8],
                &[Grantee::Role("bi".into())],
            )
            .unwrap();
        roles
            .change_grants(true, &[Privilege::Insert], &[9], &[Grantee::Public])
            .unwrap();
        let reopened = Roles::open(dir.path()).unwrap();
        assert!(reopened.any_password_login());
        assert!(reopened.holds("bi", 7, Privilege::Select));
        assert!(!reopened.holds("bi", 7, Privilege::Insert));
        assert!(reopened.holds("group", 9, Privilege::Insert));
        assert!(!reopened.get("group").unwrap().login);
        assert_ne!(
            reopened.get("bi").unwrap().oid,
            reopened.get("group").unwrap().oid
        );
    }

    /// Roles in a fresh directory, with role `bi`.
    fn roles_with_bi() -> (tempfile::TempDir, Roles) {
        let dir = tempfile::tempdir().unwrap();
        let roles = Roles::open(dir.path()).unwrap();
        roles
            .create("bi", &RoleAttributes::default(), true)
            .unwrap();
        (dir, roles)
    }

    #[test]
    fn a_role_holding_privileges_cannot_be_dropped_until_they_are_revoked() {
        let (_dir, roles) = roles_with_bi();
        roles
            .create("other", &RoleAttributes::default(), true)
            .unwrap();
        let bi = [Grantee::Role("bi".into())];
        roles
            .change_grants(true, &Privilege::ALL, &[3], &bi)
            .unwrap();
        let both = ["other".to_string(), "bi".to_string()];
        let refused = roles
            .drop_roles(&both, false, |id| format!("t{id}"))
            .unwrap_err();
        assert_eq!(refused.sqlstate(), "2BP01");
        assert!(refused.to_string().contains("t3"), "{refused}");
        assert!(roles.get("other").is_some(), "all or nothing");
        roles
            .change_grants(false, &Privilege::ALL, &[3], &bi)
            .unwrap();
        roles.drop_roles(&both, false, |id| id.to_string()).unwrap();
        assert!(roles.get("bi").is_none() && roles.get("other").is_none());
        assert_eq!(
            roles
                .drop_roles(&both, false, |id| id.to_string())
                .unwrap_err()
                .sqlstate(),
            "42704"
        );
        roles.drop_roles(&both, true, |id| id.to_string()).unwrap();
        assert_eq!(
            roles
                .change_grants(true, &[Privilege::Select], &[3], &bi)
                .unwrap_err()
                .sqlstate(),
            "42704"
        );
    }

    #[test]
    fn dropping_a_relation_forgets_its_grants() {
        let (_dir, roles) = roles_with_bi();
        let bi = [Grantee::Role("bi".into())];
        roles
            .change_grants(true, &[Privilege::Select], &[3], &bi)
            .unwrap();
        roles.forget_relation(3).unwrap();
        assert!(!roles.holds("bi", 3, Privilege::Select));
        roles
            .drop_roles(&["bi".to_string()], false, |id| id.to_string())
            .unwrap();
    }
}

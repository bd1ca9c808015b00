//! `SAVEPOINT`, `RELEASE SAVEPOINT` and `ROLLBACK TO SAVEPOINT` in a server without
//! multi-statement transactions (every statement commits on its own, see
//! docs/clients.md#transactions).
//!
//! A session's savepoints are names, each remembering whether a write has committed
//! since it was set. Rolling back to one where none has is exact: there is nothing to
//! undo (drivers do this: psycopg 3 wraps its type lookups in a savepoint). After a
//! write it is refused with `0A000`, never answered as if the write were undone.
//! `BEGIN`, `COMMIT` and `ROLLBACK` forget them.
//!
//! They live with the session's settings (under a name no setting can have), so they
//! come and go with the session.

use std::collections::HashMap;

use crate::error::{Result, SluiceError, sqlstate};

/// Where a session's savepoints are kept among its settings: one line per savepoint,
/// oldest first, `name` then a tab and `1` once a write has committed since it.
const KEY: &str = "\0savepoints";

/// The tag [`crate::sql::Output::Done`] carries for `ROLLBACK TO SAVEPOINT`: sent as
/// `ROLLBACK`, but the transaction goes on.
pub const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT";

fn read(vars: &HashMap<String, String>) -> Vec<(String, bool)> {
    vars.get(KEY)
        .map(|lines| {
            lines
                .lines()
                .filter_map(|line| line.split_once('\t'))
                .map(|(name, written)| (name.to_string(), written == "1"))
                .collect()
        })
        .unwrap_or_default()
}

fn write(vars: &mut HashMap<String, String>, savepoints: &[(String, bool)]) {
    if savepoints.is_empty() {
        vars.remove(KEY);
        return;
    }
    let lines: Vec<String> = savepoints
        .iter()
        .map(|(name, written)| format!("{name}\t{}", u8::from(*written)))
        .collect();
    vars.insert(KEY.to_string(), lines.join("\n"));
}

/// `SAVEPOINT name`.
pub fn set(vars: &mut HashMap<String, String>, name: &str) {
    let mut savepoints = read(vars);
    savepoints.push((name.to_string(), false));
    write(vars, &savepoints);
}

/// The latest savepoint called `name`, or PostgreSQL's `3B001`.
fn find(savepoints: &[(String, bool)], name: &str) -> Result<usize> {
    savepoints
        .iter()
        .rposition(|(n, _)| n == name)
        .ok_or_else(|| {
            SluiceError::coded(
                sqlstate::INVALID_SAVEPOINT_SPECIFICATION,
                format!("savepoint \"{name}\" does not exist"),
            )
        })
}

/// `RELEASE SAVEPOINT name`: forgets it and the savepoints set after it.
pub fn release(vars: &mut HashMap<String, String>, name: &str) -> Result<()> {
    let mut savepoints = read(vars);
    savepoints.truncate(find(&savepoints, name)?);
    write(vars, &savepoints);
    Ok(())
}

/// `ROLLBACK TO SAVEPOINT name`: forgets the savepoints set after it and keeps it;
/// refused when a write has committed since it was set.
pub fn roll_back_to(vars: &mut HashMap<String, String>, name: &str) -> Result<()> {
    let mut savepoints = read(vars);
    let at = find(&savepoints, name)?;
    if savepoints[at].1 {
        return Err(SluiceError::not_supported(format!(
            "cannot roll back to savepoint \"{name}\": Sluice has no multi-statement \
             transactions, and the writes since the savepoint are committed"
        )));
    }
    savepoints.truncate(at + 1);
    write(vars, &savepoints);
    Ok(())
}

/// A write committed: no open savepoint can be rolled back to any more.
pub fn written(vars: &mut HashMap<String, String>) {
    let mut savepoints = read(vars);
    if savepoints.iter().any(|(_, written)| !written) {
        for savepoint in &mut savepoints {
            savepoint.1 = true;
        }
        write(vars, &savepoints);
    }
}

/// `BEGIN`, `COMMIT`, `ROLLBACK`: a new transaction block has no savepoints.
pub fn forget(vars: &mut HashMap<String, String>) {
    vars.remove(KEY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_back_is_refused_only_after_a_write() {
        let mut vars = HashMap::new();
        set(&mut vars, "a");
        set(&mut vars, "b");
        roll_back_to(&mut vars, "a").unwrap();
        // b went with the rollback, a stays.
        let err = release(&mut vars, "b").unwrap_err();
        assert_eq!(err.sqlstate(), sqlstate::INVALID_SAVEPOINT_SPECIFICATION);
        roll_back_to(&mut vars, "a").unwrap();
        written(&mut vars);
        set(&mut vars, "c");
        roll_back_to(&mut vars, "c").unwrap();
        let err = roll_back_to(&mut vars, "a").unwrap_err();
        assert_eq!(err.sqlstate(), sqlstate::FEATURE_NOT_SUPPORTED);
        release(&mut vars, "a").unwrap();
        assert!(vars.is_empty());
        set(&mut vars, "d");
        forget(&mut vars);
        assert!(release(&mut vars, "d").is_err());
    }
}

//! Typed access to a source's `WITH (...)` options, refusing unknown keys so a typo
//! is an error instead of a silently ignored setting.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use crate::error::{Result, SluiceError, sqlstate};

/// A source's options, tracking which were read.
#[derive(Debug)]
pub struct Options {
    values: BTreeMap<String, String>,
    used: BTreeSet<String>,
}

impl Options {
    /// Wraps the parsed options.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Options {
            values,
            used: BTreeSet::new(),
        }
    }

    /// The raw value of `key`, if given.
    pub fn get(&mut self, key: &str) -> Option<String> {
        self.used.insert(key.to_string());
        self.values.get(key).cloned()
    }

    /// The value of `key`, or an error naming it.
    pub fn required(&mut self, key: &str) -> Result<String> {
        self.get(key)
            .ok_or_else(|| invalid(format!("option {key} is required")))
    }

    /// `key` parsed as `T`, or `default` when absent.
    pub fn parse_or<T: FromStr>(&mut self, key: &str, default: T) -> Result<T> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| invalid(format!("option {key} = '{v}' is not a valid value"))),
        }
    }

    /// Every option whose key starts with `prefix`, with the prefix removed; marks them read.
    pub fn with_prefix(&mut self, prefix: &str) -> BTreeMap<String, String> {
        let found: BTreeMap<String, String> = self
            .values
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix)
                    .map(|rest| (rest.to_string(), v.clone()))
            })
            .collect();
        for key in found.keys() {
            self.used.insert(format!("{prefix}{key}"));
        }
        found
    }

    /// Fails on the first option nobody read.
    pub fn finish(self) -> Result<()> {
        match self.values.keys().find(|k| !self.used.contains(*k)) {
            Some(key) => Err(invalid(format!("unknown option {key}"))),
            None => Ok(()),
        }
    }
}

/// An invalid source option (SQLSTATE 22023).
pub fn invalid(message: impl Into<String>) -> SluiceError {
    SluiceError::coded(sqlstate::INVALID_PARAMETER_VALUE, message.into())
}

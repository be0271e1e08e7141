//! Reading settings from environment variables: trimmed values, bounded numbers, lists, and
//! errors that name the variable at fault. Every module that owns settings parses its own
//! variables with these.

use thiserror::Error;

/// A configuration value that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: String, reason: String },
}

impl ConfigError {
    pub fn invalid(var: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            var: var.into(),
            reason: reason.into(),
        }
    }
}

/// The variables settings are read from: the process environment, or a map in tests.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Env<'a> {
        Env { lookup }
    }

    /// The variable's value, trimmed; `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A whole number from `min` to `max`, or `default` when unset.
    pub fn number(&self, var: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError::invalid(
                var,
                format!("{raw:?} is not a whole number from {min} to {max}"),
            )),
        }
    }

    /// A comma-separated list, without blanks; empty when unset.
    pub fn list(&self, var: &str) -> Vec<String> {
        self.get(var)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
}

//! The one error type of the config layer. Every rejection of a config
//! file names where it happened as `file:line:col`, the key path in the
//! document (`services[0].real_servers[1].port`) and what is wrong, so an
//! operator can go straight to the line; only a file that cannot be read at
//! all has no position.

use std::fmt;

/// A 1-based line and column in the YAML text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub line: usize,
    pub col: usize,
}

impl Location {
    /// The start of the file, used when nothing more precise is known.
    pub const START: Location = Location { line: 1, col: 1 };
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Which stage rejected the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorStage {
    /// Not well-formed YAML, or empty, or not a mapping at the top.
    Syntax,
    /// Well-formed YAML that does not fit the schema: unknown or missing
    /// keys, wrong types, unparsable addresses.
    Schema,
    /// Fits the schema but is not a config xvs can run: conflicts,
    /// out-of-range values, references to things that do not exist.
    Semantic,
}

/// A rejected configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read the config file: {source}")]
    Io {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    /// The text was read but is not a valid configuration.
    #[error("{origin}:{location}: {}{message}", key_prefix(key))]
    Invalid {
        /// Where the text came from (usually the file path as given).
        origin: String,
        location: Location,
        /// Key path of the offending value; empty for the whole document.
        key: String,
        message: String,
        stage: ErrorStage,
    },
    /// A runtime change (`xvs service …`, `xvs real-server …`) that was
    /// refused; the running configuration is unchanged. No position: the
    /// document it was checked in exists only in memory, so the key path
    /// (as in the output of `xvs save`) says where.
    #[error("runtime change: {}{message}", key_prefix(key))]
    RuntimeChange {
        /// Key path in the running configuration; empty when the change
        /// itself is wrong (an unknown service, a duplicate).
        key: String,
        message: String,
        stage: ErrorStage,
    },
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

impl ConfigError {
    /// Position of the error in the text; `None` for I/O errors and
    /// runtime changes.
    pub fn location(&self) -> Option<Location> {
        match self {
            ConfigError::Io { .. } | ConfigError::RuntimeChange { .. } => None,
            ConfigError::Invalid { location, .. } => Some(*location),
        }
    }

    /// Key path of the offending value (`""` for the document or I/O errors).
    pub fn key(&self) -> &str {
        match self {
            ConfigError::Io { .. } => "",
            ConfigError::Invalid { key, .. } | ConfigError::RuntimeChange { key, .. } => key,
        }
    }

    /// The explanation without origin, position or key.
    pub fn message(&self) -> String {
        match self {
            ConfigError::Io { source, .. } => source.to_string(),
            ConfigError::Invalid { message, .. } | ConfigError::RuntimeChange { message, .. } => {
                message.clone()
            }
        }
    }

    pub fn stage(&self) -> Option<ErrorStage> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Invalid { stage, .. } | ConfigError::RuntimeChange { stage, .. } => {
                Some(*stage)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_file_line_col_key_message() {
        let e = ConfigError::Invalid {
            origin: "config/nat.yaml".into(),
            location: Location { line: 12, col: 7 },
            key: "services[0].real_servers[1].port".into(),
            message: "DR real servers must use the service port (80), got 8080".into(),
            stage: ErrorStage::Semantic,
        };
        assert_eq!(
            e.to_string(),
            "config/nat.yaml:12:7: services[0].real_servers[1].port: \
             DR real servers must use the service port (80), got 8080"
        );
    }

    #[test]
    fn display_without_key_has_no_empty_prefix() {
        let e = ConfigError::Invalid {
            origin: "x.yaml".into(),
            location: Location::START,
            key: String::new(),
            message: "the file is empty".into(),
            stage: ErrorStage::Syntax,
        };
        assert_eq!(e.to_string(), "x.yaml:1:1: the file is empty");
    }
}

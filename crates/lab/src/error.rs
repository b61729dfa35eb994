//! The lab's error type: every failure names the command or file involved
//! and, for a failed command, carries its stderr so a test failure explains
//! itself.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why building, using or tearing down a lab failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The [`LabSpec`](crate::LabSpec) cannot be built.
    #[error("invalid lab spec: {0}")]
    Spec(String),

    /// The prefix cannot name namespaces and interfaces.
    #[error("invalid lab prefix {prefix:?}: {reason}")]
    Prefix { prefix: String, reason: String },

    /// Namespaces with this prefix already exist.
    #[error(
        "lab prefix {prefix:?} is in use (namespace {namespace} exists); \
         tear it down with `xvs-lab down --prefix {prefix}`"
    )]
    PrefixInUse { prefix: String, namespace: String },

    /// No lab with this prefix exists (attach).
    #[error("no lab with prefix {0:?}: build one with `xvs-lab up --prefix {0}`")]
    NoSuchLab(String),

    /// A program could not be started at all.
    #[error("cannot run `{command}`: {source} (is it installed? see scripts/install-deps.sh)")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },

    /// A program ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },

    /// A spawned service did not come up in time.
    #[error("{what} was not ready after {timeout:?}: {detail}")]
    NotReady {
        what: String,
        timeout: Duration,
        detail: String,
    },

    /// lab-client.py printed something that is not its report.
    #[error("lab-client output is not a report ({reason}): {output}")]
    Report { reason: String, output: String },

    /// Reading or writing a lab file (logs, saved spec) failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl LabError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        LabError::Io {
            path: path.into(),
            source,
        }
    }
}

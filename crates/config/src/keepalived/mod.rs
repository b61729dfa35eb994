//! `xvs import`: a keepalived.conf (with everything it includes) turned
//! into an xvs configuration. Layer: config (reads files, runs nothing).
//!
//! Three steps: [`lexer`] reads the files as keepalived's parser does
//! (comments, quotes, `include` globs, definitions), [`tree`] builds the
//! block structure, and `convert` maps each keyword to its xvs key with
//! keepalived's semantics (its defaults where they differ from xvs's:
//! NAT forwarding, UDP when `protocol` is missing, 360 s persistence
//! without a value). Every keyword it cannot carry becomes a [`Note`] with
//! its file:line and the reason; nothing is dropped silently.
//!
//! What keepalived.conf does not say but xvs needs — the director's own
//! interfaces and addresses — the caller supplies as [`Director`] (the
//! `xvs` binary takes them from `--interface` or reads them from the
//! system, guided by [`Import::needs`]).

mod convert;
mod glob;
mod lexer;
mod render;
mod tree;
mod values;
pub mod yaml;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

pub use render::{Director, DirectorInterface};
pub use tree::Node;

/// Where a line came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The file as it was named (the main file as given, an included one
    /// joined to its includer's directory).
    pub file: Arc<str>,
    /// 1-based.
    pub line: usize,
}

impl Origin {
    pub(crate) fn error(&self, message: impl Into<String>) -> KeepalivedError {
        KeepalivedError::At {
            file: self.file.to_string(),
            line: self.line,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A keepalived option xvs does not carry, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub file: String,
    pub line: usize,
    /// The keyword line as written (shortened).
    pub what: String,
    pub reason: String,
}

impl Note {
    pub(crate) fn new(at: &Origin, what: &str, reason: impl Into<String>) -> Note {
        let mut what = what.to_string();
        if what.chars().count() > 72 {
            what = what.chars().take(69).collect::<String>() + "...";
        }
        Note {
            file: at.file.to_string(),
            line: at.line,
            what,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Note {
    /// `file:line: what: reason`, one line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.what, self.reason
        )
    }
}

/// Why a keepalived.conf could not be converted at all.
#[derive(Debug, thiserror::Error)]
pub enum KeepalivedError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A syntax error, or a value whose meaning is unclear (a real
    /// server that is not an address): file:line and what is wrong.
    #[error("{file}:{line}: {message}")]
    At {
        file: String,
        line: usize,
        message: String,
    },
}

/// An interface the converted configuration refers to by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeededInterface {
    pub name: String,
    /// What names it (`vrrp_instance VI_1`, `lvs_sync_daemon`).
    pub why: String,
}

/// An address the director must reach on one of its links (a real
/// server, a sorry server, a VIP, a VRRP peer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeededAddress {
    pub addr: IpAddr,
    pub why: String,
}

/// What the director's own interfaces must cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    pub interfaces: Vec<NeededInterface>,
    pub addresses: Vec<NeededAddress>,
    /// Addresses keepalived would add to the interfaces itself (VRRP
    /// virtual addresses): not the director's own, so not to be read back
    /// from the system as such.
    pub virtual_addresses: Vec<IpAddr>,
}

/// A converted keepalived.conf, before the director's own part is added.
#[derive(Clone, Debug)]
pub struct Import {
    /// Every file read, the main one first.
    pub files: Vec<String>,
    /// What was not carried, in file order.
    pub notes: Vec<Note>,
    /// What is carried as a comment only (router_id).
    pub remarks: Vec<String>,
    pub needs: Needs,
    pub(crate) body: convert::Body,
}

impl Import {
    /// The xvs YAML: a header (what was read, what was not carried, where
    /// the interfaces came from), `global`, `interfaces`, then the
    /// converted sections.
    pub fn render(&self, director: &Director) -> String {
        render::render(self, director)
    }
}

/// Read and convert `path` and the files it includes.
pub fn import_file(path: &Path) -> Result<Import, KeepalivedError> {
    let lexed = lexer::lex_file(path)?;
    convert::convert(lexed)
}

/// Convert keepalived.conf text; `name` stands for its file in reports
/// (and includes are relative to its directory).
pub fn import_str(text: &str, name: &str) -> Result<Import, KeepalivedError> {
    let lexed = lexer::lex_str(text, name)?;
    convert::convert(lexed)
}

/// The block tree of a keepalived.conf and its includes, without
/// converting it (for tools and tests of the parser).
pub fn parse_file(path: &Path) -> Result<(Vec<Node>, Vec<Note>), KeepalivedError> {
    let lexed = lexer::lex_file(path)?;
    Ok((tree::build(lexed.pieces)?, lexed.notes))
}

/// [`parse_file`] of text named `name`.
pub fn parse_str(text: &str, name: &str) -> Result<(Vec<Node>, Vec<Note>), KeepalivedError> {
    let lexed = lexer::lex_str(text, name)?;
    Ok((tree::build(lexed.pieces)?, lexed.notes))
}

//! Where each key of a YAML document is: an index from key paths in the
//! same spelling serde_yaml uses in its errors (`services[0].vip`) to the
//! 1-based line:col of the key (for mapping entries) or of the item (for
//! sequence entries). Semantic validation runs on deserialized structs that
//! have lost their positions; it looks the offending path up here so its
//! errors carry file:line:col like the parser's own.
//!
//! Built with yaml-rust2's marked event parser, which also tells us what
//! the document's top-level node is (so an empty file or a list gets a clear
//! error before serde sees it).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::Location;

/// What the document's top-level node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootKind {
    /// No document, or a document that is only `null` / `~` / nothing.
    Empty,
    Mapping,
    Sequence,
    Scalar,
}

/// The key-path → position index of one document.
#[derive(Clone, Debug)]
pub struct KeyIndex {
    positions: HashMap<String, Location>,
    root: RootKind,
    root_location: Location,
}

/// A YAML syntax error found while indexing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub location: Location,
    pub message: String,
}

impl KeyIndex {
    /// Parse `text` and index every key. Fails only on malformed YAML.
    pub fn build(text: &str) -> Result<KeyIndex, SyntaxError> {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        // `multi = true` so a second document is seen (and refused) here.
        parser.load(&mut builder, true).map_err(|e| SyntaxError {
            location: within(text, to_location(*e.marker())),
            message: format!("YAML syntax error: {}", e.info()),
        })?;
        if let Some(mut err) = builder.error {
            err.location = within(text, err.location);
            return Err(err);
        }
        // Every position comes from a parser event; one at the very end
        // (an empty value, a bare tag) may sit past the last line.
        let mut positions = builder.positions;
        for l in positions.values_mut() {
            *l = within(text, *l);
        }
        Ok(KeyIndex {
            positions,
            root: builder.root.unwrap_or(RootKind::Empty),
            root_location: within(text, builder.root_location.unwrap_or(Location::START)),
        })
    }

    pub fn root(&self) -> RootKind {
        self.root
    }

    /// Position of the top-level node.
    pub fn root_location(&self) -> Location {
        self.root_location
    }

    /// Exact position of `path`, if the document spells that key.
    pub fn get(&self, path: &str) -> Option<Location> {
        self.positions.get(path).copied()
    }

    /// Position of `path`, or of its nearest ancestor present in the
    /// document: an error about a key the operator left out (a defaulted
    /// port, a missing `local_pool`) points at the entry that lacks it.
    pub fn locate(&self, path: &str) -> Location {
        let mut current = path;
        loop {
            if let Some(location) = self.get(current) {
                return location;
            }
            match parent(current) {
                Some(p) => current = p,
                None => return Location::START,
            }
        }
    }
}

/// `a.b[3].c` → `a.b[3]` → `a.b` → `a` → None.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    match path.rfind(['.', '[']) {
        Some(i) => Some(&path[..i]),
        None => Some(""),
    }
}

/// yaml-rust2 markers have 1-based lines and 0-based columns.
/// `location`, or the end of `text` when it lies past it: at the end of
/// a text without a final line break the YAML scanner reports the line
/// after the last, which an editor cannot go to.
pub(crate) fn within(text: &str, location: Location) -> Location {
    // YAML breaks lines at LF, CRLF and a lone CR (YAML 1.2 §5.4).
    let lines: Vec<&str> = text
        .split("\r\n")
        .flat_map(|l| l.split(['\n', '\r']))
        .collect();
    if location.line <= lines.len() {
        return location;
    }
    let last = lines.last().map_or(0, |l| l.chars().count());
    Location {
        line: lines.len(),
        col: last + 1,
    }
}

fn to_location(m: Marker) -> Location {
    Location {
        line: m.line().max(1),
        col: m.col() + 1,
    }
}

#[derive(Debug)]
enum Frame {
    Mapping {
        path: String,
        /// The key just read, whose value is expected next.
        pending_key: Option<String>,
        /// Sequence item path still waiting for a position: block mapping
        /// start markers point past the first key, so a mapping item is
        /// located at its first key instead.
        locate_item: Option<String>,
        /// Keys seen so far, to refuse duplicates (YAML 1.2 §3.2.1.1:
        /// mapping keys are unique; parsers differ on which one wins).
        keys: HashMap<String, Location>,
    },
    Sequence {
        path: String,
        next: usize,
    },
}

#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Frame>,
    positions: HashMap<String, Location>,
    root: Option<RootKind>,
    root_location: Option<Location>,
    documents: usize,
    /// First structural problem found (duplicate key, second document).
    error: Option<SyntaxError>,
}

/// What kind of node an event starts.
enum NodeStart<'a> {
    Scalar(&'a str, bool),
    Mapping,
    Sequence,
    Alias,
}

impl Builder {
    /// Record a node starting at `at`; returns its path and, for a
    /// sequence item, the path whose position is still to be found.
    fn node(&mut self, node: &NodeStart<'_>, at: Location) -> (String, Option<String>) {
        let Some(top) = self.stack.last_mut() else {
            if self.root.is_none() {
                self.root_location = Some(at);
                self.root = Some(match node {
                    NodeStart::Scalar(text, plain) => {
                        let null = *plain && matches!(*text, "" | "~" | "null" | "Null" | "NULL");
                        if null {
                            RootKind::Empty
                        } else {
                            RootKind::Scalar
                        }
                    }
                    NodeStart::Mapping => RootKind::Mapping,
                    NodeStart::Sequence => RootKind::Sequence,
                    NodeStart::Alias => RootKind::Scalar,
                });
            }
            return (String::new(), None);
        };
        match top {
            Frame::Mapping {
                path,
                pending_key,
                locate_item,
                keys,
            } => {
                if let Some(key) = pending_key.take() {
                    return (join_key(path, &key), None);
                }
                // This node is a key.
                let key = match node {
                    NodeStart::Scalar(text, _) => (*text).to_string(),
                    _ => "?".to_string(),
                };
                if let Some(item) = locate_item.take() {
                    self.positions.entry(item).or_insert(at);
                }
                if let Some(first) = keys.insert(key.clone(), at) {
                    if self.error.is_none() {
                        self.error = Some(SyntaxError {
                            location: at,
                            message: format!("duplicate key `{key}` (first given at {first})"),
                        });
                    }
                }
                self.positions.entry(join_key(path, &key)).or_insert(at);
                *pending_key = Some(key);
                (String::new(), None)
            }
            Frame::Sequence { path, next } => {
                let item = format!("{path}[{next}]");
                *next += 1;
                if matches!(node, NodeStart::Mapping) {
                    (item.clone(), Some(item))
                } else {
                    self.positions.entry(item.clone()).or_insert(at);
                    (item, None)
                }
            }
        }
    }
}

fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = to_location(mark);
        match ev {
            Event::Scalar(ref text, style, _, _) => {
                self.node(&NodeStart::Scalar(text, style == TScalarStyle::Plain), at);
            }
            Event::Alias(_) => {
                self.node(&NodeStart::Alias, at);
            }
            Event::MappingStart(..) => {
                let (path, locate_item) = self.node(&NodeStart::Mapping, at);
                self.stack.push(Frame::Mapping {
                    path,
                    pending_key: None,
                    locate_item,
                    keys: HashMap::new(),
                });
            }
            Event::SequenceStart(..) => {
                let (path, _) = self.node(&NodeStart::Sequence, at);
                self.stack.push(Frame::Sequence { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(Frame::Mapping {
                    locate_item: Some(item),
                    ..
                }) = self.stack.pop()
                {
                    // An empty flow mapping `{}` as an item: use its end.
                    self.positions.entry(item).or_insert(at);
                }
            }
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents == 2 && self.error.is_none() {
                    self.error = Some(SyntaxError {
                        location: at,
                        message: "a config file holds one YAML document; this starts a second"
                            .into(),
                    });
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(line: usize, col: usize) -> Location {
        Location { line, col }
    }

    const DOC: &str = "\
global:
  workers: [0, 1]
services:
  - name: web
    vip: 198.18.0.100
    real_servers:
      - address: 198.18.1.11
        port: 8080
      - {address: 198.18.1.12, port: 80}
  - name: dns
    flags:
      - sh-port
";

    #[test]
    fn indexes_keys_items_and_flow_entries() {
        let index = KeyIndex::build(DOC).expect("valid YAML");
        assert_eq!(index.root(), RootKind::Mapping);
        assert_eq!(index.get("global"), Some(loc(1, 1)));
        assert_eq!(index.get("global.workers"), Some(loc(2, 3)));
        assert_eq!(index.get("global.workers[1]"), Some(loc(2, 16)));
        assert_eq!(index.get("services[0]"), Some(loc(4, 5)));
        assert_eq!(index.get("services[0].vip"), Some(loc(5, 5)));
        assert_eq!(index.get("services[0].real_servers[0]"), Some(loc(7, 9)));
        assert_eq!(
            index.get("services[0].real_servers[0].port"),
            Some(loc(8, 9))
        );
        assert_eq!(
            index.get("services[0].real_servers[1].port"),
            Some(loc(9, 32))
        );
        assert_eq!(index.get("services[1].name"), Some(loc(10, 5)));
        assert_eq!(index.get("services[1].flags[0]"), Some(loc(12, 9)));
        assert_eq!(index.get("services[2]"), None);
    }

    #[test]
    fn locate_falls_back_to_nearest_ancestor() {
        let index = KeyIndex::build(DOC).expect("valid YAML");
        assert_eq!(
            index.locate("services[0].real_servers[0].weight"),
            loc(7, 9)
        );
        assert_eq!(index.locate("services[0].local_pool"), loc(4, 5));
        assert_eq!(index.locate("vrrp[0].vrid"), Location::START);
    }

    #[test]
    fn root_kinds() {
        assert_eq!(KeyIndex::build("").expect("ok").root(), RootKind::Empty);
        assert_eq!(
            KeyIndex::build("# only a comment\n").expect("ok").root(),
            RootKind::Empty
        );
        assert_eq!(
            KeyIndex::build("---\n").expect("ok").root(),
            RootKind::Empty
        );
        assert_eq!(KeyIndex::build("~\n").expect("ok").root(), RootKind::Empty);
        assert_eq!(
            KeyIndex::build("- a\n").expect("ok").root(),
            RootKind::Sequence
        );
        assert_eq!(
            KeyIndex::build("hello\n").expect("ok").root(),
            RootKind::Scalar
        );
        assert_eq!(
            KeyIndex::build("'~'\n").expect("ok").root(),
            RootKind::Scalar
        );
        assert_eq!(
            KeyIndex::build("{}\n").expect("ok").root(),
            RootKind::Mapping
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let err = KeyIndex::build("services: [\n").expect_err("unterminated flow sequence");
        assert_eq!(err.location, loc(2, 1));
        assert!(
            err.message.contains("did not find expected node content"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_error_at_the_end_of_the_text_points_into_it() {
        // Found by fuzz/fuzz_targets/config_yaml.rs: the scanner placed
        // these at 3:1, a line neither text has.
        let err = KeyIndex::build("a: b\nc").expect_err("a key without a value");
        assert_eq!(err.location, loc(2, 2));
        let err = KeyIndex::build("a: b\rc").expect_err("a lone CR breaks lines too");
        assert_eq!(err.location, loc(2, 2));
        // A bare tag is an empty document whose node the parser places
        // on line 2 of a one-line text.
        let index = KeyIndex::build("!P").expect("well-formed");
        assert_eq!(index.root_location(), loc(1, 3));
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = KeyIndex::build("a: 1\nb:\n  c: 1\n  c: 2\n").expect_err("duplicate c");
        assert_eq!(err.location, loc(4, 3));
        assert_eq!(err.message, "duplicate key `c` (first given at 3:3)");
        // The same key in two different mappings is fine.
        KeyIndex::build("- {c: 1}\n- {c: 2}\n").expect("distinct mappings");
    }

    #[test]
    fn second_document_is_refused() {
        let err = KeyIndex::build("a: 1\n---\nb: 2\n").expect_err("two documents");
        assert_eq!(err.location.line, 2);
        assert!(err.message.contains("one YAML document"), "{}", err.message);
        KeyIndex::build("---\na: 1\n...\n").expect("one explicit document");
    }

    #[test]
    fn parent_paths() {
        assert_eq!(parent("a.b[3].c"), Some("a.b[3]"));
        assert_eq!(parent("a.b[3]"), Some("a.b"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }
}

//! Pieces into blocks: a keyword line followed by `{` owns everything up
//! to the matching `}` (keepalived's process_stream and alloc_value_block,
//! without its keyword tables: any keyword may own a block, and what a
//! block means is the converter's business).

use super::lexer::Piece;
use super::{KeepalivedError, Origin};

/// One keyword line and its block, if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub at: Origin,
    /// The keyword and its arguments, quotes removed.
    pub words: Vec<String>,
    /// The line as written (for keywords keepalived reads again with
    /// shell-like quoting: scripts).
    pub raw: String,
    pub block: Option<Vec<Node>>,
}

impl Node {
    /// The keyword.
    pub fn keyword(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    /// The arguments after the keyword.
    pub fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// The argument `i` (0 = the first after the keyword).
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args().get(i).map(String::as_str)
    }

    /// The children of its block (none without one).
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// Every word inside a value block (`virtual_ipaddress { ... }`,
    /// `group { A B }`), one line per entry.
    pub fn entries(&self) -> impl Iterator<Item = &Node> {
        self.children().iter()
    }

    /// The keyword line as it reads, for reports.
    pub fn text(&self) -> String {
        let mut text = self.words.join(" ");
        if self.block.is_some() {
            text.push_str(" { ... }");
        }
        if text.chars().count() > 72 {
            text = text.chars().take(69).collect::<String>() + "...";
        }
        text
    }
}

/// Build the block tree of a file's pieces.
pub(crate) fn build(pieces: Vec<Piece>) -> Result<Vec<Node>, KeepalivedError> {
    // Each frame: the node whose block is open (None at the top) and the
    // children read so far.
    let mut stack: Vec<(Option<Node>, Vec<Node>)> = vec![(None, Vec::new())];
    let mut pieces = pieces.into_iter().peekable();
    while let Some(piece) = pieces.next() {
        match piece {
            Piece::Words { at, words, raw } => {
                let node = Node {
                    at,
                    words,
                    raw,
                    block: None,
                };
                if matches!(pieces.peek(), Some(Piece::Open(_))) {
                    pieces.next();
                    stack.push((Some(node), Vec::new()));
                } else if let Some((_, children)) = stack.last_mut() {
                    children.push(node);
                }
            }
            Piece::Open(at) => {
                return Err(at.error("`{` without a keyword before it"));
            }
            Piece::Close(at) => {
                if stack.len() == 1 {
                    return Err(at.error("`}` closes no block"));
                }
                let Some((Some(mut node), children)) = stack.pop() else {
                    return Err(at.error("`}` closes no block"));
                };
                node.block = Some(children);
                if let Some((_, parent)) = stack.last_mut() {
                    parent.push(node);
                }
            }
        }
    }
    if stack.len() > 1 {
        if let Some((Some(open), _)) = stack.pop() {
            return Err(open.at.error(format!(
                "the block of `{}` is never closed (a `}}` is missing)",
                open.words.join(" ")
            )));
        }
    }
    Ok(stack.pop().map(|(_, top)| top).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex_str;
    use super::*;

    fn tree(text: &str) -> Result<Vec<Node>, KeepalivedError> {
        build(lex_str(text, "t.conf").unwrap().pieces)
    }

    #[test]
    fn nested_blocks() {
        let nodes = tree(
            "virtual_server 198.18.0.100 80\n{\n  real_server 198.18.1.11 80 {\n    TCP_CHECK {\n    }\n  }\n  lvs_sched rr\n}\n",
        )
        .unwrap();
        assert_eq!(nodes.len(), 1);
        let vs = &nodes[0];
        assert_eq!(vs.args(), ["198.18.0.100", "80"]);
        assert_eq!(vs.children().len(), 2);
        assert_eq!(vs.children()[0].children()[0].keyword(), "TCP_CHECK");
        assert_eq!(vs.children()[0].children()[0].block, Some(vec![]));
        assert_eq!(vs.children()[1].at.line, 7);
    }

    #[test]
    fn unbalanced_braces_name_the_line() {
        let e = tree("global_defs {\n  router_id a\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.conf:1: the block of `global_defs` is never closed (a `}` is missing)"
        );
        let e = tree("a\n}\n").unwrap_err();
        assert_eq!(e.to_string(), "t.conf:2: `}` closes no block");
        let e = tree("a {\n}\n{\n").unwrap_err();
        assert_eq!(e.to_string(), "t.conf:3: `{` without a keyword before it");
    }
}

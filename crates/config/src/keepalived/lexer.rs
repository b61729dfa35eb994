//! keepalived.conf's lexical layer, as keepalived's lib/parser.c reads a
//! file: line by line, comments (`#` or `!` to the end of the line, not
//! inside double quotes, `\#` and `\!` for the characters themselves)
//! removed, `include` lines replaced by the files their glob pattern
//! matches (relative to the including file's directory, since keepalived
//! changes into it), `$NAME=value` definitions substituted, and every `{`
//! and `}` outside double quotes made a piece of its own, so that
//! `real_server 1.2.3.4 80 {` and `virtual_ipaddress { 1.2.3.4 }` both
//! become keyword, brace, words, brace.
//!
//! Words are split as keepalived's `alloc_strvec_r`: at whitespace; a word
//! that starts with `"` runs to the next `"` (the quotes removed, no
//! escapes). The line as written is kept beside its words for the keywords
//! keepalived reads again with shell-like quoting (scripts).
//!
//! Not read (each reported): conditional lines (`@id ...`, which need the
//! running machine's config id) and `~SEQ`/`~LST` sequence blocks.

use std::collections::HashMap;
use std::path::Path;

use super::glob::include_paths;
use super::{KeepalivedError, Note, Origin};

/// keepalived has no limit but the open-file count; a file that includes
/// itself would recurse forever.
const MAX_INCLUDE_DEPTH: usize = 32;

/// One piece of the token stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A keyword with its arguments, and the text they came from.
    Words {
        at: Origin,
        words: Vec<String>,
        raw: String,
    },
    Open(Origin),
    Close(Origin),
}

/// Every piece of a file and the files it includes, in reading order.
#[derive(Debug, Default)]
pub(crate) struct Lexed {
    pub pieces: Vec<Piece>,
    /// Every file read, the main one first.
    pub files: Vec<String>,
    /// What the lexer skipped.
    pub notes: Vec<Note>,
}

/// Read `path` and everything it includes.
pub(crate) fn lex_file(path: &Path) -> Result<Lexed, KeepalivedError> {
    let mut lexer = Lexer::default();
    lexer.file(path, 0)?;
    Ok(lexer.out)
}

/// Read `text` as if it were the file `name`; includes are relative to
/// `name`'s directory.
pub(crate) fn lex_str(text: &str, name: &str) -> Result<Lexed, KeepalivedError> {
    let mut lexer = Lexer::default();
    lexer.out.files.push(name.to_string());
    lexer.text(text, name, 0)?;
    Ok(lexer.out)
}

#[derive(Default)]
struct Lexer {
    out: Lexed,
    /// `$NAME=value` definitions seen so far (keepalived keeps them
    /// across included files).
    defs: HashMap<String, String>,
}

impl Lexer {
    fn file(&mut self, path: &Path, depth: usize) -> Result<(), KeepalivedError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| KeepalivedError::Io {
            file: name.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        self.out.files.push(name.clone());
        self.text(&text, &name, depth)
    }

    fn text(&mut self, text: &str, file: &str, depth: usize) -> Result<(), KeepalivedError> {
        let file: std::sync::Arc<str> = file.into();
        for (i, raw_line) in text.lines().enumerate() {
            let at = Origin {
                file: file.clone(),
                line: i + 1,
            };
            let err = |message: String| KeepalivedError::At {
                file: at.file.to_string(),
                line: at.line,
                message,
            };
            let mut line = decomment(raw_line).map_err(err)?;
            if line.is_empty() {
                continue;
            }
            if line.ends_with('\\') {
                return Err(err(
                    "a line continued with `\\` (a multi-line definition) is not supported by xvs import; join the lines".into(),
                ));
            }
            if line.starts_with('@') {
                self.out.notes.push(Note::new(
                    &at,
                    &line,
                    "conditional line (`@id`): which machine it is for is not known here; \
                     write the line without `@id` for this director, or leave it out",
                ));
                continue;
            }
            if line.starts_with("~SEQ") || line.starts_with("~LST") {
                self.out.notes.push(Note::new(
                    &at,
                    &line,
                    "keepalived sequence blocks (~SEQ, ~LST) are not expanded by xvs import; write the lines out",
                ));
                continue;
            }
            if let Some((name, value)) = definition(&line) {
                self.defs.insert(name, value);
                continue;
            }
            if !self.defs.is_empty() && line.contains('$') {
                line = substitute(&line, &self.defs);
            }
            if let Some(pattern) = include_pattern(&line) {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(err(format!(
                        "includes nested deeper than {MAX_INCLUDE_DEPTH} files: does a file include itself?"
                    )));
                }
                let base = Path::new(&*file).parent().unwrap_or(Path::new(""));
                let (paths, skipped) = include_paths(base, pattern).map_err(err)?;
                let skipped_none = skipped.is_empty();
                for reason in skipped {
                    self.out.notes.push(Note::new(&at, &line, reason));
                }
                if paths.is_empty() && skipped_none {
                    self.out.notes.push(Note::new(
                        &at,
                        &line,
                        "matched no file, so nothing was included (as keepalived)",
                    ));
                }
                for path in paths {
                    self.include(&path, depth + 1, &at)?;
                }
                continue;
            }
            split_braces(&line, &at, &mut self.out.pieces).map_err(err)?;
        }
        Ok(())
    }

    fn include(&mut self, path: &Path, depth: usize, at: &Origin) -> Result<(), KeepalivedError> {
        self.file(path, depth).map_err(|e| match e {
            KeepalivedError::Io { file, source } => KeepalivedError::At {
                file: at.file.to_string(),
                line: at.line,
                message: format!("cannot read the included file {file}: {source}"),
            },
            other => other,
        })
    }
}

/// The line without its comment and surrounding blanks (keepalived's
/// `decomment`): `#` and `!` start a comment outside double quotes, a
/// backslash keeps the next character (and `\#`, `\!` become `#`, `!`).
pub(crate) fn decomment(line: &str) -> Result<String, String> {
    let mut out = String::with_capacity(line.len());
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            '\\' => match chars.next() {
                Some(next @ ('#' | '!')) if !quoted => out.push(next),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '#' | '!' if !quoted => break,
            _ => out.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quote in `{}`", line.trim()));
    }
    Ok(out.trim().to_string())
}

/// `$NAME=value` (keepalived's check_definition): a name of letters,
/// digits and `_`, then `=`; the value is the rest of the line.
fn definition(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('$')?;
    let (name, value) = rest.split_once('=')?;
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name.to_string(), value.trim().to_string()))
}

/// Replace `$NAME` and `${NAME}` by their definitions; unknown names stay.
fn substitute(line: &str, defs: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match defs.get(name) {
            Some(value) if !name.is_empty() => {
                out.push_str(value);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The pattern of an `include` line (and of `includer`, `includem`,
/// `includew`, `includeb`, `includea`, which differ only in which
/// problems keepalived reports).
fn include_pattern(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("include")?;
    let rest = match rest.chars().next()? {
        c if c.is_whitespace() => rest,
        'r' | 'm' | 'w' | 'b' | 'a' if rest[1..].starts_with(char::is_whitespace) => &rest[1..],
        _ => return None,
    };
    let pattern = rest.trim();
    (!pattern.is_empty()).then_some(pattern)
}

/// Cut `line` at every `{` and `}` outside double quotes.
fn split_braces(line: &str, at: &Origin, out: &mut Vec<Piece>) -> Result<(), String> {
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '{' | '}' if !quoted => {
                push_words(&line[start..i], at, out)?;
                out.push(if c == '{' {
                    Piece::Open(at.clone())
                } else {
                    Piece::Close(at.clone())
                });
                start = i + 1;
            }
            _ => {}
        }
    }
    push_words(&line[start..], at, out)
}

fn push_words(text: &str, at: &Origin, out: &mut Vec<Piece>) -> Result<(), String> {
    let raw = text.trim();
    if raw.is_empty() {
        return Ok(());
    }
    out.push(Piece::Words {
        at: at.clone(),
        words: split_words(raw)?,
        raw: raw.to_string(),
    });
    Ok(())
}

/// keepalived's `alloc_strvec_r`: words split at whitespace; one that
/// starts with `"` runs to the next `"`, the quotes removed; an unquoted
/// word also ends at a `"`.
pub(crate) fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| format!("unterminated quote in `{text}`"))?;
            words.push(quoted[..end].to_string());
            rest = &quoted[end + 1..];
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(pieces: &[Piece]) -> Vec<String> {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Words { words, .. } => words.join("|"),
                Piece::Open(_) => "{".into(),
                Piece::Close(_) => "}".into(),
            })
            .collect()
    }

    #[test]
    fn comments_end_outside_quotes_only() {
        assert_eq!(decomment("  weight 3 # the big one").unwrap(), "weight 3");
        assert_eq!(decomment("! a whole comment").unwrap(), "");
        assert_eq!(
            decomment(r#"notify "/bin/echo #1 !x" # c"#).unwrap(),
            r#"notify "/bin/echo #1 !x""#
        );
        assert_eq!(decomment(r"path /a\#b").unwrap(), "path /a#b");
        assert!(decomment(r#"script "/bin/true"#).is_err());
    }

    #[test]
    fn braces_become_pieces_of_their_own() {
        let lexed = lex_str(
            "virtual_ipaddress { 198.18.0.100/24 }\nreal_server 198.18.1.11 80 {\n}\n",
            "t.conf",
        )
        .unwrap();
        assert_eq!(
            words(&lexed.pieces),
            [
                "virtual_ipaddress",
                "{",
                "198.18.0.100/24",
                "}",
                "real_server|198.18.1.11|80",
                "{",
                "}"
            ]
        );
    }

    #[test]
    fn quoted_words_keep_spaces_and_braces() {
        assert_eq!(
            split_words(r#"notify "/bin/a b" user"#).unwrap(),
            ["notify", "/bin/a b", "user"]
        );
        assert_eq!(split_words(r#"ab"c d""#).unwrap(), ["ab", "c d"]);
        let lexed = lex_str("misc_path \"/bin/x {y}\"\n", "t.conf").unwrap();
        assert_eq!(words(&lexed.pieces), ["misc_path|/bin/x {y}"]);
    }

    #[test]
    fn definitions_are_substituted() {
        let lexed = lex_str(
            "$VIP=198.18.0.100\n$PORT=80\nvirtual_server $VIP ${PORT} $OTHER\n",
            "t.conf",
        )
        .unwrap();
        assert_eq!(
            words(&lexed.pieces),
            ["virtual_server|198.18.0.100|80|$OTHER"]
        );
    }

    #[test]
    fn conditional_lines_are_reported() {
        let lexed = lex_str("@lb1 priority 150\npriority 100\n", "t.conf").unwrap();
        assert_eq!(words(&lexed.pieces), ["priority|100"]);
        assert_eq!(lexed.notes.len(), 1);
        assert_eq!(lexed.notes[0].line, 1);
    }

    #[test]
    fn include_keywords() {
        assert_eq!(
            include_pattern("include conf.d/*.conf"),
            Some("conf.d/*.conf")
        );
        assert_eq!(include_pattern("includea /etc/x"), Some("/etc/x"));
        assert_eq!(include_pattern("included x"), None);
        assert_eq!(include_pattern("include_check x"), None);
        assert_eq!(include_pattern("include"), None);
    }
}

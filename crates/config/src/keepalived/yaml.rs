//! A small ordered YAML tree and its block-style rendering with comments,
//! for the file `xvs import` writes: key order as the converter built it,
//! a comment above any list item, strings quoted only when YAML would read
//! them as something else.

use std::fmt::Write as _;

/// A YAML value.
#[derive(Clone, Debug, PartialEq)]
pub enum Y {
    /// A string (quoted when needed).
    Str(String),
    /// A number or boolean, written as is.
    Raw(String),
    /// A mapping in insertion order.
    Map(Vec<(String, Y)>),
    /// A list; each item may have comment lines above it.
    List(Vec<(Option<String>, Y)>),
}

impl Y {
    pub fn str(s: impl Into<String>) -> Y {
        Y::Str(s.into())
    }

    pub fn num(n: impl std::fmt::Display) -> Y {
        Y::Raw(n.to_string())
    }

    pub fn bool(b: bool) -> Y {
        Y::Raw(b.to_string())
    }

    /// A list of items without comments.
    pub fn list(items: impl IntoIterator<Item = Y>) -> Y {
        Y::List(items.into_iter().map(|v| (None, v)).collect())
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Y::Str(_) | Y::Raw(_))
    }
}

/// Builds a mapping key by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapBuilder(pub Vec<(String, Y)>);

impl MapBuilder {
    pub fn put(&mut self, key: &str, value: Y) -> &mut Self {
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value;
        } else {
            self.0.push((key.to_string(), value));
        }
        self
    }

    pub fn get(&self, key: &str) -> Option<&Y> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Y> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn remove(&mut self, key: &str) -> Option<Y> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    pub fn build(self) -> Y {
        Y::Map(self.0)
    }
}

/// Render top-level entries, a blank line between them.
pub fn render_document(entries: &[(String, Y)]) -> String {
    let mut out = String::new();
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_entries(&mut out, std::slice::from_ref(entry), 0);
    }
    out
}

fn render_entries(out: &mut String, entries: &[(String, Y)], indent: usize) {
    let pad = " ".repeat(indent);
    for (key, value) in entries {
        let key = scalar(key);
        match value {
            Y::Str(_) | Y::Raw(_) => {
                let _ = writeln!(out, "{pad}{key}: {}", inline(value));
            }
            Y::Map(inner) if inner.is_empty() => {
                let _ = writeln!(out, "{pad}{key}: {{}}");
            }
            Y::Map(inner) => {
                let _ = writeln!(out, "{pad}{key}:");
                render_entries(out, inner, indent + 2);
            }
            Y::List(items) if items.iter().all(|(c, v)| c.is_none() && v.is_scalar()) => {
                let _ = writeln!(out, "{pad}{key}: {}", inline(value));
            }
            Y::List(items) => {
                let _ = writeln!(out, "{pad}{key}:");
                render_items(out, items, indent + 2);
            }
        }
    }
}

fn render_items(out: &mut String, items: &[(Option<String>, Y)], indent: usize) {
    let pad = " ".repeat(indent);
    for (comment, value) in items {
        if let Some(comment) = comment {
            for line in comment.lines() {
                let _ = writeln!(out, "{pad}# {line}");
            }
        }
        match value {
            Y::Map(entries) if !entries.is_empty() => {
                // The first key goes on the dash line, the rest under it.
                let mut inner = String::new();
                render_entries(&mut inner, entries, indent + 2);
                let first = format!("{pad}  ");
                let _ = write!(out, "{pad}- {}", &inner[first.len()..]);
            }
            _ => {
                let _ = writeln!(out, "{pad}- {}", inline(value));
            }
        }
    }
}

/// A value in flow style, on one line.
fn inline(value: &Y) -> String {
    match value {
        Y::Str(s) => scalar(s),
        Y::Raw(r) => r.clone(),
        Y::Map(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), inline(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Y::List(items) => {
            let parts: Vec<String> = items.iter().map(|(_, v)| inline(v)).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// A string as a YAML scalar: plain when it can only read back as this
/// string, double-quoted otherwise.
pub fn scalar(s: &str) -> String {
    const WORDS: [&str; 12] = [
        "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n", "nan", "inf",
    ];
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | '+' | '@'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '/' || c == '_')
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
        && s.parse::<f64>().is_err()
        // YAML 1.1 readers also take 0b101, 0x1F, 0o7 and 1_000 as numbers.
        && !(s.starts_with(|c: char| c.is_ascii_digit())
            && (s.contains('_') || s.starts_with("0b") || s.starts_with("0x") || s.starts_with("0o")));
    if plain {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(scalar("198.18.0.100"), "198.18.0.100");
        assert_eq!(scalar("/health"), "/health");
        assert_eq!(scalar("fd00:0:0:1::100"), "\"fd00:0:0:1::100\"");
        assert_eq!(scalar("1.0"), "\"1.0\"");
        assert_eq!(scalar("80"), "\"80\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("a \"b\""), "\"a \\\"b\\\"\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("-x"), "\"-x\"");
        assert_eq!(scalar("1_000"), "\"1_000\"");
        assert_eq!(scalar("0b101"), "\"0b101\"");
        assert_eq!(scalar("200-299"), "200-299");
    }

    #[test]
    fn nested_lists_of_maps() {
        let mut rs = MapBuilder::default();
        rs.put("address", Y::str("198.18.1.11"))
            .put("port", Y::num(80))
            .put(
                "health",
                Y::list([Y::Map(vec![("type".into(), Y::str("tcp"))])]),
            );
        let mut svc = MapBuilder::default();
        svc.put("vip", Y::str("198.18.0.100"))
            .put("flags", Y::list([Y::str("sh-port")]))
            .put(
                "real_servers",
                Y::List(vec![(Some("rs1".into()), rs.build())]),
            );
        let doc = render_document(&[(
            "services".into(),
            Y::List(vec![(Some("from a.conf:3".into()), svc.build())]),
        )]);
        assert_eq!(
            doc,
            "services:\n  # from a.conf:3\n  - vip: 198.18.0.100\n    flags: [sh-port]\n    real_servers:\n      # rs1\n      - address: 198.18.1.11\n        port: 80\n        health:\n          - type: tcp\n"
        );
        let parsed: serde_yaml::Value = serde_yaml::from_str(&doc).unwrap();
        assert_eq!(parsed["services"][0]["real_servers"][0]["port"], 80);
    }
}

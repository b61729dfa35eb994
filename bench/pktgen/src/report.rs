//! The run report, printed as one JSON object so the throughput script
//! (and anyone else) can read it with standard tools. Only numbers,
//! strings and nested objects are needed, so a few lines of formatting do
//! it without a JSON crate.

use std::fmt::Write;

/// A JSON object under construction; fields keep their insertion order.
#[derive(Debug, Default, Clone)]
pub struct JsonObject {
    fields: Vec<(String, String)>,
}

impl JsonObject {
    pub fn new() -> JsonObject {
        JsonObject::default()
    }

    pub fn uint(mut self, key: &str, v: u64) -> Self {
        self.fields.push((key.to_owned(), v.to_string()));
        self
    }

    pub fn int(mut self, key: &str, v: i64) -> Self {
        self.fields.push((key.to_owned(), v.to_string()));
        self
    }

    /// A finite float with `decimals` decimals (NaN and infinities, which
    /// JSON cannot hold, become null).
    pub fn float(mut self, key: &str, v: f64, decimals: usize) -> Self {
        let text = if v.is_finite() {
            format!("{v:.decimals$}")
        } else {
            "null".to_owned()
        };
        self.fields.push((key.to_owned(), text));
        self
    }

    pub fn string(mut self, key: &str, v: &str) -> Self {
        self.fields.push((key.to_owned(), quote(v)));
        self
    }

    pub fn object(mut self, key: &str, v: &JsonObject) -> Self {
        self.fields.push((key.to_owned(), v.render()));
        self
    }

    /// Compact one-line JSON.
    pub fn render(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}:{v}", quote(k));
        }
        out.push('}');
        out
    }
}

/// A JSON string literal (RFC 8259 §7: quote, backslash and control
/// characters escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
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
    fn renders_fields_in_order_with_escapes() {
        let inner = JsonObject::new().uint("pcl/eth0", 3);
        let j = JsonObject::new()
            .string("iface", "eth\"0\\\n")
            .uint("sent", 10)
            .int("net", -2)
            .float("pps", 1234.5678, 1)
            .float("bad", f64::NAN, 1)
            .object("rx", &inner);
        assert_eq!(
            j.render(),
            r#"{"iface":"eth\"0\\\u000a","sent":10,"net":-2,"pps":1234.6,"bad":null,"rx":{"pcl/eth0":3}}"#
        );
        assert_eq!(JsonObject::new().render(), "{}");
    }
}

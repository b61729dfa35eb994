//! keepalived's value syntaxes: `<BOOL>` (on|off|true|false|yes|no,
//! absent = true), `<TIMER>` (seconds, fractions allowed), integers, and
//! scripts — the line read again with quotes (`'` and `"`) and then the
//! command with shell escapes (lib/parser.c `alloc_strvec_quoted_escaped`,
//! core/notify.c `notify_script_init`), followed by an optional user and
//! group.

use super::tree::Node;
use super::yaml::Y;

/// An optional `<BOOL>` argument; the keyword alone means true.
pub(crate) fn flag(node: &Node) -> Result<bool, String> {
    match node.arg(0) {
        None => Ok(true),
        Some("true" | "on" | "yes") => Ok(true),
        Some("false" | "off" | "no") => Ok(false),
        Some(other) => Err(format!("`{other}` is not on|off|true|false|yes|no")),
    }
}

/// A `<TIMER>` argument in seconds.
pub(crate) fn timer(node: &Node) -> Result<f64, String> {
    let text = node
        .arg(0)
        .ok_or_else(|| "a time in seconds is missing".to_string())?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && !text.starts_with(['+', '-']) => Ok(v),
        _ => Err(format!("`{text}` is not a time in seconds")),
    }
}

/// An unsigned integer argument `i`.
pub(crate) fn uint(node: &Node, i: usize) -> Result<u64, String> {
    let text = node
        .arg(i)
        .ok_or_else(|| "a number is missing".to_string())?;
    text.parse::<u64>()
        .map_err(|_| format!("`{text}` is not a whole number"))
}

/// A signed integer argument `i`.
pub(crate) fn int(node: &Node, i: usize) -> Result<i64, String> {
    let text = node
        .arg(i)
        .ok_or_else(|| "a number is missing".to_string())?;
    text.parse::<i64>()
        .map_err(|_| format!("`{text}` is not a whole number"))
}

/// A script keyword (`notify_master`, `misc_path`, `quorum_up`, `script`,
/// ...): the command line for xvs (its arguments joined so that a shell
/// split gives them back) and the user, `user:group` or, without one,
/// `default_user` (global_defs `script_user`).
pub(crate) fn script(node: &Node, default_user: Option<&str>) -> Result<Y, String> {
    let line = split_quoted(&node.raw, false)?;
    let command = line
        .get(1)
        .ok_or_else(|| "the script is missing".to_string())?;
    let args = split_quoted(command, true)?;
    if args.is_empty() || args[0].is_empty() {
        return Err("the script is empty".into());
    }
    let command = shell_words::join(&args);
    let user = match (line.get(2), line.get(3)) {
        (Some(user), None) => Some(user.clone()),
        (Some(user), Some(group)) => match group.trim_start_matches(':') {
            "" => Some(user.clone()),
            group => Some(format!("{user}:{group}")),
        },
        (None, _) => default_user.map(str::to_string),
    };
    Ok(script_yaml(command, user))
}

/// `command` or `{command, user}`.
pub(crate) fn script_yaml(command: String, user: Option<String>) -> Y {
    match user {
        None => Y::Str(command),
        Some(user) => Y::Map(vec![
            ("command".into(), Y::Str(command)),
            ("user".into(), Y::Str(user)),
        ]),
    }
}

/// keepalived's quoted splitting: words at whitespace, `"..."` and
/// `'...'` keep whitespace (the quotes removed, the other quote character
/// literal inside); with `escapes` a backslash sequence is decoded as the
/// shell's `$'...'` would (`\n`, `\t`, `\xHH`, `\NNN` octal, `\cC`, other
/// characters for themselves), without it the backslash stays.
pub(crate) fn split_quoted(text: &str, escapes: bool) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i == chars.len() {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            match (quote, c) {
                (_, '\\') => {
                    i += 1;
                    let Some(&next) = chars.get(i) else {
                        return Err(format!("`{text}` ends with a lone backslash"));
                    };
                    if escapes {
                        i = decode_escape(&chars, i, &mut word);
                        continue;
                    }
                    word.push('\\');
                    word.push(next);
                }
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '"' | '\'') => quote = Some(c),
                (None, c) if c.is_whitespace() => break,
                (None, c) => word.push(c),
            }
            i += 1;
        }
        if let Some(q) = quote {
            return Err(format!("`{text}` is missing a closing {q}"));
        }
        words.push(word);
    }
    Ok(words)
}

/// Decode the escape whose first character (after the backslash) is at
/// `i`; the index after it.
fn decode_escape(chars: &[char], mut i: usize, word: &mut String) -> usize {
    let c = chars[i];
    let hex = |c: &char| c.is_ascii_hexdigit();
    if c == 'x' && chars.get(i + 1).is_some_and(hex) {
        let mut value = 0u32;
        i += 1;
        for _ in 0..2 {
            match chars.get(i).and_then(|c| c.to_digit(16)) {
                Some(d) => {
                    value = value * 16 + d;
                    i += 1;
                }
                None => break,
            }
        }
        word.push(char::from_u32(value).unwrap_or('?'));
        return i;
    }
    if c == 'c' && i + 1 < chars.len() {
        let control = u32::from(chars[i + 1]) & 0x1f;
        word.push(char::from_u32(control).unwrap_or('?'));
        return i + 2;
    }
    if ('0'..='7').contains(&c) {
        let mut value = 0u32;
        for _ in 0..3 {
            match chars.get(i).and_then(|c| c.to_digit(8)) {
                Some(d) => {
                    value = value * 8 + d;
                    i += 1;
                }
                None => break,
            }
        }
        word.push(char::from_u32(value & 0xff).unwrap_or('?'));
        return i;
    }
    word.push(match c {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'E' => '\u{1b}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        other => other,
    });
    i + 1
}

#[cfg(test)]
mod tests {
    use super::super::lexer::split_words;
    use super::*;
    use crate::keepalived::Origin;

    fn node(raw: &str) -> Node {
        Node {
            at: Origin {
                file: "t.conf".into(),
                line: 1,
            },
            words: split_words(raw).unwrap(),
            raw: raw.into(),
            block: None,
        }
    }

    #[test]
    fn quoted_words() {
        assert_eq!(
            split_quoted(r#"a "b c" 'd "e"' f\ g"#, false).unwrap(),
            ["a", "b c", "d \"e\"", r"f\ g"]
        );
        assert_eq!(
            split_quoted(r"a\x41\101\tb\c@\q", true).unwrap(),
            ["aAA\tb\u{0}q"]
        );
        assert!(split_quoted("'open", false).is_err());
    }

    #[test]
    fn the_man_page_script_example() {
        // keepalived.conf(5), "Quoted strings".
        let n = node(
            r#"notify_master "/etc/keepalived/notify_event.sh ' spaces\\x20f\x69le ' '\"s p a c e \"' SG1.low master" user group"#,
        );
        let y = script(&n, None).unwrap();
        let Y::Map(entries) = y else { panic!("{y:?}") };
        let Y::Str(command) = &entries[0].1 else {
            panic!()
        };
        assert_eq!(
            shell_words::split(command).unwrap(),
            [
                "/etc/keepalived/notify_event.sh",
                r" spaces\x20file ",
                "\"s p a c e \"",
                "SG1.low",
                "master"
            ]
        );
        assert_eq!(entries[1].1, Y::str("user:group"));
    }

    #[test]
    fn scripts_take_the_default_user() {
        assert_eq!(
            script(&node("notify /bin/notify.sh"), Some("nobody")).unwrap(),
            script_yaml("/bin/notify.sh".into(), Some("nobody".into()))
        );
        assert_eq!(
            script(&node(r#"misc_path "/bin/check 198.18.1.11""#), None).unwrap(),
            Y::str("/bin/check 198.18.1.11")
        );
    }

    #[test]
    fn flags_and_timers() {
        assert_eq!(flag(&node("alpha")), Ok(true));
        assert_eq!(flag(&node("alpha off")), Ok(false));
        assert!(flag(&node("alpha maybe")).is_err());
        assert_eq!(timer(&node("delay_loop 2.5")), Ok(2.5));
        assert!(timer(&node("delay_loop -1")).is_err());
        assert!(timer(&node("delay_loop")).is_err());
    }
}

//! The files an `include` pattern names, as keepalived's glob(3) call
//! (GLOB_MARK | GLOB_BRACE) finds them: a relative pattern is taken from
//! the including file's directory; `{a,b}` alternatives are expanded
//! first, each then matched with `*`, `?` and `[...]` and sorted; a
//! leading `.` of a name must be matched literally (glibc without
//! GLOB_PERIOD). Directories and executable files are skipped with a
//! reason, as keepalived's `check_glob_file` skips them.

use std::path::{Path, PathBuf};

/// The files to read for `pattern` written in a file under `base`, and
/// why any match was skipped.
pub(crate) fn include_paths(
    base: &Path,
    pattern: &str,
) -> Result<(Vec<PathBuf>, Vec<String>), String> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for alternative in expand_braces(pattern) {
        let full = if Path::new(&alternative).is_absolute() || base.as_os_str().is_empty() {
            alternative.clone()
        } else {
            base.join(&alternative).display().to_string()
        };
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let matches = glob::glob_with(&full, options)
            .map_err(|e| format!("bad include pattern `{pattern}`: {e}"))?;
        let mut found: Vec<PathBuf> = matches.filter_map(Result::ok).collect();
        found.sort();
        let wildcard = alternative.contains(['*', '?', '[']);
        if found.is_empty() && !wildcard {
            skipped.push(format!(
                "{full}: no such file, skipped (keepalived's plain `include` skips it too)"
            ));
        }
        for path in found {
            match usable(&path) {
                Ok(()) => files.push(path),
                Err(why) => {
                    skipped.push(format!("{} skipped: {why} (as keepalived)", path.display()))
                }
            }
        }
    }
    Ok((files, skipped))
}

/// keepalived reads regular, non-executable files only.
fn usable(path: &Path) -> Result<(), &'static str> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|_| "cannot be read")?;
    if meta.is_dir() {
        return Err("a directory");
    }
    if !meta.is_file() || meta.permissions().mode() & 0o111 != 0 {
        return Err("not a regular non-executable file");
    }
    Ok(())
}

/// csh-style brace alternatives (`{a,b{c,d}}` → a, bc, bd), in order; a
/// backslash keeps the next character from being a brace or comma.
pub(crate) fn expand_braces(pattern: &str) -> Vec<String> {
    let Some((open, close)) = first_group(pattern) else {
        return vec![pattern.to_string()];
    };
    let (head, body, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let mut out = Vec::new();
    for alternative in split_top_level(body) {
        out.extend(expand_braces(&format!("{head}{alternative}{tail}")));
    }
    out
}

/// The byte offsets of the first balanced `{...}` that holds a comma at
/// its own level.
fn first_group(pattern: &str) -> Option<(usize, usize)> {
    let bytes = pattern.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => {
                let mut depth = 0;
                let mut comma = false;
                let mut j = i;
                while j < bytes.len() {
                    match bytes[j] {
                        b'\\' => j += 1,
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                if comma {
                                    return Some((i, j));
                                }
                                break;
                            }
                        }
                        b',' if depth == 1 => comma = true,
                        _ => {}
                    }
                    j += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn split_top_level(body: &str) -> Vec<&str> {
    let bytes = body.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0i32, 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&body[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_in_order_and_nest() {
        assert_eq!(expand_braces("a/*.conf"), ["a/*.conf"]);
        assert_eq!(expand_braces("{x,y}.conf"), ["x.conf", "y.conf"]);
        assert_eq!(
            expand_braces("{foo/{,cat,dog},bar}"),
            ["foo/", "foo/cat", "foo/dog", "bar"]
        );
        assert_eq!(expand_braces("a{b}c"), ["a{b}c"]);
        assert_eq!(expand_braces(r"a\{b,c}"), [r"a\{b,c}"]);
    }
}

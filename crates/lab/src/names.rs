//! Names of a lab's namespaces and interfaces, all derived from one short
//! prefix so that labs of tests running in parallel never collide, and so
//! that `xvs-lab down --prefix P` can find every namespace of a lab even
//! after the process that built it crashed.
//!
//! ```text
//! {p}cl   client          eth0
//! {p}dir  director        {p}c (client side), {p}r (real-server side)
//! {p}dir2 director 2      {p}c, {p}r (a VRRP pair or ECMP)
//! {p}dir3 director 3      {p}c, {p}r (ECMP, or a test adds it to a pair)
//! {p}rt   router          eth0 (client), eth1 (br1), eth2 (br0) (ECMP only)
//! {p}sw   switch          br0, ports "dir" and "rs1".."rsN"
//!                         a pair: br0 also "dir2"; br1 "cl", "dirc", "dir2c"
//! {p}rsI  real server I   eth0
//! ```

use std::sync::atomic::{AtomicU32, Ordering};

use crate::LabError;

/// Interface names are at most 15 bytes (IFNAMSIZ - 1); the longest one
/// derived from the prefix is `{p}c`, so 12 leaves room for longer
/// suffixes later.
pub const MAX_PREFIX_LEN: usize = 12;

/// The names of one lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Names {
    /// Check that `prefix` can name namespaces and interfaces: ASCII
    /// letters, digits, `-` and `_`, starting with a letter, at most
    /// [`MAX_PREFIX_LEN`] bytes (`xvs-` gives the README demo's `xvs-c` and
    /// `xvs-r`).
    pub fn new(prefix: &str) -> Result<Self, LabError> {
        let bad = |reason: &str| LabError::Prefix {
            prefix: prefix.to_owned(),
            reason: reason.to_owned(),
        };
        if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN {
            return Err(bad(&format!("must be 1..={MAX_PREFIX_LEN} characters")));
        }
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad("only ASCII letters, digits, '-' and '_'"));
        }
        if !prefix
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
        {
            return Err(bad("must start with a letter"));
        }
        Ok(Names {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn client(&self) -> String {
        format!("{}cl", self.prefix)
    }

    pub fn director(&self) -> String {
        format!("{}dir", self.prefix)
    }

    /// Director `i` (1-based): `{p}dir` for the first, `{p}dir{i}` after.
    pub fn director_n(&self, i: usize) -> String {
        match i {
            1 => self.director(),
            _ => format!("{}dir{i}", self.prefix),
        }
    }

    /// The upstream router of an ECMP lab (`directors: 3`).
    pub fn router(&self) -> String {
        format!("{}rt", self.prefix)
    }

    pub fn switch(&self) -> String {
        format!("{}sw", self.prefix)
    }

    /// Real server `i`, 1-based.
    pub fn real_server(&self, i: usize) -> String {
        format!("{}rs{i}", self.prefix)
    }

    /// The director's client-side veth.
    pub fn dir_client_if(&self) -> String {
        format!("{}c", self.prefix)
    }

    /// The director's real-server-side veth.
    pub fn dir_server_if(&self) -> String {
        format!("{}r", self.prefix)
    }

    /// In a pair, the switch's port for director `i`'s client-side veth
    /// (on br1).
    pub fn switch_client_port(&self, i: usize) -> String {
        match i {
            1 => "dirc".to_owned(),
            _ => format!("dir{i}c"),
        }
    }

    /// The switch's port for director `i`'s real-server-side veth (on
    /// br0): "dir" for the first, as in a single-director lab.
    pub fn switch_server_port(&self, i: usize) -> String {
        match i {
            1 => "dir".to_owned(),
            _ => format!("dir{i}"),
        }
    }

    /// What a namespace name is to this lab, if it belongs to it.
    pub fn role_of(&self, namespace: &str) -> Option<Role> {
        let rest = namespace.strip_prefix(&self.prefix)?;
        match rest {
            "cl" => Some(Role::Client),
            "dir" => Some(Role::Director(1)),
            "sw" => Some(Role::Switch),
            // Only the names director_n makes: "dir1" is never one.
            "dir2" => Some(Role::Director(2)),
            "dir3" => Some(Role::Director(3)),
            "rt" => Some(Role::Router),
            _ => {
                let digits = rest.strip_prefix("rs")?;
                // "rs01" is not a name we make; refusing it keeps the match
                // exact, so prefix "a" never claims a namespace of prefix "ars0".
                if digits.is_empty() || digits.starts_with('0') {
                    return None;
                }
                digits.parse().ok().map(Role::RealServer)
            }
        }
    }
}

/// The role of one namespace in a lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Client,
    /// The upstream router of an ECMP lab.
    Router,
    /// Director `i` (1-based; 2 in a pair, 3 in an ECMP lab).
    Director(usize),
    Switch,
    RealServer(usize),
}

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// A fresh prefix for this process: `l{pid:x}g{n:x}`. Hex never contains
/// `g`, so two (pid, n) pairs cannot spell the same prefix; the pid keeps
/// parallel test binaries apart and the counter keeps labs of one binary
/// apart.
pub fn fresh_prefix() -> String {
    let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
    format!("l{:x}g{n:x}", std::process::id())
}

/// Parse `ip netns list` output into namespace names (each line is
/// `NAME` or `NAME (id: N)`).
pub fn parse_netns_list(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_plan() {
        let n = Names::new("demo").unwrap();
        assert_eq!(n.client(), "democl");
        assert_eq!(n.director(), "demodir");
        assert_eq!(n.switch(), "demosw");
        assert_eq!(n.real_server(2), "demors2");
        assert_eq!(n.dir_client_if(), "democ");
        assert_eq!(n.dir_server_if(), "demor");
        assert_eq!(n.director_n(1), "demodir");
        assert_eq!(n.director_n(2), "demodir2");
        assert_eq!(n.switch_server_port(1), "dir");
        assert_eq!(n.switch_server_port(2), "dir2");
        assert_eq!(n.switch_client_port(2), "dir2c");
    }

    #[test]
    fn longest_interface_name_fits_ifnamsiz() {
        let n = Names::new(&"a".repeat(MAX_PREFIX_LEN)).unwrap();
        assert!(n.dir_client_if().len() <= 15 && n.dir_server_if().len() <= 15);
        assert!(Names::new(&"a".repeat(MAX_PREFIX_LEN + 1)).is_err());
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for p in ["", "1lab", "-lab", "lab/x", "lab x", "lab.x", "läb"] {
            assert!(Names::new(p).is_err(), "{p:?}");
        }
        let demo = Names::new("xvs-").unwrap();
        assert_eq!(
            (demo.dir_client_if(), demo.director()),
            ("xvs-c".into(), "xvs-dir".into())
        );
    }

    #[test]
    fn roles_match_exactly() {
        let n = Names::new("a").unwrap();
        assert_eq!(n.role_of("acl"), Some(Role::Client));
        assert_eq!(n.role_of("adir"), Some(Role::Director(1)));
        assert_eq!(n.role_of("adir2"), Some(Role::Director(2)));
        assert_eq!(n.role_of("adir3"), Some(Role::Director(3)));
        assert_eq!(n.role_of("art"), Some(Role::Router));
        assert_eq!(n.role_of("asw"), Some(Role::Switch));
        assert_eq!(n.role_of("ars12"), Some(Role::RealServer(12)));
        // Namespaces of other prefixes that start with "a".
        for other in [
            "arcl", "ars0", "arsw", "ab", "a", "ars", "ars1x", "bcl", "adir1", "adir4", "adir2x",
            "art1",
        ] {
            assert_eq!(n.role_of(other), None, "{other}");
        }
        // Prefix "ar" owns "arsw"; prefix "a" must not.
        assert_eq!(
            Names::new("ar").unwrap().role_of("arsw"),
            Some(Role::Switch)
        );
    }

    #[test]
    fn fresh_prefixes_are_valid_and_distinct() {
        let a = fresh_prefix();
        let b = fresh_prefix();
        assert_ne!(a, b);
        assert!(Names::new(&a).is_ok() && Names::new(&b).is_ok(), "{a} {b}");
    }

    #[test]
    fn netns_list_is_parsed() {
        let out = "demors1 (id: 4)\ndemosw (id: 3)\nother\n\n";
        assert_eq!(parse_netns_list(out), ["demors1", "demosw", "other"]);
    }
}

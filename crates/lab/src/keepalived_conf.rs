//! keepalived.conf text for VRRP instances, so lab tests describe the
//! instances of a director pair with parameters instead of hand-written
//! configuration. The text follows keepalived.conf(5) of keepalived 2.2.7
//! (Debian's), the reference xvs's own VRRP is compared with.
//!
//! [`keepalived_conf`] refuses what keepalived itself would only warn
//! about and then silently change (a v2 interval that is not whole
//! seconds, authentication with v3, `preempt_delay` with `nopreempt`,
//! mixed address families), so a test never runs a configuration other
//! than the one it wrote. The rules are those of RFC 3768 (VRRPv2) and
//! RFC 5798 (VRRPv3) as keepalived applies them.
//!
//! Layer: test support (pure: text in, text out).

use std::fmt::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::spec::in_test_ranges;
use crate::LabError;

/// The VRRP protocol version of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrrpVersion {
    /// RFC 3768: IPv4 only, whole-second adverts, optional simple-text
    /// authentication.
    V2,
    /// RFC 5798: IPv4 or IPv6, centisecond adverts, no authentication.
    V3,
}

/// The state an instance starts in (keepalived's `state`). Either way the
/// election decides; `Master` only skips the initial wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialState {
    Backup,
    Master,
}

/// One `vrrp_instance`. [`VrrpInstance::new`] gives keepalived's defaults
/// (v2, 1 s adverts, BACKUP, preemption on); set the other fields as the
/// test needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpInstance {
    /// The instance name; also names its state file (letters, digits,
    /// `_`, `-`, `.`, not starting with `.`).
    pub name: String,
    /// The interface it advertises on and adds the addresses to.
    pub interface: String,
    /// The virtual router id, 1..=255 (0 is invalid, RFC 5798 §5.2.3).
    pub vrid: u8,
    /// 1..=254 (255 is reserved for the address owner, RFC 5798 §5.2.4).
    pub priority: u8,
    pub version: VrrpVersion,
    /// Whole seconds for v2 (1..=255); multiples of 10 ms up to 40.95 s
    /// for v3 (the 12-bit centisecond field, RFC 5798 §5.2.7).
    pub advert_int: Duration,
    pub state: InitialState,
    /// Do not take over from a lower-priority master (needs `Backup`).
    pub nopreempt: bool,
    /// Wait this long before preempting (0..=1000 s; not with nopreempt).
    pub preempt_delay: Option<Duration>,
    /// The virtual addresses with their prefix lengths, all of one
    /// family (IPv4 only for v2).
    pub virtual_addresses: Vec<(IpAddr, u8)>,
    /// Unicast adverts from this address (keepalived picks the
    /// interface's first address when `None`).
    pub unicast_src: Option<IpAddr>,
    /// Advertise by unicast to these peers instead of by multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// v2 simple-text authentication (1..=8 characters, RFC 2338 §5.3.6).
    pub auth_pass: Option<String>,
}

impl VrrpInstance {
    /// An instance with keepalived's defaults and no addresses yet.
    pub fn new(name: &str, interface: &str, vrid: u8, priority: u8) -> Self {
        VrrpInstance {
            name: name.to_owned(),
            interface: interface.to_owned(),
            vrid,
            priority,
            version: VrrpVersion::V2,
            advert_int: Duration::from_secs(1),
            state: InitialState::Backup,
            nopreempt: false,
            preempt_delay: None,
            virtual_addresses: Vec::new(),
            unicast_src: None,
            unicast_peers: Vec::new(),
            auth_pass: None,
        }
    }
}

/// Where keepalived reports state changes: the FIFO it writes one line
/// per change to (`INSTANCE "NAME" STATE PRIORITY`) and the script it
/// starts to read them ([`Lab::keepalived_notify`](crate::Lab::keepalived_notify)
/// gives a director's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeepalivedNotify {
    pub fifo: PathBuf,
    pub script: PathBuf,
}

/// A whole keepalived.conf: `global_defs` (router id, scripts run as
/// root, the notify FIFO when given) and the instances.
pub fn keepalived_conf(
    router_id: &str,
    notify: Option<&KeepalivedNotify>,
    instances: &[VrrpInstance],
) -> Result<String, LabError> {
    word("router_id", router_id)?;
    if instances.is_empty() {
        return Err(bad(
            "a keepalived configuration needs at least one instance",
        ));
    }
    for (k, a) in instances.iter().enumerate() {
        validate(a)?;
        for b in &instances[..k] {
            if a.name == b.name {
                return Err(bad(&format!("two instances are named {}", a.name)));
            }
            // RFC 5798 §7.3: the VRID (and the family) is what tells two
            // virtual routers on one link apart.
            if a.interface == b.interface && a.vrid == b.vrid && family(a) == family(b) {
                return Err(bad(&format!(
                    "{} and {} share VRID {} on {}",
                    b.name, a.name, a.vrid, a.interface
                )));
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "# Written by xvs-lab (keepalived_conf).");
    let _ = writeln!(out, "global_defs {{");
    let _ = writeln!(out, "    router_id {router_id}");
    // The notify script runs as root; it is root's, in root's lab
    // directory, so script security can stay on without complaints.
    let _ = writeln!(out, "    script_user root");
    let _ = writeln!(out, "    enable_script_security");
    // The second round of gratuitous ARP/NA after becoming master comes
    // 1 s later instead of 5 s: less to wait for when reading logs.
    let _ = writeln!(out, "    vrrp_garp_master_delay 1");
    if let Some(n) = notify {
        let _ = writeln!(
            out,
            "    vrrp_notify_fifo {}",
            path("notify fifo", &n.fifo)?
        );
        let _ = writeln!(
            out,
            "    vrrp_notify_fifo_script {}",
            path("notify script", &n.script)?
        );
    }
    let _ = writeln!(out, "}}");
    for instance in instances {
        let _ = writeln!(out);
        render(&mut out, instance);
    }
    Ok(out)
}

fn render(out: &mut String, i: &VrrpInstance) {
    let _ = writeln!(out, "vrrp_instance {} {{", i.name);
    let state = match i.state {
        InitialState::Backup => "BACKUP",
        InitialState::Master => "MASTER",
    };
    let _ = writeln!(out, "    state {state}");
    let _ = writeln!(out, "    interface {}", i.interface);
    let _ = writeln!(out, "    virtual_router_id {}", i.vrid);
    let _ = writeln!(out, "    priority {}", i.priority);
    let version = match i.version {
        VrrpVersion::V2 => 2,
        VrrpVersion::V3 => 3,
    };
    let _ = writeln!(out, "    version {version}");
    let _ = writeln!(out, "    advert_int {}", seconds(i.advert_int));
    if i.nopreempt {
        let _ = writeln!(out, "    nopreempt");
    }
    if let Some(delay) = i.preempt_delay {
        let _ = writeln!(out, "    preempt_delay {}", seconds(delay));
    }
    if let Some(pass) = &i.auth_pass {
        let _ = writeln!(out, "    authentication {{");
        let _ = writeln!(out, "        auth_type PASS");
        let _ = writeln!(out, "        auth_pass {pass}");
        let _ = writeln!(out, "    }}");
    }
    if let Some(src) = i.unicast_src {
        let _ = writeln!(out, "    unicast_src_ip {src}");
    }
    if !i.unicast_peers.is_empty() {
        let _ = writeln!(out, "    unicast_peer {{");
        for peer in &i.unicast_peers {
            let _ = writeln!(out, "        {peer}");
        }
        let _ = writeln!(out, "    }}");
    }
    let _ = writeln!(out, "    virtual_ipaddress {{");
    for (addr, len) in &i.virtual_addresses {
        let _ = writeln!(out, "        {addr}/{len}");
    }
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "}}");
}

fn validate(i: &VrrpInstance) -> Result<(), LabError> {
    let name = &i.name;
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(bad(&format!(
            "instance name {name:?}: letters, digits, '_', '-' and '.', not starting with '.'"
        )));
    }
    word(&format!("{name}: interface"), &i.interface)?;
    if i.vrid == 0 {
        return Err(bad(&format!("{name}: VRID 0 is invalid (1..=255)")));
    }
    if i.priority == 0 || i.priority == 255 {
        return Err(bad(&format!(
            "{name}: priority {} (1..=254; 0 means resigning, 255 the address owner)",
            i.priority
        )));
    }
    let ms = i.advert_int.as_millis();
    match i.version {
        VrrpVersion::V2
            if i.advert_int.subsec_nanos() != 0 || !(1..=255).contains(&(ms / 1000)) =>
        {
            return Err(bad(&format!(
                "{name}: a VRRPv2 advert interval is whole seconds 1..=255, not {:?}",
                i.advert_int
            )));
        }
        VrrpVersion::V3
            if !i.advert_int.as_nanos().is_multiple_of(10_000_000)
                || !(10..=40_950).contains(&ms) =>
        {
            return Err(bad(&format!(
                "{name}: a VRRPv3 advert interval is 10 ms steps from 0.01 to 40.95 s, not {:?}",
                i.advert_int
            )));
        }
        _ => {}
    }
    if i.nopreempt && i.state == InitialState::Master {
        return Err(bad(&format!("{name}: nopreempt needs state BACKUP")));
    }
    if let Some(delay) = i.preempt_delay {
        if i.nopreempt {
            return Err(bad(&format!(
                "{name}: preempt_delay and nopreempt exclude each other"
            )));
        }
        if delay > Duration::from_secs(1000) || !delay.as_nanos().is_multiple_of(1_000_000) {
            return Err(bad(&format!(
                "{name}: preempt_delay is 0..=1000 s in whole milliseconds, not {delay:?}"
            )));
        }
    }
    if let Some(pass) = &i.auth_pass {
        if i.version == VrrpVersion::V3 {
            // RFC 5798 §9: VRRPv3 has no authentication.
            return Err(bad(&format!("{name}: VRRPv3 has no authentication")));
        }
        if pass.is_empty() || pass.len() > 8 || !pass.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(&format!(
                "{name}: auth_pass is 1..=8 printable characters without spaces"
            )));
        }
    }
    let Some(v6) = family(i) else {
        return Err(bad(&format!("{name}: no virtual addresses")));
    };
    if v6 && i.version == VrrpVersion::V2 {
        return Err(bad(&format!("{name}: VRRPv2 is IPv4 only (RFC 3768)")));
    }
    for (addr, len) in &i.virtual_addresses {
        if addr.is_ipv6() != v6 {
            return Err(bad(&format!(
                "{name}: {addr} is not of the family of the first virtual address \
                 (one instance per family)"
            )));
        }
        if *len > if v6 { 128 } else { 32 } {
            return Err(bad(&format!("{name}: {addr}/{len} has no such prefix")));
        }
    }
    let unicast = i.unicast_src.iter().chain(&i.unicast_peers);
    for addr in i.virtual_addresses.iter().map(|(a, _)| a).chain(unicast) {
        if !in_test_ranges(*addr) {
            return Err(bad(&format!(
                "{name}: {addr} is outside 198.18.0.0/15 and fd00::/8, the only ranges the lab uses"
            )));
        }
    }
    for addr in i.unicast_src.iter().chain(&i.unicast_peers) {
        if addr.is_ipv6() != v6 {
            return Err(bad(&format!(
                "{name}: unicast address {addr} is not of the virtual addresses' family"
            )));
        }
    }
    Ok(())
}

/// True for an IPv6 instance, `None` without addresses.
fn family(i: &VrrpInstance) -> Option<bool> {
    i.virtual_addresses.first().map(|(a, _)| a.is_ipv6())
}

/// A duration as keepalived reads seconds: `1`, `0.1`, `2.125`.
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    let text = format!("{}.{:03}", ms / 1000, ms % 1000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// keepalived splits its configuration on whitespace and treats `"`, `{`,
/// `}`, `#` and `!` specially: a word must avoid them.
fn word(what: &str, value: &str) -> Result<(), LabError> {
    let special = |c: char| c.is_whitespace() || matches!(c, '"' | '{' | '}' | '#' | '!');
    if value.is_empty() || value.contains(special) {
        return Err(bad(&format!(
            "{what} {value:?} must be one word without quotes, braces, '#' or '!'"
        )));
    }
    Ok(())
}

fn path(what: &str, p: &std::path::Path) -> Result<String, LabError> {
    let text = p
        .to_str()
        .ok_or_else(|| bad(&format!("{what} {p:?} is not UTF-8")))?;
    word(what, text)?;
    Ok(text.to_owned())
}

fn bad(reason: &str) -> LabError {
    LabError::Spec(format!("keepalived configuration: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("a literal address")
    }

    fn v2() -> VrrpInstance {
        VrrpInstance {
            auth_pass: Some("xvs-lab".into()),
            virtual_addresses: vec![(ip("198.18.0.100"), 32)],
            ..VrrpInstance::new("VI_1", "labc", 51, 150)
        }
    }

    fn v3() -> VrrpInstance {
        VrrpInstance {
            version: VrrpVersion::V3,
            advert_int: Duration::from_millis(100),
            virtual_addresses: vec![(ip("fd00:0:0:2::1"), 64)],
            ..VrrpInstance::new("VI_6", "labr", 62, 100)
        }
    }

    #[test]
    fn a_v2_instance_with_authentication_renders_in_full() {
        let notify = KeepalivedNotify {
            fifo: "/tmp/xvs-lab-p/keepalived-dir1/notify.fifo".into(),
            script: "/tmp/xvs-lab-p/keepalived-notify.sh".into(),
        };
        let text = keepalived_conf("dir1", Some(&notify), &[v2()]).unwrap();
        let expected = "\
# Written by xvs-lab (keepalived_conf).
global_defs {
    router_id dir1
    script_user root
    enable_script_security
    vrrp_garp_master_delay 1
    vrrp_notify_fifo /tmp/xvs-lab-p/keepalived-dir1/notify.fifo
    vrrp_notify_fifo_script /tmp/xvs-lab-p/keepalived-notify.sh
}

vrrp_instance VI_1 {
    state BACKUP
    interface labc
    virtual_router_id 51
    priority 150
    version 2
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass xvs-lab
    }
    virtual_ipaddress {
        198.18.0.100/32
    }
}
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_v3_instance_renders_fractional_intervals_and_unicast() {
        let instance = VrrpInstance {
            preempt_delay: Some(Duration::from_millis(2500)),
            unicast_src: Some(ip("fd00:0:0:2::2")),
            unicast_peers: vec![ip("fd00:0:0:2::3")],
            ..v3()
        };
        let text = keepalived_conf("dir2", None, &[instance]).unwrap();
        for line in [
            "    version 3\n",
            "    advert_int 0.1\n",
            "    preempt_delay 2.5\n",
            "    unicast_src_ip fd00:0:0:2::2\n",
            "    unicast_peer {\n        fd00:0:0:2::3\n    }\n",
            "        fd00:0:0:2::1/64\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
        assert!(!text.contains("notify") && !text.contains("authentication"));
        let quiet = VrrpInstance {
            nopreempt: true,
            ..v3()
        };
        let text = keepalived_conf("dir2", None, &[quiet]).unwrap();
        assert!(text.contains("    nopreempt\n"), "{text}");
    }

    #[test]
    fn seconds_are_written_as_keepalived_reads_them() {
        assert_eq!(seconds(Duration::from_secs(1)), "1");
        assert_eq!(seconds(Duration::from_millis(100)), "0.1");
        assert_eq!(seconds(Duration::from_millis(2125)), "2.125");
        assert_eq!(seconds(Duration::from_secs(40)), "40");
        assert_eq!(seconds(Duration::ZERO), "0");
    }

    #[test]
    fn what_keepalived_would_only_warn_about_is_refused() {
        type Change = fn(&mut VrrpInstance);
        let v2_cases: [(&str, Change); 18] = [
            ("v2 fraction", |i| i.advert_int = Duration::from_millis(500)),
            ("v2 zero", |i| i.advert_int = Duration::ZERO),
            ("long pass", |i| i.auth_pass = Some("123456789".into())),
            ("spaced pass", |i| i.auth_pass = Some("a b".into())),
            ("vrid 0", |i| i.vrid = 0),
            ("priority 0", |i| i.priority = 0),
            ("priority 255", |i| i.priority = 255),
            ("no addresses", |i| i.virtual_addresses.clear()),
            ("mixed", |i| i.virtual_addresses.push((ip("fd00::1"), 128))),
            ("prefix", |i| i.virtual_addresses[0].1 = 33),
            ("outside", |i| i.virtual_addresses[0].0 = ip("10.0.0.1")),
            ("peer family", |i| i.unicast_peers.push(ip("fd00::3"))),
            ("peer outside", |i| i.unicast_peers.push(ip("192.0.2.1"))),
            ("nopreempt master", |i| {
                i.nopreempt = true;
                i.state = InitialState::Master;
            }),
            ("delay and nopreempt", |i| {
                i.nopreempt = true;
                i.preempt_delay = Some(Duration::from_secs(1));
            }),
            ("delay too long", |i| {
                i.preempt_delay = Some(Duration::from_secs(1001))
            }),
            ("name", |i| i.name = "../x".into()),
            ("interface", |i| i.interface = "a b".into()),
        ];
        let v3_cases: [(&str, Change); 5] = [
            ("v3 15 ms", |i| i.advert_int = Duration::from_millis(15)),
            ("v3 too long", |i| i.advert_int = Duration::from_secs(41)),
            ("v3 auth", |i| i.auth_pass = Some("x".into())),
            ("v2 ipv6", |i| {
                i.version = VrrpVersion::V2;
                i.advert_int = Duration::from_secs(1);
            }),
            ("dot name", |i| i.name = ".x".into()),
        ];
        let cases = v2_cases
            .iter()
            .map(|c| (v2(), c))
            .chain(v3_cases.iter().map(|c| (v3(), c)));
        for (mut instance, (what, change)) in cases {
            assert!(keepalived_conf("dir1", None, &[instance.clone()]).is_ok());
            change(&mut instance);
            let err = keepalived_conf("dir1", None, &[instance]);
            assert!(matches!(err, Err(LabError::Spec(_))), "{what}: {err:?}");
        }
        assert!(keepalived_conf("dir1", None, &[]).is_err());
        assert!(keepalived_conf("dir 1", None, &[v2()]).is_err());
        assert!(
            keepalived_conf("dir1", None, &[v2(), v2()]).is_err(),
            "same name"
        );
        let same_vrid = VrrpInstance {
            name: "VI_2".into(),
            ..v2()
        };
        assert!(keepalived_conf("dir1", None, &[v2(), same_vrid]).is_err());
        // The same VRID in the other family is another virtual router.
        let other_family = VrrpInstance {
            interface: "labc".into(),
            vrid: 51,
            ..v3()
        };
        assert!(keepalived_conf("dir1", None, &[v2(), other_family]).is_ok());
        let spaced = KeepalivedNotify {
            fifo: "/tmp/a b/fifo".into(),
            script: "/tmp/s.sh".into(),
        };
        assert!(keepalived_conf("dir1", Some(&spaced), &[v2()]).is_err());
    }
}

//! `xvs import keepalived.conf`: convert a keepalived configuration (and
//! the files it includes) to xvs YAML. The conversion itself is
//! `xvs_config::keepalived`; this module adds what keepalived.conf does
//! not say — the director's own interfaces and addresses, from
//! `--interface` or else read from this system with `ip` (the interfaces
//! VRRP instances name and the ones whose prefixes hold the real servers,
//! VIPs and peers) — checks the result as `xvs check` would, and reports
//! every option not carried on stderr (they are also written at the top
//! of the output).
//!
//! Exit status: 0 when written (options not carried are reported, not
//! failures); 2 when the keepalived.conf cannot be read, or the result is
//! not a valid xvs configuration or lacks an interface it names (it is
//! written anyway, for editing).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use xvs_config::keepalived::{self, Director, DirectorInterface, Import};
use xvs_config::text::FromYamlStr;
use xvs_config::IpNet;

const EXIT_INVALID: u8 = 2;
const FROM_OPTION: &str = "from --interface";
const FROM_SYSTEM: &str = "read from the system (ip addr)";

/// `xvs import`'s command line.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The keepalived.conf to convert (the files it includes are read too,
    /// relative to the including file as keepalived reads them).
    #[arg(value_name = "KEEPALIVED_CONF")]
    pub file: PathBuf,
    /// Write the xvs YAML here (default: standard output).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// One of the director's interfaces with its addresses and prefixes,
    /// e.g. eth0=198.18.0.2/24,fd00:0:0:1::2/64,gw=198.18.0.1 (repeat for
    /// each). Interfaces not given are read from this system.
    #[arg(long = "interface", value_name = "NAME=ADDR/PREFIX[,...]")]
    pub interfaces: Vec<String>,
    /// Worker cores, comma-separated (global.workers; default core 0).
    #[arg(long, value_name = "CORES", value_delimiter = ',')]
    pub workers: Option<Vec<u64>>,
    /// How idle workers wait (global.idle; default busy).
    #[arg(long, value_name = "POLICY", value_parser = ["busy", "adaptive"])]
    pub idle: Option<String>,
}

pub fn run(args: ImportArgs) -> ExitCode {
    let import = match keepalived::import_file(&args.file) {
        Ok(import) => import,
        Err(err) => {
            eprintln!("xvs import: {err}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    report(&import);
    let mut interfaces = Vec::new();
    for spec in &args.interfaces {
        match parse_interface(spec) {
            Ok(i) => interfaces.push(i),
            Err(e) => {
                eprintln!("xvs import: --interface {spec}: {e}");
                return ExitCode::from(EXIT_INVALID);
            }
        }
    }
    if !missing(&import, &interfaces).is_empty() {
        match read_system() {
            Ok(system) => add_from_system(&import, &mut interfaces, system),
            Err(e) => eprintln!("xvs import: cannot read this system's interfaces: {e}"),
        }
    }
    for what in missing(&import, &interfaces) {
        eprintln!("xvs import: warning: {what}; give it with --interface NAME=ADDR/PREFIX");
    }
    // xvs run needs every interface the configuration names.
    let unnamed: Vec<&str> = import
        .needs
        .interfaces
        .iter()
        .filter(|n| !interfaces.iter().any(|i| i.name == n.name))
        .map(|n| n.name.as_str())
        .collect();
    let director = Director {
        workers: args.workers.clone(),
        idle: args.idle.clone(),
        interfaces,
    };
    let yaml = import.render(&director);
    let origin = args
        .output
        .as_ref()
        .map_or("<stdout>".to_string(), |p| p.display().to_string());
    let valid = match xvs_config::load_str(&yaml, &origin) {
        Ok(_) => true,
        Err(err) => {
            eprintln!("xvs import: the converted configuration does not pass `xvs check`: {err}");
            false
        }
    };
    let written = match &args.output {
        Some(path) => std::fs::write(path, &yaml).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(yaml.as_bytes())
                .map_err(|e| e.to_string())
        }
    };
    if let Err(e) = written {
        eprintln!("xvs import: cannot write the output: {e}");
        return ExitCode::from(EXIT_INVALID);
    }
    if !unnamed.is_empty() {
        eprintln!(
            "xvs import: the output lacks the interface(s) {} (not on this system); give each with --interface",
            unnamed.join(", ")
        );
    }
    if valid && unnamed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    }
}

/// The notes, one per line, on stderr.
fn report(import: &Import) {
    if import.notes.is_empty() {
        eprintln!(
            "xvs import: every option of {} was carried",
            import.files.join(", ")
        );
        return;
    }
    eprintln!(
        "xvs import: {} option(s) not carried (also listed at the top of the output):",
        import.notes.len()
    );
    for note in &import.notes {
        eprintln!("  {note}");
    }
}

/// `NAME=ADDR/PREFIX[,ADDR/PREFIX]...[,gw=ADDR]`.
pub(crate) fn parse_interface(spec: &str) -> Result<DirectorInterface, String> {
    let (name, list) = spec
        .split_once('=')
        .ok_or("expected NAME=ADDR/PREFIX[,ADDR/PREFIX]...")?;
    if name.is_empty() {
        return Err("the interface name is empty".into());
    }
    let mut iface = DirectorInterface {
        name: name.to_string(),
        addresses: Vec::new(),
        gateway_v4: None,
        gateway_v6: None,
        mtu: None,
        origin: FROM_OPTION.into(),
    };
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(gw) = item.strip_prefix("gw=") {
            match gw.parse::<IpAddr>() {
                Ok(IpAddr::V4(a)) => iface.gateway_v4 = Some(a),
                Ok(IpAddr::V6(a)) => iface.gateway_v6 = Some(a),
                Err(_) => return Err(format!("`{gw}` is not a gateway address")),
            }
            continue;
        }
        if !item.contains('/') {
            return Err(format!(
                "`{item}` needs its prefix length (e.g. {item}/24): xvs reaches on-link hosts through it"
            ));
        }
        iface.addresses.push(IpNet::from_yaml_str(item)?);
    }
    Ok(iface)
}

/// What the interfaces so far do not cover: interfaces named by the
/// configuration, and addresses in none of their prefixes.
fn missing(import: &Import, interfaces: &[DirectorInterface]) -> Vec<String> {
    let mut out = Vec::new();
    for need in &import.needs.interfaces {
        if !interfaces.iter().any(|i| i.name == need.name) {
            out.push(format!(
                "interface {} ({}) is not listed",
                need.name, need.why
            ));
        }
    }
    for need in &import.needs.addresses {
        let covered = interfaces
            .iter()
            .flat_map(|i| &i.addresses)
            .any(|net| net.contains(need.addr));
        if !covered {
            out.push(format!(
                "{} ({}) is in no interface's prefix",
                need.addr, need.why
            ));
        }
    }
    out
}

/// An interface as `ip` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SystemInterface {
    pub name: String,
    pub addresses: Vec<IpNet>,
    pub mtu: Option<u16>,
    pub gateway_v4: Option<Ipv4Addr>,
    pub gateway_v6: Option<Ipv6Addr>,
}

/// Add the system's interfaces that the configuration names, or whose
/// prefixes hold an address it needs and no listed interface covers.
/// Addresses the configuration itself uses (VIPs keepalived or xvs may
/// have put on the interface, real servers) are not the director's own.
fn add_from_system(
    import: &Import,
    interfaces: &mut Vec<DirectorInterface>,
    system: Vec<SystemInterface>,
) {
    let foreign: HashSet<IpAddr> = import
        .needs
        .addresses
        .iter()
        .map(|n| n.addr)
        .chain(import.needs.virtual_addresses.iter().copied())
        .collect();
    for sys in system {
        if interfaces.iter().any(|i| i.name == sys.name) {
            continue;
        }
        let addresses: Vec<IpNet> = sys
            .addresses
            .into_iter()
            .filter(|a| !foreign.contains(&a.addr))
            .collect();
        let named = import.needs.interfaces.iter().any(|n| n.name == sys.name);
        let holds = import.needs.addresses.iter().any(|need| {
            let covered = interfaces
                .iter()
                .flat_map(|i| &i.addresses)
                .any(|net| net.contains(need.addr));
            !covered && addresses.iter().any(|net| net.contains(need.addr))
        });
        if named || holds {
            interfaces.push(DirectorInterface {
                name: sys.name,
                addresses,
                gateway_v4: sys.gateway_v4,
                gateway_v6: sys.gateway_v6,
                mtu: sys.mtu,
                origin: FROM_SYSTEM.into(),
            });
        }
    }
}

/// This system's interfaces (not loopback), global-scope addresses, MTUs
/// and default gateways, from `ip -o`.
fn read_system() -> Result<Vec<SystemInterface>, String> {
    let addr = ip(&["-o", "addr", "show"])?;
    let link = ip(&["-o", "link", "show"])?;
    let routes4 = ip(&["-o", "-4", "route", "show", "default"]).unwrap_or_default();
    let routes6 = ip(&["-o", "-6", "route", "show", "default"]).unwrap_or_default();
    Ok(parse_system(&addr, &link, &routes4, &routes6))
}

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The name in `ip -o` output: `eth0`, `xvs-c@if5` → `xvs-c`.
fn ifname(token: &str) -> String {
    let name = token.trim_end_matches(':');
    name.split('@').next().unwrap_or(name).to_string()
}

/// Parse `ip -o addr`, `ip -o link` and `ip -o route show default`
/// (IPv4, IPv6) output.
pub(crate) fn parse_system(
    addr: &str,
    link: &str,
    routes4: &str,
    routes6: &str,
) -> Vec<SystemInterface> {
    let mut out: Vec<SystemInterface> = Vec::new();
    for line in link.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let (Some(name), true) = (tokens.get(1), line.contains("mtu ")) else {
            continue;
        };
        if line.contains("LOOPBACK") {
            continue;
        }
        let mtu = tokens
            .iter()
            .position(|t| *t == "mtu")
            .and_then(|i| tokens.get(i + 1))
            .and_then(|m| m.parse().ok());
        out.push(SystemInterface {
            name: ifname(name),
            mtu,
            ..SystemInterface::default()
        });
    }
    for line in addr.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let (Some(name), Some(family), Some(cidr)) = (tokens.get(1), tokens.get(2), tokens.get(3))
        else {
            continue;
        };
        if !matches!(*family, "inet" | "inet6") {
            continue;
        }
        let scope = tokens
            .iter()
            .position(|t| *t == "scope")
            .and_then(|i| tokens.get(i + 1))
            .copied();
        if scope != Some("global") {
            continue;
        }
        let Ok(net) = IpNet::from_yaml_str(cidr) else {
            continue;
        };
        let name = ifname(name);
        if let Some(iface) = out.iter_mut().find(|i| i.name == name) {
            iface.addresses.push(net);
        }
    }
    for line in routes4.lines().chain(routes6.lines()) {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let value = |key: &str| {
            tokens
                .iter()
                .position(|t| *t == key)
                .and_then(|i| tokens.get(i + 1))
                .copied()
        };
        let (Some(via), Some(dev)) = (value("via"), value("dev")) else {
            continue;
        };
        if let Some(iface) = out.iter_mut().find(|i| i.name == dev) {
            match via.parse::<IpAddr>() {
                Ok(IpAddr::V4(gw)) if iface.gateway_v4.is_none() => iface.gateway_v4 = Some(gw),
                Ok(IpAddr::V6(gw)) if iface.gateway_v6.is_none() => iface.gateway_v6 = Some(gw),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_options() {
        let i = parse_interface("eth0=198.18.0.2/24,fd00:0:0:1::2/64,gw=198.18.0.1").unwrap();
        assert_eq!(i.name, "eth0");
        assert_eq!(i.addresses.len(), 2);
        assert_eq!(i.addresses[1].prefix, 64);
        assert_eq!(i.gateway_v4, Some(Ipv4Addr::new(198, 18, 0, 1)));
        assert_eq!(i.origin, FROM_OPTION);
        assert!(parse_interface("eth0").is_err());
        assert!(parse_interface("eth0=198.18.0.2").is_err());
        assert!(parse_interface("eth0=nonsense/24").is_err());
        assert!(parse_interface("=198.18.0.2/24").is_err());
    }

    #[test]
    fn ip_output() {
        let link = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\\    link/loopback 00:00:00:00:00:00\n\
                    5: xvs-c@if4: <BROADCAST,UP> mtu 9000 qdisc noqueue\\    link/ether 02:00:00:00:00:01\n\
                    6: xvs-r@if7: <BROADCAST,UP> mtu 1500 qdisc noqueue\\    link/ether 02:00:00:00:00:02\n";
        let addr = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n\
                    5: xvs-c    inet 198.18.0.2/24 brd 198.18.0.255 scope global xvs-c\\       valid_lft forever\n\
                    5: xvs-c    inet6 fd00:0:0:1::2/64 scope global nodad \\       valid_lft forever\n\
                    5: xvs-c    inet6 fe80::1/64 scope link \\       valid_lft forever\n\
                    6: xvs-r    inet 198.18.1.1/24 brd 198.18.1.255 scope global xvs-r\\       valid_lft forever\n";
        let routes4 = "default via 198.18.0.1 dev xvs-c \n";
        let routes6 = "default via fd00:0:0:1::1 dev xvs-c metric 1024 pref medium\n";
        let system = parse_system(addr, link, routes4, routes6);
        assert_eq!(system.len(), 2);
        assert_eq!(system[0].name, "xvs-c");
        assert_eq!(system[0].mtu, Some(9000));
        assert_eq!(system[0].addresses.len(), 2, "{system:?}");
        assert_eq!(system[0].gateway_v4, Some(Ipv4Addr::new(198, 18, 0, 1)));
        assert_eq!(system[0].gateway_v6, Some("fd00:0:0:1::1".parse().unwrap()));
        assert_eq!(system[1].name, "xvs-r");
        assert_eq!(system[1].addresses[0].prefix, 24);
        assert_eq!(system[1].gateway_v4, None);
    }
}

//! Fuzz the health-check answer judges (crates/probe): whatever a real
//! server sends back (an HTTP response in any split, an SMTP dialog, a DNS
//! reply, a UDP reply, an ICMP packet, a FILE_CHECK file) must end in an
//! outcome, never a panic. The first byte picks the judge and the split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xvs_config::HttpProtocol;
use xvs_probe::{http, smtp, HttpRequest, UdpExpect};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(selector >> 3).min(rest.len());
    match selector & 7 {
        0 => {
            let req = HttpRequest {
                path: "/health".into(),
                host: "198.18.1.11:80".into(),
                protocol: HttpProtocol::Http11,
                status: vec![(200, 299)],
                digest: Some([0; 16]),
            };
            let mut check = http::ResponseCheck::new(&req);
            let (a, b) = rest.split_at(split);
            if let http::Progress::NeedMore = check.feed(a) {
                if let http::Progress::NeedMore = check.feed(b) {
                    let _ = check.finish();
                }
            }
        }
        1 => {
            let mut dialog = smtp::Dialog::new("xvs.example");
            for chunk in rest.chunks(split.max(1)) {
                if let smtp::SmtpStep::Done(_) = dialog.on_bytes(chunk) {
                    return;
                }
            }
            let _ = dialog.on_eof();
        }
        2 => {
            let _ = xvs_probe::dns::check_reply(0x1234, rest);
        }
        3 => {
            let expect = UdpExpect {
                require_reply: true,
                pattern: Some(vec![(0x72, 0xff), (0x00, 0x00), (0x31, 0x0f)]),
                min_len: 2,
                max_len: 255,
            };
            let _ = xvs_probe::udp::check_reply(&expect, rest);
        }
        4 => {
            let _ = xvs_probe::icmp::match_reply_v4(rest, [198, 18, 1, 11].into(), 7, 9);
        }
        5 => {
            let target = "fd00:0:0:2::11".parse().unwrap_or(std::net::Ipv6Addr::LOCALHOST);
            let _ = xvs_probe::icmp::match_reply_v6(rest, target, target, 7, 9);
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = xvs_probe::file::evaluate(text, i64::from(selector) - 128, selector & 8 != 0);
            }
        }
    }
});

//! SMTP_CHECK against tiny loopback banner servers.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use common::*;
use xvs_probe::ProbeKind;

/// A server that greets with `banner`, answers HELO with `helo_reply` and
/// QUIT with 221; it reports the commands it read.
fn smtp_server(banner: &'static str, helo_reply: &'static str) -> (SocketAddr, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (commands, seen) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut writer = stream.try_clone().unwrap();
        let _ = writer.write_all(banner.as_bytes());
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let _ = commands.send(line.clone());
            let reply = if line.starts_with("HELO") {
                helo_reply
            } else {
                "221 bye\r\n"
            };
            let _ = writer.write_all(reply.as_bytes());
        }
    });
    (addr, seen)
}

fn smtp(target: SocketAddr) -> ProbeKind {
    ProbeKind::Smtp {
        endpoint: endpoint(target),
        helo_name: "director.test".into(),
    }
}

#[test]
fn a_220_banner_and_a_250_helo_pass() {
    let (target, seen) = smtp_server("220 mail.test ESMTP\r\n", "250 hello\r\n");
    let mut prober = prober();
    let done = run_one(&mut prober, probe(Duration::from_secs(5), smtp(target)));
    assert!(done.outcome.is_pass(), "{done:?}");
    assert_eq!(seen.recv().unwrap(), "HELO director.test");
    assert_eq!(seen.recv().unwrap(), "QUIT");
}

#[test]
fn a_multiline_banner_passes() {
    let (target, _seen) = smtp_server("220-mail.test\r\n220 ready\r\n", "250 hello\r\n");
    let mut prober = prober();
    let done = run_one(&mut prober, probe(Duration::from_secs(5), smtp(target)));
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn a_554_banner_fails() {
    let (target, _seen) = smtp_server("554 go away\r\n", "250 hello\r\n");
    let mut prober = prober();
    let done = run_one(&mut prober, probe(Duration::from_secs(5), smtp(target)));
    assert!(reason(&done).contains("554"), "{done:?}");
}

#[test]
fn a_refused_helo_fails() {
    let (target, _seen) = smtp_server("220 mail.test\r\n", "550 not you\r\n");
    let mut prober = prober();
    let done = run_one(&mut prober, probe(Duration::from_secs(5), smtp(target)));
    assert!(reason(&done).contains("550"), "{done:?}");
}

#[test]
fn a_server_without_a_banner_times_out() {
    let target = silent_server();
    let mut prober = prober();
    let done = run_one(&mut prober, probe(Duration::from_secs(1), smtp(target)));
    assert_eq!(reason(&done), "SMTP dialog not over within 1 s");
}

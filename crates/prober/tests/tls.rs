//! SSL_GET against an in-process rustls server with rcgen certificates:
//! no verification, verification against the right CA and name, a wrong
//! name, a foreign CA, and the SNI the server receives.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use xvs_config::HttpProtocol;
use xvs_probe::{HttpRequest, ProbeKind, TlsParams};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    pem_path: PathBuf,
}

impl Drop for Ca {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pem_path);
    }
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    let pem_path = temp_path("ca.pem");
    std::fs::write(&pem_path, cert.pem()).unwrap();
    Ca {
        cert,
        key,
        pem_path,
    }
}

/// A TLS backend answering 200 to one GET per connection; every
/// connection reports the SNI name the server received.
struct Backend {
    addr: SocketAddr,
    sni: Receiver<Option<String>>,
}

fn backend(ca: &Ca) -> Backend {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["backend.example".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    #[allow(deprecated)] // ring is the workspace's provider; see src/tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (names, sni) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let conn = ServerConnection::new(config.clone()).unwrap();
            let mut tls = StreamOwned::new(conn, stream);
            let head = read_head(&mut tls);
            let _ = names.send(tls.conn.server_name().map(str::to_owned));
            if head.is_empty() {
                continue;
            }
            let _ = tls.write_all(&response(200, "secure"));
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    Backend { addr, sni }
}

fn ssl_get(target: SocketAddr, tls: TlsParams) -> ProbeKind {
    ProbeKind::Http {
        endpoint: endpoint(target),
        tls: Some(tls),
        requests: vec![HttpRequest {
            path: "/".into(),
            host: "backend.example".into(),
            protocol: HttpProtocol::Http11,
            status: vec![(200, 299)],
            digest: None,
        }],
    }
}

fn params(sni: Option<&str>, verify: Option<&Ca>) -> TlsParams {
    TlsParams {
        sni: sni.map(str::to_owned),
        verify: verify.is_some(),
        ca_file: verify.map(|ca| ca.pem_path.clone()),
    }
}

#[test]
fn without_verify_any_certificate_passes_and_no_sni_is_sent() {
    let ca = ca("xvs test CA");
    let server = backend(&ca);
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            ssl_get(server.addr, params(None, None)),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
    assert_eq!(server.sni.recv().unwrap(), None);
}

#[test]
fn sni_is_sent_when_set_even_without_verify() {
    let ca = ca("xvs test CA");
    let server = backend(&ca);
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            ssl_get(server.addr, params(Some("any.example"), None)),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
    assert_eq!(server.sni.recv().unwrap().as_deref(), Some("any.example"));
}

#[test]
fn verify_passes_against_the_ca_with_the_right_name() {
    let ca = ca("xvs test CA");
    let server = backend(&ca);
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            ssl_get(server.addr, params(Some("backend.example"), Some(&ca))),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
    assert_eq!(
        server.sni.recv().unwrap().as_deref(),
        Some("backend.example")
    );
}

#[test]
fn verify_without_sni_checks_the_target_address() {
    let ca = ca("xvs test CA");
    let server = backend(&ca);
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            ssl_get(server.addr, params(None, Some(&ca))),
        ),
    );
    assert!(done.outcome.is_pass(), "{done:?}");
}

#[test]
fn verify_fails_with_a_wrong_name() {
    let ca = ca("xvs test CA");
    let server = backend(&ca);
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            ssl_get(server.addr, params(Some("other.example"), Some(&ca))),
        ),
    );
    let why = reason(&done);
    assert!(why.starts_with("TLS handshake: "), "{why}");
    assert!(why.contains("certificate"), "{why}");
}

#[test]
fn verify_fails_against_another_ca() {
    let ca_of_server = ca("xvs test CA");
    let other = ca("someone else's CA");
    let server = backend(&ca_of_server);
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(
            Duration::from_secs(5),
            ssl_get(server.addr, params(Some("backend.example"), Some(&other))),
        ),
    );
    let why = reason(&done);
    assert!(why.starts_with("TLS handshake: "), "{why}");
}

#[test]
fn a_missing_ca_file_is_named() {
    let mut prober = prober();
    let missing = temp_path("absent.pem");
    let tls = TlsParams {
        sni: None,
        verify: true,
        ca_file: Some(missing.clone()),
    };
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(5), ssl_get(closed_tcp_port(), tls)),
    );
    let why = reason(&done);
    assert!(
        why.starts_with(&format!("CA file {}", missing.display())),
        "{why}"
    );
}

#[test]
fn a_server_that_does_not_speak_tls_times_out_in_the_handshake() {
    // A plain HTTP server waits for a request head the ClientHello never
    // completes.
    let target = http_server(response(200, "plain"));
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(1), ssl_get(target, params(None, None))),
    );
    assert_eq!(reason(&done), "TLS handshake timeout after 1 s");
}

#[test]
fn a_server_answering_garbage_fails_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nnot TLS at all");
        }
    });
    let mut prober = prober();
    let done = run_one(
        &mut prober,
        probe(Duration::from_secs(5), ssl_get(target, params(None, None))),
    );
    let why = reason(&done);
    assert!(why.starts_with("TLS handshake: "), "{why}");
}

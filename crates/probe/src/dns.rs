//! DNS_CHECK, sans-IO: the query keepalived's check_dns.c sends over UDP
//! and how a datagram that comes back is judged. Messages are built and
//! read by `hickory-proto` (RFC 1035 §4.1).
//!
//! As keepalived's dns_recv_thread, the reply is judged on its header
//! alone: a datagram shorter than a header, with another ID, or that is a
//! query (QR = 0) is not our answer and the wait goes on; an answer passes
//! iff its RCODE is 0. The question and records are not read.
//!
//! Layer: health (pure).

use hickory_proto::op::{Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinDecodable;

use crate::spec::Outcome;

/// The query: ID `id`, opcode QUERY, RD set (keepalived's dns_make_query),
/// one question `name` / `query_type` / class IN, no other sections.
///
/// `name` is absolute with or without the final dot; "." (keepalived's
/// default, with type SOA) and "" are the root. Errors name what is wrong
/// with `name`.
pub fn query(id: u16, query_type: u16, name: &str) -> Result<Vec<u8>, String> {
    let qname = qname(name).map_err(|e| format!("DNS name `{name}`: {e}"))?;
    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(qname, RecordType::from(query_type)));
    message
        .to_vec()
        .map_err(|e| format!("DNS query for `{name}`: {e}"))
}

/// As keepalived's dns_make_query, the text between dots is each label's
/// bytes, as written: no escapes, no IDNA, no host-name syntax rules (so
/// `_service` and `-x` labels go out as they are). hickory checks the
/// lengths (RFC 1035 §2.3.4: labels of 1-63 octets, names up to 255).
fn qname(name: &str) -> Result<Name, String> {
    let relative = name.strip_suffix('.').unwrap_or(name);
    if relative.is_empty() {
        return Ok(Name::root());
    }
    let labels: Vec<&[u8]> = relative.split('.').map(str::as_bytes).collect();
    if labels.iter().any(|label| label.is_empty()) {
        // keepalived would write a zero length here, ending the name early.
        return Err("empty label".into());
    }
    Name::from_labels(labels).map_err(|e| e.to_string())
}

/// Judges one datagram received after the query with ID `id`. `None`: not
/// our answer, keep waiting. Otherwise Pass iff RCODE is NOERROR.
pub fn check_reply(id: u16, bytes: &[u8]) -> Option<Outcome> {
    // Header::from_bytes fails on fewer than 12 bytes: keepalived's "too
    // small message", skipped.
    let header = Header::from_bytes(bytes).ok()?;
    if header.id() != id || header.message_type() != MessageType::Response {
        return None;
    }
    match header.response_code() {
        ResponseCode::NoError => Some(Outcome::pass()),
        rcode => Some(Outcome::fail(format!("DNS rcode {}", rcode_name(rcode)))),
    }
}

/// The mnemonic of a header RCODE (RFC 1035 §4.1.1, RFC 2136 §2.2), or its
/// number. Only the header's 4 bits are read, not the EDNS extension.
fn rcode_name(rcode: ResponseCode) -> String {
    let name = match rcode {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        other => return u16::from(other).to_string(),
    };
    name.to_owned()
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;

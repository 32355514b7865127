//! What every received request goes through before a transaction sees it: Via stamping
//! (RFC 3261 §18.2.1, RFC 3581 rport), Max-Forwards (483 at zero), mandatory-header and CSeq
//! checks, Route processing, and a 400 for input we cannot use but can still answer.

use std::net::SocketAddr;

use crate::message::{ParseError, Request, Response, Uri, Via, reason_phrase, response_to};

/// Why an inbound request is refused; [`InboundError::status`] is the one place that maps
/// these to response codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("malformed request: {0}")]
    Malformed(#[from] ParseError),
    #[error("Max-Forwards reached zero")]
    TooManyHops,
}

impl InboundError {
    /// The response code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            InboundError::Malformed(ParseError::Version) => 505,
            InboundError::Malformed(ParseError::TooLarge { .. }) => 513,
            InboundError::Malformed(_) => 400,
            InboundError::TooManyHops => 483,
        }
    }

    /// The response to send for this error, built from the request.
    pub fn response(&self, req: &Request) -> Response {
        let mut resp = response_to(req, self.status(), None);
        if let InboundError::Malformed(e) = self {
            resp.reason = format!("{} ({e})", reason_phrase(resp.status));
        }
        resp
    }
}

/// Checks the mandatory headers and the CSeq of a parsed request.
pub fn validate(req: &Request) -> Result<(), InboundError> {
    req.validate().map_err(InboundError::Malformed)
}

/// The Max-Forwards to put on the request we send on (a B2BUA's other leg or a proxied request):
/// one less than received, 70 if absent; 483 when it is already zero (RFC 3261 §16.3 step 2).
pub fn next_hop_max_forwards(req: &Request) -> Result<u32, InboundError> {
    match req.headers.max_forwards()? {
        None => Ok(70),
        Some(0) => Err(InboundError::TooManyHops),
        Some(n) => Ok(n - 1),
    }
}

/// Stamps the top Via with where the request really came from: `received` when the sent-by
/// host differs from the source address, and the source port in `rport` when the client asked
/// for it (RFC 3581 §4, which also requires `received` then).
pub fn stamp_via(req: &mut Request, source: SocketAddr) -> Result<(), InboundError> {
    let mut via = req.headers.top_via()?;
    let ip = source.ip().to_string();
    let host = via.host.trim_start_matches('[').trim_end_matches(']');
    let wants_rport = via.params.contains("rport");
    if host != ip || wants_rport {
        via.params.set("received", Some(&ip));
    }
    if wants_rport {
        via.params.set("rport", Some(&source.port().to_string()));
    }
    req.headers.remove_first_element("Via");
    req.headers.push_front("Via", &via.to_string());
    Ok(())
}

/// Where a response to a request carrying `via` goes over an unreliable transport (RFC 3261
/// §18.2.2, RFC 3581 §4): the `received` address if present, else the sent-by host; the
/// `rport` port if filled in, else the sent-by port, else 5060.
pub fn response_destination(via: &Via) -> (String, u16) {
    let host = via
        .params
        .get("received")
        .flatten()
        .map_or_else(|| via.host.clone(), str::to_owned);
    let port = via
        .params
        .get("rport")
        .flatten()
        .and_then(|p| p.parse::<u16>().ok())
        .or(via.port)
        .unwrap_or(5060);
    (host, port)
}

/// Route processing at a hop that owns the addresses `is_local` recognises (RFC 3261 §16.4):
/// a Request-URI that is ours while Routes remain came from a strict router, so the last
/// Route becomes the Request-URI; then a top Route naming us is removed (loose routing).
pub fn process_routes(
    req: &mut Request,
    is_local: impl Fn(&Uri) -> bool,
) -> Result<(), InboundError> {
    let routes = req.headers.routes("Route")?;
    if is_local(&req.uri)
        && let Some(last) = routes.last()
    {
        req.uri = last.uri.clone();
        let keep: Vec<String> = routes[..routes.len() - 1]
            .iter()
            .map(ToString::to_string)
            .collect();
        req.headers.remove("Route");
        for r in &keep {
            req.headers.push("Route", r);
        }
    }
    if let Some(first) = req.headers.routes("Route")?.first()
        && is_local(&first.uri)
    {
        req.headers.remove_first_element("Route");
    }
    Ok(())
}

/// Builds a 400 (or 505/513) for bytes the parser refused, when enough of them is readable to
/// answer: a request line that is not ACK, and a parseable top Via. From, To, Call-ID and CSeq
/// are copied when present (RFC 3261 §8.2.6). `None` means: drop it and count it.
pub fn bad_request(raw: &[u8], error: &ParseError) -> Option<Response> {
    let head_len = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    let text = String::from_utf8_lossy(&raw[..head_len.min(crate::message::MAX_MESSAGE_SIZE)]);
    let text = text.trim_start_matches(['\r', '\n']);
    let mut lines = text.lines();
    let start = lines.next()?;
    let mut parts = start.split(' ');
    let method = parts.next()?;
    if method.is_empty()
        || method == "ACK"
        || method
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
        || !method.bytes().all(crate::message::is_token_byte)
    {
        // Responses and ACKs are never answered.
        return None;
    }
    let mut resp = Response::new(InboundError::Malformed(error.clone()).status());
    resp.reason = format!("{} ({error})", reason_phrase(resp.status));
    let mut have_via = false;
    for line in lines {
        // Never echo control characters back: our answer must itself be well-formed.
        if line.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = crate::message::canonical_name(name.trim());
        match name {
            "Via" if !have_via => {
                // Only the top Via matters for routing the answer back.
                let top = value.split(',').next().unwrap_or("");
                if Via::parse(top.trim()).is_err() {
                    return None;
                }
                have_via = true;
                resp.headers.push("Via", value);
            }
            "Via" => resp.headers.push("Via", value),
            "From" | "To" | "Call-ID" | "CSeq" => resp.headers.push(name, value),
            _ => {}
        }
    }
    have_via.then_some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse_datagram};

    fn request(text: &str) -> Request {
        match parse_datagram(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    const INVITE: &str = "INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bKnashds8\r\n\
        Max-Forwards: 1\r\nTo: <sip:bob@b.com>\r\nFrom: <sip:a@a.com>;tag=1\r\n\
        Call-ID: x1\r\nCSeq: 1 INVITE\r\n\
        Route: <sip:192.0.2.4;lr>, <sip:next.example.com;lr>\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn via_behind_nat_gets_received_and_rport_filled_in() {
        let mut r = request(INVITE);
        stamp_via(&mut r, "203.0.113.7:40123".parse().unwrap()).unwrap();
        let via = r.headers.top_via().unwrap();
        assert_eq!(via.params.get("received"), Some(Some("203.0.113.7")));
        assert_eq!(via.params.get("rport"), Some(Some("40123")));
        assert_eq!(
            response_destination(&via),
            ("203.0.113.7".to_owned(), 40123)
        );
    }

    #[test]
    fn via_without_rport_from_its_own_address_is_left_alone() {
        let mut r = request(&INVITE.replace(";rport", ""));
        stamp_via(&mut r, "10.0.0.5:5060".parse().unwrap()).unwrap();
        let via = r.headers.top_via().unwrap();
        assert!(!via.params.contains("received"));
        assert_eq!(response_destination(&via), ("10.0.0.5".to_owned(), 5060));
    }

    #[test]
    fn max_forwards_is_decremented_and_zero_is_answered_483() {
        let r = request(INVITE);
        assert_eq!(next_hop_max_forwards(&r), Ok(0));
        let r0 = request(&INVITE.replace("Max-Forwards: 1", "Max-Forwards: 0"));
        let err = next_hop_max_forwards(&r0).unwrap_err();
        assert_eq!(err.status(), 483);
        assert_eq!(err.response(&r0).headers.get("Call-ID"), Some("x1"));
    }

    #[test]
    fn our_own_loose_route_is_popped() {
        let mut r = request(INVITE);
        process_routes(&mut r, |u| u.host == "192.0.2.4" && u.user.is_none()).unwrap();
        assert_eq!(r.headers.list("Route"), vec!["<sip:next.example.com;lr>"]);
    }

    #[test]
    fn strict_router_request_uri_is_replaced_by_the_last_route() {
        let mut r =
            request(&INVITE.replace("INVITE sip:bob@192.0.2.4", "INVITE sip:me.example.com"));
        process_routes(&mut r, |u| u.host == "me.example.com").unwrap();
        assert_eq!(r.uri.host, "next.example.com");
        assert_eq!(r.headers.list("Route"), vec!["<sip:192.0.2.4;lr>"]);
    }

    #[test]
    fn cseq_method_mismatch_is_a_400() {
        let r = request(&INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE"));
        let err = validate(&r).unwrap_err();
        assert_eq!(err, InboundError::Malformed(ParseError::CSeqMethod));
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn unparseable_request_with_a_readable_via_gets_a_400_copying_the_dialog_headers() {
        let raw = INVITE.replace("CSeq: 1 INVITE", "CSeq: one INVITE");
        let resp = bad_request(raw.as_bytes(), &ParseError::Header("CSeq")).unwrap();
        assert_eq!(resp.status, 400);
        assert!(resp.reason.contains("CSeq"));
        assert_eq!(resp.headers.get("CSeq"), Some("one INVITE"));
        assert_eq!(resp.headers.get("Call-ID"), Some("x1"));
        assert!(resp.headers.get("Route").is_none());
    }

    #[test]
    fn garbage_acks_and_responses_are_dropped_not_answered() {
        let err = ParseError::HeaderLine;
        assert!(bad_request(b"\x00\x01\x02garbage", &err).is_none());
        assert!(bad_request(INVITE.replacen("INVITE", "ACK", 1).as_bytes(), &err).is_none());
        assert!(bad_request(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\n\r\n", &err).is_none());
        let no_via = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\n";
        assert!(bad_request(no_via.as_bytes(), &err).is_none());
    }
}

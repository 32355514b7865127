//! SIP messages (RFC 3261 §7): our own small types, a strict parser and a serialiser.
//!
//! We parse ourselves rather than wrap a crate: `rsip` has had no release since 2022 and
//! `ezk-sip-types` ties its API to `bytes`/`bytesstr` sources and brings `anyhow`, `nom` and
//! `lazy_static` along. The parser here is small, allocation-light, limited in size and
//! fuzzed (`fuzz/` at the workspace root, harness in [`crate::fuzzing`]; and
//! `tests/parser_robustness.rs`).

mod headers;
pub(crate) mod parse;
mod typed;
mod uri;

pub use headers::{Header, Headers, canonical_name};
pub use parse::{MAX_MESSAGE_SIZE, parse_datagram, parse_head};
pub use typed::{BRANCH_COOKIE, CSeq, Contacts, NameAddr, Params, Transport, Via};
pub use uri::{Scheme, Uri};

use std::fmt;

/// Everything that can be wrong with a SIP message or one of its headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("message is incomplete (no blank line after the headers)")]
    Incomplete,
    #[error("message head is not valid UTF-8")]
    NotUtf8,
    #[error("invalid start line")]
    StartLine,
    #[error("unsupported SIP version")]
    Version,
    #[error("invalid method token")]
    Method,
    #[error("invalid status code")]
    StatusCode,
    #[error("malformed header line")]
    HeaderLine,
    #[error("too many header lines")]
    TooManyHeaders,
    #[error("malformed {0} header")]
    Header(&'static str),
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("invalid Content-Length")]
    ContentLength,
    #[error("body shorter than Content-Length ({declared} declared, {present} present)")]
    Truncated { declared: usize, present: usize },
    #[error("invalid URI")]
    Uri,
    #[error("CSeq method does not match the request method")]
    CSeqMethod,
}

/// A SIP request method. Unknown extension methods are kept as tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Refer,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Message,
    Publish,
    /// An extension method (a valid token, case preserved: methods are case-sensitive).
    Other(String),
}

impl Method {
    /// Parses a method token; `None` if the text is not a token.
    pub fn from_token(s: &str) -> Option<Method> {
        if s.is_empty() || !s.bytes().all(is_token_byte) {
            return None;
        }
        Some(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "REFER" => Method::Refer,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_owned()),
        })
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Refer => "REFER",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 3261 `token` characters.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100..=699.
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Self {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Serialises the request; Content-Length is always written from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("{} {} SIP/2.0\r\n", self.method, self.uri);
        serialise(start, &self.headers, &self.body)
    }

    /// Checks the headers every request must carry (RFC 3261 §8.1.1) and that the CSeq method
    /// matches the request line.
    pub fn validate(&self) -> Result<(), ParseError> {
        self.headers.top_via()?;
        self.headers.from()?;
        self.headers.to()?;
        self.headers.call_id()?;
        let cseq = self.headers.cseq()?;
        if cseq.method != self.method {
            return Err(ParseError::CSeqMethod);
        }
        self.headers.max_forwards()?;
        Ok(())
    }
}

impl Response {
    /// A response with the standard reason phrase and no headers.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// Serialises the response; Content-Length is always written from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let start = format!("SIP/2.0 {} {}\r\n", self.status, self.reason);
        serialise(start, &self.headers, &self.body)
    }

    /// True for 1xx.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    /// Checks the headers every response must carry.
    pub fn validate(&self) -> Result<(), ParseError> {
        self.headers.top_via()?;
        self.headers.from()?;
        self.headers.to()?;
        self.headers.call_id()?;
        self.headers.cseq()?;
        Ok(())
    }
}

impl Message {
    /// Serialises the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    /// The message's headers.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// Checks the mandatory headers.
    pub fn validate(&self) -> Result<(), ParseError> {
        match self {
            Message::Request(r) => r.validate(),
            Message::Response(r) => r.validate(),
        }
    }
}

fn serialise(mut out: String, headers: &Headers, body: &[u8]) -> Vec<u8> {
    for h in headers.iter() {
        if h.name().eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        out.push_str(h.name());
        out.push_str(": ");
        out.push_str(h.value());
        out.push_str("\r\n");
    }
    out.push_str("Content-Length: ");
    out.push_str(&body.len().to_string());
    out.push_str("\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The standard reason phrase of a status code (RFC 3261 §21 and extensions we send).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            1 => "Progress",
            2 => "OK",
            3 => "Redirect",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// Builds a response to `req` per RFC 3261 §8.2.6: Via, From, To, Call-ID and CSeq copied,
/// and a To tag added (for codes above 100) when the request had none.
pub fn response_to(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut resp = Response::new(status);
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        for v in req.headers.get_all(name) {
            resp.headers.push(name, v);
        }
    }
    if status > 100
        && let Some(tag) = to_tag
        && let Ok(to) = req.headers.to()
        && to.tag().is_none()
    {
        let mut to = to;
        to.params.set("tag", Some(tag));
        resp.headers.set("To", &to.to_string());
    }
    if status == 100 {
        // §8.2.6.1: a 100 copies Timestamp so the client can measure the round trip.
        if let Some(ts) = req.headers.get("Timestamp") {
            resp.headers.push("Timestamp", ts);
        }
    }
    resp
}

//! The wire parser. Strict where a mistake could mislead us (start line, Content-Length,
//! control characters), lenient where real phones differ (bare LF line ends, header folding,
//! leading blank lines). Never panics, never reads past the input, bounded in size.

use super::{Headers, Message, Method, ParseError, Request, Response, Uri, is_token_byte};

/// Largest message we accept (head and body). Bigger datagrams and stream frames are refused.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// Most header lines one message may carry; stops header-count amplification.
const MAX_HEADER_LINES: usize = 256;

/// Finds the blank line that ends the head; returns the index just after it. `from` lets a
/// stream decoder resume the search without rescanning what it has already seen.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        let nl = i + buf[i..].iter().position(|&b| b == b'\n')?;
        match (buf.get(nl + 1), buf.get(nl + 2)) {
            (Some(b'\n'), _) => return Some(nl + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// Number of leading CR/LF bytes (RFC 3261 §7.5: blank lines before the start line are ignored).
pub(crate) fn leading_blank(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Parses a message head (start line and headers, up to and including the blank line) into a
/// message with an empty body.
pub fn parse_head(head: &[u8]) -> Result<Message, ParseError> {
    if head.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge {
            limit: MAX_MESSAGE_SIZE,
        });
    }
    let head = &head[leading_blank(head)..];
    let text = std::str::from_utf8(head).map_err(|_| ParseError::NotUtf8)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().ok_or(ParseError::StartLine)?;
    if start.bytes().any(is_forbidden_control) {
        return Err(ParseError::StartLine);
    }
    let headers = parse_header_lines(lines)?;
    parse_start_line(start, headers)
}

fn is_forbidden_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

fn parse_header_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Headers, ParseError> {
    let mut raw: Vec<(&str, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.bytes().any(is_forbidden_control) {
            return Err(ParseError::HeaderLine);
        }
        if line.starts_with([' ', '\t']) {
            // Folded continuation of the previous header (RFC 3261 §7.3.1).
            let (_, value) = raw.last_mut().ok_or(ParseError::HeaderLine)?;
            value.push(' ');
            value.push_str(line.trim());
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(ParseError::HeaderLine)?;
        let name = name.trim_end();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(ParseError::HeaderLine);
        }
        if raw.len() == MAX_HEADER_LINES {
            return Err(ParseError::TooManyHeaders);
        }
        raw.push((name, value.trim().to_owned()));
    }
    let mut headers = Headers::new();
    for (name, value) in raw {
        headers.push(name, &value);
    }
    Ok(headers)
}

fn parse_start_line(line: &str, headers: Headers) -> Result<Message, ParseError> {
    let mut parts = line.splitn(3, ' ');
    let first = parts.next().ok_or(ParseError::StartLine)?;
    let second = parts.next().ok_or(ParseError::StartLine)?;
    if first
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        if !first.eq_ignore_ascii_case("SIP/2.0") {
            return Err(ParseError::Version);
        }
        let reason = parts.next().unwrap_or("").trim();
        if second.len() != 3 || !second.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::StatusCode);
        }
        let status: u16 = second.parse().map_err(|_| ParseError::StatusCode)?;
        if !(100..=699).contains(&status) {
            return Err(ParseError::StatusCode);
        }
        return Ok(Message::Response(Response {
            status,
            reason: reason.to_owned(),
            headers,
            body: Vec::new(),
        }));
    }
    let version = parts.next().ok_or(ParseError::StartLine)?;
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(if version.contains(' ') {
            ParseError::StartLine
        } else {
            ParseError::Version
        });
    }
    let method = Method::from_token(first).ok_or(ParseError::Method)?;
    let uri = Uri::parse(second)?;
    Ok(Message::Request(Request {
        method,
        uri,
        headers,
        body: Vec::new(),
    }))
}

/// The Content-Length of a head, if present. Several differing values are an error: they are a
/// classic request-smuggling trick.
pub(crate) fn content_length(headers: &Headers) -> Result<Option<usize>, ParseError> {
    let mut found: Option<usize> = None;
    for v in headers.get_all("Content-Length") {
        if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::ContentLength);
        }
        let n: usize = v.parse().map_err(|_| ParseError::ContentLength)?;
        if found.is_some_and(|f| f != n) {
            return Err(ParseError::ContentLength);
        }
        found = Some(n);
    }
    Ok(found)
}

/// Parses one complete datagram (UDP, or a WebSocket message). A missing Content-Length means
/// "the rest of the datagram"; a Content-Length beyond the datagram is an error (truncated);
/// bytes beyond the Content-Length are discarded (RFC 3261 §18.3).
pub fn parse_datagram(buf: &[u8]) -> Result<Message, ParseError> {
    if buf.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge {
            limit: MAX_MESSAGE_SIZE,
        });
    }
    let skip = leading_blank(buf);
    let buf = &buf[skip..];
    let head_end = find_head_end(buf, 0).ok_or(ParseError::Incomplete)?;
    let mut msg = parse_head(&buf[..head_end])?;
    let rest = &buf[head_end..];
    let body = match content_length(msg.headers())? {
        Some(n) if n > rest.len() => {
            return Err(ParseError::Truncated {
                declared: n,
                present: rest.len(),
            });
        }
        Some(n) => &rest[..n],
        None => rest,
    };
    set_body(&mut msg, body.to_vec());
    Ok(msg)
}

pub(crate) fn set_body(msg: &mut Message, body: Vec<u8>) {
    match msg {
        Message::Request(r) => r.body = body,
        Message::Response(r) => r.body = body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:carol@chicago.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n\
        Max-Forwards: 70\r\n\
        To: <sip:carol@chicago.com>\r\n\
        From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710\r\n\
        CSeq: 63104 OPTIONS\r\n\
        Accept: application/sdp\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn a_plain_options_request_parses_and_validates() {
        let Message::Request(r) = parse_datagram(OPTIONS.as_bytes()).unwrap() else {
            panic!("expected a request");
        };
        assert_eq!(r.method, Method::Options);
        assert_eq!(r.uri.user.as_deref(), Some("carol"));
        assert_eq!(r.headers.cseq().unwrap().seq, 63104);
        r.validate().unwrap();
        let again = parse_datagram(&r.to_bytes()).unwrap();
        assert_eq!(again, Message::Request(r));
    }

    #[test]
    fn folded_headers_bare_lf_and_leading_blank_lines_are_accepted() {
        let text = "\r\n\r\nSIP/2.0 180 Ringing\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\n\
                    Subject: I know you're there,\n  pick up\nContent-Length: 0\n\n";
        let Message::Response(r) = parse_datagram(text.as_bytes()).unwrap() else {
            panic!("expected a response");
        };
        assert_eq!(r.status, 180);
        assert_eq!(
            r.headers.get("Subject"),
            Some("I know you're there, pick up")
        );
    }

    #[test]
    fn body_is_cut_at_content_length_and_a_short_body_is_truncated() {
        let base = OPTIONS.replace("Content-Length: 0", "Content-Length: 4");
        let ok = parse_datagram(format!("{base}abcdEXTRA").as_bytes()).unwrap();
        let Message::Request(r) = ok else {
            panic!("expected a request")
        };
        assert_eq!(r.body, b"abcd");
        assert_eq!(
            parse_datagram(format!("{base}ab").as_bytes()),
            Err(ParseError::Truncated {
                declared: 4,
                present: 2
            })
        );
    }

    #[test]
    fn malformed_heads_are_errors_not_panics() {
        let cases: &[(&str, ParseError)] = &[
            (
                "INVITE sip:a@b SIP/2.0\r\nVia: x\r\n",
                ParseError::Incomplete,
            ),
            ("INVITE sip:a@b SIP/3.0\r\n\r\n", ParseError::Version),
            ("INVITE  sip:a@b SIP/2.0\r\n\r\n", ParseError::StartLine),
            ("INV(TE sip:a@b SIP/2.0\r\n\r\n", ParseError::Method),
            ("SIP/2.0 99 Weird\r\n\r\n", ParseError::StatusCode),
            ("SIP/2.0 2000 OK\r\n\r\n", ParseError::StatusCode),
            (
                "INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n",
                ParseError::HeaderLine,
            ),
            (
                "INVITE sip:a@b SIP/2.0\r\nVia\0: x\r\n\r\n",
                ParseError::HeaderLine,
            ),
            (
                "INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n",
                ParseError::ContentLength,
            ),
            (
                "INVITE sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab",
                ParseError::ContentLength,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_datagram(text.as_bytes()).as_ref(),
                Err(want),
                "{text:?}"
            );
        }
        assert_eq!(
            parse_datagram(&[0xff, 0xfe, b'\r', b'\n', b'\r', b'\n']),
            Err(ParseError::NotUtf8)
        );
    }

    #[test]
    fn oversized_datagrams_are_refused() {
        let big = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        assert_eq!(
            parse_datagram(&big),
            Err(ParseError::TooLarge {
                limit: MAX_MESSAGE_SIZE
            })
        );
    }

    #[test]
    fn too_many_header_lines_are_refused() {
        let mut text = String::from("OPTIONS sip:a@b SIP/2.0\r\n");
        for i in 0..300 {
            text.push_str(&format!("X-H{i}: v\r\n"));
        }
        text.push_str("\r\n");
        assert_eq!(
            parse_datagram(text.as_bytes()),
            Err(ParseError::TooManyHeaders)
        );
    }
}

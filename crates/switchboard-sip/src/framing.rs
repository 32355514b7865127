//! Stream framing for SIP over TCP/TLS (RFC 3261 §18.3): a head, then exactly Content-Length
//! bytes of body. Also RFC 5626 §3.5.1 keep-alives (a CRLFCRLF "ping", a CRLF "pong").
//!
//! Sans-IO: the transport feeds received bytes in and pulls framed items out. Once framing is
//! lost (no or bad Content-Length) nothing after it can be trusted; the decoder says so and the
//! transport closes the connection.

use crate::message::parse::{content_length, find_head_end, parse_head, set_body};
use crate::message::{MAX_MESSAGE_SIZE, Message, ParseError};

/// One framed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// A well-formed message with its body.
    Message(Message),
    /// A frame whose bytes could be delimited but whose content is malformed. Answer it with
    /// [`crate::inbound::bad_request`] if possible, count it, and carry on.
    Invalid { raw: Vec<u8>, error: ParseError },
    /// A CRLFCRLF keep-alive ping: answer with a single CRLF.
    Ping,
    /// A single CRLF keep-alive pong.
    Pong,
}

/// Framing is lost; the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("message head exceeds {limit} bytes")]
    HeadTooLarge { limit: usize },
    #[error("framing lost earlier on this connection")]
    Desynchronised,
}

/// Incremental decoder for one stream connection.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    buf: Vec<u8>,
    /// How far the head-end search has already looked, so each byte is scanned about once.
    scanned: usize,
    poisoned: bool,
}

impl StreamDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        StreamDecoder::default()
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.poisoned {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes buffered but not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete item, `Ok(None)` if more bytes are needed.
    pub fn decode(&mut self) -> Result<Option<StreamItem>, FramingError> {
        if self.poisoned {
            return Err(FramingError::Desynchronised);
        }
        if let Some(item) = self.keep_alive() {
            return Ok(Some(item));
        }
        if !self.buf.is_empty() && b"\r\n\r\n".starts_with(&self.buf) {
            // The start of what may be a ping: wait for the rest.
            return Ok(None);
        }
        let Some(head_end) = find_head_end(&self.buf, self.scanned) else {
            if self.buf.len() > MAX_MESSAGE_SIZE {
                self.poison();
                return Err(FramingError::HeadTooLarge {
                    limit: MAX_MESSAGE_SIZE,
                });
            }
            self.scanned = self.buf.len().saturating_sub(2);
            return Ok(None);
        };
        if head_end > MAX_MESSAGE_SIZE {
            self.poison();
            return Err(FramingError::HeadTooLarge {
                limit: MAX_MESSAGE_SIZE,
            });
        }
        let parsed = parse_head(&self.buf[..head_end]);
        let declared = match &parsed {
            Ok(msg) => content_length(msg.headers()),
            Err(_) => lenient_content_length(&self.buf[..head_end]),
        };
        let body_len = match declared {
            Ok(Some(n)) if head_end + n <= MAX_MESSAGE_SIZE => n,
            Ok(Some(_)) => {
                return Ok(Some(self.give_up(
                    head_end,
                    ParseError::TooLarge {
                        limit: MAX_MESSAGE_SIZE,
                    },
                )));
            }
            // RFC 3261 §18.3: Content-Length is mandatory on streams.
            Ok(None) => {
                return Ok(Some(
                    self.give_up(head_end, ParseError::Missing("Content-Length")),
                ));
            }
            Err(e) => return Ok(Some(self.give_up(head_end, e))),
        };
        let total = head_end + body_len;
        if self.buf.len() < total {
            self.scanned = head_end.saturating_sub(3);
            return Ok(None);
        }
        let raw: Vec<u8> = self.buf.drain(..total).collect();
        self.scanned = 0;
        Ok(Some(match parsed {
            Ok(mut msg) => {
                set_body(&mut msg, raw[head_end..].to_vec());
                StreamItem::Message(msg)
            }
            Err(error) => StreamItem::Invalid { raw, error },
        }))
    }

    fn keep_alive(&mut self) -> Option<StreamItem> {
        // Tolerate stray bare LFs between messages. They go first: dropped after the ping/pong
        // check, a CRLF behind them was seen as a pong or as the start of the next head
        // depending on where the TCP segments happened to be cut (found by fuzzing).
        let lf = self.buf.iter().take_while(|&&b| b == b'\n').count();
        if lf > 0 {
            self.buf.drain(..lf);
        }
        if self.buf.starts_with(b"\r\n\r\n") {
            self.buf.drain(..4);
            return Some(StreamItem::Ping);
        }
        if self.buf.starts_with(b"\r\n") && self.buf.get(2).is_some_and(|&b| b != b'\r') {
            self.buf.drain(..2);
            return Some(StreamItem::Pong);
        }
        None
    }

    /// Hands back the head for a 400 and refuses everything after it.
    fn give_up(&mut self, head_end: usize, error: ParseError) -> StreamItem {
        let raw = self.buf[..head_end].to_vec();
        self.poison();
        StreamItem::Invalid { raw, error }
    }

    fn poison(&mut self) {
        self.poisoned = true;
        self.buf = Vec::new();
    }
}

/// Finds Content-Length in a head the strict parser refused, so that one bad header does not
/// cost the whole connection.
fn lenient_content_length(head: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut found = None;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = line[colon + 1..].trim_ascii();
            let n = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.len() <= 9 && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or(ParseError::ContentLength)?;
            if found.is_some_and(|f| f != n) {
                return Err(ParseError::ContentLength);
            }
            found = Some(n);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &str) -> String {
        format!(
            "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    fn drain(d: &mut StreamDecoder) -> Vec<StreamItem> {
        let mut out = Vec::new();
        while let Ok(Some(item)) = d.decode() {
            out.push(item);
        }
        out
    }

    #[test]
    fn messages_split_across_reads_are_reassembled_byte_by_byte() {
        let wire = format!("{}{}", msg("hello"), msg("second"));
        let mut d = StreamDecoder::new();
        let mut items = Vec::new();
        for b in wire.as_bytes() {
            d.feed(std::slice::from_ref(b));
            items.extend(drain(&mut d));
        }
        assert_eq!(items.len(), 2);
        let StreamItem::Message(Message::Request(r)) = &items[1] else {
            panic!("expected a request, got {items:?}");
        };
        assert_eq!(r.body, b"second");
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn keep_alive_ping_and_pong_are_recognised_between_messages() {
        let mut d = StreamDecoder::new();
        d.feed(format!("\r\n\r\n{}\r\n{}", msg("x"), msg("y")).as_bytes());
        let items = drain(&mut d);
        assert_eq!(items[0], StreamItem::Ping);
        assert!(matches!(items[1], StreamItem::Message(_)));
        assert_eq!(items[2], StreamItem::Pong);
        assert!(matches!(items[3], StreamItem::Message(_)));
    }

    #[test]
    fn a_pong_behind_a_stray_lf_is_a_pong_however_the_segments_are_cut() {
        // Found by the `sip_message` fuzz target (fuzz/regressions/sip_message): a message
        // whose body ended one byte early left "\n\r\n" before the next head.
        let wire = format!("{}\n\r\n{}", msg("x"), msg("y"));
        let mut whole = StreamDecoder::new();
        whole.feed(wire.as_bytes());
        let want = drain(&mut whole);
        assert_eq!(want.len(), 3, "{want:?}");
        assert_eq!(want[1], StreamItem::Pong);
        assert!(matches!(want[2], StreamItem::Message(_)), "{want:?}");
        for cut in 1..wire.len() {
            let mut d = StreamDecoder::new();
            let mut got = Vec::new();
            for piece in wire.as_bytes().chunks(cut) {
                d.feed(piece);
                got.extend(drain(&mut d));
            }
            assert_eq!(got, want, "segments of {cut} bytes");
        }
    }

    #[test]
    fn missing_content_length_yields_the_head_then_closes_the_stream() {
        let mut d = StreamDecoder::new();
        d.feed(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\nmore");
        let Ok(Some(StreamItem::Invalid { error, .. })) = d.decode() else {
            panic!("expected an invalid frame");
        };
        assert_eq!(error, ParseError::Missing("Content-Length"));
        assert_eq!(d.decode(), Err(FramingError::Desynchronised));
    }

    #[test]
    fn a_bad_header_with_good_framing_costs_only_that_message() {
        let bad = "OPTIONS sip:a@b SIP/2.0\r\nBad Header\r\nContent-Length: 3\r\n\r\nabc";
        let mut d = StreamDecoder::new();
        d.feed(format!("{bad}{}", msg("ok")).as_bytes());
        let items = drain(&mut d);
        assert!(matches!(
            &items[0],
            StreamItem::Invalid {
                error: ParseError::HeaderLine,
                ..
            }
        ));
        assert!(matches!(items[1], StreamItem::Message(_)));
    }

    #[test]
    fn a_head_without_end_beyond_the_limit_is_refused() {
        let mut d = StreamDecoder::new();
        d.feed(b"OPTIONS sip:a@b SIP/2.0\r\n");
        let filler = vec![b'X'; 4096];
        let mut result = Ok(None);
        for _ in 0..20 {
            d.feed(&filler);
            result = d.decode();
            if result.is_err() {
                break;
            }
        }
        assert_eq!(
            result,
            Err(FramingError::HeadTooLarge {
                limit: MAX_MESSAGE_SIZE
            })
        );
    }

    #[test]
    fn a_huge_content_length_is_refused_without_buffering_the_body() {
        let mut d = StreamDecoder::new();
        d.feed(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n");
        assert!(matches!(
            d.decode(),
            Ok(Some(StreamItem::Invalid {
                error: ParseError::TooLarge { .. },
                ..
            }))
        ));
        assert_eq!(d.buffered(), 0);
    }
}

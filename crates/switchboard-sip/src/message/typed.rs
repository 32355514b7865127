//! Typed views of the headers the stack acts on: Via, CSeq, From/To/Contact/Route
//! (name-addr), Max-Forwards, Expires.

use std::fmt;

use super::uri::{Uri, split_host_port};
use super::{Headers, Method, ParseError, is_token_byte};

/// `;name[=value]` parameters; names compare case-insensitively, order is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, Option<String>)>);

impl Params {
    /// Parses `a=1;b;c="x"` (the text after the first `;`).
    pub fn parse(s: &str) -> Result<Params, ParseError> {
        let mut out = Vec::new();
        for part in s.split(';') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (name, value) = match part.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().to_owned())),
                None => (part, None),
            };
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(ParseError::Header("parameter"));
            }
            out.push((name.to_owned(), value));
        }
        Ok(Params(out))
    }

    /// `Some(value)` if the parameter is present (`Some(None)` for a flag).
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// True if the parameter is present, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets (or adds) a parameter.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Removes a parameter.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, v) in &self.0 {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

/// Transport named in a Via.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    /// Reliable transports turn off retransmission timers (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    fn parse(s: &str) -> Option<Transport> {
        Some(match s.to_ascii_uppercase().as_str() {
            "UDP" => Transport::Udp,
            "TCP" => Transport::Tcp,
            "TLS" => Transport::Tls,
            "WS" => Transport::Ws,
            "WSS" => Transport::Wss,
            _ => return None,
        })
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        })
    }
}

/// One Via element: `SIP/2.0/UDP host[:port];params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub transport: Transport,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

/// The magic cookie that marks an RFC 3261 branch.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

impl Via {
    /// Parses one Via element.
    pub fn parse(s: &str) -> Result<Via, ParseError> {
        const E: ParseError = ParseError::Header("Via");
        let mut parts = s.splitn(3, '/');
        let proto = parts.next().ok_or(E)?.trim();
        let version = parts.next().ok_or(E)?.trim();
        let rest = parts.next().ok_or(E)?.trim_start();
        if !proto.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(E);
        }
        let split = rest.find(|c: char| c.is_ascii_whitespace()).ok_or(E)?;
        let transport = Transport::parse(&rest[..split]).ok_or(E)?;
        let sent_by = rest[split..].trim_start();
        let (hostport, params) = sent_by.split_once(';').unwrap_or((sent_by, ""));
        let (host, port) = split_host_port(hostport.trim()).map_err(|_| E)?;
        Ok(Via {
            transport,
            host,
            port,
            params: Params::parse(params).map_err(|_| E)?,
        })
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }

    /// `host[:port]` as written in the Via (the sent-by).
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SIP/2.0/{} {}{}",
            self.transport,
            self.sent_by(),
            self.params
        )
    }
}

/// The CSeq header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    /// Parses `1234 INVITE`; the number must fit 31 bits (RFC 3261 §8.1.1.5).
    pub fn parse(s: &str) -> Result<CSeq, ParseError> {
        const E: ParseError = ParseError::Header("CSeq");
        let mut it = s.split_ascii_whitespace();
        let seq = it.next().ok_or(E)?;
        let method = it.next().ok_or(E)?;
        if it.next().is_some() || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E);
        }
        let seq: u32 = seq.parse().map_err(|_| E)?;
        if seq >= 1 << 31 {
            return Err(E);
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(method).ok_or(E)?,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// `"Display" <uri>;params` or `uri;params` (From, To, Contact, Route, Record-Route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name as on the wire inside the quotes (escapes kept).
    pub display: Option<String>,
    pub uri: Uri,
    /// Header parameters (tag, expires, q…), not URI parameters.
    pub params: Params,
}

impl NameAddr {
    /// A bare `<uri>`.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::default(),
        }
    }

    /// Parses one name-addr or addr-spec.
    pub fn parse(s: &str) -> Result<NameAddr, ParseError> {
        const E: ParseError = ParseError::Header("address");
        let s = s.trim();
        let (display, after_display) = if let Some(q) = s.strip_prefix('"') {
            let end = closing_quote(q).ok_or(E)?;
            (Some(q[..end].to_owned()), q[end + 1..].trim_start())
        } else if let Some(lt) = s.find('<') {
            let d = s[..lt].trim();
            ((!d.is_empty()).then(|| d.to_owned()), &s[lt..])
        } else {
            (None, s)
        };
        if let Some(inner) = after_display.strip_prefix('<') {
            let (uri, params) = inner.split_once('>').ok_or(E)?;
            let params = params.trim();
            let params = match params.strip_prefix(';') {
                Some(p) => p,
                None if params.is_empty() => "",
                None => return Err(E),
            };
            Ok(NameAddr {
                display,
                uri: Uri::parse(uri)?,
                params: Params::parse(params)?,
            })
        } else if display.is_some() {
            Err(E)
        } else {
            // addr-spec: the parameters belong to the header (RFC 3261 §20.10).
            let (uri, params) = s.split_once(';').unwrap_or((s, ""));
            Ok(NameAddr {
                display: None,
                uri: Uri::parse(uri)?,
                params: Params::parse(params)?,
            })
        }
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }
}

fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            // Kept in its escaped wire form, so it is written back as is.
            write!(f, "\"{d}\" ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// The Contact header of a REGISTER: `*` or a list of addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    /// `Contact: *` (remove all bindings).
    Star,
    List(Vec<NameAddr>),
}

impl Headers {
    /// Every Via element, top first.
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        self.list("Via").into_iter().map(Via::parse).collect()
    }

    /// The top Via.
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let first = self
            .list("Via")
            .into_iter()
            .next()
            .ok_or(ParseError::Missing("Via"))?;
        Via::parse(first)
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::parse(self.get("CSeq").ok_or(ParseError::Missing("CSeq"))?)
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&str, ParseError> {
        match self.get("Call-ID") {
            None => Err(ParseError::Missing("Call-ID")),
            Some("") => Err(ParseError::Header("Call-ID")),
            Some(v) if v.bytes().any(|b| b.is_ascii_whitespace()) => {
                Err(ParseError::Header("Call-ID"))
            }
            Some(v) => Ok(v),
        }
    }

    /// The From address.
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(self.get("From").ok_or(ParseError::Missing("From"))?)
            .map_err(|_| ParseError::Header("From"))
    }

    /// The To address.
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(self.get("To").ok_or(ParseError::Missing("To"))?)
            .map_err(|_| ParseError::Header("To"))
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        self.get("Max-Forwards")
            .map(|v| parse_u32(v, "Max-Forwards"))
            .transpose()
    }

    /// The Expires header, if present.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.get("Expires")
            .map(|v| parse_u32(v, "Expires"))
            .transpose()
    }

    /// The Contact header(s).
    pub fn contacts(&self) -> Result<Contacts, ParseError> {
        let items = self.list("Contact");
        if items.len() == 1 && items[0] == "*" {
            return Ok(Contacts::Star);
        }
        items
            .into_iter()
            .map(|c| NameAddr::parse(c).map_err(|_| ParseError::Header("Contact")))
            .collect::<Result<Vec<_>, _>>()
            .map(Contacts::List)
    }

    /// Route or Record-Route entries, in order.
    pub fn routes(&self, name: &str) -> Result<Vec<NameAddr>, ParseError> {
        self.list(name)
            .into_iter()
            .map(|r| NameAddr::parse(r).map_err(|_| ParseError::Header("Route")))
            .collect()
    }
}

fn parse_u32(v: &str, name: &'static str) -> Result<u32, ParseError> {
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Header(name));
    }
    // RFC 3261 §20.19: values above 2^32-1 are taken as 2^32-1.
    Ok(v.parse::<u64>()
        .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_rport_flag_and_branch_parses() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK776asdhds").unwrap();
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.sent_by(), "192.0.2.1:5060");
        assert_eq!(v.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(v.params.get("rport"), Some(None));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK776asdhds"
        );
    }

    #[test]
    fn malformed_vias_are_errors() {
        for bad in [
            "SIP/2.0/UDP",
            "SIP/3.0/UDP a",
            "SIP/2.0/FOO a",
            "SIP/2.0/UDP a:x",
            "",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cseq_rejects_garbage_and_numbers_beyond_31_bits() {
        assert_eq!(CSeq::parse("314159 INVITE").unwrap().seq, 314_159);
        for bad in [
            "",
            "INVITE",
            "1",
            "-1 INVITE",
            "2147483648 INVITE",
            "1 INVITE x",
        ] {
            assert!(CSeq::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn name_addr_keeps_header_params_apart_from_uri_params() {
        let a =
            NameAddr::parse("\"Bob \\\"B\\\"\" <sip:bob@b.com;transport=tcp>;tag=a6c85cf").unwrap();
        assert_eq!(a.display.as_deref(), Some("Bob \\\"B\\\""));
        assert_eq!(a.tag(), Some("a6c85cf"));
        assert_eq!(a.uri.params.get("transport"), Some(Some("tcp")));
        let b = NameAddr::parse("sip:bob@b.com;tag=1").unwrap();
        assert_eq!(b.tag(), Some("1"));
        assert!(b.uri.params.get("tag").is_none());
        let c = NameAddr::parse("Bob <sip:bob@b.com>").unwrap();
        assert_eq!(c.display.as_deref(), Some("Bob"));
        assert!(NameAddr::parse("<sip:bob@b.com").is_err());
        assert!(NameAddr::parse("\"unterminated <sip:a@b>").is_err());
    }
}

//! SDP (RFC 4566) in our own small types, and the RFC 3264 offer/answer for audio.
//!
//! The grammar is handled by the `sdp` crate (webrtc-rs); this module turns its loose string
//! fields into typed values (addresses, ports, payload formats, direction, rtcp-mux, DTLS and ICE
//! attributes) and back. Attributes we do not interpret are kept verbatim so that a description
//! survives a parse/serialise round trip.

mod negotiate;
mod parse;

pub use negotiate::{
    LocalMedia, NegotiatedAudio, NegotiationError, accept_answer, create_answer, create_offer,
};
pub use parse::SdpError;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Largest SDP body we accept; SIP bodies beyond this are hostile or broken.
pub const MAX_SDP_LEN: usize = 64 * 1024;

/// The static payload type of PCMU (RFC 3551).
pub const PT_PCMU: u8 = 0;
/// The static payload type of PCMA (RFC 3551).
pub const PT_PCMA: u8 = 8;
/// The dynamic payload type we offer for telephone-event when we choose one.
pub const PT_TELEPHONE_EVENT_DEFAULT: u8 = 101;

/// A whole session description: `v=`, `o=`, `s=`, `c=`, `t=`, session attributes and media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` line.
    pub origin: Origin,
    /// `s=` line (`-` when there is nothing to say).
    pub session_name: String,
    /// Session-level `c=` address, used by media sections that have none of their own.
    pub connection: Option<IpAddr>,
    /// Session-level attributes (direction, fingerprint, setup, ICE, others verbatim).
    pub attributes: Attributes,
    /// The `m=` sections, in order (the answer must keep the offer's order and count).
    pub media: Vec<MediaDescription>,
}

/// The `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name, `-` when none.
    pub username: String,
    /// Session id; stays the same for the whole session.
    pub session_id: u64,
    /// Incremented on every new offer or answer that changes something.
    pub session_version: u64,
    /// The originator's address as written (IP or host name).
    pub address: String,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `application`, ...
    pub kind: String,
    /// Transport port; 0 rejects or disables the stream.
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, ...
    pub protocol: String,
    /// RTP payload formats in `m=` order, with their `rtpmap`/`fmtp`.
    pub formats: Vec<PayloadFormat>,
    /// Formats that are not RTP payload type numbers (e.g. `webrtc-datachannel`), kept verbatim.
    pub other_formats: Vec<String>,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Media-level attributes (direction, rtcp-mux, ptime, DTLS, ICE, others verbatim).
    pub attributes: Attributes,
}

/// One RTP payload format of a media section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFormat {
    /// Payload type number, 0-127.
    pub pt: u8,
    /// From `a=rtpmap`; `None` for a static type listed without one.
    pub rtpmap: Option<RtpMap>,
    /// The `a=fmtp` parameters, e.g. `0-16` for telephone-event.
    pub fmtp: Option<String>,
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Encoding name as written (`PCMU`, `telephone-event`, ...).
    pub encoding: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count for audio, when given.
    pub channels: Option<u16>,
}

/// The codecs this media core understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 μ-law, 8 kHz.
    Pcmu,
    /// G.711 A-law, 8 kHz.
    Pcma,
    /// RFC 4733 telephone-event, 8 kHz.
    TelephoneEvent,
}

impl Codec {
    /// The G.711 law of an audio codec; `None` for telephone-event.
    pub fn law(self) -> Option<crate::g711::Law> {
        match self {
            Codec::Pcmu => Some(crate::g711::Law::Ulaw),
            Codec::Pcma => Some(crate::g711::Law::Alaw),
            Codec::TelephoneEvent => None,
        }
    }

    /// The `a=rtpmap` encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::TelephoneEvent => "telephone-event",
        }
    }
}

impl PayloadFormat {
    /// Which of our codecs this format is, if any. Static types 0 and 8 count without an
    /// rtpmap (RFC 3551); everything else is identified by name and an 8000 Hz clock.
    pub fn codec(&self) -> Option<Codec> {
        match &self.rtpmap {
            None => match self.pt {
                PT_PCMU => Some(Codec::Pcmu),
                PT_PCMA => Some(Codec::Pcma),
                _ => None,
            },
            Some(map) => {
                if map.clock_rate != 8000 || map.channels.is_some_and(|c| c != 1) {
                    return None;
                }
                [Codec::Pcmu, Codec::Pcma, Codec::TelephoneEvent]
                    .into_iter()
                    .find(|c| map.encoding.eq_ignore_ascii_case(c.encoding_name()))
            }
        }
    }

    /// The format we write for `codec` under payload type `pt`.
    pub fn for_codec(codec: Codec, pt: u8) -> PayloadFormat {
        PayloadFormat {
            pt,
            rtpmap: Some(RtpMap {
                encoding: codec.encoding_name().to_owned(),
                clock_rate: 8000,
                channels: None,
            }),
            // RFC 4733: the 16 DTMF events (digits, *, #, A-D).
            fmtp: (codec == Codec::TelephoneEvent).then(|| "0-16".to_owned()),
        }
    }
}

/// Media direction (RFC 3264 §5.1), from the point of view of whoever wrote the description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Sends and receives (the default when no attribute is given).
    #[default]
    SendRecv,
    /// Sends only: the writer does not want to receive (it put the other party on hold).
    SendOnly,
    /// Receives only: the writer will not send.
    RecvOnly,
    /// Neither sends nor receives.
    Inactive,
}

impl Direction {
    /// The attribute name, e.g. `sendonly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_attr(key: &str) -> Option<Direction> {
        match key {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// Whether the writer sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the writer receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The same stream seen from the other end: `sendonly` ↔ `recvonly`.
    pub fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// What both allow: sends only if both send, receives only if both receive.
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// DTLS role (`a=setup`, RFC 4145 / RFC 5763).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// Will initiate the DTLS connection.
    Active,
    /// Will accept the DTLS connection.
    Passive,
    /// Either; the answerer picks.
    ActPass,
    /// No connection for now.
    HoldConn,
}

impl Setup {
    fn parse(v: &str) -> Option<Setup> {
        match v {
            "active" => Some(Setup::Active),
            "passive" => Some(Setup::Passive),
            "actpass" => Some(Setup::ActPass),
            "holdconn" => Some(Setup::HoldConn),
            _ => None,
        }
    }
}

/// `a=fingerprint:<hash> <value>` (RFC 8122).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function, e.g. `sha-256`.
    pub algorithm: String,
    /// Colon-separated upper-case hex.
    pub value: String,
}

/// One SDP attribute, `a=key` or `a=key:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Name before the colon.
    pub key: String,
    /// Everything after the first colon.
    pub value: Option<String>,
}

/// The attribute list of a session or media section, in order, with typed readers.
///
/// `rtpmap` and `fmtp` are not kept here: they live in [`PayloadFormat`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributes(pub(crate) Vec<Attribute>);

impl Attributes {
    /// All attributes in order.
    pub fn iter(&self) -> impl Iterator<Item = &Attribute> {
        self.0.iter()
    }

    /// Appends an attribute.
    pub fn push(&mut self, key: &str, value: Option<&str>) {
        self.0.push(Attribute {
            key: key.to_owned(),
            value: value.map(str::to_owned),
        });
    }

    /// Removes every attribute called `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|a| a.key != key);
    }

    /// Whether a property attribute (or any attribute) called `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|a| a.key == key)
    }

    /// The value of the first attribute called `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.as_deref())
    }

    /// Values of every attribute called `key`.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |a| a.key == key)
            .filter_map(|a| a.value.as_deref())
    }

    /// The direction attribute, if one is present (the last one wins).
    pub fn direction(&self) -> Option<Direction> {
        self.0
            .iter()
            .filter_map(|a| Direction::from_attr(&a.key))
            .next_back()
    }

    /// Replaces any direction attribute with `dir`.
    pub fn set_direction(&mut self, dir: Direction) {
        self.0.retain(|a| Direction::from_attr(&a.key).is_none());
        self.push(dir.as_str(), None);
    }

    /// `a=fingerprint`.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        let v = self.get("fingerprint")?;
        let (algorithm, value) = v.split_once(' ')?;
        Some(Fingerprint {
            algorithm: algorithm.trim().to_owned(),
            value: value.trim().to_owned(),
        })
    }

    /// `a=setup`.
    pub fn setup(&self) -> Option<Setup> {
        self.get("setup").and_then(Setup::parse)
    }

    /// `a=ice-ufrag`.
    pub fn ice_ufrag(&self) -> Option<&str> {
        self.get("ice-ufrag")
    }

    /// `a=ice-pwd`.
    pub fn ice_pwd(&self) -> Option<&str> {
        self.get("ice-pwd")
    }

    /// `a=candidate` lines, verbatim.
    pub fn candidates(&self) -> impl Iterator<Item = &str> {
        self.get_all("candidate")
    }
}

impl MediaDescription {
    /// Whether this is an audio section.
    pub fn is_audio(&self) -> bool {
        self.kind.eq_ignore_ascii_case("audio")
    }

    /// The format with payload type `pt`.
    pub fn format(&self, pt: u8) -> Option<&PayloadFormat> {
        self.formats.iter().find(|f| f.pt == pt)
    }

    /// Whether `a=rtcp-mux` is present (RTCP shares the RTP port).
    pub fn rtcp_mux(&self) -> bool {
        self.attributes.has("rtcp-mux")
    }

    /// The RTCP port from `a=rtcp`, if given (RFC 3605); otherwise RTP port + 1 applies.
    pub fn rtcp_port(&self) -> Option<u16> {
        self.attributes
            .get("rtcp")
            .and_then(|v| v.split_whitespace().next())
            .and_then(|p| p.parse().ok())
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attributes
            .get("ptime")
            .and_then(|v| v.trim().parse().ok())
    }

    /// `a=mid`.
    pub fn mid(&self) -> Option<&str> {
        self.attributes.get("mid")
    }
}

impl SessionDescription {
    /// Parses an SDP body. Garbage, oversized or non-UTF-8 input is an error, never a panic.
    pub fn parse(input: &[u8]) -> Result<SessionDescription, SdpError> {
        parse::parse(input)
    }

    /// The direction of media section `index`: its own attribute, else the session's, else
    /// `sendrecv`. A `c=0.0.0.0` address (RFC 2543 hold) means the writer will not receive.
    pub fn media_direction(&self, index: usize) -> Option<Direction> {
        let m = self.media.get(index)?;
        let dir = m
            .attributes
            .direction()
            .or(self.attributes.direction())
            .unwrap_or_default();
        let held_by_address = self.media_ip(index).is_some_and(|ip| ip.is_unspecified());
        Some(if held_by_address {
            dir.intersect(Direction::SendOnly)
        } else {
            dir
        })
    }

    /// The connection address of media section `index` (its own `c=`, else the session's).
    pub fn media_ip(&self, index: usize) -> Option<IpAddr> {
        let m = self.media.get(index)?;
        m.connection.or(self.connection)
    }

    /// Where to send RTP for media section `index`; `None` when the port is 0 or no usable
    /// address is given.
    pub fn media_rtp_addr(&self, index: usize) -> Option<SocketAddr> {
        let m = self.media.get(index)?;
        let ip = self.media_ip(index)?;
        (m.port != 0 && !ip.is_unspecified()).then_some(SocketAddr::new(ip, m.port))
    }

    /// DTLS fingerprint of media section `index`, falling back to the session level.
    pub fn media_fingerprint(&self, index: usize) -> Option<Fingerprint> {
        let m = self.media.get(index)?;
        m.attributes
            .fingerprint()
            .or_else(|| self.attributes.fingerprint())
    }

    /// DTLS setup role of media section `index`, falling back to the session level.
    pub fn media_setup(&self, index: usize) -> Option<Setup> {
        let m = self.media.get(index)?;
        m.attributes.setup().or_else(|| self.attributes.setup())
    }

    /// ICE credentials `(ufrag, pwd)` of media section `index`, falling back to the session.
    pub fn media_ice_credentials(&self, index: usize) -> Option<(&str, &str)> {
        let m = self.media.get(index)?;
        let ufrag = m.attributes.ice_ufrag().or(self.attributes.ice_ufrag())?;
        let pwd = m.attributes.ice_pwd().or(self.attributes.ice_pwd())?;
        Some((ufrag, pwd))
    }
}

impl fmt::Display for SessionDescription {
    /// The SDP text, CRLF line endings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&parse::serialise(self))
    }
}

#[cfg(test)]
mod tests;

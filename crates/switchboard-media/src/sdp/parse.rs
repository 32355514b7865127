//! Conversion between the `sdp` crate's loose description and our typed one.

use std::io::Cursor;
use std::net::IpAddr;

use sdp::description::common::{Address, Attribute as RawAttribute, ConnectionInformation};
use sdp::description::media::{MediaDescription as RawMedia, MediaName, RangedPort};
use sdp::description::session::{
    Origin as RawOrigin, SessionDescription as RawSession, TimeDescription, Timing,
};

use super::{
    Attributes, MAX_SDP_LEN, MediaDescription, Origin, PayloadFormat, RtpMap, SessionDescription,
};

/// Why an SDP body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Larger than [`MAX_SDP_LEN`].
    #[error("SDP body of {0} bytes is larger than the {MAX_SDP_LEN}-byte limit")]
    TooLarge(usize),
    /// Not UTF-8 text.
    #[error("SDP body is not UTF-8 text")]
    NotText,
    /// The grammar did not match (RFC 4566 line order and syntax).
    #[error("SDP syntax: {0}")]
    Syntax(String),
    /// A line parsed but a value in it is unusable.
    #[error("SDP {line}: bad value {value:?}")]
    BadValue {
        /// Which line or attribute, e.g. `m=` or `a=rtpmap`.
        line: &'static str,
        /// The offending text.
        value: String,
    },
}

fn bad(line: &'static str, value: impl Into<String>) -> SdpError {
    SdpError::BadValue {
        line,
        value: value.into(),
    }
}

pub(super) fn parse(input: &[u8]) -> Result<SessionDescription, SdpError> {
    if input.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge(input.len()));
    }
    let text = std::str::from_utf8(input).map_err(|_| SdpError::NotText)?;
    if text.trim().is_empty() {
        return Err(SdpError::Syntax("empty body".into()));
    }
    let raw = RawSession::unmarshal(&mut Cursor::new(text.as_bytes()))
        .map_err(|e| SdpError::Syntax(e.to_string()))?;
    from_raw(raw)
}

fn connection_ip(
    c: Option<&ConnectionInformation>,
    line: &'static str,
) -> Result<Option<IpAddr>, SdpError> {
    let Some(c) = c else { return Ok(None) };
    let Some(addr) = &c.address else {
        return Ok(None);
    };
    // Multicast addresses may carry /ttl/range; the crate splits those off already.
    addr.address
        .parse::<IpAddr>()
        .map(Some)
        .map_err(|_| bad(line, addr.address.clone()))
}

/// Attributes of a section with `rtpmap` and `fmtp` taken out, keyed by payload type.
struct SplitAttributes {
    rest: Attributes,
    rtpmaps: Vec<(u8, RtpMap)>,
    fmtps: Vec<(u8, String)>,
}

fn split_attributes(raw: Vec<RawAttribute>) -> SplitAttributes {
    let mut attrs = Attributes::default();
    let mut rtpmaps = Vec::new();
    let mut fmtps = Vec::new();
    for a in raw {
        match (a.key.as_str(), a.value.as_deref()) {
            ("rtpmap", Some(v)) => match parse_rtpmap(v) {
                Some(pair) => rtpmaps.push(pair),
                // An rtpmap we cannot read leaves its format unknown, which negotiation skips.
                None => attrs.push(&a.key, Some(v)),
            },
            ("fmtp", Some(v)) => {
                let parsed = v
                    .split_once(' ')
                    .and_then(|(pt, params)| Some((pt.parse::<u8>().ok()?, params)))
                    .filter(|(pt, _)| *pt < 128);
                match parsed {
                    Some((pt, params)) => fmtps.push((pt, params.trim().to_owned())),
                    None => attrs.push(&a.key, Some(v)),
                }
            }
            _ => attrs.push(&a.key, a.value.as_deref()),
        }
    }
    SplitAttributes {
        rest: attrs,
        rtpmaps,
        fmtps,
    }
}

fn parse_rtpmap(v: &str) -> Option<(u8, RtpMap)> {
    let (pt, rest) = v.trim().split_once(' ')?;
    let pt: u8 = pt.parse().ok().filter(|p| *p < 128)?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?.trim();
    if encoding.is_empty() {
        return None;
    }
    let clock_rate: u32 = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.trim().parse::<u16>().ok()?),
        None => None,
    };
    Some((
        pt,
        RtpMap {
            encoding: encoding.to_owned(),
            clock_rate,
            channels,
        },
    ))
}

fn raw_session_attributes(raw: Vec<RawAttribute>) -> Vec<super::Attribute> {
    raw.into_iter()
        .map(|a| super::Attribute {
            key: a.key,
            value: a.value,
        })
        .collect()
}

fn from_raw(raw: RawSession) -> Result<SessionDescription, SdpError> {
    let connection = connection_ip(raw.connection_information.as_ref(), "c=")?;
    // rtpmap/fmtp mean nothing at session level; keep them verbatim there.
    let attributes = Attributes(raw_session_attributes(raw.attributes));
    let mut media = Vec::with_capacity(raw.media_descriptions.len());
    for m in raw.media_descriptions {
        media.push(media_from_raw(m)?);
    }
    Ok(SessionDescription {
        origin: Origin {
            username: raw.origin.username,
            session_id: raw.origin.session_id,
            session_version: raw.origin.session_version,
            address: raw.origin.unicast_address,
        },
        session_name: raw.session_name,
        connection,
        attributes,
        media,
    })
}

fn media_from_raw(m: RawMedia) -> Result<MediaDescription, SdpError> {
    let port = u16::try_from(m.media_name.port.value)
        .map_err(|_| bad("m=", m.media_name.port.value.to_string()))?;
    let connection = connection_ip(m.connection_information.as_ref(), "c=")?;
    let SplitAttributes {
        rest: attributes,
        rtpmaps,
        fmtps,
    } = split_attributes(m.attributes);
    let mut formats = Vec::new();
    let mut other_formats = Vec::new();
    for f in m.media_name.formats {
        match f.parse::<u8>() {
            Ok(pt) if pt < 128 => formats.push(PayloadFormat {
                pt,
                rtpmap: rtpmaps
                    .iter()
                    .find(|(p, _)| *p == pt)
                    .map(|(_, r)| r.clone()),
                fmtp: fmtps.iter().find(|(p, _)| *p == pt).map(|(_, v)| v.clone()),
            }),
            _ => other_formats.push(f),
        }
    }
    Ok(MediaDescription {
        kind: m.media_name.media,
        port,
        protocol: m.media_name.protos.join("/"),
        formats,
        other_formats,
        connection,
        attributes,
    })
}

fn raw_connection(ip: IpAddr) -> ConnectionInformation {
    ConnectionInformation {
        network_type: "IN".into(),
        address_type: if ip.is_ipv4() { "IP4" } else { "IP6" }.into(),
        address: Some(Address {
            address: ip.to_string(),
            ttl: None,
            range: None,
        }),
    }
}

fn raw_attributes(attrs: &Attributes) -> Vec<RawAttribute> {
    attrs
        .iter()
        .map(|a| RawAttribute {
            key: a.key.clone(),
            value: a.value.clone(),
        })
        .collect()
}

fn raw_media(m: &MediaDescription) -> RawMedia {
    let mut attributes = Vec::new();
    for f in &m.formats {
        if let Some(map) = &f.rtpmap {
            let mut v = format!("{} {}/{}", f.pt, map.encoding, map.clock_rate);
            if let Some(ch) = map.channels {
                v.push_str(&format!("/{ch}"));
            }
            attributes.push(RawAttribute::new("rtpmap".into(), Some(v)));
        }
        if let Some(fmtp) = &f.fmtp {
            attributes.push(RawAttribute::new(
                "fmtp".into(),
                Some(format!("{} {fmtp}", f.pt)),
            ));
        }
    }
    attributes.extend(raw_attributes(&m.attributes));
    RawMedia {
        media_name: MediaName {
            media: m.kind.clone(),
            port: RangedPort {
                value: m.port as isize, // lossless: u16 always fits isize on our targets
                range: None,
            },
            protos: m.protocol.split('/').map(str::to_owned).collect(),
            formats: m
                .formats
                .iter()
                .map(|f| f.pt.to_string())
                .chain(m.other_formats.iter().cloned())
                .collect(),
        },
        media_title: None,
        connection_information: m.connection.map(raw_connection),
        bandwidth: Vec::new(),
        encryption_key: None,
        attributes,
    }
}

pub(super) fn serialise(sd: &SessionDescription) -> String {
    let origin_ip_type = match sd.origin.address.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => "IP6",
        _ => "IP4",
    };
    let raw = RawSession {
        version: 0,
        origin: RawOrigin {
            username: sd.origin.username.clone(),
            session_id: sd.origin.session_id,
            session_version: sd.origin.session_version,
            network_type: "IN".into(),
            address_type: origin_ip_type.into(),
            unicast_address: sd.origin.address.clone(),
        },
        session_name: if sd.session_name.is_empty() {
            "-".into()
        } else {
            sd.session_name.clone()
        },
        session_information: None,
        uri: None,
        email_address: None,
        phone_number: None,
        connection_information: sd.connection.map(raw_connection),
        bandwidth: Vec::new(),
        time_descriptions: vec![TimeDescription {
            timing: Timing {
                start_time: 0,
                stop_time: 0,
            },
            repeat_times: Vec::new(),
        }],
        time_zones: Vec::new(),
        encryption_key: None,
        attributes: raw_attributes(&sd.attributes),
        media_descriptions: sd.media.iter().map(raw_media).collect(),
    };
    raw.marshal()
}

//! RFC 3264 offer/answer for one audio stream with PCMU, PCMA and telephone-event.

use std::net::{IpAddr, SocketAddr};

use super::{
    Attributes, Codec, Direction, MediaDescription, Origin, PT_PCMA, PT_PCMU,
    PT_TELEPHONE_EVENT_DEFAULT, PayloadFormat, SessionDescription,
};

/// Why an offer or answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The offer has no audio stream we could take (none at all, or all disabled).
    #[error("the offer has no usable RTP/AVP audio stream")]
    NoAudio,
    /// Audio was offered but with no codec in common.
    #[error("no audio codec in common (offered payload types {offered:?})")]
    NoCommonCodec {
        /// Payload types the other side offered.
        offered: Vec<u8>,
    },
    /// The answer does not match the offer's media sections (RFC 3264 §6).
    #[error("the answer has {answer} media sections, the offer had {offer}")]
    AnswerMismatch {
        /// Sections in our offer.
        offer: usize,
        /// Sections in the answer.
        answer: usize,
    },
}

impl NegotiationError {
    /// The SIP response code for an offer we reject: 488 Not Acceptable Here.
    pub fn sip_status(&self) -> u16 {
        488
    }
}

/// What we can do and where we listen, for building offers and answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Our RTP address as written in `c=`.
    pub address: IpAddr,
    /// Our RTP port (from the port allocator).
    pub port: u16,
    /// Audio codecs in our order of preference.
    pub codecs: Vec<Codec>,
    /// Whether we take RFC 4733 telephone-event.
    pub telephone_event: bool,
    /// What we want: `sendrecv` normally, `sendonly` to put the peer on hold, `inactive`.
    pub direction: Direction,
    /// Whether we offer/accept `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// Packetisation time we ask for, in ms.
    pub ptime: Option<u32>,
    /// `o=` session id, fixed for the session.
    pub session_id: u64,
    /// `o=` session version; bump it for every changed offer (re-INVITE).
    pub session_version: u64,
}

impl LocalMedia {
    /// PCMU then PCMA, telephone-event, `sendrecv`, 20 ms, no rtcp-mux.
    pub fn new(address: IpAddr, port: u16, session_id: u64) -> LocalMedia {
        LocalMedia {
            address,
            port,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event: true,
            direction: Direction::SendRecv,
            rtcp_mux: false,
            ptime: Some(20),
            session_id,
            session_version: 1,
        }
    }

    fn session(&self, media: Vec<MediaDescription>) -> SessionDescription {
        SessionDescription {
            origin: Origin {
                username: "switchboard".into(),
                session_id: self.session_id,
                session_version: self.session_version,
                address: self.address.to_string(),
            },
            session_name: "switchboard".into(),
            connection: Some(self.address),
            attributes: Attributes::default(),
            media,
        }
    }

    fn audio_section(
        &self,
        formats: Vec<PayloadFormat>,
        direction: Direction,
        mux: bool,
    ) -> MediaDescription {
        let mut attributes = Attributes::default();
        if let Some(p) = self.ptime {
            attributes.push("ptime", Some(&p.to_string()));
        }
        if mux {
            attributes.push("rtcp-mux", None);
        }
        attributes.set_direction(direction);
        MediaDescription {
            kind: "audio".into(),
            port: self.port,
            protocol: "RTP/AVP".into(),
            formats,
            other_formats: Vec::new(),
            connection: None,
            attributes,
        }
    }
}

/// The outcome of offer/answer for the audio stream: everything a bridge leg needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedAudio {
    /// Index of the audio section in the description.
    pub media_index: usize,
    /// Where the peer wants RTP; `None` when it gave no usable address (hold with 0.0.0.0).
    pub remote_rtp: Option<SocketAddr>,
    /// Where the peer wants RTCP: the RTP address with rtcp-mux, else `a=rtcp` or port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    /// The chosen audio codec and its payload type on this leg.
    pub codec: Codec,
    /// Payload type of `codec`.
    pub payload_type: u8,
    /// Payload type of telephone-event on this leg, when both sides take it.
    pub telephone_event_pt: Option<u8>,
    /// The direction the peer wrote (its own point of view).
    pub remote_direction: Direction,
    /// Our resulting direction (our point of view).
    pub local_direction: Direction,
    /// Whether RTCP shares the RTP port.
    pub rtcp_mux: bool,
    /// The peer's `a=ptime`, if any.
    pub ptime: Option<u32>,
}

impl NegotiatedAudio {
    /// Payload type → codec for this leg, as the bridge takes it.
    pub fn payloads(&self) -> Vec<(u8, Codec)> {
        let mut v = vec![(self.payload_type, self.codec)];
        if let Some(pt) = self.telephone_event_pt {
            v.push((pt, Codec::TelephoneEvent));
        }
        v
    }

    fn from_remote(
        remote: &SessionDescription,
        index: usize,
        codec: (u8, Codec),
        telephone_event_pt: Option<u8>,
        local_direction: Direction,
        rtcp_mux: bool,
    ) -> NegotiatedAudio {
        let remote_rtp = remote.media_rtp_addr(index);
        let remote_rtcp = remote_rtp.map(|rtp| {
            if rtcp_mux {
                rtp
            } else {
                let port = remote
                    .media
                    .get(index)
                    .and_then(MediaDescription::rtcp_port);
                SocketAddr::new(rtp.ip(), port.unwrap_or(rtp.port().saturating_add(1)))
            }
        });
        NegotiatedAudio {
            media_index: index,
            remote_rtp,
            remote_rtcp,
            codec: codec.1,
            payload_type: codec.0,
            telephone_event_pt,
            remote_direction: remote.media_direction(index).unwrap_or_default(),
            local_direction,
            rtcp_mux,
            ptime: remote.media.get(index).and_then(MediaDescription::ptime),
        }
    }
}

/// Our offer: one `RTP/AVP` audio section with our codecs (static types 0 and 8) and
/// telephone-event on payload type 101.
pub fn create_offer(local: &LocalMedia) -> SessionDescription {
    let mut formats: Vec<PayloadFormat> = local
        .codecs
        .iter()
        .filter_map(|&c| match c {
            Codec::Pcmu => Some(PayloadFormat::for_codec(c, PT_PCMU)),
            Codec::Pcma => Some(PayloadFormat::for_codec(c, PT_PCMA)),
            Codec::TelephoneEvent => None,
        })
        .collect();
    if local.telephone_event {
        formats.push(PayloadFormat::for_codec(
            Codec::TelephoneEvent,
            PT_TELEPHONE_EVENT_DEFAULT,
        ));
    }
    let audio = local.audio_section(formats, local.direction, local.rtcp_mux);
    local.session(vec![audio])
}

fn is_plain_rtp(m: &MediaDescription) -> bool {
    // We relay plain RTP only; SRTP profiles belong to the WebRTC legs.
    m.protocol.eq_ignore_ascii_case("RTP/AVP") || m.protocol.eq_ignore_ascii_case("RTP/AVPF")
}

/// Picks the first offered format (offer order is the offerer's preference) that we support.
fn pick(m: &MediaDescription, local: &LocalMedia) -> Option<(u8, Codec)> {
    m.formats.iter().find_map(|f| {
        let c = f.codec()?;
        (c != Codec::TelephoneEvent && local.codecs.contains(&c)).then_some((f.pt, c))
    })
}

fn pick_telephone_event(m: &MediaDescription, local: &LocalMedia) -> Option<u8> {
    if !local.telephone_event {
        return None;
    }
    m.formats
        .iter()
        .find(|f| f.codec() == Some(Codec::TelephoneEvent))
        .map(|f| f.pt)
}

/// Answers `offer`: accepts the first usable audio section with one common codec (plus
/// telephone-event when offered) and rejects every other section with port 0.
///
/// Fails with [`NegotiationError`] (SIP 488) when no audio section has a codec in common.
pub fn create_answer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<(SessionDescription, NegotiatedAudio), NegotiationError> {
    let mut sections = Vec::with_capacity(offer.media.len());
    let mut negotiated = None;
    let mut offered_audio = Vec::new();
    for (i, m) in offer.media.iter().enumerate() {
        let usable = negotiated.is_none() && m.is_audio() && m.port != 0 && is_plain_rtp(m);
        if usable {
            offered_audio.extend(m.formats.iter().map(|f| f.pt));
        }
        let chosen = usable.then(|| pick(m, local)).flatten();
        let Some(codec) = chosen else {
            sections.push(rejected(m));
            continue;
        };
        let te = pick_telephone_event(m, local);
        let remote_dir = offer.media_direction(i).unwrap_or_default();
        let our_dir = local.direction.intersect(remote_dir.reversed());
        let mux = local.rtcp_mux && m.rtcp_mux();
        let mut formats = vec![PayloadFormat::for_codec(codec.1, codec.0)];
        if let Some(pt) = te {
            // Echo the offerer's fmtp for telephone-event so both sides agree on the events.
            let fmtp = m.format(pt).and_then(|f| f.fmtp.clone());
            let mut f = PayloadFormat::for_codec(Codec::TelephoneEvent, pt);
            if fmtp.is_some() {
                f.fmtp = fmtp;
            }
            formats.push(f);
        }
        sections.push(local.audio_section(formats, our_dir, mux));
        negotiated = Some(NegotiatedAudio::from_remote(
            offer, i, codec, te, our_dir, mux,
        ));
    }
    match negotiated {
        Some(n) => Ok((local.session(sections), n)),
        None if offered_audio.is_empty() => Err(NegotiationError::NoAudio),
        None => Err(NegotiationError::NoCommonCodec {
            offered: offered_audio,
        }),
    }
}

/// A section we decline: same kind, protocol and formats, port 0 (RFC 3264 §6).
fn rejected(m: &MediaDescription) -> MediaDescription {
    MediaDescription {
        kind: m.kind.clone(),
        port: 0,
        protocol: m.protocol.clone(),
        formats: m
            .formats
            .iter()
            .map(|f| PayloadFormat {
                pt: f.pt,
                rtpmap: None,
                fmtp: None,
            })
            .collect(),
        other_formats: m.other_formats.clone(),
        connection: None,
        attributes: Attributes::default(),
    }
}

/// Reads the peer's answer to our `offer`: the first accepted audio section and the codec the
/// peer chose from those we offered.
pub fn accept_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<NegotiatedAudio, NegotiationError> {
    if offer.media.len() != answer.media.len() {
        return Err(NegotiationError::AnswerMismatch {
            offer: offer.media.len(),
            answer: answer.media.len(),
        });
    }
    let mut answered = Vec::new();
    for (i, (o, a)) in offer.media.iter().zip(&answer.media).enumerate() {
        if !a.is_audio() || a.port == 0 {
            continue;
        }
        answered.extend(a.formats.iter().map(|f| f.pt));
        // The answer uses the offer's payload type numbers; fall back to the answer's own
        // rtpmap when the peer wrote one we did not offer.
        let codec_of =
            |f: &PayloadFormat| o.format(f.pt).and_then(PayloadFormat::codec).or(f.codec());
        let audio = a.formats.iter().find_map(|f| {
            let c = codec_of(f)?;
            (c != Codec::TelephoneEvent).then_some((f.pt, c))
        });
        let Some(codec) = audio else { continue };
        let te = a
            .formats
            .iter()
            .find(|f| codec_of(f) == Some(Codec::TelephoneEvent))
            .map(|f| f.pt);
        let ours = offer.media_direction(i).unwrap_or_default();
        let theirs = answer.media_direction(i).unwrap_or_default();
        let local_direction = ours.intersect(theirs.reversed());
        let mux = o.rtcp_mux() && a.rtcp_mux();
        return Ok(NegotiatedAudio::from_remote(
            answer,
            i,
            codec,
            te,
            local_direction,
            mux,
        ));
    }
    if answered.is_empty() {
        Err(NegotiationError::NoAudio)
    } else {
        Err(NegotiationError::NoCommonCodec { offered: answered })
    }
}

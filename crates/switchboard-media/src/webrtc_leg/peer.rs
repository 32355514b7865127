//! One WebRTC leg: the webrtc-rs peer connection, its audio track each way, and the two pumps
//! that move RTP between the decrypted track and the relay leg's socket.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::shared::marshal::{Marshal, Unmarshal};
use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCBundlePolicy, RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState,
    RTCRtcpMuxPolicy, RTCSessionDescription, SettingEngineBuilder,
};

use super::check::{self, AudioPlan};
use super::{LegTarget, WebRtcConfig, WebRtcError};
use crate::bridge::{LegConfig, LegId, MediaEvent};
use crate::ports::PortAllocator;
use crate::relay::RelayEvent;
use crate::sdp::{Codec, Direction};

/// Port pairs tried before giving up (a pair may be bound by another process).
const BIND_TRIES: usize = 8;
/// Largest datagram the adapter takes from the relay.
const BUF_SIZE: usize = 2048;

fn stack(e: impl fmt::Display) -> WebRtcError {
    WebRtcError::Stack(e.to_string())
}

/// A port pair of the RTP range held by a leg; given back on drop. Only the RTP port carries
/// traffic (rtcp-mux); the RTCP port is held so the relay's pairs stay aligned.
struct PortLease {
    ports: Arc<Mutex<PortAllocator>>,
    rtp: u16,
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut ports = self.ports.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = ports.release(self.rtp) {
            tracing::error!(port = self.rtp, %e, "WebRTC port released twice");
        }
    }
}

/// What the peer connection's callbacks and the pumps share.
struct Shared {
    call: String,
    leg: LegId,
    events: mpsc::Sender<RelayEvent>,
    /// Our end of the loopback hop to the relay.
    adapter: UdpSocket,
    relay_rtp: SocketAddr,
    gathered: Notify,
    /// Set once the end was reported, or when we close the leg ourselves (then nothing is).
    ended: AtomicBool,
}

impl Shared {
    fn report_end(&self, cause: &'static str) {
        if self.ended.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::info!(call = self.call, leg = ?self.leg, cause, "WebRTC leg ended");
        let event = RelayEvent {
            call: self.call.clone(),
            event: MediaEvent::LegEnded {
                leg: self.leg,
                cause,
            },
        };
        if let Err(e) = self.events.try_send(event) {
            // The relay's media timeout still ends the call.
            tracing::warn!(call = self.call, %e, "WebRTC leg end event dropped");
        }
    }
}

struct Handler(Arc<Shared>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.0.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(call = self.0.call, leg = ?self.0.leg, %state, "WebRTC connection");
        match state {
            RTCPeerConnectionState::Failed => self.0.report_end("webrtc-failed"),
            RTCPeerConnectionState::Closed => self.0.report_end("webrtc-closed"),
            _ => {}
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        tokio::spawn(inbound(self.0.clone(), track));
    }
}

/// Browser → relay: each decrypted RTP packet, unchanged, to the relay leg's socket.
async fn inbound(shared: Arc<Shared>, track: Arc<dyn TrackRemote>) {
    while let Some(event) = track.poll().await {
        if let TrackRemoteEvent::OnRtpPacket(packet) = event {
            match packet.marshal() {
                Ok(bytes) => {
                    if let Err(e) = shared.adapter.send_to(&bytes, shared.relay_rtp).await {
                        tracing::debug!(call = shared.call, %e, "WebRTC → relay send failed");
                    }
                }
                Err(e) => tracing::debug!(call = shared.call, %e, "RTP re-marshal failed"),
            }
        }
    }
    // The browser's track ended: its side closed (or ours did, then nothing is reported).
    shared.report_end("webrtc-closed");
}

/// RFC 5761 §4: with rtcp-mux, second bytes 192-223 are RTCP (the relay may send its RTCP to
/// the adapter; webrtc-rs makes its own reports towards the browser).
fn is_rtcp(packet: &[u8]) -> bool {
    packet.get(1).is_some_and(|b| (192..=223).contains(b))
}

/// Relay → browser: RTP from the relay leg, under our track's SSRC, encrypted by the stack.
async fn outbound(shared: Arc<Shared>, track: Arc<TrackLocalStaticRTP>, ssrc: u32) {
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let (len, from) = match shared.adapter.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Err(e) => {
                tracing::warn!(call = shared.call, %e, "WebRTC adapter receive failed");
                return;
            }
        };
        // Only the relay leg talks to the adapter.
        if from.port() != shared.relay_rtp.port() || is_rtcp(&buf[..len]) {
            continue;
        }
        let mut packet = match rtc::rtp::Packet::unmarshal(&mut &buf[..len]) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(call = shared.call, %e, "bad RTP from the relay");
                continue;
            }
        };
        packet.header.ssrc = ssrc;
        if let Err(e) = track.write_rtp(packet).await {
            // Before DTLS is up the track is not bound yet: those packets are lost, as on a
            // plain leg before latching.
            tracing::trace!(call = shared.call, %e, "RTP to the browser not sent");
        }
    }
}

fn audio_codec(mime: &str, fmtp: Option<&str>) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate: 8000,
        channels: 0,
        sdp_fmtp_line: fmtp.unwrap_or_default().to_owned(),
        rtcp_feedback: vec![],
    }
}

fn mime_of(codec: Codec) -> &'static str {
    match codec {
        Codec::Pcmu => MIME_TYPE_PCMU,
        Codec::Pcma => MIME_TYPE_PCMA,
        Codec::TelephoneEvent => MIME_TYPE_TELEPHONE_EVENT,
    }
}

/// The codecs a leg registers: just the plan's when answering (so the answer names exactly
/// one law), PCMU, PCMA and telephone-event when offering.
fn media_engine(codecs: &[(u8, Codec, Option<String>)]) -> Result<MediaEngine, WebRtcError> {
    let mut engine = MediaEngine::default();
    for params in codec_parameters(codecs) {
        engine
            .register_codec(params, RtpCodecKind::Audio)
            .map_err(stack)?;
    }
    Ok(engine)
}

fn codec_parameters(codecs: &[(u8, Codec, Option<String>)]) -> Vec<RTCRtpCodecParameters> {
    codecs
        .iter()
        .map(|(pt, codec, fmtp)| RTCRtpCodecParameters {
            rtp_codec: audio_codec(mime_of(*codec), fmtp.as_deref()),
            payload_type: *pt,
        })
        .collect()
}

fn plan_codecs(plan: &AudioPlan) -> Vec<(u8, Codec, Option<String>)> {
    let mut v = vec![(plan.codec.0, plan.codec.1, None)];
    if let Some((pt, fmtp)) = &plan.telephone_event {
        v.push((*pt, Codec::TelephoneEvent, fmtp.clone()));
    }
    v
}

/// Everything of a leg but the negotiated audio.
struct Parts {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    lease: PortLease,
    /// The runtime the connection's driver runs on.
    runtime: Handle,
}

impl Drop for Parts {
    /// A connection dropped without `close` would leave its driver task running (webrtc-rs
    /// only detaches it), holding the socket: close it on its runtime. Closing twice is
    /// harmless.
    fn drop(&mut self) {
        self.shared.ended.store(true, Ordering::SeqCst);
        let pc = self.pc.clone();
        self.runtime.spawn(async move {
            if let Err(e) = pc.close().await {
                tracing::debug!(%e, "closing a WebRTC connection");
            }
        });
    }
}

async fn build(
    config: &WebRtcConfig,
    ports: &Arc<Mutex<PortAllocator>>,
    target: LegTarget,
    codecs: &[(u8, Codec, Option<String>)],
) -> Result<Parts, WebRtcError> {
    let relay_ip = match target.relay_rtp.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    let relay_rtp = SocketAddr::new(relay_ip, target.relay_rtp.port());
    let adapter = UdpSocket::bind(SocketAddr::new(relay_ip, 0))
        .await
        .map_err(|e| WebRtcError::Ports(format!("adapter socket: {e}")))?;
    let shared = Arc::new(Shared {
        call: target.call,
        leg: target.leg,
        events: target.events,
        adapter,
        relay_rtp,
        gathered: Notify::new(),
        ended: AtomicBool::new(false),
    });
    let mut last_error = String::from("no port tried");
    for _ in 0..BIND_TRIES {
        let pair = ports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .allocate()
            .map_err(|e| WebRtcError::Ports(e.to_string()))?;
        let lease = PortLease {
            ports: ports.clone(),
            rtp: pair.rtp,
        };
        let settings = SettingEngineBuilder::new()
            .with_lite(config.ice_lite)
            .with_ice_timeouts(
                Some(config.ice_disconnected_timeout),
                Some(config.ice_failed_timeout),
                Some(config.ice_keepalive),
            )
            .with_include_loopback_candidate(config.bind_ip.is_loopback())
            .build();
        let rtc_config = RTCConfigurationBuilder::new()
            .with_bundle_policy(RTCBundlePolicy::MaxBundle)
            .with_rtcp_mux_policy(RTCRtcpMuxPolicy::Require)
            .build();
        let built = PeerConnectionBuilder::<SocketAddr>::new()
            .with_configuration(rtc_config)
            .with_media_engine(media_engine(codecs)?)
            .with_setting_engine(settings)
            .with_handler(Arc::new(Handler(shared.clone())))
            .with_udp_addrs(vec![SocketAddr::new(config.bind_ip, pair.rtp)])
            .build()
            .await;
        let pc: Arc<dyn PeerConnection> = match built {
            Ok(pc) => Arc::new(pc),
            Err(e) => {
                tracing::debug!(port = pair.rtp, %e, "WebRTC port not usable, trying the next");
                last_error = e.to_string();
                continue;
            }
        };
        let ssrc: u32 = rand::random();
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("switchboard-{}", shared.call),
            format!("audio-{ssrc:08x}"),
            "audio".to_owned(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: audio_codec(mime_of(codecs.first().map_or(Codec::Pcmu, |c| c.1)), None),
                ..Default::default()
            }],
        )));
        return Ok(Parts {
            pc,
            shared,
            track,
            ssrc,
            lease,
            runtime: Handle::current(),
        });
    }
    Err(WebRtcError::Ports(last_error))
}

/// Waits for host candidates (SIP has no trickle) and returns our description.
async fn local_sdp(parts: &Parts, config: &WebRtcConfig) -> Result<String, WebRtcError> {
    let gathered = tokio::time::timeout(config.setup_timeout, parts.shared.gathered.notified());
    if gathered.await.is_err() {
        tracing::debug!(
            call = parts.shared.call,
            "ICE gathering did not complete in time"
        );
    }
    let desc = parts
        .pc
        .local_description()
        .await
        .ok_or_else(|| stack("no local description"))?;
    if !desc.sdp.contains("a=candidate") {
        return Err(WebRtcError::Timeout);
    }
    Ok(desc.sdp)
}

pub(super) async fn answer(
    config: &WebRtcConfig,
    ports: &Arc<Mutex<PortAllocator>>,
    target: LegTarget,
    offer: &str,
    plan: AudioPlan,
) -> Result<(WebRtcLeg, String), WebRtcError> {
    let parts = build(config, ports, target, &plan_codecs(&plan)).await?;
    let offer = RTCSessionDescription::offer(offer.to_owned()).map_err(stack)?;
    parts
        .pc
        .set_remote_description(offer)
        .await
        .map_err(stack)?;
    parts
        .pc
        .add_track(parts.track.clone() as Arc<dyn TrackLocal>)
        .await
        .map_err(stack)?;
    let answer = parts.pc.create_answer(None).await.map_err(stack)?;
    parts
        .pc
        .set_local_description(answer)
        .await
        .map_err(stack)?;
    let sdp = local_sdp(&parts, config).await?;
    // What we answer is what runs (the stack may have dropped telephone-event).
    let ours = check::plan(&sdp)?;
    let setup = DtlsSetup::of(&sdp).unwrap_or(DtlsSetup::Active);
    Ok((WebRtcLeg::start(parts, ours, setup)?, sdp))
}

pub(super) async fn offer(
    config: &WebRtcConfig,
    ports: &Arc<Mutex<PortAllocator>>,
    target: LegTarget,
) -> Result<(PendingWebRtcLeg, String), WebRtcError> {
    let codecs = [
        (0, Codec::Pcmu, None),
        (8, Codec::Pcma, None),
        (101, Codec::TelephoneEvent, Some("0-16".to_owned())),
    ];
    let parts = build(config, ports, target, &codecs).await?;
    parts
        .pc
        .add_track(parts.track.clone() as Arc<dyn TrackLocal>)
        .await
        .map_err(stack)?;
    // The track's codec alone would be offered: offer both laws and telephone-event, so the
    // browser can send keys (RTCDTMFSender needs telephone-event negotiated).
    for transceiver in parts.pc.get_transceivers().await {
        transceiver
            .set_codec_preferences(codec_parameters(&codecs))
            .await
            .map_err(stack)?;
    }
    let offer = parts.pc.create_offer(None).await.map_err(stack)?;
    parts.pc.set_local_description(offer).await.map_err(stack)?;
    let sdp = local_sdp(&parts, config).await?;
    Ok((PendingWebRtcLeg { parts }, sdp))
}

/// Answers a browser's new offer on its running connection (a re-INVITE: hold, resume). The
/// ICE and DTLS sessions go on; the answer's direction mirrors the offer's (sendonly →
/// recvonly). The relay leg is unchanged: a browser on hold simply stops sending.
pub(super) async fn reanswer(
    pc: Arc<dyn PeerConnection>,
    offer: String,
    setup: DtlsSetup,
) -> Result<String, WebRtcError> {
    let offer_text = offer.clone();
    let offer = RTCSessionDescription::offer(offer).map_err(stack)?;
    pc.set_remote_description(offer).await.map_err(stack)?;
    let answer = pc.create_answer(None).await.map_err(stack)?;
    pc.set_local_description(answer).await.map_err(stack)?;
    let desc = pc
        .local_description()
        .await
        .ok_or_else(|| stack("no local description"))?;
    Ok(with_direction(
        &with_setup(&desc.sdp, setup),
        answer_direction(&offer_text),
    ))
}

/// The direction attribute that answers the offer's (RFC 3264 §6.1): sendonly → recvonly,
/// recvonly → sendonly, inactive → inactive, else sendrecv.
fn answer_direction(offer: &str) -> &'static str {
    let offered = offer.lines().map(str::trim_end).find(|l| {
        matches!(
            *l,
            "a=sendonly" | "a=recvonly" | "a=inactive" | "a=sendrecv"
        )
    });
    match offered {
        Some("a=sendonly") => "a=recvonly",
        Some("a=recvonly") => "a=sendonly",
        Some("a=inactive") => "a=inactive",
        _ => "a=sendrecv",
    }
}

/// `sdp` with its direction attributes replaced by `direction`. The stack answers a browser
/// putting us on hold (sendonly) with sendrecv, which RFC 3264 does not allow.
fn with_direction(sdp: &str, direction: &str) -> String {
    replace_lines(sdp, |l| {
        matches!(
            l.trim_end(),
            "a=sendonly" | "a=recvonly" | "a=inactive" | "a=sendrecv"
        )
        .then(|| direction.to_owned())
    })
}

/// `sdp` with each line `f` returns a replacement for replaced (line ends kept as CRLF).
fn replace_lines(sdp: &str, f: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        match f(line) {
            Some(new) => {
                out.push_str(&new);
                out.push_str("\r\n");
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Our side of the DTLS handshake, as SDP's `a=setup` says it (RFC 8842).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DtlsSetup {
    Active,
    Passive,
}

impl DtlsSetup {
    fn as_str(self) -> &'static str {
        match self {
            DtlsSetup::Active => "active",
            DtlsSetup::Passive => "passive",
        }
    }

    /// The role `sdp` takes (`actpass` is no decision yet).
    fn of(sdp: &str) -> Option<DtlsSetup> {
        sdp.lines()
            .find_map(|l| l.trim_end().strip_prefix("a=setup:"))
            .and_then(|v| match v {
                "active" => Some(DtlsSetup::Active),
                "passive" => Some(DtlsSetup::Passive),
                _ => None,
            })
    }

    fn opposite(self) -> DtlsSetup {
        match self {
            DtlsSetup::Active => DtlsSetup::Passive,
            DtlsSetup::Passive => DtlsSetup::Active,
        }
    }
}

/// `sdp` with every `a=setup` saying `setup`. An answer to a re-offer must keep the DTLS role
/// the running session has (RFC 8842 §5.5: a new role means a new DTLS association), but the
/// stack answers as for a first offer (`active`), which browsers refuse ("Failed to set SSL
/// role for the transport").
fn with_setup(sdp: &str, setup: DtlsSetup) -> String {
    replace_lines(sdp, |l| {
        l.starts_with("a=setup:")
            .then(|| format!("a=setup:{}", setup.as_str()))
    })
}

/// Our offer is out; the browser's answer is awaited.
pub struct PendingWebRtcLeg {
    parts: Parts,
}

impl fmt::Debug for PendingWebRtcLeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingWebRtcLeg")
            .field("call", &self.parts.shared.call)
            .finish_non_exhaustive()
    }
}

impl PendingWebRtcLeg {
    /// Takes the browser's answer (checked like an offer: fingerprint, ICE, SAVPF, G.711) and
    /// starts the leg.
    pub async fn accept_answer(self, answer: &str) -> Result<WebRtcLeg, WebRtcError> {
        let plan = check::plan(answer)?;
        let desc = RTCSessionDescription::answer(answer.to_owned()).map_err(stack)?;
        self.parts
            .pc
            .set_remote_description(desc)
            .await
            .map_err(stack)?;
        // We offered actpass; the browser's answer picks its role and leaves us the other.
        let setup = DtlsSetup::of(answer).map_or(DtlsSetup::Passive, DtlsSetup::opposite);
        WebRtcLeg::start(self.parts, plan, setup)
    }
}

/// A running WebRTC leg. Dropping it stops its pumps and closes the peer connection.
pub struct WebRtcLeg {
    parts: Parts,
    plan: AudioPlan,
    adapter_addr: SocketAddr,
    pump: JoinHandle<()>,
    /// Our DTLS role, kept through renegotiations.
    setup: DtlsSetup,
}

impl fmt::Debug for WebRtcLeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebRtcLeg")
            .field("call", &self.parts.shared.call)
            .field("leg", &self.parts.shared.leg)
            .field("codec", &self.plan.codec)
            .field("port", &self.parts.lease.rtp)
            .finish_non_exhaustive()
    }
}

impl WebRtcLeg {
    fn start(parts: Parts, plan: AudioPlan, setup: DtlsSetup) -> Result<WebRtcLeg, WebRtcError> {
        let adapter_addr = parts
            .shared
            .adapter
            .local_addr()
            .map_err(|e| WebRtcError::Ports(e.to_string()))?;
        let pump = tokio::spawn(outbound(
            parts.shared.clone(),
            parts.track.clone(),
            parts.ssrc,
        ));
        Ok(WebRtcLeg {
            parts,
            plan,
            adapter_addr,
            pump,
            setup,
        })
    }

    /// The relay leg's configuration: the browser's audio arrives from (and goes to) the
    /// adapter socket, with the negotiated payload types.
    pub fn relay_leg_config(&self) -> LegConfig {
        let mut payloads = vec![self.plan.codec];
        if let Some((pt, _)) = &self.plan.telephone_event {
            payloads.push((*pt, Codec::TelephoneEvent));
        }
        LegConfig {
            remote_rtp: Some(self.adapter_addr),
            remote_rtcp: Some(self.adapter_addr),
            payloads,
            remote_direction: Direction::SendRecv,
            rtcp_mux: true,
        }
    }

    /// The connection, for renegotiation on the legs' runtime.
    pub(super) fn connection(&self) -> (Arc<dyn PeerConnection>, DtlsSetup) {
        (self.parts.pc.clone(), self.setup)
    }

    /// The G.711 payload type and law this leg runs.
    pub fn codec(&self) -> (u8, Codec) {
        self.plan.codec
    }

    /// telephone-event's payload type, when negotiated.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        self.plan.telephone_event.as_ref().map(|(pt, _)| *pt)
    }

    /// Our host candidate's port (from the RTP range).
    pub fn local_port(&self) -> u16 {
        self.parts.lease.rtp
    }

    /// Ends the leg without reporting it (the call is ending anyway): stops the pump, closes
    /// the peer connection (DTLS close_notify to the browser), gives the port back.
    pub async fn close(self) {
        self.parts.shared.ended.store(true, Ordering::SeqCst);
        self.pump.abort();
        let closing = self.parts.pc.close();
        if tokio::time::timeout(Duration::from_secs(2), closing)
            .await
            .is_err()
        {
            tracing::debug!(call = self.parts.shared.call, "WebRTC close timed out");
        }
    }
}

impl Drop for WebRtcLeg {
    fn drop(&mut self) {
        // `Parts` closes the connection.
        self.pump.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::{DtlsSetup, answer_direction, with_direction, with_setup};

    const ANSWER: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=setup:active\r\na=mid:0\r\n";

    #[test]
    fn a_reanswer_keeps_the_role_of_the_running_dtls_session() {
        let kept = with_setup(ANSWER, DtlsSetup::Passive);
        assert_eq!(
            kept,
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=setup:passive\r\na=mid:0\r\n"
        );
        assert_eq!(DtlsSetup::of(&kept), Some(DtlsSetup::Passive));
    }

    #[test]
    fn the_browser_answering_active_leaves_us_passive() {
        assert_eq!(
            DtlsSetup::of(ANSWER).map(DtlsSetup::opposite),
            Some(DtlsSetup::Passive)
        );
        assert_eq!(DtlsSetup::of("a=setup:actpass\r\n"), None);
    }

    #[test]
    fn a_browser_holding_us_gets_recvonly_back() {
        let offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=sendonly\r\n";
        let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=sendrecv\r\na=mid:0\r\n";
        assert_eq!(
            with_direction(answer, answer_direction(offer)),
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=recvonly\r\na=mid:0\r\n"
        );
        assert_eq!(answer_direction("a=sendrecv\r\n"), "a=sendrecv");
        assert_eq!(answer_direction("a=inactive\r\n"), "a=inactive");
        assert_eq!(answer_direction("v=0\r\n"), "a=sendrecv");
    }
}

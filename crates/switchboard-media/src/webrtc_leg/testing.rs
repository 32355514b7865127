//! A stand-in for a browser in tests and load generators: a webrtc-rs peer connection (full
//! ICE, host candidates, Opus + PCMU + PCMA + telephone-event like Chrome) that sends raw RTP
//! payloads and collects what it receives. Not used by the server.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::{Notify, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
};

use super::WebRtcError;

fn stack(e: impl fmt::Display) -> WebRtcError {
    WebRtcError::Stack(e.to_string())
}

/// What the peer received on its remote track.
#[derive(Debug, Default)]
pub struct Received {
    /// Payload bytes of PCMU/PCMA packets, in arrival order (when kept).
    pub audio: Vec<u8>,
    /// Audio packets received.
    pub audio_packets: u64,
    /// telephone-event packets received.
    pub event_packets: u64,
}

struct Inner {
    gathered: Notify,
    state: watch::Sender<RTCPeerConnectionState>,
    received: Mutex<Received>,
    keep_audio: bool,
}

struct Handler(Arc<Inner>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.0.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.0.state.send_replace(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let inner = self.0.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = event {
                    let mut r = inner
                        .received
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if matches!(p.header.payload_type, 0 | 8) {
                        r.audio_packets += 1;
                        if inner.keep_audio {
                            r.audio.extend_from_slice(&p.payload);
                        }
                    } else {
                        r.event_packets += 1;
                    }
                }
            }
        });
    }
}

/// An in-process "browser".
pub struct BrowserPeer {
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    inner: Arc<Inner>,
    sent: AtomicU64,
}

impl fmt::Debug for BrowserPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrowserPeer")
            .field("ssrc", &self.ssrc)
            .finish_non_exhaustive()
    }
}

fn codec(mime: &str, rate: u32, channels: u16, fmtp: &str) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate: rate,
        channels,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: vec![],
    }
}

impl BrowserPeer {
    /// A peer on `ip` offering Opus first, then (when `g711`) PCMU and PCMA, and
    /// telephone-event. `keep_audio` keeps received payloads (tests), else only counts them.
    pub async fn new(ip: IpAddr, g711: bool, keep_audio: bool) -> Result<BrowserPeer, WebRtcError> {
        let mut engine = MediaEngine::default();
        let mut codecs = vec![(
            111,
            codec(MIME_TYPE_OPUS, 48000, 2, "minptime=10;useinbandfec=1"),
        )];
        if g711 {
            codecs.push((0, codec(MIME_TYPE_PCMU, 8000, 0, "")));
            codecs.push((8, codec(MIME_TYPE_PCMA, 8000, 0, "")));
            codecs.push((126, codec(MIME_TYPE_TELEPHONE_EVENT, 8000, 0, "0-16")));
        }
        for (pt, c) in codecs {
            engine
                .register_codec(
                    RTCRtpCodecParameters {
                        rtp_codec: c,
                        payload_type: pt,
                    },
                    RtpCodecKind::Audio,
                )
                .map_err(stack)?;
        }
        let (state, _) = watch::channel(RTCPeerConnectionState::New);
        let inner = Arc::new(Inner {
            gathered: Notify::new(),
            state,
            received: Mutex::new(Received::default()),
            keep_audio,
        });
        let settings = SettingEngineBuilder::new()
            .with_include_loopback_candidate(ip.is_loopback())
            .build();
        let pc = PeerConnectionBuilder::<SocketAddr>::new()
            .with_media_engine(engine)
            .with_setting_engine(settings)
            .with_handler(Arc::new(Handler(inner.clone())))
            .with_udp_addrs(vec![SocketAddr::new(ip, 0)])
            .build()
            .await
            .map_err(stack)?;
        let ssrc: u32 = rand::random();
        let first = if g711 {
            codec(MIME_TYPE_PCMU, 8000, 0, "")
        } else {
            codec(MIME_TYPE_OPUS, 48000, 2, "minptime=10;useinbandfec=1")
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "browser".to_owned(),
            format!("mic-{ssrc:08x}"),
            "mic".to_owned(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: first,
                ..Default::default()
            }],
        )));
        Ok(BrowserPeer {
            pc: Arc::new(pc),
            track,
            ssrc,
            inner,
            sent: AtomicU64::new(0),
        })
    }

    async fn local_sdp(&self) -> Result<String, WebRtcError> {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.gathered.notified()).await;
        self.pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or_else(|| stack("no local description"))
    }

    /// The offer a browser makes for a call (complete with candidates).
    pub async fn offer(&self) -> Result<String, WebRtcError> {
        self.pc
            .add_track(self.track.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(stack)?;
        let offer = self.pc.create_offer(None).await.map_err(stack)?;
        self.pc.set_local_description(offer).await.map_err(stack)?;
        self.local_sdp().await
    }

    /// Takes the answer to [`BrowserPeer::offer`].
    pub async fn accept_answer(&self, answer: &str) -> Result<(), WebRtcError> {
        let desc = RTCSessionDescription::answer(answer.to_owned()).map_err(stack)?;
        self.pc.set_remote_description(desc).await.map_err(stack)
    }

    /// Answers an offer (an agent's softphone ringing).
    pub async fn answer(&self, offer: &str) -> Result<String, WebRtcError> {
        let desc = RTCSessionDescription::offer(offer.to_owned()).map_err(stack)?;
        self.pc.set_remote_description(desc).await.map_err(stack)?;
        self.pc
            .add_track(self.track.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(stack)?;
        let answer = self.pc.create_answer(None).await.map_err(stack)?;
        self.pc.set_local_description(answer).await.map_err(stack)?;
        self.local_sdp().await
    }

    /// Waits until DTLS is up (`Connected`), or fails (or `timeout` passes) → `false`.
    pub async fn connected(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.state.subscribe();
        let wait = rx.wait_for(|s| {
            matches!(
                s,
                RTCPeerConnectionState::Connected
                    | RTCPeerConnectionState::Failed
                    | RTCPeerConnectionState::Closed
            )
        });
        matches!(
            tokio::time::timeout(timeout, wait).await,
            Ok(Ok(s)) if *s == RTCPeerConnectionState::Connected
        )
    }

    /// Sends one RTP packet (sequence number and timestamp are the caller's).
    pub async fn send(
        &self,
        pt: u8,
        seq: u16,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), WebRtcError> {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.version = 2;
        packet.header.payload_type = pt;
        packet.header.sequence_number = seq;
        packet.header.timestamp = timestamp;
        packet.header.ssrc = self.ssrc;
        packet.payload = payload.to_vec().into();
        self.track.write_rtp(packet).await.map_err(stack)?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Packets handed to the stack so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Runs `f` on what was received so far.
    pub fn with_received<T>(&self, f: impl FnOnce(&Received) -> T) -> T {
        f(&self
            .inner
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// Closes the connection (DTLS close_notify, as a browser hanging up).
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

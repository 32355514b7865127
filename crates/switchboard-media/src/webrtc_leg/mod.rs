//! WebRTC media legs: a browser's DTLS-SRTP audio (ICE host candidates, rtcp-mux, BUNDLE)
//! terminated with webrtc-rs and bridged to a call's plain-RTP relay.
//!
//! ```text
//!  browser ══ICE/DTLS-SRTP══▶ peer connection ─RTP─▶ adapter socket ─UDP─▶ relay leg socket ─▶ Bridge
//!          ◀═════════════════                 ◀─RTP─                ◀─UDP─
//! ```
//! The relay sees a WebRTC leg as an ordinary RTP peer at the adapter socket's address, so the
//! bridge's latching, payload-type mapping, RFC 4733 handling, media timeout and the recorder
//! (caller left, callee right) work unchanged, and the relay's hot loop is not touched. The
//! price is one loopback hop per packet; the `webrtc-legs` benchmark measures the whole path.
//!
//! The SIP side's view is SDP in, SDP out, events out:
//! - [`WebRtcLegs::answer`]: a browser's offer → our answer (PCMU or PCMA in the offer's order,
//!   telephone-event when offered) and a running [`WebRtcLeg`].
//! - [`WebRtcLegs::offer`]: our offer towards a browser (an agent's softphone ringing), then
//!   [`PendingWebRtcLeg::accept_answer`] with the browser's answer.
//! - [`WebRtcLeg::relay_leg_config`]: what to give [`crate::relay::MediaCall::configure_leg`].
//! - A leg whose ICE or DTLS fails, or whose peer closes, reports
//!   [`MediaEvent::LegEnded`](crate::bridge::MediaEvent::LegEnded) on the relay's event channel,
//!   tagged with the call; the call control hangs up as for a media timeout.
//!
//! Offers we cannot serve are refused before anything is built, with a [`WebRtcError`] whose
//! [`WebRtcError::sip_status`] is 488 (no fingerprint, no ICE credentials, not SAVPF, no G.711).
//! The `*_blocking` variants run on a [`WebRtcRuntime`] so the B2BUA's synchronous media plane
//! can call them from any thread.

mod check;
mod peer;
mod runtime;
pub mod testing;

pub use check::is_webrtc_sdp;
pub use peer::{PendingWebRtcLeg, WebRtcLeg};
pub use runtime::WebRtcRuntime;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::bridge::LegId;
use crate::ports::PortAllocator;
use crate::relay::RelayEvent;

/// How WebRTC legs are run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcConfig {
    /// Address of our host candidate (the `rtp.address`); ports come from the RTP range.
    pub bind_ip: IpAddr,
    /// Run as an ICE-lite agent (RFC 8445 §2.5): the browser, a full agent, runs the checks
    /// and we only answer them, which is all a server with a reachable address needs.
    pub ice_lite: bool,
    /// No ICE traffic for this long: the leg is disconnected.
    pub ice_disconnected_timeout: Duration,
    /// Disconnected for this long more: the leg has failed and the call ends.
    pub ice_failed_timeout: Duration,
    /// How often ICE keepalives go out.
    pub ice_keepalive: Duration,
    /// Longest wait for candidate gathering or a blocking call.
    pub setup_timeout: Duration,
}

impl Default for WebRtcConfig {
    fn default() -> WebRtcConfig {
        WebRtcConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            ice_lite: true,
            ice_disconnected_timeout: Duration::from_secs(5),
            ice_failed_timeout: Duration::from_secs(10),
            ice_keepalive: Duration::from_secs(2),
            setup_timeout: Duration::from_secs(5),
        }
    }
}

/// Where a WebRTC leg's media goes: the relay leg it stands for.
#[derive(Debug, Clone)]
pub struct LegTarget {
    /// The call, as given to [`crate::relay::MediaCall::start`] (events are tagged with it).
    pub call: String,
    /// The relay leg the browser is on.
    pub leg: LegId,
    /// That relay leg's RTP socket ([`crate::relay::MediaCall::local_rtp_port`]).
    pub relay_rtp: SocketAddr,
    /// The call control's media event channel (the relay's).
    pub events: mpsc::Sender<RelayEvent>,
}

/// Why a WebRTC leg could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebRtcError {
    /// The SDP does not parse.
    #[error("unreadable SDP: {0}")]
    BadSdp(String),
    /// No audio stream (or all disabled).
    #[error("no audio stream offered")]
    NoAudio,
    /// The audio is not DTLS-SRTP with feedback (`UDP/TLS/RTP/SAVPF`).
    #[error("audio transport {0} is not UDP/TLS/RTP/SAVPF")]
    NotSavpf(String),
    /// No `a=fingerprint`: DTLS cannot authenticate the peer.
    #[error("no DTLS fingerprint")]
    NoFingerprint,
    /// No `a=ice-ufrag`/`a=ice-pwd`.
    #[error("no ICE credentials")]
    NoIceCredentials,
    /// Neither PCMU nor PCMA offered (we do not transcode Opus).
    #[error("neither PCMU nor PCMA offered (payload types {offered:?})")]
    NoG711 {
        /// Payload types the peer offered.
        offered: Vec<u8>,
    },
    /// No port free in the RTP range, or none would bind.
    #[error("no media port for the WebRTC leg: {0}")]
    Ports(String),
    /// The WebRTC stack refused the description or failed.
    #[error("WebRTC stack: {0}")]
    Stack(String),
    /// Candidate gathering or a blocking call took longer than the setup timeout.
    #[error("WebRTC leg set-up timed out")]
    Timeout,
    /// The runtime the legs run on has stopped.
    #[error("WebRTC runtime is gone")]
    RuntimeGone,
}

impl WebRtcError {
    /// The SIP status for the INVITE (or answer) that brought this SDP: 488 for what the peer
    /// sent, 503 when we are out of ports, 500 otherwise.
    pub fn sip_status(&self) -> u16 {
        match self {
            WebRtcError::BadSdp(_)
            | WebRtcError::NoAudio
            | WebRtcError::NotSavpf(_)
            | WebRtcError::NoFingerprint
            | WebRtcError::NoIceCredentials
            | WebRtcError::NoG711 { .. }
            | WebRtcError::Stack(_) => 488,
            WebRtcError::Ports(_) => 503,
            WebRtcError::Timeout | WebRtcError::RuntimeGone => 500,
        }
    }

    /// The value of a `Warning` header (RFC 3261 §20.43, code 399 "miscellaneous") that tells
    /// the peer why, for the 488.
    pub fn warning(&self, host: &str) -> String {
        format!("399 {host} \"{}\"", self.to_string().replace('"', "'"))
    }
}

/// Checks that `offer` is a WebRTC offer we can serve (fingerprint, ICE credentials, SAVPF,
/// PCMU or PCMA) without building anything: the SIP side refuses the rest with 488 at once.
pub fn check_offer(offer: &str) -> Result<(), WebRtcError> {
    check::plan(offer).map(|_| ())
}

/// Makes WebRTC legs: the configuration, the shared RTP port range and the runtime they run on.
#[derive(Debug, Clone)]
pub struct WebRtcLegs {
    config: WebRtcConfig,
    ports: Arc<Mutex<PortAllocator>>,
    runtime: WebRtcRuntime,
}

impl WebRtcLegs {
    /// Legs with host candidates on `config.bind_ip`, ports from `ports`, run on `runtime`.
    pub fn new(
        config: WebRtcConfig,
        ports: Arc<Mutex<PortAllocator>>,
        runtime: WebRtcRuntime,
    ) -> WebRtcLegs {
        WebRtcLegs {
            config,
            ports,
            runtime,
        }
    }

    /// The configuration legs are made with.
    pub fn config(&self) -> &WebRtcConfig {
        &self.config
    }

    /// Answers a browser's `offer`: checks it, builds the peer connection, and returns the
    /// running leg and our answer (complete with candidates: SIP has no trickle).
    pub async fn answer(
        &self,
        target: LegTarget,
        offer: &str,
    ) -> Result<(WebRtcLeg, String), WebRtcError> {
        let plan = check::plan(offer)?;
        peer::answer(&self.config, &self.ports, target, offer, plan).await
    }

    /// Makes an offer towards a browser; finish with [`PendingWebRtcLeg::accept_answer`].
    pub async fn offer(
        &self,
        target: LegTarget,
    ) -> Result<(PendingWebRtcLeg, String), WebRtcError> {
        peer::offer(&self.config, &self.ports, target).await
    }

    /// [`WebRtcLegs::answer`] for synchronous callers (the B2BUA's media plane): runs on the
    /// legs' runtime and blocks this thread until done or the setup timeout.
    pub fn answer_blocking(
        &self,
        target: LegTarget,
        offer: &str,
    ) -> Result<(WebRtcLeg, String), WebRtcError> {
        // Refusals need no runtime round-trip.
        check::plan(offer)?;
        let legs = self.clone();
        let offer = offer.to_owned();
        self.runtime.block_on(
            async move { legs.answer(target, &offer).await },
            self.timeout(),
        )?
    }

    /// [`WebRtcLegs::offer`] for synchronous callers.
    pub fn offer_blocking(
        &self,
        target: LegTarget,
    ) -> Result<(PendingWebRtcLeg, String), WebRtcError> {
        let legs = self.clone();
        self.runtime
            .block_on(async move { legs.offer(target).await }, self.timeout())?
    }

    /// [`PendingWebRtcLeg::accept_answer`] for synchronous callers.
    pub fn accept_answer_blocking(
        &self,
        pending: PendingWebRtcLeg,
        answer: &str,
    ) -> Result<WebRtcLeg, WebRtcError> {
        check::plan(answer)?;
        let answer = answer.to_owned();
        self.runtime.block_on(
            async move { pending.accept_answer(&answer).await },
            self.timeout(),
        )?
    }

    /// Answers a browser's re-offer (hold, resume) on its running `leg`, for synchronous
    /// callers. The offer is checked like a first one (fingerprint, ICE, SAVPF, G.711).
    pub fn reanswer_blocking(&self, leg: &WebRtcLeg, offer: &str) -> Result<String, WebRtcError> {
        check::plan(offer)?;
        let (pc, setup) = leg.connection();
        let offer = offer.to_owned();
        self.runtime
            .block_on(peer::reanswer(pc, offer, setup), self.timeout())?
    }

    /// Closes `leg` on the legs' runtime without waiting (for synchronous callers).
    pub fn close_later(&self, leg: WebRtcLeg) {
        self.runtime.spawn(leg.close());
    }

    fn timeout(&self) -> Duration {
        // Gathering has its own limit inside; this one only guards against a stuck runtime.
        self.config.setup_timeout * 2
    }
}

//! The B2BUA's media plane on real sockets: SDP offer/answer per leg, one relay per call
//! (`switchboard_media::relay`), and the call's recording as the relay's audio sink.
//!
//! Leg A is the caller, leg B the callee. The callee is offered the codecs the caller offered
//! (in the caller's order), and the caller is answered with the codec the callee chose when
//! it can take it, so the relay only transcodes (μ-law ↔ A-law) when the two sides have no
//! law in common.
//!
//! A leg whose SDP is a WebRTC one (a browser: DTLS-SRTP, ICE) gets a WebRTC leg
//! (`switchboard_media::webrtc_leg`) in front of its relay leg: the browser's offer is answered
//! by the WebRTC stack, and a callee known to be a browser (see [`RelayPlane::set_webrtc_callee`])
//! is offered DTLS-SRTP. The relay, the recording and the other leg are the same as for RTP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use switchboard_core::{CallId, Clock, TenantId, Timestamp};
use switchboard_media::bridge::{LegConfig, LegId};
use switchboard_media::playout::PlayoutSource;
use switchboard_media::ports::PortAllocator;
use switchboard_media::relay::{MediaCall, RelayConfig, RelayEvent};
use switchboard_media::sdp::{
    Codec, Direction, LocalMedia, NegotiatedAudio, NegotiationError, SessionDescription,
    accept_answer, create_answer, create_offer,
};
use switchboard_media::webrtc_leg::{
    LegTarget, PendingWebRtcLeg, WebRtcError, WebRtcLeg, WebRtcLegs, check_offer, is_webrtc_sdp,
};
use switchboard_recording::{FilesError, Recorder, RecordingFiles, RecordingInfo, layout};
use switchboard_sip::b2bua::{Leg, MediaFailure, MediaPlane};
use tokio::sync::{mpsc, oneshot};

use super::records::RecordUpdate;

mod monitor;

/// What every call's media gets.
#[derive(Debug, Clone)]
pub(crate) struct MediaSettings {
    pub address: IpAddr,
    pub relay: RelayConfig,
    /// Where recordings are written (and by which threads); `None` turns recording off.
    pub recordings: Option<RecordingFiles>,
    /// What waiting callers hear (shared by every call).
    pub music_on_hold: Arc<PlayoutSource>,
    /// The call-back offer, played once to a caller past the queue's maximum wait.
    pub callback_prompt: Arc<PlayoutSource>,
    /// Browsers' legs; `None` refuses WebRTC offers with 488.
    pub webrtc: Option<WebRtcLegs>,
}

/// One leg's side of offer/answer.
#[derive(Debug)]
struct LegSdp {
    local: LocalMedia,
    /// The last offer on this leg (theirs or ours) and whether it was ours.
    offer: Option<SessionDescription>,
}

/// A browser on one leg.
#[derive(Debug)]
enum Browser {
    /// Our offer is out (callee side).
    Offered(PendingWebRtcLeg),
    /// Running; `answer` is the SDP we answered its offer with (caller side), sent when the
    /// call is answered or parked.
    Running {
        leg: WebRtcLeg,
        answer: Option<String>,
        /// The browser's re-offer (hold, resume) while it is forwarded to the other leg.
        reoffer: Option<String>,
    },
}

#[derive(Debug)]
struct Session {
    relay: MediaCall<Recorder>,
    legs: [LegSdp; 2],
    recorded: bool,
    browsers: [Option<Browser>; 2],
}

/// The media plane of every call in progress.
#[derive(Debug)]
pub(crate) struct RelayPlane {
    settings: MediaSettings,
    ports: Arc<Mutex<PortAllocator>>,
    clock: Arc<dyn Clock>,
    events: mpsc::Sender<RelayEvent>,
    records: mpsc::UnboundedSender<RecordUpdate>,
    sessions: HashMap<CallId, Session>,
    /// Tenant of each call, for its recording row (set by the call control before `open`).
    tenants: HashMap<CallId, TenantId>,
    /// Recording rows to file once the call's record is written.
    pending_records: Vec<RecordUpdate>,
    /// Calls whose callee is a browser (see [`RelayPlane::set_webrtc_callee`]).
    webrtc_callees: std::collections::HashSet<CallId>,
    /// Supervisors' monitoring calls (see [`RelayPlane::set_monitor`]).
    monitors: monitor::Monitors,
}

/// The law a browser leg runs.
type NegotiatedLaw = Codec;

fn close_browser(legs: &WebRtcLegs, browser: Browser) {
    match browser {
        Browser::Running { leg, .. } => legs.close_later(leg),
        // Dropping a pending leg closes its peer connection.
        Browser::Offered(pending) => drop(pending),
    }
}

/// A WebRTC offer we cannot serve (no fingerprint, only Opus, …) is refused with the WebRTC
/// reason and a Warning, before any port is taken.
fn refuse_unservable_webrtc(offer: &[u8]) -> Result<(), MediaFailure> {
    if !is_webrtc_sdp(offer) {
        return Ok(());
    }
    let text = std::str::from_utf8(offer).map_err(|_| failure(400, "Bad Request (SDP)"))?;
    check_offer(text).map_err(|e| webrtc_failure(&e))
}

/// The answer we gave a browser caller, if leg A is one.
fn browser_answer(s: &mut Session) -> Option<String> {
    match &mut s.browsers[0] {
        Some(Browser::Running { answer, .. }) => answer.take(),
        _ => None,
    }
}

fn failure(status: u16, reason: impl Into<String>) -> MediaFailure {
    MediaFailure {
        status,
        reason: reason.into(),
        warning: None,
    }
}

fn not_acceptable(e: NegotiationError) -> MediaFailure {
    failure(e.sip_status(), format!("Not Acceptable Here ({e})"))
}

fn webrtc_failure(e: &WebRtcError) -> MediaFailure {
    let what = match e.sip_status() {
        488 => "Not Acceptable Here",
        503 => "Service Unavailable",
        _ => "Server Internal Error",
    };
    MediaFailure {
        status: e.sip_status(),
        reason: format!("{what} (WebRTC: {e})"),
        warning: Some(e.warning("switchboard")),
    }
}

impl Session {
    /// Takes the answer to the offer we made on `leg` and points the relay's leg at it.
    fn accept(
        &mut self,
        leg: Leg,
        answer: &SessionDescription,
    ) -> Result<NegotiatedAudio, MediaFailure> {
        let offer = self.legs[index(leg)]
            .offer
            .take()
            .ok_or_else(|| failure(500, "no offer"))?;
        let negotiated = accept_answer(&offer, answer).map_err(not_acceptable)?;
        self.relay
            .configure_leg(leg_id(leg), LegConfig::from(&negotiated));
        Ok(negotiated)
    }
}

fn parse(sdp: &[u8], what: &str) -> Result<SessionDescription, MediaFailure> {
    if sdp.is_empty() {
        // Late offers (INVITE without SDP) are not supported yet.
        return Err(failure(
            488,
            format!("Not Acceptable Here ({what} has no SDP)"),
        ));
    }
    SessionDescription::parse(sdp)
        .map_err(|e| failure(488, format!("Not Acceptable Here ({what}: {e})")))
}

fn index(leg: Leg) -> usize {
    match leg {
        Leg::Caller => 0,
        Leg::Callee => 1,
    }
}

fn leg_id(leg: Leg) -> LegId {
    match leg {
        Leg::Caller => LegId::A,
        Leg::Callee => LegId::B,
    }
}

/// The G.711 laws `offer` lists, in its order.
fn offered_laws(offer: &SessionDescription) -> Vec<Codec> {
    let mut out = Vec::new();
    for m in offer.media.iter().filter(|m| m.is_audio()) {
        for f in &m.formats {
            if let Some(c) = f.codec()
                && c.law().is_some()
                && !out.contains(&c)
            {
                out.push(c);
            }
        }
    }
    out
}

impl RelayPlane {
    pub fn new(
        settings: MediaSettings,
        ports: Arc<Mutex<PortAllocator>>,
        clock: Arc<dyn Clock>,
        events: mpsc::Sender<RelayEvent>,
        records: mpsc::UnboundedSender<RecordUpdate>,
    ) -> RelayPlane {
        RelayPlane {
            settings,
            ports,
            clock,
            events,
            records,
            sessions: HashMap::new(),
            tenants: HashMap::new(),
            pending_records: Vec::new(),
            webrtc_callees: std::collections::HashSet::new(),
            monitors: monitor::Monitors::default(),
        }
    }

    /// Recording rows started since the last call, to be filed after the call records the
    /// B2BUA produced at the same time (a recording row points at its call).
    pub fn take_records(&mut self) -> Vec<RecordUpdate> {
        std::mem::take(&mut self.pending_records)
    }

    /// Names the tenant of a call about to be opened (its recording row needs it).
    pub fn set_tenant(&mut self, call: &CallId, tenant: TenantId) {
        self.tenants.insert(call.clone(), tenant);
    }

    /// Says whether the callee legs of a call about to be offered (`open`, `retarget`) are
    /// browsers (contacts registered over WebSocket): leg B is then offered DTLS-SRTP instead of
    /// plain RTP. A transfer or the next ACD offer may go to a phone of the other kind, so the
    /// call control says it again before each.
    pub fn set_webrtc_callee(&mut self, call: &CallId, browser: bool) {
        if browser {
            self.webrtc_callees.insert(call.clone());
        } else {
            self.webrtc_callees.remove(call);
        }
    }

    fn webrtc_legs(&self) -> Result<WebRtcLegs, MediaFailure> {
        self.settings
            .webrtc
            .clone()
            .ok_or_else(|| failure(488, "Not Acceptable Here (WebRTC is not enabled)"))
    }

    fn target(&self, call: &CallId, s: &Session, leg: LegId) -> LegTarget {
        LegTarget {
            call: call.to_string(),
            leg,
            relay_rtp: std::net::SocketAddr::new(
                self.settings.address,
                s.relay.local_rtp_port(leg),
            ),
            events: self.events.clone(),
        }
    }

    /// A browser calling: answers its offer now (the relay leg is ready) and keeps the answer
    /// for when the call is answered.
    fn answer_browser(&mut self, call: &CallId, offer: &[u8]) -> Result<(), MediaFailure> {
        let legs = self.webrtc_legs()?;
        let offer = std::str::from_utf8(offer).map_err(|_| failure(400, "Bad Request (SDP)"))?;
        let s = self
            .sessions
            .get(call)
            .ok_or_else(|| failure(500, "no media"))?;
        let target = self.target(call, s, LegId::A);
        let (leg, answer) = legs
            .answer_blocking(target, offer)
            .map_err(|e| webrtc_failure(&e))?;
        let s = self.session(call)?;
        s.relay.configure_leg(LegId::A, leg.relay_leg_config());
        // The other leg is offered the browser's law first, so nothing is transcoded.
        let law = leg.codec().1;
        s.legs[1].local.codecs.sort_by_key(|c| *c != law);
        s.legs[0].offer = None;
        s.browsers[0] = Some(Browser::Running {
            leg,
            answer: Some(answer),
            reoffer: None,
        });
        Ok(())
    }

    /// Our offer to a browser callee.
    fn offer_browser(&mut self, call: &CallId) -> Result<Vec<u8>, MediaFailure> {
        let legs = self.webrtc_legs()?;
        let s = self
            .sessions
            .get(call)
            .ok_or_else(|| failure(500, "no media"))?;
        let target = self.target(call, s, LegId::B);
        let (pending, offer) = legs
            .offer_blocking(target)
            .map_err(|e| webrtc_failure(&e))?;
        let s = self.session(call)?;
        if let Some(old) = s.browsers[1].replace(Browser::Offered(pending)) {
            close_browser(&legs, old);
        }
        Ok(offer.into_bytes())
    }

    /// The browser callee's answer, when leg B was offered WebRTC; `None` if it was not.
    fn accept_browser(
        &mut self,
        call: &CallId,
        answer: &[u8],
    ) -> Result<Option<NegotiatedLaw>, MediaFailure> {
        if !matches!(self.session(call)?.browsers[1], Some(Browser::Offered(_))) {
            return Ok(None);
        }
        let legs = self.webrtc_legs()?;
        let Some(Browser::Offered(pending)) = self.session(call)?.browsers[1].take() else {
            return Ok(None);
        };
        let answer = std::str::from_utf8(answer).map_err(|_| failure(400, "Bad Request (SDP)"))?;
        let leg = legs
            .accept_answer_blocking(pending, answer)
            .map_err(|e| webrtc_failure(&e))?;
        let s = self.session(call)?;
        s.relay.configure_leg(LegId::B, leg.relay_leg_config());
        let law = leg.codec().1;
        s.browsers[1] = Some(Browser::Running {
            leg,
            answer: None,
            reoffer: None,
        });
        Ok(Some(law))
    }

    /// Makes the call's recorder on a blocking thread and hands it to the relay through `made`:
    /// creating the file is disk IO, which must not hold up the call control's loop (while
    /// other programs create and delete many files, ext4's inode allocation made one `open`
    /// cost milliseconds). The recording's row is filed now, after the call's own record (see
    /// `take_records`); should the file not be created, the row is taken back and the call goes
    /// on unrecorded, as before.
    fn make_recorder(
        &mut self,
        files: RecordingFiles,
        call: &CallId,
        now: Timestamp,
        made: oneshot::Sender<Recorder>,
    ) {
        if let (Some(tenant), Ok(path)) = (self.tenants.get(call), layout::relative_path(call, now))
        {
            self.pending_records.push(RecordUpdate::RecordingStarted {
                tenant: tenant.clone(),
                call: call.clone(),
                path: path.to_string_lossy().into_owned(),
                at: now,
            });
        }
        let records = self.records.clone();
        let clock = self.clock.clone();
        let call_id = call.clone();
        let finisher = files.clone();
        files.create(call.clone(), now, now, move |created| match created {
            Ok(recorder) => {
                // The relay is gone already (dropped without a stop): finish the file here so
                // its row is completed all the same.
                if let Err(recorder) = made.send(recorder) {
                    finisher.finish(recorder, clock.now(), finished(records, call_id));
                }
            }
            Err(e) => {
                tracing::error!(call = %call_id, error = %e, "cannot start the call's recording");
                let _ = records.send(RecordUpdate::RecordingFailed { call: call_id });
            }
        });
    }

    /// Pauses (`true`) or resumes the call's recording. `Err` with a reason when the call has
    /// no media or is not recorded.
    pub fn set_recording_paused(
        &mut self,
        call: &CallId,
        paused: bool,
    ) -> Result<(), &'static str> {
        let s = self.sessions.get(call).ok_or("the call has no media yet")?;
        if !s.recorded {
            return Err("the call is not recorded");
        }
        if paused {
            s.relay.pause_recording();
        } else {
            s.relay.resume_recording();
        }
        Ok(())
    }

    /// The relay (and recording) of a new call, with leg A's offer kept and both legs' local
    /// media offering the codecs the caller offered.
    fn start_session(
        &mut self,
        call: &CallId,
        caller_offer: &[u8],
    ) -> Result<&mut Session, MediaFailure> {
        let offer_a = parse(caller_offer, "the offer")?;
        let laws = offered_laws(&offer_a);
        if laws.is_empty() {
            return Err(failure(488, "Not Acceptable Here (offer PCMU or PCMA)"));
        }
        self.start_relay(call, laws, Some(offer_a))
    }

    /// The relay (and recording) of a new call whose legs offer `laws`.
    fn start_relay(
        &mut self,
        call: &CallId,
        laws: Vec<Codec>,
        offer_a: Option<SessionDescription>,
    ) -> Result<&mut Session, MediaFailure> {
        let now = self.clock.now();
        // The recorder follows once its file exists; an unrecorded call drops the sender, which
        // the relay reads as "no recorder".
        let (made, recorder) = oneshot::channel();
        let relay = MediaCall::start_with_sink_later(
            call.to_string(),
            self.ports.clone(),
            self.settings.relay.clone(),
            self.clock.clone(),
            recorder,
            self.events.clone(),
        )
        .map_err(|e| {
            tracing::error!(%call, error = %e, "no media ports for the call");
            failure(503, "Service Unavailable (no media ports)")
        })?;
        let recorded = self.settings.recordings.is_some();
        match self.settings.recordings.clone() {
            Some(files) => self.make_recorder(files, call, now, made),
            None => drop(made),
        }
        let session_id = u64::try_from(now.as_millis()).unwrap_or(1);
        let local = |leg, id| {
            let mut m = LocalMedia::new(self.settings.address, relay.local_rtp_port(leg), id);
            m.codecs = laws.clone();
            m
        };
        let legs = [
            LegSdp {
                local: local(LegId::A, session_id),
                offer: offer_a,
            },
            LegSdp {
                local: local(LegId::B, session_id.wrapping_add(1)),
                offer: None,
            },
        ];
        let session = Session {
            relay,
            legs,
            recorded,
            browsers: [None, None],
        };
        Ok(self.sessions.entry(call.clone()).or_insert(session))
    }

    /// Plays `prompt` once to the caller (leg A); `PlayoutFinished` says when it is over. The
    /// dialer's abandoned-call message.
    pub fn play_prompt(&self, call: &CallId, prompt: Arc<PlayoutSource>) -> bool {
        match self.sessions.get(call) {
            Some(s) => {
                s.relay.play(LegId::A, prompt, false);
                true
            }
            None => false,
        }
    }

    /// Plays the call-back offer to a waiting caller (then music on hold again, see
    /// [`RelayPlane::resume_music`]).
    pub fn play_callback_prompt(&self, call: &CallId) {
        if let Some(s) = self.sessions.get(call) {
            s.relay
                .play(LegId::A, self.settings.callback_prompt.clone(), false);
        }
    }

    /// Music on hold for a caller still waiting after a prompt.
    pub fn resume_music(&self, call: &CallId) {
        if let Some(s) = self.sessions.get(call) {
            s.relay
                .play(LegId::A, self.settings.music_on_hold.clone(), true);
        }
    }

    fn session(&mut self, call: &CallId) -> Result<&mut Session, MediaFailure> {
        self.sessions
            .get_mut(call)
            .ok_or_else(|| failure(500, "Server Internal Error (no media for this call)"))
    }
}

impl MediaPlane for RelayPlane {
    fn open(&mut self, call: &CallId, caller_offer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        refuse_unservable_webrtc(caller_offer)?;
        self.start_session(call, caller_offer)?;
        if is_webrtc_sdp(caller_offer)
            && let Err(f) = self.answer_browser(call, caller_offer)
        {
            self.close(call);
            return Err(f);
        }
        if self.webrtc_callees.contains(call) {
            return self.offer_browser(call).inspect_err(|_| self.close(call));
        }
        let s = self.session(call)?;
        let offer_b = create_offer(&s.legs[1].local);
        s.legs[1].offer = Some(offer_b.clone());
        Ok(offer_b.to_string().into_bytes())
    }

    fn park(&mut self, call: &CallId, caller_offer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        refuse_unservable_webrtc(caller_offer)?;
        if let Some(answer) = self.park_monitor(call, caller_offer) {
            return answer;
        }
        let music = self.settings.music_on_hold.clone();
        self.start_session(call, caller_offer)?;
        if is_webrtc_sdp(caller_offer) {
            if let Err(f) = self.answer_browser(call, caller_offer) {
                self.close(call);
                return Err(f);
            }
            let s = self.session(call)?;
            s.relay.play(LegId::A, music, true);
            return browser_answer(s)
                .map(String::into_bytes)
                .ok_or_else(|| failure(500, "no answer"));
        }
        let s = self.session(call)?;
        let offer_a = s.legs[0]
            .offer
            .take()
            .ok_or_else(|| failure(500, "no offer"))?;
        let (answer_a, na) = create_answer(&offer_a, &s.legs[0].local).map_err(not_acceptable)?;
        s.relay.configure_leg(LegId::A, LegConfig::from(&na));
        s.relay.play(LegId::A, music, true);
        Ok(answer_a.to_string().into_bytes())
    }

    fn answer(&mut self, call: &CallId, callee_answer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        let browser_law = self.accept_browser(call, callee_answer)?;
        let s = self.session(call)?;
        let callee_law = match browser_law {
            Some(law) => law,
            None => {
                let answer_b = parse(callee_answer, "the callee's answer")?;
                s.accept(Leg::Callee, &answer_b)?.codec
            }
        };
        if let Some(answer) = browser_answer(s) {
            // A browser caller was answered by the WebRTC stack at `open`; the relay
            // transcodes if the callee chose the other law.
            return Ok(answer.into_bytes());
        }
        let offer_a = s.legs[0]
            .offer
            .take()
            .ok_or_else(|| failure(500, "no offer"))?;
        let local_a = &mut s.legs[0].local;
        // Prefer the callee's codec so the relay does not transcode.
        local_a.codecs.sort_by_key(|c| *c != callee_law);
        let (answer_a, na) = create_answer(&offer_a, local_a).map_err(not_acceptable)?;
        s.relay.configure_leg(LegId::A, LegConfig::from(&na));
        Ok(answer_a.to_string().into_bytes())
    }

    fn reoffer(&mut self, call: &CallId, from: Leg, offer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        refuse_unservable_webrtc(offer)?;
        let offer_x = parse(offer, "the re-offer")?;
        let direction = offer_x.media_direction(0).unwrap_or_default();
        let s = self.session(call)?;
        if s.browsers[index(from.other())].is_some() {
            // Offering a browser a new DTLS-SRTP description (the other party putting it on
            // hold) is not supported yet; the call goes on as it was.
            return Err(failure(
                488,
                "Not Acceptable Here (re-INVITE towards a WebRTC leg)",
            ));
        }
        match &mut s.browsers[index(from)] {
            // A browser holding or resuming: its offer is answered on its running
            // connection once the other leg has answered ours (`reanswer`).
            Some(Browser::Running { reoffer, .. }) => {
                *reoffer = Some(String::from_utf8_lossy(offer).into_owned());
            }
            Some(Browser::Offered(_)) => return Err(failure(491, "Request Pending")),
            None => s.legs[index(from)].offer = Some(offer_x),
        }
        let other = &mut s.legs[index(from.other())];
        // We stand in for `from` towards the other leg: offer what it offered (e.g. sendonly
        // to put the other party on hold).
        other.local.direction = direction;
        other.local.session_version += 1;
        let offer_y = create_offer(&other.local);
        other.offer = Some(offer_y.clone());
        Ok(offer_y.to_string().into_bytes())
    }

    fn reanswer(
        &mut self,
        call: &CallId,
        from: Leg,
        answer: &[u8],
    ) -> Result<Vec<u8>, MediaFailure> {
        let answer_y = parse(answer, "the answer to the re-offer")?;
        let legs = self.settings.webrtc.clone();
        let s = self.session(call)?;
        let ny = s.accept(from.other(), &answer_y)?;
        let x = index(from);
        if let Some(Browser::Running { leg, reoffer, .. }) = &mut s.browsers[x] {
            let offer = reoffer.take().ok_or_else(|| failure(500, "no offer"))?;
            let legs = legs.ok_or_else(|| failure(500, "WebRTC is not enabled"))?;
            let answer_x = legs
                .reanswer_blocking(leg, &offer)
                .map_err(|e| webrtc_failure(&e))?;
            return Ok(answer_x.into_bytes());
        }
        let offer_x = s.legs[x]
            .offer
            .take()
            .ok_or_else(|| failure(500, "no offer"))?;
        let local_x = &mut s.legs[x].local;
        local_x.direction = ny.remote_direction;
        local_x.session_version += 1;
        local_x.codecs.sort_by_key(|c| *c != ny.codec);
        let (answer_x, nx) = create_answer(&offer_x, local_x).map_err(not_acceptable)?;
        s.relay.configure_leg(leg_id(from), LegConfig::from(&nx));
        Ok(answer_x.to_string().into_bytes())
    }

    fn retarget(&mut self, call: &CallId) -> Result<Vec<u8>, MediaFailure> {
        if self.webrtc_callees.contains(call) {
            return self.offer_browser(call);
        }
        let legs = self.settings.webrtc.clone();
        let s = self.session(call)?;
        if let (Some(old), Some(legs)) = (s.browsers[1].take(), legs.as_ref()) {
            close_browser(legs, old);
        }
        let leg = &mut s.legs[1];
        leg.local.direction = Direction::SendRecv;
        leg.local.session_version += 1;
        let offer = create_offer(&leg.local);
        leg.offer = Some(offer.clone());
        Ok(offer.to_string().into_bytes())
    }

    fn retarget_answer(&mut self, call: &CallId, answer: &[u8]) -> Result<(), MediaFailure> {
        if self.accept_browser(call, answer)?.is_some() {
            return Ok(());
        }
        let answer_b = parse(answer, "the transfer target's answer")?;
        self.session(call)?.accept(Leg::Callee, &answer_b)?;
        Ok(())
    }

    fn originate(&mut self, call: &CallId) -> Result<Vec<u8>, MediaFailure> {
        // A customer on the telephone network: plain RTP, both G.711 laws.
        let s = self.start_relay(call, vec![Codec::Pcmu, Codec::Pcma], None)?;
        let offer_a = create_offer(&s.legs[0].local);
        s.legs[0].offer = Some(offer_a.clone());
        Ok(offer_a.to_string().into_bytes())
    }

    fn originate_answer(&mut self, call: &CallId, answer: &[u8]) -> Result<(), MediaFailure> {
        let answer_a = parse(answer, "the customer's answer")?;
        let s = self.session(call)?;
        let na = s.accept(Leg::Caller, &answer_a)?;
        // The agent leg is offered the customer's law first, so nothing is transcoded.
        s.legs[1].local.codecs.sort_by_key(|c| *c != na.codec);
        Ok(())
    }

    fn close(&mut self, call: &CallId) {
        if self.close_monitor(call) {
            self.tenants.remove(call);
            return;
        }
        self.tenants.remove(call);
        self.webrtc_callees.remove(call);
        let Some(mut session) = self.sessions.remove(call) else {
            return;
        };
        if let Some(legs) = self.settings.webrtc.as_ref() {
            for browser in session.browsers.iter_mut().filter_map(Option::take) {
                close_browser(legs, browser);
            }
        }
        let records = self.records.clone();
        let clock = self.clock.clone();
        let files = self.settings.recordings.clone();
        let call = call.clone();
        tokio::spawn(async move {
            let report = session.relay.stop().await;
            tracing::debug!(%call, a = ?report.stats[0], b = ?report.stats[1], "call media stopped");
            if let (Some(recorder), Some(files)) = (report.sink, files) {
                // Finishing writes, hashes and syncs the file: on the recording threads.
                files.finish(recorder, clock.now(), finished(records, call));
            }
        });
    }
}

/// Files the row of a finished recording, or logs why it could not be finished.
fn finished(
    records: mpsc::UnboundedSender<RecordUpdate>,
    call: CallId,
) -> impl FnOnce(Result<RecordingInfo, FilesError>) + Send + 'static {
    move |result| match result {
        Ok(info) => {
            let _ = records.send(RecordUpdate::RecordingFinished { call, info });
        }
        Err(e) => tracing::error!(%call, error = %e, "finishing a recording failed"),
    }
}

#[cfg(test)]
#[path = "media_plane_tests.rs"]
mod tests;

//! The B2BUA's media plane on real sockets: SDP offer/answer per leg, one relay per call
//! (`switchboard_media::relay`), and the call's recording as the relay's audio sink.
//!
//! Leg A is the caller, leg B the callee. The callee is offered the codecs the caller offered
//! (in the caller's order), and the caller is answered with the codec the callee chose when
//! it can take it, so the relay only transcodes (μ-law ↔ A-law) when the two sides have no
//! law in common.

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
use switchboard_recording::{Layout, Recorder, RecorderConfig, layout};
use switchboard_sip::b2bua::{Leg, MediaFailure, MediaPlane};
use tokio::sync::mpsc;

use super::records::RecordUpdate;

/// What every call's media gets.
#[derive(Debug, Clone)]
pub(crate) struct MediaSettings {
    pub address: IpAddr,
    pub relay: RelayConfig,
    /// `None` turns recording off.
    pub recordings: Option<Layout>,
    /// What waiting callers hear (shared by every call).
    pub music_on_hold: Arc<PlayoutSource>,
    /// The call-back offer, played once to a caller past the queue's maximum wait.
    pub callback_prompt: Arc<PlayoutSource>,
}

/// One leg's side of offer/answer.
#[derive(Debug)]
struct LegSdp {
    local: LocalMedia,
    /// The last offer on this leg (theirs or ours) and whether it was ours.
    offer: Option<SessionDescription>,
}

#[derive(Debug)]
struct Session {
    relay: MediaCall<Recorder>,
    legs: [LegSdp; 2],
    recorded: bool,
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
}

fn failure(status: u16, reason: impl Into<String>) -> MediaFailure {
    MediaFailure {
        status,
        reason: reason.into(),
    }
}

fn not_acceptable(e: NegotiationError) -> MediaFailure {
    failure(e.sip_status(), format!("Not Acceptable Here ({e})"))
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

    fn recorder_for(&mut self, call: &CallId, now: Timestamp) -> Option<Recorder> {
        let layout = self.settings.recordings.as_ref()?;
        match Recorder::create(layout, call, now, now, RecorderConfig::default()) {
            Ok(r) => {
                if let (Some(tenant), Ok(path)) =
                    (self.tenants.get(call), layout::relative_path(call, now))
                {
                    // Filed after the call's own record (see `take_records`).
                    self.pending_records.push(RecordUpdate::RecordingStarted {
                        tenant: tenant.clone(),
                        call: call.clone(),
                        path: path.to_string_lossy().into_owned(),
                        at: now,
                    });
                }
                Some(r)
            }
            Err(e) => {
                // The call goes on unrecorded rather than failing.
                tracing::error!(%call, error = %e, "cannot start the call's recording");
                None
            }
        }
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
        let now = self.clock.now();
        let recorder = self.recorder_for(call, now);
        let recorded = recorder.is_some();
        let relay = MediaCall::start(
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
        let session_id = u64::try_from(now.as_millis()).unwrap_or(1);
        let local = |leg, id| {
            let mut m = LocalMedia::new(self.settings.address, relay.local_rtp_port(leg), id);
            m.codecs = laws.clone();
            m
        };
        let legs = [
            LegSdp {
                local: local(LegId::A, session_id),
                offer: Some(offer_a),
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
        };
        Ok(self.sessions.entry(call.clone()).or_insert(session))
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
        let s = self.start_session(call, caller_offer)?;
        let offer_b = create_offer(&s.legs[1].local);
        s.legs[1].offer = Some(offer_b.clone());
        Ok(offer_b.to_string().into_bytes())
    }

    fn park(&mut self, call: &CallId, caller_offer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        let music = self.settings.music_on_hold.clone();
        let s = self.start_session(call, caller_offer)?;
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
        let answer_b = parse(callee_answer, "the callee's answer")?;
        let s = self.session(call)?;
        let nb = s.accept(Leg::Callee, &answer_b)?;
        let offer_a = s.legs[0]
            .offer
            .take()
            .ok_or_else(|| failure(500, "no offer"))?;
        let local_a = &mut s.legs[0].local;
        // Prefer the callee's codec so the relay does not transcode.
        local_a.codecs.sort_by_key(|c| *c != nb.codec);
        let (answer_a, na) = create_answer(&offer_a, local_a).map_err(not_acceptable)?;
        s.relay.configure_leg(LegId::A, LegConfig::from(&na));
        Ok(answer_a.to_string().into_bytes())
    }

    fn reoffer(&mut self, call: &CallId, from: Leg, offer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        let offer_x = parse(offer, "the re-offer")?;
        let direction = offer_x.media_direction(0).unwrap_or_default();
        let s = self.session(call)?;
        s.legs[index(from)].offer = Some(offer_x);
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
        let s = self.session(call)?;
        let ny = s.accept(from.other(), &answer_y)?;
        let x = index(from);
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
        let s = self.session(call)?;
        let leg = &mut s.legs[1];
        leg.local.direction = Direction::SendRecv;
        leg.local.session_version += 1;
        let offer = create_offer(&leg.local);
        leg.offer = Some(offer.clone());
        Ok(offer.to_string().into_bytes())
    }

    fn retarget_answer(&mut self, call: &CallId, answer: &[u8]) -> Result<(), MediaFailure> {
        let answer_b = parse(answer, "the transfer target's answer")?;
        self.session(call)?.accept(Leg::Callee, &answer_b)?;
        Ok(())
    }

    fn close(&mut self, call: &CallId) {
        self.tenants.remove(call);
        let Some(session) = self.sessions.remove(call) else {
            return;
        };
        let records = self.records.clone();
        let clock = self.clock.clone();
        let call = call.clone();
        tokio::spawn(async move {
            let report = session.relay.stop().await;
            tracing::debug!(%call, a = ?report.stats[0], b = ?report.stats[1], "call media stopped");
            let Some(recorder) = report.sink else {
                return;
            };
            let now = clock.now();
            // `finish` syncs and hashes the file: blocking IO, off the async threads.
            match tokio::task::spawn_blocking(move || recorder.finish(now)).await {
                Ok(Ok(info)) => {
                    let _ = records.send(RecordUpdate::RecordingFinished { call, info });
                }
                Ok(Err(e)) => tracing::error!(%call, error = %e, "finishing a recording failed"),
                Err(e) => tracing::error!(%call, error = %e, "recording finisher panicked"),
            }
        });
    }
}

//! The tokio driver around [`Bridge`]: one [`MediaCall`] owns the four UDP sockets of one call
//! (RTP and RTCP for each leg), runs the bridge in its own task, feeds decoded audio to an
//! [`AudioSink`] (the recorder) and reports [`MediaEvent`]s, tagged with the call, on a channel
//! that may serve many calls.
//!
//! ```text
//!  call control ──commands──▶ ┌──────────── relay task ─────────────┐ ──RelayEvent──▶ call control
//!                             │ recv A/B RTP+RTCP ─▶ Bridge ─▶ send │
//!                             │ timer ─▶ handle_timeout             │ ──AudioFrame──▶ sink
//!                             └─────────────────────────────────────┘
//! ```
//! The logic stays in [`Bridge`] (and the sink); this module only moves bytes and time. What
//! the bridge originates itself (DTMF, music on hold and prompts from [`MediaCall::play`]) is
//! sent when the timer says it is due. A call may run with only leg A configured (a caller
//! waiting for an agent): A's packets are dropped and counted, its media timeout still runs.
//!
//! [`Bridge`]: crate::bridge::Bridge

mod bind;
mod monitor;
mod recording;
mod recv;
mod sink;
mod task;

pub use recording::channel_of;
pub use sink::{AudioSink, NoSink};

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::Clock;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::bridge::{Bridge, BridgeConfig, LegConfig, LegId, LegStats, MediaEvent};
use crate::mixer::{Mixer, MonitorMode, SupervisorLeg};
use crate::playout::PlayoutSource;
use crate::ports::{PortAllocator, PortError};
use crate::sdp::Direction;
use task::{Command, RelayTask, TaskOutput};

/// How to run the media of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// Address the four sockets bind to (the address written in our SDP).
    pub bind_ip: IpAddr,
    /// The bridge's tunables. `audio_tap` is set by the relay (on exactly when there is a sink)
    /// and `ssrc_seed` is replaced by a random value per call.
    pub bridge: BridgeConfig,
}

/// A media event of one call, for a channel shared by many calls.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayEvent {
    /// The call it belongs to (as given to [`MediaCall::start`]).
    pub call: String,
    /// What happened.
    pub event: MediaEvent,
}

/// Why a call's media could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// No port pair is free in the allocator.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// Every pair tried was taken by another process (or the address is not ours).
    #[error("could not bind media ports on {ip} after {tries} tries (last port {port}): {source}")]
    Bind {
        /// The bind address.
        ip: IpAddr,
        /// The last RTP port tried.
        port: u16,
        /// Pairs tried.
        tries: usize,
        /// The last bind error.
        source: std::io::Error,
    },
    /// Registering a socket with tokio failed.
    #[error("registering media socket with tokio: {0}")]
    Register(std::io::Error),
    /// Called outside a tokio runtime.
    #[error("MediaCall::start must run inside a tokio runtime")]
    NoRuntime,
}

/// What a call's media did, returned by [`MediaCall::stop`].
#[derive(Debug)]
pub struct RelayReport<S> {
    /// Counters of leg A and leg B (all zero if the relay task panicked).
    pub stats: [LegStats; 2],
    /// The sink, to finish the recording (`None` if there was none or the task panicked).
    pub sink: Option<S>,
    /// Media events dropped because the event channel was full or closed.
    pub events_dropped: u64,
    /// Datagrams the OS refused to send (buffer full, unreachable network).
    pub send_failures: u64,
    /// Whether the relay task panicked (then the counters above are zero).
    pub panicked: bool,
}

/// The media of one call: ports, sockets and the relay task. Dropping it aborts the task; the
/// runtime then drops it, closing the sockets and releasing the ports (a moment later, where
/// [`MediaCall::stop`] waits for it).
pub struct MediaCall<S: AudioSink> {
    call: String,
    rtp_ports: [u16; 2],
    /// Where a supervisor's sockets come from (see [`MediaCall::attach_monitor`]).
    ports: Arc<Mutex<PortAllocator>>,
    bind_ip: IpAddr,
    clock: Arc<dyn Clock>,
    commands: mpsc::UnboundedSender<Command>,
    /// The task owns the sockets and the port leases (dropped in that order), so a port goes
    /// back only once its socket is closed: when the task ends, or when the runtime drops it
    /// after an abort or a panic.
    task: Option<JoinHandle<TaskOutput<S>>>,
}

impl<S: AudioSink> fmt::Debug for MediaCall<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaCall")
            .field("call", &self.call)
            .field("rtp_ports", &self.rtp_ports)
            .finish_non_exhaustive()
    }
}

impl<S: AudioSink> MediaCall<S> {
    /// Allocates one RTP/RTCP port pair per leg from `ports`, binds the four sockets on
    /// `config.bind_ip` (a pair another process holds is given back and the next one tried)
    /// and spawns the relay task. Needs a tokio runtime but no `.await`.
    pub fn start(
        call: String,
        ports: Arc<Mutex<PortAllocator>>,
        config: RelayConfig,
        clock: Arc<dyn Clock>,
        sink: Option<S>,
        events: mpsc::Sender<RelayEvent>,
    ) -> Result<MediaCall<S>, RelayError> {
        Self::launch(call, ports, config, clock, (sink, None), events)
    }

    /// [`MediaCall::start`] with a sink that is still being made (a recorder whose file is
    /// created on a blocking thread): the relay taps the audio from the start and hands it to
    /// the sink once it arrives on `sink`; a dropped sender means no sink. [`MediaCall::stop`]
    /// waits for a sink still on its way, so it is always given back.
    pub fn start_with_sink_later(
        call: String,
        ports: Arc<Mutex<PortAllocator>>,
        config: RelayConfig,
        clock: Arc<dyn Clock>,
        sink: oneshot::Receiver<S>,
        events: mpsc::Sender<RelayEvent>,
    ) -> Result<MediaCall<S>, RelayError> {
        Self::launch(call, ports, config, clock, (None, Some(sink)), events)
    }

    fn launch(
        call: String,
        ports: Arc<Mutex<PortAllocator>>,
        config: RelayConfig,
        clock: Arc<dyn Clock>,
        (sink, pending_sink): (Option<S>, Option<oneshot::Receiver<S>>),
        events: mpsc::Sender<RelayEvent>,
    ) -> Result<MediaCall<S>, RelayError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RelayError::NoRuntime)?;
        let a = bind::bind_pair(&ports, config.bind_ip)?;
        let b = bind::bind_pair(&ports, config.bind_ip)?;
        let rtp_ports = [a.lease.pair().rtp, b.lease.pair().rtp];
        let register = |s: std::net::UdpSocket| {
            let _guard = runtime.enter();
            UdpSocket::from_std(s).map_err(RelayError::Register)
        };
        let sockets = [
            [register(a.rtp)?, register(a.rtcp)?],
            [register(b.rtp)?, register(b.rtcp)?],
        ];
        let bridge = BridgeConfig {
            audio_tap: sink.is_some() || pending_sink.is_some(),
            ssrc_seed: rand::random(),
            ..config.bridge
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let bind_ip = config.bind_ip;
        let task = RelayTask {
            call: call.clone(),
            sockets,
            bridge: Bridge::new(bridge),
            clock: Arc::clone(&clock),
            sink,
            pending_sink,
            events,
            commands: rx,
            bufs: Box::new([[0; task::BUF_SIZE]; recv::BATCH]),
            events_dropped: 0,
            send_failures: 0,
            monitor: None,
            _leases: [a.lease, b.lease],
        };
        let handle = runtime.spawn(task.run());
        tracing::debug!(
            call,
            a = rtp_ports[0],
            b = rtp_ports[1],
            "media relay started"
        );
        Ok(MediaCall {
            call,
            rtp_ports,
            ports,
            bind_ip,
            clock,
            commands: tx,
            task: Some(handle),
        })
    }

    /// The call this media belongs to.
    pub fn call(&self) -> &str {
        &self.call
    }

    /// Our RTP port on `leg`, for the SDP we send that leg (RTCP is the next port).
    pub fn local_rtp_port(&self, leg: LegId) -> u16 {
        match leg {
            LegId::A => self.rtp_ports[0],
            LegId::B => self.rtp_ports[1],
        }
    }

    fn send(&self, command: Command) {
        // Fails only once the task has ended (panicked); `stop` reports that.
        if self.commands.send(command).is_err() {
            tracing::warn!(
                call = self.call,
                "media relay task is gone; command ignored"
            );
        }
    }

    /// What `leg` negotiated (after its answer, and after every re-INVITE).
    pub fn configure_leg(&self, leg: LegId, config: LegConfig) {
        self.send(Command::ConfigureLeg(leg, config));
    }

    /// Hold/resume of `leg`'s peer, as its SDP wrote it.
    pub fn set_remote_direction(&self, leg: LegId, direction: Direction) {
        self.send(Command::SetDirection(leg, direction));
    }

    /// Plays `digit` as RFC 4733 events towards `toward` for `duration` (through
    /// [`crate::bridge::Bridge::send_dtmf`]). A leg without telephone-event or a bad digit is
    /// logged and ignored.
    pub fn send_dtmf(&self, toward: LegId, digit: char, duration: Duration) {
        self.send(Command::SendDtmf {
            toward,
            digit,
            duration,
        });
    }

    /// Plays `source` to `leg` (music on hold while only leg A is connected, a prompt), in the
    /// stream already going to that leg; `looped` repeats it until [`MediaCall::stop_playout`]
    /// or until media relayed from the other leg reaches `leg`, which takes over at once. A
    /// once-played source ends with [`MediaEvent::PlayoutFinished`]. The source is shared, not
    /// copied. A leg not configured yet or without G.711 is logged and ignored.
    pub fn play(&self, leg: LegId, source: Arc<PlayoutSource>, looped: bool) {
        self.send(Command::Play {
            leg,
            source,
            looped,
        });
    }

    /// Stops what [`MediaCall::play`] plays to `leg` (no event).
    pub fn stop_playout(&self, leg: LegId) {
        self.send(Command::StopPlayout(leg));
    }

    /// Mutes the recording from now on.
    pub fn pause_recording(&self) {
        self.send(Command::PauseRecording);
    }

    /// Records again after [`MediaCall::pause_recording`].
    pub fn resume_recording(&self) {
        self.send(Command::ResumeRecording);
    }

    /// A supervisor joins the call in `mode` (listen, whisper, barge; see [`crate::mixer`]):
    /// binds a port pair for the supervisor's media and returns its RTP port, for the SDP
    /// answered to the supervisor's phone. Its media flows once [`MediaCall::configure_monitor`]
    /// says what it negotiated. A supervisor already on the call is replaced.
    pub fn attach_monitor(&self, mode: MonitorMode) -> Result<u16, RelayError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RelayError::NoRuntime)?;
        let pair = bind::bind_pair(&self.ports, self.bind_ip)?;
        let port = pair.lease.pair().rtp;
        let register = |s: std::net::UdpSocket| {
            let _guard = runtime.enter();
            UdpSocket::from_std(s).map_err(RelayError::Register)
        };
        let monitor = monitor::Monitor {
            mixer: Mixer::new(mode, self.clock.now()),
            leg: SupervisorLeg::new(rand::random()),
            rtp: register(pair.rtp)?,
            _rtcp: register(pair.rtcp)?,
            _lease: pair.lease,
        };
        self.send(Command::AttachMonitor(Box::new(monitor)));
        tracing::debug!(
            call = self.call,
            port,
            mode = mode.as_str(),
            "supervisor joined"
        );
        Ok(port)
    }

    /// What the supervisor's side negotiated (its address and codecs).
    pub fn configure_monitor(&self, config: LegConfig) {
        self.send(Command::ConfigureMonitor(config));
    }

    /// Switches the supervisor between listen, whisper and barge.
    pub fn set_monitor_mode(&self, mode: MonitorMode) {
        self.send(Command::SetMonitorMode(mode));
    }

    /// The supervisor leaves: both parties hear each other as before, the port pair goes back.
    pub fn detach_monitor(&self) {
        self.send(Command::DetachMonitor);
    }

    /// Stops the task and waits for it, so the sockets are closed and the ports released when
    /// this returns; gives back the counters and the sink.
    pub async fn stop(mut self) -> RelayReport<S> {
        let _ = self.commands.send(Command::Stop);
        let Some(handle) = self.task.take() else {
            return RelayReport::failed();
        };
        match handle.await {
            Ok(out) => RelayReport {
                stats: out.stats,
                sink: out.sink,
                events_dropped: out.events_dropped,
                send_failures: out.send_failures,
                panicked: false,
            },
            Err(e) => {
                tracing::error!(call = self.call, %e, "media relay task failed");
                RelayReport::failed()
            }
        }
    }
}

impl<S> RelayReport<S> {
    fn failed() -> RelayReport<S> {
        RelayReport {
            stats: [LegStats::default(); 2],
            sink: None,
            events_dropped: 0,
            send_failures: 0,
            panicked: true,
        }
    }
}

impl<S: AudioSink> Drop for MediaCall<S> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

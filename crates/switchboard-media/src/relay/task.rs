//! The relay task of one call: waits on the four sockets, the command channel and one timer,
//! hands everything to the [`Bridge`] and the sink, and sends what comes out.

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use switchboard_core::{Clock, Timestamp};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};

use super::RelayEvent;
use super::bind::PortLease;
use super::monitor::{self, Monitor};
use super::recv::{Buffers, recv_batch};
use super::sink::AudioSink;
use crate::bridge::{Bridge, LegConfig, LegId, LegStats, Socket};
use crate::mixer::{MonitorMode, Party};
use crate::playout::PlayoutSource;
use crate::sdp::Direction;

/// Largest datagram taken in; RTP over UDP on an Ethernet path stays well below this.
pub(super) const BUF_SIZE: usize = 2048;
/// Datagrams read from one socket per wake-up, so a flooded socket cannot starve the others.
const RECV_BUDGET: usize = 32;
/// Shortest timer: deadlines are in milliseconds, and a deadline a component leaves in the
/// past must not turn the loop into a spin.
const MIN_WAIT: Duration = Duration::from_millis(1);
/// How long the timer sleeps when nothing is due (a new deadline resets it earlier).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// What the [`super::MediaCall`] handle asks of its task.
#[derive(Debug)]
pub(super) enum Command {
    ConfigureLeg(LegId, LegConfig),
    SetDirection(LegId, Direction),
    SendDtmf {
        toward: LegId,
        digit: char,
        duration: Duration,
    },
    Play {
        leg: LegId,
        source: Arc<PlayoutSource>,
        looped: bool,
    },
    StopPlayout(LegId),
    PauseRecording,
    ResumeRecording,
    /// A supervisor joins the call (its sockets bound by the handle).
    AttachMonitor(Box<Monitor>),
    /// What the supervisor's side negotiated.
    ConfigureMonitor(LegConfig),
    SetMonitorMode(MonitorMode),
    DetachMonitor,
    Stop,
}

/// What the task hands back when it ends.
#[derive(Debug)]
pub(super) struct TaskOutput<S> {
    pub(super) stats: [LegStats; 2],
    pub(super) sink: Option<S>,
    pub(super) events_dropped: u64,
    pub(super) send_failures: u64,
}

/// What woke the task.
#[derive(Debug)]
enum Wake {
    Command(Option<Command>),
    Timer,
    /// The sink that was being made arrived (or will not: its maker gave up).
    SinkArrived,
    /// Bit `i` set: socket [`SOCKETS`]`[i]` has something to read; bit [`MONITOR_BIT`]:
    /// the supervisor's RTP socket.
    Readable(u8),
}

/// The four sockets in the order of the [`Wake::Readable`] bits.
const SOCKETS: [(LegId, Socket); 4] = [
    (LegId::A, Socket::Rtp),
    (LegId::A, Socket::Rtcp),
    (LegId::B, Socket::Rtp),
    (LegId::B, Socket::Rtcp),
];

/// The [`Wake::Readable`] bit of the supervisor's socket.
const MONITOR_BIT: u8 = 1 << 4;

fn leg_index(leg: LegId) -> usize {
    match leg {
        LegId::A => 0,
        LegId::B => 1,
    }
}

fn socket_index(socket: Socket) -> usize {
    match socket {
        Socket::Rtp => 0,
        Socket::Rtcp => 1,
    }
}

/// The state of one call's relay task, built by [`super::MediaCall::start`].
pub(super) struct RelayTask<S> {
    pub(super) call: String,
    /// `[leg][Rtp, Rtcp]`.
    pub(super) sockets: [[UdpSocket; 2]; 2],
    pub(super) bridge: Bridge,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) sink: Option<S>,
    /// The sink while it is still being made elsewhere (the recorder's file is created on a
    /// blocking thread, not on the call control's loop); it replaces `sink` when it arrives.
    pub(super) pending_sink: Option<oneshot::Receiver<S>>,
    pub(super) events: mpsc::Sender<RelayEvent>,
    pub(super) commands: mpsc::UnboundedReceiver<Command>,
    /// The receive buffers of the call; packets are rewritten in them and sent from them.
    pub(super) bufs: Box<Buffers>,
    pub(super) events_dropped: u64,
    pub(super) send_failures: u64,
    /// A supervisor listening, whispering or barging in.
    pub(super) monitor: Option<Box<Monitor>>,
    /// Declared after `sockets` so the sockets close before the ports go back.
    pub(super) _leases: [PortLease; 2],
}

impl<S: AudioSink> RelayTask<S> {
    /// The earliest moment the bridge or the sink has timed work.
    fn next_deadline(&self) -> Option<Timestamp> {
        let sink = self.sink.as_ref().and_then(S::poll_timeout);
        let mixer = self.monitor.as_ref().map(|m| m.mixer.poll_timeout());
        [self.bridge.poll_timeout(), sink, mixer]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) async fn run(mut self) -> TaskOutput<S> {
        // tokio knows a new socket is writable only after its reactor has polled it once; until
        // then `try_send_to` says WouldBlock, and the first frame played right after the start
        // would be lost.
        for socket in self.sockets.iter().flatten() {
            if let Err(e) = socket.writable().await {
                tracing::debug!(call = self.call, %e, "socket writability failed");
            }
        }
        let mut timer: Pin<Box<Sleep>> = Box::pin(tokio::time::sleep(IDLE_WAIT));
        // The deadline the timer is set for; `None` = must be set (at start, and after it fired,
        // since a fired `Sleep` stays ready).
        let mut armed_for: Option<Option<Timestamp>> = None;
        loop {
            let deadline = self.next_deadline();
            if armed_for != Some(deadline) {
                let wait = match deadline {
                    Some(at) => at.since(self.clock.now()).max(MIN_WAIT),
                    None => IDLE_WAIT,
                };
                timer.as_mut().reset(Instant::now() + wait);
                armed_for = Some(deadline);
            }
            let wake = self.wait(&mut timer).await;
            match wake {
                Wake::Command(None | Some(Command::Stop)) => break,
                Wake::Command(Some(cmd)) => self.apply(cmd),
                // Its deadline is taken at the top of the loop.
                Wake::SinkArrived => {}
                Wake::Timer => {
                    armed_for = None;
                    self.on_timer();
                }
                Wake::Readable(ready) => {
                    // A command sent before a packet was (configure, then the peer talks) must
                    // take effect first.
                    while let Ok(cmd) = self.commands.try_recv() {
                        if matches!(cmd, Command::Stop) {
                            return self.end().await;
                        }
                        self.apply(cmd);
                    }
                    for (i, (leg, socket)) in SOCKETS.into_iter().enumerate() {
                        if ready & (1 << i) != 0 {
                            self.receive(leg, socket);
                        }
                    }
                    if ready & MONITOR_BIT != 0 {
                        self.receive_monitor();
                    }
                }
            }
            self.drain();
        }
        self.end().await
    }

    /// Ends the task. A sink still being made is waited for, so the caller gets the recorder
    /// back to finish even when the call ended before its file was ready.
    async fn end(mut self) -> TaskOutput<S> {
        if let Some(pending) = self.pending_sink.take()
            && let Ok(sink) = pending.await
        {
            self.sink = Some(sink);
        }
        self.finish()
    }

    /// Whether decoded audio is wanted: for the sink (present or coming) or a supervisor.
    fn wants_audio(&self) -> bool {
        self.sink.is_some() || self.pending_sink.is_some() || self.monitor.is_some()
    }

    fn finish(self) -> TaskOutput<S> {
        TaskOutput {
            stats: [self.bridge.stats(LegId::A), self.bridge.stats(LegId::B)],
            sink: self.sink,
            events_dropped: self.events_dropped,
            send_failures: self.send_failures,
        }
    }

    fn apply(&mut self, cmd: Command) {
        let now = self.clock.now();
        match cmd {
            Command::ConfigureLeg(leg, config) => self.bridge.configure_leg(leg, config, now),
            Command::SetDirection(leg, direction) => {
                self.bridge.set_remote_direction(leg, direction, now);
            }
            Command::SendDtmf {
                toward,
                digit,
                duration,
            } => {
                if let Err(e) = self.bridge.send_dtmf(toward, digit, duration, now) {
                    tracing::warn!(call = self.call, ?toward, %e, "DTMF not sent");
                }
            }
            Command::Play {
                leg,
                source,
                looped,
            } => {
                if let Err(e) = self.bridge.start_playout(leg, source, looped, now) {
                    tracing::warn!(call = self.call, ?leg, %e, "playout not started");
                }
            }
            Command::StopPlayout(leg) => {
                self.bridge.stop_playout(leg);
            }
            Command::PauseRecording => {
                if let Some(sink) = self.sink.as_mut() {
                    sink.pause(now);
                }
            }
            Command::ResumeRecording => {
                if let Some(sink) = self.sink.as_mut() {
                    sink.resume(now);
                }
            }
            Command::AttachMonitor(m) => {
                self.bridge.set_audio_tap(true);
                monitor::apply_mode(&mut self.bridge, m.mixer.mode());
                if let Some(old) = self.monitor.replace(m) {
                    tracing::warn!(call = self.call, "a second supervisor replaced the first");
                    drop(old);
                }
            }
            Command::ConfigureMonitor(config) => {
                if let Some(m) = self.monitor.as_mut() {
                    m.leg.configure(config);
                }
            }
            Command::SetMonitorMode(mode) => {
                if let Some(m) = self.monitor.as_mut() {
                    m.mixer.set_mode(mode);
                    monitor::apply_mode(&mut self.bridge, mode);
                }
            }
            Command::DetachMonitor => {
                if self.monitor.take().is_some() {
                    for leg in [LegId::A, LegId::B] {
                        self.bridge.set_mixed_output(leg, false);
                    }
                    self.bridge.set_audio_tap(self.wants_audio());
                }
            }
            // Handled by the loop.
            Command::Stop => {}
        }
    }

    fn on_timer(&mut self) {
        let now = self.clock.now();
        if self.bridge.poll_timeout().is_some_and(|t| t <= now) {
            self.bridge.handle_timeout(now);
        }
        if let Some(sink) = self.sink.as_mut()
            && sink.poll_timeout().is_some_and(|t| t <= now)
        {
            sink.handle_timeout(now);
        }
        self.send_mixes(now);
    }

    /// Sends the mixed frames that are due: the supervisor's on its own socket, the agent's
    /// (whisper, barge) and the customer's (barge) into their legs' streams.
    fn send_mixes(&mut self, now: Timestamp) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        if m.mixer.poll_timeout() > now {
            return;
        }
        for frame in m.mixer.handle_timeout(now) {
            let sent = match monitor::leg_of(frame.to) {
                None => match m.leg.packet(&frame.samples) {
                    Some((to, bytes)) => try_send(&m.rtp, &bytes, to),
                    None => true,
                },
                Some(leg) => match self.bridge.mixed_packet(leg, &frame.samples, frame.due) {
                    Some(t) => {
                        let out = &self.sockets[leg_index(t.to_leg)][socket_index(Socket::Rtp)];
                        try_send(out, &t.bytes, t.to_addr)
                    }
                    None => true,
                },
            };
            if !sent {
                self.send_failures += 1;
            }
        }
    }

    /// Reads the supervisor's RTP into the mixer.
    fn receive_monitor(&mut self) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        let mut read = 0;
        while read < RECV_BUDGET {
            let batch = match recv_batch(&m.rtp, &mut self.bufs) {
                Ok(batch) => batch,
                Err(e) if is_transient(&e) => {
                    read += 1;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(call = self.call, %e, "supervisor media receive failed");
                    return;
                }
            };
            read += batch.count.max(1);
            for (i, &(len, from)) in batch.datagrams[..batch.count].iter().enumerate() {
                let (Some(from), Some(buf)) = (from, self.bufs.get(i)) else {
                    continue;
                };
                if let Some(samples) = m.leg.receive(from, &buf[..len.min(BUF_SIZE)]) {
                    m.mixer.push(Party::Supervisor, &samples);
                }
            }
            if batch.drained {
                return;
            }
        }
    }

    /// Waits for a command, the timer or readable sockets. Every ready socket is reported at
    /// once (the two legs' packets often arrive together, and one wake-up then serves both), and
    /// a socket that stays readable cannot starve the others. The sockets are polled through
    /// their own reader slot (`poll_recv_ready`) rather than `readable()` futures, which would
    /// join and leave each socket's waiter list on every wake-up.
    async fn wait(&mut self, timer: &mut Pin<Box<Sleep>>) -> Wake {
        std::future::poll_fn(|cx| {
            if let Poll::Ready(cmd) = self.commands.poll_recv(cx) {
                return Poll::Ready(Wake::Command(cmd));
            }
            if let Some(pending) = self.pending_sink.as_mut()
                && let Poll::Ready(made) = Pin::new(pending).poll(cx)
            {
                self.pending_sink = None;
                // Err: the maker failed (and said why); the call goes on unrecorded.
                self.sink = made.ok();
                self.bridge.set_audio_tap(self.wants_audio());
                return Poll::Ready(Wake::SinkArrived);
            }
            let mut ready = 0u8;
            for (i, (leg, socket)) in SOCKETS.into_iter().enumerate() {
                let s = &self.sockets[leg_index(leg)][socket_index(socket)];
                if let Poll::Ready(r) = s.poll_recv_ready(cx) {
                    if let Err(e) = r {
                        // Only fails when the reactor is gone; the receive will say so.
                        tracing::debug!(?leg, ?socket, %e, "socket readiness failed");
                    }
                    ready |= 1 << i;
                }
            }
            if let Some(m) = self.monitor.as_ref()
                && m.rtp.poll_recv_ready(cx).is_ready()
            {
                ready |= MONITOR_BIT;
            }
            if ready != 0 {
                return Poll::Ready(Wake::Readable(ready));
            }
            timer.as_mut().poll(cx).map(|()| Wake::Timer)
        })
        .await
    }

    /// Reads what is waiting on one socket (up to the budget) and relays it.
    fn receive(&mut self, leg: LegId, socket: Socket) {
        let mut read = 0;
        while read < RECV_BUDGET {
            let from_socket = &self.sockets[leg_index(leg)][socket_index(socket)];
            let batch = match recv_batch(from_socket, &mut self.bufs) {
                Ok(batch) => batch,
                // An ICMP error for an earlier send: nothing to read, the socket is fine.
                Err(e) if is_transient(&e) => {
                    read += 1;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(call = self.call, ?leg, ?socket, %e, "media receive failed");
                    return;
                }
            };
            read += batch.count.max(1);
            for (i, &(len, from)) in batch.datagrams[..batch.count].iter().enumerate() {
                // recvmmsg names the source of every UDP datagram; without one there is no
                // peer to latch or check, so it is not relayed.
                let Some(from) = from else { continue };
                self.relay_one(leg, socket, i, len, from);
            }
            if batch.drained {
                return;
            }
        }
    }

    /// Hands datagram `i` of the buffers to the bridge and sends what it forwards.
    fn relay_one(&mut self, leg: LegId, socket: Socket, i: usize, len: usize, from: SocketAddr) {
        let now = self.clock.now();
        let Some(buf) = self.bufs.get_mut(i) else {
            return;
        };
        let packet = &mut buf[..len.min(BUF_SIZE)];
        let forward = match socket {
            Socket::Rtp => self.bridge.handle_packet(leg, from, packet, now),
            Socket::Rtcp => self.bridge.handle_rtcp(leg, from, packet, now),
        };
        if let Some(f) = forward {
            let out = &self.sockets[leg_index(f.to_leg)][socket_index(f.socket)];
            if !try_send(out, &buf[..f.len], f.to_addr) {
                self.send_failures += 1;
            }
        }
        self.drain_audio(now);
    }

    fn drain_audio(&mut self, now: Timestamp) {
        while let Some(frame) = self.bridge.poll_audio() {
            if let Some(m) = self.monitor.as_mut() {
                m.mixer.push(monitor::party_of(frame.leg), &frame.samples);
            }
            if let Some(sink) = self.sink.as_mut() {
                sink.push(&frame, now);
            }
        }
    }

    /// Sends the bridge's own packets that are due and passes on its events.
    fn drain(&mut self) {
        let now = self.clock.now();
        while let Some(t) = self.bridge.poll_transmit(now) {
            let out = &self.sockets[leg_index(t.to_leg)][socket_index(Socket::Rtp)];
            if !try_send(out, &t.bytes, t.to_addr) {
                self.send_failures += 1;
            }
        }
        self.drain_audio(now);
        while let Some(event) = self.bridge.poll_event() {
            let event = RelayEvent {
                call: self.call.clone(),
                event,
            };
            // Media never waits for call control: a full channel loses the event.
            if let Err(e) = self.events.try_send(event) {
                self.events_dropped += 1;
                tracing::warn!(call = self.call, %e, "media event dropped");
            }
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

/// Sends without waiting: a socket buffer full enough to block means the packet is late anyway.
fn try_send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) -> bool {
    match socket.try_send_to(bytes, to) {
        Ok(_) => true,
        Err(e) => {
            tracing::debug!(%to, %e, "media send failed");
            false
        }
    }
}

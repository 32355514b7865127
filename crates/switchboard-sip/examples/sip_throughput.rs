//! How much SIP work one core does without any IO: parsing the SIPp INVITE fixture, and a
//! full UAS call setup through the transaction layer (INVITE → 100/180/200 → ACK → BYE/200).
//!
//! `cargo run --release -p switchboard-sip --example sip_throughput [ITERATIONS]`
//!
//! Rates are per second of this process's own CPU time (from /proc/self/stat), so other load
//! on a shared machine does not count against us.

use std::time::Instant;

use switchboard_sip::message::{Message, Method, Transport, parse_datagram, response_to};
use switchboard_sip::transaction::{LayerOutput, Peer, Timers, TransactionLayer};

const INVITE: &[u8] = include_bytes!("../tests/fixtures/invite_sdp.sip");

/// User+system CPU seconds used by this process so far (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the ")" that closes the command name; utime and stime are 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Kernel clock ticks are 100 per second on every Linux we run on.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);

    let c = cpu_seconds();
    let mut bytes = 0usize;
    for _ in 0..n {
        let msg = parse_datagram(std::hint::black_box(INVITE))?;
        bytes += msg.to_bytes().len();
    }
    let secs = (cpu_seconds() - c).max(0.01);
    println!(
        "parse+serialise INVITE with SDP: {:.0} msgs/s ({:.2} µs each, {bytes} bytes out)",
        f64::from(n) / secs,
        secs * 1e6 / f64::from(n)
    );

    let peer = Peer {
        transport: Transport::Udp,
        addr: "127.0.0.1:5061".parse()?,
    };
    let mut layer = TransactionLayer::new(Timers::default());
    let now = Instant::now();
    let text = String::from_utf8_lossy(INVITE).into_owned();
    let c = cpu_seconds();
    for i in 0..n {
        let wire = text
            .replace("z9hG4bK-4711-1-0", &format!("z9hG4bK-{i}"))
            .replace("1-4711@", &format!("{i}-4711@"));
        let Message::Request(invite) = parse_datagram(wire.as_bytes())? else {
            return Err("fixture is not a request".into());
        };
        layer.receive(Message::Request(invite.clone()), peer, now)?;
        let mut key = None;
        while let Some(o) = layer.poll_output() {
            if let LayerOutput::Request { key: k, .. } = o {
                key = Some(k);
            }
        }
        let key = key.ok_or("no transaction")?;
        layer.respond(&key, response_to(&invite, 180, Some("uas")), now)?;
        layer.respond(&key, response_to(&invite, 200, Some("uas")), now)?;
        let mut ack = invite.clone();
        ack.method = Method::Ack;
        ack.headers.set("CSeq", "1 ACK");
        ack.headers.set(
            "Via",
            &format!("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-ack-{i}"),
        );
        layer.receive(Message::Request(ack), peer, now)?;
        let mut bye = invite.clone();
        bye.method = Method::Bye;
        bye.headers.set("CSeq", "2 BYE");
        bye.headers.set(
            "Via",
            &format!("SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-bye-{i}"),
        );
        layer.receive(Message::Request(bye.clone()), peer, now)?;
        while let Some(o) = layer.poll_output() {
            if let LayerOutput::Request { key, .. } = o {
                layer.respond(&key, response_to(&bye, 200, Some("uas")), now)?;
            }
        }
        while layer.poll_output().is_some() {}
    }
    let secs = (cpu_seconds() - c).max(0.01);
    println!(
        "UAS call setup+teardown through the transaction layer: {:.0} calls/s per core \
         ({} transactions still in their linger timers)",
        f64::from(n) / secs,
        layer.len()
    );
    Ok(())
}

//! Issue 5, acceptance 5 (transport half): truncated, oversized, binary-garbage and
//! wrong-Content-Length input over UDP and TCP never crashes or stalls the real server; each is
//! answered 400 or dropped, and `/metrics` counts them. Afterwards OPTIONS still gets 200.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use support::{Workdir, http};

const WAIT: Duration = Duration::from_secs(5);

fn options(transport: &str, branch: &str, extra: &str) -> String {
    format!(
        "OPTIONS sip:e2e.test SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nTo: <sip:e2e.test>\r\nFrom: <sip:probe@x>;tag=1\r\n\
         Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

/// The addresses from the "SIP listening udp=… tcp=…" log line.
fn sip_addrs(lines: &[String]) -> (SocketAddr, SocketAddr) {
    let line = lines
        .iter()
        .find(|l| l.contains("SIP listening"))
        .unwrap_or_else(|| panic!("no SIP listening line in {lines:#?}"));
    let field = |name: &str| -> SocketAddr {
        let start = line.find(name).unwrap() + name.len();
        line[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (field("udp="), field("tcp="))
}

/// Status of the first response in `raw`, if any.
fn status_of(raw: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(raw);
    let line = text.lines().next()?;
    line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn udp_ask(sock: &UdpSocket, to: SocketAddr, data: &[u8]) -> Option<u16> {
    sock.send_to(data, to).unwrap();
    let mut buf = vec![0u8; 65536];
    match sock.recv(&mut buf) {
        Ok(n) => status_of(&buf[..n]),
        Err(_) => None,
    }
}

/// Writes `data` on a fresh connection, half-closes, and returns everything the server sent
/// before closing its side (a server that stalled would make this time out).
fn tcp_exchange(to: SocketAddr, data: &[u8], half_close: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(to).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let _ = s.write_all(data);
    if half_close {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

fn metric(text: &str, name: &str, transport: &str) -> u64 {
    let key = format!("switchboard_{name}_total{{transport=\"{transport}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("{key} missing from /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn malformed_sip_over_udp_and_tcp_is_answered_or_dropped_counted_and_the_server_keeps_serving() {
    let wd = Workdir::new();
    wd.write(
        "sip-config/switchboard.toml",
        "[sip]\nudp_listen = \"127.0.0.1:0\"\ntcp_listen = \"127.0.0.1:0\"\ndomain = \"e2e.test\"\n",
    );
    let server = wd.serve();
    let (udp_addr, tcp_addr) = sip_addrs(&server.seen);

    // --- UDP
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let truncated = options("UDP", "u1", "").replace("Content-Length: 0", "Content-Length: 500");
    assert_eq!(udp_ask(&sock, udp_addr, truncated.as_bytes()), Some(400));
    let pad: String = (0..600)
        .map(|i| format!("X-Pad-{i}: {}\r\n", "a".repeat(80)))
        .collect();
    let oversized = options("UDP", "u2", &pad);
    assert!(oversized.len() > 50_000);
    assert_eq!(udp_ask(&sock, udp_addr, oversized.as_bytes()), Some(400));
    let garbage: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect();
    assert_eq!(udp_ask(&sock, udp_addr, &garbage), None);
    let wrong_length =
        options("UDP", "u3", "").replace("Content-Length: 0", "Content-Length: zero");
    assert_eq!(udp_ask(&sock, udp_addr, wrong_length.as_bytes()), Some(400));

    // --- TCP: each on its own connection, since framing errors close the connection.
    let cut = options("TCP", "t1", "").replace("Content-Length: 0", "Content-Length: 500");
    assert!(tcp_exchange(tcp_addr, format!("{cut}only a bit").as_bytes(), true).is_empty());
    let head_without_end = vec![b'A'; 70 * 1024];
    assert!(tcp_exchange(tcp_addr, &head_without_end, false).is_empty());
    let mut framed_garbage = garbage.clone();
    framed_garbage.extend_from_slice(b"\r\n\r\n");
    assert!(tcp_exchange(tcp_addr, &framed_garbage, false).is_empty());
    let wrong = options("TCP", "t2", "").replace("Content-Length: 0", "Content-Length: 12x");
    assert_eq!(
        status_of(&tcp_exchange(tcp_addr, wrong.as_bytes(), false)),
        Some(400)
    );

    // --- still serving on both transports
    assert_eq!(
        udp_ask(&sock, udp_addr, options("UDP", "ok1", "").as_bytes()),
        Some(200)
    );
    let answer = tcp_exchange(tcp_addr, options("TCP", "ok2", "").as_bytes(), true);
    assert_eq!(status_of(&answer), Some(200));

    let (code, text) = http(server.addr, "GET", "/metrics", &[], "");
    assert_eq!(code, 200);
    // UDP: four bad datagrams and one OPTIONS; three answered 400, the garbage dropped.
    assert_eq!(metric(&text, "sip_received", "udp"), 5);
    assert_eq!(metric(&text, "sip_parse_errors", "udp"), 4);
    assert_eq!(metric(&text, "sip_bad_requests_sent", "udp"), 3);
    assert_eq!(metric(&text, "sip_dropped", "udp"), 1);
    // TCP: the cut-off message is dropped at close; the endless head and the garbage lose the
    // framing (dropped, connection closed); the bad Content-Length is answered 400 and closed.
    assert_eq!(metric(&text, "sip_received", "tcp"), 5);
    assert_eq!(metric(&text, "sip_parse_errors", "tcp"), 3);
    assert_eq!(metric(&text, "sip_bad_requests_sent", "tcp"), 1);
    assert_eq!(metric(&text, "sip_dropped", "tcp"), 3);
    assert_eq!(metric(&text, "sip_desync_closed", "tcp"), 3);

    let (code, _, lines) = server.terminate(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("panicked")), "{lines:#?}");
}

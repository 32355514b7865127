//! The driver over real loopback sockets. These wait on socket reads (with a timeout so a bug
//! fails instead of hanging), never on sleeps.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::*;
use crate::message::{Message, parse_datagram, response_to};

const WAIT: Duration = Duration::from_secs(5);

fn options(transport: &str, branch: &str) -> String {
    format!(
        "OPTIONS sip:switchboard.local SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nTo: <sip:switchboard.local>\r\nFrom: <sip:probe@x>;tag=1\r\n\
         Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

async fn start() -> (SipDriver, mpsc::Receiver<TuEvent>) {
    let any = "127.0.0.1:0".parse().expect("address");
    SipDriver::start(DriverConfig::new(any, any), Counters::new())
        .await
        .expect("driver starts")
}

async fn udp_exchange(sock: &UdpSocket, to: SocketAddr, data: &[u8]) -> Option<Message> {
    sock.send_to(data, to).await.expect("send");
    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(Duration::from_millis(500), sock.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    parse_datagram(&buf[..n]).ok()
}

fn status(m: Option<Message>) -> Option<u16> {
    match m {
        Some(Message::Response(r)) => Some(r.status),
        _ => None,
    }
}

#[tokio::test]
async fn options_over_udp_is_answered_200() {
    let (driver, _tu) = start().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let got = udp_exchange(&sock, driver.udp_addr(), options("UDP", "o1").as_bytes()).await;
    assert_eq!(status(got), Some(200));
    driver.shutdown().await;
}

#[tokio::test]
async fn udp_garbage_is_counted_and_a_readable_bad_request_gets_a_400() {
    let (driver, _tu) = start().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let to = driver.udp_addr();
    assert_eq!(
        udp_exchange(&sock, to, b"\x00\xff\x13garbage\x01").await,
        None
    );
    let bad_cseq = options("UDP", "o2").replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS");
    assert_eq!(
        status(udp_exchange(&sock, to, bad_cseq.as_bytes()).await),
        Some(400)
    );
    let c = &driver.counters().udp;
    assert_eq!(c.received.load(Ordering::Relaxed), 2);
    assert_eq!(c.parse_errors.load(Ordering::Relaxed), 2);
    assert_eq!(c.bad_requests_sent.load(Ordering::Relaxed), 1);
    assert_eq!(c.dropped.load(Ordering::Relaxed), 1);
    // Still serving.
    let got = udp_exchange(&sock, to, options("UDP", "o3").as_bytes()).await;
    assert_eq!(status(got), Some(200));
    driver.shutdown().await;
}

#[tokio::test]
async fn register_goes_to_the_tu_and_its_answer_goes_back_over_udp() {
    let (driver, mut tu) = start().await;
    let handle = driver.handle();
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let register = options("UDP", "r1").replace("OPTIONS", "REGISTER");
    sock.send_to(register.as_bytes(), driver.udp_addr())
        .await
        .expect("send");
    let event = tokio::time::timeout(WAIT, tu.recv())
        .await
        .expect("TU event");
    let Some(TuEvent::Request { key, request, from }) = event else {
        panic!("expected a request, got {event:?}");
    };
    assert_eq!(from.addr, sock.local_addr().expect("addr"));
    handle
        .respond(key, response_to(&request, 486, Some("t")))
        .await
        .expect("respond");
    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(WAIT, sock.recv(&mut buf))
        .await
        .expect("answer in time")
        .expect("recv");
    assert_eq!(status(parse_datagram(&buf[..n]).ok()), Some(486));
    driver.shutdown().await;
}

/// The TU gets a client transaction's key at once (no round trip to the core); the request goes
/// out on the wire, and a second request on the same branch, which the core cannot start,
/// comes back as a transport error for that key.
#[tokio::test]
async fn a_request_of_the_tu_goes_out_and_a_refused_one_comes_back_as_an_error() {
    let (driver, mut tu) = start().await;
    let handle = driver.handle();
    let phone = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let to = crate::transaction::Peer {
        transport: crate::message::Transport::Udp,
        addr: phone.local_addr().expect("addr"),
    };
    let Ok(Message::Request(request)) = parse_datagram(options("UDP", "out1").as_bytes()) else {
        panic!("the test's OPTIONS parses");
    };
    let key = handle
        .send_request(request.clone(), to)
        .await
        .expect("sent");
    assert_eq!(key, TxKey::for_outgoing_request(&request).expect("key"));
    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(WAIT, phone.recv(&mut buf))
        .await
        .expect("the request reaches the phone")
        .expect("recv");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("OPTIONS "));

    let again = handle.send_request(request, to).await.expect("handed over");
    assert_eq!(again, key);
    loop {
        let event = tokio::time::timeout(WAIT, tu.recv())
            .await
            .expect("the refusal reaches the TU");
        match event {
            Some(TuEvent::TransportError { key: k }) => {
                assert_eq!(k, key);
                break;
            }
            Some(_) => continue,
            None => panic!("the driver stopped"),
        }
    }
    driver.shutdown().await;
}

/// The SIP socket's receive buffer is enlarged beyond the system default (bursts of datagrams
/// wait there instead of being dropped).
#[tokio::test]
async fn the_sip_udp_socket_gets_a_larger_receive_buffer() {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let ours = bind_udp(any).expect("bind");
    let plain = std::net::UdpSocket::bind(any).expect("bind");
    let size = |s: socket2::SockRef<'_>| s.recv_buffer_size().expect("SO_RCVBUF");
    assert!(
        size(socket2::SockRef::from(&ours)) > size(socket2::SockRef::from(&plain)),
        "ours {} vs default {}",
        size(socket2::SockRef::from(&ours)),
        size(socket2::SockRef::from(&plain))
    );
}

#[tokio::test]
async fn requests_without_a_tu_are_answered_503() {
    let (driver, tu) = start().await;
    drop(tu);
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let register = options("UDP", "r2").replace("OPTIONS", "REGISTER");
    let got = udp_exchange(&sock, driver.udp_addr(), register.as_bytes()).await;
    assert_eq!(status(got), Some(503));
    driver.shutdown().await;
}

async fn read_response(stream: &mut TcpStream) -> Option<u16> {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    loop {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"\r\n\r\n") {
            return status(parse_datagram(&got).ok());
        }
    }
}

#[tokio::test]
async fn tcp_options_answered_then_a_bad_content_length_closes_the_connection() {
    let (driver, _tu) = start().await;
    let mut stream = TcpStream::connect(driver.tcp_addr())
        .await
        .expect("connect");
    stream
        .write_all(options("TCP", "t1").as_bytes())
        .await
        .expect("write");
    assert_eq!(read_response(&mut stream).await, Some(200));
    let bad = options("TCP", "t2").replace("Content-Length: 0", "Content-Length: nine");
    stream.write_all(bad.as_bytes()).await.expect("write");
    // The framing error is answered (the head was readable), then the connection closes.
    assert_eq!(read_response(&mut stream).await, Some(400));
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(WAIT, stream.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "connection should close");
    let c = &driver.counters().tcp;
    assert_eq!(c.desync_closed.load(Ordering::Relaxed), 1);
    assert_eq!(c.bad_requests_sent.load(Ordering::Relaxed), 1);
    // A new connection still works.
    let mut again = TcpStream::connect(driver.tcp_addr())
        .await
        .expect("connect");
    again
        .write_all(options("TCP", "t3").as_bytes())
        .await
        .expect("write");
    assert_eq!(read_response(&mut again).await, Some(200));
    driver.shutdown().await;
}

#[tokio::test]
async fn tcp_connections_over_the_limit_are_refused_and_counted() {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let mut config = DriverConfig::new(any, any);
    config.max_tcp_connections = 1;
    let (driver, _tu) = SipDriver::start(config, Counters::new())
        .await
        .expect("start");
    let mut first = TcpStream::connect(driver.tcp_addr())
        .await
        .expect("connect");
    first
        .write_all(options("TCP", "l1").as_bytes())
        .await
        .expect("write");
    assert_eq!(read_response(&mut first).await, Some(200));
    let mut second = TcpStream::connect(driver.tcp_addr())
        .await
        .expect("connect");
    let _ = second.write_all(options("TCP", "l2").as_bytes()).await;
    assert_eq!(read_response(&mut second).await, None);
    assert_eq!(driver.counters().tcp.dropped.load(Ordering::Relaxed), 1);
    driver.shutdown().await;
}

fn invite(branch: &str, to_tag: Option<&str>, method: &str) -> String {
    let tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "{method} sip:1001@switchboard.local SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nTo: <sip:1001@switchboard.local>{tag}\r\n\
         From: <sip:caller@x>;tag=f{branch}\r\nCall-ID: {branch}\r\nCSeq: 1 {method}\r\n\
         Contact: <sip:caller@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n"
    )
}

#[tokio::test]
async fn under_overload_new_calls_get_503_but_hang_ups_still_reach_the_tu() {
    let any = "127.0.0.1:0".parse().expect("address");
    let mut config = DriverConfig::new(any, any);
    config.queue_depth = 8;
    let counters = Counters::new();
    let (driver, mut tu) = SipDriver::start(config, counters.clone())
        .await
        .expect("driver starts");
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    // The TU reads nothing: its queue fills. A quarter (2) is kept for calls already up.
    for i in 0..8 {
        let msg = invite(&format!("i{i}"), None, "INVITE");
        sock.send_to(msg.as_bytes(), driver.udp_addr())
            .await
            .expect("send");
    }
    // Collect what comes back (100 Trying from the transactions, 503 for the refused).
    let mut refused = std::collections::BTreeSet::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(700), sock.recv(&mut buf)).await
    {
        if let Ok(Message::Response(r)) = parse_datagram(&buf[..n])
            && r.status == 503
        {
            refused.insert(r.headers.call_id().expect("Call-ID").to_owned());
        }
    }
    assert_eq!(
        refused.len(),
        2,
        "6 INVITEs queued, then new calls refused: {refused:?}"
    );
    assert_eq!(counters.overload_refused.load(Ordering::Relaxed), 2);
    // A BYE of a call in progress is not refused: it waits in the reserve for the TU.
    let bye = invite("bye1", Some("ours"), "BYE");
    sock.send_to(bye.as_bytes(), driver.udp_addr())
        .await
        .expect("send");
    // (The refused INVITEs' 503s are retransmitted meanwhile: only the BYE's answer counts.)
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(500), sock.recv(&mut buf)).await
    {
        if let Ok(Message::Response(r)) = parse_datagram(&buf[..n]) {
            assert_ne!(
                r.headers.call_id().expect("Call-ID"),
                "bye1",
                "the BYE was answered {}",
                r.status
            );
        }
    }
    let mut methods = Vec::new();
    while let Ok(event) = tu.try_recv() {
        if let TuEvent::Request { request, .. } = event {
            methods.push(request.method.as_str().to_owned());
        }
    }
    assert_eq!(methods.iter().filter(|m| *m == "INVITE").count(), 6);
    assert_eq!(methods.last().map(String::as_str), Some("BYE"));
    driver.shutdown().await;
}

//! Webhook delivery survives `kill -9` of the real `switchboard serve`: events queued while the
//! receiver refused them are delivered after a restart, none lost, each signed.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Workdir, http};

#[derive(Debug, Clone)]
struct Received {
    key: String,
    event_type: String,
    signature: String,
    body: Vec<u8>,
}

/// A minimal real HTTP receiver (std only): records each POST and answers with `status`.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (g, s) = (got.clone(), status.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (g, s) = (g.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut reader = BufReader::new(stream);
                    let mut headers = HashMap::new();
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                        }
                    }
                    let len: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let h = |k: &str| headers.get(k).cloned().unwrap_or_default();
                    g.lock().unwrap().push(Received {
                        key: h("idempotency-key"),
                        event_type: h("x-switchboard-event"),
                        signature: h("x-switchboard-signature"),
                        body,
                    });
                    let code = s.load(Ordering::SeqCst);
                    let reply = format!(
                        "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = reader.get_mut().write_all(reply.as_bytes());
                });
            }
        });
        Receiver { addr, got, status }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&[Received]) -> bool) {
        let started = Instant::now();
        while !done(&self.received()) {
            assert!(
                started.elapsed() < limit,
                "timed out waiting for {what}: {:?}",
                self.received()
            );
            // Polling an external process's effect: there is no event to wait on here.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn login(addr: SocketAddr, wd: &Workdir) -> String {
    let password = std::fs::read_to_string(wd.path().join("var/initial-admin-password")).unwrap();
    let body = json!({ "username": "admin", "password": password.trim() }).to_string();
    let (status, text) = http(
        addr,
        "POST",
        "/api/v1/auth/login",
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

fn post(addr: SocketAddr, token: &str, path: &str, body: Value) -> Value {
    let auth = format!("Bearer {token}");
    let (status, text) = http(
        addr,
        "POST",
        path,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        &body.to_string(),
    );
    assert_eq!(status, 201, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn events_queued_when_the_server_is_killed_are_delivered_after_restart() {
    let wd = Workdir::new();
    let receiver = Receiver::start();
    let mut server = wd.serve();
    let token = login(server.addr, &wd);
    let url = format!("http://{}/hook", receiver.addr);
    let sub = post(
        server.addr,
        &token,
        "/api/v1/webhooks",
        json!({ "url": url, "event_types": ["ticket.*"] }),
    );
    let secret = sub["secret"].as_str().unwrap().to_owned();

    // The receiver refuses everything: events stay queued and are retried.
    receiver.status.store(503, Ordering::SeqCst);
    let mut tickets = HashSet::new();
    for i in 0..5 {
        let t = post(
            server.addr,
            &token,
            "/api/v1/tickets",
            json!({ "subject": format!("complaint {i}"), "emotion": "anxious" }),
        );
        tickets.insert(t["id"].as_str().unwrap().to_owned());
    }
    receiver.wait_for("a first refused attempt", Duration::from_secs(30), |r| {
        !r.is_empty()
    });

    // kill -9: no graceful shutdown, no chance to flush anything.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    receiver.got.lock().unwrap().clear();
    receiver.status.store(200, Ordering::SeqCst);
    let server = wd.serve();
    receiver.wait_for(
        "every ticket.created after restart",
        Duration::from_secs(60),
        |r| {
            r.iter()
                .filter(|e| e.event_type == "ticket.created")
                .map(|e| e.key.clone())
                .collect::<HashSet<_>>()
                .len()
                >= tickets.len()
        },
    );

    let got = receiver.received();
    let mut seen = HashSet::new();
    for r in got.iter().filter(|r| r.event_type == "ticket.created") {
        assert!(
            switchboard_crm::webhooks::verify(&secret, &r.body, &r.signature),
            "bad signature on {}",
            r.key
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"], r.key.as_str());
        seen.insert(body["data"]["ticket"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, tickets, "every ticket's event arrived");
    let (code, _, _) = server.terminate(Duration::from_secs(20));
    assert_eq!(code, Some(0));
}

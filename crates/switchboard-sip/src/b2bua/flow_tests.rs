//! A connection that closes under a call (a browser's WebSocket): the calls on it end cleanly.

use super::*;

fn closed() -> EndCause {
    EndCause::System("transport-closed")
}

#[test]
fn a_callee_whose_socket_closes_mid_call_is_hung_up_and_the_caller_gets_bye() {
    let (mut h, id) = Harness::start(vec![target("192.0.2.20:5080")]);
    h.answered_call();
    h.b2bua
        .flow_closed(peer("192.0.2.20:5080"), closed(), &mut h.media, t(5000));
    h.drain();
    let byes = h.sent(Method::Bye);
    assert!(byes.iter().any(|(_, to)| *to == peer("192.0.2.10:5070")));
    assert_eq!(h.ended()[0].0.as_str(), "transport-closed");
    assert_eq!(h.media.closed, vec![id]);
    assert!(h.b2bua.is_empty());
}

#[test]
fn a_ringing_fork_on_the_closed_socket_fails_and_the_others_ring_on() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080"), target("192.0.2.21:5080")]);
    h.b2bua
        .flow_closed(peer("192.0.2.20:5080"), closed(), &mut h.media, t(1000));
    h.drain();
    assert!(h.ended().is_empty());
    assert_eq!(h.b2bua.len(), 1);
    assert!(h.sent(Method::Cancel).is_empty());
    // The other fork can still answer.
    let (invite, _) = h.callee_invites()[1].clone();
    h.callee_says(&invite, 200, "other", b"B-ANSWER");
    assert!(h.caller_responses().contains(&200));
}

#[test]
fn the_only_target_closing_while_it_rings_ends_the_call_with_an_error_to_the_caller() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    let (invite, _) = h.callee_invites()[0].clone();
    h.callee_says(&invite, 180, "btag", b"");
    h.b2bua
        .flow_closed(peer("192.0.2.20:5080"), closed(), &mut h.media, t(1000));
    h.drain();
    assert_eq!(h.caller_responses().last(), Some(&480));
    assert_eq!(h.ended()[0].0, EndCause::Unavailable);
    assert!(h.b2bua.is_empty());
}

#[test]
fn a_caller_whose_socket_closes_while_it_rings_cancels_the_callee() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    h.b2bua
        .flow_closed(peer("192.0.2.10:5070"), closed(), &mut h.media, t(1000));
    h.drain();
    assert_eq!(h.sent(Method::Cancel).len(), 1);
    assert_eq!(h.ended()[0].0.as_str(), "transport-closed");
    assert!(h.b2bua.is_empty());
}

#[test]
fn a_socket_with_no_calls_on_it_changes_nothing() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    let before = h.out.len();
    h.b2bua
        .flow_closed(peer("192.0.2.99:5080"), closed(), &mut h.media, t(1000));
    h.drain();
    assert_eq!(h.out.len(), before);
    assert_eq!(h.b2bua.len(), 1);
}

//! Misbehaving peers (scripted, tests/common/fake_peer.rs): every pending call gets the
//! right error kind, the connection is dropped and the next call reconnects, and other
//! proxies are unaffected.

mod common;

use common::fake_peer::{FakePeer, Fault};
use common::run_until;
use pyro_async::protocol::FLAGS_ONEWAY;
use pyro_async::runtime::{CallRequest, ContextOptions, Outcome, Proxy};
use pyro_async::{ErrorKind, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Results = Arc<Mutex<Vec<Outcome>>>;

fn call(p: &Proxy, results: &Results, arg: i64, oneway: bool) {
    let r = results.clone();
    let mut req = CallRequest::new("echo", vec![Value::Int(arg)], vec![]);
    if oneway {
        req.flags = FLAGS_ONEWAY;
    }
    p.call(req, Box::new(move |o| r.lock().unwrap().push(o)))
        .unwrap();
}

/// The fault hits the first connection, once while it is new (the calls go through the
/// I/O thread) and once after a good call (the first call is written by the submitting
/// thread itself, the one behind it as a pipelined burst); each time two pipelined calls
/// both fail with `kind`; a later call reconnects and succeeds; a proxy on a healthy peer
/// is unaffected.
fn check(fault: Fault, kind: ErrorKind, timeout: Option<Duration>, message: &str) {
    check_on(fault.clone(), kind, timeout, message, false);
    check_on(fault, kind, timeout, message, true);
}

fn check_on(fault: Fault, kind: ErrorKind, timeout: Option<Duration>, message: &str, used: bool) {
    let ctx = common::new_context(ContextOptions {
        max_message_size: 1 << 20,
        ..ContextOptions::default()
    });
    let first = if used {
        Fault::AfterEchoes(1, Box::new(fault.clone()))
    } else {
        fault.clone()
    };
    let peer = FakePeer::start(vec![first, Fault::Echo]);
    let healthy = FakePeer::start(vec![Fault::Echo]);
    let p = ctx.proxy(&peer.uri()).unwrap();
    if used {
        let warm: Results = Default::default();
        call(&p, &warm, 0, false);
        run_until(&ctx, &warm, 1, 15);
        assert!(warm.lock().unwrap()[0].is_ok(), "{fault:?}: warm-up call");
        assert!(
            p.direct_lane_open(),
            "{fault:?}: lane open after a good call"
        );
    }
    p.set_timeout(timeout);
    let h = ctx.proxy(&healthy.uri()).unwrap();
    let results: Results = Default::default();
    let other: Results = Default::default();
    call(&p, &results, 1, false);
    call(&p, &results, 2, false);
    if used {
        // both on the lane: the first written here, the second as a burst (deadlines
        // handed to the I/O thread's timers)
        assert_eq!(p.direct_calls(), 2, "{fault:?}: calls on the direct lane");
    }
    call(&h, &other, 3, false);
    run_until(&ctx, &results, 2, 15);
    run_until(&ctx, &other, 1, 15);
    for (i, o) in results.lock().unwrap().iter().enumerate() {
        let e = o
            .as_ref()
            .expect_err(&format!("{fault:?}: expected an error"));
        // A deadline fails its own call only: the call pipelined behind it keeps its
        // own deadline (and here times out too, the server being stuck).
        assert_eq!(e.kind, kind, "{fault:?}: call {i}: {}", e.message);
        assert!(
            e.message.contains(message),
            "{fault:?}: {:?} lacks {message:?}",
            e.message
        );
    }
    assert_eq!(
        other.lock().unwrap()[0].as_ref().unwrap().value,
        Value::Int(3),
        "{fault:?} affected another proxy"
    );
    // the next call uses a fresh connection and works
    p.set_timeout(None);
    let again: Results = Default::default();
    call(&p, &again, 4, false);
    run_until(&ctx, &again, 1, 15);
    assert_eq!(
        again.lock().unwrap()[0]
            .as_ref()
            .map(|r| r.value.clone())
            .ok(),
        Some(Value::Int(4)),
        "{fault:?}"
    );
    assert_eq!(
        peer.connections(),
        2,
        "{fault:?}: the failed connection must be replaced"
    );
}

#[test]
fn delay_past_deadline_is_timeout() {
    check(
        Fault::Delay(Duration::from_millis(400)),
        ErrorKind::Timeout,
        Some(Duration::from_millis(100)),
        "timed out",
    );
}

#[test]
fn stall_mid_message_is_timeout() {
    check(
        Fault::StallMidMessage,
        ErrorKind::Timeout,
        Some(Duration::from_millis(300)),
        "timed out",
    );
}

#[test]
fn close_mid_message_is_communication() {
    // "closed by the server" or, with our second request unread there, "reset by peer"
    check(Fault::CloseAfter(10), ErrorKind::Communication, None, "");
}

#[test]
fn reset_is_communication() {
    check(Fault::Reset, ErrorKind::Communication, None, "");
}

#[test]
fn bad_checksum_is_protocol() {
    check(Fault::BadChecksum, ErrorKind::Protocol, None, "checksum");
}

#[test]
fn bad_version_is_protocol() {
    check(Fault::BadVersion, ErrorKind::Protocol, None, "version 47");
}

#[test]
fn wrong_sequence_is_protocol() {
    check(Fault::WrongSeq, ErrorKind::Protocol, None, "sequence");
}

#[test]
fn unknown_message_type_is_protocol() {
    check(Fault::UnknownType, ErrorKind::Protocol, None, "");
}

#[test]
fn two_gigabyte_length_is_refused_before_allocating() {
    check(
        Fault::HugeLength,
        ErrorKind::Protocol,
        None,
        "exceeds the maximum of 1048576",
    );
}

#[test]
fn annotations_longer_than_message_is_protocol() {
    check(
        Fault::AnnotationsOverrun,
        ErrorKind::Protocol,
        None,
        "annotation",
    );
}

/// Compressed garbage spoils a payload, not the framing (decompression happens where
/// the reply is decoded, off the I/O thread for big replies): each call fails with
/// PROTOCOL, the connection stays, and another proxy is unaffected.
#[test]
fn compressed_garbage_fails_only_its_call() {
    let ctx = common::new_context(ContextOptions::default());
    let peer = FakePeer::start(vec![Fault::CompressedGarbage]);
    let healthy = FakePeer::start(vec![Fault::Echo]);
    let p = ctx.proxy(&peer.uri()).unwrap();
    let h = ctx.proxy(&healthy.uri()).unwrap();
    let (results, other): (Results, Results) = Default::default();
    call(&p, &results, 1, false);
    call(&p, &results, 2, false);
    call(&h, &other, 3, false);
    run_until(&ctx, &results, 2, 15);
    run_until(&ctx, &other, 1, 15);
    for o in results.lock().unwrap().iter() {
        let e = o.as_ref().expect_err("garbage must not decode");
        assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
        assert!(e.message.contains("compressed"), "{}", e.message);
    }
    assert_eq!(
        other.lock().unwrap()[0].as_ref().unwrap().value,
        Value::Int(3)
    );
    assert_eq!(peer.connections(), 1, "the framing is intact: no reconnect");
}

#[test]
fn connect_fail_is_communication_with_reason() {
    check_on(
        Fault::ConnectFail,
        ErrorKind::Communication,
        None,
        "go away",
        false,
    );
}

#[test]
fn double_reply_closes_the_connection_after_the_good_one() {
    let ctx = common::new_context(ContextOptions::default());
    let peer = FakePeer::start(vec![Fault::DoubleReply, Fault::Echo]);
    let p = ctx.proxy(&peer.uri()).unwrap();
    let results: Results = Default::default();
    call(&p, &results, 1, false);
    run_until(&ctx, &results, 1, 15);
    assert_eq!(
        results.lock().unwrap()[0].as_ref().unwrap().value,
        Value::Int(1)
    );
    std::thread::sleep(Duration::from_millis(200)); // the stray second reply arrives
    call(&p, &results, 2, false);
    run_until(&ctx, &results, 2, 15);
    assert_eq!(
        results.lock().unwrap()[1].as_ref().unwrap().value,
        Value::Int(2)
    );
    assert_eq!(peer.connections(), 2);
}

#[test]
fn reply_to_oneway_closes_the_connection() {
    let ctx = common::new_context(ContextOptions::default());
    let peer = FakePeer::start(vec![Fault::ReplyToOneway, Fault::Echo]);
    let p = ctx.proxy(&peer.uri()).unwrap();
    let results: Results = Default::default();
    call(&p, &results, 1, true);
    run_until(&ctx, &results, 1, 15);
    assert_eq!(
        results.lock().unwrap()[0].as_ref().unwrap().value,
        Value::None
    );
    // An event loop goes on dispatching: with replies read in dispatch, that is when the
    // unexpected reply is read and the connection closed.
    let end = std::time::Instant::now() + Duration::from_millis(200);
    while std::time::Instant::now() < end {
        common::wait_fd(&ctx, 20);
        ctx.dispatch(0);
    }
    call(&p, &results, 2, false);
    run_until(&ctx, &results, 2, 15);
    assert_eq!(
        results.lock().unwrap()[1].as_ref().unwrap().value,
        Value::Int(2)
    );
    assert_eq!(peer.connections(), 2);
}

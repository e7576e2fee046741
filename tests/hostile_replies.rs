//! Big and hostile replies from a scripted peer (tests/common/fake_peer.rs, `Canned`):
//! each call gets exactly one outcome, a value or a clean error; a reply being decoded
//! never holds up another proxy's call, a deadline or teardown; a request larger than
//! `max_message_size` is refused before anything is sent.

mod common;

use common::fake_peer::{Canned, FakePeer, Fault};
use common::{run_until, wait_fd};
use pyro_async::protocol::FLAGS_COMPRESSED;
use pyro_async::runtime::{CallRequest, Context, ContextOptions, Outcome, Proxy};
use pyro_async::serial::SerializerId;
use pyro_async::{ErrorKind, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Results = Arc<Mutex<Vec<Outcome>>>;

fn call(p: &Proxy, results: &Results, arg: Value) -> u64 {
    let r = results.clone();
    p.call(
        CallRequest::new("echo", vec![arg], vec![]),
        Box::new(move |o| r.lock().unwrap().push(o)),
    )
    .unwrap()
}

fn proxy(ctx: &Context, peer: &FakePeer, ser: SerializerId) -> Proxy {
    let mut p = ctx.proxy(&peer.uri()).unwrap();
    p.set_serializer(ser);
    p
}

/// Serpent text of a list of `n` ints: about 8 bytes each, decoded into 32-byte values.
fn serpent_int_list(n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 9 + 40);
    s.push_str("# serpent utf-8 python3.2\n[");
    for i in 0..n {
        s.push_str(&(1_000_000 + i % 8_000_000).to_string());
        s.push(',');
    }
    s.push(']');
    s.into_bytes()
}

fn serpent_int_dict(n: usize) -> Vec<u8> {
    let mut s = String::from("# serpent utf-8 python3.2\n{");
    for i in 0..n {
        s.push_str(&format!("{i}:{i},"));
    }
    s.push('}');
    s.into_bytes()
}

/// Dispatch until `ready` holds or `secs` pass (then the caller's assertions report).
fn pump_until(ctx: &Context, secs: u64, ready: impl Fn() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if ready() {
            return true;
        }
        wait_fd(ctx, 2);
        ctx.dispatch(0);
    }
    ready()
}

/// A big reply decoding: the caller gets it once it is on the decode pool.
struct Decoding {
    ctx: Context,
    big: Results,
    _peer: FakePeer,
    healthy: FakePeer,
    _p: Proxy,
}

const BIG_LIST: usize = 6_000_000;

fn big_reply_decoding(timeout: Option<Duration>) -> Decoding {
    let ctx = common::new_context(ContextOptions::default());
    let peer = FakePeer::start(vec![Fault::canned(serpent_int_list(BIG_LIST))]);
    let healthy = FakePeer::start(vec![Fault::Echo]);
    let p = proxy(&ctx, &peer, SerializerId::Serpent);
    p.set_timeout(timeout);
    let big: Results = Default::default();
    call(&p, &big, Value::None);
    let on_pool = pump_until(&ctx, 30, || {
        ctx.decodes_in_progress() > 0 || !big.lock().unwrap().is_empty()
    });
    assert!(on_pool, "the big reply never arrived");
    assert!(
        big.lock().unwrap().is_empty(),
        "the big reply was decoded where it was read, not on the decode pool"
    );
    Decoding {
        ctx,
        big,
        _peer: peer,
        healthy,
        _p: p,
    }
}

#[test]
fn another_proxy_completes_while_a_big_reply_decodes() {
    let d = big_reply_decoding(None);
    let h = d.ctx.proxy(&d.healthy.uri()).unwrap();
    let small: Results = Default::default();
    let big_done_when_small_done: Arc<Mutex<Option<bool>>> = Default::default();
    {
        let (small, seen, big) = (
            small.clone(),
            big_done_when_small_done.clone(),
            d.big.clone(),
        );
        h.call(
            CallRequest::new("echo", vec![Value::Int(7)], vec![]),
            Box::new(move |o| {
                *seen.lock().unwrap() = Some(!big.lock().unwrap().is_empty());
                small.lock().unwrap().push(o);
            }),
        )
        .unwrap();
    }
    run_until(&d.ctx, &small, 1, 30);
    assert_eq!(
        *big_done_when_small_done.lock().unwrap(),
        Some(false),
        "the small call waited for the big reply's decode"
    );
    run_until(&d.ctx, &d.big, 1, 60);
    let big = d.big.lock().unwrap();
    assert_eq!(big.len(), 1);
    match &big[0].as_ref().unwrap().value {
        Value::List(items) => assert_eq!(items.len(), BIG_LIST),
        other => panic!("unexpected {:?}", other.kind()),
    }
}

#[test]
fn teardown_does_not_wait_for_a_decode() {
    let d = big_reply_decoding(None);
    d.ctx.close().unwrap();
    let big = d.big.lock().unwrap();
    assert_eq!(big.len(), 1, "exactly one outcome");
    assert_eq!(
        big[0].as_ref().unwrap_err().kind,
        ErrorKind::Cancelled,
        "close waited for the decode to finish"
    );
}

#[test]
fn a_deadline_fires_while_its_reply_waits_to_be_decoded_and_the_late_value_is_dropped() {
    // 40 compressed replies (tiny on the wire, a million ints each once decoded) queue
    // on the proxy's decode lane; a call issued behind them with a short deadline has
    // its reply in early, but decoding it must wait for the 40 before it.
    let ctx = common::new_context(ContextOptions::default());
    let list = serpent_int_list(0);
    let mut text = list[..list.len() - 1].to_vec();
    text.extend(std::iter::repeat_n(*b"7,", 1_000_000).flatten());
    text.push(b']');
    let peer = FakePeer::start(vec![Fault::Canned(Arc::new(Canned {
        flags: FLAGS_COMPRESSED,
        data: zlib(&text),
        connect_ok: None,
    }))]);
    let p = proxy(&ctx, &peer, SerializerId::Serpent);
    let earlier_ok = Arc::new(Mutex::new(0usize));
    for _ in 0..40 {
        let n = earlier_ok.clone();
        p.call(
            CallRequest::new("echo", vec![], vec![]),
            Box::new(move |o| {
                assert!(matches!(o.unwrap().value, Value::List(l) if l.len() == 1_000_000));
                *n.lock().unwrap() += 1;
            }),
        )
        .unwrap();
    }
    p.set_timeout(Some(Duration::from_millis(200)));
    let late: Arc<Mutex<Vec<(Outcome, usize)>>> = Default::default();
    {
        let (late, n) = (late.clone(), earlier_ok.clone());
        p.call(
            CallRequest::new("echo", vec![], vec![]),
            Box::new(move |o| late.lock().unwrap().push((o, *n.lock().unwrap()))),
        )
        .unwrap();
    }
    assert!(pump_until(&ctx, 120, || {
        !late.lock().unwrap().is_empty() && *earlier_ok.lock().unwrap() == 40
    }));
    assert!(pump_until(&ctx, 60, || ctx.decodes_in_progress() == 0));
    ctx.dispatch(0);
    let late = late.lock().unwrap();
    assert_eq!(late.len(), 1, "exactly one outcome");
    let e = late[0].0.as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    assert!(
        late[0].1 < 40,
        "the deadline waited for the decodes queued before it"
    );
    assert_eq!(
        *earlier_ok.lock().unwrap(),
        40,
        "every earlier call got its value"
    );
}

#[test]
fn replies_of_one_proxy_keep_their_order_behind_a_big_one() {
    let ctx = common::new_context(ContextOptions::default());
    // Every call gets the same big reply; a second proxy's small ones interleave.
    let peer = FakePeer::start(vec![Fault::canned(serpent_int_list(200_000))]);
    let p = proxy(&ctx, &peer, SerializerId::Serpent);
    let order: Arc<Mutex<Vec<usize>>> = Default::default();
    for i in 0..6 {
        let order = order.clone();
        p.call(
            CallRequest::new("echo", vec![Value::Int(i as i64)], vec![]),
            Box::new(move |o| {
                assert!(o.is_ok());
                order.lock().unwrap().push(i)
            }),
        )
        .unwrap();
    }
    assert!(pump_until(&ctx, 30, || order.lock().unwrap().len() == 6));
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);
}

/// One hostile reply, per serializer: exactly one outcome, `want` (None: any value) or
/// a SERIALIZATION/PROTOCOL error, and the context stays usable for another proxy.
fn hostile(ser: SerializerId, canned: Canned, want_err: Option<ErrorKind>) -> Outcome {
    let ctx = common::new_context(ContextOptions::default());
    let peer = FakePeer::start(vec![Fault::Canned(Arc::new(canned))]);
    let healthy = FakePeer::start(vec![Fault::Echo]);
    let p = proxy(&ctx, &peer, ser);
    let h = ctx.proxy(&healthy.uri()).unwrap();
    let (bad, good): (Results, Results) = Default::default();
    call(&p, &bad, Value::None);
    call(&h, &good, Value::Int(3));
    run_until(&ctx, &good, 1, 60);
    run_until(&ctx, &bad, 1, 120);
    assert_eq!(
        good.lock().unwrap()[0].as_ref().unwrap().value,
        Value::Int(3)
    );
    // Nothing more arrives for the hostile call.
    assert!(pump_until(&ctx, 60, || ctx.decodes_in_progress() == 0));
    ctx.dispatch(0);
    let bad = std::mem::take(&mut *bad.lock().unwrap());
    assert_eq!(bad.len(), 1, "exactly one outcome");
    let outcome = bad.into_iter().next().unwrap();
    if let Some(kind) = want_err {
        let e = outcome.as_ref().expect_err("a hostile reply must fail");
        assert_eq!(e.kind, kind, "{}", e.message);
    }
    outcome
}

fn data(d: Vec<u8>) -> Canned {
    Canned {
        data: d,
        ..Canned::default()
    }
}

fn zlib(d: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(d).unwrap();
    enc.finish().unwrap()
}

/// Pickle protocol 4, as Python writes `[inner] * n` with `inner` a list of `fill`
/// ints: the inner list memoized once, then referenced n - 1 times (BINGET).
fn pickle_memo_copies(fill: usize, n: usize) -> Vec<u8> {
    let mut b = vec![0x80, 4, b']', b'(', b']', 0x94, b'('];
    for i in 0..fill {
        b.extend_from_slice(&[b'K', (i % 256) as u8]);
    }
    b.push(b'e'); // APPENDS: memo 0 is a list of `fill` ints
    for _ in 1..n {
        b.extend_from_slice(&[b'h', 0]);
    }
    b.extend_from_slice(b"e.");
    b
}

#[test]
fn pickle_shared_references_are_charged_not_copied_without_bound() {
    // 10,000 ints memoized, referenced 100,000 times: Python shares one list; copying
    // it would take 10^9 values. Compressed, the reply is a few KiB.
    let raw = pickle_memo_copies(10_000, 100_000);
    let c = Canned {
        flags: FLAGS_COMPRESSED,
        data: zlib(&raw),
        connect_ok: None,
    };
    let o = hostile(SerializerId::Pickle, c, Some(ErrorKind::Serialization));
    assert!(o.unwrap_err().message.contains("expand"));
}

#[test]
fn pickle_shared_references_within_budget_keep_their_values() {
    let raw = pickle_memo_copies(100, 100);
    let o = hostile(SerializerId::Pickle, data(raw), None);
    let v = o.unwrap().value;
    let Value::List(outer) = v else { panic!() };
    assert_eq!(outer.len(), 100);
    assert!(outer
        .iter()
        .all(|l| l.as_seq().map(|s| s.len()) == Some(100)));
}

#[test]
fn a_2m_digit_text_int_is_refused_before_it_is_parsed() {
    let mut p = b"I".to_vec();
    p.extend(std::iter::repeat_n(b'7', 2_000_000));
    p.extend_from_slice(b"\n.");
    let _ = hostile(
        SerializerId::Pickle,
        data(p),
        Some(ErrorKind::Serialization),
    );
    let mut s = b"# serpent utf-8 python3.2\n".to_vec();
    s.extend(std::iter::repeat_n(b'7', 2_000_000));
    let _ = hostile(
        SerializerId::Serpent,
        data(s),
        Some(ErrorKind::Serialization),
    );
    let j: Vec<u8> = std::iter::repeat_n(b'7', 2_000_000).collect();
    let _ = hostile(SerializerId::Json, data(j), Some(ErrorKind::Serialization));
}

#[test]
fn dicts_and_sets_of_200k_ints_decode_in_every_serializer() {
    const N: usize = 200_000;
    // serpent dict and set
    let d = hostile(SerializerId::Serpent, data(serpent_int_dict(N)), None);
    assert!(matches!(d.unwrap().value, Value::Dict(items) if items.len() == N));
    let mut s = String::from("# serpent utf-8 python3.2\n{");
    for i in 0..N {
        s.push_str(&format!("{i},"));
    }
    s.push('}');
    let v = hostile(SerializerId::Serpent, data(s.into_bytes()), None);
    assert!(matches!(v.unwrap().value, Value::Set(items) if items.len() == N));
    // json object with str keys
    let mut j = String::from("{");
    for i in 0..N {
        if i > 0 {
            j.push(',');
        }
        j.push_str(&format!("\"{i}\":{i}"));
    }
    j.push('}');
    let v = hostile(SerializerId::Json, data(j.into_bytes()), None);
    assert!(matches!(v.unwrap().value, Value::Dict(items) if items.len() == N));
    // pickle: EMPTY_DICT, MARK, pairs, SETITEMS in batches of 1000 (as Python writes it);
    // then an EMPTY_SET with ADDITEMS batches
    let mut p = vec![0x80, 4, b'}'];
    for chunk in (0..N as u32).collect::<Vec<_>>().chunks(1000) {
        p.push(b'(');
        for &i in chunk {
            for _ in 0..2 {
                p.push(b'J');
                p.extend_from_slice(&(i as i32).to_le_bytes());
            }
        }
        p.push(b'u');
    }
    p.push(b'.');
    let v = hostile(SerializerId::Pickle, data(p), None);
    assert!(matches!(v.unwrap().value, Value::Dict(items) if items.len() == N));
    let mut p = vec![0x80, 4, 0x8f];
    for chunk in (0..N as u32).collect::<Vec<_>>().chunks(1000) {
        p.push(b'(');
        for &i in chunk {
            p.push(b'J');
            p.extend_from_slice(&(i as i32).to_le_bytes());
        }
        p.push(0x90);
    }
    p.push(b'.');
    let v = hostile(SerializerId::Pickle, data(p), None);
    assert!(matches!(v.unwrap().value, Value::Set(items) if items.len() == N));
    // marshal dict
    let mut m = vec![b'{'];
    for i in 0..N as i32 {
        for _ in 0..2 {
            m.push(b'i');
            m.extend_from_slice(&i.to_le_bytes());
        }
    }
    m.push(b'0');
    let v = hostile(SerializerId::Marshal, data(m), None);
    assert!(matches!(v.unwrap().value, Value::Dict(items) if items.len() == N));
}

#[test]
fn python_key_equality_in_decoded_dicts() {
    // 1, 1.0 and True are one key: the first key is kept with the last value.
    let s = b"# serpent utf-8 python3.2\n{1: 'a', 1.0: 'b', True: 'c', 2: 'd'}".to_vec();
    let v = hostile(SerializerId::Serpent, data(s), None).unwrap().value;
    let Value::Dict(items) = v else { panic!() };
    assert_eq!(items.len(), 2);
    assert!(matches!(items[0], (Value::Int(1), Value::Str(ref c)) if c == "c"));
}

#[test]
fn marshal_reference_bombs_are_refused() {
    // A list of 1000 ints flagged as a reference, then a list that references it
    // 200,000 times (each a 1000-int copy: 200M values from a 1 MB message).
    let mut m = vec![b'[' | 0x80];
    m.extend_from_slice(&1000u32.to_le_bytes());
    for i in 0..1000i32 {
        m.push(b'i');
        m.extend_from_slice(&i.to_le_bytes());
    }
    let mut outer = vec![b'('];
    outer.extend_from_slice(&200_001u32.to_le_bytes());
    outer.extend(m);
    for _ in 0..200_000 {
        outer.push(b'r');
        outer.extend_from_slice(&0u32.to_le_bytes());
    }
    let o = hostile(
        SerializerId::Marshal,
        data(outer),
        Some(ErrorKind::Serialization),
    );
    assert!(o.unwrap_err().message.contains("expand"));
}

#[test]
fn a_huge_handshake_reply_fails_the_connection_cleanly() {
    // Metadata of 200k method names (about 3 MB): refused before it is decoded.
    let mut s = String::from(
        "# serpent utf-8 python3.2\n{'handshake': 'hello', 'meta': {'attrs': [], 'oneway': [], 'methods': [",
    );
    for i in 0..200_000 {
        s.push_str(&format!("'m{i}',"));
    }
    s.push_str("'echo']}}");
    let c = Canned {
        connect_ok: Some(s.into_bytes()),
        ..Canned::default()
    };
    let _ = hostile(SerializerId::Serpent, c, Some(ErrorKind::Protocol));
}

#[test]
fn a_request_larger_than_max_message_size_is_refused_before_sending() {
    let ctx = common::new_context(ContextOptions {
        max_message_size: 1 << 20,
        ..ContextOptions::default()
    });
    let peer = FakePeer::start(vec![Fault::Echo]);
    let p = ctx.proxy(&peer.uri()).unwrap();
    let (big, small): (Results, Results) = Default::default();
    call(&p, &big, Value::Bytes(vec![7; 2 << 20]));
    call(&p, &small, Value::Int(1));
    run_until(&ctx, &big, 1, 15);
    run_until(&ctx, &small, 1, 15);
    let e = big.lock().unwrap()[0].as_ref().unwrap_err().clone();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(e.message.contains("max_message_size"), "{}", e.message);
    assert_eq!(
        small.lock().unwrap()[0].as_ref().unwrap().value,
        Value::Int(1),
        "the proxy goes on after a refused request"
    );
}

//! Memory of decoding, measured by a byte-counting allocator: for big and hostile inputs
//! in every serializer, the heap a decode reaches (above what was live before it) stays
//! within `PEAK_FACTOR` x `decoded_cost_bound(input)`; the factor covers vector growth
//! (capacity up to twice the length, and the old buffer while it moves).
//! One test function, so no other test's allocations run beside the measurement.

use pyro_async::serial::budget::decoded_cost_bound;
use pyro_async::serial::{json, marshal, pickle, serpent};
use pyro_async::{ErrorKind, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            // Counted as if old and new were both live for a moment (a moving realloc).
            let now = LIVE.fetch_add(new, Ordering::Relaxed) + new;
            PEAK.fetch_max(now, Ordering::Relaxed);
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

const PEAK_FACTOR: usize = 3;

type Decode = fn(&[u8]) -> pyro_async::error::Result<Value>;

/// Decode `input`, returning the result and the heap it reached above the start.
fn measured(decode: Decode, input: &[u8]) -> (pyro_async::error::Result<Value>, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = decode(input);
    (r, PEAK.load(Ordering::Relaxed) - base)
}

fn serpent_text(body: &str) -> Vec<u8> {
    format!("# serpent utf-8 python3.2\n{body}").into_bytes()
}

fn pickle_memo(fill: usize, n: usize) -> Vec<u8> {
    // [inner] * n with inner = a list of `fill` small ints: one memo entry, n - 1 GETs.
    let mut b = vec![0x80, 4, b']', b'(', b']', 0x94, b'('];
    for i in 0..fill {
        b.extend_from_slice(&[b'K', (i % 256) as u8]);
    }
    b.push(b'e');
    for _ in 1..n {
        b.extend_from_slice(&[b'h', 0]);
    }
    b.extend_from_slice(b"e.");
    b
}

fn marshal_ref_bomb(fill: i32, refs: u32) -> Vec<u8> {
    let mut inner = vec![b'[' | 0x80];
    inner.extend_from_slice(&(fill as u32).to_le_bytes());
    for i in 0..fill {
        inner.push(b'i');
        inner.extend_from_slice(&i.to_le_bytes());
    }
    let mut m = vec![b'('];
    m.extend_from_slice(&(refs + 1).to_le_bytes());
    m.extend(inner);
    for _ in 0..refs {
        m.push(b'r');
        m.extend_from_slice(&0u32.to_le_bytes());
    }
    m
}

#[test]
fn decoding_stays_within_a_small_multiple_of_the_input() {
    const N: usize = 100_000;
    let dict_body = (0..N)
        .map(|i| format!("{i}:{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let json_dict = format!(
        "{{{}}}",
        (0..N)
            .map(|i| format!("\"{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut pickle_dict = vec![0x80, 4, b'}'];
    for chunk in (0..N as i32).collect::<Vec<_>>().chunks(1000) {
        pickle_dict.push(b'(');
        for &i in chunk {
            for _ in 0..2 {
                pickle_dict.push(b'J');
                pickle_dict.extend_from_slice(&i.to_le_bytes());
            }
        }
        pickle_dict.push(b'u');
    }
    pickle_dict.push(b'.');
    let mut marshal_dict = vec![b'{'];
    for i in 0..N as i32 {
        for _ in 0..2 {
            marshal_dict.push(b'i');
            marshal_dict.extend_from_slice(&i.to_le_bytes());
        }
    }
    marshal_dict.push(b'0');
    let records = format!(
        "[{}]",
        (0..N / 10)
            .map(|i| format!("{{'id': {i}, 'name': 'n{i}', 'v': {}.5}}", i))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // (name, decoder, input, must it fail with SERIALIZATION?)
    let cases: Vec<(&str, Decode, Vec<u8>, bool)> = vec![
        (
            "serpent dict 100k",
            serpent::decode,
            serpent_text(&format!("{{{dict_body}}}")),
            false,
        ),
        (
            "serpent records 10k",
            serpent::decode,
            serpent_text(&records),
            false,
        ),
        (
            "json dict 100k",
            json::decode,
            json_dict.into_bytes(),
            false,
        ),
        ("pickle dict 100k", pickle::decode, pickle_dict, false),
        ("marshal dict 100k", marshal::decode, marshal_dict, false),
        (
            "pickle memo copies in budget",
            pickle::decode,
            pickle_memo(100, 100),
            false,
        ),
        (
            "pickle memo bomb",
            pickle::decode,
            pickle_memo(10_000, 100_000),
            true,
        ),
        (
            "marshal ref bomb",
            marshal::decode,
            marshal_ref_bomb(1000, 200_000),
            true,
        ),
    ];
    let mut report = Vec::new();
    for (name, decode, input, must_fail) in cases {
        let (r, peak) = measured(decode, &input);
        let bound = PEAK_FACTOR * decoded_cost_bound(input.len());
        match (&r, must_fail) {
            (Ok(_), false) => {}
            (Err(e), true) => assert_eq!(e.kind, ErrorKind::Serialization, "{name}: {}", e.message),
            (r, _) => panic!("{name}: unexpected {:?}", r.as_ref().map(|v| v.kind())),
        }
        drop(r);
        report.push(format!(
            "{name}: {} input bytes, peak {peak} (bound {bound})",
            input.len()
        ));
        assert!(
            peak <= bound,
            "{name}: peak {peak} over {bound}\n{}",
            report.join("\n")
        );
    }
    println!("{}", report.join("\n"));
}

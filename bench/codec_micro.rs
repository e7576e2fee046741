//! Deterministic micro-benchmark of the per-call codec hot path (no sockets, no threads):
//! encode = build + finish + encode an INVOKE of `echo(payload)` exactly as a proxy call does;
//! decode = split the RESULT out of a byte stream (MessageReader) and decode it (parse_result).
//!   cargo run --release --example codec_micro [ITERS] [CASE/OP]
//! With CASE/OP (e.g. `str64/encode`) only that loop runs: for instruction counts, run it
//! under `valgrind --tool=callgrind` with two ITERS values and take the difference.
//! Each line ends with a hash of the bytes/values produced, to check output stays identical.
//!
//! Decode throughput on large replies (the payload shapes of bench/payloads.py):
//!   cargo run --release --example codec_micro payloads [DIR] [CAP_S]
//! decodes DIR/PAYLOAD.SERIALIZER, the data of each RESULT exactly as the Pyro4 4.82
//! server sends it (written once by `bench/payload_server.py --write DIR`; default DIR
//! /tmp/pyro_async_payloads), with the decoder a call uses (`wire::decode_value`; no
//! framing, no I/O), and prints MB/s of input per serializer. Each case runs in a child
//! process, repeated until about a second was spent (the median is shown), and is killed
//! after CAP_S seconds (default 10), printing '> CAP_S s'.

use pyro_async::client::wire::{self, WireOptions};
use pyro_async::protocol::{Message, MessageReader, DEFAULT_MAX_MESSAGE_SIZE, MSG_RESULT};
use pyro_async::serial::{serpent, SerializerId};
use pyro_async::Value;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Counts every allocation and reallocation (each is a call into malloc).
struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn payloads() -> Vec<(&'static str, Value)> {
    let str64: String = (0..64).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let str4k: String = (0..4096)
        .map(|i| (b' ' + (i * 7 % 95) as u8) as char)
        .collect();
    vec![
        ("str64", Value::Str(str64)),
        (
            "dict",
            Value::Dict(vec![
                (Value::str("name"), Value::str("sensor-7")),
                (Value::str("value"), Value::Float(21.5)),
                (Value::str("count"), Value::Int(42)),
                (Value::str("ok"), Value::Bool(true)),
            ]),
        ),
        (
            "ints100",
            Value::List((0..100).map(|i| Value::Int(i * 1237 - 5000)).collect()),
        ),
        ("str4k", Value::Str(str4k)),
        (
            "nested",
            Value::Tuple(vec![
                Value::Int(1),
                Value::Tuple(vec![
                    Value::str("a"),
                    Value::Tuple(vec![Value::None, Value::Float(2.5), Value::str("it's")]),
                ]),
                Value::List(vec![Value::Int(3), Value::Tuple(vec![])]),
            ]),
        ),
    ]
}

/// FNV-1a, to show that the produced bytes did not change between builds.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h = (*h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
}

fn encode_once(args: &[Value], opts: &WireOptions, seq: u16) -> Vec<u8> {
    let mut m = wire::invoke_message(
        seq,
        SerializerId::Serpent,
        "PYRO:obj_0123456789abcdef@localhost:9999",
        "echo",
        args,
        &[],
        0,
    )
    .unwrap();
    opts.finish_request(&mut m);
    m.encode().unwrap()
}

fn decode_once(reader: &mut MessageReader, reply: &[u8], seq: u16) -> Value {
    reader.push(reply);
    let msg = reader.next_message().unwrap().unwrap();
    wire::parse_result(&msg, seq, SerializerId::Serpent).unwrap()
}

struct Run {
    ns: f64,
    allocs: f64,
    reallocs: f64,
    hash: u64,
}

fn run(op: &str, v: &Value, iters: u64) -> Run {
    let opts = WireOptions::default();
    let args = vec![v.clone()];
    // The RESULT Pyro4 sends for echo(v): serpent of v (golden-tested against serpent 1.43).
    let reply = Message::new(MSG_RESULT, 0, 1, 1, serpent::encode(v).unwrap())
        .encode()
        .unwrap();
    let mut reader = MessageReader::new(DEFAULT_MAX_MESSAGE_SIZE);
    let (a0, r0) = (ALLOCS.load(Relaxed), REALLOCS.load(Relaxed));
    let t = Instant::now();
    for _ in 0..iters {
        if op == "encode" {
            black_box(encode_once(black_box(&args), &opts, 1));
        } else {
            black_box(decode_once(&mut reader, black_box(&reply), 1));
        }
    }
    let ns = t.elapsed().as_nanos() as f64 / iters as f64;
    let allocs = (ALLOCS.load(Relaxed) - a0) as f64 / iters as f64;
    let reallocs = (REALLOCS.load(Relaxed) - r0) as f64 / iters as f64;
    // outside the measured loop: what one more op produces
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    if op == "encode" {
        fnv(&mut hash, &encode_once(&args, &opts, 1));
    } else {
        fnv(
            &mut hash,
            decode_once(&mut reader, &reply, 1).repr().as_bytes(),
        );
    }
    Run {
        ns,
        allocs,
        reallocs,
        hash,
    }
}

const PAYLOAD_NAMES: [&str; 7] = [
    "dict_10k",
    "dict_100k",
    "dict_1m",
    "list_1m",
    "records_100k",
    "bytes_10m",
    "str_10m",
];
const SERIALIZERS: [SerializerId; 4] = [
    SerializerId::Serpent,
    SerializerId::Json,
    SerializerId::Marshal,
    SerializerId::Pickle,
];

/// Child process: decode one file until about a second was spent (at least 3 times, or
/// once if that already took a second); print `ms_median allocs_per_op hash`.
fn payload_case(path: &str, ser: SerializerId) {
    let data = std::fs::read(path).unwrap();
    let (mut times, mut allocs) = (Vec::new(), 0);
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let t0 = Instant::now();
    while times.len() < 3 || t0.elapsed().as_secs_f64() < 1.0 {
        let (a, t) = (ALLOCS.load(Relaxed), Instant::now());
        let v = wire::decode_value(ser as u16, black_box(&data)).unwrap();
        times.push(t.elapsed().as_secs_f64());
        allocs += ALLOCS.load(Relaxed) - a;
        if times.len() == 1 {
            fnv(&mut hash, v.repr().as_bytes());
            if times[0] >= 1.0 {
                break;
            }
        }
        drop(black_box(v));
    }
    let n = times.len();
    times.sort_by(f64::total_cmp);
    println!(
        "{:.3} {} {hash:016x}",
        times[n / 2] * 1e3,
        allocs / n as u64
    );
}

/// Parent: one child per file, killed after `cap` seconds.
fn large_payloads(dir: &str, cap: f64) {
    let exe = std::env::current_exe().unwrap();
    println!(
        "decode only (wire::decode_value) of Pyro4 4.82's replies in {dir}, input in cache; \
         median of the runs in ~1 s; '> {cap} s': killed"
    );
    println!(
        "{:<14} {:<8} {:>9} {:>10} {:>9} {:>11}  output hash",
        "payload", "format", "MB", "ms/op", "MB/s", "allocs/op"
    );
    for name in PAYLOAD_NAMES {
        for ser in SERIALIZERS {
            let path = format!("{dir}/{name}.{}", ser.name());
            let Ok(meta) = std::fs::metadata(&path) else {
                println!("{name:<14} {:<8} {:>9}", ser.name(), "n/a");
                continue;
            };
            let mb = meta.len() as f64 / 1e6;
            let mut child = std::process::Command::new(&exe)
                .args(["payload-case", &path, ser.name()])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let t = Instant::now();
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break Some(s);
                }
                if t.elapsed().as_secs_f64() > cap {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    break None;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            };
            let mut out = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
            let f: Vec<&str> = out.split_whitespace().collect();
            match status {
                None => println!(
                    "{name:<14} {:<8} {mb:>9.2} {:>10} {:>9}",
                    ser.name(),
                    format!("> {cap} s"),
                    format!("< {:.2}", mb / cap)
                ),
                Some(s) if !s.success() || f.len() != 3 => {
                    println!("{name:<14} {:<8} {mb:>9.2} {:>10}", ser.name(), "error")
                }
                Some(_) => {
                    let ms: f64 = f[0].parse().unwrap();
                    println!(
                        "{name:<14} {:<8} {mb:>9.2} {ms:>10.1} {:>9.1} {:>11}  {}",
                        ser.name(),
                        mb / (ms / 1e3),
                        f[1],
                        f[2]
                    );
                }
            }
        }
    }
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("payloads") => {
            let dir = std::env::args()
                .nth(2)
                .unwrap_or_else(|| "/tmp/pyro_async_payloads".into());
            let cap = std::env::args()
                .nth(3)
                .map(|s| s.parse().unwrap())
                .unwrap_or(10.0);
            return large_payloads(&dir, cap);
        }
        Some("payload-case") => {
            let path = std::env::args().nth(2).unwrap();
            let ser = SerializerId::from_name(&std::env::args().nth(3).unwrap()).unwrap();
            return payload_case(&path, ser);
        }
        _ => {}
    }
    let mut argv = std::env::args().skip(1);
    let iters: u64 = argv.next().map(|s| s.parse().unwrap()).unwrap_or(200_000);
    let only = argv.next();
    println!(
        "{:<16} {:>10} {:>8} {:>9}  output hash",
        "case", "ns/op", "allocs", "reallocs"
    );
    for (name, v) in payloads() {
        for op in ["encode", "decode"] {
            let case = format!("{name}/{op}");
            if only.as_ref().is_some_and(|o| *o != case) {
                continue;
            }
            let r = run(op, &v, iters);
            println!(
                "{case:<16} {:>10.1} {:>8.2} {:>9.2}  {:016x}",
                r.ns, r.allocs, r.reallocs, r.hash
            );
        }
    }
}

//! Where replies are decoded. A small reply is decoded where it was read (the I/O thread,
//! or the host thread when it reads replies in dispatch): that is cheaper than a thread
//! hop. A big one goes to a small pool of decode threads, so no payload, however large
//! or pathological, stalls the I/O thread: other proxies' calls, deadlines and teardown
//! go on while it decodes. Every reply of a proxy that arrives while one of its replies
//! is on the pool queues behind it, so a proxy's replies still complete in the order
//! they arrived (stream items, pipelined calls).

use super::context::{CallId, ProxyId, Reply, Shared};
use crate::client::inbox::ReplyOutcome;
use crossbeam_channel::{Receiver, Sender};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Payloads up to this size are decoded where they were read: at the slowest decoder's
/// linear rate that is well under a millisecond.
pub(crate) const INLINE_DECODE_MAX: usize = 64 * 1024;

/// Replies waiting for, or being decoded on, the pool; one queue per proxy.
type Lanes = HashMap<ProxyId, VecDeque<(CallId, ReplyOutcome)>>;

pub(crate) struct DecodePool {
    /// A proxy is present while one pool thread owns its queue.
    lanes: Mutex<Lanes>,
    /// Proxies whose queue needs a thread. None once the context is closed.
    tx: Mutex<Option<Sender<ProxyId>>>,
    rx: Receiver<ProxyId>,
    threads: AtomicUsize,
    max_threads: usize,
}

impl DecodePool {
    pub(crate) fn new() -> DecodePool {
        let (tx, rx) = crossbeam_channel::unbounded();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        DecodePool {
            lanes: Mutex::new(HashMap::new()),
            tx: Mutex::new(Some(tx)),
            rx,
            threads: AtomicUsize::new(0),
            max_threads: cores.clamp(1, 4),
        }
    }

    /// Decode lanes in use (diagnostics and tests).
    pub(crate) fn busy_lanes(&self) -> usize {
        self.lanes.lock().unwrap().len()
    }

    /// Stop taking work: the pool threads finish the reply in hand and exit; nothing
    /// waits for them (teardown must not wait for a big decode). Queued replies are
    /// dropped unread: their calls are completed by the context's teardown.
    pub(crate) fn close(&self) {
        self.tx.lock().unwrap().take();
        self.lanes.lock().unwrap().clear();
    }
}

/// Deliver one reply of `proxy`'s call: decoded here when small and nothing of that
/// proxy is on the pool, else queued for the pool. `here`: the caller is the dispatching
/// host thread (its round picks the outcome up without a wake-up).
pub(crate) fn deliver(
    shared: &Arc<Shared>,
    proxy: ProxyId,
    call: CallId,
    outcome: ReplyOutcome,
    here: bool,
) {
    let pool = &shared.decodes;
    {
        let mut lanes = pool.lanes.lock().unwrap();
        if let Some(queue) = lanes.get_mut(&proxy) {
            queue.push_back((call, outcome));
            return;
        }
        if outcome.payload_len() > INLINE_DECODE_MAX || outcome.is_compressed() {
            if let Some(tx) = pool.tx.lock().unwrap().as_ref() {
                lanes.insert(proxy, VecDeque::from([(call, outcome)]));
                drop(lanes);
                start_thread_if_needed(pool, shared);
                let _ = tx.send(proxy);
                return;
            }
        }
    }
    let outcome = outcome
        .decode()
        .map(|(value, annotations)| Reply { value, annotations });
    if here {
        shared.finish_here(call, outcome);
    } else {
        shared.finish(call, outcome);
    }
}

fn start_thread_if_needed(pool: &DecodePool, shared: &Arc<Shared>) {
    // One more thread while every existing one may be busy, up to the bound.
    let running = pool.threads.load(Ordering::Relaxed);
    if running >= pool.max_threads || running > pool.busy_lanes().saturating_sub(1) {
        return;
    }
    pool.threads.fetch_add(1, Ordering::Relaxed);
    let rx = pool.rx.clone();
    let weak = Arc::downgrade(shared);
    let builder = std::thread::Builder::new()
        .name("pyro-decode".into())
        // Decoders recurse up to MAX_DEPTH levels: the I/O thread's stack size, even in debug builds.
        .stack_size(8 << 20);
    let spawned = super::threads::spawn(builder, move || pool_thread(rx, weak));
    match spawned {
        Ok(_) => shared.log(super::context::LogLevel::Debug, || {
            format!("decode thread {} started for large replies", running + 1)
        }),
        Err(_) => {
            pool.threads.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Holds only a weak reference while idle, so a context freed and dropped is not kept
/// alive by its pool; the channel closing (context closed or dropped) ends the thread.
fn pool_thread(rx: Receiver<ProxyId>, shared: Weak<Shared>) {
    while let Ok(proxy) = rx.recv() {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        drain_lane(&shared, proxy);
    }
}

fn drain_lane(shared: &Shared, proxy: ProxyId) {
    loop {
        let next = {
            let mut lanes = shared.decodes.lanes.lock().unwrap();
            match lanes.get_mut(&proxy).and_then(VecDeque::pop_front) {
                Some(next) => next,
                None => {
                    lanes.remove(&proxy);
                    return;
                }
            }
        };
        let (call, outcome) = next;
        // A call that timed out or was cancelled meanwhile has had its callback; its
        // reply is dropped without being decoded.
        if shared.is_closed() || !shared.is_pending(call) {
            continue;
        }
        let outcome = outcome
            .decode()
            .map(|(value, annotations)| Reply { value, annotations });
        shared.finish(call, outcome);
    }
}

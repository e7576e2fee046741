//! Call deadlines leave no residue: the timers of calls that completed long before their
//! deadline are swept out of the I/O thread's heap, so memory stays flat under a
//! generous `PYRO_COMMTIMEOUT`-style deadline on every call.

mod common;

use common::fake_peer::{FakePeer, Fault};
use common::run_until;
use pyro_async::runtime::{CallRequest, ContextOptions, Outcome};
use pyro_async::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn deadlines_of_completed_calls_do_not_pile_up() {
    let peer = FakePeer::start(vec![Fault::Echo]);
    let ctx = common::new_context(ContextOptions::default());
    let direct = ctx.proxy(&peer.uri()).unwrap();
    direct.set_timeout(Some(Duration::from_secs(600)));
    let done: Arc<Mutex<Vec<Outcome>>> = Default::default();
    let calls = 30_000;
    let mut issued = 0;
    while issued < calls {
        // 64 in flight: direct writes, bursts through the I/O thread, both with deadlines
        while issued < calls && issued - done.lock().unwrap().len() < 64 {
            let d = done.clone();
            direct
                .call(
                    CallRequest::new("echo", vec![Value::Int(issued as i64)], vec![]),
                    Box::new(move |o| d.lock().unwrap().push(o)),
                )
                .unwrap();
            issued += 1;
        }
        let so_far = done.lock().unwrap().len();
        run_until(&ctx, &done, so_far + 1, 30);
    }
    run_until(&ctx, &done, calls, 30);
    assert!(done.lock().unwrap().iter().all(|o| o.is_ok()));
    assert!(direct.direct_calls() > 0);
    // every call's deadline is ten minutes away, yet only the last few thousand
    // (between two sweeps) may still be held
    let held = ctx.timer_count();
    assert!(
        held < calls / 3,
        "{held} timers held for {calls} completed calls"
    );
}

//! Any input: Ok or a Serialization error, never a panic, hang or huge allocation;
//! what decodes costs no more than `decoded_cost_bound` of the input (amplification),
//! re-encodes, and the re-encoding decodes again. Work: run.sh's -timeout catches any
//! input that takes seconds (a superlinear path) at -max_len 64 KiB.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyro_async::serial::budget::{decoded_cost_bound, value_cost};
use pyro_async::serial::pickle;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = pickle::decode(data) {
        let bound = decoded_cost_bound(data.len());
        let cost = value_cost(&v, bound);
        assert!(cost <= bound, "{} input bytes decoded into {cost}", data.len());
        if let Ok(again) = pickle::encode(&v) {
            let _ = pickle::decode(&again).expect("our own encoding decodes");
        }
        let _ = v.repr();
    }
});

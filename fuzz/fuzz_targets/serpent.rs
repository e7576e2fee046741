//! Any input: Ok or a Serialization error, never a panic, hang or huge allocation;
//! whatever decodes re-encodes, and the re-encoding decodes again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyro_async::serial::serpent;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serpent::decode(data) {
        if let Ok(again) = serpent::encode(&v) {
            let _ = serpent::decode(&again).expect("our own encoding decodes");
        }
        let _ = v.repr();
    }
});

//! Arbitrary bytes from a peer, in arbitrary chunks: messages or a Protocol error, never
//! a panic, and never a buffer beyond the configured maximum.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyro_async::protocol::MessageReader;

fuzz_target!(|data: &[u8]| {
    let mut r = MessageReader::new(1 << 16);
    for chunk in data.chunks(7) {
        r.push(chunk);
        loop {
            match r.next_message() {
                Ok(Some(m)) => assert!(m.data.len() <= 1 << 16),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});

//! The one way into Rust from C: every exported body runs inside [`guard`], so a Rust
//! panic becomes the function's documented failure value instead of unwinding into C.

use std::panic::{catch_unwind, AssertUnwindSafe};

pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(_) => on_panic,
    }
}

//! The C ABI. Thin: argument checks, panic containment, ownership; no protocol logic.
#![allow(non_camel_case_types)]
// These are `extern "C"` entry points: C has no `unsafe`, so the pointer contract is
// stated in each doc comment and every pointer is NULL-checked before use.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![allow(clippy::too_many_arguments)]

pub mod boundary;
pub mod calls;
pub mod ctx;
pub mod error;
pub mod naming;
pub mod value;
pub mod wire;

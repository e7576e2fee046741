//! The C ABI. Thin: argument checks, panic containment, ownership; no protocol logic.
#![allow(non_camel_case_types)]

pub mod boundary;
pub mod ctx;
pub mod error;
pub mod value;

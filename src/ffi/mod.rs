//! The C ABI. Thin: argument checks, panic containment, ownership; no protocol logic.

//! Python's `repr()` for [`Value`]. (Filled in by the serpent/value work.)
use super::Value;

pub(crate) fn write_repr(v: &Value, out: &mut String) {
    let _ = (v, out);
    todo!("repr")
}

//! The one memory rule every decoder keeps: what a message decodes into is bounded by a
//! small multiple of the message's own size.
//!
//! Formats without shared references (serpent, json, msgpack) keep it by construction:
//! every value needs at least one input byte. Formats with them (pickle's memo, marshal's
//! references) let a short message ask for many copies of one value, because the value
//! model is a tree where Python shares one object; those copies are charged here, before
//! they are made, and a message that would exceed the budget is a Serialization error.

use crate::error::{Error, Result};
use crate::value::Value;

/// Estimated cost of one value node (`size_of::<Value>()`), for budgets.
pub const NODE_COST: usize = std::mem::size_of::<Value>();
/// A decoded value may cost up to this many times its message's size...
pub const EXPANSION_FACTOR: usize = 32;
/// ...or this much, whichever is larger (tiny messages may still copy a little).
pub const EXPANSION_FLOOR: usize = 1 << 20;

/// The most any decoder's output may cost (as [`value_cost`] counts it) for a message of
/// `input_len` bytes: every value node needs at least one input byte (at most
/// `NODE_COST` = 32 bytes of output per input byte), plus the copies a format's shared
/// references may ask for, charged to an [`ExpansionBudget`]. Fuzz targets and tests
/// hold every decoder to it.
pub fn decoded_cost_bound(input_len: usize) -> usize {
    input_len
        .saturating_mul(NODE_COST.max(EXPANSION_FACTOR))
        .saturating_add(ExpansionBudget::for_input(input_len).total)
}

/// What copies a decoder may still make for one message.
#[derive(Debug)]
pub struct ExpansionBudget {
    left: usize,
    total: usize,
}

impl ExpansionBudget {
    /// The budget for a message of `input_len` bytes.
    pub fn for_input(input_len: usize) -> Self {
        let total = input_len
            .saturating_mul(EXPANSION_FACTOR)
            .max(EXPANSION_FLOOR);
        ExpansionBudget { left: total, total }
    }

    /// Charge `cost` bytes, or fail (nothing is charged then) with a Serialization error
    /// naming `format`.
    #[inline]
    pub fn charge(&mut self, cost: usize, format: &str) -> Result<()> {
        if cost > self.left {
            return Err(self.exceeded(format));
        }
        self.left -= cost;
        Ok(())
    }

    // Decoders charge every value; keep the message formatting out of their loops.
    #[cold]
    fn exceeded(&self, format: &str) -> Error {
        Error::serialization(format!(
            "{format}: shared references expand beyond {} bytes ({EXPANSION_FACTOR}x the \
             message size, at least {EXPANSION_FLOOR})",
            self.total
        ))
    }

    /// Charge what a copy of `v` costs; the walk stops as soon as the budget is exceeded,
    /// so measuring is never more work than the copy it allows.
    pub fn charge_copy(&mut self, v: &Value, format: &str) -> Result<()> {
        let cost = value_cost(v, self.left);
        self.charge(cost, format)
    }

    /// What is left, for tests and diagnostics.
    pub fn remaining(&self) -> usize {
        self.left
    }
}

/// Estimated heap cost of `v` (nodes * NODE_COST + string and bytes lengths), counted
/// iteratively; counting stops once past `limit` (the result is then > `limit`).
pub fn value_cost(v: &Value, limit: usize) -> usize {
    let mut cost = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        cost += NODE_COST;
        match v {
            Value::Str(s) => cost += s.len(),
            Value::Bytes(b) => cost += b.len(),
            Value::BigInt(b) => cost += (b.bits() / 8) as usize,
            Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
                stack.extend(items.iter())
            }
            Value::Dict(items) => {
                for (k, val) in items {
                    stack.push(k);
                    stack.push(val);
                }
            }
            Value::Object(o) => {
                cost += o.class.len();
                stack.push(&o.state)
            }
            _ => {}
        }
        if cost > limit {
            break;
        }
    }
    cost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_until_exhausted_then_refuses_without_charging() {
        let mut b = ExpansionBudget::for_input(0);
        assert_eq!(b.remaining(), EXPANSION_FLOOR);
        let big = Value::Bytes(vec![0; 300_000]);
        for _ in 0..3 {
            b.charge_copy(&big, "test").unwrap();
        }
        let left = b.remaining();
        let e = b.charge_copy(&big, "test").unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Serialization);
        assert!(e.message.contains("expand beyond"), "{}", e.message);
        assert_eq!(b.remaining(), left);
    }

    #[test]
    fn cost_walk_stops_past_the_limit() {
        let list = Value::List(vec![Value::Int(1); 1_000_000]);
        let c = value_cost(&list, 1000);
        assert!(c > 1000 && c < 1000 + 2 * NODE_COST, "{c}");
        assert_eq!(value_cost(&list, usize::MAX), 1_000_001 * NODE_COST);
    }

    /// The one memory rule, checked on every decoder: whatever a message decodes into
    /// costs at most EXPANSION_FACTOR times the message (at least EXPANSION_FLOOR). Inputs
    /// are the densest shapes each format has (a value node per byte or two), reference
    /// fan-outs, and a few ordinary ones; a refused input passes if refused cleanly.
    #[test]
    fn decoded_values_stay_within_the_expansion_bound() {
        use crate::serial::{json, marshal, serpent};
        let n = 100_000;
        let rep = |item: &str, open: &str, close: &str| {
            let mut s = String::from(open);
            for _ in 0..n {
                s.push_str(item);
            }
            s.push_str(close);
            s.into_bytes()
        };
        let nested = |open: &str, close: &str, depth: usize| {
            (open.repeat(depth) + &close.repeat(depth)).into_bytes()
        };
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        for item in [
            "0,", "[],", "(),", "{},", "set(),", "'',", "1j,", "None,", "(0,),",
        ] {
            cases.push(("serpent", rep(item, "[", "]")));
        }
        cases.push(("serpent", rep("{'__class__':'x'},", "[", "]")));
        cases.push(("serpent", nested("[", "]", 999)));
        cases.push(("serpent", format!("'{}'", "a".repeat(n)).into_bytes()));
        cases.push(("serpent", format!("b'{}'", "\\x00".repeat(n)).into_bytes()));
        let mut dict = String::from("{");
        for i in 0..n {
            dict.push_str(&format!("{i}:0,"));
        }
        cases.push(("serpent", (dict + "}").into_bytes()));
        for tiny in ["0", "()", "''", "set()", "{}"] {
            cases.push(("serpent", tiny.as_bytes().to_vec()));
        }
        for item in [
            "0,",
            "[],",
            "{},",
            "\"\",",
            "null,",
            "{\"__class__\":\"x\"},",
        ] {
            let mut b = rep(item, "[", "");
            b.extend_from_slice(b"0]");
            cases.push(("json", b));
        }
        cases.push(("json", nested("[", "]", 999)));
        cases.push(("json", b"{}".to_vec()));

        let m_list = |count: usize, items: &[u8]| {
            let mut b = vec![b'['];
            b.extend_from_slice(&(count as u32).to_le_bytes());
            b.extend_from_slice(items);
            b
        };
        let refs = |count: usize, target: u32| {
            let mut b = Vec::new();
            for _ in 0..count {
                b.push(b'r');
                b.extend_from_slice(&target.to_le_bytes());
            }
            b
        };
        cases.push(("marshal", m_list(n, &b"N".repeat(n))));
        cases.push(("marshal", m_list(n, &b")\x00".repeat(n))));
        cases.push(("marshal", m_list(n, &b"{0".repeat(n))));
        cases.push(("marshal", m_list(n, &b"z\x00".repeat(n))));
        // a flagged empty tuple, then references to it; then to a flagged 2 KiB string
        let mut items = b"\xa9\x00".to_vec();
        items.extend(refs(n, 0));
        cases.push(("marshal", m_list(n + 1, &items)));
        for (count, tail) in [(100, 0), (1_000, 0), (5_000, 0), (3_000, n)] {
            let mut items = vec![b's' | 0x80];
            items.extend_from_slice(&2048u32.to_le_bytes());
            items.extend(std::iter::repeat_n(b'x', 2048));
            items.extend(refs(count, 0));
            items.extend(std::iter::repeat_n(b'N', tail));
            cases.push(("marshal", m_list(1 + count + tail, &items)));
        }
        cases.push(("marshal", b"N".to_vec()));

        for (format, data) in &cases {
            let bound = (data.len() * EXPANSION_FACTOR).max(EXPANSION_FLOOR);
            let decoded = match *format {
                "serpent" => serpent::decode(data),
                "json" => json::decode(data),
                _ => marshal::decode_with_budget(data).map(|(v, charged)| {
                    assert!(charged <= bound, "marshal charged {charged} > {bound}");
                    v
                }),
            };
            let head = String::from_utf8_lossy(&data[..data.len().min(24)]).into_owned();
            match decoded {
                Ok(v) => {
                    let cost = value_cost(&v, usize::MAX);
                    assert!(
                        cost <= bound,
                        "{format} {head:?}...: {cost} bytes from {}",
                        data.len()
                    );
                }
                Err(e) => {
                    assert_eq!(
                        e.kind,
                        crate::error::ErrorKind::Serialization,
                        "{format} {head:?}"
                    );
                    assert!(
                        e.message.contains("expand beyond"),
                        "{format} {head:?}: {}",
                        e.message
                    );
                }
            }
        }
    }
}

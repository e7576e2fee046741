//! Dicts and sets built in expected linear time with Python's key equality (`1`, `1.0` and
//! `True` are one key): every decoder builds its dicts and sets through these, so a reply of
//! n entries costs O(n), never a scan per insert. The hash is keyed per process
//! (`RandomState`), so a hostile peer cannot aim its keys at one bucket.

use super::Value;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
/// Up to this many entries, duplicate detection scans linearly; beyond, a hash index is built.
pub(crate) const LINEAR_LIMIT: usize = 16;

/// Hash index over the keys of a growing dict or set, built once it gets large.
pub(crate) struct KeyIndex {
    buckets: HashMap<u64, Vec<usize>>,
    hasher: RandomState,
}

impl KeyIndex {
    pub(crate) fn build<'a>(keys: impl Iterator<Item = &'a Value>) -> KeyIndex {
        let mut ix = KeyIndex {
            buckets: HashMap::new(),
            hasher: RandomState::new(),
        };
        for (i, k) in keys.enumerate() {
            let h = key_hash(k, &ix.hasher);
            ix.buckets.entry(h).or_default().push(i);
        }
        ix
    }
}

/// Position of `key` among `keys` (Python equality), using `index` when there is one;
/// otherwise returns the key's hash bucket to insert into.
pub(crate) fn find_key<'a, F: Fn(usize) -> &'a Value>(
    key: &Value,
    len: usize,
    get: F,
    index: Option<&KeyIndex>,
) -> std::result::Result<usize, Option<u64>> {
    match index {
        None => (0..len).find(|&i| get(i) == key).ok_or(None),
        Some(ix) => {
            let h = key_hash(key, &ix.hasher);
            match ix.buckets.get(&h) {
                Some(bucket) => bucket
                    .iter()
                    .copied()
                    .find(|&i| get(i) == key)
                    .ok_or(Some(h)),
                None => Err(Some(h)),
            }
        }
    }
}

/// Builds an insertion-ordered dict with Python's duplicate-key rule (first key position,
/// last value) in expected linear time, using a hash consistent with `Value`'s `PartialEq`.
pub(crate) struct DictBuilder {
    items: Vec<(Value, Value)>,
    index: Option<KeyIndex>,
}

impl DictBuilder {
    pub(crate) fn new() -> Self {
        DictBuilder {
            items: Vec::new(),
            index: None,
        }
    }

    pub(crate) fn insert(&mut self, k: Value, v: Value) {
        let items = &self.items;
        match find_key(&k, items.len(), |i| &items[i].0, self.index.as_ref()) {
            Ok(i) => self.items[i].1 = v,
            Err(h) => {
                if let (Some(h), Some(ix)) = (h, self.index.as_mut()) {
                    ix.buckets.entry(h).or_default().push(self.items.len());
                }
                self.items.push((k, v));
                if self.index.is_none() && self.items.len() >= LINEAR_LIMIT {
                    self.index = Some(KeyIndex::build(self.items.iter().map(|(k, _)| k)));
                }
            }
        }
    }

    pub(crate) fn finish(self) -> Vec<(Value, Value)> {
        self.items
    }
}

/// Builds a set keeping the first of equal elements (Python's `set.add`).
pub(crate) struct SetBuilder {
    items: Vec<Value>,
    index: Option<KeyIndex>,
}

impl SetBuilder {
    pub(crate) fn new() -> Self {
        SetBuilder {
            items: Vec::new(),
            index: None,
        }
    }

    pub(crate) fn insert(&mut self, v: Value) {
        let items = &self.items;
        if let Err(h) = find_key(&v, items.len(), |i| &items[i], self.index.as_ref()) {
            if let (Some(h), Some(ix)) = (h, self.index.as_mut()) {
                ix.buckets.entry(h).or_default().push(self.items.len());
            }
            self.items.push(v);
            if self.index.is_none() && self.items.len() >= LINEAR_LIMIT {
                self.index = Some(KeyIndex::build(self.items.iter()));
            }
        }
    }

    pub(crate) fn finish(self) -> Vec<Value> {
        self.items
    }
}

/// A hash with `a == b  =>  key_hash(a) == key_hash(b)` for `Value`'s Python-like equality.
/// Recursion is bounded by the decoders' depth limit.
fn key_hash(v: &Value, rs: &RandomState) -> u64 {
    let mut h = rs.build_hasher();
    hash_into(v, rs, &mut h);
    h.finish()
}

fn hash_into<H: Hasher>(v: &Value, rs: &RandomState, h: &mut H) {
    fn int<H: Hasher>(i: i128, h: &mut H) {
        1u8.hash(h);
        i.hash(h);
    }
    fn float<H: Hasher>(f: f64, h: &mut H) {
        if f.fract() == 0.0 && f.abs() < 1e18 {
            int(f as i128, h);
        } else {
            2u8.hash(h);
            f.to_bits().hash(h);
        }
    }
    fn zero_norm(f: f64) -> u64 {
        if f == 0.0 {
            0
        } else {
            f.to_bits()
        }
    }
    match v {
        Value::None => 0u8.hash(h),
        Value::Bool(b) => int(*b as i128, h),
        Value::Int(i) => int(*i as i128, h),
        Value::BigInt(b) => {
            3u8.hash(h);
            b.hash(h);
        }
        Value::Float(f) => float(*f, h),
        Value::Complex { re, im } if *im == 0.0 => float(*re, h),
        Value::Complex { re, im } => {
            4u8.hash(h);
            zero_norm(*re).hash(h);
            zero_norm(*im).hash(h);
        }
        Value::Str(s) => {
            5u8.hash(h);
            s.hash(h);
        }
        Value::Bytes(b) => {
            6u8.hash(h);
            b.hash(h);
        }
        Value::Tuple(items) => {
            7u8.hash(h);
            items.len().hash(h);
            for it in items {
                hash_into(it, rs, h);
            }
        }
        Value::Set(items) => {
            8u8.hash(h);
            let mut sum = 0u64;
            for it in items {
                sum = sum.wrapping_add(key_hash(it, rs));
            }
            sum.hash(h);
        }
        // Unhashable in Python; callers refuse them as keys. Hash only the kind.
        Value::List(_) => 9u8.hash(h),
        Value::Dict(_) => 10u8.hash(h),
        Value::Object(_) => 11u8.hash(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_builder_python_dup_rule() {
        let mut d = DictBuilder::new();
        d.insert(Value::Int(1), Value::str("a"));
        d.insert(Value::str("x"), Value::Int(0));
        d.insert(Value::Float(1.0), Value::str("b"));
        d.insert(Value::Bool(true), Value::str("c"));
        let items = d.finish();
        assert_eq!(items.len(), 2);
        assert!(matches!(items[0], (Value::Int(1), Value::Str(ref s)) if s == "c"));
    }

    #[test]
    fn builders_with_hash_index_follow_python_equality() {
        let mut d = DictBuilder::new();
        let mut st = SetBuilder::new();
        for n in 0..100 {
            d.insert(Value::Int(n), Value::Int(n));
            st.insert(Value::Int(n));
        }
        let dup_keys = [
            Value::Float(5.0),
            Value::Bool(true),
            Value::Complex { re: 7.0, im: 0.0 },
            Value::Float(-0.0),
        ];
        for k in dup_keys {
            d.insert(k.clone(), Value::str("dup"));
            st.insert(k);
        }
        let t1 = Value::Tuple(vec![
            Value::Int(1),
            Value::Set(vec![Value::Int(1), Value::Int(2)]),
        ]);
        let t2 = Value::Tuple(vec![
            Value::Float(1.0),
            Value::Set(vec![Value::Int(2), Value::Int(1)]),
        ]);
        d.insert(t1, Value::Int(0));
        d.insert(t2, Value::Int(1));
        d.insert(Value::Float(f64::NAN), Value::Int(0));
        d.insert(Value::Float(f64::NAN), Value::Int(1));
        let items = d.finish();
        assert_eq!(items.len(), 103);
        assert_eq!(items[5].1, Value::str("dup"));
        assert_eq!(items[0].1, Value::str("dup"));
        assert!(matches!(items[0].0, Value::Int(0)));
        assert_eq!(items[100].1, Value::Int(1));
        assert_eq!(st.finish().len(), 100);
    }
}

//! Dicts and sets built in expected linear time with Python's key equality (`1`, `1.0` and
//! `True` are one key): every decoder builds its dicts and sets through these, so a reply of
//! n entries costs O(n), never a scan per insert. The hash is keyed per process
//! (`RandomState`), so a hostile peer cannot aim its keys at one bucket.
//!
//! The hash is compositional (a tuple's hash is made of its items' hashes, a set's of the
//! sum of its elements' hashes), so a decoder that builds nested hashable containers
//! (marshal's frozensets) can carry each finished container's hash up instead of walking it
//! again at every level it is inserted into: that walk would cost depth x size.

use super::Value;
use std::collections::hash_map::{DefaultHasher, RandomState};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Up to this many entries, duplicate detection scans the stored hashes; beyond, an index
/// is built.
pub(crate) const LINEAR_LIMIT: usize = 16;

/// NaN is never equal to anything, itself included; giving every NaN its own hash keeps
/// many NaN keys (distinct keys, in Python too) out of one bucket chain.
static NAN_SEQ: AtomicU64 = AtomicU64::new(0);

/// The keyed hash behind [`DictBuilder`] and [`SetBuilder`]: `a == b` implies
/// `hash(a) == hash(b)` for `Value`'s Python-like equality. Builders that share one (see
/// `with_hasher`) accept hashes computed by it ([`DictBuilder::insert_hashed`]).
#[derive(Clone)]
pub(crate) struct KeyHasher {
    rs: RandomState,
}

/// A tuple's hash, fed its items' hashes in order.
pub(crate) struct TupleHash(DefaultHasher);

impl TupleHash {
    pub(crate) fn push(&mut self, item_hash: u64) {
        self.0.write_u64(item_hash);
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0.finish()
    }
}

impl KeyHasher {
    pub(crate) fn new() -> Self {
        KeyHasher {
            rs: RandomState::new(),
        }
    }

    /// The hash of `v`. Recursion is bounded by the decoders' depth limit.
    pub(crate) fn hash(&self, v: &Value) -> u64 {
        match v {
            Value::Tuple(items) => {
                let mut t = self.tuple(items.len());
                for it in items {
                    t.push(self.hash(it));
                }
                t.finish()
            }
            Value::Set(items) => self.set(
                items
                    .iter()
                    .fold(0u64, |sum, it| sum.wrapping_add(self.hash(it))),
            ),
            // Unhashable in Python (decoders refuse them as keys), but objects are keys
            // (a class instance hashes by identity there), and equality of sets of them
            // goes through here too: hashing only the kind would put them all in one
            // bucket, quadratic in their number.
            Value::List(items) => {
                let mut h = self.rs.build_hasher();
                9u8.hash(&mut h);
                for it in items {
                    self.hash(it).hash(&mut h);
                }
                h.finish()
            }
            Value::Dict(items) => {
                let sum = items.iter().fold(0u64, |sum, (k, v)| {
                    sum.wrapping_add(self.rs.hash_one((self.hash(k), self.hash(v))))
                });
                self.rs.hash_one((10u8, sum))
            }
            Value::Object(o) => self.rs.hash_one((11u8, &o.class, self.hash(&o.state))),
            other => self.scalar(other),
        }
    }

    /// Start the hash of a tuple of `len` items.
    pub(crate) fn tuple(&self, len: usize) -> TupleHash {
        let mut h = self.rs.build_hasher();
        7u8.hash(&mut h);
        len.hash(&mut h);
        TupleHash(h)
    }

    /// The hash of a set whose (distinct) elements' hashes add up to `sum`: a sum, so that
    /// element order does not matter.
    pub(crate) fn set(&self, sum: u64) -> u64 {
        let mut h = self.rs.build_hasher();
        8u8.hash(&mut h);
        sum.hash(&mut h);
        h.finish()
    }

    /// A hash for anything but tuples and sets.
    pub(crate) fn scalar(&self, v: &Value) -> u64 {
        if matches!(v, Value::List(_) | Value::Dict(_) | Value::Object(_)) {
            return self.hash(v);
        }
        let mut h = self.rs.build_hasher();
        scalar_into(v, &mut h);
        h.finish()
    }
}

fn scalar_into<H: Hasher>(v: &Value, h: &mut H) {
    fn int<H: Hasher>(i: i128, h: &mut H) {
        1u8.hash(h);
        i.hash(h);
    }
    fn nan<H: Hasher>(h: &mut H) {
        12u8.hash(h);
        NAN_SEQ.fetch_add(1, Ordering::Relaxed).hash(h);
    }
    // Mirrors `Value`'s numeric equality: integral floats below 1e18 equal the int.
    fn float<H: Hasher>(f: f64, h: &mut H) {
        if f.is_nan() {
            nan(h);
        } else if f.fract() == 0.0 && f.abs() < 1e18 {
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
        Value::Complex { re, im } if re.is_nan() || im.is_nan() => nan(h),
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
        // Not scalars; reached only through `KeyHasher::hash`, which handles them.
        Value::List(_) | Value::Dict(_) | Value::Object(_) | Value::Tuple(_) | Value::Set(_) => {
            13u8.hash(h)
        }
    }
}

/// Bookkeeping shared by both builders. Small builders (most dicts in a reply) compare keys
/// directly, as hashing every key would cost more; past [`LINEAR_LIMIT`] keys (or as soon
/// as the caller supplies hashes) every key's hash is kept, with an open-addressing index
/// of positions. Kept small (the index boxed): decoders hold one per open container.
struct Keys {
    /// None while the builder is small and was given no hashes.
    index: Option<Box<Index>>,
    /// Made when first needed: most dicts in a reply are small and never hash.
    kh: Option<KeyHasher>,
}

struct Index {
    /// Each key's hash.
    hashes: Vec<u64>,
    /// Open addressing, linear probing: 0 is empty, else the key's hash's high 32 bits
    /// over position + 1, so a probe rejects most other keys without touching `hashes`
    /// (a cache miss per probe otherwise: with a million keys that doubled the build
    /// time). Power-of-two size, at most half full. Empty up to [`LINEAR_LIMIT`] keys (the
    /// hashes are scanned).
    slots: Vec<u64>,
    /// Positions past `u32::MAX - 1` (no slot can name them), scanned one by one.
    overflow: Vec<usize>,
}

impl Keys {
    fn new(kh: Option<KeyHasher>) -> Self {
        Keys { index: None, kh }
    }

    fn kh(&mut self) -> &KeyHasher {
        self.kh.get_or_insert_with(KeyHasher::new)
    }

    fn hashed(&self) -> bool {
        self.index.is_some()
    }

    /// Position of a key equal to `k` among the `n` keys so far, with no hashes kept yet.
    fn find_unhashed<'a>(
        &self,
        k: &Value,
        n: usize,
        key_at: impl Fn(usize) -> &'a Value,
    ) -> Option<usize> {
        (0..n).find(|&i| key_eq(key_at(i), k))
    }

    /// Position of a key equal to `k` (whose hash is `h`), with every key's hash kept.
    fn find<'a>(&self, k: &Value, h: u64, key_at: impl Fn(usize) -> &'a Value) -> Option<usize> {
        let ix = self.index.as_deref()?;
        let hit = |i: usize| ix.hashes[i] == h && key_eq(key_at(i), k);
        if ix.slots.is_empty() {
            return (0..ix.hashes.len()).find(|&i| hit(i));
        }
        let mask = ix.slots.len() - 1;
        let mut s = h as usize & mask;
        let tag = h >> 32;
        loop {
            match ix.slots[s] {
                0 => break,
                slot if slot >> 32 == tag && hit(slot_pos(slot)) => return Some(slot_pos(slot)),
                _ => s = (s + 1) & mask,
            }
        }
        ix.overflow.iter().copied().find(|&i| hit(i))
    }

    /// Keep the hashes of the `n` keys so far (computed by `key_at`), from now on.
    fn start_hashing<'a>(&mut self, n: usize, key_at: impl Fn(usize) -> &'a Value) {
        let kh = self.kh.get_or_insert_with(KeyHasher::new);
        let mut ix = Box::new(Index {
            hashes: (0..n).map(|i| kh.hash(key_at(i))).collect(),
            slots: Vec::new(),
            overflow: Vec::new(),
        });
        if n > LINEAR_LIMIT {
            ix.rebuild();
        }
        self.index = Some(ix);
    }

    /// Ask the CPU for the slot `h` probes first: a big builder's slot table is far larger
    /// than the caches, and the inserts queued behind this one overlap their misses.
    fn prefetch(&self, h: u64) {
        #[cfg(target_arch = "x86_64")]
        if let Some(ix) = self.index.as_deref() {
            if !ix.slots.is_empty() {
                let s = h as usize & (ix.slots.len() - 1);
                // SAFETY: prefetching is a hint; the address is inside the slot table.
                unsafe {
                    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                    _mm_prefetch::<_MM_HINT_T0>(ix.slots.as_ptr().add(s) as *const i8);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = h;
    }

    /// Record the hash `h` of a new key at the next position (hashes are kept).
    fn push(&mut self, h: u64) {
        let ix = self.index.as_deref_mut().expect("hashes are kept");
        ix.hashes.push(h);
        let n = ix.hashes.len();
        if n * 2 > ix.slots.len() && n > LINEAR_LIMIT {
            ix.rebuild();
        } else if !ix.slots.is_empty() {
            ix.place(n - 1);
        }
    }
}

impl Index {
    fn rebuild(&mut self) {
        let size = (self.hashes.len() * 2).next_power_of_two().max(64);
        self.slots = vec![0; size];
        self.overflow.clear();
        for i in 0..self.hashes.len() {
            self.place(i);
        }
    }

    fn place(&mut self, i: usize) {
        let Ok(p) = u32::try_from(i + 1) else {
            self.overflow.push(i);
            return;
        };
        if p == u32::MAX {
            self.overflow.push(i);
            return;
        }
        let mask = self.slots.len() - 1;
        let h = self.hashes[i];
        let mut s = h as usize & mask;
        while self.slots[s] != 0 {
            s = (s + 1) & mask;
        }
        self.slots[s] = (h >> 32) << 32 | p as u64;
    }
}

fn slot_pos(slot: u64) -> usize {
    (slot & u32::MAX as u64) as usize - 1
}

/// The hashed positions of a fixed collection's keys, for many lookups in it (equality of
/// big sets and dicts): expected O(1) per lookup instead of a scan.
pub(crate) struct KeyIndex {
    keys: Keys,
}

impl KeyIndex {
    pub(crate) fn build<'a>(n: usize, key_at: impl Fn(usize) -> &'a Value) -> KeyIndex {
        let mut keys = Keys::new(None);
        keys.start_hashing(n, key_at);
        KeyIndex { keys }
    }

    /// Position of a key equal to `k`, given the same `key_at` as `build`.
    pub(crate) fn find<'a>(&self, k: &Value, key_at: impl Fn(usize) -> &'a Value) -> Option<usize> {
        let h = self
            .keys
            .kh
            .as_ref()
            .expect("made by start_hashing")
            .hash(k);
        self.keys.find(k, h, key_at)
    }
}

/// Inserts of a big builder wait this long in a queue, their slots prefetched, so that
/// the cache misses of several inserts overlap (measured, alternating runs: a pickled
/// 1M-int dict decodes in 330-446 ms instead of 535-717, serpent 287-359 vs 415-633).
const PIPELINE: usize = 8;

/// Builds an insertion-ordered dict with Python's duplicate-key rule (first key position,
/// last value) in expected linear time.
pub(crate) struct DictBuilder {
    items: Vec<(Value, Value)>,
    keys: Keys,
    /// Hashed inserts not made yet, in order (see [`PIPELINE`]).
    queued: std::collections::VecDeque<(Value, u64, Value)>,
}

impl DictBuilder {
    pub(crate) fn new() -> Self {
        DictBuilder {
            items: Vec::new(),
            keys: Keys::new(None),
            queued: Default::default(),
        }
    }

    /// A builder whose keys' hashes may be given by `kh` ([`DictBuilder::insert_hashed`]).
    pub(crate) fn with_hasher(kh: KeyHasher) -> Self {
        DictBuilder {
            items: Vec::new(),
            keys: Keys::new(Some(kh)),
            queued: Default::default(),
        }
    }

    pub(crate) fn insert(&mut self, k: Value, v: Value) {
        if self.keys.hashed() {
            let h = self.keys.kh().hash(&k);
            return self.insert_hashed(k, h, v);
        }
        let items = &self.items;
        match self.keys.find_unhashed(&k, items.len(), |i| &items[i].0) {
            Some(i) => self.items[i].1 = v,
            None => {
                self.items.push((k, v));
                if self.items.len() > LINEAR_LIMIT {
                    let items = &self.items;
                    self.keys.start_hashing(items.len(), |i| &items[i].0);
                }
            }
        }
    }

    /// Insert `k` whose hash, by this builder's [`KeyHasher`], is `h`.
    pub(crate) fn insert_hashed(&mut self, k: Value, h: u64, v: Value) {
        if !self.keys.hashed() {
            let items = &self.items;
            self.keys.start_hashing(items.len(), |i| &items[i].0);
        }
        self.keys.prefetch(h);
        self.queued.push_back((k, h, v));
        if self.queued.len() > PIPELINE {
            self.insert_queued();
        }
    }

    fn insert_queued(&mut self) {
        let Some((k, h, v)) = self.queued.pop_front() else {
            return;
        };
        let items = &self.items;
        match self.keys.find(&k, h, |i| &items[i].0) {
            Some(i) => self.items[i].1 = v,
            None => {
                self.items.push((k, v));
                self.keys.push(h);
            }
        }
    }

    pub(crate) fn finish(mut self) -> Vec<(Value, Value)> {
        while !self.queued.is_empty() {
            self.insert_queued();
        }
        self.items
    }
}

/// Builds a set keeping the first of equal elements (Python's `set.add`).
pub(crate) struct SetBuilder {
    items: Vec<Value>,
    keys: Keys,
    /// Hashed inserts not made yet, in order (see [`PIPELINE`]).
    queued: std::collections::VecDeque<(Value, u64)>,
}

impl SetBuilder {
    pub(crate) fn new() -> Self {
        SetBuilder {
            items: Vec::new(),
            keys: Keys::new(None),
            queued: Default::default(),
        }
    }

    /// A builder whose elements' hashes may be given by `kh` ([`SetBuilder::insert_hashed`]).
    pub(crate) fn with_hasher(kh: KeyHasher) -> Self {
        SetBuilder {
            items: Vec::new(),
            keys: Keys::new(Some(kh)),
            queued: Default::default(),
        }
    }

    pub(crate) fn insert(&mut self, v: Value) {
        if self.keys.hashed() {
            let h = self.keys.kh().hash(&v);
            return self.insert_hashed(v, h);
        }
        let items = &self.items;
        if self
            .keys
            .find_unhashed(&v, items.len(), |i| &items[i])
            .is_none()
        {
            self.items.push(v);
            if self.items.len() > LINEAR_LIMIT {
                let items = &self.items;
                self.keys.start_hashing(items.len(), |i| &items[i]);
            }
        }
    }

    /// Insert `v` whose hash, by this builder's [`KeyHasher`], is `h`.
    pub(crate) fn insert_hashed(&mut self, v: Value, h: u64) {
        if !self.keys.hashed() {
            let items = &self.items;
            self.keys.start_hashing(items.len(), |i| &items[i]);
        }
        self.keys.prefetch(h);
        self.queued.push_back((v, h));
        if self.queued.len() > PIPELINE {
            self.insert_queued();
        }
    }

    fn insert_queued(&mut self) {
        let Some((v, h)) = self.queued.pop_front() else {
            return;
        };
        let items = &self.items;
        if self.keys.find(&v, h, |i| &items[i]).is_none() {
            self.items.push(v);
            self.keys.push(h);
        }
    }

    fn insert_all_queued(&mut self) {
        while !self.queued.is_empty() {
            self.insert_queued();
        }
    }

    /// Whether the elements' hashes are kept already (the set is large, or was given
    /// hashes): then [`SetBuilder::set_hash`] costs one hash, not one per element.
    pub(crate) fn is_hashing(&self) -> bool {
        self.keys.hashed()
    }

    /// What `KeyHasher::hash` gives for the finished set, from the elements' kept hashes
    /// rather than walking them again.
    pub(crate) fn set_hash(&mut self) -> u64 {
        self.insert_all_queued();
        let kh = self.keys.kh.get_or_insert_with(KeyHasher::new);
        let sum = if let Some(ix) = &self.keys.index {
            ix.hashes.iter().fold(0u64, |s, &h| s.wrapping_add(h))
        } else {
            self.items
                .iter()
                .fold(0u64, |s, it| s.wrapping_add(kh.hash(it)))
        };
        kh.set(sum)
    }

    pub(crate) fn finish(mut self) -> Vec<Value> {
        self.insert_all_queued();
        self.items
    }
}

/// `a == b` (Python equality as `Value` defines it), in time linear in the two values.
/// `Value`'s own set equality looks each element up by a scan (quadratic), and nested sets
/// would repeat that at every level; here sets are matched through hashes computed once
/// per node.
#[inline]
fn key_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Tuple(_), Value::Tuple(_)) | (Value::Set(_), Value::Set(_)) => container_eq(a, b),
        _ => a == b,
    }
}

fn container_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| key_eq(p, q))
        }
        // Any keyed hash will do: it is only compared with itself.
        _ => DeepEq {
            kh: &KeyHasher::new(),
            memo: HashMap::new(),
        }
        .eq(a, b),
    }
}

/// One equality test between values that contain sets.
struct DeepEq<'k> {
    kh: &'k KeyHasher,
    /// Hashes of the containers met so far. The values are borrowed for the whole test, so
    /// a node's address identifies it.
    memo: HashMap<*const Value, u64>,
}

impl DeepEq<'_> {
    fn hash(&mut self, v: &Value) -> u64 {
        if !matches!(v, Value::Tuple(_) | Value::Set(_)) {
            return self.kh.scalar(v);
        }
        if let Some(&h) = self.memo.get(&(v as *const Value)) {
            return h;
        }
        let h = match v {
            Value::Tuple(items) => {
                let mut t = self.kh.tuple(items.len());
                for it in items {
                    let ih = self.hash(it);
                    t.push(ih);
                }
                t.finish()
            }
            Value::Set(items) => {
                let mut sum = 0u64;
                for it in items {
                    sum = sum.wrapping_add(self.hash(it));
                }
                self.kh.set(sum)
            }
            _ => unreachable!("only containers are memoised"),
        };
        self.memo.insert(v as *const Value, h);
        h
    }

    fn eq(&mut self, a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Tuple(x), Value::Tuple(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| self.eq(p, q))
            }
            (Value::Set(x), Value::Set(y)) => {
                if x.len() != y.len() || self.hash(a) != self.hash(b) {
                    return false;
                }
                let mut by_hash: Vec<(u64, usize)> = y
                    .iter()
                    .enumerate()
                    .map(|(j, e)| (self.hash(e), j))
                    .collect();
                by_hash.sort_unstable();
                // Elements of a set are distinct, so with equal lengths "every element of x
                // is in y" is equality.
                x.iter().all(|e| {
                    let h = self.hash(e);
                    let from = by_hash.partition_point(|&(bh, _)| bh < h);
                    by_hash[from..]
                        .iter()
                        .take_while(|&&(bh, _)| bh == h)
                        .any(|&(_, j)| self.eq(e, &y[j]))
                })
            }
            _ => a == b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Objects (instances of one class with different states) as keys or set elements
    /// hash by class and state, not by kind: 50,000 of them cost about one comparison
    /// each, not a scan (counted with Value's test-only comparison counter).
    #[test]
    fn distinct_objects_hash_apart() {
        use crate::value::Object;
        let obj = |i: i64| {
            Value::Object(Box::new(Object {
                class: "m.Thing".into(),
                state: Value::Dict(vec![(Value::str("id"), Value::Int(i))]),
            }))
        };
        let before = crate::value::comparisons_so_far();
        let mut s = SetBuilder::new();
        for i in 0..50_000 {
            s.insert(obj(i));
        }
        s.insert(obj(7));
        let compared = crate::value::comparisons_so_far() - before;
        assert_eq!(s.finish().len(), 50_000);
        assert!(compared < 200_000, "{compared} comparisons");
    }

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

    /// Sets as elements: equal whatever the order (also nested), unequal on any difference,
    /// and the hash a builder carries up equals the hash of the finished set.
    #[test]
    fn nested_sets_compare_by_content() {
        let kh = KeyHasher::new();
        let set = |range: std::ops::Range<i64>, rev: bool, extra: Option<Value>| {
            let mut b = SetBuilder::with_hasher(kh.clone());
            let mut items: Vec<Value> = range.map(Value::Int).collect();
            if rev {
                items.reverse();
            }
            items.extend(extra);
            for i in items {
                b.insert(i);
            }
            let h = b.set_hash();
            let v = Value::Set(b.finish());
            assert_eq!(kh.hash(&v), h);
            (v, h)
        };
        let (inner_a, _) = set(0..40, false, None);
        let (inner_b, _) = set(0..40, true, None);
        let (inner_c, _) = set(1..41, false, None);
        let (a, ha) = set(100..140, false, Some(inner_a));
        let (b, hb) = set(100..140, true, Some(inner_b));
        let (c, hc) = set(100..140, false, Some(inner_c));
        let mut outer = SetBuilder::with_hasher(kh.clone());
        outer.insert_hashed(a, ha);
        outer.insert_hashed(b, hb);
        outer.insert_hashed(c, hc);
        assert_eq!(outer.finish().len(), 2);
    }

    /// Every NaN is a distinct key (as in Python) and none of them lands in a shared
    /// bucket: with one hash for all NaNs, each insert scanned every NaN before it.
    #[test]
    fn many_nan_keys_stay_distinct_in_linear_time() {
        let n = 200_000;
        let mut d = DictBuilder::new();
        let mut st = SetBuilder::new();
        for i in 0..n {
            d.insert(Value::Float(f64::NAN), Value::Int(i));
            st.insert(Value::Complex {
                re: 1.0,
                im: f64::NAN,
            });
        }
        assert_eq!(d.finish().len(), n as usize);
        assert_eq!(st.finish().len(), n as usize);
    }

    /// Two equal sets of 200k elements (in opposite orders) as elements of one set:
    /// `Value`'s own set equality scans one per element of the other (2 * 10^10 steps).
    #[test]
    fn equal_big_sets_as_elements_compare_in_linear_time() {
        let n = 200_000;
        let a = Value::Set((0..n).map(Value::Int).collect());
        let b = Value::Set((0..n).rev().map(Value::Int).collect());
        let c = Value::Set((1..=n).map(Value::Int).collect());
        let mut st = SetBuilder::new();
        st.insert(a);
        st.insert(b);
        st.insert(c);
        let items = st.finish();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_seq().unwrap()[0], Value::Int(0));
    }
}

//! The Python-like value model shared by every serializer and the C API.

pub(crate) mod keyed;
mod printable;
mod repr;
pub(crate) mod scan;

pub use repr::{complex_repr, float_repr};
pub(crate) use repr::{float_repr_into, push_int, str_repr};

use keyed::KeyIndex;
use num_bigint::BigInt;

/// A Python value (None, bool, int, float, complex, str, bytes, list, tuple, set, dict
/// or object). Opaque in C: build with the pyro_value_* constructors, inspect with the
/// accessors, free what you own with pyro_value_free. Nesting is limited to
/// PYRO_VALUE_MAX_DEPTH levels.
///
/// Rust invariants: `BigInt` holds only integers outside the `i64` range (constructors
/// normalise through [`Value::from_bigint`]); `Dict` keys are unique (use [`Value::dict_set`]).
/// Dropping, cloning, comparing and `repr` recurse once per level ([`Value::depth`]); the
/// decoders and the C API stay within `serial::MAX_DEPTH` levels. Free a deeper value
/// built in Rust with [`Value::free_deep`].
#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    None,
    Bool(bool),
    Int(i64),
    BigInt(BigInt),
    Float(f64),
    Complex {
        re: f64,
        im: f64,
    },
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Kept in the order received; Python's own set order depends on hashes.
    Set(Vec<Value>),
    /// Insertion-ordered, like Python 3.7+ dicts.
    Dict(Vec<(Value, Value)>),
    /// An instance of a class the serializer cannot map onto a plain value
    /// (serpent/json class dicts with `__class__`, pickled objects).
    Object(Box<Object>),
}

/// An object of a class with no plain-value mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Fully qualified class name, e.g. `mymodule.Thing`.
    pub class: String,
    /// The object's state: for class dicts, the dict without its `__class__` key.
    pub state: Value,
}

/// The kind of a [`Value`], numbered as `pyro_value_kind` in the C header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub enum ValueKind {
    None = 0,
    Bool = 1,
    Int = 2,
    BigInt = 3,
    Float = 4,
    Complex = 5,
    Str = 6,
    Bytes = 7,
    List = 8,
    Tuple = 9,
    Set = 10,
    Dict = 11,
    Object = 12,
}

impl Value {
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::None => ValueKind::None,
            Value::Bool(_) => ValueKind::Bool,
            Value::Int(_) => ValueKind::Int,
            Value::BigInt(_) => ValueKind::BigInt,
            Value::Float(_) => ValueKind::Float,
            Value::Complex { .. } => ValueKind::Complex,
            Value::Str(_) => ValueKind::Str,
            Value::Bytes(_) => ValueKind::Bytes,
            Value::List(_) => ValueKind::List,
            Value::Tuple(_) => ValueKind::Tuple,
            Value::Set(_) => ValueKind::Set,
            Value::Dict(_) => ValueKind::Dict,
            Value::Object(_) => ValueKind::Object,
        }
    }

    /// Python's `type(v).__name__` (an object of another class: "object").
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Complex { .. } => "complex",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Set(_) => "set",
            Value::Dict(_) => "dict",
            Value::Object(_) => "object",
        }
    }

    /// An integer, as `Int` when it fits in 64 bits.
    pub fn from_bigint(b: BigInt) -> Value {
        use num_traits::ToPrimitive;
        match b.to_i64() {
            Some(i) => Value::Int(i),
            None => Value::BigInt(b),
        }
    }

    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// Python's `repr()` of this value.
    pub fn repr(&self) -> String {
        let mut out = String::new();
        repr::write_repr(self, &mut out);
        out
    }

    /// Append Python's `repr()` of this value to `out`.
    pub fn repr_into(&self, out: &mut String) {
        repr::write_repr(self, out);
    }

    /// How deeply containers nest: 0 for a scalar, one more than the deepest item for a
    /// list, tuple, set or dict. An object counts one level above its state (the state
    /// sits one step further down in every recursion over values). Iterative, so any
    /// depth can be measured.
    pub fn depth(&self) -> usize {
        self.depth_capped(usize::MAX)
    }

    /// [`Value::depth`], except that the walk stops as soon as some part is found to be
    /// deeper than `cap` (the result is then `> cap` but may be less than the depth).
    /// Costs O(size of `self`) at most, however deep.
    pub(crate) fn depth_capped(&self, cap: usize) -> usize {
        if !self.is_container() {
            return 0;
        }
        let mut deepest = 0;
        // Containers still to visit, with the number of containers around each.
        let mut todo: Vec<(&Value, usize)> = vec![(self, 0)];
        while let Some((v, around)) = todo.pop() {
            let here = around + 1;
            deepest = deepest.max(here);
            if deepest > cap {
                break;
            }
            let nested = |child: &&Value| child.is_container();
            match v {
                Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
                    todo.extend(items.iter().filter(nested).map(|c| (c, here)))
                }
                Value::Dict(items) => todo.extend(
                    items
                        .iter()
                        .flat_map(|(k, val)| [k, val])
                        .filter(nested)
                        .map(|c| (c, here)),
                ),
                Value::Object(o) => todo.extend(Some(&o.state).filter(nested).map(|c| (c, here))),
                _ => {}
            }
        }
        deepest
    }

    fn is_container(&self) -> bool {
        matches!(
            self,
            Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::Dict(_) | Value::Object(_)
        )
    }

    /// Drop a value of any depth without recursing: each container's nested containers
    /// are moved onto a heap work-list before the container itself is dropped, so no
    /// drop ever goes more than one level down. (`Value` cannot simply implement an
    /// iterative `Drop`: that would forbid moving out of its variants, which the decoders
    /// and the C API do throughout.)
    pub fn free_deep(self) {
        let mut next = Some(self);
        let mut todo: Vec<Value> = Vec::new();
        while let Some(mut v) = next.take().or_else(|| todo.pop()) {
            let mut detach = |child: &mut Value| {
                if child.is_container() {
                    todo.push(std::mem::take(child));
                }
            };
            match &mut v {
                Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
                    items.iter_mut().for_each(&mut detach)
                }
                Value::Dict(items) => items.iter_mut().for_each(|(k, val)| {
                    detach(k);
                    detach(val);
                }),
                Value::Object(o) => detach(&mut o.state),
                _ => {}
            }
            drop(v);
        }
    }

    /// The value under `key` in a dict (Python equality: `1 == 1.0 == True`). A scan:
    /// the dict keeps no index, so finding many keys this way is quadratic.
    pub fn dict_get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Dict(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value under a str key in a dict.
    pub fn dict_get_str(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => items
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Insert or replace (keeping the original position, as Python does). False if not a dict.
    pub fn dict_set(&mut self, key: Value, val: Value) -> bool {
        match self {
            Value::Dict(items) => {
                if let Some(slot) = items.iter_mut().find(|(k, _)| *k == key) {
                    slot.1 = val;
                } else {
                    items.push((key, val));
                }
                true
            }
            _ => false,
        }
    }

    /// Items of a list, tuple or set.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Python truthiness-free integer view: bools count as ints, as in Python.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
}

/// Python `==`: numbers compare across int/float/bool/complex, containers element-wise,
/// sets regardless of order, NaN never equal.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        #[cfg(test)]
        tests::EQ_CALLS.with(|n| n.set(n.get() + 1));
        if let (Some(a), Some(b)) = (numeric(self), numeric(other)) {
            return a == b;
        }
        match (self, other) {
            (None, None) => true,
            (Str(a), Str(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (List(a), List(b)) | (Tuple(a), Tuple(b)) => a == b,
            (Set(a), Set(b)) => a.len() == b.len() && set_within(a, b),
            (Dict(a), Dict(b)) => a.len() == b.len() && dict_within(a, b),
            (Object(a), Object(b)) => a == b,
            _ => false,
        }
    }
}

/// Every element of `a` is in `b`. Past a few elements `b` is hashed first, so this is
/// expected O(len) rather than a scan of `b` per element.
fn set_within(a: &[Value], b: &[Value]) -> bool {
    if b.len() <= keyed::LINEAR_LIMIT {
        return a.iter().all(|x| b.contains(x));
    }
    let index = KeyIndex::build(b.len(), |i| &b[i]);
    a.iter().all(|x| index.find(x, |i| &b[i]).is_some())
}

/// Every key of `a` is in `b` with an equal value; hashed like [`set_within`].
fn dict_within(a: &[(Value, Value)], b: &[(Value, Value)]) -> bool {
    if b.len() <= keyed::LINEAR_LIMIT {
        return a
            .iter()
            .all(|(k, v)| b.iter().any(|(bk, bv)| bk == k && bv == v));
    }
    let index = KeyIndex::build(b.len(), |i| &b[i].0);
    a.iter().all(|(k, v)| match index.find(k, |i| &b[i].0) {
        Some(i) => b[i].1 == *v,
        None => false,
    })
}

/// Exact numeric comparison key; big ints compare exactly among themselves.
#[derive(PartialEq)]
enum Num<'a> {
    Int(i128),
    Big(&'a BigInt),
    Float(f64),
    Complex(f64, f64),
}

fn numeric(v: &Value) -> Option<Num<'_>> {
    Some(match v {
        Value::Bool(b) => Num::Int(*b as i128),
        Value::Int(i) => Num::Int(*i as i128),
        Value::BigInt(b) => Num::Big(b),
        Value::Float(f) => float_num(*f),
        Value::Complex { re, im } if *im == 0.0 => float_num(*re),
        Value::Complex { re, im } => Num::Complex(*re, *im),
        _ => return Option::None,
    })
}

fn float_num<'a>(f: f64) -> Num<'a> {
    if f.fract() == 0.0 && f.abs() < 1e18 {
        Num::Int(f as i128)
    } else {
        Num::Float(f)
    }
}

/// Comparisons made on this thread so far (tests count work instead of timing it).
#[cfg(test)]
pub(crate) fn comparisons_so_far() -> u64 {
    tests::EQ_CALLS.with(|n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        // Comparisons made, so tests can bound the work of an equality without timing it.
        pub(super) static EQ_CALLS: Cell<u64> = const { Cell::new(0) };
    }

    fn eq_calls(f: impl FnOnce() -> bool) -> (bool, u64) {
        EQ_CALLS.with(|n| n.set(0));
        let r = f();
        (r, EQ_CALLS.with(Cell::get))
    }

    fn object(state: Value) -> Value {
        Value::Object(Box::new(Object {
            class: "m.C".into(),
            state,
        }))
    }

    /// `n` levels of containers, cycling through every kind, around an int.
    fn deep(n: usize) -> Value {
        let mut v = Value::Int(7);
        for i in 0..n {
            v = match i % 5 {
                0 => Value::List(vec![Value::Int(1), v]),
                1 => Value::Tuple(vec![v]),
                2 => Value::Dict(vec![(Value::str("k"), v)]),
                3 => Value::Set(vec![v, Value::None]),
                _ => object(v),
            };
        }
        v
    }

    #[test]
    fn depth_counts_container_levels() {
        assert_eq!(Value::Int(1).depth(), 0);
        assert_eq!(Value::List(vec![]).depth(), 1);
        let nested = Value::List(vec![
            Value::Int(1),
            Value::Tuple(vec![Value::List(vec![])]),
            Value::str("x"),
        ]);
        assert_eq!(nested.depth(), 3);
        let key = Value::Tuple(vec![Value::Tuple(vec![Value::Int(1)])]);
        assert_eq!(Value::Dict(vec![(key, Value::Int(0))]).depth(), 3);
        assert_eq!(object(Value::Dict(vec![])).depth(), 2);
        assert_eq!(object(Value::Int(0)).depth(), 1);
        assert_eq!(deep(1234).depth(), 1234);
        assert!(deep(5000).depth_capped(10) > 10);
        assert_eq!(deep(10).depth_capped(10), 10);
    }

    #[test]
    fn free_deep_frees_any_depth_without_recursion() {
        // The recursive drop overflows the test thread's stack far below this depth.
        let v = deep(200_000);
        assert_eq!(v.depth(), 200_000);
        v.free_deep();
    }

    /// `n` ints as a set and as a dict, and the same again in reverse order with each key
    /// written another way that Python finds equal (`1.0`, `True`, `(2+0j)`).
    fn equal_pairs(n: i64) -> [(Value, Value); 2] {
        let other_spelling = |i: i64| match i {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            _ if i % 3 == 0 => Value::Float(i as f64),
            _ if i % 3 == 1 => Value::Complex {
                re: i as f64,
                im: 0.0,
            },
            _ => Value::Int(i),
        };
        let set = Value::Set((0..n).map(Value::Int).collect());
        let set2 = Value::Set((0..n).rev().map(other_spelling).collect());
        let dict = Value::Dict((0..n).map(|i| (Value::Int(i), Value::Int(-i))).collect());
        let dict2 = Value::Dict(
            (0..n)
                .rev()
                .map(|i| (other_spelling(i), Value::Float(-i as f64)))
                .collect(),
        );
        [(set, set2), (dict, dict2)]
    }

    fn assert_linear_equality(n: i64) {
        for (a, mut b) in equal_pairs(n) {
            let (equal, calls) = eq_calls(|| {
                let forth = a == b;
                forth && b == a
            });
            assert!(equal);
            // A key and a value compared per entry, each way; a scan per key is ~n²/2.
            assert!(calls <= 6 * n as u64, "{calls} comparisons for {n} entries");
            match &mut b {
                Value::Set(items) => items[n as usize / 2] = Value::Int(-1),
                Value::Dict(items) => items[n as usize / 2].1 = Value::Int(1),
                _ => unreachable!(),
            }
            assert!(a != b);
            assert!(b != a);
        }
    }

    #[test]
    fn set_and_dict_equality_compares_each_entry_a_bounded_number_of_times() {
        assert_linear_equality(3000);
    }

    #[test]
    fn big_set_and_dict_equality_ignores_order_and_numeric_spelling() {
        assert_linear_equality(200_000);
    }

    #[test]
    fn small_set_and_dict_equality() {
        let set = |xs: &[i64]| Value::Set(xs.iter().copied().map(Value::Int).collect());
        assert_eq!(set(&[1, 2, 3]), set(&[3, 1, 2]));
        assert_ne!(set(&[1, 2, 3]), set(&[1, 2, 4]));
        assert_ne!(set(&[1, 2]), set(&[1, 2, 3]));
        assert_eq!(
            Value::Set(vec![Value::Float(1.0), Value::str("a")]),
            Value::Set(vec![Value::str("a"), Value::Bool(true)])
        );
        let nan = Value::Set(vec![Value::Float(f64::NAN)]);
        assert_ne!(nan, nan.clone());
        let d = |kv: &[(i64, i64)]| {
            Value::Dict(
                kv.iter()
                    .map(|&(k, v)| (Value::Int(k), Value::Int(v)))
                    .collect(),
            )
        };
        assert_eq!(d(&[(1, 2), (3, 4)]), d(&[(3, 4), (1, 2)]));
        assert_ne!(d(&[(1, 2), (3, 4)]), d(&[(1, 2), (3, 5)]));
        assert_ne!(d(&[(1, 2), (3, 4)]), d(&[(1, 2), (5, 4)]));
    }

    /// The element-by-element scan equality used to be: the reference for the hashed one.
    fn scan_eq(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Set(x), Value::Set(y)) => x.len() == y.len() && x.iter().all(|e| y.contains(e)),
            (Value::Dict(x), Value::Dict(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| b.dict_get(k) == Some(v))
            }
            _ => unreachable!(),
        }
    }

    fn key(code: u8) -> Value {
        let n = (code % 24) as i64;
        match code / 24 {
            0 => Value::Int(n),
            1 => Value::Float(n as f64),
            2 => Value::Complex {
                re: n as f64,
                im: (code % 2) as f64,
            },
            3 => Value::Bool(n % 2 == 1),
            4 => Value::str(n.to_string()),
            5 => Value::Tuple(vec![Value::Int(n % 3), Value::Float((n / 3) as f64)]),
            6 => Value::Float(if n == 0 { -0.0 } else { f64::NAN }),
            _ => Value::from_bigint(num_bigint::BigInt::from(n) << 70),
        }
    }

    proptest::proptest! {
        #[test]
        fn hashed_equality_matches_scan(
            a in proptest::collection::vec(0u8..192, 0..60),
            b in proptest::collection::vec(0u8..192, 0..60),
            vals in proptest::collection::vec(0u8..4, 60),
        ) {
            let set = |codes: &[u8]| {
                let mut s = keyed::SetBuilder::new();
                codes.iter().for_each(|&c| s.insert(key(c)));
                Value::Set(s.finish())
            };
            let dict = |codes: &[u8], vals: &[u8]| {
                let mut d = keyed::DictBuilder::new();
                for (&c, &v) in codes.iter().zip(vals) {
                    d.insert(key(c), Value::Int(v as i64));
                }
                Value::Dict(d.finish())
            };
            // a reversed as well (with one value for every key), so equal pairs turn up
            // beside random ones
            let a_rev: Vec<u8> = a.iter().rev().copied().collect();
            let zeros = [0u8; 60];
            for (x, y) in [
                (set(&a), set(&b)),
                (set(&a), set(&a_rev)),
                (dict(&a, &vals), dict(&b, &vals)),
                (dict(&a, &zeros), dict(&a_rev, &zeros)),
            ] {
                proptest::prop_assert_eq!(x == y, scan_eq(&x, &y));
                proptest::prop_assert_eq!(y == x, scan_eq(&y, &x));
            }
        }
    }
}

//! The Python-like value model shared by every serializer and the C API.

pub(crate) mod keyed;
mod printable;
mod repr;
pub(crate) mod scan;

pub use repr::{complex_repr, float_repr};
pub(crate) use repr::{float_repr_into, push_int, str_repr};

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

    /// The value under `key` in a dict (Python equality: `1 == 1.0 == True`).
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
        if let (Some(a), Some(b)) = (numeric(self), numeric(other)) {
            return a == b;
        }
        match (self, other) {
            (None, None) => true,
            (Str(a), Str(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (List(a), List(b)) | (Tuple(a), Tuple(b)) => a == b,
            (Set(a), Set(b)) => a.len() == b.len() && a.iter().all(|x| b.contains(x)),
            (Dict(a), Dict(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| other.dict_get(k) == Some(v))
            }
            (Object(a), Object(b)) => a == b,
            _ => false,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

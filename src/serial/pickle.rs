//! Pickle (Pyro4 serializer id 4), read and written by a small pickle machine of our own.
//!
//! Why not serde-pickle alone: measured on real Pyro4 pickles it drops exception
//! classes, turns URIs/proxies into bare tuples and fails on datetime, Decimal and
//! Pyro4.errors.* (see shared/pyro4-notes.md). This decoder reads protocols 0–5 and
//! keeps class information, and it never imports or calls anything: GLOBAL and
//! STACK_GLOBAL push a class *name*, REDUCE / NEWOBJ / BUILD build values from a fixed
//! mapping table, and any other class becomes an inert object value.
//!
//! | pickled Python value | becomes |
//! |---|---|
//! | None, bool, int (any size), float, str, bytes, list, tuple, dict | the same kind |
//! | set, frozenset | SET |
//! | bytearray (and protocol-2 `_codecs.encode` bytes) | BYTES |
//! | complex | COMPLEX |
//! | collections.OrderedDict | DICT |
//! | datetime.datetime / date / time | STR in ISO format (as serpent sends them) |
//! | datetime.timedelta | FLOAT total seconds (as serpent) |
//! | decimal.Decimal, uuid.UUID | STR (as serpent) |
//! | array.array | LIST of its items |
//! | exceptions (`module.SomethingError`, or any object whose state has `_pyroTraceback`) | OBJECT of that class, state `{'__exception__': True, 'args': (...), 'attributes': {...}}` (the class-dict shape every serializer uses) |
//! | Pyro4.core.URI, Pyro4.core.Proxy | OBJECT of that class with its state tuple |
//! | any other class | OBJECT with the class name; state: its BUILD state (dict entries merged) and `args` if it was built with arguments |
//!
//! Writing uses protocol 3 (every Python 3 reads it): sets and complex numbers go as
//! `builtins.set` / `builtins.complex` reductions, objects as Pyro4 class dicts.

use super::budget::{ExpansionBudget, NODE_COST};
use super::json::MAX_INT_DIGITS;
use super::MAX_DEPTH;
use crate::error::{Error, Result};
use crate::value::keyed::{DictBuilder, SetBuilder};
use crate::value::{Object, Value};
use num_bigint::{BigInt, Sign};
use std::collections::HashMap;
use std::rc::Rc;

// ---------------------------------------------------------------- writing

/// Encode with pickle protocol 3.
pub fn encode(v: &Value) -> Result<Vec<u8>> {
    let mut out = vec![0x80, 3];
    write(v, &mut out, 0)?;
    out.push(b'.');
    Ok(out)
}

/// A call as Pyro4's PickleSerializer.dumpsCall sends it: `(object, method, vargs, kwargs)`.
pub fn encode_call(
    object: &str,
    method: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<Vec<u8>> {
    encode(&super::call_tuple(object, method, args, kwargs))
}

fn write_global(module: &str, name: &str, out: &mut Vec<u8>) {
    out.push(b'c');
    out.extend_from_slice(module.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
}

fn write_long(b: &BigInt, out: &mut Vec<u8>) {
    let bytes = b.to_signed_bytes_le();
    if bytes.len() < 256 {
        out.push(0x8a);
        out.push(bytes.len() as u8);
    } else {
        out.push(0x8b);
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(&bytes);
}

fn write(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::serialization("value nested too deeply to serialize"));
    }
    match v {
        Value::None => out.push(b'N'),
        Value::Bool(true) => out.push(0x88),
        Value::Bool(false) => out.push(0x89),
        Value::Int(i) => {
            if (0..256).contains(i) {
                out.push(b'K');
                out.push(*i as u8);
            } else if (0..65536).contains(i) {
                out.push(b'M');
                out.extend_from_slice(&(*i as u16).to_le_bytes());
            } else if let Ok(small) = i32::try_from(*i) {
                out.push(b'J');
                out.extend_from_slice(&small.to_le_bytes());
            } else {
                write_long(&BigInt::from(*i), out);
            }
        }
        Value::BigInt(b) => write_long(b, out),
        Value::Float(f) => {
            out.push(b'G');
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Complex { re, im } => {
            write_global("builtins", "complex", out);
            write(&Value::Float(*re), out, depth + 1)?;
            write(&Value::Float(*im), out, depth + 1)?;
            out.extend_from_slice(&[0x86, b'R']);
        }
        Value::Str(s) => {
            out.push(b'X');
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            if b.len() < 256 {
                out.push(b'C');
                out.push(b.len() as u8);
            } else {
                out.push(b'B');
                out.extend_from_slice(
                    &u32::try_from(b.len())
                        .map_err(|_| Error::serialization("bytes too large"))?
                        .to_le_bytes(),
                );
            }
            out.extend_from_slice(b);
        }
        Value::Tuple(items) => match items.len() {
            0 => out.push(b')'),
            1..=3 => {
                for i in items {
                    write(i, out, depth + 1)?;
                }
                out.push(0x84 + items.len() as u8);
            }
            _ => {
                out.push(b'(');
                for i in items {
                    write(i, out, depth + 1)?;
                }
                out.push(b't');
            }
        },
        Value::List(items) => {
            out.extend_from_slice(b"](");
            for i in items {
                write(i, out, depth + 1)?;
            }
            out.push(b'e');
        }
        Value::Set(items) => {
            write_global("builtins", "set", out);
            write(&Value::List(items.clone()), out, depth + 1)?;
            out.extend_from_slice(&[0x85, b'R']);
        }
        Value::Dict(items) => {
            out.extend_from_slice(b"}(");
            for (k, val) in items {
                write(k, out, depth + 1)?;
                write(val, out, depth + 1)?;
            }
            out.push(b'u');
        }
        Value::Object(o) => {
            // Pyro4's class-dict form (as the other serializers send objects).
            let mut items = vec![(Value::str("__class__"), Value::str(o.class.as_str()))];
            match &o.state {
                Value::Dict(d) => items.extend(d.iter().cloned()),
                other => items.push((Value::str("state"), other.clone())),
            }
            write(&Value::Dict(items), out, depth + 1)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- reading
//
// Hostile input costs time linear in its size and memory bounded by it:
// - dicts, sets and objects that opcodes fill in place are builders while they are on the
//   stack, so SETITEMS batches onto one dict cost O(1) expected per entry, not a key scan;
// - MARK positions are a metastack and live memo ids a hash map: no opcode searches the stack;
// - one pass over the opcodes before decoding finds which PUTs some GET reads. Python
//   memoizes nearly everything it pickles but GETs little, and only what a GET reads after
//   it left the stack needs keeping: one snapshot per value, shared by all its memo ids;
// - every copy where Python would share a reference (GET, DUP, snapshots), and every REDUCE
//   that rebuilds an already decoded value, is charged to one ExpansionBudget first.

/// Most entries (values and marks) the stack may hold.
const MAX_STACK: usize = 1_000_000;

/// A stack entry.
enum Item {
    V(Value),
    /// A class or function, by qualified name: never imported.
    Global(String),
    /// A dict or set while SETITEMS / ADDITEMS batches may still add to it.
    Dict(Box<DictBuilder>),
    Set(Box<SetBuilder>),
    /// An object while APPENDS, SETITEMS or BUILD may still add to it.
    Obj(Box<ObjFill>),
}

/// What a memo id gives once its entry is a plain value (builders finished).
enum Kept {
    V(Value),
    Global(String),
}

impl From<Kept> for Item {
    fn from(k: Kept) -> Item {
        match k {
            Kept::V(v) => Item::V(v),
            Kept::Global(g) => Item::Global(g),
        }
    }
}

fn bare_class(class: String) -> Value {
    Value::Object(Box::new(Object {
        class,
        state: Value::None,
    }))
}

impl Item {
    fn into_kept(self) -> Kept {
        match self {
            Item::Global(g) => Kept::Global(g),
            other => Kept::V(other.into_value()),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Item::V(v) => v,
            Item::Global(g) => bare_class(g),
            Item::Dict(b) => Value::Dict(b.finish()),
            Item::Set(b) => Value::Set(b.finish()),
            Item::Obj(f) => f.finish(),
        }
    }
}

/// The dict builder of a dict entry; a plain dict becomes one. That costs O(n), but an
/// entry is only plain again after leaving the stack or being copied (DUP, GET), and those
/// copies are charged at least as much, so conversions stay linear overall. Same for sets
/// and objects.
fn as_dict(item: &mut Item) -> Option<&mut DictBuilder> {
    if let Item::V(Value::Dict(_)) = item {
        if let Item::V(Value::Dict(items)) = std::mem::replace(item, Item::V(Value::None)) {
            *item = Item::Dict(Box::new(dict_builder(items)));
        }
    }
    match item {
        Item::Dict(b) => Some(b),
        _ => None,
    }
}

fn as_set(item: &mut Item) -> Option<&mut SetBuilder> {
    if let Item::V(Value::Set(_)) = item {
        if let Item::V(Value::Set(items)) = std::mem::replace(item, Item::V(Value::None)) {
            let mut b = SetBuilder::new();
            for i in items {
                b.insert(i);
            }
            *item = Item::Set(Box::new(b));
        }
    }
    match item {
        Item::Set(b) => Some(b),
        _ => None,
    }
}

fn as_obj(item: &mut Item) -> Option<&mut ObjFill> {
    if let Item::V(Value::Object(_)) = item {
        if let Item::V(Value::Object(o)) = std::mem::replace(item, Item::V(Value::None)) {
            *item = Item::Obj(Box::new(ObjFill::new(*o)));
        }
    }
    match item {
        Item::Obj(f) => Some(f),
        _ => None,
    }
}

fn dict_builder(items: Vec<(Value, Value)>) -> DictBuilder {
    let mut b = DictBuilder::new();
    for (k, v) in items {
        b.insert(k, v);
    }
    b
}

/// An object whose state opcodes may still add to: list-subclass APPENDS, dict-subclass
/// SETITEMS, BUILD.
struct ObjFill {
    class: String,
    /// A state that is not a dict (a URI's or Proxy's tuple, or None); `dict` is empty then.
    other: Option<Value>,
    dict: StateDict,
}

/// An object's dict state being filled. A builder only inserts, so the entries the decoder
/// reads back (a list subclass's `items`, an exception's `attributes`) are held beside it,
/// the builder keeping a placeholder at their position.
struct StateDict {
    entries: DictBuilder,
    items: Option<Value>,
    attributes: Option<Attributes>,
    /// `__exception__` was set: BUILD merges into `attributes` then (the class-dict shape
    /// every serializer gives exceptions).
    exception: bool,
}

enum Attributes {
    Dict(DictBuilder),
    /// Not a dict (only a contrived pickle makes one): BUILD leaves it alone.
    Other(Value),
}

impl StateDict {
    fn new() -> Self {
        StateDict {
            entries: DictBuilder::new(),
            items: None,
            attributes: None,
            exception: false,
        }
    }

    fn from_items(items: Vec<(Value, Value)>) -> Self {
        let mut d = StateDict::new();
        for (k, v) in items {
            d.insert(k, v);
        }
        d
    }

    fn insert(&mut self, k: Value, v: Value) {
        match k.as_str() {
            Some("items") => {
                if self.items.is_none() {
                    self.entries.insert(k, Value::None);
                }
                self.items = Some(v);
            }
            Some("attributes") => {
                if self.attributes.is_none() {
                    self.entries.insert(k, Value::None);
                }
                self.attributes = Some(match v {
                    Value::Dict(items) => Attributes::Dict(dict_builder(items)),
                    other => Attributes::Other(other),
                });
            }
            Some("__exception__") => {
                self.exception = true;
                self.entries.insert(k, v);
            }
            _ => self.entries.insert(k, v),
        }
    }

    fn append(&mut self, new: Vec<Value>) {
        match &mut self.items {
            Some(Value::List(l)) => l.extend(new),
            _ => self.insert(Value::str("items"), Value::List(new)),
        }
    }

    fn attributes(&mut self) -> &mut Attributes {
        if self.attributes.is_none() {
            self.entries.insert(Value::str("attributes"), Value::None);
        }
        self.attributes
            .get_or_insert_with(|| Attributes::Dict(DictBuilder::new()))
    }

    fn finish(self) -> Vec<(Value, Value)> {
        let mut entries = self.entries.finish();
        let mut items = self.items;
        let mut attributes = self.attributes.map(|a| match a {
            Attributes::Dict(b) => Value::Dict(b.finish()),
            Attributes::Other(v) => v,
        });
        if items.is_some() || attributes.is_some() {
            for (k, v) in &mut entries {
                let held = match k.as_str() {
                    Some("items") => items.take(),
                    Some("attributes") => attributes.take(),
                    _ => None,
                };
                if let Some(h) = held {
                    *v = h;
                }
            }
        }
        entries
    }
}

impl ObjFill {
    fn new(o: Object) -> Self {
        match o.state {
            Value::Dict(items) => ObjFill {
                class: o.class,
                other: None,
                dict: StateDict::from_items(items),
            },
            other => ObjFill {
                class: o.class,
                other: Some(other),
                dict: StateDict::new(),
            },
        }
    }

    /// The dict state; a state that was not a dict is replaced by an empty dict, as before.
    fn dict(&mut self) -> &mut StateDict {
        if self.other.take().is_some() {
            self.dict = StateDict::new();
        }
        &mut self.dict
    }

    /// BUILD with `state`; returns the text a `uuid.UUID` becomes instead of an object.
    fn build(&mut self, state: Value) -> Option<String> {
        // Python's state may be (dict, slots_dict).
        let (dict, slots) = match state {
            Value::Tuple(t) if t.len() == 2 => {
                let mut t = t.into_iter();
                (t.next().unwrap_or_default(), t.next().unwrap_or_default())
            }
            other => (other, Value::None),
        };
        let is_exc = self.other.is_none() && self.dict.exception;
        let has_tb = dict.dict_get_str("_pyroTraceback").is_some();
        // Anything carrying a Pyro4 remote traceback is an exception, whatever its name.
        if is_exc || has_tb {
            if !is_exc {
                self.other = None;
                let old = std::mem::replace(&mut self.dict, StateDict::new()).finish();
                let args = old
                    .into_iter()
                    .find(|(k, _)| k.as_str() == Some("args"))
                    .map_or(Value::Tuple(vec![]), |(_, v)| v);
                self.dict = StateDict::from_items(exception_state(args));
            }
            if let Attributes::Dict(attrs) = self.dict.attributes() {
                for part in [dict, slots] {
                    if let Value::Dict(items) = part {
                        for (k, v) in items {
                            attrs.insert(k, v);
                        }
                    }
                }
            }
            return None;
        }
        if self.class == "uuid.UUID" {
            if let Some(text) = dict.dict_get_str("int").and_then(uuid_text) {
                return Some(text);
            }
        }
        match dict {
            Value::Dict(items) => {
                let d = self.dict();
                for (k, v) in items {
                    d.insert(k, v);
                }
                if let Value::Dict(items) = slots {
                    for (k, v) in items {
                        d.insert(k, v);
                    }
                }
            }
            Value::None => {}
            // Non-dict state (URI, Proxy): keep it as is.
            other => {
                self.other = Some(other);
                self.dict = StateDict::new();
            }
        }
        None
    }

    fn finish(self) -> Value {
        let state = match self.other {
            Some(v) => v,
            None => Value::Dict(self.dict.finish()),
        };
        Value::Object(Box::new(Object {
            class: self.class,
            state,
        }))
    }
}

/// A stack entry with its bookkeeping.
struct Slot {
    item: Item,
    /// Container nesting of the entry, kept within MAX_DEPTH.
    depth: usize,
    /// Some memo id a later GET reads was put on this entry (ids in `Machine::ids_at`).
    memoized: bool,
}

/// A memo id whose value is still on the stack: GET copies its current contents.
struct LiveId {
    pos: usize,
    last_get: usize,
}

/// A memo id whose value left the stack: the snapshot (and its depth) is shared by every id
/// put on that value; the last GET may take it instead of copying it.
struct KeptId {
    value: Rc<(Kept, usize)>,
    last_get: usize,
}

/// For each PUT (numbered in order) that some GET reads: its memo id and the offset of the
/// last GET that reads it.
type MemoPlan = HashMap<usize, (u32, usize)>;

/// Reads opcode arguments for the memo plan; `None` where the decoder will fail anyway.
struct Scan<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn skip(&mut self, n: u64) -> Option<()> {
        if n > (self.b.len() - self.pos) as u64 {
            return None;
        }
        self.pos += n as usize;
        Some(())
    }

    fn le(&mut self, n: usize) -> Option<u64> {
        let b = self.b.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(
            b.iter()
                .enumerate()
                .fold(0u64, |v, (i, x)| v | (*x as u64) << (8 * i)),
        )
    }

    fn line(&mut self) -> Option<&'a [u8]> {
        let rest = &self.b[self.pos..];
        let end = rest.iter().position(|&c| c == b'\n')?;
        self.pos += end + 1;
        Some(&rest[..end])
    }

    fn id_line(&mut self) -> Option<u32> {
        std::str::from_utf8(self.line()?).ok()?.trim().parse().ok()
    }

    /// Step over the argument of `op`, exactly as the decoder reads it.
    fn arg(&mut self, op: u8) -> Option<()> {
        match op {
            0x80 | b'K' => self.skip(1),
            b'M' => self.skip(2),
            b'J' => self.skip(4),
            b'G' | 0x95 => self.skip(8),
            b'I' | b'L' | b'F' | b'V' | b'S' => self.line().map(drop),
            b'c' | b'i' => self.line().and_then(|_| self.line()).map(drop),
            0x8a | 0x8c | b'U' | b'C' => {
                let n = self.le(1)?;
                self.skip(n)
            }
            0x8b | b'X' | b'T' | b'B' => {
                let n = self.le(4)?;
                self.skip(n)
            }
            0x8d | 0x8e | 0x96 => {
                let n = self.le(8)?;
                self.skip(n)
            }
            b'('
            | b'0'
            | b'1'
            | b'2'
            | b'N'
            | 0x88
            | 0x89
            | b')'
            | 0x85..=0x87
            | b't'
            | b']'
            | b'l'
            | b'}'
            | b'd'
            | 0x8f
            | 0x91
            | b'a'
            | b'e'
            | 0x90
            | b's'
            | b'u'
            | 0x93
            | b'R'
            | 0x81
            | 0x92
            | b'b'
            | b'o' => Some(()),
            _ => None,
        }
    }
}

/// Memo id -> the PUT (numbered in order) that set it last. Ids below the input's length
/// (Python numbers them densely from 0) sit in a vector, others in a map: a pickle of 1-byte
/// MEMOIZEs costs 8 bytes per opcode here, not a hash entry.
struct LastPut {
    /// put + 1, 0 for none
    dense: Vec<usize>,
    sparse: HashMap<u32, usize>,
    limit: usize,
    /// Distinct ids: Python's len(memo), which MEMOIZE uses as its id.
    len: usize,
}

impl LastPut {
    fn set(&mut self, id: u32, put: usize) {
        let i = id as usize;
        let fresh = if i < self.limit {
            if i >= self.dense.len() {
                self.dense.resize(i + 1, 0);
            }
            std::mem::replace(&mut self.dense[i], put + 1) == 0
        } else {
            self.sparse.insert(id, put).is_none()
        };
        self.len += fresh as usize;
    }

    fn get(&self, id: u32) -> Option<usize> {
        let i = id as usize;
        if i < self.limit {
            self.dense.get(i).filter(|&&p| p != 0).map(|p| p - 1)
        } else {
            self.sparse.get(&id).copied()
        }
    }
}

/// One pass over the opcodes (no values built): which PUTs some GET reads, and where the
/// last such GET is. Stops at STOP or at anything malformed, which the decoder reports.
fn memo_plan(b: &[u8]) -> MemoPlan {
    let mut plan = MemoPlan::new();
    let mut last_put = LastPut {
        dense: Vec::new(),
        sparse: HashMap::new(),
        limit: b.len(),
        len: 0,
    };
    let mut puts = 0usize;
    let mut r = Scan { b, pos: 0 };
    let mut step = |r: &mut Scan| -> Option<()> {
        let at = r.pos;
        let op = r.le(1)? as u8;
        match op {
            b'.' => return None,
            b'p' | b'q' | b'r' | 0x94 => {
                let id = match op {
                    b'p' => r.id_line()?,
                    b'q' => r.le(1)? as u32,
                    b'r' => r.le(4)? as u32,
                    _ => last_put.len as u32,
                };
                last_put.set(id, puts);
                puts += 1;
            }
            b'g' | b'h' | b'j' => {
                let id = match op {
                    b'g' => r.id_line()?,
                    b'h' => r.le(1)? as u32,
                    _ => r.le(4)? as u32,
                };
                if let Some(put) = last_put.get(id) {
                    plan.insert(put, (id, at));
                }
            }
            _ => r.arg(op)?,
        }
        Some(())
    };
    while step(&mut r).is_some() {}
    plan
}

struct Machine<'a> {
    b: &'a [u8],
    pos: usize,
    /// Offset of the opcode being run (the memo plan names GETs by it).
    op_at: usize,
    stack: Vec<Slot>,
    /// Stack lengths at each MARK (Python's metastack): entries below the top one are out of
    /// reach until POP_MARK or a container opcode removes it.
    marks: Vec<usize>,
    plan: MemoPlan,
    puts: usize,
    live: HashMap<u32, LiveId>,
    /// The memo ids put on each stack position whose slot is `memoized`.
    ids_at: HashMap<usize, Vec<u32>>,
    kept: HashMap<u32, KeptId>,
    budget: ExpansionBudget,
}

fn value_depth(v: &Value) -> usize {
    // Only containers nest; computed incrementally through the slots' depths.
    match v {
        Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::Dict(_) | Value::Object(_) => 1,
        _ => 0,
    }
}

/// Python refuses these as dict keys and set elements (TypeError: unhashable type); the
/// builders' hash cannot tell them apart either.
fn hashable(v: &Value) -> bool {
    match v {
        Value::List(_) | Value::Dict(_) => false,
        Value::Tuple(items) => items.iter().all(hashable),
        _ => true,
    }
}

fn unhashable(v: &Value) -> Error {
    Error::serialization(format!(
        "invalid pickle: unhashable {} as a dict key or set element",
        if matches!(v, Value::Dict(_)) {
            "dict"
        } else {
            "list"
        }
    ))
}

fn set_insert(b: &mut SetBuilder, items: Vec<Value>) -> Result<()> {
    for i in items {
        if !hashable(&i) {
            return Err(unhashable(&i));
        }
        b.insert(i);
    }
    Ok(())
}

fn pairs(items: Vec<Value>) -> impl Iterator<Item = Result<(Value, Value)>> {
    let mut it = items.into_iter();
    std::iter::from_fn(move || {
        let (k, v) = (it.next()?, it.next()?);
        Some(if hashable(&k) {
            Ok((k, v))
        } else {
            Err(unhashable(&k))
        })
    })
}

impl<'a> Machine<'a> {
    fn err<T>(&self, what: &str) -> Result<T> {
        Err(Error::serialization(format!(
            "invalid pickle: {what} at offset {}",
            self.pos
        )))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() - self.pos < n {
            return self.err(&format!("truncated (needs {n} more bytes)"));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64> {
        let b = self.take(n)?;
        let mut v = 0u64;
        for (i, x) in b.iter().enumerate() {
            v |= (*x as u64) << (8 * i);
        }
        Ok(v)
    }

    /// Checked against the remaining input before anything is allocated.
    fn len_prefixed(&mut self, n: usize) -> Result<Vec<u8>> {
        let len = self.le(n)?;
        if len > (self.b.len() - self.pos) as u64 {
            return self.err(&format!("length {len} exceeds the remaining data"));
        }
        Ok(self.take(len as usize)?.to_vec())
    }

    fn raw_line(&mut self) -> Result<&'a [u8]> {
        let rest = &self.b[self.pos..];
        let Some(end) = rest.iter().position(|&c| c == b'\n') else {
            return self.err("unterminated line");
        };
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    fn line(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.raw_line()?).into_owned())
    }

    /// Protocol 0 INT / LONG text. Python 3.11 refuses more than 4300 digits; counting first
    /// also keeps the quadratic decimal parse away from long input.
    fn text_int(&self, t: &str, op: &str) -> Result<Value> {
        let digits = t.strip_prefix(['-', '+']).unwrap_or(t).len();
        if digits > MAX_INT_DIGITS {
            return self.err(&format!(
                "{op} of {digits} digits exceeds Python's limit of {MAX_INT_DIGITS} digits"
            ));
        }
        match BigInt::parse_bytes(t.as_bytes(), 10) {
            Some(b) => Ok(Value::from_bigint(b)),
            None => self.err(&format!("invalid {op}")),
        }
    }

    /// The bottom of what opcodes may pop: the topmost mark.
    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, item: Item) -> Result<()> {
        let d = match &item {
            Item::V(v) => value_depth(v),
            Item::Global(_) => 0,
            Item::Dict(_) | Item::Set(_) | Item::Obj(_) => 1,
        };
        self.push_depth(item, d)
    }

    fn push_depth(&mut self, item: Item, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return self.err(&format!("nesting deeper than {MAX_DEPTH}"));
        }
        if self.stack.len() + self.marks.len() >= MAX_STACK {
            return self.err("stack too large");
        }
        self.stack.push(Slot {
            item,
            depth,
            memoized: false,
        });
        Ok(())
    }

    fn top(&mut self) -> Result<&mut Slot> {
        if self.stack.len() <= self.fence() {
            return self.err("no value on the stack");
        }
        let pos = self.stack.len() - 1;
        Ok(&mut self.stack[pos])
    }

    /// Raise the top entry's depth to `d` (its new contents' depth plus one).
    fn deepen_top(&mut self, d: usize) -> Result<()> {
        let slot = self.top()?;
        slot.depth = slot.depth.max(d);
        if slot.depth > MAX_DEPTH {
            return self.err(&format!("nesting deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }

    fn pop(&mut self) -> Result<(Item, usize)> {
        if self.stack.len() <= self.fence() {
            return self.err(if self.stack.is_empty() {
                "stack underflow"
            } else {
                "unexpected mark"
            });
        }
        let Some(Slot {
            item,
            depth,
            memoized,
        }) = self.stack.pop()
        else {
            return self.err("stack underflow");
        };
        let ids = match memoized {
            true => self.ids_at.remove(&self.stack.len()),
            false => None,
        };
        let item = match ids {
            Some(ids) => self.keep(item, depth, ids)?,
            None => item,
        };
        Ok((item, depth))
    }

    /// The entry just popped from position `stack.len()` carried memo ids: those a later GET
    /// still reads get one snapshot of it, shared.
    fn keep(&mut self, item: Item, depth: usize, ids: Vec<u32>) -> Result<Item> {
        let pos = self.stack.len();
        let mut item = item;
        let mut snapshot: Option<Rc<(Kept, usize)>> = None;
        for id in ids {
            let last_get = match self.live.get(&id) {
                Some(l) if l.pos == pos => l.last_get,
                // Put again on another entry since, or its last GET is done.
                _ => continue,
            };
            self.live.remove(&id);
            if last_get < self.op_at {
                continue;
            }
            let value = match &snapshot {
                Some(s) => Rc::clone(s),
                None => {
                    let (back, copy) = self.copy(item)?;
                    item = back;
                    let s = Rc::new((copy, depth));
                    snapshot = Some(Rc::clone(&s));
                    s
                }
            };
            self.kept.insert(id, KeptId { value, last_get });
        }
        Ok(item)
    }

    /// `item` (builders finished) and a copy of it, charged before it is made.
    fn copy(&mut self, item: Item) -> Result<(Item, Kept)> {
        let kept = item.into_kept();
        let copy = self.charged_clone(&kept)?;
        Ok((kept.into(), copy))
    }

    fn charged_clone(&mut self, k: &Kept) -> Result<Kept> {
        Ok(match k {
            Kept::V(v) => {
                self.budget.charge_copy(v, "pickle")?;
                Kept::V(v.clone())
            }
            Kept::Global(g) => {
                self.budget.charge(NODE_COST + g.len(), "pickle")?;
                Kept::Global(g.clone())
            }
        })
    }

    /// A charged copy of the stack entry at `pos` (its current contents) and its depth.
    fn copy_at(&mut self, pos: usize) -> Result<(Kept, usize)> {
        let slot = &mut self.stack[pos];
        let it = std::mem::replace(&mut slot.item, Item::V(Value::None));
        let depth = slot.depth;
        let (back, copy) = self.copy(it)?;
        self.stack[pos].item = back;
        Ok((copy, depth))
    }

    fn pop_value(&mut self) -> Result<(Value, usize)> {
        Ok(match self.pop()? {
            (Item::Global(g), _) => (bare_class(g), 1),
            (other, d) => (other.into_value(), d),
        })
    }

    /// Values above the topmost mark (the mark is removed).
    fn pop_mark(&mut self) -> Result<(Vec<Value>, usize)> {
        let Some(&m) = self.marks.last() else {
            return self.err("no mark on the stack");
        };
        let mut items = Vec::with_capacity(self.stack.len() - m);
        let mut depth = 0;
        while self.stack.len() > m {
            let (v, d) = self.pop_value()?;
            depth = depth.max(d);
            items.push(v);
        }
        self.marks.pop();
        items.reverse();
        Ok((items, depth))
    }

    fn run(&mut self) -> Result<Value> {
        loop {
            self.op_at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return self.err(&format!("unsupported pickle protocol {p}"));
                    }
                }
                0x95 => {
                    // FRAME: a length hint only, but Python refuses one past the end.
                    let n = self.le(8)?;
                    if n > (self.b.len() - self.pos) as u64 {
                        return self.err(&format!("frame of {n} bytes exceeds the remaining data"));
                    }
                }
                b'.' => {
                    let (v, _) = self.pop_value()?;
                    return Ok(v);
                }
                b'(' => {
                    if self.stack.len() + self.marks.len() >= MAX_STACK {
                        return self.err("stack too large");
                    }
                    self.marks.push(self.stack.len());
                }
                b'0' => {
                    // POP removes a mark on top of the stack (as CPython's does).
                    if self.marks.last() == Some(&self.stack.len()) {
                        self.marks.pop();
                    } else {
                        self.pop()?;
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    if self.stack.len() <= self.fence() {
                        return self.err("stack underflow");
                    }
                    // Python shares the reference; the copy is charged.
                    let (copy, d) = self.copy_at(self.stack.len() - 1)?;
                    self.push_depth(copy.into(), d)?;
                }
                b'N' => self.push(Item::V(Value::None))?,
                0x88 => self.push(Item::V(Value::Bool(true)))?,
                0x89 => self.push(Item::V(Value::Bool(false)))?,
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.push(Item::V(Value::Int(v as i64)))?
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Item::V(Value::Int(v as i64)))?
                }
                b'M' => {
                    let v = self.le(2)?;
                    self.push(Item::V(Value::Int(v as i64)))?
                }
                b'I' => {
                    let l = self.line()?;
                    let v = match l.as_str() {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        t => self.text_int(t.trim(), "INT")?,
                    };
                    self.push(Item::V(v))?
                }
                b'L' => {
                    let l = self.line()?;
                    let v = self.text_int(l.trim_end_matches('L'), "LONG")?;
                    self.push(Item::V(v))?
                }
                0x8a | 0x8b => {
                    let bytes = self.len_prefixed(if op == 0x8a { 1 } else { 4 })?;
                    if bytes.len() > 2000 {
                        return self.err("integer too large");
                    }
                    self.push(Item::V(Value::from_bigint(BigInt::from_signed_bytes_le(
                        &bytes,
                    ))))?
                }
                b'F' => {
                    let l = self.line()?;
                    match l.trim().parse::<f64>() {
                        Ok(f) => self.push(Item::V(Value::Float(f)))?,
                        Err(_) => return self.err("invalid FLOAT"),
                    }
                }
                b'G' => {
                    let b: [u8; 8] = self.take(8)?.try_into().unwrap_or_default();
                    self.push(Item::V(Value::Float(f64::from_be_bytes(b))))?
                }
                b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        b'X' => 4,
                        0x8c => 1,
                        _ => 8,
                    };
                    let b = self.len_prefixed(n)?;
                    // Python writes lone surrogates with surrogatepass; show them as U+FFFD.
                    let s = String::from_utf8(b)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                    self.push(Item::V(Value::Str(s)))?
                }
                b'V' => {
                    let l = self.raw_line()?;
                    let Some(text) = raw_unicode_escape(l) else {
                        return self.err("invalid UNICODE");
                    };
                    self.push(Item::V(Value::Str(text)))?
                }
                b'S' => {
                    let l = self.raw_line()?.trim_ascii();
                    let quoted =
                        l.len() >= 2 && l[0] == l[l.len() - 1] && (l[0] == b'\'' || l[0] == b'"');
                    let Some(b) = quoted.then(|| escape_decode(&l[1..l.len() - 1])).flatten()
                    else {
                        return self.err("invalid STRING");
                    };
                    self.push(Item::V(py2_str(b)))?
                }
                b'T' | b'U' => {
                    let b = self.len_prefixed(if op == b'T' { 4 } else { 1 })?;
                    self.push(Item::V(py2_str(b)))?
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match op {
                        b'B' => 4,
                        b'C' => 1,
                        _ => 8,
                    };
                    let b = self.len_prefixed(n)?;
                    self.push(Item::V(Value::Bytes(b)))?
                }
                0x97 | 0x98 => return self.err("out-of-band buffers are not supported"),
                b')' => self.push(Item::V(Value::Tuple(vec![])))?,
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    let mut depth = 0;
                    for _ in 0..n {
                        let (v, d) = self.pop_value()?;
                        depth = depth.max(d);
                        items.push(v);
                    }
                    items.reverse();
                    self.push_depth(Item::V(Value::Tuple(items)), depth + 1)?
                }
                b't' => {
                    let (items, d) = self.pop_mark()?;
                    self.push_depth(Item::V(Value::Tuple(items)), d + 1)?
                }
                b']' => self.push(Item::V(Value::List(vec![])))?,
                b'l' => {
                    let (items, d) = self.pop_mark()?;
                    self.push_depth(Item::V(Value::List(items)), d + 1)?
                }
                b'}' => self.push(Item::V(Value::Dict(vec![])))?,
                b'd' => {
                    let (items, d) = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return self.err("odd number of items for DICT");
                    }
                    let mut b = DictBuilder::new();
                    for kv in pairs(items) {
                        let (k, v) = kv?;
                        b.insert(k, v);
                    }
                    self.push_depth(Item::Dict(Box::new(b)), d + 1)?
                }
                0x8f => self.push(Item::V(Value::Set(vec![])))?,
                0x91 => {
                    let (items, d) = self.pop_mark()?;
                    let mut b = SetBuilder::new();
                    set_insert(&mut b, items)?;
                    self.push_depth(Item::Set(Box::new(b)), d + 1)?
                }
                b'a' => {
                    let (v, d) = self.pop_value()?;
                    self.extend_top(vec![v], d)?
                }
                b'e' | 0x90 => {
                    let (items, d) = self.pop_mark()?;
                    self.extend_top(items, d)?
                }
                b's' => {
                    let (v, dv) = self.pop_value()?;
                    let (k, dk) = self.pop_value()?;
                    self.set_items_top(vec![k, v], dk.max(dv))?
                }
                b'u' => {
                    let (items, d) = self.pop_mark()?;
                    self.set_items_top(items, d)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Item::Global(format!("{module}.{name}")))?
                }
                0x93 => {
                    let (name, _) = self.pop_value()?;
                    let (module, _) = self.pop_value()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => {
                            self.push(Item::Global(format!("{m}.{n}")))?
                        }
                        _ => return self.err("STACK_GLOBAL needs two str"),
                    }
                }
                b'R' | 0x81 | 0x92 => {
                    if op == 0x92 {
                        self.pop_value()?; // kwargs: no mapped class takes any
                    }
                    let (args, d) = self.pop_value()?;
                    let (callable, _) = self.pop()?;
                    let Item::Global(name) = callable else {
                        return self.err("REDUCE/NEWOBJ on something that is not a class");
                    };
                    let args = match args {
                        Value::Tuple(a) => a,
                        other => vec![other],
                    };
                    let v = reduce(&name, args, &mut self.budget)?;
                    self.push_depth(Item::V(v), d + 1)?
                }
                b'b' => {
                    let (state, d) = self.pop_value()?;
                    let slot = self.top()?;
                    if let Some(f) = as_obj(&mut slot.item) {
                        if let Some(text) = f.build(state) {
                            slot.item = Item::V(Value::Str(text));
                        }
                    } else if let Item::Global(_) = slot.item {
                        return self.err("BUILD on a class");
                    }
                    // State for a value we already mapped (e.g. a datetime subclass): the
                    // value stays.
                    self.deepen_top(d + 1)?
                }
                b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let (args, d) = self.pop_mark()?;
                    let v = reduce(&format!("{module}.{name}"), args, &mut self.budget)?;
                    self.push_depth(Item::V(v), d + 1)?
                }
                b'o' => {
                    let Some(&m) = self.marks.last() else {
                        return self.err("no mark on the stack");
                    };
                    if self.stack.len() <= m {
                        return self.err("OBJ without a class");
                    }
                    let mut args = Vec::with_capacity(self.stack.len() - m - 1);
                    let mut depth = 0;
                    while self.stack.len() > m + 1 {
                        let (v, d) = self.pop_value()?;
                        depth = depth.max(d);
                        args.push(v);
                    }
                    args.reverse();
                    let (class, _) = self.pop()?;
                    self.marks.pop();
                    let Item::Global(class) = class else {
                        return self.err("OBJ without a class");
                    };
                    let v = reduce(&class, args, &mut self.budget)?;
                    self.push_depth(Item::V(v), depth + 1)?
                }
                b'p' | b'q' | b'r' | 0x94 => {
                    match op {
                        b'p' => {
                            self.line()?
                                .trim()
                                .parse::<u32>()
                                .map_err(|_| Error::serialization("invalid PUT"))?;
                        }
                        b'q' => {
                            self.u8()?;
                        }
                        b'r' => {
                            self.le(4)?;
                        }
                        _ => {}
                    }
                    if self.stack.len() <= self.fence() {
                        return self.err("PUT with an empty stack");
                    }
                    let put = self.puts;
                    self.puts += 1;
                    // A PUT no GET reads is not remembered at all.
                    if let Some(&(id, last_get)) = self.plan.get(&put) {
                        let pos = self.stack.len() - 1;
                        self.kept.remove(&id);
                        self.live.insert(id, LiveId { pos, last_get });
                        self.ids_at.entry(pos).or_default().push(id);
                        self.stack[pos].memoized = true;
                    }
                }
                b'g' | b'h' | b'j' => {
                    let id = match op {
                        b'g' => self
                            .line()?
                            .trim()
                            .parse::<u32>()
                            .map_err(|_| Error::serialization("invalid GET"))?,
                        b'h' => self.u8()? as u32,
                        _ => self.le(4)? as u32,
                    };
                    let (copy, depth) = self.get(id)?;
                    self.push_depth(copy.into(), depth)?
                }
                b'P' | b'Q' => return self.err("persistent ids are not supported"),
                0x82..=0x84 => return self.err("extension registry codes are not supported"),
                other => return self.err(&format!("unknown opcode 0x{other:02x}")),
            }
        }
    }

    /// GET: a value still on the stack gives its current contents; one that left it, its
    /// snapshot, moved out by the last GET when no other id shares it.
    fn get(&mut self, id: u32) -> Result<(Kept, usize)> {
        if let Some(l) = self.live.get(&id) {
            let pos = l.pos;
            if l.last_get <= self.op_at {
                self.live.remove(&id);
            }
            return self.copy_at(pos);
        }
        let Some(k) = self.kept.get(&id) else {
            return self.err(&format!("memo key {id} missing"));
        };
        let value = if k.last_get <= self.op_at {
            match self.kept.remove(&id) {
                Some(k) => match Rc::try_unwrap(k.value) {
                    Ok(moved) => return Ok(moved),
                    Err(shared) => shared,
                },
                None => return self.err(&format!("memo key {id} missing")),
            }
        } else {
            Rc::clone(&k.value)
        };
        Ok((self.charged_clone(&value.0)?, value.1))
    }

    fn extend_top(&mut self, items: Vec<Value>, d: usize) -> Result<()> {
        let slot = self.top()?;
        if let Item::V(Value::List(l)) = &mut slot.item {
            l.extend(items);
        } else if let Some(b) = as_set(&mut slot.item) {
            set_insert(b, items)?;
        } else if let Some(f) = as_obj(&mut slot.item) {
            // list subclasses: the items go into the state
            f.dict().append(items);
        } else {
            return Err(Error::serialization(
                "APPEND to something that is not a list or set",
            ));
        }
        self.deepen_top(d + 1)
    }

    fn set_items_top(&mut self, items: Vec<Value>, d: usize) -> Result<()> {
        if items.len() % 2 != 0 {
            return self.err("odd number of items for SETITEMS");
        }
        let slot = self.top()?;
        if let Some(b) = as_dict(&mut slot.item) {
            for kv in pairs(items) {
                let (k, v) = kv?;
                b.insert(k, v);
            }
        } else if let Some(f) = as_obj(&mut slot.item) {
            let state = f.dict();
            for kv in pairs(items) {
                let (k, v) = kv?;
                state.insert(k, v);
            }
        } else {
            return Err(Error::serialization(
                "SETITEM on something that is not a dict",
            ));
        }
        self.deepen_top(d + 1)
    }
}

/// Python 2 str (STRING, BINSTRING): Python 3 reads it as ASCII text by default; bytes that
/// are not ASCII stay bytes rather than fail.
fn py2_str(b: Vec<u8>) -> Value {
    if b.is_ascii() {
        Value::Str(String::from_utf8(b).unwrap_or_default())
    } else {
        Value::Bytes(b)
    }
}

/// Python's `codecs.escape_decode`, which STRING's quoted argument goes through.
fn escape_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = *s.get(i)?;
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b't' => out.push(9),
            b'n' => out.push(10),
            b'v' => out.push(11),
            b'f' => out.push(12),
            b'r' => out.push(13),
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + (d - b'0') as u32;
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'x' => {
                let hex = s.get(i..i + 2)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            other => out.extend_from_slice(&[b'\\', other]),
        }
    }
    Some(out)
}

/// Python's raw_unicode_escape decoding (UNICODE's argument): bytes are Latin-1 code points,
/// except `\uXXXX` / `\UXXXXXXXX` after an odd number of backslashes.
fn raw_unicode_escape(s: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' {
            out.push(s[i] as char);
            i += 1;
            continue;
        }
        let start = i;
        while s.get(i) == Some(&b'\\') {
            out.push('\\');
            i += 1;
        }
        let n = match s.get(i) {
            Some(b'u') => 4,
            Some(b'U') => 8,
            _ => continue,
        };
        if (i - start) % 2 == 0 {
            continue;
        }
        out.pop();
        let hex = s.get(i + 1..i + 1 + n)?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let cp = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        if cp > 0x10ffff {
            return None;
        }
        // Lone surrogates (written with surrogatepass) have no char: U+FFFD.
        out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
        i += 1 + n;
    }
    Some(out)
}

fn is_exception_class(name: &str) -> bool {
    let short = name.rsplit('.').next().unwrap_or(name);
    name.starts_with("Pyro4.errors.")
        || ["Error", "Exception", "Warning", "Exit", "Interrupt"]
            .iter()
            .any(|s| short.ends_with(s))
        || matches!(
            short,
            "StopIteration" | "StopAsyncIteration" | "GeneratorExit"
        )
}

fn digits(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |a, &x| (a << 8) | x as u32)
}

/// Python 3's datetime pickles: the state is a packed byte string.
fn datetime_text(class: &str, state: &[u8]) -> Option<String> {
    let time = |b: &[u8]| {
        let us = digits(&b[3..6]);
        let base = format!("{:02}:{:02}:{:02}", b[0] & 0x7f, b[1], b[2]);
        if us != 0 {
            format!("{base}.{us:06}")
        } else {
            base
        }
    };
    match (class, state.len()) {
        ("datetime.date", 4) => Some(format!(
            "{:04}-{:02}-{:02}",
            digits(&state[..2]),
            state[2],
            state[3]
        )),
        ("datetime.datetime", 10) => Some(format!(
            "{:04}-{:02}-{:02}T{}",
            digits(&state[..2]),
            state[2] & 0x7f,
            state[3],
            time(&state[4..])
        )),
        ("datetime.time", 6) => Some(time(state)),
        _ => None,
    }
}

fn exception_state(args: Value) -> Vec<(Value, Value)> {
    vec![
        (Value::str("__exception__"), Value::Bool(true)),
        (Value::str("args"), args),
        (Value::str("attributes"), Value::Dict(vec![])),
    ]
}

fn exception(class: &str, args: Vec<Value>) -> Value {
    Value::Object(Box::new(Object {
        class: class.to_string(),
        state: Value::Dict(exception_state(Value::Tuple(args))),
    }))
}

fn object(class: &str, args: Vec<Value>) -> Value {
    let mut state = Value::Dict(vec![]);
    if !args.is_empty() {
        state.dict_set(Value::str("args"), Value::Tuple(args));
    }
    Value::Object(Box::new(Object {
        class: class.to_string(),
        state,
    }))
}

fn to_set(items: Vec<Value>) -> Result<Value> {
    let mut b = SetBuilder::new();
    set_insert(&mut b, items)?;
    Ok(Value::Set(b.finish()))
}

fn builtin_name(name: &str) -> String {
    name.strip_prefix("__builtin__.")
        .map(|n| format!("builtins.{n}"))
        .unwrap_or_else(|| name.to_string())
}

/// REDUCE / NEWOBJ of a class by name: the mapping table above. Never calls anything.
/// Rebuilding an argument that was itself decoded (a list into a set, text into bytes, bytes
/// into array items) is charged to `budget` like a copy: REDUCEs chained through values
/// already on the stack could otherwise redo O(n) work for a few bytes of input each.
fn reduce(name: &str, mut args: Vec<Value>, budget: &mut ExpansionBudget) -> Result<Value> {
    let mut name = builtin_name(name);
    // copyreg.__newobj__(cls, *args) is cls.__new__(cls, *args); a chain of them unwinds
    // here without recursion.
    let mut skip = 0;
    while name == "copyreg.__newobj__" {
        match args.get(skip) {
            Some(Value::Object(cls)) if cls.state == Value::None => {
                name = builtin_name(&cls.class);
                skip += 1;
            }
            _ => break,
        }
    }
    args.drain(..skip);
    Ok(match (name.as_str(), args.first()) {
        (
            "builtins.set" | "builtins.frozenset",
            Some(first @ (Value::List(_) | Value::Tuple(_) | Value::Set(_))),
        ) => {
            // A set argument is moved, not rebuilt, but still charged: ADDITEMS onto the
            // result would rebuild it.
            budget.charge_copy(first, "pickle")?;
            match args.swap_remove(0) {
                Value::List(items) | Value::Tuple(items) => to_set(items)?,
                other => other,
            }
        }
        ("builtins.set" | "builtins.frozenset", None) => Value::Set(vec![]),
        ("builtins.complex", _) => {
            let f = |v: Option<&Value>| match v {
                Some(Value::Float(f)) => *f,
                Some(Value::Int(i)) => *i as f64,
                _ => 0.0,
            };
            Value::Complex {
                re: f(args.first()),
                im: f(args.get(1)),
            }
        }
        ("builtins.bytearray" | "builtins.bytes", Some(Value::Bytes(_))) => args.swap_remove(0),
        ("builtins.bytearray" | "builtins.bytes", None) => Value::Bytes(vec![]),
        ("builtins.bytearray" | "builtins.bytes" | "_codecs.encode", Some(Value::Str(s))) => {
            // Protocol 2 writes bytes as encode(latin-1 text)
            budget.charge(NODE_COST + s.len(), "pickle")?;
            Value::Bytes(s.chars().map(|c| c as u32 as u8).collect())
        }
        ("builtins.bytearray", Some(first @ Value::List(items))) => {
            budget.charge_copy(first, "pickle")?;
            Value::Bytes(
                items
                    .iter()
                    .filter_map(|i| i.as_i64())
                    .map(|i| i as u8)
                    .collect(),
            )
        }
        ("collections.OrderedDict", _) => Value::Dict(vec![]),
        ("decimal.Decimal", Some(Value::Str(_))) => args.swap_remove(0),
        ("datetime.date" | "datetime.datetime" | "datetime.time", Some(Value::Bytes(b))) => {
            match datetime_text(&name, b) {
                Some(text) => Value::Str(text),
                None => object(&name, args),
            }
        }
        ("datetime.timedelta", _) => {
            let n = |i: usize| args.get(i).and_then(Value::as_i64).unwrap_or(0) as f64;
            Value::Float(n(0) * 86400.0 + n(1) + n(2) / 1e6)
        }
        ("array._array_reconstructor", _) => match (args.get(1), args.get(2), args.get(3)) {
            (Some(Value::Str(tc)), Some(fmt), Some(Value::Bytes(b))) => {
                budget.charge(NODE_COST + b.len(), "pickle")?;
                array_items(tc, fmt.as_i64().unwrap_or(-1), b)
            }
            _ => object(&name, args),
        },
        ("array.array", Some(Value::Str(_))) if matches!(args.get(1), Some(Value::List(_))) => {
            args.swap_remove(1)
        }
        ("copyreg._reconstructor", Some(Value::Object(cls))) if cls.state == Value::None => {
            if is_exception_class(&cls.class) {
                exception(&cls.class, vec![])
            } else {
                object(&cls.class, vec![])
            }
        }
        (n, _) if is_exception_class(n) => exception(n, args),
        (n, _) => object(n, args),
    })
}

/// array.array's machine formats as Python 3 pickles them (little-endian common ones).
fn array_items(typecode: &str, mformat: i64, b: &[u8]) -> Value {
    let chunk =
        |n: usize, f: &dyn Fn(&[u8]) -> Value| Value::List(b.chunks_exact(n).map(f).collect());
    match mformat {
        0 => chunk(1, &|c| Value::Int(c[0] as i64)),
        1 => chunk(1, &|c| Value::Int(c[0] as i8 as i64)),
        2 => chunk(2, &|c| Value::Int(u16::from_le_bytes([c[0], c[1]]) as i64)),
        4 => chunk(2, &|c| Value::Int(i16::from_le_bytes([c[0], c[1]]) as i64)),
        6 => chunk(4, &|c| {
            Value::Int(u32::from_le_bytes(c.try_into().unwrap()) as i64)
        }),
        8 => chunk(4, &|c| {
            Value::Int(i32::from_le_bytes(c.try_into().unwrap()) as i64)
        }),
        10 => chunk(8, &|c| {
            Value::from_bigint(u64::from_le_bytes(c.try_into().unwrap()).into())
        }),
        12 => chunk(8, &|c| {
            Value::Int(i64::from_le_bytes(c.try_into().unwrap()))
        }),
        14 => chunk(4, &|c| {
            Value::Float(f32::from_le_bytes(c.try_into().unwrap()) as f64)
        }),
        16 => chunk(8, &|c| {
            Value::Float(f64::from_le_bytes(c.try_into().unwrap()))
        }),
        20 => Value::Str(
            b.chunks_exact(4)
                .filter_map(|c| char::from_u32(u32::from_le_bytes(c.try_into().unwrap())))
                .collect(),
        ),
        _ => Value::Object(Box::new(Object {
            class: "array.array".into(),
            state: Value::Dict(vec![
                (Value::str("typecode"), Value::str(typecode)),
                (Value::str("data"), Value::Bytes(b.to_vec())),
            ]),
        })),
    }
}

fn uuid_text(v: &Value) -> Option<String> {
    let n = match v {
        Value::Int(i) => BigInt::from(*i),
        Value::BigInt(b) => b.clone(),
        _ => return None,
    };
    let (sign, bytes) = n.to_bytes_be();
    if sign == Sign::Minus || bytes.len() > 16 {
        return None;
    }
    let mut full = vec![0u8; 16 - bytes.len()];
    full.extend(bytes);
    let h: String = full.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// Decode a pickle (protocols 0–5). Never imports or executes anything.
pub fn decode(data: &[u8]) -> Result<Value> {
    decode_counted(data).0
}

/// `decode`, and how much its copies charged to the expansion budget.
fn decode_counted(data: &[u8]) -> (Result<Value>, usize) {
    let budget = ExpansionBudget::for_input(data.len());
    let total = budget.remaining();
    let mut m = Machine {
        b: data,
        pos: 0,
        op_at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        plan: memo_plan(data),
        puts: 0,
        live: HashMap::new(),
        ids_at: HashMap::new(),
        kept: HashMap::new(),
        budget,
    };
    let r = m.run();
    (r, total - m.budget.remaining())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::serpent::parse_literal;

    #[test]
    fn round_trips() {
        for lit in [
            "(1, -2, 300, 70000, 2147483648, -123456789012345678901234567890, 1.5, (1+2j), 'h\\u00e9', b'\\x00', None, True, False)",
            "{'a': [1, {2, 3}], (1,): {}, 'e': set()}",
            "()",
            "[[], [[]], ((),)]",
        ] {
            let v = parse_literal(lit).unwrap();
            assert_eq!(decode(&encode(&v).unwrap()).unwrap(), v, "{lit}");
        }
    }

    #[test]
    fn hostile_pickles() {
        let mut deep = vec![0x80, 4];
        for _ in 0..100_000 {
            deep.extend_from_slice(b"](");
        }
        assert!(decode(&deep).is_err());
        let mut deep2 = vec![0x80, 4];
        deep2.extend(std::iter::repeat_n(b']', 100_000));
        deep2.extend(std::iter::repeat_n(b'a', 100_000));
        deep2.push(b'.');
        assert!(decode(&deep2).is_err());
        assert!(decode(&[0x80, 4, 0x8e, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1]).is_err()); // 2 GB BINBYTES8
        assert!(decode(b"\x80\x04h\x05.").is_err()); // memo out of range
        assert!(decode(b"\x80\x04\xff.").is_err());
        assert!(decode(b"").is_err());
        // os.system('rm -rf /') becomes an inert object
        // DUP + TUPLE3 doubling: exponential if references were copied without limit
        let mut bomb = vec![0x80, 4, b')'];
        for _ in 0..200 {
            bomb.extend_from_slice(&[b'2', b'2', 0x87]);
        }
        bomb.push(b'.');
        assert!(decode(&bomb).unwrap_err().message.contains("expand beyond"));
        let evil = b"cos\nsystem\n(S'rm -rf /'\ntR.";
        let v = decode(evil).unwrap();
        assert!(matches!(&v, Value::Object(o) if o.class == "os.system"));
        let good = encode(&parse_literal("{'k': [1, 2.5, 'x', b'y', (1, 2)]}").unwrap()).unwrap();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
    }

    // ------------------------------------------------------------ hostile input
    //
    // Each attack is built here byte by byte. Memory is checked through the expansion
    // budget's own accounting (what the decoder charged before copying), never by timing.

    use crate::serial::budget::value_cost;

    /// `body` between a protocol-4 header and STOP.
    fn proto4(body: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 4];
        p.extend_from_slice(body);
        p.push(b'.');
        p
    }

    fn binint(out: &mut Vec<u8>, n: i32) {
        out.push(b'J');
        out.extend_from_slice(&n.to_le_bytes());
    }

    fn op4(out: &mut Vec<u8>, op: u8, n: u32) {
        out.push(op);
        out.extend_from_slice(&n.to_le_bytes());
    }

    /// EMPTY_LIST MARK ints APPENDS: the list `0..n`.
    fn int_list(out: &mut Vec<u8>, n: i32) {
        out.extend_from_slice(b"](");
        for i in 0..n {
            binint(out, i);
        }
        out.push(b'e');
    }

    fn ints(n: i32) -> Vec<Value> {
        (0..n).map(|i| Value::Int(i as i64)).collect()
    }

    fn budget_total(p: &[u8]) -> usize {
        ExpansionBudget::for_input(p.len()).remaining()
    }

    fn refused_as_expansion(r: &Result<Value>) {
        match r {
            Err(e) => {
                assert_eq!(e.kind, crate::error::ErrorKind::Serialization);
                assert!(e.message.contains("expand beyond"), "{}", e.message);
            }
            Ok(_) => panic!("decoded a pickle that expands beyond its budget"),
        }
    }

    #[test]
    fn memo_puts_copy_nothing() {
        // A 100k list memoized under 200k ids and never read back: each PUT used to
        // deep-copy the list (640 GB).
        let mut b = Vec::new();
        int_list(&mut b, 100_000);
        for id in 0..200_000 {
            op4(&mut b, b'r', id);
        }
        let p = proto4(&b);
        let (r, charged) = decode_counted(&p);
        assert_eq!(r.unwrap(), Value::List(ints(100_000)));
        assert_eq!(charged, 0);
    }

    #[test]
    fn memo_ids_of_one_value_share_one_snapshot() {
        // A list memoized under 4000 ids leaves the stack (POP), then three ids are read:
        // one snapshot for them all, two copies, and the last GET takes the snapshot. Each
        // id used to get its own clone (12.8 GB).
        let mut b = Vec::new();
        int_list(&mut b, 100_000);
        for id in 0..4000 {
            op4(&mut b, b'r', id);
        }
        b.push(b'0');
        for id in [5, 1717, 3999] {
            op4(&mut b, b'j', id);
        }
        b.push(0x87);
        let p = proto4(&b);
        let (r, charged) = decode_counted(&p);
        let list = Value::List(ints(100_000));
        let cost = value_cost(&list, usize::MAX);
        assert_eq!(
            r.unwrap(),
            Value::Tuple(vec![list.clone(), list.clone(), list])
        );
        assert_eq!(charged, 3 * cost);
    }

    #[test]
    fn memo_gets_are_charged_before_copying() {
        // One memoized list read 4000 times: refused once the copies pass the budget, having
        // copied no more than the budget allows.
        for live in [true, false] {
            let mut b = Vec::new();
            int_list(&mut b, 100_000);
            b.push(0x94);
            if !live {
                b.extend_from_slice(b"0");
            }
            for _ in 0..4000 {
                b.extend_from_slice(b"h\x00");
            }
            let p = proto4(&b);
            let (r, charged) = decode_counted(&p);
            refused_as_expansion(&r);
            let per_copy = value_cost(&Value::List(ints(100_000)), usize::MAX);
            assert!(charged <= budget_total(&p), "{charged}");
            assert!(charged + per_copy > budget_total(&p), "{charged}");
        }
    }

    #[test]
    fn memo_get_under_a_deep_stack_is_a_lookup() {
        // A small memoized list under 900k entries, read 20k times: each GET used to
        // search the stack from the top for the id.
        let mut b = b"](K\x01K\x02e\x94".to_vec();
        b.extend(std::iter::repeat_n(b'N', 900_000));
        for _ in 0..20_000 {
            b.extend_from_slice(b"h\x00");
        }
        let p = proto4(&b);
        let (r, charged) = decode_counted(&p);
        let list = Value::List(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(r.unwrap(), list);
        assert_eq!(charged, 20_000 * value_cost(&list, usize::MAX));
    }

    #[test]
    fn memo_copies_keep_their_depth() {
        // 600 nested lists memoized, read back inside 600 more: 1200 levels, past
        // MAX_DEPTH, used to pass because a GET counted as one level.
        let mut b = Vec::new();
        b.extend(std::iter::repeat_n(b']', 600));
        b.extend(std::iter::repeat_n(b'a', 599));
        b.extend_from_slice(b"\x940");
        b.extend(std::iter::repeat_n(b']', 600));
        b.extend_from_slice(b"h\x00");
        b.extend(std::iter::repeat_n(b'a', 600));
        let e = decode(&proto4(&b)).unwrap_err();
        assert!(e.message.contains("nesting deeper"), "{}", e.message);
        // and BUILD cannot nest an object's state past it either
        let mut b = Vec::new();
        for _ in 0..1100 {
            b.extend_from_slice(b"cm\nC\n)\x81");
        }
        b.extend(std::iter::repeat_n(b'b', 1099));
        let e = decode(&proto4(&b)).unwrap_err();
        assert!(e.message.contains("nesting deeper"), "{}", e.message);
    }

    /// `keys` (each a pickled key) with value `i` for the i-th, as Python pickles a dict
    /// (protocol 4: EMPTY_DICT MEMOIZE, then MARK ... SETITEMS per 1000 pairs), or a set.
    fn python_batches(keys: &[Vec<u8>], set: bool) -> Vec<u8> {
        let mut b = vec![if set { 0x8f } else { b'}' }, 0x94];
        for (n, chunk) in keys.chunks(1000).enumerate() {
            b.push(b'(');
            for (i, k) in chunk.iter().enumerate() {
                b.extend_from_slice(k);
                if !set {
                    binint(&mut b, (n * 1000 + i) as i32);
                }
            }
            b.push(if set { 0x90 } else { b'u' });
        }
        proto4(&b)
    }

    /// 0..n as pickled ints, then 1.0 and True (Python: the same key as 1).
    fn keys_with_duplicates(n: i32) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let mut k = Vec::new();
                binint(&mut k, i);
                k
            })
            .collect();
        let mut one_f = vec![b'G'];
        one_f.extend_from_slice(&1.0f64.to_be_bytes());
        keys.push(one_f);
        keys.push(vec![0x88]);
        keys
    }

    #[test]
    fn python_dict_and_set_of_100k_ints() {
        let keys = keys_with_duplicates(100_000);
        let Value::Dict(items) = decode(&python_batches(&keys, false)).unwrap() else {
            panic!("not a dict");
        };
        // first key position and type (1, not 1.0 or True), last value
        let mut expected: Vec<(Value, Value)> =
            ints(100_000).into_iter().zip(ints(100_000)).collect();
        expected[1].1 = Value::Int(100_001);
        assert_eq!(items, expected);
        assert!(matches!(items[1].0, Value::Int(1)));
        let Value::Set(items) = decode(&python_batches(&keys, true)).unwrap() else {
            panic!("not a set");
        };
        assert_eq!(items, ints(100_000));
        assert!(matches!(items[1], Value::Int(1)));
    }

    #[test]
    fn dict_of_200k_entries_in_one_setitems_or_dict() {
        for op in [b'u', b'd'] {
            let mut b = Vec::new();
            if op == b'u' {
                b.push(b'}');
            }
            b.push(b'(');
            for i in 0..200_000 {
                binint(&mut b, i);
                binint(&mut b, -i);
            }
            b.push(op);
            let Value::Dict(items) = decode(&proto4(&b)).unwrap() else {
                panic!("not a dict");
            };
            assert_eq!(items.len(), 200_000);
            assert_eq!(items[199_999], (Value::Int(199_999), Value::Int(-199_999)));
        }
    }

    #[test]
    fn sets_of_200k_ints() {
        // ADDITEMS batches, FROZENSET, and builtins.set(list) as protocols 2 and 3 write it
        let mut additems = vec![0x8f];
        for chunk in 0..200 {
            additems.push(b'(');
            for i in 0..1000 {
                binint(&mut additems, chunk * 1000 + i);
            }
            additems.push(0x90);
        }
        let mut frozen = vec![b'('];
        for i in 0..200_000 {
            binint(&mut frozen, i);
        }
        frozen.push(0x91);
        let mut reduce = b"cbuiltins\nset\n".to_vec();
        int_list(&mut reduce, 200_000);
        reduce.extend_from_slice(b"\x85R");
        for (body, conversion) in [(additems, false), (frozen, false), (reduce, true)] {
            let p = proto4(&body);
            let (r, charged) = decode_counted(&p);
            // (Value's set equality is quadratic: compare the items in order)
            let Value::Set(items) = r.unwrap() else {
                panic!("not a set");
            };
            assert_eq!(items, ints(200_000));
            // rebuilding the decoded list into a set is charged once, like a copy
            let list_cost = value_cost(&Value::List(ints(200_000)), usize::MAX);
            assert_eq!(charged, if conversion { list_cost } else { 0 });
        }
    }

    #[test]
    fn text_ints_over_4300_digits_are_refused_before_parsing() {
        for (op, end) in [(b'I', &b"\n"[..]), (b'L', &b"L\n"[..])] {
            for (digits, ok) in [(2_000_000, false), (4301, false), (4300, true)] {
                let mut b = vec![op, b'-'];
                b.extend(std::iter::repeat_n(b'7', digits));
                b.extend_from_slice(end);
                let r = decode(&proto4(&b));
                if ok {
                    assert!(matches!(r.unwrap(), Value::BigInt(_)));
                } else {
                    let e = r.unwrap_err();
                    assert_eq!(e.kind, crate::error::ErrorKind::Serialization);
                    assert!(e.message.contains("limit of 4300 digits"), "{}", e.message);
                }
            }
        }
    }

    #[test]
    fn lengths_are_checked_against_the_remaining_input() {
        let huge = (1u64 << 40).to_le_bytes();
        for op in [0x95, 0x8d, 0x8e, 0x96] {
            let mut b = vec![op];
            b.extend_from_slice(&huge);
            b.push(b'N');
            let e = decode(&proto4(&b)).unwrap_err();
            assert!(
                e.message.contains("exceeds the remaining data"),
                "{}",
                e.message
            );
        }
        for op in [0x8b, b'X', b'B', b'T'] {
            let e = decode(&proto4(&[op, 0xff, 0xff, 0xff, 0x7f, b'N'])).unwrap_err();
            assert!(
                e.message.contains("exceeds the remaining data"),
                "{}",
                e.message
            );
        }
        // a frame that fits is only a hint
        let mut b = vec![0x95];
        b.extend_from_slice(&2u64.to_le_bytes());
        b.push(b'N');
        assert_eq!(decode(&proto4(&b)).unwrap(), Value::None);
    }

    #[test]
    fn list_subclass_appends_are_linear() {
        // NEWOBJ of a list subclass, then 200k single APPENDs: each used to clone the
        // items list gathered so far.
        let mut b = b"cm\nL\n)\x81".to_vec();
        for _ in 0..200_000 {
            b.extend_from_slice(b"K\x05a");
        }
        let Value::Object(o) = decode(&proto4(&b)).unwrap() else {
            panic!("not an object");
        };
        assert_eq!(o.class, "m.L");
        assert_eq!(
            o.state,
            Value::Dict(vec![(
                Value::str("items"),
                Value::List(vec![Value::Int(5); 200_000])
            )])
        );
    }

    #[test]
    fn object_build_and_setitems_are_linear() {
        // 100k BUILDs of one new key each, then a 100k-pair SETITEMS onto the same
        // object: each key used to be searched for in the whole state.
        let mut b = b"cm\nC\n)\x81".to_vec();
        for i in 0..100_000 {
            b.push(b'}');
            b.extend_from_slice(format!("Vb{i}\n").as_bytes());
            binint(&mut b, i);
            b.extend_from_slice(b"sb");
        }
        b.push(b'(');
        for i in 0..100_000 {
            b.extend_from_slice(format!("Vs{i}\n").as_bytes());
            binint(&mut b, i);
        }
        b.push(b'u');
        let Value::Object(o) = decode(&proto4(&b)).unwrap() else {
            panic!("not an object");
        };
        let Value::Dict(state) = o.state else {
            panic!("state is not a dict");
        };
        assert_eq!(state.len(), 200_000);
        assert_eq!(state[5], (Value::str("b5"), Value::Int(5)));
        assert_eq!(state[100_007], (Value::str("s7"), Value::Int(7)));
    }

    #[test]
    fn chained_reduces_are_charged() {
        // bytes -> array items (array._array_reconstructor) -> bytes (bytearray) -> ...:
        // every round rebuilds 100 kB for about 70 bytes of input (the rounds nest, so
        // MAX_DEPTH allows about 250).
        let rounds = 200;
        let mut b = Vec::new();
        for _ in 0..rounds {
            b.extend_from_slice(b"cbuiltins\nbytearray\n");
            b.extend_from_slice(b"carray\n_array_reconstructor\n(carray\narray\nVb\nK\x00");
        }
        op4(&mut b, b'B', 100_000);
        b.extend(std::iter::repeat_n(7u8, 100_000));
        for _ in 0..rounds {
            b.extend_from_slice(b"tR\x85R");
        }
        let p = proto4(&b);
        let (r, charged) = decode_counted(&p);
        refused_as_expansion(&r);
        assert!(charged <= budget_total(&p));
        // one round is fine (and charged)
        let mut one = Vec::new();
        one.extend_from_slice(b"carray\n_array_reconstructor\n(carray\narray\nVb\nK\x00");
        op4(&mut one, b'B', 3);
        one.extend_from_slice(b"\x01\x02\x03tR");
        let (r, charged) = decode_counted(&proto4(&one));
        assert_eq!(
            r.unwrap(),
            Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)])
        );
        assert!(charged > 0);
    }

    #[test]
    fn python_shared_references_at_every_protocol() {
        // Regression guard for the memo plan (pickled by Python 3.11, protocols 0 to 5):
        // a = [1, 'x']; {'a': a, 'b': a, 't': (a, a), 's': {1, 2}, 'k': 'x', 'n': [[a]],
        // 'f': frozenset({'x'})}
        let hex = [
            "286470300a56610a70310a286c70320a49310a6156780a70330a617356620a70340a67320a7356740a70350a2867320a67320a7470360a7356730a70370a635f5f6275696c74696e5f5f0a7365740a70380a28286c70390a49310a6149320a61747031300a527031310a73566b0a7031320a67330a73566e0a7031330a286c7031340a286c7031350a67320a61617356660a7031360a635f5f6275696c74696e5f5f0a66726f7a656e7365740a7031370a28286c7031380a67330a61747031390a527032300a732e",
            "7d71002858010000006171015d7102284b0158010000007871036558010000006271046802580100000074710528680268027471065801000000737107635f5f6275696c74696e5f5f0a7365740a7108285d7109284b014b026574710a52710b58010000006b710c680358010000006e710d5d710e5d710f680261615801000000667110635f5f6275696c74696e5f5f0a66726f7a656e7365740a7111285d7112680361747113527114752e",
            "80027d71002858010000006171015d7102284b01580100000078710365580100000062710468025801000000747105680268028671065801000000737107635f5f6275696c74696e5f5f0a7365740a71085d7109284b014b026585710a52710b58010000006b710c680358010000006e710d5d710e5d710f680261615801000000667110635f5f6275696c74696e5f5f0a66726f7a656e7365740a71115d7112680361857113527114752e",
            "80037d71002858010000006171015d7102284b01580100000078710365580100000062710468025801000000747105680268028671065801000000737107636275696c74696e730a7365740a71085d7109284b014b026585710a52710b58010000006b710c680358010000006e710d5d710e5d710f680261615801000000667110636275696c74696e730a66726f7a656e7365740a71115d7112680361857113527114752e",
            "8004954a000000000000007d94288c0161945d94284b018c017894658c01629468028c0174946802680286948c0173948f94284b014b02908c016b9468038c016e945d945d94680261618c0166942868039194752e",
            "8005954a000000000000007d94288c0161945d94284b018c017894658c01629468028c0174946802680286948c0173948f94284b014b02908c016b9468038c016e945d945d94680261618c0166942868039194752e",
        ];
        let expected = parse_literal(
            "{'a': [1, 'x'], 'b': [1, 'x'], 't': ([1, 'x'], [1, 'x']), 's': {1, 2}, 'k': 'x', \
             'n': [[[1, 'x']]], 'f': {'x'}}",
        )
        .unwrap();
        for (proto, h) in hex.iter().enumerate() {
            let p: Vec<u8> = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect();
            assert_eq!(decode(&p).unwrap(), expected, "protocol {proto}");
        }
    }

    #[test]
    fn protocol_0_unicode_is_raw_unicode_escape() {
        // as Python 2 and 3 write 'é \\u0041 \u2603 😀' at protocol 0: Latin-1 bytes,
        // an escaped backslash, \u and \U escapes
        let p = b"V\xe9 \\u005cu0041 \\u2603 \\U0001f600\np0\n.";
        assert_eq!(
            decode(p).unwrap(),
            Value::str("\u{e9} \\u0041 \u{2603} \u{1f600}")
        );
        for bad in [&b"V\\u12\n."[..], b"V\\U00110000\n.", b"V\\uzzzz\n."] {
            assert!(decode(bad).is_err());
        }
        assert_eq!(decode(b"V\\\\u\n.").unwrap(), Value::str("\\\\u"));
    }
}

//! marshal, Pyro4's serializer id 3: Python 3.11's `marshal` format (version 4), as Pyro4
//! 4.82's `MarshalSerializer` uses it (`marshal.dumps(data)` / `recreate_classes(marshal.loads(data))`).
//!
//! Decoding accepts everything CPython 3.11's `marshal.loads` accepts for data values:
//! `0` (dict end) `N` `T` `F` `i` `I` `l` (15-bit digits) `f` `g` `x` `y` `s` `u` `t` `a` `A`
//! `z` `Z` `(` `)` `[` `{` `<` `>` and references (`r`, and the `FLAG_REF` bit 0x80 on a type
//! code), with CPython's rules: references are numbered in the order flagged objects start,
//! a reference to an object still being read is an error, dict reading stops at a `0` in key
//! *or* value position, bytes after the first complete object are ignored, duplicate dict keys
//! keep the first key's position and the last value, set elements are de-duplicated, and
//! unhashable dict keys or set elements (list, dict, set) are refused.
//! Differences, all documented errors: code objects (`c`), `Ellipsis` (`.`) and
//! `StopIteration` (`S`) have no `Value`; a reference back into an enclosing container (a
//! recursive structure) cannot be represented; lone surrogates in `u`/`t` strings (written
//! by Python with `surrogatepass`) become U+FFFD; references may not expand the value beyond
//! [`MAX_DEPTH`], nor beyond the message's [`ExpansionBudget`] (a "billion laughs" guard:
//! Python shares the referenced object, we copy it). Every value made is charged to that
//! budget, copies included, so the whole result stays within 32 times the message size
//! (at least 1 MiB).
//!
//! Dicts with a `__class__` key become `Value::Object { class, state }` (state = the dict
//! without `__class__`), as Pyro4's `recreate_classes` does; that is how exceptions
//! (`{"__class__": "builtins.ValueError", "__exception__": True, "args": (...), "attributes":
//! {"_pyroTraceback": [...]}}`) and `Pyro4.core.URI` (`{"__class__": ..., "state": (...)}`)
//! arrive.
//!
//! Encoding emits a plain subset Python reads back: `N T F i l g y z a u s ) ( [ { 0 < >`,
//! no references. `Set` is written as `<` (set), or `>` (frozenset) where Python needs a
//! hashable value (dict keys, set elements); `Object` as its class dict; dict keys and set
//! elements that Python could not hash (list, dict, object) are an error. A frozenset decodes
//! to `Value::Set` (there is no frozenset kind), so a top-level frozenset comes back as a set.
//! Decoder and encoder are iterative (no recursion), so depth never threatens the stack.

use num_bigint::{BigInt, Sign};
use num_traits::{ToPrimitive, Zero};

use crate::error::{Error, Result};
use crate::serial::budget::{ExpansionBudget, NODE_COST};
use crate::serial::json::{finish_dict, py_type_name};
use crate::serial::MAX_DEPTH;
use crate::value::keyed::{DictBuilder, KeyHasher, SetBuilder, TupleHash};
use crate::value::Value;

fn err(msg: impl std::fmt::Display) -> Error {
    Error::serialization(format!("marshal: {msg}"))
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Serialize `v` in marshal format 4 (readable by Python 3.11's `marshal.loads`).
pub fn encode(v: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_value(v, &mut out, 0, false)?;
    Ok(out)
}

/// The call payload Pyro4's `MarshalSerializer.dumpsCall` sends:
/// the tuple `(object, method, [args...], {kwargs...})` (Pyro4 turns vargs into a list).
pub fn encode_call(
    object: &str,
    method: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<Vec<u8>> {
    let mut out = vec![b')', 4];
    write_str(object, &mut out);
    write_str(method, &mut out);
    out.push(b'[');
    write_len(args.len(), &mut out)?;
    for a in args {
        write_value(a, &mut out, 2, false)?;
    }
    out.push(b'{');
    for (k, v) in kwargs {
        write_str(k, &mut out);
        write_value(v, &mut out, 2, false)?;
    }
    out.push(b'0');
    Ok(out)
}

fn write_len(n: usize, out: &mut Vec<u8>) -> Result<()> {
    let n = i32::try_from(n).map_err(|_| err("container or string too large (over 2**31-1)"))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    if s.is_ascii() && s.len() < 256 {
        out.push(b'z');
        out.push(s.len() as u8);
    } else if s.is_ascii() {
        out.push(b'a');
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    } else {
        out.push(b'u');
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// An open container of the iterative encoder.
enum EncFrame<'a> {
    /// Tuple, list or set items; `hashable`: the items must be hashable.
    Seq {
        items: std::slice::Iter<'a, Value>,
        hashable: bool,
    },
    /// Dict or class-dict items; `value`: the value still to write after a key.
    Dict {
        items: std::slice::Iter<'a, (Value, Value)>,
        value: Option<&'a Value>,
        skip_class: bool,
    },
    /// An object whose state is not a dict: `"state": <state>` still to write.
    ObjState(Option<&'a Value>),
}

/// Write `v` without recursion. `depth`: the nesting `v` sits at; `hashable`: `v` is a dict key
/// or set element, where Python needs a hashable object.
fn write_value(v: &Value, out: &mut Vec<u8>, depth: usize, hashable: bool) -> Result<()> {
    let mut stack: Vec<EncFrame> = Vec::new();
    let mut next = Some((v, hashable));
    loop {
        if let Some((v, hashable)) = next.take() {
            if let Some(frame) = open_value(v, out, hashable)? {
                if depth + stack.len() + 1 > MAX_DEPTH {
                    return Err(err(format_args!(
                        "value nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                stack.push(frame);
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(());
        };
        match top {
            EncFrame::Seq { items, hashable } => match items.next() {
                Some(item) => next = Some((item, *hashable)),
                None => {
                    stack.pop();
                }
            },
            EncFrame::Dict {
                items,
                value,
                skip_class,
            } => {
                if let Some(val) = value.take() {
                    next = Some((val, false));
                    continue;
                }
                let mut item = items.next();
                if *skip_class {
                    while matches!(item, Some((Value::Str(k), _)) if k == "__class__") {
                        item = items.next();
                    }
                }
                match item {
                    Some((k, val)) => {
                        next = Some((k, true));
                        *value = Some(val);
                    }
                    None => {
                        out.push(b'0');
                        stack.pop();
                    }
                }
            }
            EncFrame::ObjState(state) => match state.take() {
                Some(st) => {
                    write_str("state", out);
                    next = Some((st, false));
                }
                None => {
                    out.push(b'0');
                    stack.pop();
                }
            },
        }
    }
}

/// Write a scalar, or a container's header (returning its frame).
fn open_value<'a>(v: &'a Value, out: &mut Vec<u8>, hashable: bool) -> Result<Option<EncFrame<'a>>> {
    if hashable && matches!(v, Value::List(_) | Value::Dict(_) | Value::Object(_)) {
        return Err(err(format_args!(
            "unhashable type {} as a dict key or set element",
            py_type_name(v)
        )));
    }
    match v {
        Value::None => out.push(b'N'),
        Value::Bool(true) => out.push(b'T'),
        Value::Bool(false) => out.push(b'F'),
        Value::Int(i) => match i32::try_from(*i) {
            Ok(small) => {
                out.push(b'i');
                out.extend_from_slice(&small.to_le_bytes());
            }
            Err(_) => write_long(&BigInt::from(*i), out)?,
        },
        Value::BigInt(b) => write_long(b, out)?,
        Value::Float(f) => {
            out.push(b'g');
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Complex { re, im } => {
            out.push(b'y');
            out.extend_from_slice(&re.to_le_bytes());
            out.extend_from_slice(&im.to_le_bytes());
        }
        Value::Str(s) => {
            if s.len() > i32::MAX as usize {
                return Err(err("str too large (over 2**31-1 bytes)"));
            }
            write_str(s, out)
        }
        Value::Bytes(b) => {
            out.push(b's');
            write_len(b.len(), out)?;
            out.extend_from_slice(b);
        }
        Value::Tuple(items) => {
            if items.len() < 256 {
                out.push(b')');
                out.push(items.len() as u8);
            } else {
                out.push(b'(');
                write_len(items.len(), out)?;
            }
            return Ok(Some(EncFrame::Seq {
                items: items.iter(),
                hashable,
            }));
        }
        Value::List(items) => {
            out.push(b'[');
            write_len(items.len(), out)?;
            return Ok(Some(EncFrame::Seq {
                items: items.iter(),
                hashable: false,
            }));
        }
        Value::Set(items) => {
            // A set where Python needs a hashable value goes as a frozenset.
            out.push(if hashable { b'>' } else { b'<' });
            write_len(items.len(), out)?;
            return Ok(Some(EncFrame::Seq {
                items: items.iter(),
                hashable: true,
            }));
        }
        Value::Dict(items) => {
            out.push(b'{');
            return Ok(Some(EncFrame::Dict {
                items: items.iter(),
                value: None,
                skip_class: false,
            }));
        }
        Value::Object(obj) => {
            out.push(b'{');
            write_str("__class__", out);
            write_str(&obj.class, out);
            return Ok(Some(match &obj.state {
                Value::Dict(items) => EncFrame::Dict {
                    items: items.iter(),
                    value: None,
                    skip_class: true,
                },
                // The shape Pyro4 uses for its core objects (URI, Proxy, Daemon).
                other => EncFrame::ObjState(Some(other)),
            }));
        }
    }
    Ok(None)
}

/// `l`: signed digit count, then base-2**15 digits, least significant first.
fn write_long(b: &BigInt, out: &mut Vec<u8>) -> Result<()> {
    let (sign, mag) = b.to_u32_digits();
    // Regroup the 32-bit magnitude into 15-bit digits.
    let mut digits: Vec<u16> = Vec::with_capacity(mag.len() * 32 / 15 + 1);
    let mut acc: u64 = 0;
    let mut bits = 0;
    for w in mag {
        acc |= (w as u64) << bits;
        bits += 32;
        while bits >= 15 {
            digits.push((acc & 0x7fff) as u16);
            acc >>= 15;
            bits -= 15;
        }
    }
    if bits > 0 {
        digits.push((acc & 0x7fff) as u16);
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let n = i32::try_from(digits.len()).map_err(|_| err("integer too large"))?;
    let n = if sign == Sign::Minus { -n } else { n };
    out.push(b'l');
    out.extend_from_slice(&n.to_le_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_le_bytes());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Parse a marshal payload as Pyro4's `MarshalSerializer.loads` does (class dicts become
/// `Object`s). Bytes after the first complete object are ignored, as `marshal.loads` does.
pub fn decode(data: &[u8]) -> Result<Value> {
    decode_with_budget(data).map(|(v, _)| v)
}

/// [`decode`], also giving what was charged to the message's [`ExpansionBudget`]: every
/// value made, copies included, so at least `value_cost` of the result.
pub(crate) fn decode_with_budget(data: &[u8]) -> Result<(Value, usize)> {
    let budget = ExpansionBudget::for_input(data.len());
    let total = budget.remaining();
    let mut r = Reader {
        data,
        pos: 0,
        refs: Vec::new(),
        targets: scan_ref_targets(data),
        budget,
        kh: KeyHasher::new(),
    };
    let v = r.object()?;
    Ok((v, total - r.budget.remaining()))
}

/// Items reserved up front for a container: its count is the sender's claim, and nested
/// containers would each reserve against the same remaining input; past this the vector
/// grows as items actually arrive.
const PREALLOC_LIMIT: usize = 1024;
/// Frozensets estimated above this many bytes carry their hash up (see `Meta::hash`);
/// below, hashing one again costs at most this much per level it is inserted into.
const CARRY_HASH_FROM: usize = 1024;

const FLAG_REF: u8 = 0x80;

/// What the reader knows about a value besides the value itself.
#[derive(Clone, Copy)]
struct Meta {
    /// Container nesting inside the value (0 for scalars).
    height: usize,
    /// Estimated memory (nodes * NODE_COST + string bytes), what a copy is charged.
    cost: usize,
    /// Whether Python could hash it (dict keys and set elements must be).
    hashable: bool,
    /// Its [`KeyHasher`] hash, kept for all but small frozensets and for tuples holding a
    /// kept hash: a frozenset nested n deep would otherwise be hashed again (and compared
    /// element by element) at every level it is inserted into.
    hash: Option<u64>,
}

impl Meta {
    fn scalar(bytes: usize) -> Meta {
        Meta {
            height: 0,
            cost: NODE_COST + bytes,
            hashable: true,
            hash: None,
        }
    }
}

enum Slot {
    /// Reserved by a container still being read.
    Pending,
    /// Complete, and the target of some `r` (so a copy is kept).
    Done(Value, Meta),
    /// Complete, and no `r` refers to it: no copy kept.
    Unused,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    refs: Vec<Slot>,
    /// `targets[i]`: some `r` refers to reference slot `i` (from [`scan_ref_targets`]).
    targets: Vec<bool>,
    /// Charged for every value made (copies included), before it is made.
    budget: ExpansionBudget,
    /// One hash for all of the message's dicts and sets, so their hashes can be carried.
    kh: KeyHasher,
}

/// What reading one type code gives.
enum Start {
    /// The NULL marker `0` (ends a dict).
    Null,
    Val(Value, Meta),
    /// A container was opened: its items follow.
    Open(Frame),
}

/// An open container of the iterative decoder.
struct Frame {
    kind: Kind,
    /// Reference slot reserved for it (FLAG_REF), filled when it completes.
    slot: Option<usize>,
    meta: Meta,
    /// Where its type code was.
    at: usize,
}

enum Kind {
    /// Tuple (`list` false) or list, with the number of items still to read.
    Seq {
        items: Vec<Value>,
        remaining: usize,
        list: bool,
        /// A tuple's hash, started at its first item with a kept hash.
        hash: Option<TupleHash>,
    },
    Set {
        set: SetBuilder,
        remaining: usize,
    },
    /// Dict, with the key read and waiting for its value.
    Dict {
        dict: DictBuilder,
        key: Option<(Value, Meta, usize)>,
    },
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn short(&self) -> Error {
        err(format_args!(
            "data too short (truncated at byte {})",
            self.data.len()
        ))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.short());
        }
        let data = self.data;
        let s = &data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn i32(&mut self) -> Result<i32> {
        let b = self.bytes(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A 4-byte size field; negative is an error.
    fn size(&mut self, what: &str) -> Result<usize> {
        let at = self.pos;
        let n = self.i32()?;
        usize::try_from(n).map_err(|_| {
            err(format_args!(
                "bad marshal data ({what} size {n} out of range at byte {at})"
            ))
        })
    }

    /// Capacity to reserve for `n` items: never more than the input could hold (>= 1 byte
    /// each), nor more than [`PREALLOC_LIMIT`].
    fn cap(&self, n: usize) -> usize {
        n.min(self.remaining()).min(PREALLOC_LIMIT)
    }

    /// Read one complete object, without recursion: containers live on an explicit stack.
    fn object(&mut self) -> Result<Value> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            let at = self.pos;
            let mut done = match self.start(stack.len())? {
                Start::Null => None,
                Start::Val(v, m) => Some((v, m)),
                Start::Open(frame) => {
                    let empty = matches!(
                        frame.kind,
                        Kind::Seq { remaining: 0, .. } | Kind::Set { remaining: 0, .. }
                    );
                    if !empty {
                        stack.push(frame);
                        continue;
                    }
                    Some(self.finish(frame)?)
                }
            };
            let mut done_at = at;
            // Hand the completed object to the enclosing containers, closing each that is full.
            loop {
                let Some(top) = stack.last_mut() else {
                    return match done {
                        Some((v, _)) => Ok(v),
                        None => Err(err(format_args!(
                            "NULL object ('0') in marshal data at byte {done_at}"
                        ))),
                    };
                };
                match &mut top.kind {
                    Kind::Seq {
                        items,
                        remaining,
                        list,
                        hash,
                    } => {
                        let Some((v, m)) = done.take() else {
                            return Err(err(format_args!(
                                "NULL object ('0') in marshal data for {} at byte {done_at}",
                                if *list { "list" } else { "tuple" }
                            )));
                        };
                        if !m.hashable {
                            *hash = None;
                        } else if !*list && top.meta.hashable {
                            let kh = &self.kh;
                            match (hash.as_mut(), m.hash) {
                                (Some(t), h) => t.push(h.unwrap_or_else(|| kh.hash(&v))),
                                (None, Some(h)) => {
                                    let mut t = kh.tuple(items.len() + *remaining);
                                    for it in items.iter() {
                                        t.push(kh.hash(it));
                                    }
                                    t.push(h);
                                    *hash = Some(t);
                                }
                                (None, None) => {}
                            }
                        }
                        top.meta.absorb(m);
                        items.push(v);
                        *remaining -= 1;
                        if *remaining > 0 {
                            break;
                        }
                    }
                    Kind::Set { set, remaining, .. } => {
                        let Some((v, m)) = done.take() else {
                            return Err(err(format_args!(
                                "NULL object ('0') in marshal data for set at byte {done_at}"
                            )));
                        };
                        if !m.hashable {
                            return Err(err(format_args!(
                                "unhashable type {} as a set element at byte {done_at}",
                                py_type_name(&v)
                            )));
                        }
                        top.meta.absorb(m);
                        // Without a carried hash the builder hashes only once it is large.
                        match m.hash {
                            Some(h) => set.insert_hashed(v, h),
                            None => set.insert(v),
                        }
                        *remaining -= 1;
                        if *remaining > 0 {
                            break;
                        }
                    }
                    Kind::Dict { dict, key } => match (done.take(), key.take()) {
                        // CPython ends a dict at a NULL in key or value position (dropping
                        // a key without value).
                        (None, _) => {}
                        (Some((k, km)), None) => {
                            *key = Some((k, km, done_at));
                            break;
                        }
                        (Some((v, vm)), Some((k, km, key_at))) => {
                            if !km.hashable {
                                return Err(err(format_args!(
                                    "unhashable type {} as a dict key at byte {key_at}",
                                    py_type_name(&k)
                                )));
                            }
                            top.meta.absorb(km);
                            top.meta.absorb(vm);
                            match km.hash {
                                Some(h) => dict.insert_hashed(k, h, v),
                                None => dict.insert(k, v),
                            }
                            break;
                        }
                    },
                }
                // The top container is complete.
                let Some(frame) = stack.pop() else { break };
                done_at = frame.at;
                done = Some(self.finish(frame)?);
            }
        }
    }

    /// Build a completed container's value and fill its reference slot.
    fn finish(&mut self, frame: Frame) -> Result<(Value, Meta)> {
        let mut m = frame.meta;
        let v = match frame.kind {
            Kind::Seq {
                items, list: true, ..
            } => Value::List(items),
            Kind::Seq {
                items,
                list: false,
                hash,
                ..
            } => {
                m.hash = hash.filter(|_| m.hashable).map(|t| t.finish());
                Value::Tuple(items)
            }
            Kind::Set { mut set, .. } => {
                // Small sets are cheaper to hash again than to hash now (most are never
                // hashed at all); a set already hashing its elements has its own for free.
                let carry = m.cost > CARRY_HASH_FROM || set.is_hashing();
                m.hash = (m.hashable && carry).then(|| set.set_hash());
                Value::Set(set.finish())
            }
            Kind::Dict { dict, .. } => {
                m.hashable = false;
                finish_dict(dict.finish(), "marshal")?
            }
        };
        self.fill_slot(frame.slot, &v, m, frame.at)?;
        Ok((v, m))
    }

    fn fill_slot(&mut self, slot: Option<usize>, v: &Value, m: Meta, at: usize) -> Result<()> {
        if let Some(i) = slot {
            self.refs[i] = if self.targets.get(i).copied().unwrap_or(false) {
                self.charge(m.cost, at)?;
                Slot::Done(v.clone(), m)
            } else {
                Slot::Unused
            };
        }
        Ok(())
    }

    /// Read one type code and what follows it, up to the items of a container.
    /// `depth`: the number of open containers.
    fn start(&mut self, depth: usize) -> Result<Start> {
        let at = self.pos;
        if self.remaining() == 0 {
            return Err(err(format_args!(
                "EOF read where object expected (byte {at})"
            )));
        }
        let code = self.byte()?;
        let flag = code & FLAG_REF != 0;
        let ty = code & !FLAG_REF;
        // Singletons are never entered into the reference table.
        let singleton = match ty {
            b'N' => Some(Value::None),
            b'T' => Some(Value::Bool(true)),
            b'F' => Some(Value::Bool(false)),
            _ => None,
        };
        if let Some(v) = singleton {
            self.charge(NODE_COST, at)?;
            return Ok(Start::Val(v, Meta::scalar(0)));
        }
        match ty {
            b'0' => return Ok(Start::Null),
            b'.' => {
                return Err(err(format_args!(
                    "Ellipsis (at byte {at}) is not supported"
                )))
            }
            b'S' => {
                return Err(err(format_args!(
                    "the StopIteration class (at byte {at}) is not supported"
                )))
            }
            b'c' => {
                return Err(err(format_args!(
                    "code objects (at byte {at}) are not supported"
                )))
            }
            b'r' => return self.reference(depth, at),
            b'(' | b')' | b'[' | b'{' | b'<' | b'>' => {
                if depth + 1 > MAX_DEPTH {
                    return Err(err(format_args!(
                        "nesting deeper than {MAX_DEPTH} levels at byte {at}"
                    )));
                }
            }
            b'i' | b'I' | b'l' | b'g' | b'f' | b'y' | b'x' | b's' | b'u' | b't' | b'a' | b'A'
            | b'z' | b'Z' => {}
            _ => {
                return Err(err(format_args!(
                    "bad marshal data (unknown type code 0x{code:02x} at byte {at})"
                )))
            }
        }
        // CPython numbers references in the order flagged objects *start*.
        let slot = if flag {
            self.refs.push(Slot::Pending);
            Some(self.refs.len() - 1)
        } else {
            None
        };
        let container = |kind, hashable| Frame {
            kind,
            slot,
            meta: Meta {
                height: 1,
                cost: NODE_COST,
                hashable,
                hash: None,
            },
            at,
        };
        // What the value itself costs, charged before it is made (a long by its digit
        // count: 15 bits of each 2-byte digit).
        let cost = match ty {
            b'l' | b's' | b'u' | b't' | b'a' | b'A' | b'z' | b'Z' => {
                NODE_COST + self.payload_len(ty).unwrap_or(0)
            }
            _ => NODE_COST,
        };
        self.charge(cost, at)?;
        let (v, m) = match ty {
            b'(' | b')' | b'[' => {
                let n = if ty == b')' {
                    self.byte()? as usize
                } else {
                    self.size(if ty == b'[' { "list" } else { "tuple" })?
                };
                let items = Vec::with_capacity(self.cap(n));
                let list = ty == b'[';
                return Ok(Start::Open(container(
                    Kind::Seq {
                        items,
                        remaining: n,
                        list,
                        hash: None,
                    },
                    !list,
                )));
            }
            b'<' | b'>' => {
                let frozen = ty == b'>';
                let n = self.size(if frozen { "frozenset" } else { "set" })?;
                let kind = Kind::Set {
                    set: SetBuilder::with_hasher(self.kh.clone()),
                    remaining: n,
                };
                return Ok(Start::Open(container(kind, frozen)));
            }
            b'{' => {
                let kind = Kind::Dict {
                    dict: DictBuilder::with_hasher(self.kh.clone()),
                    key: None,
                };
                return Ok(Start::Open(container(kind, false)));
            }
            b'i' => (Value::Int(self.i32()? as i64), Meta::scalar(0)),
            b'I' => {
                let b = self.bytes(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (Value::Int(i64::from_le_bytes(a)), Meta::scalar(0))
            }
            b'l' => {
                let v = self.long(at)?;
                let bytes = match &v {
                    Value::BigInt(b) => b.bits() as usize / 8,
                    _ => 0,
                };
                (v, Meta::scalar(bytes))
            }
            b'g' => (Value::Float(self.binary_float()?), Meta::scalar(0)),
            b'f' => (Value::Float(self.text_float()?), Meta::scalar(0)),
            b'y' => {
                let re = self.binary_float()?;
                let im = self.binary_float()?;
                (Value::Complex { re, im }, Meta::scalar(0))
            }
            b'x' => {
                let re = self.text_float()?;
                let im = self.text_float()?;
                (Value::Complex { re, im }, Meta::scalar(0))
            }
            b's' => {
                let n = self.size("bytes object")?;
                let b = self.bytes(n)?.to_vec();
                (Value::Bytes(b), Meta::scalar(n))
            }
            b'u' | b't' => {
                let n = self.size("string")?;
                let start = self.pos;
                let b = self.bytes(n)?;
                (Value::Str(utf8_surrogatepass(b, start)?), Meta::scalar(n))
            }
            b'a' | b'A' => {
                let n = self.size("string")?;
                let s = latin1(self.bytes(n)?);
                let len = s.len();
                (Value::Str(s), Meta::scalar(len))
            }
            // b'z' | b'Z'
            _ => {
                let n = self.byte()? as usize;
                let s = latin1(self.bytes(n)?);
                let len = s.len();
                (Value::Str(s), Meta::scalar(len))
            }
        };
        self.fill_slot(slot, &v, m, at)?;
        Ok(Start::Val(v, m))
    }

    fn reference(&mut self, depth: usize, at: usize) -> Result<Start> {
        let n = self.i32()?;
        let slot = usize::try_from(n).ok().and_then(|i| self.refs.get(i));
        match slot {
            None | Some(Slot::Unused) => Err(err(format_args!(
                "bad marshal data (invalid reference {n} at byte {at}, {} known)",
                self.refs.len()
            ))),
            Some(Slot::Pending) => Err(err(format_args!(
                "reference {n} at byte {at} points into an enclosing container (recursive structures are not supported)"
            ))),
            Some(Slot::Done(_, m)) => {
                let m = *m;
                if depth + m.height > MAX_DEPTH {
                    return Err(err(format_args!(
                        "reference at byte {at} nests deeper than {MAX_DEPTH} levels"
                    )));
                }
                // Charge before copying, so a reference bomb never allocates.
                self.charge(m.cost, at)?;
                match &self.refs[n as usize] {
                    Slot::Done(v, _) => Ok(Start::Val(v.clone(), m)),
                    _ => Err(err("internal reference table state")),
                }
            }
        }
    }

    #[inline]
    fn charge(&mut self, cost: usize, at: usize) -> Result<()> {
        match self.budget.charge(cost, "marshal") {
            Ok(()) => Ok(()),
            Err(e) => Err(Error::serialization(format!(
                "{} (at byte {at})",
                e.message
            ))),
        }
    }

    /// For the string and long codes (at the byte after the code): the heap bytes the
    /// value will take, read ahead without moving; None if the data is too short (the
    /// read that follows reports it).
    fn payload_len(&self, ty: u8) -> Option<usize> {
        let rest = &self.data[self.pos..];
        let (n, body) = match ty {
            b'z' | b'Z' => (*rest.first()? as usize, rest.get(1..)?),
            _ => {
                let n = i32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
                // a long's sign is its count's; other sizes must not be negative
                let n = if ty == b'l' {
                    n.unsigned_abs()
                } else {
                    u32::try_from(n).ok()?
                };
                (n as usize, &rest[4..])
            }
        };
        let raw = body.get(..if ty == b'l' { n.checked_mul(2)? } else { n })?;
        Some(match ty {
            // latin-1 above 0x7f takes two bytes in UTF-8
            b'a' | b'A' | b'z' | b'Z' => n + raw.iter().filter(|&&c| c >= 0x80).count(),
            _ => raw.len(),
        })
    }

    fn binary_float(&mut self) -> Result<f64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    /// Old text float: 1-byte length, then the text `float()` would parse.
    fn text_float(&mut self) -> Result<f64> {
        let n = self.byte()? as usize;
        let at = self.pos;
        let b = self.bytes(n)?;
        std::str::from_utf8(b)
            .ok()
            .and_then(parse_py_float)
            .ok_or_else(|| err(format_args!("bad float text at byte {at}")))
    }

    fn long(&mut self, at: usize) -> Result<Value> {
        let n = self.i32()?;
        if n == 0 {
            return Ok(Value::Int(0));
        }
        let count = n.unsigned_abs() as usize;
        if count.saturating_mul(2) > self.remaining() {
            return Err(self.short());
        }
        let mut mag = BigInt::zero();
        let raw = self.bytes(count * 2)?;
        let mut digits = Vec::with_capacity(count);
        for pair in raw.chunks_exact(2) {
            let d = u16::from_le_bytes([pair[0], pair[1]]);
            if d >= 0x8000 {
                return Err(err(format_args!(
                    "bad marshal data (digit out of range in long at byte {at})"
                )));
            }
            digits.push(d);
        }
        if digits.last() == Some(&0) {
            return Err(err(format_args!(
                "bad marshal data (unnormalized long data at byte {at})"
            )));
        }
        // Pack 15-bit digits into 32-bit words, least significant first.
        let mut words: Vec<u32> = Vec::with_capacity(count * 15 / 32 + 1);
        let mut acc: u64 = 0;
        let mut bits = 0;
        for d in digits {
            acc |= (d as u64) << bits;
            bits += 15;
            if bits >= 32 {
                words.push(acc as u32);
                acc >>= 32;
                bits -= 32;
            }
        }
        if bits > 0 {
            words.push(acc as u32);
        }
        mag += BigInt::from_slice(Sign::Plus, &words);
        if n < 0 {
            mag = -mag;
        }
        Ok(match mag.to_i64() {
            Some(i) => Value::Int(i),
            None => Value::BigInt(mag),
        })
    }
}

/// A first pass over the data that finds which reference slots some `r` refers to, so the
/// decoder keeps copies of those only (Python 3.11 flags most objects, few are referenced).
/// Iterative, allocation bounded by the input; it stops quietly at anything malformed and
/// leaves the error to the decoding pass.
fn scan_ref_targets(data: &[u8]) -> Vec<bool> {
    enum Frame {
        Seq(usize),
        Dict,
    }
    let mut targets: Vec<bool> = Vec::new();
    let mut nrefs = 0usize;
    let mut stack: Vec<Frame> = Vec::new();
    let mut pos = 0usize;
    let rd_u32 = |pos: usize| -> Option<u32> {
        let b = data.get(pos..pos + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    loop {
        // Close finished sequences; stop when the top-level object is complete.
        while let Some(Frame::Seq(0)) = stack.last() {
            stack.pop();
        }
        if pos > 0 && stack.is_empty() {
            break;
        }
        if let Some(Frame::Seq(n)) = stack.last_mut() {
            *n -= 1;
        }
        let Some(&code) = data.get(pos) else { break };
        pos += 1;
        let ty = code & !FLAG_REF;
        if code & FLAG_REF != 0 && !matches!(ty, b'0' | b'N' | b'T' | b'F' | b'.' | b'S' | b'r') {
            nrefs += 1;
        }
        let skip = match ty {
            b'0' => {
                if let Some(Frame::Dict) = stack.last() {
                    stack.pop();
                    0
                } else {
                    break;
                }
            }
            b'N' | b'T' | b'F' => 0,
            b'i' => 4,
            b'I' | b'g' => 8,
            b'y' => 16,
            b'r' => {
                let Some(i) = rd_u32(pos) else { break };
                let i = i as usize;
                if i < nrefs {
                    if targets.len() <= i {
                        targets.resize(i + 1, false);
                    }
                    targets[i] = true;
                }
                4
            }
            b'l' => {
                let Some(n) = rd_u32(pos) else { break };
                4 + (n as i32).unsigned_abs() as usize * 2
            }
            b'f' => match data.get(pos) {
                Some(&n) => 1 + n as usize,
                None => break,
            },
            b'x' => {
                let Some(&n1) = data.get(pos) else { break };
                let Some(&n2) = data.get(pos + 1 + n1 as usize) else {
                    break;
                };
                2 + n1 as usize + n2 as usize
            }
            b's' | b'u' | b't' | b'a' | b'A' => match rd_u32(pos) {
                Some(n) => 4 + n as usize,
                None => break,
            },
            b'z' | b'Z' => match data.get(pos) {
                Some(&n) => 1 + n as usize,
                None => break,
            },
            b')' => match data.get(pos) {
                Some(&n) => {
                    stack.push(Frame::Seq(n as usize));
                    1
                }
                None => break,
            },
            b'(' | b'[' | b'<' | b'>' => match rd_u32(pos) {
                Some(n) if n <= i32::MAX as u32 => {
                    stack.push(Frame::Seq(n as usize));
                    4
                }
                _ => break,
            },
            b'{' => {
                stack.push(Frame::Dict);
                0
            }
            _ => break,
        };
        pos = match pos.checked_add(skip) {
            Some(p) if p <= data.len() => p,
            _ => break,
        };
        if stack.is_empty() || stack.len() > MAX_DEPTH + 1 {
            break;
        }
    }
    targets
}

impl Meta {
    fn absorb(&mut self, child: Meta) {
        self.height = self.height.max(child.height + 1);
        self.cost = self.cost.saturating_add(child.cost);
        self.hashable &= child.hashable;
        if !self.hashable {
            self.hash = None;
        }
    }
}

fn latin1(b: &[u8]) -> String {
    // Python writes every ASCII str with the ASCII codes: one validated copy, not a char
    // at a time.
    if b.is_ascii() {
        return String::from_utf8(b.to_vec()).expect("ASCII is UTF-8");
    }
    let mut s = String::with_capacity(b.len() + b.len() / 2);
    s.extend(b.iter().map(|&c| c as char));
    s
}

/// UTF-8 with Python's `surrogatepass`: encoded surrogates (ED A0..BF xx) are accepted, and
/// since a Rust `String` cannot hold them, each becomes U+FFFD.
fn utf8_surrogatepass(b: &[u8], base: usize) -> Result<String> {
    if let Ok(s) = std::str::from_utf8(b) {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(b.len());
    let mut rest = b;
    let mut off = base;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return Ok(out);
            }
            Err(e) => {
                let good = e.valid_up_to();
                // SAFETY-free: the prefix was just validated.
                out.push_str(std::str::from_utf8(&rest[..good]).unwrap_or_default());
                let bad = &rest[good..];
                if bad.len() >= 3
                    && bad[0] == 0xED
                    && (0xA0..=0xBF).contains(&bad[1])
                    && (0x80..=0xBF).contains(&bad[2])
                {
                    out.push('\u{FFFD}');
                    rest = &bad[3..];
                    off += good + 3;
                } else {
                    return Err(err(format_args!(
                        "invalid UTF-8 in string at byte {}",
                        off + good
                    )));
                }
            }
        }
    }
}

/// Python's `float(text)` for the forms marshal's old `f` code carries.
fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.to_ascii_lowercase();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let v = match body {
        "nan" => f64::NAN,
        "inf" | "infinity" => f64::INFINITY,
        _ => {
            let ok = !body.is_empty()
                && body
                    .bytes()
                    .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'));
            if !ok {
                return None;
            }
            body.parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::budget::{value_cost, EXPANSION_FACTOR, EXPANSION_FLOOR};

    fn int(i: i32) -> [u8; 5] {
        let mut b = [b'i'; 5];
        b[1..].copy_from_slice(&i.to_le_bytes());
        b
    }

    fn header(code: u8, n: usize) -> Vec<u8> {
        let mut b = vec![code];
        b.extend_from_slice(&(n as u32).to_le_bytes());
        b
    }

    /// A flagged 2 KiB bytes object, then a list of `refs` references to it.
    fn fan_out(refs: usize) -> Vec<u8> {
        let mut data = header(b'[', refs + 1);
        data.extend(header(b's' | FLAG_REF, 2048));
        data.extend(std::iter::repeat_n(b'x', 2048));
        for _ in 0..refs {
            data.extend(header(b'r', 0));
        }
        data
    }

    fn bound(input: &[u8]) -> usize {
        (input.len() * EXPANSION_FACTOR).max(EXPANSION_FLOOR)
    }

    /// 310 KB asking for 100 MB of copies: the old fixed 256 MiB allowance let it through
    /// (a small message reached 275 MB RSS); the message's own budget (32x) refuses it,
    /// and what it accepts stays within that budget by the decoder's own accounting.
    #[test]
    fn reference_copies_are_bounded_by_the_message_size() {
        let bomb = fan_out(50_000);
        let e = decode(&bomb).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Serialization);
        assert!(e.message.contains("expand beyond"), "{}", e.message);

        for refs in [0, 10, 400] {
            let data = fan_out(refs);
            let (v, charged) = decode_with_budget(&data).unwrap();
            assert_eq!(v.as_seq().unwrap().len(), refs + 1);
            assert!(charged <= bound(&data), "{refs}: {charged}");
            assert!(value_cost(&v, usize::MAX) <= charged, "{refs}");
        }
    }

    /// The values read directly count too: copies and direct values may not each take the
    /// whole allowance.
    #[test]
    fn direct_values_and_copies_share_one_budget() {
        let nones = 200_000;
        let refs = 3_000;
        let mut data = header(b'[', 1 + refs + nones);
        data.extend(header(b's' | FLAG_REF, 2048));
        data.extend(std::iter::repeat_n(b'x', 2048));
        for _ in 0..refs {
            data.extend(header(b'r', 0));
        }
        data.extend(std::iter::repeat_n(b'N', nones));
        // the copies alone (6.2 MB) and the Nones alone (6.4 MB) each fit in 32x 217 KB
        let e = decode(&data).unwrap_err();
        assert!(e.message.contains("expand beyond"), "{}", e.message);
    }

    /// `frozenset` nested 950 deep (each level 17 ints and the next level), the innermost
    /// holding 1M ints: each level used to hash everything below it again when inserted
    /// (depth x size); the hashes are now carried up, so each element is hashed once.
    #[test]
    fn nested_frozensets_are_hashed_once() {
        let depth = 950;
        let leaf = 1_000_000;
        let mut data = Vec::new();
        for level in 0..depth {
            data.extend(header(b'>', 18));
            for j in 0..17 {
                data.extend(int(level * 100 + j));
            }
        }
        data.extend(header(b'>', leaf));
        for i in 0..leaf {
            data.extend(int(i as i32));
        }
        let (v, charged) = decode_with_budget(&data).unwrap();
        assert!(charged <= bound(&data));
        let mut level = &v;
        for _ in 0..depth {
            let items = level.as_seq().unwrap();
            assert_eq!(items.len(), 18);
            level = &items[17];
        }
        assert_eq!(level.as_seq().unwrap().len(), leaf);
    }

    /// Two equal frozensets of 200k ints, in opposite orders, as elements of one set (and a
    /// tuple holding each as dict keys): `Value`'s set equality scans (4 * 10^10 steps).
    #[test]
    fn equal_big_frozensets_deduplicate_in_linear_time() {
        let n = 200_000;
        let frozen = |rev: bool| {
            let mut b = header(b'>', n);
            let mut ints: Vec<i32> = (0..n as i32).collect();
            if rev {
                ints.reverse();
            }
            for i in ints {
                b.extend(int(i));
            }
            b
        };
        let mut set = header(b'<', 2);
        set.extend(frozen(false));
        set.extend(frozen(true));
        let Value::Set(items) = decode(&set).unwrap() else {
            panic!("not a set")
        };
        assert_eq!(items.len(), 1);

        let mut dict = vec![b'{'];
        for (rev, val) in [(false, 1), (true, 2)] {
            dict.extend([b')', 2]);
            dict.extend(int(7));
            dict.extend(frozen(rev));
            dict.extend(int(val));
        }
        dict.push(b'0');
        let Value::Dict(items) = decode(&dict).unwrap() else {
            panic!("not a dict")
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].1, Value::Int(2));
    }

    /// Sizes are the sender's claims: a long's digit count and a string's length are
    /// checked against the input before anything is allocated; a 1,000,000-digit long
    /// (15 million bits) converts from its digits in one pass.
    #[test]
    fn longs_and_lengths() {
        for code in [b'l', b's', b'u', b'a', b'[', b'(', b'<'] {
            let mut data = header(code, i32::MAX as usize);
            data.extend_from_slice(b"\x01\x00");
            let e = decode(&data).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Serialization);
        }
        let digits = 1_000_000;
        let mut data = header(b'l', digits);
        for _ in 0..digits {
            data.extend_from_slice(&0x7fffu16.to_le_bytes());
        }
        let (v, charged) = decode_with_budget(&data).unwrap();
        let Value::BigInt(b) = &v else { panic!() };
        assert_eq!(b.bits(), 15 * digits as u64);
        assert_eq!(*b, (BigInt::from(1) << (15 * digits)) - 1);
        assert!(charged <= bound(&data));
    }
}

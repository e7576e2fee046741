//! C ABI: values.
//!
//! `pyro_value` in C is `crate::value::Value` itself (opaque; cbindgen renames it), so a
//! borrowed pointer into a container is simply a pointer to the element. Strings handed
//! to C must be NUL-terminated: every value that becomes visible to C passes through
//! [`terminate_strings`], which stores a NUL just past each string's bytes (in its spare
//! capacity), so `pyro_value_as_str` can return the bytes in place.

use crate::error::{repr_preview, Error};
use crate::ffi::boundary::{
    a, arg, arg_mut, checked, checked_out, guard, null, type_name, wrong_kind,
};
use crate::ffi::error::pyro_error;
use crate::serial::{serpent, MAX_DEPTH};
use crate::value::{Object, Value, ValueKind};
use num_bigint::BigInt;
use std::ffi::{c_char, CStr, CString};

/// The deepest a value may nest: a scalar is 0 deep, a list, tuple, set or dict one level
/// deeper than its deepest item, an object one level deeper than its state (so an object
/// with a dict state of scalars is 2 deep). The functions that put one value inside
/// another refuse an item that would end up deeper (pyro_value_append,
/// pyro_value_dict_set, pyro_value_object), pyro_value_from_literal refuses deeper text,
/// and the decoders refuse deeper replies. Copying, printing and encoding recurse once per
/// level, so the limit keeps the stack they need to a few hundred KiB (optimised build);
/// pyro_value_free and pyro_value_depth do not recurse. A call carries its arguments two
/// levels down (in the call tuple's argument list or keyword dict), so an argument may be
/// at most PYRO_VALUE_MAX_DEPTH - 2 deep; deeper ones fail with PYRO_ERR_SERIALIZATION.
pub const PYRO_VALUE_MAX_DEPTH: usize = 1000;

// One limit for what the host builds and what the decoders accept, so every value the
// host can hold is one the encoders can walk.
const _: () = assert!(PYRO_VALUE_MAX_DEPTH == MAX_DEPTH);

/// Value kinds.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pyro_value_kind {
    PYRO_VALUE_NONE = 0,
    PYRO_VALUE_BOOL = 1,
    /// An int that fits in int64_t.
    PYRO_VALUE_INT = 2,
    /// An int outside int64_t (read it with pyro_value_bigint_to_str).
    PYRO_VALUE_BIGINT = 3,
    PYRO_VALUE_FLOAT = 4,
    PYRO_VALUE_COMPLEX = 5,
    PYRO_VALUE_STR = 6,
    PYRO_VALUE_BYTES = 7,
    PYRO_VALUE_LIST = 8,
    PYRO_VALUE_TUPLE = 9,
    PYRO_VALUE_SET = 10,
    PYRO_VALUE_DICT = 11,
    /// An instance of a class with no plain-value mapping (class name + state).
    PYRO_VALUE_OBJECT = 12,
}

impl From<ValueKind> for pyro_value_kind {
    fn from(k: ValueKind) -> Self {
        use pyro_value_kind::*;
        match k {
            ValueKind::None => PYRO_VALUE_NONE,
            ValueKind::Bool => PYRO_VALUE_BOOL,
            ValueKind::Int => PYRO_VALUE_INT,
            ValueKind::BigInt => PYRO_VALUE_BIGINT,
            ValueKind::Float => PYRO_VALUE_FLOAT,
            ValueKind::Complex => PYRO_VALUE_COMPLEX,
            ValueKind::Str => PYRO_VALUE_STR,
            ValueKind::Bytes => PYRO_VALUE_BYTES,
            ValueKind::List => PYRO_VALUE_LIST,
            ValueKind::Tuple => PYRO_VALUE_TUPLE,
            ValueKind::Set => PYRO_VALUE_SET,
            ValueKind::Dict => PYRO_VALUE_DICT,
            ValueKind::Object => PYRO_VALUE_OBJECT,
        }
    }
}

fn terminate(s: &mut String) {
    // SAFETY: we only write into the spare capacity and never change the length, so the
    // String stays valid UTF-8; the NUL sits just past its bytes until it is mutated.
    unsafe {
        let v = s.as_mut_vec();
        v.reserve_exact(1);
        v.spare_capacity_mut()[0].write(0);
    }
}

/// Make every string inside `v` NUL-terminated in place (see the module comment).
pub(crate) fn terminate_strings(v: &mut Value) {
    let mut stack: Vec<&mut Value> = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Str(s) => terminate(s),
            Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
                stack.extend(items.iter_mut())
            }
            Value::Dict(items) => {
                for (k, val) in items.iter_mut() {
                    stack.push(k);
                    stack.push(val);
                }
            }
            Value::Object(o) => {
                terminate(&mut o.class);
                stack.push(&mut o.state);
            }
            _ => {}
        }
    }
}

pub(crate) fn boxed(mut v: Value) -> *mut Value {
    terminate_strings(&mut v);
    Box::into_raw(Box::new(v))
}

/// Take ownership of a consumed value argument (NULL → None).
pub(crate) fn take(v: *mut Value) -> Option<Value> {
    if v.is_null() {
        None
    } else {
        // SAFETY: the C caller hands over a value from a pyro_value constructor.
        Some(*unsafe { Box::from_raw(v) })
    }
}

fn value<'a>(v: *const Value) -> Result<&'a Value, Error> {
    arg(v, "v")
}

/// Every string a host can see was terminated (see the module comment); one that is not
/// is this library's bug.
fn unterminated() -> Error {
    Error::new(
        crate::error::ErrorKind::Internal,
        "internal error in pyro_async (please report it): a string was not NUL-terminated",
    )
}

/// Parse Python literal syntax, e.g. `"(1, 'a', {'k': 2})"`, `"b'\\x00'"`, `"{1, 2}"`,
/// `"set()"`, `"(1+2j)"`. Returns NULL on bad text (including text nesting deeper than
/// PYRO_VALUE_MAX_DEPTH) and, if `error` is not NULL, stores a PYRO_ERR_SERIALIZATION
/// (or INVALID_ARGUMENT for NULL/non-UTF-8 text) error there (caller owns it; free with
/// `pyro_error_free`). Caller owns the value; free with
/// `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_from_literal(
    text: *const c_char,
    error: *mut *mut pyro_error,
) -> *mut Value {
    checked_out(std::ptr::null_mut(), error, || {
        let text = crate::ffi::ctx::cstr(text, "text")?;
        let v = serpent::parse_literal(text)?;
        // The parser counts the levels it enters, which lets empty containers reach one
        // level past the limit; the host only ever holds values within it.
        if v.depth_capped(MAX_DEPTH) > MAX_DEPTH {
            v.free_deep();
            return Err(Error::serialization(format!(
                "literal nests deeper than PYRO_VALUE_MAX_DEPTH ({MAX_DEPTH})"
            )));
        }
        Ok(boxed(v))
    })
}

/// Python's `repr()` of the value, as UTF-8. Caller owns the string; free with
/// `pyro_string_free`. NULL for NULL.
#[no_mangle]
pub extern "C" fn pyro_value_repr(v: *const Value) -> *mut c_char {
    checked(std::ptr::null_mut(), || {
        // repr escapes NUL, so the text has none.
        let text = CString::new(value(v)?.repr()).expect("repr has no NUL");
        Ok(text.into_raw())
    })
}

/// Python's `str()` of the value, as UTF-8. A str gives its own text. A Pyro4 URI or
/// proxy value (what `pyro_value_to_proxy` takes) gives its URI as Pyro4 writes it:
/// `PYRO:obj@host:port`, `PYRONAME:name@host:port`, `PYROMETA:a,b`, ... (for a proxy,
/// str() of its URI: Python's str() of the proxy itself is a `<Pyro4.core.Proxy at 0x...>`
/// description). Anything else gives its repr(), as in Python, whose str() of a
/// container shows its items' repr() (an object of another class too: its own
/// `__str__` is not known here). Caller owns the string; free with `pyro_string_free`.
/// NULL for NULL, and when the text would hold a NUL character, which C text cannot (for
/// a str, `pyro_value_as_str` gives its bytes and length).
#[no_mangle]
pub extern "C" fn pyro_value_to_str(v: *const Value) -> *mut c_char {
    checked(std::ptr::null_mut(), || {
        let text = match value(v)? {
            Value::Str(s) => s.clone(),
            v => crate::client::target::uri_text_from_value(v).unwrap_or_else(|| v.repr()),
        };
        CString::new(text)
            .map(CString::into_raw)
            .map_err(|_| Error::invalid("the text holds a NUL character"))
    })
}

/// Free a string returned by this library (`pyro_value_repr`, `pyro_value_to_str`,
/// `pyro_value_bigint_to_str`, `pyro_proxy_uri`, `pyro_proxy_resolved_uri`).
/// NULL is ignored.
#[no_mangle]
pub extern "C" fn pyro_string_free(s: *mut c_char) {
    guard((), || {
        if !s.is_null() {
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// None. Caller owns the result; free with `pyro_value_free` (or pass it where consumed).
#[no_mangle]
pub extern "C" fn pyro_value_none() -> *mut Value {
    checked(std::ptr::null_mut(), || Ok(boxed(Value::None)))
}

/// A bool. Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_bool(b: bool) -> *mut Value {
    checked(std::ptr::null_mut(), || Ok(boxed(Value::Bool(b))))
}

/// An int. Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_int(i: i64) -> *mut Value {
    checked(std::ptr::null_mut(), || Ok(boxed(Value::Int(i))))
}

/// An int of any size from decimal text (optional sign). NULL on bad text.
/// Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_bigint_from_str(decimal: *const c_char) -> *mut Value {
    checked(std::ptr::null_mut(), || {
        if decimal.is_null() {
            return Err(null("decimal"));
        }
        let bytes = unsafe { CStr::from_ptr(decimal) }.to_bytes();
        if bytes.len() > 4300 {
            return Err(Error::invalid(format!(
                "decimal has {} characters, more than the 4300 digits Python reads",
                bytes.len()
            )));
        }
        let b = BigInt::parse_bytes(bytes, 10).ok_or_else(|| {
            Error::invalid(format!(
                "decimal is not an integer in decimal: {}",
                repr_preview(&Value::str(String::from_utf8_lossy(bytes)))
            ))
        })?;
        Ok(boxed(Value::from_bigint(b)))
    })
}

/// A float. Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_float(f: f64) -> *mut Value {
    checked(std::ptr::null_mut(), || Ok(boxed(Value::Float(f))))
}

/// A complex number. Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_complex(re: f64, im: f64) -> *mut Value {
    checked(std::ptr::null_mut(), || {
        Ok(boxed(Value::Complex { re, im }))
    })
}

/// A str from NUL-terminated UTF-8 (copied). NULL for NULL or invalid UTF-8.
/// Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_str(s: *const c_char) -> *mut Value {
    checked(std::ptr::null_mut(), || {
        if s.is_null() {
            return Err(null("s"));
        }
        Ok(boxed(Value::str(utf8(
            unsafe { CStr::from_ptr(s) }.to_bytes(),
            "s",
        )?)))
    })
}

/// A str from `len` bytes of UTF-8 (copied; may contain NUL). NULL for invalid UTF-8 or
/// a NULL pointer with len > 0. Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_str_len(s: *const c_char, len: usize) -> *mut Value {
    checked(std::ptr::null_mut(), || {
        let bytes = slice(s as *const u8, len, "s")?;
        Ok(boxed(Value::str(utf8(bytes, "s")?)))
    })
}

fn utf8<'a>(bytes: &'a [u8], name: &str) -> Result<&'a str, Error> {
    std::str::from_utf8(bytes).map_err(|e| {
        Error::invalid(format!(
            "{name} is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

fn slice<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::invalid(format!("{name} is NULL and len is {len}")));
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!(
            "len is {len}, larger than any object"
        )));
    }
    // SAFETY: non-NULL and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A bytes value (copied). NULL if `data` is NULL with len > 0.
/// Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_bytes(data: *const u8, len: usize) -> *mut Value {
    checked(std::ptr::null_mut(), || {
        Ok(boxed(Value::Bytes(slice(data, len, "data")?.to_vec())))
    })
}

/// An empty list. Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_list() -> *mut Value {
    checked(std::ptr::null_mut(), || Ok(boxed(Value::List(Vec::new()))))
}

/// An empty tuple. Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_tuple() -> *mut Value {
    checked(std::ptr::null_mut(), || Ok(boxed(Value::Tuple(Vec::new()))))
}

/// An empty set. Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_set() -> *mut Value {
    checked(std::ptr::null_mut(), || Ok(boxed(Value::Set(Vec::new()))))
}

/// An empty dict. Caller owns the result; free with `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_dict() -> *mut Value {
    checked(std::ptr::null_mut(), || Ok(boxed(Value::Dict(Vec::new()))))
}

/// Whether `item` can go one level down into a container without the container nesting
/// deeper than the limit. The container itself is within the limit already (every value
/// the host holds is), so only the item is walked: appending costs O(size of the item),
/// never O(size of the container).
fn fits_inside(item: &Value) -> bool {
    item.depth_capped(MAX_DEPTH - 1) < MAX_DEPTH
}

/// How deeply containers nest in `v`: 0 for a scalar (and for NULL, with
/// `pyro_last_error` set), 1 + the deepest item for a list, tuple, set or dict, 1 + the
/// state's depth for an object. An item needs a depth below PYRO_VALUE_MAX_DEPTH to go
/// into a container. Costs time proportional to the size of `v`; does not recurse.
#[no_mangle]
pub extern "C" fn pyro_value_depth(v: *const Value) -> usize {
    checked(0, || Ok(value(v)?.depth()))
}

/// "NAME is PYRO_VALUE_MAX_DEPTH or more deep".
fn too_deep(name: &str) -> Error {
    Error::invalid(format!(
        "{name} nests {MAX_DEPTH} or more levels deep (PYRO_VALUE_MAX_DEPTH): it cannot go \
         into a container"
    ))
}

fn unhashable(name: &str, v: &Value) -> Error {
    Error::invalid(format!(
        "{name} is {}, which is unhashable",
        a(type_name(v))
    ))
}

fn hashable(v: &Value) -> bool {
    match v {
        Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::Object(_) => false,
        Value::Tuple(items) => items.iter().all(hashable),
        _ => true,
    }
}

/// Append `item` to a list or tuple, or add it to a set (a set ignores an equal
/// element and refuses unhashable ones). `item` is consumed in every case, also when
/// false is returned (NULL or non-container `seq`, NULL item, unhashable set element,
/// or an item PYRO_VALUE_MAX_DEPTH or more deep, see `pyro_value_depth`); `seq` is
/// unchanged when false is returned. The depth check walks `item` (time proportional to
/// its size), never `seq`; adding to a set also compares `item` with each element.
#[no_mangle]
pub extern "C" fn pyro_value_append(seq: *mut Value, item: *mut Value) -> bool {
    checked(false, || {
        let item = take(item);
        let seq = arg_mut(seq, "seq")?;
        let item = item.ok_or_else(|| null("item"))?;
        if !fits_inside(&item) {
            item.free_deep();
            return Err(too_deep("item"));
        }
        match seq {
            Value::List(v) | Value::Tuple(v) => v.push(item),
            Value::Set(v) => {
                if !hashable(&item) {
                    return Err(unhashable("item", &item));
                }
                if !v.contains(&item) {
                    v.push(item);
                }
            }
            other => return Err(wrong_kind("seq", other, "a list, tuple or set")),
        }
        Ok(true)
    })
}

/// `dict[key] = val` (an existing equal key keeps its position, as in Python). `key` and
/// `val` are consumed in every case, also when false is returned (NULL or non-dict
/// `dict`, NULL key/val, unhashable key: list, dict, set or object, or a key or val
/// PYRO_VALUE_MAX_DEPTH or more deep, see `pyro_value_depth`); `dict` is unchanged when
/// false is returned. The depth check walks `key` and `val`, never `dict`; finding an
/// equal key compares `key` with each key of `dict`.
#[no_mangle]
pub extern "C" fn pyro_value_dict_set(dict: *mut Value, key: *mut Value, val: *mut Value) -> bool {
    checked(false, || {
        let (key, val) = (take(key), take(val));
        let dict = arg_mut(dict, "dict")?;
        let (key, val) = (
            key.ok_or_else(|| null("key"))?,
            val.ok_or_else(|| null("val"))?,
        );
        let refusal = if !matches!(dict, Value::Dict(_)) {
            Some(wrong_kind("dict", dict, "a dict"))
        } else if !hashable(&key) {
            Some(unhashable("key", &key))
        } else if !fits_inside(&key) {
            Some(too_deep("key"))
        } else if !fits_inside(&val) {
            Some(too_deep("val"))
        } else {
            None
        };
        if let Some(e) = refusal {
            key.free_deep();
            val.free_deep();
            return Err(e);
        }
        dict.dict_set(key, val);
        Ok(true)
    })
}

/// A deep copy. Caller owns the result; free with `pyro_value_free`. NULL for NULL.
#[no_mangle]
pub extern "C" fn pyro_value_clone(v: *const Value) -> *mut Value {
    checked(std::ptr::null_mut(), || Ok(boxed(value(v)?.clone())))
}

/// Free a value the caller owns. NULL is ignored. Never free borrowed pointers (callback
/// arguments, `pyro_value_get` results). Does not recurse, whatever the depth.
#[no_mangle]
pub extern "C" fn pyro_value_free(v: *mut Value) {
    guard((), || take(v).map_or((), Value::free_deep))
}

/// The value's kind; PYRO_VALUE_NONE for NULL (with `pyro_last_error` set).
#[no_mangle]
pub extern "C" fn pyro_value_get_kind(v: *const Value) -> pyro_value_kind {
    checked(pyro_value_kind::PYRO_VALUE_NONE, || {
        Ok(value(v)?.kind().into())
    })
}

/// Read an int (bools count, as in Python) into `*out`. False for other kinds, big ints
/// outside int64_t, or NULL arguments.
#[no_mangle]
pub extern "C" fn pyro_value_as_int(v: *const Value, out: *mut i64) -> bool {
    checked(false, || {
        let i = match value(v)? {
            Value::BigInt(_) => return Err(Error::invalid("v is an int outside int64_t")),
            v => v.as_i64().ok_or_else(|| wrong_kind("v", v, "an int"))?,
        };
        *arg_mut(out, "out")? = i;
        Ok(true)
    })
}

/// Read a float (ints and bools convert, big ints approximately) into `*out`.
/// False for other kinds or NULL arguments.
#[no_mangle]
pub extern "C" fn pyro_value_as_float(v: *const Value, out: *mut f64) -> bool {
    use num_traits::ToPrimitive;
    checked(false, || {
        let f = match value(v)? {
            Value::Float(f) => *f,
            Value::Int(i) => *i as f64,
            Value::Bool(b) => *b as i64 as f64,
            Value::BigInt(b) => b.to_f64().unwrap_or(f64::NAN),
            other => return Err(wrong_kind("v", other, "a float or int")),
        };
        *arg_mut(out, "out")? = f;
        Ok(true)
    })
}

/// Read a bool into `*out`. False for other kinds or NULL arguments.
#[no_mangle]
pub extern "C" fn pyro_value_as_bool(v: *const Value, out: *mut bool) -> bool {
    checked(false, || match value(v)? {
        Value::Bool(b) => {
            *arg_mut(out, "out")? = *b;
            Ok(true)
        }
        other => Err(wrong_kind("v", other, "a bool")),
    })
}

/// Read a complex into `*re`, `*im` (ints and floats convert with im = 0).
#[no_mangle]
pub extern "C" fn pyro_value_as_complex(v: *const Value, re: *mut f64, im: *mut f64) -> bool {
    checked(false, || {
        let (r, i) = match value(v)? {
            Value::Complex { re, im } => (*re, *im),
            Value::Float(f) => (*f, 0.0),
            Value::Int(n) => (*n as f64, 0.0),
            other => return Err(wrong_kind("v", other, "a complex, float or int")),
        };
        let (re, im) = (arg_mut(re, "re")?, arg_mut(im, "im")?);
        *re = r;
        *im = i;
        Ok(true)
    })
}

/// The UTF-8 bytes of a str, NUL-terminated (borrowed: valid while the value lives and
/// is not modified). `*len` (if `len` is not NULL) gets the length in bytes, which is
/// also right for strings containing NUL. NULL for other kinds.
#[no_mangle]
pub extern "C" fn pyro_value_as_str(v: *const Value, len: *mut usize) -> *const c_char {
    checked(std::ptr::null(), || match value(v)? {
        Value::Str(s) => {
            if s.capacity() == s.len() {
                return Err(unterminated());
            }
            if let Some(len) = unsafe { len.as_mut() } {
                *len = s.len();
            }
            Ok(s.as_ptr() as *const c_char)
        }
        other => Err(wrong_kind("v", other, "a str")),
    })
}

/// The bytes of a bytes value (borrowed: valid while the value lives), length in `*len`.
/// NULL for other kinds (an empty bytes value gives a non-NULL pointer and len 0).
#[no_mangle]
pub extern "C" fn pyro_value_as_bytes(v: *const Value, len: *mut usize) -> *const u8 {
    checked(std::ptr::null(), || match value(v)? {
        Value::Bytes(b) => {
            if let Some(len) = unsafe { len.as_mut() } {
                *len = b.len();
            }
            Ok(if b.is_empty() {
                std::ptr::NonNull::<u8>::dangling().as_ptr()
            } else {
                b.as_ptr()
            })
        }
        other => Err(wrong_kind("v", other, "bytes")),
    })
}

/// Decimal text of an int or big int. Caller owns it; free with `pyro_string_free`.
/// NULL for other kinds.
#[no_mangle]
pub extern "C" fn pyro_value_bigint_to_str(v: *const Value) -> *mut c_char {
    checked(std::ptr::null_mut(), || {
        let text = match value(v)? {
            Value::Int(i) => i.to_string(),
            Value::BigInt(b) => b.to_string(),
            other => return Err(wrong_kind("v", other, "an int")),
        };
        Ok(CString::new(text).expect("digits").into_raw())
    })
}

/// Number of items of a list, tuple, set or dict; bytes of str/bytes; 0 otherwise (with
/// `pyro_last_error` set).
#[no_mangle]
pub extern "C" fn pyro_value_len(v: *const Value) -> usize {
    checked(0, || match value(v)? {
        Value::List(x) | Value::Tuple(x) | Value::Set(x) => Ok(x.len()),
        Value::Dict(x) => Ok(x.len()),
        Value::Str(s) => Ok(s.len()),
        Value::Bytes(b) => Ok(b.len()),
        other => Err(Error::invalid(format!(
            "v is {}, which has no length",
            a(type_name(other))
        ))),
    })
}

/// Item `i` of a list, tuple or set (borrowed: valid while the container lives and is
/// not modified). NULL if out of range or not a sequence.
#[no_mangle]
pub extern "C" fn pyro_value_get(seq: *const Value, i: usize) -> *const Value {
    checked(std::ptr::null(), || {
        let seq = arg(seq, "seq")?;
        let items = seq
            .as_seq()
            .ok_or_else(|| wrong_kind("seq", seq, "a list, tuple or set"))?;
        let item = items.get(i).ok_or_else(|| {
            Error::invalid(format!(
                "index {i} is out of range for {} of length {}",
                a(type_name(seq)),
                items.len()
            ))
        })?;
        Ok(item as *const Value)
    })
}

/// The value for `key` in a dict (Python equality: 1 == 1.0 == True), borrowed; NULL if
/// absent or not a dict. Compares `key` with the dict's keys in order, so a lookup costs
/// time proportional to the dict's length (a dict keeps no hash index): to visit every
/// entry, iterate with `pyro_value_dict_item` instead, which costs O(1) per entry.
#[no_mangle]
pub extern "C" fn pyro_value_dict_get(dict: *const Value, key: *const Value) -> *const Value {
    checked(std::ptr::null(), || {
        let (d, k) = (dict_arg(dict)?, arg(key, "key")?);
        d.dict_get(k)
            .map(|v| v as *const Value)
            .ok_or_else(|| missing_key(k))
    })
}

/// The value for a str key (NUL-terminated UTF-8) in a dict, borrowed; NULL if absent.
/// A scan of the dict's keys, like `pyro_value_dict_get`.
#[no_mangle]
pub extern "C" fn pyro_value_dict_get_str(dict: *const Value, key: *const c_char) -> *const Value {
    checked(std::ptr::null(), || {
        let d = dict_arg(dict)?;
        let key = crate::ffi::ctx::cstr(key, "key")?;
        d.dict_get_str(key)
            .map(|v| v as *const Value)
            .ok_or_else(|| missing_key(&Value::str(key)))
    })
}

fn dict_arg<'a>(dict: *const Value) -> Result<&'a Value, Error> {
    match arg(dict, "dict")? {
        d @ Value::Dict(_) => Ok(d),
        other => Err(wrong_kind("dict", other, "a dict")),
    }
}

fn missing_key(key: &Value) -> Error {
    Error::invalid(format!("key {} is not in the dict", repr_preview(key)))
}

/// The `i`-th item of a dict in insertion order: `*key` and `*val` get borrowed pointers.
/// False if out of range, not a dict, or an out-parameter is NULL.
/// Iterate with `for (i = 0; pyro_value_dict_item(d, i, &k, &v); i++)`.
#[no_mangle]
pub extern "C" fn pyro_value_dict_item(
    dict: *const Value,
    i: usize,
    key: *mut *const Value,
    val: *mut *const Value,
) -> bool {
    checked(false, || {
        let items = match arg(dict, "dict")? {
            Value::Dict(items) => items,
            other => return Err(wrong_kind("dict", other, "a dict")),
        };
        let (key, val) = (arg_mut(key, "key")?, arg_mut(val, "val")?);
        let (k, v) = items.get(i).ok_or_else(|| {
            Error::invalid(format!(
                "index {i} is out of range for a dict of length {}",
                items.len()
            ))
        })?;
        *key = k;
        *val = v;
        Ok(true)
    })
}

/// The class name of an object value, e.g. "mymodule.Thing" (borrowed); NULL otherwise.
#[no_mangle]
pub extern "C" fn pyro_value_object_class(v: *const Value) -> *const c_char {
    checked(std::ptr::null(), || match value(v)? {
        Value::Object(o) if o.class.capacity() == o.class.len() => Err(unterminated()),
        Value::Object(o) => Ok(o.class.as_ptr() as *const c_char),
        other => Err(wrong_kind("v", other, "an object")),
    })
}

/// The state of an object value (usually a dict of its attributes), borrowed; NULL
/// otherwise.
#[no_mangle]
pub extern "C" fn pyro_value_object_state(v: *const Value) -> *const Value {
    checked(std::ptr::null(), || match value(v)? {
        Value::Object(o) => Ok(&o.state as *const Value),
        other => Err(wrong_kind("v", other, "an object")),
    })
}

/// An object value of class `class_name` with `state` (consumed; NULL means an empty
/// dict). Sent as Pyro4's class dict `{'__class__': class_name, ...state}`. NULL for a
/// NULL/invalid class name or a state PYRO_VALUE_MAX_DEPTH or more deep (see
/// `pyro_value_depth`); `state` is consumed then too. Caller owns the result; free with
/// `pyro_value_free`.
#[no_mangle]
pub extern "C" fn pyro_value_object(class_name: *const c_char, state: *mut Value) -> *mut Value {
    checked(std::ptr::null_mut(), || {
        let state = take(state).unwrap_or(Value::Dict(Vec::new()));
        let class = crate::ffi::ctx::cstr(class_name, "class_name");
        let class = match class {
            Ok(class) if fits_inside(&state) => class,
            refused => {
                state.free_deep();
                return Err(refused.err().unwrap_or_else(|| too_deep("state")));
            }
        };
        Ok(boxed(Value::Object(Box::new(Object {
            class: class.to_string(),
            state,
        }))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` nested lists around an int, built directly (the C functions would refuse it).
    fn nested(n: usize) -> Value {
        let mut v = Value::Int(1);
        for _ in 0..n {
            v = Value::List(vec![v]);
        }
        v
    }

    #[test]
    fn free_does_not_recurse_at_any_depth() {
        // 200,000 levels overflow any thread's stack in a recursive drop (the crash a
        // host reported from pyro_value_free).
        pyro_value_free(boxed(nested(200_000)));
    }

    #[test]
    fn too_deep_arguments_are_refused_and_freed_without_recursion() {
        let list = boxed(Value::List(vec![]));
        assert!(!pyro_value_append(list, boxed(nested(200_000))));
        let dict = boxed(Value::Dict(vec![]));
        assert!(!pyro_value_dict_set(
            dict,
            boxed(Value::Int(1)),
            boxed(nested(200_000))
        ));
        let class = c"m.C".as_ptr();
        assert!(pyro_value_object(class, boxed(nested(200_000))).is_null());
        assert!(pyro_value_object(std::ptr::null(), boxed(nested(200_000))).is_null());
        assert_eq!(pyro_value_len(list), 0);
        assert_eq!(pyro_value_len(dict), 0);
        pyro_value_free(list);
        pyro_value_free(dict);
    }

    #[test]
    fn literal_within_the_limit_only() {
        let text = |n: usize| std::ffi::CString::new("[".repeat(n) + &"]".repeat(n)).unwrap();
        let v = pyro_value_from_literal(text(MAX_DEPTH).as_ptr(), std::ptr::null_mut());
        assert_eq!(pyro_value_depth(v), MAX_DEPTH);
        pyro_value_free(v);
        let mut err = std::ptr::null_mut();
        let v = pyro_value_from_literal(text(MAX_DEPTH + 1).as_ptr(), &mut err);
        assert!(v.is_null() && !err.is_null());
        let msg = unsafe { CStr::from_ptr(crate::ffi::error::pyro_error_message(err)) };
        assert!(
            msg.to_str().unwrap().contains("PYRO_VALUE_MAX_DEPTH"),
            "{msg:?}"
        );
        crate::ffi::error::pyro_error_free(err);
    }
}

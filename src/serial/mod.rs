//! Serializers: pure functions from bytes to [`Value`]s and back. No I/O, no threads.
//!
//! Each format module offers `encode(&Value) -> Result<Vec<u8>>` and
//! `decode(&[u8]) -> Result<Value>`; failures are `ErrorKind::Serialization`.

pub mod budget;
pub mod json;
pub mod marshal;
pub mod pickle;
pub mod serpent;

/// Pyro4 serializer ids (the header's serializer field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub enum SerializerId {
    Serpent = 1,
    Json = 2,
    Marshal = 3,
    Pickle = 4,
}

impl SerializerId {
    pub fn from_u16(id: u16) -> Option<Self> {
        Some(match id {
            1 => SerializerId::Serpent,
            2 => SerializerId::Json,
            3 => SerializerId::Marshal,
            4 => SerializerId::Pickle,
            _ => return None,
        })
    }
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "serpent" => SerializerId::Serpent,
            "json" => SerializerId::Json,
            "marshal" => SerializerId::Marshal,
            "pickle" => SerializerId::Pickle,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            SerializerId::Serpent => "serpent",
            SerializerId::Json => "json",
            SerializerId::Marshal => "marshal",
            SerializerId::Pickle => "pickle",
        }
    }
}

/// Deepest container nesting any decoder accepts; deeper input is a Serialization error,
/// never a stack overflow.
pub const MAX_DEPTH: usize = 1000;

/// A decoded dict with a `__class__` str key is a Pyro4 class dict: it becomes an
/// object of that class whose state is the rest of the dict (every serializer does this).
pub(crate) fn class_dict(dict: crate::value::Value) -> crate::value::Value {
    use crate::value::{Object, Value};
    let Value::Dict(items) = dict else {
        return dict;
    };
    let class = items.iter().find_map(|(k, v)| match (k, v) {
        (Value::Str(k), Value::Str(c)) if k == "__class__" => Some(c.clone()),
        _ => None,
    });
    match class {
        None => Value::Dict(items),
        Some(class) => {
            let state = items
                .into_iter()
                .filter(|(k, _)| k.as_str() != Some("__class__"))
                .collect();
            Value::Object(Box::new(Object {
                class,
                state: Value::Dict(state),
            }))
        }
    }
}

/// The call tuple `(object, method, vargs, kwargs)` that serpent, marshal and pickle
/// carry (json uses a dict instead).
pub(crate) fn call_tuple(
    object: &str,
    method: &str,
    args: &[crate::value::Value],
    kwargs: &[(String, crate::value::Value)],
) -> crate::value::Value {
    use crate::value::Value;
    let kw = Value::Dict(
        kwargs
            .iter()
            .map(|(k, v)| (Value::str(k.as_str()), v.clone()))
            .collect(),
    );
    Value::Tuple(vec![
        Value::str(object),
        Value::str(method),
        Value::Tuple(args.to_vec()),
        kw,
    ])
}

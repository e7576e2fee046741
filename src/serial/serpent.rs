//! Serpent, Pyro4's default serializer (Python literal text with a header line).
use crate::error::Result;
use crate::value::Value;

/// Serialize as serpent 1.4x does (with the `# serpent utf-8 python3.2` header).
pub fn encode(v: &Value) -> Result<Vec<u8>> {
    let _ = v;
    todo!()
}

/// Parse a serpent payload (header line optional).
pub fn decode(data: &[u8]) -> Result<Value> {
    let _ = data;
    todo!()
}

/// Parse Python literal syntax, as `ast.literal_eval` would (used by `pyro_value_from_literal`).
pub fn parse_literal(text: &str) -> Result<Value> {
    let _ = text;
    todo!()
}

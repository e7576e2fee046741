//! Pyro4 wire protocol 48 framing. Pure: bytes in, messages out.
//!
//! A message is a 24-byte header (`!4sHHHHiHHHH`: tag, version, type, flags, seq,
//! data length, serializer id, annotations length, reserved, checksum), then annotation
//! chunks (4-byte key, u16 length, value), then the data.

mod message;
mod reader;
pub mod security;

pub use message::{add_flags, patch_seq, Header, Message};
pub use reader::{read_message, MessageReader};

/// Annotation chunks in wire order: 4-byte key, value.
pub type Annotations = Vec<([u8; 4], Vec<u8>)>;

pub const PROTOCOL_VERSION: u16 = 48;
pub const HEADER_SIZE: usize = 24;
pub const CHECKSUM_MAGIC: u32 = 0x34E9;
/// Default ceiling on a peer's data + annotations length, checked before allocating.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

pub const MSG_CONNECT: u16 = 1;
pub const MSG_CONNECTOK: u16 = 2;
pub const MSG_CONNECTFAIL: u16 = 3;
pub const MSG_INVOKE: u16 = 4;
pub const MSG_RESULT: u16 = 5;
pub const MSG_PING: u16 = 6;

pub const FLAGS_EXCEPTION: u16 = 1;
pub const FLAGS_COMPRESSED: u16 = 1 << 1;
pub const FLAGS_ONEWAY: u16 = 1 << 2;
pub const FLAGS_BATCH: u16 = 1 << 3;
pub const FLAGS_META_ON_CONNECT: u16 = 1 << 4;
pub const FLAGS_ITEMSTREAMRESULT: u16 = 1 << 5;
pub const FLAGS_KEEPSERIALIZED: u16 = 1 << 6;

/// Serializer id Pyro4 puts on PING messages.
pub const PING_SERIALIZER_ID: u16 = 42;

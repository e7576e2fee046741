//! A blocking, one-call-at-a-time client over std sockets: for tests and tools, not the
//! product's async path (which shares `wire` with it).

use crate::client::target::{Location, Target};
use crate::client::wire::{self, ConnectInfo};
use crate::error::{Error, Result};
use crate::protocol::{read_message, DEFAULT_MAX_MESSAGE_SIZE};
use crate::serial::SerializerId;
use crate::value::Value;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub struct BlockingConnection {
    stream: TcpStream,
    object: String,
    serializer: SerializerId,
    seq: u16,
}

impl BlockingConnection {
    /// Connect to a `PYRO:obj@host:port` URI and do the handshake.
    pub fn connect(
        uri: &str,
        serializer: SerializerId,
        timeout: Duration,
    ) -> Result<(Self, ConnectInfo)> {
        Self::connect_target(&Target::parse(uri)?, serializer, timeout)
    }

    /// Connect to a parsed target and do the handshake.
    pub fn connect_target(
        target: &Target,
        serializer: SerializerId,
        timeout: Duration,
    ) -> Result<(Self, ConnectInfo)> {
        let target = target.clone();
        let Location::Tcp { host, port } = &target.location else {
            return Err(Error::invalid("the blocking client supports TCP URIs only"));
        };
        let addr = (host.as_str(), *port)
            .to_socket_addrs()
            .map_err(|e| Error::communication(format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| Error::communication(format!("no address for {host}")))?;
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| Error::communication(format!("cannot connect to {addr}: {e}")))?;
        stream.set_nodelay(true).ok();
        stream.set_read_timeout(Some(timeout)).ok();
        let mut conn = BlockingConnection {
            stream,
            object: target.object,
            serializer,
            seq: 0,
        };
        let msg = wire::connect_message(0, serializer, &conn.object, &Value::str("hello"))?;
        conn.send(&msg.encode()?)?;
        let reply = read_message(&mut conn.stream, DEFAULT_MAX_MESSAGE_SIZE)?;
        let info = wire::parse_connect_reply(&reply, serializer)?;
        Ok((conn, info))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .map_err(|e| Error::communication(format!("write failed: {e}")))
    }

    /// Call a method and wait for its result (a remote exception is an `Err` of kind Remote).
    pub fn call(
        &mut self,
        method: &str,
        args: &[Value],
        kwargs: &[(String, Value)],
    ) -> Result<Value> {
        self.seq = self.seq.wrapping_add(1);
        let msg = wire::invoke_message(
            self.seq,
            self.serializer,
            &self.object,
            method,
            args,
            kwargs,
            0,
        )?;
        self.send(&msg.encode()?)?;
        let reply = read_message(&mut self.stream, DEFAULT_MAX_MESSAGE_SIZE)?;
        wire::parse_result(&reply, self.seq, self.serializer)
    }
}

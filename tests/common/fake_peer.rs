//! A scripted Pyro4-protocol server for what a real one cannot do: broken frames,
//! hostile lengths, stalls, resets. Connection i follows script[i] (the last entry
//! repeats). It speaks serpent and echoes the first argument of each call.
#![allow(dead_code)]

use pyro_async::client::wire;
use pyro_async::protocol::{
    read_message, Header, Message, FLAGS_COMPRESSED, FLAGS_META_ON_CONNECT, FLAGS_ONEWAY,
    HEADER_SIZE, MSG_CONNECT, MSG_CONNECTFAIL, MSG_CONNECTOK, MSG_INVOKE, MSG_RESULT,
};
use pyro_async::serial::{serpent, SerializerId};
use pyro_async::Value;
use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer normally.
    Echo,
    /// Answer each call after a delay.
    Delay(Duration),
    /// Send half a reply header, then nothing, forever.
    StallMidMessage,
    /// Close after writing this many bytes of the first reply.
    CloseAfter(usize),
    /// Reset the connection (RST) on the first call.
    Reset,
    BadChecksum,
    BadVersion,
    WrongSeq,
    UnknownType,
    /// A header announcing a 2 GB body.
    HugeLength,
    /// Annotations announced longer than the message body.
    AnnotationsOverrun,
    CompressedGarbage,
    /// Refuse the connection at the handshake.
    ConnectFail,
    /// Answer every call twice.
    DoubleReply,
    /// Answer oneway calls too.
    ReplyToOneway,
    /// Answer this many calls normally, then wait for two more requests and behave as
    /// the inner fault (so a fault hits a connection in use, with two calls on the wire).
    AfterEchoes(usize, Box<Fault>),
    /// Answer this many calls, then close the connection cleanly while it is idle.
    CloseWhenIdle(usize),
    /// Speak the client's serializer and answer every call with one chosen reply (and,
    /// if given, the handshake with chosen CONNECTOK data): hostile or huge payloads.
    Canned(Arc<Canned>),
}

/// One chosen reply. `data` is sent as is, with `flags`, under the client's serializer id.
#[derive(Debug, Default)]
pub struct Canned {
    pub flags: u16,
    pub data: Vec<u8>,
    /// CONNECTOK data; None: the usual metadata, encoded in the client's serializer.
    pub connect_ok: Option<Vec<u8>>,
}

impl Fault {
    pub fn canned(data: Vec<u8>) -> Fault {
        Fault::Canned(Arc::new(Canned {
            data,
            ..Canned::default()
        }))
    }
}

pub struct FakePeer {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
}

impl FakePeer {
    pub fn start(script: Vec<Fault>) -> FakePeer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let i = count.fetch_add(1, Ordering::SeqCst);
                let fault = script[i.min(script.len() - 1)].clone();
                std::thread::spawn(move || serve(stream, fault));
            }
        });
        FakePeer { port, connections }
    }

    pub fn uri(&self) -> String {
        format!("PYRO:fake@127.0.0.1:{}", self.port)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn reply(seq: u16, value: &Value) -> Vec<u8> {
    Message::new(MSG_RESULT, 0, seq, 1, serpent::encode(value).unwrap())
        .encode()
        .unwrap()
}

/// Whether `buf` starts with a whole message (so reading it will not block).
fn whole_message_buffered(buf: &[u8]) -> bool {
    let Some(h) = buf.get(..HEADER_SIZE) else {
        return false;
    };
    match Header::decode(h.try_into().unwrap(), usize::MAX) {
        Ok(h) => buf.len() >= HEADER_SIZE + h.annotations_len + h.data_len,
        Err(_) => true, // let read_message report it
    }
}

fn serve(mut s: TcpStream, fault: Fault) {
    s.set_nodelay(true).ok();
    let (mut echoes_first, later, mut gather) = match fault {
        Fault::AfterEchoes(n, f) => (n, *f, true),
        Fault::CloseWhenIdle(n) => (n, Fault::CloseWhenIdle(0), false),
        f => (0, f, false),
    };
    let mut held: Option<Message> = None;
    // Buffered like a real server's recv loop: a burst of pipelined requests is read in
    // one syscall, and in echo mode their replies go out in one write.
    let Ok(mut r) = s
        .try_clone()
        .map(|c| BufReader::with_capacity(64 * 1024, c))
    else {
        return;
    };
    let mut pending: Vec<u8> = Vec::new();
    let Ok(connect) = read_message(&mut r, 1 << 30) else {
        return;
    };
    if connect.msg_type != MSG_CONNECT {
        return;
    }
    if let Fault::ConnectFail = later {
        // Let every call the test issues back to back queue up behind the connection
        // before it is refused, so they all share its fate.
        std::thread::sleep(Duration::from_millis(50));
        let m = Message::new(
            MSG_CONNECTFAIL,
            0,
            connect.seq,
            1,
            serpent::encode(&Value::str("go away")).unwrap(),
        );
        let _ = s.write_all(&m.encode().unwrap());
        return;
    }
    let meta = serpent::parse_literal("{'handshake': 'hello', 'meta': {'methods': ['echo', 'slow'], 'oneway': ['fire'], 'attrs': []}}").unwrap();
    let ok = match &later {
        Fault::Canned(c) => {
            let ser = SerializerId::from_u16(connect.serializer_id).unwrap();
            let data = match &c.connect_ok {
                Some(d) => d.clone(),
                None => wire::encode_value(ser, &meta).unwrap(),
            };
            Message::new(
                MSG_CONNECTOK,
                FLAGS_META_ON_CONNECT,
                connect.seq,
                connect.serializer_id,
                data,
            )
        }
        _ => Message::new(
            MSG_CONNECTOK,
            FLAGS_META_ON_CONNECT,
            connect.seq,
            1,
            serpent::encode(&meta).unwrap(),
        ),
    };
    if s.write_all(&ok.encode().unwrap()).is_err() {
        return;
    }
    loop {
        if matches!(later, Fault::CloseWhenIdle(_)) && echoes_first == 0 {
            let _ = s.write_all(&pending);
            std::thread::sleep(Duration::from_millis(20));
            return; // FIN with no call outstanding
        }
        let m = match held.take() {
            Some(m) => m,
            None => match read_message(&mut r, 1 << 30) {
                Ok(m) => m,
                Err(_) => return,
            },
        };
        if m.msg_type != MSG_INVOKE {
            return;
        }
        let arg = match serpent::decode(&m.data) {
            Ok(Value::Tuple(call)) => call
                .get(2)
                .and_then(|a| a.as_seq())
                .and_then(|a| a.first().cloned())
                .unwrap_or(Value::None),
            _ => Value::None,
        };
        let oneway = m.flags & FLAGS_ONEWAY != 0;
        let good = reply(m.seq, &arg);
        let fault = if echoes_first > 0 {
            echoes_first -= 1;
            Fault::Echo
        } else {
            if std::mem::take(&mut gather) {
                held = read_message(&mut r, 1 << 20).ok();
            }
            later.clone()
        };
        let bytes = match &fault {
            Fault::Echo if oneway => continue,
            Fault::Echo => {
                pending.extend_from_slice(&good);
                if whole_message_buffered(r.buffer()) {
                    continue; // more requests already here: answer them together
                }
                std::mem::take(&mut pending)
            }
            Fault::Delay(d) => {
                std::thread::sleep(*d);
                if oneway {
                    continue;
                }
                good
            }
            Fault::StallMidMessage => {
                let _ = s.write_all(&good[..10]);
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
            Fault::CloseAfter(n) => {
                let _ = s.write_all(&good[..(*n).min(good.len())]);
                return;
            }
            Fault::Reset => {
                // SO_LINGER 0 makes close() send RST.
                let l = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                unsafe {
                    libc::setsockopt(
                        std::os::fd::AsRawFd::as_raw_fd(&s),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        &l as *const _ as *const libc::c_void,
                        std::mem::size_of::<libc::linger>() as u32,
                    );
                }
                return;
            }
            Fault::BadChecksum => {
                let mut b = good;
                b[23] ^= 0x55;
                b
            }
            Fault::BadVersion => {
                let mut b = good;
                b[5] = 47;
                b
            }
            Fault::WrongSeq => reply(m.seq.wrapping_add(7), &arg),
            Fault::UnknownType => Message::new(77, 0, m.seq, 1, serpent::encode(&arg).unwrap())
                .encode()
                .unwrap(),
            Fault::HugeLength => Header {
                msg_type: MSG_RESULT,
                flags: 0,
                seq: m.seq,
                data_len: 2_000_000_000,
                serializer_id: 1,
                annotations_len: 0,
            }
            .encode()
            .to_vec(),
            Fault::AnnotationsOverrun => {
                let mut raw = Header {
                    msg_type: MSG_RESULT,
                    flags: 0,
                    seq: m.seq,
                    data_len: 1,
                    serializer_id: 1,
                    annotations_len: 6,
                }
                .encode()
                .to_vec();
                raw.extend_from_slice(b"CORR");
                raw.extend_from_slice(&500u16.to_be_bytes());
                raw.push(b'x');
                raw
            }
            Fault::CompressedGarbage => Message::new(
                MSG_RESULT,
                FLAGS_COMPRESSED,
                m.seq,
                1,
                b"definitely not zlib".to_vec(),
            )
            .encode()
            .unwrap(),
            Fault::DoubleReply => {
                let mut b = good.clone();
                b.extend_from_slice(&good);
                b
            }
            Fault::ReplyToOneway => good,
            Fault::Canned(c) => {
                Message::new(MSG_RESULT, c.flags, m.seq, m.serializer_id, c.data.clone())
                    .encode()
                    .unwrap()
            }
            Fault::ConnectFail | Fault::AfterEchoes(..) | Fault::CloseWhenIdle(_) => unreachable!(),
        };
        if s.write_all(&bytes).is_err() {
            return;
        }
        if matches!(
            fault,
            Fault::BadChecksum | Fault::BadVersion | Fault::HugeLength | Fault::AnnotationsOverrun
        ) {
            // keep the socket open: the client must close it
            std::thread::sleep(Duration::from_millis(500));
            let _ = s.shutdown(Shutdown::Both);
            return;
        }
    }
}

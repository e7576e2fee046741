//! Name-server discovery by UDP broadcast, as Pyro4's `locateNS` does: send
//! `GET_NSURI` to each configured broadcast address on the broadcast port, three rounds,
//! and take the first answer (the name server's URI as latin-1 text).
//!
//! Blocking (bounded by `rounds * round_timeout`); it runs on the worker pool, never on
//! the I/O thread or the host thread.

use crate::error::{Error, ErrorKind, Result};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// Where and how to broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// Broadcast addresses (Pyro4's `BROADCAST_ADDRS`, comma separated there).
    /// `<broadcast>` means 255.255.255.255. Tests use 127.255.255.255 or 127.0.0.1.
    pub addresses: Vec<String>,
    /// UDP port of the name server's broadcast responder (`NS_BCPORT`, default 9091).
    pub port: u16,
    pub rounds: u32,
    pub round_timeout: Duration,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            addresses: parse_addresses("<broadcast>, 0.0.0.0"),
            port: 9091,
            rounds: 3,
            round_timeout: Duration::from_millis(700),
        }
    }
}

/// Split Pyro4's comma-separated address list.
pub fn parse_addresses(s: &str) -> Vec<String> {
    s.split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

fn resolve(addr: &str, port: u16) -> Option<SocketAddr> {
    let host = if addr == "<broadcast>" {
        "255.255.255.255"
    } else {
        addr
    };
    (host, port).to_socket_addrs().ok()?.find(|a| a.is_ipv4())
}

/// Broadcast for the name server; returns its URI text (e.g. `PYRO:Pyro.NameServer@127.0.0.1:9090`).
pub fn discover(cfg: &DiscoveryConfig) -> Result<String> {
    let targets: Vec<SocketAddr> = cfg
        .addresses
        .iter()
        .filter_map(|a| resolve(a, cfg.port))
        .collect();
    if targets.is_empty() {
        return Err(Error::new(
            ErrorKind::Naming,
            "no usable broadcast address configured",
        ));
    }
    let sock = UdpSocket::bind(("0.0.0.0", 0)).map_err(|e| {
        Error::new(
            ErrorKind::Naming,
            format!("cannot open broadcast socket: {e}"),
        )
    })?;
    let _ = sock.set_broadcast(true);
    sock.set_read_timeout(Some(cfg.round_timeout.max(Duration::from_millis(1))))
        .map_err(|e| Error::new(ErrorKind::Naming, format!("broadcast socket: {e}")))?;
    let mut buf = [0u8; 512];
    for _ in 0..cfg.rounds.max(1) {
        for t in &targets {
            // Some addresses are not usable on every host (EADDRNOTAVAIL); Pyro4 skips them too.
            let _ = sock.send_to(b"GET_NSURI", t);
        }
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                // latin-1 decode: every byte is one code point.
                let uri: String = buf[..n].iter().map(|&b| b as char).collect();
                return Ok(uri);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Naming,
                    format!("broadcast lookup failed: {e}"),
                ))
            }
        }
    }
    Err(Error::new(
        ErrorKind::Naming,
        "no name server answered the broadcast",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_from_a_loopback_responder() {
        let responder = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = responder.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 100];
            let (n, from) = responder.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"GET_NSURI");
            responder
                .send_to(b"PYRO:Pyro.NameServer@127.0.0.1:4321", from)
                .unwrap();
        });
        let cfg = DiscoveryConfig {
            addresses: vec!["127.0.0.1".into()],
            port,
            rounds: 3,
            round_timeout: Duration::from_millis(500),
        };
        assert_eq!(
            discover(&cfg).unwrap(),
            "PYRO:Pyro.NameServer@127.0.0.1:4321"
        );
        t.join().unwrap();
    }

    #[test]
    fn silence_is_a_naming_error() {
        let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
        let cfg = DiscoveryConfig {
            addresses: vec!["127.0.0.1".into()],
            port: quiet.local_addr().unwrap().port(),
            rounds: 2,
            round_timeout: Duration::from_millis(50),
        };
        let e = discover(&cfg).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Naming);
    }

    #[test]
    fn address_list_parsing() {
        assert_eq!(
            parse_addresses("<broadcast>, 0.0.0.0"),
            vec!["<broadcast>", "0.0.0.0"]
        );
        assert_eq!(
            parse_addresses(" 127.255.255.255 ,"),
            vec!["127.255.255.255"]
        );
    }
}

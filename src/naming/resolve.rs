//! Locating the name server and resolving `PYRONAME:` / `PYROMETA:` URIs, the way
//! Pyro4's `locateNS` and `resolve` do. Blocking: runs on the worker pool.

use super::discovery::{discover, DiscoveryConfig};
use crate::client::blocking::BlockingConnection;
use crate::client::target::{Location, NsAddress, Target, Uri};
use crate::error::{Error, ErrorKind, Result};
use crate::serial::SerializerId;
use crate::value::Value;
use std::time::Duration;

/// Object id of the name server in its daemon.
pub const NAMESERVER_NAME: &str = "Pyro.NameServer";

/// How to find the name server (Pyro4's NS_HOST, NS_PORT, NS_BCPORT, BROADCAST_ADDRS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsConfig {
    pub host: String,
    pub port: u16,
    /// Broadcast discovery; `None` disables it.
    pub discovery: Option<DiscoveryConfig>,
    pub timeout: Duration,
}

impl Default for NsConfig {
    fn default() -> Self {
        NsConfig {
            host: "localhost".into(),
            port: 9090,
            discovery: Some(DiscoveryConfig::default()),
            timeout: Duration::from_secs(5),
        }
    }
}

impl NsConfig {
    /// Defaults adjusted by PYRO_NS_HOST, PYRO_NS_PORT, PYRO_NS_BCPORT, PYRO_BROADCAST_ADDRS.
    pub fn from_env() -> NsConfig {
        let mut c = NsConfig::default();
        if let Ok(h) = std::env::var("PYRO_NS_HOST") {
            c.host = h;
        }
        if let Some(p) = std::env::var("PYRO_NS_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
        {
            c.port = p;
        }
        if let Some(d) = c.discovery.as_mut() {
            if let Some(p) = std::env::var("PYRO_NS_BCPORT")
                .ok()
                .and_then(|p| p.parse().ok())
            {
                d.port = p;
            }
            if let Ok(a) = std::env::var("PYRO_BROADCAST_ADDRS") {
                d.addresses = super::discovery::parse_addresses(&a);
            }
        }
        c
    }
}

fn ns_target(host: &str, port: u16) -> Target {
    Target {
        object: NAMESERVER_NAME.into(),
        location: Location::Tcp {
            host: host.to_string(),
            port,
        },
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

fn connect(t: &Target, cfg: &NsConfig) -> Result<BlockingConnection> {
    BlockingConnection::connect_target(t, SerializerId::Serpent, cfg.timeout).map(|(c, _)| c)
}

/// Find the name server: the explicit address if given; otherwise, as Pyro4 does,
/// NS_HOST directly when it is a loopback host, then broadcast, then NS_HOST:NS_PORT.
pub fn locate(
    cfg: &NsConfig,
    explicit: Option<&NsAddress>,
) -> Result<(BlockingConnection, Target)> {
    let naming = |e: Error| {
        Error::new(
            ErrorKind::Naming,
            format!("failed to locate the name server: {}", e.message),
        )
    };
    if let Some(ns) = explicit {
        let t = ns_target(&ns.host, ns.port.unwrap_or(cfg.port));
        return connect(&t, cfg).map(|c| (c, t)).map_err(naming);
    }
    if is_loopback(&cfg.host) {
        let t = ns_target(&cfg.host, cfg.port);
        if let Ok(c) = connect(&t, cfg) {
            return Ok((c, t));
        }
    }
    if let Some(d) = &cfg.discovery {
        if let Ok(text) = discover(d) {
            if let Ok(Uri::Direct(t)) = Uri::parse(&text) {
                if let Ok(c) = connect(&t, cfg) {
                    return Ok((c, t));
                }
            }
        }
    }
    let t = ns_target(&cfg.host, cfg.port);
    connect(&t, cfg).map(|c| (c, t)).map_err(naming)
}

/// A Pyro4 URI as the name server returns it: a `Pyro4.core.URI` object (state
/// `(protocol, object, sockname, host, port)`) or URI text.
pub fn target_from_value(v: &Value) -> Result<Target> {
    let bad = || {
        Error::new(
            ErrorKind::Naming,
            format!(
                "name server returned an unusable URI: {}",
                crate::error::repr_preview(v)
            ),
        )
    };
    match v {
        Value::Str(s) => Target::parse(s).map_err(|_| bad()),
        Value::Object(o) if o.class == "Pyro4.core.URI" => {
            let state = match &o.state {
                Value::Dict(_) => o.state.dict_get_str("state").ok_or_else(bad)?,
                other => other,
            };
            let items = state.as_seq().ok_or_else(bad)?;
            let [_, Value::Str(object), sockname, host, port] = items else {
                return Err(bad());
            };
            let location = match (sockname, host, port.as_i64()) {
                (Value::Str(path), _, _) => Location::Unix { path: path.clone() },
                (_, Value::Str(host), Some(port)) if (1..=65535).contains(&port) => Location::Tcp {
                    host: host.clone(),
                    port: port as u16,
                },
                _ => return Err(bad()),
            };
            Ok(Target {
                object: object.clone(),
                location,
            })
        }
        _ => Err(bad()),
    }
}

/// Remote NamingErrors from the name server are NAMING errors here.
fn as_naming(e: Error) -> Error {
    match (&e.kind, e.remote.as_ref()) {
        (ErrorKind::Remote, Some(r)) if r.type_name.ends_with("NamingError") => {
            Error::new(ErrorKind::Naming, e.message)
        }
        (ErrorKind::Communication, _) => {
            Error::new(ErrorKind::Naming, format!("name server: {}", e.message))
        }
        _ => e,
    }
}

/// Resolve a name-server URI to a direct target (a direct URI resolves to itself).
pub fn resolve(cfg: &NsConfig, uri: &Uri) -> Result<Target> {
    match uri {
        Uri::Direct(t) => Ok(t.clone()),
        Uri::Name { name, ns } => {
            let (mut conn, ns_target) = locate(cfg, ns.as_ref())?;
            if name == NAMESERVER_NAME {
                return Ok(ns_target);
            }
            let v = conn
                .call("lookup", &[Value::str(name.as_str())], &[])
                .map_err(as_naming)?;
            target_from_value(&v)
        }
        Uri::Meta { meta, ns } => {
            let (mut conn, _) = locate(cfg, ns.as_ref())?;
            let meta_set = Value::Set(meta.iter().map(|m| Value::str(m.as_str())).collect());
            let v = conn
                .call("list", &[], &[("metadata_all".into(), meta_set)])
                .map_err(as_naming)?;
            let Value::Dict(items) = v else {
                return Err(Error::new(
                    ErrorKind::Naming,
                    "name server list() did not return a dict",
                ));
            };
            if items.is_empty() {
                return Err(Error::new(
                    ErrorKind::Naming,
                    format!("no registrations available with desired metadata properties {meta:?}"),
                ));
            }
            // Pyro4 picks one at random; spread load the same way.
            let pick = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() as usize)
                .unwrap_or(0)
                % items.len();
            target_from_value(&items[pick].1)
        }
    }
}

/// The URI (and HMAC key, if any) of a proxy or URI value returned by a call (Pyro4's
/// autoproxy): a `Pyro4.core.Proxy` object (state tuple starting with its URI; the
/// sixth field is its HMAC key, "b64:..." in the dict-based serializers), a
/// `Pyro4.core.URI` object, or URI text.
pub fn proxy_target_from_value(v: &Value) -> Result<(Target, Option<Vec<u8>>)> {
    match v {
        Value::Object(o) if o.class == "Pyro4.core.Proxy" => {
            let state = match &o.state {
                Value::Dict(_) => o
                    .state
                    .dict_get_str("state")
                    .cloned()
                    .unwrap_or(Value::None),
                other => other.clone(),
            };
            let items = state.as_seq().unwrap_or(&[]);
            let target = target_from_value(items.first().unwrap_or(&Value::None))?;
            let hmac = match items.get(5) {
                Some(Value::Bytes(b)) => Some(b.clone()),
                Some(Value::Str(s)) if s.starts_with("b64:") => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(&s[4..])
                        .ok()
                }
                _ => None,
            };
            Ok((target, hmac))
        }
        other => Ok((target_from_value(other)?, None)),
    }
}

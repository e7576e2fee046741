//! Parsed proxy URIs: a direct `PYRO:` target, or a name to resolve through the name
//! server (`PYRONAME:`, `PYROMETA:`).

use crate::error::{Error, Result};
use crate::value::Value;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    Tcp { host: String, port: u16 },
    Unix { path: String },
}

/// A directly reachable object: its id and its daemon's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub object: String,
    pub location: Location,
}

/// Where the name server is, when a URI names it explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NsAddress {
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Uri {
    Direct(Target),
    /// `PYRONAME:name[@host[:port]]`
    Name {
        name: String,
        ns: Option<NsAddress>,
    },
    /// `PYROMETA:meta1,meta2[@host[:port]]`: any object registered with all these metadata.
    Meta {
        meta: Vec<String>,
        ns: Option<NsAddress>,
    },
}

fn bad(uri: &str, what: &str) -> Error {
    Error::invalid(format!("invalid URI {uri:?}: {what}"))
}

/// `host:port`, `[v6]:port`, or (name-server part only) a bare host.
fn host_port(uri: &str, loc: &str, port_required: bool) -> Result<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = loc.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| bad(uri, "unterminated '[' in IPv6 address"))?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(bad(uri, "unexpected text after IPv6 address")),
        }
    } else {
        match loc.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => {
                return Err(bad(
                    uri,
                    "IPv6 addresses must be written in brackets, e.g. [::1]:9090",
                ))
            }
            None => (loc, None),
        }
    };
    if host.is_empty() {
        return Err(bad(uri, "empty host"));
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c == '@' || c == '/')
    {
        return Err(bad(uri, "invalid character in host"));
    }
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(uri, &format!("invalid port {p:?} (1-65535)")))?,
        ),
        None if port_required => return Err(bad(uri, "missing port (expected host:port)")),
        None => None,
    };
    Ok((host.to_string(), port))
}

impl Uri {
    pub fn parse(uri: &str) -> Result<Uri> {
        let (scheme, rest) = uri
            .split_once(':')
            .ok_or_else(|| bad(uri, "expected PYRO:, PYRONAME: or PYROMETA:"))?;
        match scheme.to_ascii_uppercase().as_str() {
            "PYRO" => {
                let (object, loc) = rest
                    .rsplit_once('@')
                    .ok_or_else(|| bad(uri, "missing '@location'"))?;
                if object.is_empty() {
                    return Err(bad(uri, "empty object id"));
                }
                let location = if let Some(path) = loc.strip_prefix("./u:") {
                    if path.is_empty() {
                        return Err(bad(uri, "empty unix socket path"));
                    }
                    Location::Unix {
                        path: path.to_string(),
                    }
                } else {
                    let (host, port) = host_port(uri, loc, true)?;
                    Location::Tcp {
                        host,
                        port: port.expect("required"),
                    }
                };
                Ok(Uri::Direct(Target {
                    object: object.to_string(),
                    location,
                }))
            }
            "PYRONAME" | "PYROMETA" => {
                let (what, ns) = match rest.rsplit_once('@') {
                    Some((w, loc)) => {
                        let (host, port) = host_port(uri, loc, false)?;
                        (w, Some(NsAddress { host, port }))
                    }
                    None => (rest, None),
                };
                if what.is_empty() {
                    return Err(bad(uri, "empty name"));
                }
                if scheme.eq_ignore_ascii_case("PYRONAME") {
                    Ok(Uri::Name {
                        name: what.to_string(),
                        ns,
                    })
                } else {
                    let meta: Vec<String> = what.split(',').map(|m| m.trim().to_string()).collect();
                    if meta.iter().any(String::is_empty) {
                        return Err(bad(uri, "empty metadata item"));
                    }
                    Ok(Uri::Meta { meta, ns })
                }
            }
            other => Err(bad(
                uri,
                &format!("unknown scheme {other:?} (expected PYRO, PYRONAME or PYROMETA)"),
            )),
        }
    }
}

impl Target {
    /// Parse a `PYRO:` URI (direct address only).
    pub fn parse(uri: &str) -> Result<Target> {
        match Uri::parse(uri)? {
            Uri::Direct(t) => Ok(t),
            _ => Err(bad(uri, "a direct PYRO: URI is needed here")),
        }
    }

    pub fn display(&self) -> String {
        match &self.location {
            Location::Tcp { host, port } if host.contains(':') => {
                format!("PYRO:{}@[{host}]:{port}", self.object)
            }
            Location::Tcp { host, port } => format!("PYRO:{}@{host}:{port}", self.object),
            Location::Unix { path } => format!("PYRO:{}@./u:{path}", self.object),
        }
    }
}

/// The URI text of a Pyro4 URI or proxy value, as `URI.asString()` makes it:
/// `PYRO:obj@host:port`, `PYRO:obj@[::1]:port`, `PYRO:obj@./u:path`,
/// `PYRONAME:name[@host:port]`, `PYROMETA:a,b[@host:port]`. A proxy gives its URI's
/// (Python's str() of a proxy is a `<Pyro4.core.Proxy at 0x...>` description, which
/// says nothing to a C program). None for other values and states of unknown form.
pub fn uri_text_from_value(v: &Value) -> Option<String> {
    let Value::Object(o) = v else { return None };
    // The dict-based serializers carry the state under "state"; pickle gives it bare.
    let state = match &o.state {
        Value::Dict(_) => o.state.dict_get_str("state")?,
        bare => bare,
    };
    match o.class.as_str() {
        "Pyro4.core.URI" => uri_state_text(state),
        "Pyro4.core.Proxy" => match state.as_seq()?.first()? {
            // The dict-based serializers send the proxy's URI as text already.
            Value::Str(text) => Some(text.clone()),
            uri => uri_text_from_value(uri),
        },
        _ => None,
    }
}

/// `URI.asString()` over the state `(protocol, object, sockname, host, port)`.
fn uri_state_text(state: &Value) -> Option<String> {
    let [Value::Str(protocol), object, sockname, host, port] = state.as_seq()? else {
        return None;
    };
    let mut out = format!("{protocol}:");
    match object {
        Value::Str(object) => out.push_str(object),
        // PYROMETA's object is its set of metadata, joined in the order it came.
        meta => {
            for (i, m) in meta.as_seq()?.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(m.as_str()?);
            }
        }
    }
    // Python tests host and sockname for truth: None and "" alike mean absent.
    match (host, sockname) {
        (Value::Str(host), _) if !host.is_empty() => {
            let port = port.as_i64()?;
            if host.contains(':') {
                out.push_str(&format!("@[{host}]:{port}"));
            } else {
                out.push_str(&format!("@{host}:{port}"));
            }
        }
        (_, Value::Str(path)) if !path.is_empty() => {
            out.push_str("@./u:");
            out.push_str(path);
        }
        _ => {}
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            Uri::parse("PYRO:obj@127.0.0.1:9090").unwrap(),
            Uri::Direct(Target {
                object: "obj".into(),
                location: Location::Tcp {
                    host: "127.0.0.1".into(),
                    port: 9090
                }
            })
        );
        let Uri::Direct(t) = Uri::parse("PYRO:obj@[::1]:7").unwrap() else {
            panic!()
        };
        assert_eq!(
            t.location,
            Location::Tcp {
                host: "::1".into(),
                port: 7
            }
        );
        assert_eq!(t.display(), "PYRO:obj@[::1]:7");
        let Uri::Direct(t) = Uri::parse("PYRO:obj@./u:/tmp/sock").unwrap() else {
            panic!()
        };
        assert_eq!(
            t.location,
            Location::Unix {
                path: "/tmp/sock".into()
            }
        );
        assert_eq!(
            Uri::parse("PYRONAME:my.name").unwrap(),
            Uri::Name {
                name: "my.name".into(),
                ns: None
            }
        );
        assert_eq!(
            Uri::parse("PYRONAME:my.name@nshost:1234").unwrap(),
            Uri::Name {
                name: "my.name".into(),
                ns: Some(NsAddress {
                    host: "nshost".into(),
                    port: Some(1234)
                })
            }
        );
        assert_eq!(
            Uri::parse("PYROMETA:a, b@localhost").unwrap(),
            Uri::Meta {
                meta: vec!["a".into(), "b".into()],
                ns: Some(NsAddress {
                    host: "localhost".into(),
                    port: None
                })
            }
        );
    }

    fn uri_value(state: Value) -> Value {
        Value::Object(Box::new(crate::value::Object {
            class: "Pyro4.core.URI".into(),
            state,
        }))
    }

    fn uri_state(
        protocol: &str,
        object: Value,
        sockname: Value,
        host: Value,
        port: Value,
    ) -> Value {
        Value::Tuple(vec![Value::str(protocol), object, sockname, host, port])
    }

    /// As the dict-based serializers (state under "state") and pickle (state bare) carry
    /// URIs and proxies; the C tests compare with Python's own str() over the wire.
    #[test]
    fn uri_text_of_uri_and_proxy_values() {
        let tcp = uri_state(
            "PYRO",
            Value::str("obj"),
            Value::None,
            Value::str("127.0.0.1"),
            Value::Int(9090),
        );
        let dict = |s: Value| Value::Dict(vec![(Value::str("state"), s)]);
        for v in [uri_value(tcp.clone()), uri_value(dict(tcp.clone()))] {
            assert_eq!(
                uri_text_from_value(&v).as_deref(),
                Some("PYRO:obj@127.0.0.1:9090")
            );
        }
        let text = |s| uri_text_from_value(&uri_value(s));
        let v6 = uri_state(
            "PYRO",
            Value::str("o"),
            Value::None,
            Value::str("::1"),
            Value::Int(5),
        );
        assert_eq!(text(v6).as_deref(), Some("PYRO:o@[::1]:5"));
        let unix = uri_state(
            "PYRO",
            Value::str("o"),
            Value::str("/tmp/s"),
            Value::None,
            Value::None,
        );
        assert_eq!(text(unix).as_deref(), Some("PYRO:o@./u:/tmp/s"));
        let meta = Value::Set(vec![Value::str("a"), Value::str("b")]);
        let bare = uri_state("PYROMETA", meta, Value::None, Value::None, Value::None);
        assert_eq!(text(bare).as_deref(), Some("PYROMETA:a,b"));
        // Python tests the host for truth: an empty one is no location
        let empty = uri_state(
            "PYRONAME",
            Value::str("n"),
            Value::None,
            Value::str(""),
            Value::Int(1),
        );
        assert_eq!(text(empty).as_deref(), Some("PYRONAME:n"));
        // a proxy: its URI as text (dict-based serializers) or as a URI object (pickle)
        let proxy = |first: Value| {
            Value::Object(Box::new(crate::value::Object {
                class: "Pyro4.core.Proxy".into(),
                state: Value::Tuple(vec![first, Value::Tuple(vec![])]),
            }))
        };
        let p = proxy(Value::str("PYRO:x@h:1"));
        assert_eq!(uri_text_from_value(&p).as_deref(), Some("PYRO:x@h:1"));
        let p = proxy(uri_value(tcp.clone()));
        assert_eq!(
            uri_text_from_value(&p).as_deref(),
            Some("PYRO:obj@127.0.0.1:9090")
        );
        // anything else is not a URI
        let host_without_port = uri_state(
            "PYRO",
            Value::str("o"),
            Value::None,
            Value::str("h"),
            Value::None,
        );
        assert_eq!(text(host_without_port), None);
        assert_eq!(text(Value::Tuple(vec![Value::str("PYRO")])), None);
        assert_eq!(uri_text_from_value(&Value::str("PYRO:x@h:1")), None);
        let other = Value::Object(Box::new(crate::value::Object {
            class: "my.Thing".into(),
            state: tcp,
        }));
        assert_eq!(uri_text_from_value(&other), None);
    }

    #[test]
    fn malformed_uris_say_what_is_wrong() {
        for (uri, what) in [
            ("obj@host:1", "expected PYRO"),
            ("HTTP:x@h:1", "unknown scheme"),
            ("PYRO:obj", "missing '@location'"),
            ("PYRO:@h:1", "empty object id"),
            ("PYRO:o@h", "missing port"),
            ("PYRO:o@h:0", "invalid port"),
            ("PYRO:o@h:99999", "invalid port"),
            ("PYRO:o@::1:5", "brackets"),
            ("PYRO:o@[::1:5", "unterminated"),
            ("PYRO:o@./u:", "unix socket path"),
            ("PYRONAME:", "empty name"),
            ("PYROMETA:a,,b", "empty metadata"),
        ] {
            let e = Uri::parse(uri).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidArgument);
            assert!(e.message.contains(what), "{uri}: {}", e.message);
        }
    }
}

//! Parsed proxy URIs: a direct `PYRO:` target, or a name to resolve through the name
//! server (`PYRONAME:`, `PYROMETA:`).

use crate::error::{Error, Result};

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

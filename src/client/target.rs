//! Where a proxy's calls go: the object id and how to reach its daemon.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Tcp { host: String, port: u16 },
    Unix { path: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub object: String,
    pub location: Location,
}

impl Target {
    /// Parse a `PYRO:` URI (direct address). Name-server URIs come with the naming layer.
    pub fn parse(uri: &str) -> Result<Target> {
        let rest = uri.strip_prefix("PYRO:").ok_or_else(|| {
            Error::invalid(format!(
                "unsupported URI {uri:?}: expected PYRO:obj@host:port"
            ))
        })?;
        let (object, loc) = rest
            .rsplit_once('@')
            .ok_or_else(|| Error::invalid(format!("URI {uri:?} has no '@' before the location")))?;
        if object.is_empty() {
            return Err(Error::invalid(format!(
                "URI {uri:?} has an empty object id"
            )));
        }
        let location = if let Some(path) = loc.strip_prefix("./u:") {
            if path.is_empty() {
                return Err(Error::invalid(format!(
                    "URI {uri:?} has an empty unix socket path"
                )));
            }
            Location::Unix {
                path: path.to_string(),
            }
        } else {
            let (host, port) = loc
                .rsplit_once(':')
                .ok_or_else(|| Error::invalid(format!("URI {uri:?} has no port")))?;
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            if host.is_empty() {
                return Err(Error::invalid(format!("URI {uri:?} has an empty host")));
            }
            let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
                Error::invalid(format!("URI {uri:?} has an invalid port {port:?}"))
            })?;
            Location::Tcp {
                host: host.to_string(),
                port,
            }
        };
        Ok(Target {
            object: object.to_string(),
            location,
        })
    }
}

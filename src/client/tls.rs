//! TLS for Pyro4's SSL mode, with rustls: server certificate checked against a CA file
//! and the host name (or IP) in the URI; optional client certificate.

use crate::error::{Error, ErrorKind, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{self, Read, Write};
use std::sync::Arc;

/// Where the TLS material is (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    pub ca_file: String,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

fn sec(msg: String) -> Error {
    Error::new(ErrorKind::Security, msg)
}

/// Build a client configuration (reads the files now, so errors surface at set-up).
pub fn client_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&files.ca_file)
        .map_err(|e| sec(format!("cannot read CA file {:?}: {e}", files.ca_file)))?;
    for c in certs {
        let c = c.map_err(|e| {
            sec(format!(
                "bad certificate in CA file {:?}: {e}",
                files.ca_file
            ))
        })?;
        roots.add(c).map_err(|e| {
            sec(format!(
                "unusable CA certificate in {:?}: {e}",
                files.ca_file
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(sec(format!(
            "CA file {:?} holds no certificates",
            files.ca_file
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| sec(format!("TLS set-up failed: {e}")))?
        .with_root_certificates(roots);
    let config = match (&files.client_cert, &files.client_key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<std::result::Result<_, _>>())
                .map_err(|e| sec(format!("cannot read client certificate {cert:?}: {e}")))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| sec(format!("cannot read client key {key:?}: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| sec(format!("client certificate rejected: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(Error::invalid(
                "a client certificate needs both the certificate and the key file",
            ))
        }
    };
    Ok(Arc::new(config))
}

/// A TLS session over a non-blocking mio socket.
pub struct TlsStream {
    pub tls: rustls::ClientConnection,
    pub sock: mio::net::TcpStream,
}

/// A TLS failure carried through `io::Error`, so it can be reported as SECURITY.
#[derive(Debug)]
pub struct TlsFailure(pub rustls::Error);

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TLS: {}", self.0)
    }
}

impl std::error::Error for TlsFailure {}

impl TlsStream {
    pub fn new(
        config: Arc<rustls::ClientConfig>,
        host: &str,
        sock: mio::net::TcpStream,
    ) -> Result<TlsStream> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            Error::invalid(format!("cannot use {host:?} as a TLS server name: {e}"))
        })?;
        let tls = rustls::ClientConnection::new(config, name)
            .map_err(|e| sec(format!("TLS set-up failed: {e}")))?;
        Ok(TlsStream { tls, sock })
    }

    /// Write buffered TLS records; Ok even if the socket is full (the rest goes later).
    pub fn flush_tls(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    if let Err(e) = self.tls.process_new_packets() {
                        // Tell the peer why before closing (best effort).
                        let _ = self.flush_tls();
                        return Err(io::Error::other(TlsFailure(e)));
                    }
                    // Handshake messages may need answering.
                    self.flush_tls()?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_tls()?;
        let n = self.tls.writer().write(buf)?;
        self.flush_tls()?;
        if n == 0 && !buf.is_empty() {
            // rustls' plaintext buffer is full until the socket drains.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

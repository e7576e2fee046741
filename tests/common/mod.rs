//! Test harness: start the real Pyro4 test server (tests/fixtures/test_server.py) with
//! the repo's venv Python, wait for its READY line, stop it by pid on drop.
#![allow(dead_code)]

pub mod fake_peer;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A context for a test. With PYRO_TEST_READ_IN_DISPATCH=1 in the environment (the test
/// script runs the runtime suites a second time so), replies are read in dispatch.
pub fn new_context(opts: pyro_async::runtime::ContextOptions) -> pyro_async::runtime::Context {
    let ctx = pyro_async::runtime::Context::new(opts).unwrap();
    if read_in_dispatch() {
        ctx.read_replies_in_dispatch().unwrap();
    }
    ctx
}

/// Every serializer, for tests that run each (kept out of the library: cbindgen would
/// export the enum through an associated constant).
pub const SERIALIZERS: [pyro_async::serial::SerializerId; 4] = [
    pyro_async::serial::SerializerId::Serpent,
    pyro_async::serial::SerializerId::Json,
    pyro_async::serial::SerializerId::Marshal,
    pyro_async::serial::SerializerId::Pickle,
];

pub fn read_in_dispatch() -> bool {
    std::env::var("PYRO_TEST_READ_IN_DISPATCH").is_ok_and(|v| v == "1")
}

/// Block in poll() on the context's fd like a host loop would, up to `ms`.
pub fn wait_fd(ctx: &pyro_async::runtime::Context, ms: i32) {
    let mut p = libc::pollfd {
        fd: ctx.fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    unsafe { libc::poll(&mut p, 1, ms) };
}

/// Poll and dispatch until `done` holds `n` outcomes; fails the test after `secs`.
pub fn run_until<T>(
    ctx: &pyro_async::runtime::Context,
    done: &std::sync::Mutex<Vec<T>>,
    n: usize,
    secs: u64,
) {
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let have = done.lock().unwrap().len();
        if have >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < end,
            "timed out: {have} of {n} calls completed"
        );
        wait_fd(ctx, 50);
        ctx.dispatch(0);
    }
}

pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("PYRO_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} not found: run scripts/setup.sh first",
        p.display()
    );
    p
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub struct TestServer {
    child: Child,
    pub port: u16,
    pub uris: Vec<String>,
}

impl TestServer {
    pub fn start(extra: &[&str]) -> TestServer {
        let mut child = Command::new(python())
            .arg(fixture("test_server.py"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Pyro4 test server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY") {
                    let _ = tx.send(line);
                    return;
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("the Pyro4 test server did not become ready");
            }
        };
        let uris: Vec<String> = line
            .split_whitespace()
            .skip(1)
            .map(str::to_string)
            .collect();
        let port = uris[0].rsplit(':').next().unwrap().parse().unwrap();
        TestServer { child, port, uris }
    }

    /// Kill the server (SIGKILL, by pid) without waiting for a clean shutdown.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn uri(&self, object: &str) -> String {
        format!("PYRO:{object}@127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real Pyro4 name server (tests/fixtures/name_server.py) on 127.0.0.1:port.
pub struct NameServer {
    child: Child,
    pub port: u16,
}

impl NameServer {
    pub fn start(port: u16) -> NameServer {
        let bc = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python())
            .arg(fixture("name_server.py"))
            .args(["127.0.0.1", &port.to_string(), &bc.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("start the Pyro4 name server");
        let end = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < end, "name server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        NameServer { child, port }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NameServer {
    fn drop(&mut self) {
        self.kill();
    }
}

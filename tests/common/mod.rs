//! Test harness: start the real Pyro4 test server (tests/fixtures/test_server.py) with
//! the repo's venv Python, wait for its READY line, stop it by pid on drop.
#![allow(dead_code)]

pub mod fake_peer;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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

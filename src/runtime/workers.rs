//! A small fixed-size pool for work that may block (host-name resolution).
//! Threads start on first use, so a context that never resolves a name has none.

use crossbeam_channel::{Receiver, Sender};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct Workers {
    max: usize,
    tx: Option<Sender<Job>>,
    rx: Receiver<Job>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    pub(crate) fn new(max: usize) -> Workers {
        let (tx, rx) = crossbeam_channel::unbounded();
        Workers {
            max: max.max(1),
            tx: Some(tx),
            rx,
            threads: Vec::new(),
        }
    }

    pub(crate) fn run(&mut self, job: Job) {
        // Grow while there is more queued work than idle capacity, up to the bound.
        if self.threads.len() < self.max && (self.threads.is_empty() || !self.rx.is_empty()) {
            let rx = self.rx.clone();
            let builder = std::thread::Builder::new().name("pyro-worker".into());
            if let Ok(t) = super::threads::spawn(builder, move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            }) {
                self.threads.push(t);
            }
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(job);
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.tx = None;
        // Jobs are short (a resolution); waiting keeps the thread count honest after free.
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

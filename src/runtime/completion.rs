//! The completion queue: outcomes produced on internal threads, consumed by `dispatch`
//! on the host thread, with a [`SignalFd`] readable while anything is queued.

use super::signal_fd::SignalFd;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct CompletionQueue<T> {
    tx: Sender<T>,
    rx: Receiver<T>,
    fd: SignalFd,
    /// True while the fd is (or is about to be) readable; saves a syscall per push under load.
    signaled: AtomicBool,
}

impl<T> CompletionQueue<T> {
    pub fn new() -> io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        Ok(CompletionQueue {
            tx,
            rx,
            fd: SignalFd::new()?,
            signaled: AtomicBool::new(false),
        })
    }

    pub fn fd(&self) -> &SignalFd {
        &self.fd
    }

    pub fn push(&self, item: T) {
        // The receiver lives as long as self, so send cannot fail.
        let _ = self.tx.send(item);
        if !self.signaled.swap(true, Ordering::SeqCst) {
            self.fd.raise();
        }
    }

    /// Queue from inside a dispatch round, on the dispatching thread, before it pops:
    /// the round pops the item, or `end` raises the fd for what it leaves behind, so no
    /// wake-up is needed.
    pub fn push_quiet(&self, item: T) {
        let _ = self.tx.send(item);
    }

    /// Start a dispatch round: the fd is reset before anything is popped, so a push
    /// that races with this round raises it again instead of being lost.
    pub fn begin(&self) {
        self.fd.clear();
        self.signaled.store(false, Ordering::SeqCst);
    }

    pub fn pop(&self) -> Option<T> {
        match self.rx.try_recv() {
            Ok(t) => Some(t),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => None,
        }
    }

    /// End a dispatch round: if items remain (dispatch stopped at its maximum), raise the
    /// fd with a fresh write so level- and edge-triggered pollers both see it.
    pub fn end(&self) {
        if !self.rx.is_empty() {
            self.signaled.store(true, Ordering::SeqCst);
            self.fd.raise();
        }
    }

    pub fn is_signaled(&self) -> bool {
        self.signaled.load(Ordering::SeqCst)
    }

    pub fn len(&self) -> usize {
        self.rx.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_tracks_pending_items() {
        let q = CompletionQueue::new().unwrap();
        assert!(!q.fd().is_readable());
        q.push(1);
        q.push(2);
        assert!(q.fd().is_readable());
        q.begin();
        assert_eq!(q.pop(), Some(1));
        q.end();
        assert!(q.fd().is_readable(), "one item left: fd must stay readable");
        q.begin();
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), None);
        q.end();
        assert!(!q.fd().is_readable());
    }

    #[test]
    fn push_racing_with_dispatch_is_never_lost() {
        use std::sync::Arc;
        let q = Arc::new(CompletionQueue::new().unwrap());
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..200_000u32 {
                    q.push(i);
                }
            })
        };
        let mut got = 0u32;
        while got < 200_000 {
            // Block in poll like a host loop would: a lost wake-up hangs here.
            let mut pfd = libc::pollfd {
                fd: q.fd().raw(),
                events: libc::POLLIN,
                revents: 0,
            };
            let r = unsafe { libc::poll(&mut pfd, 1, 5000) };
            assert_eq!(
                r,
                1,
                "fd not readable with {} items outstanding",
                200_000 - got
            );
            q.begin();
            for _ in 0..100 {
                match q.pop() {
                    Some(_) => got += 1,
                    None => break,
                }
            }
            q.end();
        }
        producer.join().unwrap();
        q.begin();
        q.end();
        assert!(!q.fd().is_readable());
    }
}

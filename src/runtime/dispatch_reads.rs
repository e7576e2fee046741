//! Replies read by the host thread inside dispatch (opt-in, Linux).
//!
//! By default the I/O thread reads every reply and wakes the host through the completion
//! fd: two thread wake-ups per reply. In this mode a ready plain connection's socket
//! joins a level-triggered epoll set that also holds the completion fd, and that set's
//! fd is what the host polls. A reply then wakes only the host, and dispatch reads it
//! there: one wake-up and three fewer syscalls per call. Connecting, handshakes, TLS,
//! timers, retries and failures stay with the I/O thread.
//!
//! With at most two sockets in the set and the completion fd not signalled, a round
//! reads the sockets straight away instead of asking the set which are ready (one
//! syscall less per reply); a round that finds nothing that way asks the set, so a
//! completion fd left raised by a racing push is still reset.

use super::context::{ProxyId, Shared};
use super::id_map::IdMap;
use super::reactor::Command;
use crate::client::inbox::Inbox;
use crate::client::ready_set::{ReadySet, MAX_READY, SIGNAL_TOKEN};
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

pub(crate) struct DispatchReads {
    set: Arc<ReadySet>,
    /// The inbox of each proxy whose socket is in the set, by proxy id (= its token).
    lanes: Mutex<IdMap<Arc<Mutex<Inbox>>>>,
}

impl DispatchReads {
    pub(crate) fn new(signal_fd: RawFd) -> io::Result<DispatchReads> {
        let set = Arc::new(ReadySet::new()?);
        set.add(signal_fd, SIGNAL_TOKEN)?;
        Ok(DispatchReads {
            set,
            lanes: Mutex::new(IdMap::default()),
        })
    }

    /// What the host polls.
    pub(crate) fn fd(&self) -> RawFd {
        self.set.fd()
    }

    /// I/O thread: from now on the proxy's ready socket `fd` is read in dispatch.
    pub(crate) fn attach(
        &self,
        proxy: ProxyId,
        inbox: &Arc<Mutex<Inbox>>,
        fd: RawFd,
    ) -> io::Result<()> {
        inbox.lock().unwrap().attach(self.set.clone(), fd, proxy)?;
        self.lanes.lock().unwrap().insert(proxy, inbox.clone());
        Ok(())
    }

    /// The proxy is gone: drop its inbox (the connection detached it already).
    pub(crate) fn forget(&self, proxy: ProxyId) {
        self.lanes.lock().unwrap().remove(&proxy);
    }

    /// Start of a dispatch round: read every member socket that has bytes, queueing
    /// the replies it completes (popped by this round). Returns whether the completion
    /// fd itself was readable (the round must reset it then).
    pub(crate) fn read_ready(&self, shared: &Arc<Shared>) -> bool {
        if !shared.queue_signaled() && self.read_few_directly(shared) {
            return false;
        }
        let mut tokens = [0u64; MAX_READY];
        let n = self.set.ready(&mut tokens);
        let mut signaled = false;
        for &token in &tokens[..n] {
            if token == SIGNAL_TOKEN {
                signaled = true;
                continue;
            }
            let inbox = self.lanes.lock().unwrap().get(&token).cloned();
            if let Some(inbox) = inbox {
                read_lane(shared, token, &inbox);
            }
        }
        signaled
    }

    /// With the completion fd not signalled and at most `FEW_LANES` sockets in the set,
    /// read them without asking the set which are ready (saves a syscall per round).
    /// True if that completed a reply or failed a connection; false when it found
    /// nothing, and the round must ask the set (the wake-up was for something else).
    fn read_few_directly(&self, shared: &Arc<Shared>) -> bool {
        let mut few: [Option<(ProxyId, Arc<Mutex<Inbox>>)>; FEW_LANES] = Default::default();
        {
            let lanes = self.lanes.lock().unwrap();
            if lanes.len() > FEW_LANES {
                return false;
            }
            for (slot, (id, inbox)) in few.iter_mut().zip(lanes.iter()) {
                *slot = Some((*id, inbox.clone()));
            }
        }
        let mut progress = 0;
        for (id, inbox) in few.iter().flatten() {
            progress += read_lane(shared, *id, inbox);
        }
        progress > 0
    }
}

/// At most this many sockets are read without asking the set first.
const FEW_LANES: usize = 2;

/// Read one lane's socket and queue what it completes. Returns how many calls that
/// completed, counting a failed connection as one (the round made progress).
fn read_lane(shared: &Arc<Shared>, proxy: ProxyId, inbox: &Mutex<Inbox>) -> usize {
    let mut n = 0;
    // Queued while the inbox is locked: replies of one connection keep their order even
    // if the I/O thread reads this socket too (it does on socket errors).
    let failed = inbox
        .lock()
        .unwrap()
        .read_here(&mut |call, outcome| {
            super::decode::deliver(shared, proxy, call, outcome, true);
            n += 1;
        })
        .is_err();
    if failed {
        // The I/O thread fails the connection's other calls and reconnects.
        shared.reactor.send(Command::LaneFailed(proxy));
        n += 1;
    }
    n
}

//! Where the library's threads come from, and what a `fork()` does to a context.
//!
//! Signals: a process-directed signal goes to any thread that does not block it, so a
//! library thread that left SIGINT unblocked would take the host's Ctrl-C (and die of it
//! under the default disposition) while the host waits for it with `sigwait` or a
//! `signalfd`. Every thread is therefore created with the signals blocked: the spawning
//! thread blocks them around `pthread_create`, which hands its mask to the new thread,
//! and restores its own at once, so the new thread never runs a single instruction with
//! a signal unblocked (blocking from inside the new thread would leave that window).
//!
//! Fork: a child process has only the thread that called `fork()`; a context made in
//! the parent has no I/O thread there, and its locks may have been held by threads that
//! no longer exist. The process id a context was made in is compared with the current
//! one at each entry point, from a copy refreshed by a `pthread_atfork` child handler,
//! so the check costs a relaxed load instead of a `getpid()` system call.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;
use std::thread::{Builder, JoinHandle};

/// Start a thread with every asynchronous signal blocked.
pub(crate) fn spawn<F, T>(builder: Builder, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let _blocked = BlockedSignals::new();
    builder.spawn(f)
}

/// The calling thread's signal mask with every signal blocked except those raised
/// synchronously by a fault: blocking those would not stop them (the kernel kills the
/// process instead), only rob the fault of its usual report, and nobody `sigwait`s for
/// them. The old mask comes back on drop, also when the spawn fails.
struct BlockedSignals {
    old: libc::sigset_t,
}

impl BlockedSignals {
    fn new() -> BlockedSignals {
        // SAFETY: plain libc calls on local, initialised signal sets.
        unsafe {
            let mut block: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut block);
            for sig in [
                libc::SIGSEGV,
                libc::SIGBUS,
                libc::SIGFPE,
                libc::SIGILL,
                libc::SIGTRAP,
            ] {
                libc::sigdelset(&mut block, sig);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
            BlockedSignals { old }
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new` on this same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// This process's id as of the last `fork()` (0 until the first context is made).
static PID: AtomicI32 = AtomicI32::new(0);
static ATFORK: Once = Once::new();

extern "C" fn refresh_pid_in_child() {
    // SAFETY: getpid is async-signal-safe, as a fork child handler requires.
    PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
}

/// The id of the process a context made now belongs to (and starts tracking forks).
pub(crate) fn owner_pid() -> i32 {
    ATFORK.call_once(|| {
        // SAFETY: registers a handler that only stores an integer. A library that is
        // unloaded has its handlers removed by the C library (registered against its
        // __dso_handle).
        unsafe {
            PID.store(libc::getpid(), Ordering::Relaxed);
            libc::pthread_atfork(None, None, Some(refresh_pid_in_child));
        }
    });
    PID.load(Ordering::Relaxed)
}

/// The id of the current process, as tracked since the first context was made.
pub(crate) fn current_pid() -> i32 {
    PID.load(Ordering::Relaxed)
}

//! The pollable fd behind the completion queue: an eventfd on Linux, a pipe elsewhere.
//!
//! Only "readable or not" matters; the counter value is meaningless.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct SignalFd {
    read: OwnedFd,
    #[cfg(not(target_os = "linux"))]
    write: OwnedFd,
}

impl SignalFd {
    #[cfg(target_os = "linux")]
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the returned fd is owned by OwnedFd from here on.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SignalFd {
            read: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn new() -> io::Result<Self> {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid 2-element array.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        for fd in fds {
            unsafe {
                libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        Ok(SignalFd {
            read: unsafe { OwnedFd::from_raw_fd(fds[0]) },
            write: unsafe { OwnedFd::from_raw_fd(fds[1]) },
        })
    }

    pub fn raw(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Make the fd readable. Every call is a fresh wake-up, so edge-triggered
    /// epoll sees a new edge even when the fd was already readable.
    pub fn raise(&self) {
        #[cfg(target_os = "linux")]
        let fd = self.read.as_raw_fd();
        #[cfg(not(target_os = "linux"))]
        let fd = self.write.as_raw_fd();
        let one: u64 = 1;
        // A full eventfd counter or pipe (EAGAIN) is already readable: nothing to do.
        // SAFETY: writing 8 bytes from a valid u64.
        unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
    }

    /// Make the fd not readable (until the next `raise`).
    pub fn clear(&self) {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reading into a valid local buffer.
            let n = unsafe {
                libc::read(
                    self.read.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                )
            };
            // eventfd resets in one read; a pipe is drained until EAGAIN.
            if n <= 0 || cfg!(target_os = "linux") {
                break;
            }
        }
    }

    /// Whether the fd is readable right now (for tests and assertions).
    #[cfg(test)]
    pub fn is_readable(&self) -> bool {
        crate::client::ready_set::readable_now(self.read.as_raw_fd())
    }
}

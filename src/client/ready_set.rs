//! A level-triggered epoll set: sockets whose replies the host thread reads inside
//! dispatch, plus the completion fd. Its own fd is what the host polls then: readable
//! while any member is.
//!
//! Level-triggered on purpose: a member that still holds unread bytes keeps the set
//! readable, so nothing is lost if a reader stops early, and the set is readable exactly
//! while a member is (which an edge-triggered set is not once an edge was harvested).

use std::io;
use std::os::fd::RawFd;

/// Members are named by a token; this one is reserved for the completion fd.
pub(crate) const SIGNAL_TOKEN: u64 = u64::MAX;

/// At most this many ready members are taken per `ready` call; the rest stay ready.
pub(crate) const MAX_READY: usize = 64;

#[cfg(target_os = "linux")]
pub struct ReadySet {
    epfd: std::os::fd::OwnedFd,
}

#[cfg(target_os = "linux")]
impl ReadySet {
    pub fn new() -> io::Result<ReadySet> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain syscall; the fd is owned by OwnedFd from here on.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ReadySet {
            epfd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn fd(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.epfd.as_raw_fd()
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
            u64: token,
        };
        // SAFETY: valid epoll fd and event struct; fd validity is the caller's promise.
        if unsafe { libc::epoll_ctl(self.fd(), op, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Watch `fd` for readability, reported as `token`. The caller keeps `fd` open until
    /// it has called `remove`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token)
    }

    pub fn remove(&self, fd: RawFd) {
        // ENOENT/EBADF only mean it is not a member any more.
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0);
    }

    /// Tokens of the members readable now (never waits). Returns how many were written.
    pub fn ready(&self, out: &mut [u64; MAX_READY]) -> usize {
        // Called on every dispatch round: the kernel fills what it reports, nothing
        // needs zeroing first.
        let mut evs = std::mem::MaybeUninit::<[libc::epoll_event; MAX_READY]>::uninit();
        let first = evs.as_mut_ptr() as *mut libc::epoll_event;
        let n = loop {
            // SAFETY: room for MAX_READY events; zero timeout.
            let n = unsafe { libc::epoll_wait(self.fd(), first, MAX_READY as i32, 0) };
            if n >= 0 {
                break n as usize;
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return 0;
            }
        };
        for (i, slot) in out.iter_mut().enumerate().take(n) {
            // SAFETY: the kernel wrote the first n events.
            *slot = unsafe { (*first.add(i)).u64 };
        }
        n
    }
}

/// Other systems have no level-triggered set whose fd can be polled this way here:
/// reading in dispatch is refused there.
#[cfg(not(target_os = "linux"))]
pub struct ReadySet {
    never: std::convert::Infallible,
}

#[cfg(not(target_os = "linux"))]
impl ReadySet {
    pub fn new() -> io::Result<ReadySet> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "reading replies in dispatch needs Linux (epoll)",
        ))
    }
    pub fn fd(&self) -> RawFd {
        match self.never {}
    }
    pub fn add(&self, _fd: RawFd, _token: u64) -> io::Result<()> {
        match self.never {}
    }
    pub fn remove(&self, _fd: RawFd) {
        match self.never {}
    }
    pub fn ready(&self, _out: &mut [u64; MAX_READY]) -> usize {
        match self.never {}
    }
}

/// Whether `fd` is readable right now (for tests of the fds the host polls).
#[cfg(test)]
pub(crate) fn readable_now(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::readable_now as readable;
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn set_is_readable_exactly_while_a_member_is() {
        let set = ReadySet::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        let (mut c, d) = UnixStream::pair().unwrap();
        set.add(b.as_raw_fd(), 7).unwrap();
        set.add(d.as_raw_fd(), 9).unwrap();
        assert!(!readable(set.fd()));
        let mut out = [0u64; MAX_READY];
        assert_eq!(set.ready(&mut out), 0);
        a.write_all(b"x").unwrap();
        c.write_all(b"y").unwrap();
        assert!(readable(set.fd()));
        let n = set.ready(&mut out);
        let mut got = out[..n].to_vec();
        got.sort();
        assert_eq!(got, vec![7, 9]);
        // Harvesting does not consume: the bytes are still there (level-triggered).
        assert!(readable(set.fd()));
        let mut buf = [0u8; 4];
        use std::io::Read;
        assert_eq!((&b).read(&mut buf).unwrap(), 1);
        let n = set.ready(&mut out);
        assert_eq!(&out[..n], &[9]);
        set.remove(d.as_raw_fd());
        assert!(!readable(set.fd()), "a removed member no longer counts");
        set.remove(d.as_raw_fd()); // twice is harmless
    }
}

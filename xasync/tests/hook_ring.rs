//! Feature `hook` on the io_uring backend: a coroutine's blocking receive
//! or send on a socket is made in its worker's ring, with the caller's
//! buffer, and ends as a readiness wait would — with the data, `EBADF`
//! once the descriptor is closed (from any thread), `EAGAIN` at the
//! descriptor's timeout, `ECANCELED` when the coroutine is cancelled — and
//! the same calls behave alike on the epoll backend.
#![cfg(all(feature = "hook", target_os = "linux"))]

mod bounded;
mod uring;

use bounded::within;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use xasync::io::IoBackend;
use xasync::{Runtime, xawait};

/// The runtimes to run a test on: epoll's, and io_uring's where there is
/// one, named.
fn backends(workers: usize) -> Vec<(IoBackend, Runtime)> {
    let epoll = Runtime::builder()
        .workers(workers)
        .io(IoBackend::Epoll)
        .build()
        .unwrap();
    let mut runtimes = vec![(IoBackend::Epoll, epoll)];
    runtimes.extend(uring::runtime(workers).map(|rt| (IoBackend::Uring, rt)));
    runtimes
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

/// Whether `fd`'s file is registered in an epoll instance of this process
/// (a readiness wait registers it; a call made in a ring does not): the
/// epoll instances' `/proc/self/fdinfo` list their files by inode.
fn in_epoll(fd: RawFd) -> bool {
    // SAFETY: fstat fills a stat buffer.
    let inode = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        assert_eq!(libc::fstat(fd, &mut stat), 0);
        stat.st_ino
    };
    let entry = format!(" ino:{inode:x} ");
    std::fs::read_dir("/proc/self/fd").unwrap().any(|link| {
        let link = link.unwrap();
        let is_epoll = std::fs::read_link(link.path())
            .is_ok_and(|target| target.as_os_str() == "anon_inode:[eventpoll]");
        let info = format!("/proc/self/fdinfo/{}", link.file_name().to_string_lossy());
        is_epoll
            && std::fs::read_to_string(info).is_ok_and(|info| {
                info.lines()
                    .any(|line| line.starts_with("tfd:") && line.contains(&entry))
            })
    })
}

/// Writes `data` to `peer` from a plain thread after `delay`; joins to
/// the peer.
fn later(
    peer: UnixStream,
    delay: Duration,
    data: &'static [u8],
) -> std::thread::JoinHandle<UnixStream> {
    std::thread::spawn(move || {
        let mut peer = peer;
        std::thread::sleep(delay);
        peer.write_all(data).unwrap();
        peer
    })
}

#[test]
fn a_blocking_read_on_a_socket_is_made_in_the_ring_not_registered() {
    for (backend, runtime) in backends(1) {
        xawait(runtime.xasync(move || {
            let (a, b) = UnixStream::pair().unwrap();
            let peer = later(b, Duration::from_millis(20), b"hello");
            let mut buf = [0u8; 16];
            // SAFETY: a valid buffer of that length.
            let got = unsafe { libc::read(a.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            assert_eq!(&buf[..got as usize], b"hello", "{backend:?}");
            assert_eq!(
                in_epoll(a.as_raw_fd()),
                backend == IoBackend::Epoll,
                "{backend:?}: a readiness wait registers the socket, a ring call does not"
            );
            drop(peer.join().unwrap());
        }));
    }
}

#[test]
fn hooked_receives_and_sends_keep_their_semantics_on_both_backends() {
    for (backend, runtime) in backends(2) {
        xawait(runtime.xasync(move || {
            let (a, b) = UnixStream::pair().unwrap();
            let fd = a.as_raw_fd();
            let mut buf = [0u8; 8];
            // MSG_PEEK waits, and leaves the data for the next receive.
            let peer = later(b, Duration::from_millis(10), b"peek");
            // SAFETY: valid buffers of those lengths, here and below.
            let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), 8, libc::MSG_PEEK) };
            assert_eq!(&buf[..got as usize], b"peek", "{backend:?}");
            // SAFETY: as above.
            let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), 8, 0) };
            assert_eq!(&buf[..got as usize], b"peek", "{backend:?}");
            // MSG_DONTWAIT does not wait.
            // SAFETY: as above.
            let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), 8, libc::MSG_DONTWAIT) };
            assert_eq!((got, errno()), (-1, libc::EAGAIN), "{backend:?}");
            // MSG_WAITALL waits for the whole length, sent in two parts.
            let b = peer.join().unwrap();
            let peer = std::thread::spawn(move || {
                let mut b = b;
                b.write_all(b"wait").unwrap();
                std::thread::sleep(Duration::from_millis(10));
                b.write_all(b"all!").unwrap();
                b
            });
            // SAFETY: as above.
            let got = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), 8, libc::MSG_WAITALL) };
            assert_eq!(&buf[..got as usize], b"waitall!", "{backend:?}");
            // readv and recvmsg scatter into their vectors.
            let peer = later(peer.join().unwrap(), Duration::from_millis(10), b"abcdef");
            let (mut x, mut y) = ([0u8; 2], [0u8; 4]);
            let iov = [
                libc::iovec {
                    iov_base: x.as_mut_ptr().cast(),
                    iov_len: 2,
                },
                libc::iovec {
                    iov_base: y.as_mut_ptr().cast(),
                    iov_len: 4,
                },
            ];
            // SAFETY: two valid iovecs.
            assert_eq!(unsafe { libc::readv(fd, iov.as_ptr(), 2) }, 6);
            assert_eq!((&x, &y), (b"ab", b"cdef"), "{backend:?}");
            let peer = later(peer.join().unwrap(), Duration::from_millis(10), b"ghijkl");
            // SAFETY: a msghdr is plain data, for which zeros are valid.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = iov.as_ptr().cast_mut();
            msg.msg_iovlen = 2;
            // SAFETY: a header of two valid iovecs.
            assert_eq!(unsafe { libc::recvmsg(fd, &mut msg, 0) }, 6);
            assert_eq!((&x, &y), (b"gh", b"ijkl"), "{backend:?}");
            // A large write to a slow reader is written whole.
            let mut b = peer.join().unwrap();
            let reader = std::thread::spawn(move || {
                let mut all = Vec::new();
                b.read_to_end(&mut all).unwrap();
                all
            });
            let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
            // SAFETY: a valid buffer of that length.
            let sent = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
            assert_eq!(sent as usize, data.len(), "{backend:?}");
            drop(a);
            assert!(reader.join().unwrap() == data, "{backend:?}");
        }));
    }
}

#[test]
fn recvmsg_reports_its_flags_on_both_backends() {
    for (backend, runtime) in backends(1) {
        xawait(runtime.xasync(move || {
            let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
            let peer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                b.send(b"too long").unwrap();
                b
            });
            let mut short = [0u8; 3];
            let iov = libc::iovec {
                iov_base: short.as_mut_ptr().cast(),
                iov_len: 3,
            };
            // SAFETY: a msghdr is plain data, for which zeros are valid.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = (&raw const iov).cast_mut();
            msg.msg_iovlen = 1;
            // SAFETY: a header of one valid iovec.
            let got = unsafe { libc::recvmsg(a.as_raw_fd(), &mut msg, 0) };
            assert_eq!((got, &short), (3, b"too"), "{backend:?}");
            assert_eq!(
                msg.msg_flags & libc::MSG_TRUNC,
                libc::MSG_TRUNC,
                "{backend:?}"
            );
            assert_eq!(in_epoll(a.as_raw_fd()), backend == IoBackend::Epoll);
            drop(peer.join().unwrap());
        }));
    }
}

/// Gives `stream` the descriptor number `number` (free before).
fn at_number(stream: UnixStream, number: RawFd) -> UnixStream {
    let fd = stream.into_raw_fd();
    // SAFETY: `fd` is ours; `number` is free.
    unsafe {
        assert_eq!(libc::dup2(fd, number), number);
        libc::close(fd);
        UnixStream::from_raw_fd(number)
    }
}

#[test]
fn a_close_from_another_coroutine_ends_a_ring_read_with_ebadf() {
    const NUMBER: RawFd = 941;
    for (backend, runtime) in backends(1) {
        let (a, _b) = UnixStream::pair().unwrap();
        let (c, mut d) = UnixStream::pair().unwrap();
        let a = at_number(a, NUMBER);
        let done = within(Duration::from_secs(10), "the read", move || {
            xawait(runtime.xasync(move || {
                // Closes the number under the read, gives it to another
                // socket at once and writes there: the read must not take
                // that socket's data.
                let closer = xasync::xasync(move || {
                    drop(a);
                    let c = at_number(c, NUMBER);
                    d.write_all(b"new").unwrap();
                    (c, d)
                });
                let mut buf = [0u8; 8];
                // SAFETY: a valid buffer; the descriptor is closed under it.
                let got = unsafe { libc::read(NUMBER, buf.as_mut_ptr().cast(), 8) };
                let failed = (got, errno());
                let (mut c, d) = xawait(closer);
                let mut reused = [0u8; 3];
                c.read_exact(&mut reused).unwrap();
                (failed, reused, d)
            }))
        });
        assert_eq!(done.0, (-1, libc::EBADF), "{backend:?}");
        assert_eq!(&done.1, b"new", "{backend:?}");
    }
}

#[test]
fn a_close_from_a_plain_thread_ends_a_ring_read_on_another_worker() {
    for (backend, runtime) in backends(2) {
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let (reading, read) = mpsc::channel();
        let reader = runtime.xasync(move || {
            let mut buf = [0u8; 8];
            reading.send(()).unwrap();
            // SAFETY: a valid buffer; the descriptor is closed under it.
            let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 8) };
            (got, errno())
        });
        read.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(a);
        let got = within(Duration::from_secs(10), "the read", move || xawait(reader));
        assert_eq!(got, (-1, libc::EBADF), "{backend:?}");
    }
}

#[test]
fn a_cancelled_ring_read_returns_ecanceled_and_leaves_the_buffer_alone() {
    let Some(runtime) = uring::runtime(1) else {
        return;
    };
    let (a, b) = UnixStream::pair().unwrap();
    let (mut a, mut b) = xawait(runtime.xasync(move || {
        let mut a = a;
        // Made non-blocking (by a wait), so a plain thread may read too.
        let peer = later(b, Duration::from_millis(1), b"!");
        a.read_exact(&mut [0; 1]).unwrap();
        (a, peer.join().unwrap())
    }));
    for round in 0..1000 {
        let (reading, read) = mpsc::channel();
        let (returned, returns) = mpsc::channel();
        let (written, writes) = mpsc::channel::<()>();
        let (framed, frame) = mpsc::channel();
        let fd = a.as_raw_fd();
        let reader = runtime.xasync(move || {
            let mut buf = [0u8; 64];
            reading.send(()).unwrap();
            // SAFETY: a valid buffer of that length.
            let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            returned.send((got, errno())).unwrap();
            // Blocks the worker (a futex is not hooked) until the peer has
            // written: a read left in the ring would take that data into
            // `buf`.
            writes.recv().unwrap();
            framed.send(buf).unwrap();
        });
        read.recv().unwrap();
        if round % 2 == 1 {
            std::thread::sleep(Duration::from_micros(200));
        }
        reader.cancel();
        assert_eq!(
            returns.recv().unwrap(),
            (-1, libc::ECANCELED),
            "round {round}"
        );
        b.write_all(b"data").unwrap();
        written.send(()).unwrap();
        assert_eq!(
            frame.recv().unwrap(),
            [0; 64],
            "round {round}: written after"
        );
        drop(reader);
        let mut data = [0u8; 4];
        a.read_exact(&mut data).unwrap();
        assert_eq!(&data, b"data", "round {round}: the cancelled read took it");
    }
    runtime.shutdown();
}

#[test]
fn so_rcvtimeo_ends_a_ring_read_with_eagain_and_keeps_later_data() {
    for (backend, runtime) in backends(1) {
        xawait(runtime.xasync(move || {
            let (mut a, b) = UnixStream::pair().unwrap();
            a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let start = Instant::now();
            let error = a.read(&mut [0; 8]).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::WouldBlock, "{backend:?}");
            assert!(start.elapsed() >= Duration::from_millis(50), "{backend:?}");
            assert_eq!(in_epoll(a.as_raw_fd()), backend == IoBackend::Epoll);
            let peer = later(b, Duration::from_millis(10), b"late");
            let mut buf = [0u8; 4];
            a.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"late", "{backend:?}");
            drop(peer.join().unwrap());
        }));
    }
}

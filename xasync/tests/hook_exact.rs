//! Feature `hook`: the emulated calls keep the semantics of the real ones
//! (non-blocking mode as the user set it, timeouts, whole writes, errno,
//! descriptor numbers), and only coroutines wait at the hooks: plain
//! threads and code inside `Future::poll` get the real calls.
#![cfg(all(feature = "hook", target_os = "linux"))]

mod bounded;

use bounded::within;
use std::future::poll_fn;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};
use xasync::{Runtime, xawait};

fn one_worker() -> Runtime {
    Runtime::builder().workers(1).build().unwrap()
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap()
}

fn nonblocking_flag(fd: i32) -> bool {
    // SAFETY: F_GETFL on an open descriptor.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(flags >= 0);
    flags & libc::O_NONBLOCK != 0
}

/// Counts in a coroutine every millisecond: shows whether the worker ran
/// other coroutines while one waited.
fn ticker(runtime: &Runtime) -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let ticks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicUsize::new(0));
    let (t, s) = (ticks.clone(), stop.clone());
    drop(runtime.xasync(move || {
        while s.load(Ordering::Relaxed) == 0 {
            xasync::time::sleep(Duration::from_millis(1));
            t.fetch_add(1, Ordering::Relaxed);
        }
    }));
    (ticks, stop)
}

#[test]
fn user_nonblocking_gets_eagain_in_a_coroutine() {
    let runtime = one_worker();
    xawait(runtime.xasync(|| {
        let (mut a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap(); // ioctl(FIONBIO)
        let error = a.read(&mut [0; 8]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WouldBlock);
        // The same with fcntl(F_SETFL, O_NONBLOCK) on a fresh one.
        let (mut c, _d) = UnixStream::pair().unwrap();
        let fd = c.as_raw_fd();
        // SAFETY: F_GETFL/F_SETFL on an open descriptor.
        unsafe {
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            )
        };
        let error = c.read(&mut [0; 8]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WouldBlock);
    }));
}

#[test]
fn f_getfl_reports_what_the_user_set() {
    let runtime = one_worker();
    xawait(runtime.xasync(|| {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        b.write_all(b"x").unwrap();
        a.read_exact(&mut [0; 1]).unwrap(); // the hooks make it non-blocking
        assert!(!nonblocking_flag(fd), "the user did not set O_NONBLOCK");
        a.set_nonblocking(true).unwrap();
        assert!(nonblocking_flag(fd));
        a.set_nonblocking(false).unwrap();
        assert!(!nonblocking_flag(fd));
        // SAFETY: F_GETFL/F_SETFL on an open descriptor.
        unsafe {
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            )
        };
        assert!(nonblocking_flag(fd));
        // SAFETY: as above.
        unsafe {
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) & !libc::O_NONBLOCK,
            )
        };
        assert!(!nonblocking_flag(fd));
        // Blocking again for the user: a read waits for data.
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            b.write_all(b"y").unwrap();
            b
        });
        let mut byte = [0; 1];
        a.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"y");
        drop(writer.join().unwrap());
    }));
}

#[test]
fn so_rcvtimeo_times_out_with_eagain_and_suspends() {
    let runtime = one_worker();
    let (ticks, stop) = ticker(&runtime);
    xawait(runtime.xasync(move || {
        let (mut a, _b) = UnixStream::pair().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let before = ticks.load(Ordering::Relaxed);
        let start = Instant::now();
        let error = a.read(&mut [0; 8]).unwrap_err();
        let took = start.elapsed();
        // Linux reports a receive timeout as EAGAIN (WouldBlock).
        assert_eq!(error.kind(), ErrorKind::WouldBlock);
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(
            ticks.load(Ordering::Relaxed) > before,
            "the worker ran nothing else while the read waited"
        );
        stop.store(1, Ordering::Relaxed);
    }));
}

#[test]
fn a_large_write_to_a_slow_reader_is_written_whole() {
    const LEN: usize = 4 << 20;
    let runtime = one_worker();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        let mut buf = vec![0; 64 << 10];
        while got < LEN {
            std::thread::sleep(Duration::from_millis(1));
            got += b.read(&mut buf).unwrap();
        }
        got
    });
    let written = xawait(runtime.xasync(move || {
        // One write(2) call: blocking semantics write all of it.
        a.write(&vec![7; LEN]).unwrap()
    }));
    assert_eq!(written, LEN);
    assert_eq!(reader.join().unwrap(), LEN);
}

#[test]
fn errno_is_the_real_calls_on_a_plain_thread() {
    let mut buf = [0u8; 4];
    // SAFETY: reads into a valid buffer; -1 is no descriptor.
    let got = unsafe { libc::read(-1, buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!((got, errno()), (-1, libc::EBADF));
    let (a, _b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    // SAFETY: as above, on an open, empty, non-blocking socket.
    let got = unsafe { libc::read(a.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!((got, errno()), (-1, libc::EAGAIN));
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 2_000_000_000,
    };
    // SAFETY: valid timespecs.
    let got = unsafe { libc::nanosleep(&ts, &mut ts) };
    assert_eq!((got, errno()), (-1, libc::EINVAL));
}

/// A descriptor number no other test uses (tests run in parallel and take
/// the lowest free numbers), below the usual limit of 1024.
const NUMBER: i32 = 1000;

/// Moves `stream` to descriptor `NUMBER` (which must be free).
fn at_number(stream: UnixStream) -> UnixStream {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let fd = stream.into_raw_fd();
    // SAFETY: `fd` is ours; NUMBER is free (closed by the test).
    unsafe {
        assert_eq!(libc::dup2(fd, NUMBER), NUMBER);
        libc::close(fd);
        UnixStream::from_raw_fd(NUMBER)
    }
}

#[test]
fn a_closed_number_is_reused_cleanly() {
    let runtime = one_worker();
    xawait(runtime.xasync(|| {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut a = at_number(a);
        let peer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            b.write_all(b"1").unwrap();
            b
        });
        a.read_exact(&mut [0; 1]).unwrap(); // waited: registered
        drop(a); // close(NUMBER)
        drop(peer.join().unwrap());
        // The number comes back for another socket.
        let (c, mut d) = UnixStream::pair().unwrap();
        let mut c = at_number(c);
        let peer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            d.write_all(b"2").unwrap();
            d
        });
        let mut byte = [0; 1];
        c.read_exact(&mut byte).unwrap(); // waits on a new registration
        assert_eq!(&byte, b"2");
        assert!(!nonblocking_flag(NUMBER));
        drop(peer.join().unwrap());
    }));
}

#[test]
fn close_wakes_a_coroutine_waiting_on_the_descriptor() {
    let runtime = one_worker();
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let reader = runtime.xasync(move || {
        let mut buf = [0u8; 1];
        // SAFETY: a valid buffer; the descriptor is closed under it.
        let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 1) };
        (got, errno())
    });
    xawait(runtime.xasync(move || {
        xasync::time::sleep(Duration::from_millis(20));
        drop(a);
    }));
    assert_eq!(xawait(reader), (-1, libc::EBADF));
}

#[test]
fn a_plain_thread_blocks_on_a_socket_a_coroutine_used() {
    let runtime = one_worker();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let a = xawait(runtime.xasync(move || {
        b.write_all(b"x").unwrap();
        a.read_exact(&mut [0; 1]).unwrap(); // non-blocking from now on
        (a, b)
    }));
    let (mut a, mut b) = a;
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        b.write_all(b"y").unwrap();
        b
    });
    let mut byte = [0; 1];
    a.read_exact(&mut byte).unwrap(); // blocks, as the user expects
    assert_eq!(&byte, b"y");
    drop(writer.join().unwrap());
}

#[test]
fn code_inside_future_poll_gets_the_real_sleep() {
    let runtime = one_worker();
    let (ticks, stop) = ticker(&runtime);
    xawait(runtime.xasync(move || {
        xasync::time::sleep(Duration::from_millis(5));
        let before = ticks.load(Ordering::Relaxed);
        xawait(poll_fn(|_| {
            std::thread::sleep(Duration::from_millis(50)); // blocks the worker
            Poll::Ready(())
        }));
        assert_eq!(
            ticks.load(Ordering::Relaxed),
            before,
            "nothing ran meanwhile"
        );
        stop.store(1, Ordering::Relaxed);
    }));
}

#[test]
fn an_async_task_gets_the_real_sleep() {
    let runtime = one_worker();
    let took = xawait(runtime.spawn(async {
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(30));
        start.elapsed()
    }));
    assert!(took >= Duration::from_millis(30));
}

#[test]
fn a_coroutine_cancelled_in_a_hooked_read_gets_ecanceled() {
    let runtime = one_worker();
    let (seen, saw) = std::sync::mpsc::channel();
    let (a, _b) = UnixStream::pair().unwrap();
    let started = runtime.xasync(move || {
        let mut a = a;
        let got = a.read(&mut [0; 8]); // nothing comes
        seen.send(got.map_err(|e| e.raw_os_error())).unwrap();
    });
    std::thread::sleep(Duration::from_millis(20));
    started.cancel();
    // The cancellation does not unwind through the hook (that would abort
    // the process): the read fails and the coroutine returns.
    assert_eq!(saw.recv().unwrap(), Err(Some(libc::ECANCELED)));
    runtime.shutdown();
}

#[test]
fn after_ecanceled_every_hooked_wait_fails_at_once() {
    // A coroutine that retries on error, as servers do: once cancelled,
    // each further blocking call must fail too, or it never ends.
    let runtime = one_worker();
    let (a, _b) = UnixStream::pair().unwrap();
    let looping = runtime.xasync(move || {
        let mut a = a;
        let mut failures = 0;
        while failures < 100 {
            match a.read(&mut [0; 8]) {
                Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => failures += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        std::thread::sleep(Duration::from_secs(3600)); // fails at once too
    });
    std::thread::sleep(Duration::from_millis(20));
    looping.cancel();
    // Returns only once the cancelled coroutine has ended.
    within(Duration::from_secs(10), "the shutdown", move || {
        runtime.shutdown()
    });
}

#[test]
fn shutdown_ends_coroutines_sleeping_in_std() {
    let runtime = one_worker();
    let sleepers: Vec<_> = (0..3)
        .map(|_| runtime.xasync(|| std::thread::sleep(Duration::from_secs(3600))))
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    drop(sleepers);
    runtime.shutdown(); // would wait an hour if the sleeps went on
}

#[test]
fn a_process_forked_in_a_coroutine_gets_the_real_calls() {
    let runtime = one_worker();
    let (mut rx, tx) = UnixStream::pair().unwrap();
    // Another coroutine of the worker, due to write once in 20 ms.
    let other = runtime.xasync(move || {
        xasync::time::sleep(Duration::from_millis(20));
        (&tx).write_all(b"B").unwrap();
    });
    let pid = xawait(runtime.xasync(|| {
        // SAFETY: the child only sleeps and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // No runtime runs here: the sleep must be the real one. Were it
            // to suspend the coroutine, the worker loop copied into the
            // child would run the other coroutine there too.
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(7) };
        }
        pid
    }));
    assert!(pid > 0);
    xawait(other);
    let mut status = 0;
    // SAFETY: waits for our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 7,
        "status {status:#x}"
    );
    rx.set_nonblocking(true).unwrap();
    let mut written = Vec::new();
    let _ = rx.read_to_end(&mut written);
    assert_eq!(written, b"B", "the other coroutine ran in the child");
}

#[test]
fn poll_and_select_in_a_coroutine_suspend_and_report_readiness() {
    let runtime = one_worker();
    let (ticks, stop) = ticker(&runtime);
    xawait(runtime.xasync(move || {
        let (a, b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        // Nothing comes: both time out, and the worker runs the ticker.
        let before = ticks.load(Ordering::Relaxed);
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut pollfd, 1, 30) }, 0);
        // SAFETY: an fd_set is plain data.
        let mut set: libc::fd_set = unsafe { std::mem::zeroed() };
        // SAFETY: FD_SET on a valid descriptor.
        unsafe { libc::FD_SET(fd, &mut set) };
        let mut timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 30_000,
        };
        let null = std::ptr::null_mut();
        // SAFETY: valid sets and timeout.
        let ready = unsafe { libc::select(fd + 1, &mut set, null, null, &mut timeout) };
        assert_eq!(ready, 0);
        assert!(
            ticks.load(Ordering::Relaxed) > before,
            "the waits blocked the worker"
        );
        // Data written by another coroutine 20 ms later wakes them.
        let writer = xasync::xasync(move || {
            xasync::time::sleep(Duration::from_millis(20));
            (&b).write_all(b"x").unwrap();
            b
        });
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut pollfd, 1, -1) }, 1);
        assert_ne!(pollfd.revents & libc::POLLIN, 0);
        // SAFETY: FD_SET on a valid descriptor.
        unsafe { libc::FD_SET(fd, &mut set) };
        let forever = std::ptr::null_mut();
        // SAFETY: valid sets; no timeout.
        let ready = unsafe { libc::select(fd + 1, &mut set, null, null, forever) };
        assert_eq!(ready, 1);
        // SAFETY: the set select filled.
        assert!(unsafe { libc::FD_ISSET(fd, &set) });
        drop(xawait(writer));
        stop.store(1, Ordering::Relaxed);
    }));
}

#[test]
fn getaddrinfo_in_a_coroutine_resolves_as_on_a_thread() {
    use std::net::ToSocketAddrs;
    let on_thread: Vec<_> = ("localhost", 80).to_socket_addrs().unwrap().collect();
    let runtime = one_worker();
    let in_coroutine = xawait(runtime.xasync(|| {
        ("localhost", 80)
            .to_socket_addrs()
            .unwrap()
            .collect::<Vec<_>>()
    }));
    assert_eq!(in_coroutine, on_thread);
    assert!(!in_coroutine.is_empty());
}

#[test]
fn dups_share_the_mode_the_user_set() {
    let runtime = one_worker();
    xawait(runtime.xasync(|| {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"x").unwrap();
        a.read_exact(&mut [0; 1]).unwrap(); // the hooks make it non-blocking
        let copy = a.try_clone().unwrap(); // dup (F_DUPFD_CLOEXEC)
        assert!(!nonblocking_flag(copy.as_raw_fd()));
        a.set_nonblocking(true).unwrap();
        // One open file description: the kernel shares O_NONBLOCK.
        assert!(nonblocking_flag(copy.as_raw_fd()));
        let error = (&copy).read(&mut [0; 1]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WouldBlock);
    }));
}

#[test]
fn a_plain_thread_keeps_so_rcvtimeo_on_a_socket_a_coroutine_used() {
    let runtime = one_worker();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let (mut a, _b) = xawait(runtime.xasync(move || {
        b.write_all(b"x").unwrap();
        a.read_exact(&mut [0; 1]).unwrap(); // non-blocking from now on
        (a, b)
    }));
    // The kernel ignores SO_RCVTIMEO in non-blocking mode: the hooks keep it.
    a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    let error = a.read(&mut [0; 1]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    assert!(start.elapsed() >= Duration::from_millis(50));
}

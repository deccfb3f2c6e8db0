//! Which kernel interface the workers wait and do I/O through: io_uring
//! where the kernel offers it, epoll otherwise.
//!
//! The choice is made once per runtime, in [`Builder::build`]: by
//! [`Builder::io`] if it was called, else by the environment variable
//! `XASYNC_IO` (`uring` or `epoll`), else io_uring if a ring can be set up
//! here. Whether it can is probed once per process: `io_uring_setup` fails
//! with `ENOSYS` on old kernels, `EPERM` under seccomp or when
//! `/proc/sys/kernel/io_uring_disabled` forbids it. The process says on
//! standard error which backend it uses, once, only when that was not the
//! plain default (a fallback, or `XASYNC_IO` set): an unchanged setup stays
//! quiet, as tests and servers want. Under valgrind the default is epoll.
//!
//! [`Builder::build`]: crate::runtime::Builder::build
//! [`Builder::io`]: crate::runtime::Builder::io

use std::io;
use std::sync::{Once, OnceLock};

/// The kernel interface of a runtime's workers; see [`Builder::io`].
///
/// [`Builder::io`]: crate::runtime::Builder::io
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoBackend {
    /// Each worker parks in its own io_uring instance; coroutines' socket
    /// and file operations are submitted to it with their borrowed
    /// buffers. Readiness waits (futures, callbacks) still use an epoll
    /// instance, which the ring watches.
    Uring,
    /// Each worker parks in its own epoll instance; every operation waits
    /// for readiness, then makes its system call.
    Epoll,
}

/// The environment variable that picks the backend when the builder does
/// not.
const ENV: &str = "XASYNC_IO";

impl IoBackend {
    /// The backend of a runtime whose builder asked for `asked` (`None`:
    /// nothing): `Unsupported` if it asked for io_uring and there is none.
    pub(crate) fn resolve(asked: Option<IoBackend>) -> io::Result<IoBackend> {
        match asked {
            Some(IoBackend::Uring) => match probe() {
                Ok(()) => Ok(IoBackend::Uring),
                Err(why) => Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("xasync: io_uring is not available: {why}"),
                )),
            },
            Some(IoBackend::Epoll) => Ok(IoBackend::Epoll),
            None => Ok(*default()),
        }
    }
}

/// The backend of runtimes that do not choose: decided (and logged) once.
fn default() -> &'static IoBackend {
    static DEFAULT: OnceLock<IoBackend> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        let asked = std::env::var(ENV).ok();
        let (backend, why) = match asked.as_deref() {
            Some("epoll") => (IoBackend::Epoll, format!("{ENV}=epoll")),
            Some(value) => {
                let asked_uring = value == "uring";
                let what = if asked_uring {
                    format!("{ENV}=uring")
                } else {
                    format!("{ENV}={value:?} is neither uring nor epoll")
                };
                match probe() {
                    Ok(()) => (IoBackend::Uring, what),
                    Err(e) => (IoBackend::Epoll, format!("{what}, but {e}")),
                }
            }
            // Under valgrind, which lets one thread run at a time, the
            // ring's workers (sleeping in ppoll, see `io::uring`) changed
            // the timing of the suites' threads enough to fail a test that
            // measures a thread's wait; the ring's own suites ask for it.
            None if xasync_core::stack::running_on_valgrind() => (
                IoBackend::Epoll,
                "under valgrind; XASYNC_IO=uring asks for io_uring".into(),
            ),
            None => match probe() {
                Ok(()) => return IoBackend::Uring,
                Err(e) => (IoBackend::Epoll, e.clone()),
            },
        };
        log_once(backend, &why);
        backend
    })
}

/// Says once on standard error which backend the process uses and why.
fn log_once(backend: IoBackend, why: &str) {
    static LOGGED: Once = Once::new();
    LOGGED.call_once(|| {
        let name = match backend {
            IoBackend::Uring => "io_uring",
            IoBackend::Epoll => "epoll",
        };
        eprintln!("xasync: I/O through {name} ({why})");
    });
}

/// Whether io_uring is usable here, with every operation the runtime
/// submits; probed once per process. The error says why not.
pub(crate) fn probe() -> Result<(), &'static String> {
    static PROBED: OnceLock<Result<(), String>> = OnceLock::new();
    PROBED.get_or_init(super::uring::probe).as_ref().map(|_| ())
}

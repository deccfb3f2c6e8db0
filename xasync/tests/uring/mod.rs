//! A runtime on the io_uring backend, for the tests that need one, which
//! pass (saying so) where io_uring is unavailable.

use std::io::ErrorKind;
use xasync::Runtime;
use xasync::io::IoBackend;

/// A runtime of `workers` workers on io_uring, or `None` (reported)
/// without it.
pub fn runtime(workers: usize) -> Option<Runtime> {
    match Runtime::builder()
        .workers(workers)
        .io(IoBackend::Uring)
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

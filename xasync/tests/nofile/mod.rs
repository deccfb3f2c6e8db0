//! Raising the soft limit on open file descriptors, for the tests that
//! hold thousands of sockets.

/// Raises the soft `RLIMIT_NOFILE` to at least `needed`; panics if the hard
/// limit is lower.
pub fn raise_nofile(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-pointer to an rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0);
    assert!(
        limit.rlim_max >= needed,
        "this test needs {needed} file descriptors; the hard limit is {}",
        limit.rlim_max
    );
    limit.rlim_cur = limit.rlim_cur.max(needed);
    // SAFETY: a valid rlimit, soft at most hard.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0);
}

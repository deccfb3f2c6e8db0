//! The CPU time of the bench process itself, for the benchmarks that run
//! their contenders in it (the servers' is read from /proc: see `io`).

/// The CPU seconds (user + system) this process has used.
pub fn process_cpu() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: a valid out-pointer; RUSAGE_SELF always succeeds.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

//! A small side-by-side benchmark harness: every benchmark measures xasync
//! and its peers in the same process, alternating, and prints the median
//! time per operation with the ratio to each peer.
//!
//! Medians over interleaved samples resist the noise of a shared machine
//! better than one long run per contender.

use std::time::Instant;

/// One contender in a comparison: a name and a routine that performs
/// `iters` operations.
pub struct Contender<'a> {
    name: &'static str,
    run: Box<dyn FnMut(u64) + 'a>,
}

impl<'a> Contender<'a> {
    /// A contender running `run(iters)`.
    pub fn new(name: &'static str, run: impl FnMut(u64) + 'a) -> Self {
        Contender {
            name,
            run: Box::new(run),
        }
    }
}

/// Median nanoseconds per operation of each contender, in input order.
pub fn measure(contenders: &mut [Contender<'_>], iters: u64, samples: usize) -> Vec<f64> {
    let mut times = vec![Vec::with_capacity(samples); contenders.len()];
    for c in contenders.iter_mut() {
        (c.run)(iters / 10 + 1); // warm up
    }
    for _ in 0..samples {
        for (c, t) in contenders.iter_mut().zip(&mut times) {
            let start = Instant::now();
            (c.run)(iters);
            t.push(start.elapsed().as_nanos() as f64 / iters as f64);
        }
    }
    times.into_iter().map(median).collect()
}

/// The median of `values`.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Whether the benchmark `title` was selected: every argument that is not a
/// flag (cargo passes `--bench`) must occur in the title.
pub fn selected(title: &str) -> bool {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .all(|a| title.contains(&a))
}

/// Measures the contenders (the first is xasync) and prints one line each
/// with its median and, for peers (names not starting with "xasync"), the
/// ratio of the first contender's time to theirs: below 1 means xasync is
/// faster. Skipped (and empty) unless [`selected`].
pub fn compare(
    title: &str,
    mut contenders: Vec<Contender<'_>>,
    iters: u64,
    samples: usize,
) -> Vec<f64> {
    if !selected(title) {
        return Vec::new();
    }
    let medians = measure(&mut contenders, iters, samples);
    println!("{title}");
    for (c, m) in contenders.iter().zip(&medians) {
        if c.name.starts_with("xasync") {
            println!("  {:<28} {:>10.2} ns/op", c.name, m);
        } else {
            let (ours, ratio) = (contenders[0].name, medians[0] / m);
            println!(
                "  {:<28} {:>10.2} ns/op   {ours} / {} = {ratio:.3}",
                c.name, m, c.name
            );
        }
    }
    medians
}

/// The environment variable that tells a bench binary it runs as a child
/// process, and which contender it plays.
const CHILD_ROLE: &str = "XASYNC_BENCH_CHILD";

/// The role this process was started with by [`run_child`], if it is a
/// child.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE).ok()
}

/// Runs this bench binary again as a child process in `role` (see
/// [`child_role`]), so that each contender gets a fresh process (clean RSS,
/// no runtime left over from another contender, a crash stays contained).
/// Returns its standard output, or a description of how it failed: exit
/// status or signal, the last line it wrote to standard error, or the
/// timeout after which it was killed.
pub fn run_child(role: &str, timeout: std::time::Duration) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut command = std::process::Command::new(exe);
    command.env(CHILD_ROLE, role);
    run_process(command, timeout)
}

/// Runs `command` to completion (killing it after `timeout`); its standard
/// output, or how it failed (as [`run_child`]).
pub fn run_process(
    mut command: std::process::Command,
    timeout: std::time::Duration,
) -> Result<String, String> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let last_error = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    match status {
        Some(status) if status.success() => Ok(stdout),
        Some(status) => {
            use std::os::unix::process::ExitStatusExt;
            let how = match status.signal() {
                Some(signal) => format!("killed by signal {signal}"),
                None => format!("exit status {}", status.code().unwrap_or(-1)),
            };
            Err(format!("{how}: {last_error}"))
        }
        None => Err(format!("timed out after {timeout:?}: {last_error}")),
    }
}

/// Builds the Go contender `bench/go/<name>.go` next to the running bench
/// binary; the binary's path, or why there is none (no Go toolchain:
/// `apt-get install golang-go`).
pub fn build_go(name: &str) -> Result<std::path::PathBuf, String> {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("go/{name}.go"));
    let dir = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .expect("the binary's directory")
        .to_path_buf();
    let binary = dir.join(format!("{name}-go"));
    let mut command = std::process::Command::new("go");
    command.arg("build").arg("-o").arg(&binary).arg(&source);
    if std::env::var_os("GOCACHE").is_none() && std::env::var_os("HOME").is_none() {
        command.env("GOCACHE", dir.join("go-cache"));
    }
    match command.output() {
        Ok(out) if out.status.success() => Ok(binary),
        Ok(out) => Err(format!(
            "go build failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!(
            "no Go toolchain ({e}); install it with `apt-get install golang-go`"
        )),
    }
}

/// The value of `key` in a child's output made of `key=value` words.
pub fn field(output: &str, key: &str) -> Option<f64> {
    output
        .split_whitespace()
        .filter_map(|word| word.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

/// This process's resident set size in KiB (`VmRSS` in `/proc/self/status`).
///
/// # Panics
///
/// If `/proc/self/status` cannot be read or lacks the line (not Linux).
pub fn vm_rss_kib() -> u64 {
    proc_status_kib("VmRSS:")
}

/// This process's peak resident set size in KiB (`VmHWM`).
///
/// # Panics
///
/// As [`vm_rss_kib`].
pub fn vm_hwm_kib() -> u64 {
    proc_status_kib("VmHWM:")
}

/// The KiB figure of the line starting with `key` in `/proc/self/status`.
fn proc_status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("a {key} line in /proc/self/status"))
}

/// The kernel's limit on memory mappings per process (`vm.max_map_count`).
pub fn max_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A small deterministic pseudo-random generator (SplitMix64), so that
/// every contender gets the same "random" workload.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound
    }
}

/// In a child process: makes any panic (on any thread, in any coroutine)
/// print its message and end the process at once with status 101, so that
/// the parent reports it (see [`run_child`]) instead of waiting for a
/// runtime that lost a task.
pub fn exit_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("{info}");
        std::process::exit(101);
    }));
}

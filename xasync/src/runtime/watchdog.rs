//! The monitor thread of a runtime: advances the coarse clock, reports
//! workers stuck inside one task (the blocking watchdog), and prints dumps
//! asked for by `SIGQUIT` (when the runtime opts in: its handler only
//! counts the signal; the monitor, an ordinary thread, takes the dump).
//!
//! # Stalls
//!
//! A worker counts its polls in its `activity` word, doubled, plus one
//! from the start of each poll until it parks: one plain store per poll
//! (and one as it parks). Every [`TICK`] the monitor reads the words (as
//! Go's sysmon does); a word that is odd and has not changed since the
//! monitor first saw it means the worker has been busy that long without
//! starting another poll: inside one task, or (rarely) in its own loop,
//! running timers' and wakers' code, which the report says. Past the
//! threshold, the monitor reports it once: it sends [`STALL_SIGNAL`] to the worker's thread, whose handler —
//! running on that thread, inside the stuck poll, so that what it reads
//! cannot go away meanwhile — copies the task's name and a backtrace of
//! the interrupted code (its instruction pointer, then its frame-pointer
//! chain, see [`crate::sys::frames`]) into the worker's [`StallSlot`]
//! without allocating or locking; the monitor prints the report.
//!
//! # Idle
//!
//! While every worker is parked, nothing can stall and the clock is read
//! by nobody: the monitor sleeps until a worker leaves its park (unless
//! the runtime answers `SIGQUIT`, whose handler cannot wake it). A worker
//! makes its word odd as it leaves its park, before it runs anything; the
//! monitor goes to sleep only if every word is even after it said so in
//! [`Bell::asleep`], and a worker leaving its park rings the [`Bell`] when
//! it sees that flag: the same store-then-fence-then-load handshake on
//! both sides as the sleeping workers' (see [`super::sleepers`]), so that
//! either the monitor sees the worker awake or the worker sees the monitor
//! asleep.

use super::coarse;
use super::shared::Shared;
use crate::sys::frames::{self, MAX_FRAMES};
use crate::sys::signals;
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, Once, Weak};
use std::thread;
use std::time::Duration;

/// How often the monitor looks at the workers.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// The default stall threshold.
pub(crate) const DEFAULT_STALL: Duration = Duration::from_millis(100);

/// The signal that asks a stuck worker for its backtrace: `SIGURG`, as Go
/// preempts goroutines with. Its default action is to be ignored, so that
/// one sent to a thread without our handler does nothing.
const STALL_SIGNAL: libc::c_int = libc::SIGURG;

/// Longest name a stall report copies.
const NAME_BYTES: usize = 64;

/// How long the monitor waits for a stuck worker's handler.
const CAPTURE_WAIT: Duration = Duration::from_millis(100);

/// Whether a runtime prints a dump on `SIGQUIT`: the builder's choice,
/// else whether `XASYNC_DUMP_ON_SIGQUIT` is set to `1`.
pub(crate) fn dump_on_sigquit(configured: Option<bool>) -> bool {
    configured.unwrap_or_else(|| std::env::var("XASYNC_DUMP_ON_SIGQUIT").is_ok_and(|v| v == "1"))
}

/// The stall threshold: the builder's, else `XASYNC_STALL_MS`, else
/// [`DEFAULT_STALL`]. Zero turns the watchdog off.
///
/// # Panics
///
/// If `XASYNC_STALL_MS` is set but not a number of milliseconds.
pub(crate) fn threshold(configured: Option<Duration>) -> Duration {
    configured.unwrap_or_else(|| match std::env::var("XASYNC_STALL_MS") {
        Ok(value) => Duration::from_millis(value.trim().parse().unwrap_or_else(|_| {
            panic!("XASYNC_STALL_MS must be a number of milliseconds (0: off), got {value:?}")
        })),
        Err(_) => DEFAULT_STALL,
    })
}

/// Where a stuck worker's signal handler leaves what the report needs.
pub(crate) struct StallSlot {
    /// The worker's thread (a `pthread_t`), once it started; 0 before.
    thread: AtomicU64,
    /// Set by the monitor before it signals; cleared by the handler.
    asked: AtomicBool,
    /// Set by the handler once it has filled the slot.
    ready: AtomicBool,
    name: [AtomicU8; NAME_BYTES],
    name_len: AtomicUsize,
    /// The task is a coroutine (else a future).
    coroutine: AtomicBool,
    /// The worker is inside a poll (else in its own loop).
    in_poll: AtomicBool,
    id: AtomicU64,
    frames: [AtomicUsize; MAX_FRAMES],
    frames_len: AtomicUsize,
    /// The worker thread's own stack, for backtraces of futures.
    thread_stack: [AtomicUsize; 2],
}

impl Default for StallSlot {
    fn default() -> Self {
        StallSlot {
            thread: AtomicU64::new(0),
            asked: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            name: std::array::from_fn(|_| AtomicU8::new(0)),
            name_len: AtomicUsize::new(0),
            coroutine: AtomicBool::new(false),
            in_poll: AtomicBool::new(false),
            id: AtomicU64::new(0),
            frames: std::array::from_fn(|_| AtomicUsize::new(0)),
            frames_len: AtomicUsize::new(0),
            thread_stack: std::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }
}

thread_local! {
    /// The stall slot of the worker running on this thread, if any.
    static SLOT: Cell<*const StallSlot> = const { Cell::new(ptr::null()) };
}

/// Makes the calling worker thread answer stall signals into `slot`, which
/// must outlive the thread (it lives in the runtime's shared state, which
/// the worker holds).
pub(crate) fn enter_worker(slot: &StallSlot) {
    // SAFETY: querying our own thread's attributes into zeroed storage.
    unsafe {
        let mut attr = MaybeUninit::<libc::pthread_attr_t>::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) == 0 {
            let mut base = ptr::null_mut();
            let mut size = 0;
            if libc::pthread_attr_getstack(attr.as_ptr(), &mut base, &mut size) == 0 {
                slot.thread_stack[0].store(base as usize, Ordering::Relaxed);
                slot.thread_stack[1].store(base as usize + size, Ordering::Relaxed);
            }
            libc::pthread_attr_destroy(attr.as_mut_ptr());
        }
    }
    SLOT.with(|s| s.set(slot));
    // SAFETY: no preconditions.
    let thread = unsafe { libc::pthread_self() };
    slot.thread.store(thread as u64, Ordering::Release);
}

/// Stops answering stall signals (the worker is leaving).
pub(crate) fn leave_worker() {
    SLOT.with(|s| s.set(ptr::null()));
}

/// The handler that was installed for [`STALL_SIGNAL`] before ours.
static PREVIOUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(ptr::null_mut());

fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `handler` is async-signal-safe and takes three arguments.
        unsafe {
            signals::install(
                STALL_SIGNAL,
                handler as *const () as usize,
                libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART,
                Some(&PREVIOUS),
            );
        }
    });
}

/// The interrupted code's instruction, stack and frame pointers.
///
/// # Safety
///
/// `context` is the `ucontext_t` the kernel passed to a signal handler.
unsafe fn registers(context: *mut libc::c_void) -> (usize, usize, usize) {
    let context = context.cast::<libc::ucontext_t>();
    // SAFETY: the caller's contract.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    unsafe {
        let gregs = &(*context).uc_mcontext.gregs;
        (
            gregs[libc::REG_RIP as usize] as usize,
            gregs[libc::REG_RSP as usize] as usize,
            gregs[libc::REG_RBP as usize] as usize,
        )
    }
    // SAFETY: the caller's contract.
    #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
    unsafe {
        let mcontext = &(*context).uc_mcontext;
        (
            mcontext.pc as usize,
            mcontext.sp as usize,
            mcontext.regs[29] as usize,
        )
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        let _ = context;
        (0, 0, 0)
    }
}

/// Fills the worker's stall slot (see the module docs). Async-signal-safe:
/// thread-local loads, reads of the interrupted stack, atomic stores.
extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: set by `enter_worker` to a slot that outlives the thread.
    let Some(slot) = (unsafe { SLOT.with(Cell::get).as_ref() }) else {
        return chain(signal, info, context);
    };
    if !slot.asked.swap(false, Ordering::Acquire) {
        return chain(signal, info, context);
    }
    // SAFETY: we are that handler.
    let (ip, sp, fp) = unsafe { registers(context) };
    // SAFETY: used by this handler only, while it interrupts the task.
    let node = unsafe { crate::context::running_node() };
    // SAFETY: as above.
    let name = node
        .and_then(|node| node.name())
        .or_else(|| unsafe { super::tasks::polled_name() });
    let name = name.unwrap_or("").as_bytes();
    let len = name.len().min(NAME_BYTES);
    for (to, &byte) in slot.name.iter().zip(&name[..len]) {
        to.store(byte, Ordering::Relaxed);
    }
    slot.name_len.store(len, Ordering::Relaxed);
    slot.coroutine.store(node.is_some(), Ordering::Relaxed);
    slot.in_poll
        .store(crate::context::in_task(), Ordering::Relaxed);
    slot.id
        .store(node.map_or(0, |node| node.id()), Ordering::Relaxed);
    let stack = match node {
        Some(node) if node.stack().contains(&sp) => sp..node.stack().end,
        Some(_) => 0..0, // on a nested coroutine's stack: bounds unknown
        None => {
            let hi = slot.thread_stack[1].load(Ordering::Relaxed);
            if (slot.thread_stack[0].load(Ordering::Relaxed)..hi).contains(&sp) {
                sp..hi
            } else {
                0..0
            }
        }
    };
    let mut found = [0; MAX_FRAMES];
    found[0] = ip;
    // SAFETY: `stack` is the live part of the stack this thread runs on,
    // which the interrupted code does not write while we run.
    let walked = unsafe { frames::walk(fp, stack, &mut found[1..]) };
    // No registers on targets we cannot read them on: no frames.
    let n = if ip == 0 { 0 } else { 1 + walked };
    for (to, &frame) in slot.frames.iter().zip(&found[..n]) {
        to.store(frame, Ordering::Relaxed);
    }
    slot.frames_len.store(n, Ordering::Relaxed);
    slot.ready.store(true, Ordering::Release);
}

/// Passes a signal that is not ours to the handler installed before ours.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: called from our handler of that signal, with its arguments.
    // Without a handler to pass it to, nothing to do: both `SIG_DFL` and
    // `SIG_IGN` ignore SIGURG.
    unsafe { signals::forward(&PREVIOUS, signal, info, context) };
}

/// How a runtime's monitor sleeps, and how it is stopped or woken.
#[derive(Default)]
pub(crate) struct Bell {
    /// The monitor is to stop.
    stopped: Mutex<bool>,
    wake: Condvar,
    /// The monitor sleeps until a worker leaves its park (see the module
    /// docs).
    asleep: AtomicBool,
}

impl Bell {
    /// A worker of the runtime has left its park, and made its `activity`
    /// word odd: wakes the monitor if it sleeps (a fence and a load, and
    /// only then a lock).
    #[inline]
    pub(crate) fn worker_awake(&self) {
        // Against the monitor going to sleep: either it sees our word, or
        // we see its flag.
        fence(Ordering::SeqCst);
        if self.asleep.load(Ordering::Relaxed) {
            self.ring();
        }
    }

    /// Wakes the sleeping monitor; the coarse clock, which it stopped
    /// advancing, is brought up to date first, for the worker's stamps.
    #[cold]
    fn ring(&self) {
        coarse::advance();
        let _stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        self.asleep.store(false, Ordering::Relaxed);
        self.wake.notify_all();
    }
}

/// The monitor thread of a runtime; stopped and joined on drop.
pub(crate) struct Monitor {
    bell: Arc<Bell>,
    thread: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").finish_non_exhaustive()
    }
}

/// What the monitor last saw of one worker.
#[derive(Clone, Copy, Default)]
struct Seen {
    activity: u64,
    since_ms: u64,
    reported: bool,
}

impl Monitor {
    /// Starts the monitor of `shared`'s runtime, reporting polls longer
    /// than `stall` (zero: none), named after the workers' `thread_name`.
    pub(crate) fn start(
        shared: &Arc<Shared>,
        stall: Duration,
        on_sigquit: bool,
        thread_name: &str,
    ) -> std::io::Result<Monitor> {
        if !stall.is_zero() {
            install_handler();
        }
        // Counted before the handler goes in and the monitor starts: a
        // signal from then on is answered, even one that comes before the
        // monitor's first look.
        let sigquits = SIGQUITS.load(Ordering::Acquire);
        if on_sigquit {
            install_sigquit_handler();
        }
        coarse::advance();
        let bell = shared.bell.clone();
        let weak = Arc::downgrade(shared);
        let thread = thread::Builder::new()
            .name(format!("{thread_name}-monitor"))
            .spawn({
                let bell = bell.clone();
                move || watch(&weak, stall, on_sigquit.then_some(sigquits), &bell)
            })?;
        Ok(Monitor {
            bell,
            thread: Some(thread),
        })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let bell = &*self.bell;
        *bell.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        bell.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The monitor's loop (see the module docs).
/// `sigquits`: the runtime prints a dump on `SIGQUIT`, and the count of
/// those answered already.
fn watch(shared: &Weak<Shared>, stall: Duration, mut sigquits: Option<u64>, bell: &Bell) {
    let stall_ms = u64::try_from(stall.as_millis()).unwrap_or(u64::MAX);
    let mut seen = Vec::new();
    let mut stopped = bell.stopped.lock().unwrap_or_else(|e| e.into_inner());
    while !*stopped {
        stopped = bell
            .wake
            .wait_timeout(stopped, TICK)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        let now = coarse::advance();
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Some(answered) = &mut sigquits {
            dump_if_asked(&shared, answered);
        }
        if stall_ms != 0 {
            look_for_stalls(&shared, &mut seen, now, stall_ms);
        }
        if sigquits.is_none() && all_parked(&shared) {
            // Against a worker leaving its park: either we see its word
            // odd, or it sees the flag (see the module docs).
            bell.asleep.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if all_parked(&shared) {
                drop(shared);
                while bell.asleep.load(Ordering::Relaxed) && !*stopped {
                    stopped = bell.wake.wait(stopped).unwrap_or_else(|e| e.into_inner());
                }
            }
            bell.asleep.store(false, Ordering::Relaxed);
        }
    }
    // A signal that came just before the runtime stopped is answered too.
    if let (Some(shared), Some(answered)) = (shared.upgrade(), &mut sigquits) {
        dump_if_asked(&shared, answered);
    }
}

/// Whether every worker of `shared`'s runtime is parked, or about to (its
/// `activity` word is even).
fn all_parked(shared: &Shared) -> bool {
    shared
        .remotes
        .iter()
        .all(|remote| remote.activity.load(Ordering::Relaxed) & 1 == 0)
}

/// Reports the workers inside one poll for `stall_ms` or more (each stall
/// once), given what the monitor `seen` last.
fn look_for_stalls(shared: &Shared, seen: &mut Vec<Seen>, now: u64, stall_ms: u64) {
    seen.resize(shared.remotes.len(), Seen::default());
    for (index, (remote, seen)) in shared.remotes.iter().zip(seen).enumerate() {
        let activity = remote.activity.load(Ordering::Relaxed);
        if activity != seen.activity {
            *seen = Seen {
                activity,
                since_ms: now,
                reported: false,
            };
        } else if activity & 1 == 1 && !seen.reported && now - seen.since_ms >= stall_ms {
            seen.reported = true;
            let stalls = &remote.counters.stalls;
            stalls.store(stalls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            report(index, &remote.stall, now - seen.since_ms);
            if let Some(trace) = &shared.trace {
                trace.stall(index, now - seen.since_ms);
            }
        }
    }
}

/// `SIGQUIT`s received since the process started (for runtimes that
/// print a dump on it).
static SIGQUITS: AtomicU64 = AtomicU64::new(0);

/// Counts a `SIGQUIT` (async-signal-safe: an atomic addition).
extern "C" fn on_sigquit(_: libc::c_int) {
    SIGQUITS.fetch_add(1, Ordering::Release);
}

/// Makes `SIGQUIT` print dumps instead of ending the process.
fn install_sigquit_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `on_sigquit` only adds to an atomic, and takes one
        // argument.
        unsafe {
            signals::install(
                libc::SIGQUIT,
                on_sigquit as *const () as usize,
                libc::SA_RESTART,
                None,
            );
        }
    });
}

/// Prints a dump of `shared`'s runtime to standard error if a `SIGQUIT`
/// came since the count `answered`.
fn dump_if_asked(shared: &Arc<Shared>, answered: &mut u64) {
    let received = SIGQUITS.load(Ordering::Acquire);
    if received != *answered {
        *answered = received;
        let handle = super::Handle {
            shared: shared.clone(),
        };
        eprintln!("{}", handle.dump());
    }
}

/// Asks worker `index`'s thread for its task's name and backtrace, and
/// prints the report of a poll that has lasted `elapsed_ms` so far.
fn report(index: usize, slot: &StallSlot, elapsed_ms: u64) {
    let thread = slot_thread(slot);
    slot.ready.store(false, Ordering::Relaxed);
    slot.asked.store(true, Ordering::Release);
    let mut captured = false;
    if let Some(thread) = thread {
        // SAFETY: the worker's thread is alive: it is inside a poll, and
        // the runtime stops its monitor before its workers can exit.
        unsafe { libc::pthread_kill(thread, STALL_SIGNAL) };
        let mut waited = Duration::ZERO;
        while waited < CAPTURE_WAIT && !captured {
            thread::sleep(Duration::from_millis(1));
            waited += Duration::from_millis(1);
            captured = slot.ready.load(Ordering::Acquire);
        }
    }
    slot.asked.store(false, Ordering::Relaxed);
    let text = StallReport {
        index,
        elapsed_ms,
        slot: captured.then_some(slot),
    }
    .to_string();
    #[cfg(feature = "tracing")]
    tracing::warn!("{text}");
    #[cfg(not(feature = "tracing"))]
    eprintln!("{text}");
}

/// The pthread of the worker whose slot this is (recorded as it started).
fn slot_thread(slot: &StallSlot) -> Option<libc::pthread_t> {
    let thread = slot.thread.load(Ordering::Acquire);
    (thread != 0).then_some(thread as libc::pthread_t)
}

/// A stall report's text.
struct StallReport<'a> {
    index: usize,
    elapsed_ms: u64,
    /// The filled slot, if the worker's handler answered.
    slot: Option<&'a StallSlot>,
}

impl std::fmt::Display for StallReport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(slot) = self.slot else {
            return write!(
                f,
                "xasync: worker {} has been inside one task for {} ms without suspending",
                self.index, self.elapsed_ms
            );
        };
        let len = slot.name_len.load(Ordering::Relaxed);
        let name: Vec<u8> = slot.name[..len]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        if !slot.in_poll.load(Ordering::Relaxed) {
            writeln!(
                f,
                "xasync: worker {} has been busy outside any task (running timers' or wakers' code) for {} ms; it runs:",
                self.index, self.elapsed_ms
            )?;
            return write_frames(slot, f);
        }
        let kind = match (
            slot.coroutine.load(Ordering::Relaxed),
            slot.id.load(Ordering::Relaxed),
        ) {
            (false, _) => "a future".to_owned(),
            (true, 0) => "a coroutine".to_owned(), // never suspended: no id yet
            (true, id) => format!("coroutine {id}"),
        };
        writeln!(
            f,
            "xasync: worker {} has been inside {kind} {:?} for {} ms without suspending; it runs:",
            self.index,
            String::from_utf8_lossy(&name),
            self.elapsed_ms
        )?;
        write_frames(slot, f)
    }
}

/// Writes the backtrace captured into `slot`, a frame a line.
fn write_frames(slot: &StallSlot, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let frames = slot.frames_len.load(Ordering::Relaxed);
    for frame in &slot.frames[..frames] {
        f.write_str("    ")?;
        frames::describe(frame.load(Ordering::Relaxed), f)?;
        writeln!(f)?;
    }
    Ok(())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Waits (bounded) until `done` holds.
    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_monitor_sleeps_while_the_runtime_is_idle_and_wakes_for_a_stall() {
        let rt = crate::Runtime::builder()
            .workers(2)
            .stall_threshold(Duration::from_millis(100))
            .dump_on_sigquit(false)
            .build()
            .unwrap();
        let bell = rt.handle().shared.bell.clone();
        let asleep = || bell.asleep.load(Ordering::Relaxed);
        wait_until("the monitor to sleep", asleep);
        // A worker that leaves its park wakes it: a stall is still caught.
        let stop = Arc::new(AtomicBool::new(false));
        let spinning = stop.clone();
        let busy = rt.xasync(move || {
            while !spinning.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        });
        wait_until("the stall report", || rt.metrics().stalls >= 1);
        stop.store(true, Ordering::SeqCst);
        busy.join().unwrap();
        wait_until("the monitor to sleep again", asleep);
        rt.shutdown();
    }
}

//! A snapshot of a runtime's live tasks: [`Runtime::dump`](super::Runtime::dump).
//!
//! Each worker lists its own coroutines (see [`super::tasks`]), in slices
//! of [`DUMP_SLICE`] between the tasks it runs, and the futures that first
//! waited on it (from its registry of tasks to cancel at shutdown, a load
//! or two each, at once), so that no worker stops
//! for long however many coroutines it has. A suspended coroutine's
//! backtrace is read by frame pointers from where it suspended (see
//! [`crate::sys::frames`]).
//!
//! The tasks no worker knows of yet — coroutines that have not started,
//! futures that never waited — are listed by name from the runtime's tables
//! of named tasks (see [`super::tasks::Names`]), which only named spawns
//! write to; the unnamed ones are counted, from the metrics, not listed
//! ([`Dump::unlisted`]): listing them would cost every spawn.

use std::fmt;
use std::time::Duration;

/// How many coroutines a worker adds to a dump between two tasks.
pub(crate) const DUMP_SLICE: usize = 1024;

/// How long a dump waits for the workers to list their coroutines.
pub(crate) const DUMP_WAIT: Duration = Duration::from_secs(2);

/// A snapshot of a runtime's live tasks, one [`TaskDump`] each: its
/// coroutines from their first suspension, its futures from the first time
/// they waited, and before that its named ones, as ready. The unnamed
/// tasks that have not started or waited yet are counted in
/// [`unlisted`](Dump::unlisted) instead (a dump is taken between polls,
/// when the only tasks not waiting are queued).
///
/// Its `Display` prints it the way Go prints its goroutines on `SIGQUIT`.
///
/// ```
/// let rt = xasync::Runtime::builder().workers(1).build().unwrap();
/// let (tx, rx) = xasync::sync::oneshot::channel::<()>();
/// let waiter = xasync::task::Builder::new().name("waiter").xasync_on(rt.handle(), move || {
///     let _ = rx.recv();
/// });
/// // Listed as ready until it starts, then as waiting.
/// let mut dump = rt.dump();
/// while dump.tasks[0].state != xasync::runtime::TaskState::Waiting {
///     dump = rt.dump();
/// }
/// assert!(dump.to_string().contains("[waiting] \"waiter\""));
/// drop(tx);
/// waiter.join().unwrap();
/// # rt.shutdown();
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Dump {
    /// The live tasks, coroutines (by id) first.
    pub tasks: Vec<TaskDump>,
    /// Workers that did not answer in time (busy inside one task all
    /// along, or gone): their coroutines are missing.
    pub missing_workers: Vec<usize>,
    /// Live tasks not listed: unnamed coroutines that have not started yet
    /// and unnamed futures that never waited, plus finished tasks whose
    /// [`JoinHandle`](crate::JoinHandle) is still held. It is the
    /// runtime's [`Metrics::live`](super::Metrics::live), read once the
    /// workers answered, less the tasks listed: exact on a runtime at
    /// rest, approximate while tasks start and end during the dump.
    pub unlisted: u64,
}

/// One task of a [`Dump`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskDump {
    /// The task's id, unique in its runtime. A coroutine's is given as it
    /// first suspends; until then a named one is listed under its task's
    /// address, as futures are.
    pub id: u64,
    /// The task's address, when known (futures, named coroutines; else 0):
    /// to merge the workers' lists with the tables of named tasks.
    pub(crate) task: u64,
    /// Its name (see [`crate::task::Builder::name`]).
    pub name: Option<String>,
    /// A coroutine or a future.
    pub kind: TaskKind,
    /// What it is doing.
    pub state: TaskState,
    /// The worker it is pinned to (coroutines; futures run anywhere).
    pub worker: Option<usize>,
    /// Milliseconds since it first ran (coroutines).
    pub age_ms: Option<u64>,
    /// Milliseconds since it last ran (coroutines).
    pub idle_ms: Option<u64>,
    /// Return addresses of its frames where it suspended, innermost first
    /// (empty unless it is suspended; as deep as its frames keep frame
    /// pointers, see the README's "Debugging a running program").
    pub backtrace: Vec<usize>,
}

impl TaskDump {
    /// A future's entry: its task's address as its id.
    pub(crate) fn future(id: u64, name: Option<String>, scheduled: bool) -> TaskDump {
        let state = if scheduled {
            TaskState::Ready
        } else {
            TaskState::Waiting
        };
        TaskDump::queued(TaskKind::Future, id, name, state)
    }

    /// The entry of a named coroutine that has not started: queued, ready
    /// to run, under its task's address.
    pub(crate) fn unstarted(id: u64, name: String) -> TaskDump {
        TaskDump::queued(TaskKind::Coroutine, id, Some(name), TaskState::Ready)
    }

    /// An entry with no worker, times or backtrace, its task's address as
    /// its id.
    fn queued(kind: TaskKind, id: u64, name: Option<String>, state: TaskState) -> TaskDump {
        TaskDump {
            id,
            task: id,
            name,
            kind,
            state,
            worker: None,
            age_ms: None,
            idle_ms: None,
            backtrace: Vec::new(),
        }
    }
}

/// What kind of task a [`TaskDump`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskKind {
    /// A stackful coroutine ([`crate::xasync`]).
    Coroutine,
    /// A future ([`crate::spawn`]).
    Future,
}

/// What a task of a [`Dump`] is doing. (A dump is taken between the tasks
/// a worker runs: none of its coroutines is running then but the one that
/// asked for the dump, which waits for it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// It takes the dump: the coroutine that called
    /// [`Runtime::dump`](super::Runtime::dump).
    Running,
    /// It has not started, yielded, or was woken, and waits for its turn
    /// (a coroutine: only before it starts or after a yield; one woken
    /// since it waited shows as waiting). A future that never waited shows
    /// as ready, queued or running.
    Ready,
    /// It waits for something (a wake-up that may already have come).
    Waiting,
    /// A coroutine in [`crate::time::sleep`] (or `sleep_until`), which ends
    /// in `left_ms` milliseconds (`None`: it sleeps for ever); a sleep that
    /// is over but not woken from yet shows 0.
    Sleeping {
        /// Milliseconds left, from the dump (to the monitor's 10 ms).
        left_ms: Option<u64>,
    },
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskState::Running => f.write_str("running"),
            TaskState::Ready => f.write_str("ready"),
            TaskState::Waiting => f.write_str("waiting"),
            TaskState::Sleeping { left_ms: None } => f.write_str("sleeping (for ever)"),
            TaskState::Sleeping { left_ms: Some(ms) } => {
                write!(f, "sleeping (until +{ms} ms)")
            }
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskKind::Coroutine => "coroutine",
            TaskKind::Future => "future",
        })
    }
}

impl fmt::Display for TaskDump {
    /// `coroutine 7 [waiting] "conn 42" worker 1, age 1520 ms, idle 1500 ms:`
    /// then one line per frame; `future 94245 [ready]:` for a future.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} [{}]", self.kind, self.id, self.state)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        if let Some(worker) = self.worker {
            write!(f, " worker {worker}")?;
        }
        if let (Some(age), Some(idle)) = (self.age_ms, self.idle_ms) {
            write!(f, ", age {age} ms, idle {idle} ms")?;
        }
        writeln!(f, ":")?;
        for address in &self.backtrace {
            f.write_str("    ")?;
            crate::sys::frames::describe(*address, f)?;
            writeln!(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "xasync: {} live tasks", self.tasks.len())?;
        for worker in &self.missing_workers {
            writeln!(f, "worker {worker} did not answer (busy in one task?)")?;
        }
        for task in &self.tasks {
            writeln!(f)?;
            task.fmt(f)?;
        }
        if self.unlisted > 0 {
            writeln!(
                f,
                "\nand {} more live tasks, not listed: unnamed and not started \
                 (or never waited), or finished with their handle held",
                self.unlisted
            )?;
        }
        Ok(())
    }
}

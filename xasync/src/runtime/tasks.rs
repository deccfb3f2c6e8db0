//! The live coroutines of each worker thread, for dumps and stall reports.
//!
//! A coroutine's record, its [`Node`], lives on its own stack, in the frame
//! that runs its body, and is linked into a list of its worker's thread
//! from its first suspension until its body ends (a coroutine that never
//! suspends is never seen by a worker's part of a dump, which is taken
//! between polls: it costs nothing more than its record's few fields;
//! before it starts, a named one is listed from the runtime's
//! [`Names`] instead). A started coroutine never leaves
//! that worker, and only that thread links, unlinks or walks the list: no
//! lock, no atomic, a few stores per coroutine. The list is a thread-local
//! without a destructor, so that coroutines unwound while their worker
//! exits still find it.
//!
//! A dump walks the list in slices between tasks (see [`List::dump_step`]),
//! so that a worker with many coroutines keeps running the others; the
//! cursor moves on when the node it points at leaves.

use super::coarse;
use super::dump::{TaskDump, TaskKind, TaskState};
use crate::sys::frames;
use std::cell::Cell;
use std::ops::Range;
use std::ptr;
use std::sync::Arc;
use xasync_core::task::stackful::Suspender;

/// A live coroutine's record (see the module docs).
pub(crate) struct Node {
    prev: Cell<*const Node>,
    next: Cell<*const Node>,
    /// Given as it is linked (or at once when traced); 0 before.
    id: Cell<u64>,
    linked: Cell<bool>,
    /// Linked, and not traced: a suspension has nothing more to do than
    /// note its state (one test of this, the fast path).
    settled: Cell<bool>,
    name: Option<Box<str>>,
    /// The task's id (its address) when it is named: the id it was listed
    /// under in a dump before it started (0 when unnamed).
    task: u64,
    /// Where the coroutine's frames lie.
    stack: Range<usize>,
    /// Coarse time of the first run.
    started: u64,
    /// Coarse time of the last suspension: when it last ran.
    last_run: Cell<u64>,
    /// What it does: set as it suspends. A dump, taken between polls,
    /// never sees it run, so it is not set back on resumption (one store
    /// less per switch).
    state: Cell<TaskState>,
    /// Stack and frame pointers at the last suspension.
    suspended_at: Cell<(usize, usize)>,
    /// While it sleeps (see [`Node::sleeping`]): its deadline (`None`: for
    /// ever); `None` when it does not sleep.
    sleeping_until: Cell<Option<Option<std::time::Instant>>>,
    /// The runtime records a timeline (see [`super::trace`]).
    traced: bool,
}

impl Node {
    /// The coroutine is about to suspend: to wait (`ready` false) or to
    /// let others run (`ready` true).
    #[inline(always)]
    pub(crate) fn suspending(&self, ready: bool) {
        if !self.settled.get() {
            self.unsettled();
        }
        self.state.set(if ready {
            TaskState::Ready
        } else {
            TaskState::Waiting
        });
        self.suspended_at
            .set((frames::stack_pointer(), frames::frame_pointer()));
        self.last_run.set(coarse::now_ms());
    }

    /// Marks the coroutine as sleeping until `deadline` (`None`: for ever)
    /// until the returned guard is dropped, for dumps: a store on each side
    /// of the sleep.
    pub(crate) fn sleeping(&self, deadline: Option<std::time::Instant>) -> Sleeping<'_> {
        self.sleeping_until.set(Some(deadline));
        Sleeping(self)
    }

    /// The coroutine's name, if it has one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The coroutine's id (0 until it first suspends).
    pub(crate) fn id(&self) -> u64 {
        self.id.get()
    }

    /// Links the record into its worker's list, at the first suspension,
    /// and tells the timeline which coroutine ran, when it is recorded.
    #[cold]
    #[inline(never)]
    fn unsettled(&self) {
        LIVE.with(|list| {
            if !self.linked.get() {
                if self.id.get() == 0 {
                    self.id.set(list.next_id());
                }
                list.link(self);
                self.linked.set(true);
            }
            if self.traced {
                list.traced.set(self.id.get());
            }
        });
        self.settled.set(!self.traced);
    }

    /// Where the coroutine's frames lie.
    pub(crate) fn stack(&self) -> Range<usize> {
        self.stack.clone()
    }

    /// The dump entry of a suspended coroutine, with its backtrace.
    fn snapshot(&self, worker: usize, now: u64) -> TaskDump {
        let mut frames = [0; frames::MAX_FRAMES];
        let (sp, fp) = self.suspended_at.get();
        let n = if sp == 0 {
            0
        } else {
            // SAFETY: the coroutine is suspended on this thread, which runs
            // this: nothing writes its stack meanwhile, and everything
            // between its stack pointer and the top of its frames is mapped.
            unsafe { frames::walk(fp, sp.max(self.stack.start)..self.stack.end, &mut frames) }
        };
        let state = match (self.state.get(), self.sleeping_until.get()) {
            (TaskState::Waiting, Some(until)) => TaskState::Sleeping {
                left_ms: until.map(|deadline| {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
                }),
            },
            (state, _) => state,
        };
        TaskDump {
            id: self.id.get(),
            task: self.task,
            name: self.name.as_deref().map(str::to_owned),
            kind: TaskKind::Coroutine,
            state,
            worker: Some(worker),
            age_ms: Some(now.saturating_sub(self.started)),
            idle_ms: Some(now.saturating_sub(self.last_run.get())),
            backtrace: frames[..n].to_vec(),
        }
    }
}

/// Marks a coroutine as sleeping while alive (see [`Node::sleeping`]).
pub(crate) struct Sleeping<'a>(&'a Node);

impl Drop for Sleeping<'_> {
    fn drop(&mut self) {
        self.0.sleeping_until.set(None);
    }
}

/// The live coroutines of one worker thread.
pub(crate) struct List {
    head: Cell<*const Node>,
    len: Cell<usize>,
    /// Where a dump in progress goes on; null when none is.
    cursor: Cell<*const Node>,
    /// Coroutines that started on this thread, for their ids.
    started: Cell<u64>,
    worker: Cell<usize>,
    workers: Cell<usize>,
    /// The runtime records a timeline.
    tracing: Cell<bool>,
    /// The coroutine that suspended or ended last, for the timeline.
    traced: Cell<u64>,
}

thread_local! {
    /// This worker thread's live coroutines.
    static LIVE: List = const {
        List {
            head: Cell::new(ptr::null()),
            len: Cell::new(0),
            cursor: Cell::new(ptr::null()),
            started: Cell::new(0),
            worker: Cell::new(0),
            workers: Cell::new(1),
            tracing: Cell::new(false),
            traced: Cell::new(0),
        }
    };

    /// The names of the coroutines started on this thread, for the
    /// timeline (only while it is recorded).
    static NAMES: std::cell::RefCell<std::collections::HashMap<u64, Box<str>>> =
        std::cell::RefCell::default();
}

/// Makes this thread worker `index` of `workers`, for the ids of the
/// coroutines it starts; `tracing`: the runtime records a timeline.
pub(crate) fn enter_worker(index: usize, workers: usize, tracing: bool) {
    LIVE.with(|list| {
        list.worker.set(index);
        list.workers.set(workers.max(1));
        list.tracing.set(tracing);
    });
}

/// The coroutine that suspended or ended last on this thread since the
/// last call (0: none, the poll ran a future), for the timeline.
pub(crate) fn take_traced() -> u64 {
    LIVE.with(|list| list.traced.replace(0))
}

/// The names of the coroutines started on this thread, for the timeline.
pub(crate) fn take_names() -> std::collections::HashMap<u64, Box<str>> {
    NAMES.with(|names| names.take())
}

/// How many coroutines live on this thread.
pub(crate) fn live() -> usize {
    LIVE.with(|list| list.len.get())
}

/// Runs a runtime coroutine's `body` with its record linked (see the
/// module docs); `name` (with the task's id, when it has one) also goes to
/// the stack's header for overflow reports.
#[inline(always)] // into the coroutine's entry: no frame of its own
pub(crate) fn run<T>(
    suspender: &Suspender<'_>,
    named: Option<(Box<str>, u64)>,
    body: impl FnOnce(&Node) -> T,
) -> T {
    let (name, task) = match named {
        Some((name, task)) => (Some(name), task),
        None => (None, 0),
    };
    let now = coarse::now_ms();
    let traced = LIVE.with(|list| list.tracing.get());
    let id = if traced {
        traced_start(name.as_deref())
    } else {
        0
    };
    let node = Node {
        prev: Cell::new(ptr::null()),
        next: Cell::new(ptr::null()),
        id: Cell::new(id),
        linked: Cell::new(false),
        settled: Cell::new(false),
        name,
        task,
        stack: suspender.stack_range(),
        started: now,
        last_run: Cell::new(now),
        // Set as it suspends, before any dump can see it.
        state: Cell::new(TaskState::Ready),
        suspended_at: Cell::new((0, 0)),
        sleeping_until: Cell::new(None),
        traced,
    };
    /// Unlinks the node and takes its name off the stack when the body
    /// returns or unwinds; declared after the node, so dropped before it.
    struct Linked<'a, 'b>(&'a Node, &'a Suspender<'b>);
    impl Drop for Linked<'_, '_> {
        #[inline(always)]
        fn drop(&mut self) {
            if self.0.name.is_some() {
                // SAFETY: removing the name needs nothing.
                unsafe { self.1.set_name(None) };
            }
            if self.0.traced {
                // The timeline's last poll of it.
                LIVE.with(|list| list.traced.set(self.0.id.get()));
            }
            if self.0.linked.get() {
                LIVE.with(|list| list.unlink(self.0));
            }
        }
    }
    if node.name.is_some() {
        // SAFETY: the node outlives `Linked`, which removes the name.
        unsafe { suspender.set_name(node.name()) };
    }
    let _linked = Linked(&node, suspender);
    body(&node)
}

/// The id of a coroutine starting while the timeline is recorded (given
/// at once: its runs are recorded under it), with its name noted.
#[cold]
fn traced_start(name: Option<&str>) -> u64 {
    let id = LIVE.with(|list| {
        let id = list.next_id();
        list.traced.set(id);
        id
    });
    if let Some(name) = name {
        NAMES.with(|names| names.borrow_mut().insert(id, name.into()));
    }
    id
}

/// Starts a dump of this thread's coroutines (dropping one in progress).
pub(crate) fn dump_begin() {
    LIVE.with(|list| list.cursor.set(list.head.get()));
}

/// Adds up to `max` more coroutines of this thread (worker `worker`) to the
/// dump in progress; true when it is complete.
pub(crate) fn dump_step(worker: usize, max: usize, out: &mut Vec<TaskDump>) -> bool {
    LIVE.with(|list| list.dump_step(worker, max, out))
}

impl List {
    fn next_id(&self) -> u64 {
        let n = self.started.get();
        self.started.set(n + 1);
        n * self.workers.get() as u64 + self.worker.get() as u64 + 1
    }

    fn link(&self, node: &Node) {
        let head = self.head.get();
        node.next.set(head);
        // SAFETY: linked nodes are alive (they unlink before they go).
        if let Some(head) = unsafe { head.as_ref() } {
            head.prev.set(node);
        }
        self.head.set(node);
        self.len.set(self.len.get() + 1);
    }

    fn unlink(&self, node: &Node) {
        let (prev, next) = (node.prev.get(), node.next.get());
        // SAFETY: linked nodes are alive.
        match unsafe { prev.as_ref() } {
            Some(prev) => prev.next.set(next),
            None => self.head.set(next),
        }
        // SAFETY: as above.
        if let Some(next) = unsafe { next.as_ref() } {
            next.prev.set(prev);
        }
        if ptr::eq(self.cursor.get(), node) {
            self.cursor.set(next);
        }
        self.len.set(self.len.get() - 1);
    }

    fn dump_step(&self, worker: usize, max: usize, out: &mut Vec<TaskDump>) -> bool {
        let now = coarse::now_ms();
        for _ in 0..max {
            // SAFETY: the cursor is null or a linked node (moved on when
            // its node unlinks).
            let Some(node) = (unsafe { self.cursor.get().as_ref() }) else {
                return true;
            };
            out.push(node.snapshot(worker, now));
            self.cursor.set(node.next.get());
        }
        self.cursor.get().is_null()
    }
}

thread_local! {
    /// The name of the named future being polled on this thread, if any
    /// (see [`Named`]).
    static POLLED_NAME: Cell<Option<ptr::NonNull<str>>> = const { Cell::new(None) };
}

/// The name of the named future being polled on this thread, if any; for a
/// signal handler interrupting the poll (a plain load of a thread-local).
///
/// # Safety
///
/// The name must not be used once the poll may have ended: only by code
/// that interrupts it (a signal handler), until that code returns.
pub(crate) unsafe fn polled_name<'a>() -> Option<&'a str> {
    // SAFETY: set only while the named future is polled, which outlives
    // the name's use by the caller's contract.
    POLLED_NAME
        .with(Cell::get)
        .map(|name| unsafe { name.as_ref() })
}

/// The names of a runtime's named tasks, by task id, for dumps: a named
/// future's while it lives, a named coroutine's until it starts (from then
/// on its [`Node`] has it).
pub(crate) type Names = std::sync::Mutex<std::collections::HashMap<u64, Arc<NameSlot>>>;

/// A named task's name, and its task's id once spawned.
pub(crate) struct NameSlot {
    name: Box<str>,
    task: std::sync::atomic::AtomicU64,
}

impl NameSlot {
    /// The name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// A named task's entry in one of its runtime's [`Names`]: listed there by
/// [`list_name`] once the task is spawned, taken off when dropped.
pub(crate) struct Listing {
    slot: Arc<NameSlot>,
    names: Arc<Names>,
}

impl Listing {
    /// An entry called `name`, to be listed in `names`.
    pub(crate) fn new(name: Box<str>, names: &Arc<Names>) -> Listing {
        let slot = Arc::new(NameSlot {
            name,
            task: std::sync::atomic::AtomicU64::new(0),
        });
        Listing {
            slot,
            names: names.clone(),
        }
    }

    /// The entry's name slot (to [`list_name`] it).
    pub(crate) fn slot(&self) -> &Arc<NameSlot> {
        &self.slot
    }

    /// The id of the task listed (0 before it is).
    pub(crate) fn task(&self) -> u64 {
        self.slot.task.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.task());
    }
}

/// Lists a named task's name under its `id`: before the task can run, so
/// before it can end (or start) and take it off the list.
pub(crate) fn list_name(slot: &Arc<NameSlot>, names: &Names, id: u64) {
    slot.task.store(id, std::sync::atomic::Ordering::Relaxed);
    names
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, slot.clone());
}

/// The tasks listed in `names` now: their ids and names.
pub(crate) fn listed(names: &Names) -> Vec<(u64, String)> {
    names
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(&id, slot)| (id, slot.name().to_owned()))
        .collect()
}

/// A future with a name: shown while it is polled (stall reports), and
/// listed in its runtime's [`Names`] while it lives (dumps).
pub(crate) struct Named<F> {
    listing: Listing,
    future: F,
}

impl<F> Named<F> {
    /// `future`, under the name of `listing`.
    pub(crate) fn new(listing: Listing, future: F) -> Named<F> {
        Named { listing, future }
    }
}

impl<F: std::future::Future> std::future::Future for Named<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        // SAFETY: the future is pinned with us and never moved out.
        let this = unsafe { self.get_unchecked_mut() };
        /// Puts the outer name back, even if the poll panics.
        struct Restore(Option<ptr::NonNull<str>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                POLLED_NAME.with(|name| name.set(self.0));
            }
        }
        let outer = POLLED_NAME
            .with(|name| name.replace(Some(ptr::NonNull::from(&*this.listing.slot.name))));
        let _restore = Restore(outer);
        // SAFETY: as above.
        unsafe { std::pin::Pin::new_unchecked(&mut this.future) }.poll(cx)
    }
}

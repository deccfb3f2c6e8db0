//! How a task reaches its executor: the [`Schedule`] hook stored in every
//! task, with the inbox node embedded in it, and the node a remote spawn
//! sends.

use super::inbox::{Closed, Link};
use super::{Platform, Shared};
use crate::loom::UnsafeCell;
use crate::task::raw::TaskRef;
use crate::task::{Runnable, Schedule};
use alloc::boxed::Box;
use alloc::sync::Arc;
use core::ptr::NonNull;

/// The inbox node of a task. It lives inside the task's allocation (in its
/// [`TaskSchedule`]), so scheduling allocates nothing.
///
/// The slot protocol: a task has at most one [`Runnable`] at a time. The
/// slot is filled by [`TaskSchedule::schedule`], which holds that Runnable,
/// right before the node is pushed, and emptied by the executor after it
/// took the node out of the inbox. In between, the task has no other
/// Runnable, so nobody else schedules it: the slot is never accessed by two
/// parties at once, and the node is in the inbox at most once.
#[repr(C)]
pub(crate) struct TaskNode {
    link: Link,
    runnable: UnsafeCell<Option<Runnable>>,
}

// SAFETY: the slot is only accessed under the protocol above, by one party
// at a time, with the inbox's Release/Acquire ordering between the pusher
// and the executor; `Runnable` is Send and Sync.
unsafe impl Sync for TaskNode {}

impl TaskNode {
    /// Takes the Runnable of a node received from the task inbox.
    ///
    /// # Safety
    ///
    /// `link` came out of [`Shared::inbox`]'s `take_all`, so it is the link
    /// of a `TaskNode` whose slot was filled before it was pushed.
    pub(crate) unsafe fn take(link: NonNull<Link>) -> Runnable {
        // SAFETY: the link is the node's first field (`repr(C)`); the
        // Runnable in its slot keeps the task, and so the node, alive.
        let node = unsafe { link.cast::<TaskNode>().as_ref() };
        // SAFETY: the slot protocol: the executor owns the slot until it
        // hands the Runnable on.
        node.runnable
            .with_mut(|slot| unsafe { (*slot).take() })
            .expect("a scheduled task node without its Runnable")
    }
}

/// The scheduler hook of every task of an executor.
pub(crate) struct TaskSchedule<P: Platform> {
    node: TaskNode,
    shared: Arc<Shared<P>>,
}

impl<P: Platform> TaskSchedule<P> {
    pub(crate) fn new(shared: Arc<Shared<P>>) -> Self {
        TaskSchedule {
            node: TaskNode {
                link: Link::new(),
                runnable: UnsafeCell::new(None),
            },
            shared,
        }
    }
}

impl<P: Platform> Schedule for TaskSchedule<P> {
    /// The wake path: callable from any thread, CPU or interrupt handler.
    /// It stores the Runnable in the task's own node, pushes the node with
    /// a compare-and-swap loop, and kicks the executor's CPU if the inbox
    /// was empty. No lock, no allocation.
    fn schedule(&self, runnable: Runnable) {
        // SAFETY: the slot protocol (see `TaskNode`): we hold the task's
        // only Runnable, so the slot is empty and nobody else touches it.
        self.node.runnable.with_mut(|slot| unsafe {
            debug_assert!((*slot).is_none(), "a task scheduled twice");
            *slot = Some(runnable);
        });
        let link = NonNull::from(&self.node).cast::<Link>();
        // SAFETY: the node lives in the task allocation, which never moves
        // and which the Runnable now in the slot keeps alive until the
        // executor takes it; the node is in no inbox (one Runnable).
        match unsafe { self.shared.inbox.push(link) } {
            Ok(true) => self.shared.kick(),
            Ok(false) => {}
            Err(Closed) => {
                // The executor is gone. Every task it ever ran completed
                // before it closed its inbox (see its `Drop`), so this is a
                // task it never ran: one spawned from another CPU, whose
                // future is `Send`. Dropping the Runnable cancels it here.
                // SAFETY: the push failed, so the slot is still ours.
                let runnable = self
                    .node
                    .runnable
                    .with_mut(|slot| unsafe { (*slot).take() });
                drop(runnable);
            }
        }
    }
}

/// A task spawned from another CPU, on its way to the executor that will
/// register and run it.
#[repr(C)]
pub(crate) struct SpawnNode {
    link: Link,
    runnable: Runnable,
    task: TaskRef,
}

impl SpawnNode {
    /// Sends a new task to `shared`'s executor; gives it back if that
    /// executor is gone.
    pub(crate) fn send<P: Platform>(
        shared: &Shared<P>,
        runnable: Runnable,
        task: TaskRef,
    ) -> Result<(), (Runnable, TaskRef)> {
        let node = Box::new(SpawnNode {
            link: Link::new(),
            runnable,
            task,
        });
        let link = NonNull::from(Box::leak(node)).cast::<Link>();
        // SAFETY: the leaked box is ours until the executor receives it.
        match unsafe { shared.spawns.push(link) } {
            Ok(was_empty) => {
                if was_empty {
                    shared.kick();
                }
                Ok(())
            }
            Err(Closed) => {
                // SAFETY: not pushed: the box is still ours.
                let node = unsafe { Box::from_raw(link.cast::<SpawnNode>().as_ptr()) };
                Err((node.runnable, node.task))
            }
        }
    }

    /// Unpacks a node received from the spawn inbox.
    ///
    /// # Safety
    ///
    /// `link` came out of [`Shared::spawns`]'s `take_all`: it is the link of
    /// a boxed `SpawnNode` sent by [`send`](Self::send).
    pub(crate) unsafe fn receive(link: NonNull<Link>) -> (Runnable, TaskRef) {
        // SAFETY: `send` leaked the box and the inbox handed it to us alone.
        let node = unsafe { Box::from_raw(link.cast::<SpawnNode>().as_ptr()) };
        (node.runnable, node.task)
    }
}

//! Coroutine-local storage: values that belong to the coroutine using them,
//! as `thread_local!` values belong to a thread.
//!
//! ```
//! use std::cell::Cell;
//! use std::time::Duration;
//!
//! xasync::coroutine_local! {
//!     /// The request the coroutine is serving.
//!     static REQUEST: Cell<u32> = Cell::new(0);
//! }
//!
//! fn handle(request: u32) -> u32 {
//!     REQUEST.with(|r| r.set(request));
//!     xasync::time::sleep(Duration::from_millis(10)); // other coroutines run meanwhile
//!     REQUEST.with(Cell::get) // still this coroutine's
//! }
//!
//! let handles: Vec<_> = (1..=3).map(|i| xasync::xasync(move || handle(i))).collect();
//! let served: Vec<u32> = handles.into_iter().map(xasync::xawait).collect();
//! assert_eq!(served, [1, 2, 3]);
//! ```
//!
//! # Whose value
//!
//! - **In a coroutine** (started by [`xasync`](crate::xasync), including
//!   inside the futures it `xawait`s): the coroutine's own, initialized on
//!   its first access and dropped when the coroutine ends — returning,
//!   panicking or cancelled. Its destructor runs in the coroutine, so it may
//!   still wait (send, lock, sleep).
//! - **On a plain thread** (including a thread blocked in `xawait`, and the
//!   threads of [`blocking`](crate::blocking), which are reused across
//!   calls): the thread's own, dropped when the thread exits, like a
//!   `thread_local!` value.
//! - **In an async task** (a future polled by a worker, outside any
//!   coroutine): there is none. A worker polls many tasks in turn, so a value
//!   of its thread would be shared by all of them: [`LocalKey::try_with`]
//!   returns an [`AccessError`] and [`LocalKey::with`] panics, as tokio's
//!   `task_local!` does outside its scope.
//!
//! While a coroutine's (or thread's) values are being dropped, accessing any
//! of its keys is an [`AccessError`] too. The raw coroutines of
//! [`coroutine`](crate::coroutine) (generators resumed by their caller)
//! have no values of their own: they use their resumer's.
//!
//! # And `thread_local!`?
//!
//! A `thread_local!` value read in a coroutine is its worker thread's:
//! shared by every coroutine that runs on that worker. A started coroutine
//! never changes thread, so the value is always the same object — but any
//! other coroutine on the worker may have changed it while this one was
//! suspended. Keep `thread_local!` for caches that any coroutine may use,
//! and use `coroutine_local!` for state that belongs to one flow of work
//! (a request, a transaction, a logging context).
//!
//! # Cost
//!
//! A coroutine's storage is allocated on its first access (a small map
//! keyed by the keys' addresses, searched linearly: meant for a handful of
//! keys). Suspending and resuming a coroutine never touch it; a coroutine
//! that does not use it pays one pointer's initialization and check.

use crate::context::{self, Owner};
use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::ptr;
use std::rc::Rc;

/// Declares coroutine-local keys: `static NAME: Type = init;`, with
/// optional attributes, doc comments and visibility, as `thread_local!`
/// does. Each key is a [`LocalKey`]; see the [module docs](crate::local)
/// for whose value an access reaches.
///
/// ```
/// use std::cell::RefCell;
///
/// xasync::coroutine_local! {
///     /// Breadcrumbs of the current request.
///     pub static TRAIL: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
///     static DEPTH: std::cell::Cell<u8> = std::cell::Cell::new(0);
/// }
///
/// let trail = xasync::xawait(xasync::xasync(|| {
///     TRAIL.with(|t| t.borrow_mut().push("start"));
///     TRAIL.with(|t| t.borrow().clone())
/// }));
/// assert_eq!(trail, ["start"]);
/// ```
#[macro_export]
macro_rules! coroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::coroutine_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::coroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])*
        $vis static $name: $crate::local::LocalKey<$t> = {
            fn init() -> $t {
                $init
            }
            $crate::local::LocalKey::new(init)
        };
    };
}

/// A coroutine-local key, declared by [`coroutine_local!`](crate::coroutine_local).
///
/// Each coroutine (or plain thread) that accesses it gets its own value,
/// made by the declaration's initializer on its first access.
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> LocalKey<T> {
    /// A key with the initializer `init`. Use
    /// [`coroutine_local!`](crate::coroutine_local): a key is told apart by
    /// its address, so it must be a `static`.
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Self {
        LocalKey { init }
    }

    /// Runs `f` with the caller's value of this key, initializing it first
    /// if needed.
    ///
    /// # Panics
    ///
    /// In an async task outside any coroutine (no value to give), or while
    /// the caller's coroutine-local values are being dropped; see
    /// [`try_with`](Self::try_with).
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        match self.try_with(f) {
            Ok(result) => result,
            Err(error) => panic!("{error}"),
        }
    }

    /// Runs `f` with the caller's value of this key, initializing it first
    /// if needed; or, in an async task outside any coroutine or while the
    /// caller's values are being dropped, returns an [`AccessError`]
    /// without calling `f`.
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> Result<R, AccessError> {
        let value = match context::owner() {
            Owner::Coroutine(locals) => locals.get(self)?,
            Owner::Thread => THREAD
                .try_with(|locals| locals.get(self))
                .map_err(|_| AccessError(Reason::Destroyed))??,
            Owner::Task => return Err(AccessError(Reason::Task)),
        };
        // The value is shared rather than borrowed from the map, so `f` may
        // use other keys (which may add to the map) freely.
        Ok(f(&value))
    }

    /// This key's identity: its address (a `static` has one of its own).
    fn id(&'static self) -> usize {
        ptr::from_ref(self).addr()
    }
}

/// The shortcuts of `std::thread::LocalKey` for keys holding a `Cell`; each
/// initializes the caller's value first if needed, and panics where
/// [`LocalKey::with`] does.
impl<T: 'static> LocalKey<Cell<T>> {
    /// Sets the caller's value.
    pub fn set(&'static self, value: T) {
        self.with(|cell| cell.set(value));
    }

    /// A copy of the caller's value.
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }

    /// Takes the caller's value, leaving `T::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }

    /// Replaces the caller's value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

/// The shortcuts of `std::thread::LocalKey` for keys holding a `RefCell`;
/// each initializes the caller's value first if needed, and panics where
/// [`LocalKey::with`] does, or if the value is already borrowed
/// incompatibly.
impl<T: 'static> LocalKey<RefCell<T>> {
    /// Runs `f` with a shared borrow of the caller's value.
    pub fn with_borrow<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        self.with(|cell| f(&cell.borrow()))
    }

    /// Runs `f` with a mutable borrow of the caller's value.
    pub fn with_borrow_mut<F: FnOnce(&mut T) -> R, R>(&'static self, f: F) -> R {
        self.with(|cell| f(&mut cell.borrow_mut()))
    }

    /// Sets the caller's value.
    pub fn set(&'static self, value: T) {
        self.with_borrow_mut(|v| *v = value);
    }

    /// Takes the caller's value, leaving `T::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }

    /// Replaces the caller's value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// Why [`LocalKey::try_with`] has no value to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessError(Reason);

/// The cases of [`AccessError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    /// Called in an async task, outside any coroutine.
    Task,
    /// Called while the owner's values are being dropped.
    Destroyed,
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Reason::Task => {
                "coroutine-local storage used in an async task: only coroutines \
                 (xasync::xasync) and plain threads have values of their own"
            }
            Reason::Destroyed => {
                "coroutine-local storage used while its coroutine's or thread's \
                 values are being dropped"
            }
        })
    }
}

impl std::error::Error for AccessError {}

thread_local! {
    /// A plain thread's values.
    static THREAD: Locals = const { Locals::new() };
}

/// The values of one coroutine (or thread), allocated on first use.
pub(crate) struct Locals(OnceCell<Box<Map>>);

/// The values, by key.
#[derive(Default)]
struct Map {
    entries: RefCell<Vec<(usize, Rc<dyn Any>)>>,
    destroyed: Cell<bool>,
}

impl Locals {
    /// No values yet.
    pub(crate) const fn new() -> Locals {
        Locals(OnceCell::new())
    }

    /// The value of `key`, initialized if needed.
    fn get<T: 'static>(&self, key: &'static LocalKey<T>) -> Result<Rc<T>, AccessError> {
        let map = self.0.get_or_init(Box::default);
        if map.destroyed.get() {
            return Err(AccessError(Reason::Destroyed));
        }
        let id = key.id();
        if let Some(value) = map.find(id) {
            return Ok(downcast(value));
        }
        // No borrow is held while the initializer runs: it may use other
        // keys, or this one (then its value wins, and ours is dropped).
        let value: Rc<dyn Any> = Rc::new((key.init)());
        let existing = map.find(id);
        match existing {
            Some(existing) => {
                drop(value);
                Ok(downcast(existing))
            }
            None => {
                map.entries.borrow_mut().push((id, value.clone()));
                Ok(downcast(value))
            }
        }
    }

    /// Drops the values; later accesses get an [`AccessError`]. Called by
    /// the coroutine itself when it ends (so that the destructors may
    /// wait), and by `drop`. Inline: most coroutines have no values.
    #[inline]
    pub(crate) fn destroy(&self) {
        if let Some(map) = self.0.get() {
            map.destroy();
        }
    }
}

impl Drop for Locals {
    fn drop(&mut self) {
        self.destroy();
    }
}

impl Map {
    /// See [`Locals::destroy`].
    #[inline(never)]
    fn destroy(&self) {
        self.destroyed.set(true);
        // Dropped after the borrow ends: a destructor may try a key.
        let entries = self.entries.take();
        drop(entries);
    }

    /// The value of the key with address `id`, if any.
    fn find(&self, id: usize) -> Option<Rc<dyn Any>> {
        let entries = self.entries.borrow();
        let (_, value) = entries.iter().find(|(key, _)| *key == id)?;
        Some(value.clone())
    }
}

/// A value of a `LocalKey<T>` as the `T` it is.
fn downcast<T: 'static>(value: Rc<dyn Any>) -> Rc<T> {
    value
        .downcast()
        .unwrap_or_else(|_| unreachable!("a key's values all have the key's type"))
}

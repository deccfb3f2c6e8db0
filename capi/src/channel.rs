//! Channels of `void *` from C: bounded or not, waiting, non-waiting and
//! timed operations, close and destroy.

use crate::coroutine::{self, Ptr};
use crate::error::{Error, Result, clear_out, non_null, status};
use crate::table::{Kind, Table};
use crate::xasync_status::{self, *};
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use xasync::sync::channel::{self, Receiver, Sender, TryRecvError, TrySendError};

/// A multi-producer, multi-consumer channel of `void *` values. Create with
/// `xasync_channel_bounded` or `xasync_channel_unbounded`, release with
/// `xasync_channel_destroy`. Any thread or coroutine may use it.
#[repr(C)]
#[allow(non_camel_case_types, reason = "the names are those of the C header")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct xasync_channel {
    /// The handle's id (see the crate documentation); 0 is never issued.
    pub id: u64,
}

/// A channel as the table holds it: both ends. Each operation works on
/// its own clone of the end it needs, outside the table's lock, so that
/// destroying the channel drops the table's ends and wakes the waiters
/// (senders see no receiver left; receivers, once the senders in flight
/// are done, see no sender left).
struct Channel {
    /// `None` once closed.
    sender: Mutex<Option<Sender<Ptr>>>,
    receiver: Receiver<Ptr>,
}

impl Channel {
    fn sender(&self) -> Result<Sender<Ptr>> {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        sender.clone().ok_or_else(closed)
    }

    /// Closes the sending side; whether it was open.
    fn close(&self) -> bool {
        let mut sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        sender.take().is_some()
    }
}

/// The channels' handle table.
pub(crate) const CHANNEL: Kind = Kind::new(0x43, "channel", "destroyed");
static CHANNELS: Table<Arc<Channel>> = Table::new(CHANNEL);

fn closed() -> Error {
    Error::new(XASYNC_ERR_CLOSED, "the channel is closed")
}

fn drained() -> Error {
    Error::new(XASYNC_ERR_CLOSED, "the channel is closed and empty")
}

/// Creates a channel with ends `tx` and `rx` and stores its handle in
/// `*out`.
///
/// # Safety
///
/// `out` is NULL or writable.
unsafe fn create((tx, rx): (Sender<Ptr>, Receiver<Ptr>), out: *mut xasync_channel) -> Result<()> {
    // SAFETY: NULL or writable by the caller's contract.
    unsafe { clear_out(out, "out", xasync_channel { id: 0 }) }?;
    let channel = Channel {
        sender: Mutex::new(Some(tx)),
        receiver: rx,
    };
    let id = CHANNELS.insert(Arc::new(channel))?;
    // SAFETY: writable by the caller's contract, and not NULL (`clear_out`).
    unsafe { out.write(xasync_channel { id }) };
    Ok(())
}

/// Creates a channel that holds at most `capacity` values (sends wait
/// while it is full) and stores its handle in `*out`. A capacity of 0
/// makes a rendezvous channel: a send completes when a receiver takes the
/// value.
///
/// # Safety
///
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_channel_bounded(
    capacity: usize,
    out: *mut xasync_channel,
) -> xasync_status {
    // SAFETY: forwarded from our caller.
    status("xasync_channel_bounded", || unsafe {
        create(channel::bounded(capacity), out)
    })
}

/// Creates a channel of unlimited capacity (sends never wait) and stores
/// its handle in `*out`.
///
/// # Safety
///
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_channel_unbounded(out: *mut xasync_channel) -> xasync_status {
    // SAFETY: forwarded from our caller.
    status("xasync_channel_unbounded", || unsafe {
        create(channel::unbounded(), out)
    })
}

/// The channel named by `ch`.
fn get(ch: xasync_channel) -> Result<Arc<Channel>> {
    CHANNELS.with(ch.id, Arc::clone)
}

/// Sends `value` on `tx`, waiting (up to `timeout`) while the channel is
/// full. `Ok` exactly when the value was delivered, even if the calling
/// coroutine was cancelled meanwhile.
fn send(tx: &Sender<Ptr>, value: Ptr, timeout: Option<Duration>) -> Result<()> {
    /// Withdraws the send if it is dropped before completing (timeout or
    /// cancellation), recording whether the value was delivered anyway.
    struct Sending<'a> {
        future: Option<channel::SendFut<'a, Ptr>>,
        delivered: &'a std::cell::Cell<bool>,
    }
    impl Drop for Sending<'_> {
        fn drop(&mut self) {
            if let Some(future) = self.future.take() {
                self.delivered.set(future.cancel().is_none());
            }
        }
    }
    let delivered = std::cell::Cell::new(false);
    let outcome = coroutine::wait(|| {
        let mut sending = Sending {
            future: Some(tx.send_async(value)),
            delivered: &delivered,
        };
        let future = sending.future.as_mut().expect("set above");
        match timeout {
            None => Some(xasync::xawait(future)),
            Some(limit) => coroutine::timeout(limit, future),
        }
        .map(|sent| {
            sending.future = None; // completed: nothing to withdraw
            sent.is_ok()
        })
    });
    match outcome {
        Ok(Some(true)) => Ok(()),
        Ok(Some(false)) => Err(Error::new(
            XASYNC_ERR_CLOSED,
            "the channel was destroyed (the value was not sent)",
        )),
        Ok(None) if delivered.get() => Ok(()),
        Ok(None) => Err(Error::new(
            XASYNC_ERR_TIMED_OUT,
            "timed out on a full channel (the value was not sent)",
        )),
        Err(_) if delivered.get() => Ok(()),
        Err(error) => Err(error),
    }
}

/// Sends `value`, waiting while the channel is full (suspends a
/// coroutine, blocks a thread). `XASYNC_OK` means the value was delivered;
/// on any error it was not, and the caller still owns it.
///
/// Errors: `XASYNC_ERR_CLOSED` (closed or destroyed), `XASYNC_ERR_CANCELLED`
/// (the calling coroutine was cancelled), handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_channel_send(ch: xasync_channel, value: *mut c_void) -> xasync_status {
    status("xasync_channel_send", || {
        coroutine::check()?;
        // Only the sender is held while waiting (see `Channel`).
        let tx = get(ch)?.sender()?;
        send(&tx, Ptr::new(value), None)
    })
}

/// As `xasync_channel_send`, giving up after `timeout_ms` milliseconds
/// with `XASYNC_ERR_TIMED_OUT` (the value was not sent).
#[unsafe(no_mangle)]
pub extern "C" fn xasync_channel_send_timeout(
    ch: xasync_channel,
    value: *mut c_void,
    timeout_ms: u64,
) -> xasync_status {
    status("xasync_channel_send_timeout", || {
        coroutine::check()?;
        let tx = get(ch)?.sender()?;
        send(
            &tx,
            Ptr::new(value),
            Some(Duration::from_millis(timeout_ms)),
        )
    })
}

/// Sends `value` if that is possible without waiting.
///
/// Errors: `XASYNC_ERR_FULL` (full; for a rendezvous channel: no receiver
/// waiting), `XASYNC_ERR_CLOSED`, handle errors. On error the value was not
/// sent.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_channel_try_send(ch: xasync_channel, value: *mut c_void) -> xasync_status {
    status("xasync_channel_try_send", || {
        match get(ch)?.sender()?.try_send(Ptr::new(value)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(Error::new(XASYNC_ERR_FULL, "the channel is full")),
            Err(TrySendError::Disconnected(_)) => Err(closed()),
        }
    })
}

/// Stores `value` through `out` (NULL on failure), if `out` is not NULL.
///
/// # Safety
///
/// `out` is NULL or writable.
unsafe fn store(out: *mut *mut c_void, value: &Result<Ptr>) {
    if !out.is_null() {
        let value = value.as_ref().map_or(ptr::null_mut(), |v| v.into_raw());
        // SAFETY: non-null and writable by the caller's contract.
        unsafe { out.write(value) };
    }
}

/// Receives the next value into `*out`, waiting while the channel is
/// empty (suspends a coroutine, blocks a thread). Values arrive in the
/// order they were sent.
///
/// Errors: `XASYNC_ERR_NULL_POINTER` (`out`), `XASYNC_ERR_CLOSED` (closed
/// or destroyed, and empty), `XASYNC_ERR_CANCELLED`, handle errors.
///
/// # Safety
///
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_channel_recv(
    ch: xasync_channel,
    out: *mut *mut c_void,
) -> xasync_status {
    status("xasync_channel_recv", || {
        non_null(out, "out")?;
        let channel = get(ch)?;
        let value = coroutine::wait(|| channel.receiver.recv())
            .and_then(|r| r.map_err(|channel::RecvError| drained()));
        // SAFETY: forwarded from our caller.
        unsafe { store(out, &value) };
        value.map(drop)
    })
}

/// As `xasync_channel_recv`, giving up after `timeout_ms` milliseconds
/// with `XASYNC_ERR_TIMED_OUT`.
///
/// # Safety
///
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_channel_recv_timeout(
    ch: xasync_channel,
    timeout_ms: u64,
    out: *mut *mut c_void,
) -> xasync_status {
    status("xasync_channel_recv_timeout", || {
        non_null(out, "out")?;
        let channel = get(ch)?;
        let timeout = Duration::from_millis(timeout_ms);
        let receiving = || coroutine::timeout(timeout, channel.receiver.recv_async());
        let value = coroutine::wait(receiving).and_then(|r| match r {
            Some(Ok(value)) => Ok(value),
            Some(Err(channel::RecvError)) => Err(drained()),
            None => Err(Error::new(
                XASYNC_ERR_TIMED_OUT,
                "timed out on an empty channel",
            )),
        });
        // SAFETY: forwarded from our caller.
        unsafe { store(out, &value) };
        value.map(drop)
    })
}

/// Receives a value into `*out` if one is there without waiting.
///
/// Errors: `XASYNC_ERR_NULL_POINTER` (`out`), `XASYNC_ERR_EMPTY`,
/// `XASYNC_ERR_CLOSED` (closed and empty), handle errors.
///
/// # Safety
///
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_channel_try_recv(
    ch: xasync_channel,
    out: *mut *mut c_void,
) -> xasync_status {
    status("xasync_channel_try_recv", || {
        non_null(out, "out")?;
        let value = get(ch)?.receiver.try_recv().map_err(|e| match e {
            TryRecvError::Empty => Error::new(XASYNC_ERR_EMPTY, "the channel is empty"),
            TryRecvError::Disconnected => drained(),
        });
        // SAFETY: forwarded from our caller.
        unsafe { store(out, &value) };
        value.map(drop)
    })
}

/// Stores in `*out` how many values the channel holds.
///
/// # Safety
///
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xasync_channel_len(ch: xasync_channel, out: *mut usize) -> xasync_status {
    status("xasync_channel_len", || {
        non_null(out, "out")?;
        let len = get(ch)?.receiver.len();
        // SAFETY: non-null and writable by the caller's contract.
        unsafe { out.write(len) };
        Ok(())
    })
}

/// Closes the channel for sending: sends fail with `XASYNC_ERR_CLOSED`
/// from now on (sends already waiting still complete), receivers get the
/// values left, then `XASYNC_ERR_CLOSED`. The handle stays valid until
/// destroyed. `XASYNC_ERR_CLOSED` if it was closed already.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_channel_close(ch: xasync_channel) -> xasync_status {
    status("xasync_channel_close", || {
        if get(ch)?.close() {
            Ok(())
        } else {
            Err(Error::new(
                XASYNC_ERR_CLOSED,
                "the channel was closed already",
            ))
        }
    })
}

/// Releases the channel: closes it; values still in it are discarded (the
/// library never frees what they point to: drain first if they own
/// memory); waiting senders fail with `XASYNC_ERR_CLOSED`, and waiting
/// receivers too once the senders in flight are done. Using the handle
/// afterwards gives `XASYNC_ERR_STALE_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn xasync_channel_destroy(ch: xasync_channel) -> xasync_status {
    status("xasync_channel_destroy", || {
        let channel = CHANNELS.remove(ch.id)?;
        channel.close();
        drop(channel);
        Ok(())
    })
}

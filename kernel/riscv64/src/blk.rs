//! virtio-blk: block reads and writes that suspend the calling coroutine
//! (or task) until the device's completion interrupt.
//!
//! ```text
//!  read/write ─► a free request buffer ─► the virtqueue (queue full: wait for a completion)
//!       │                                        │ device
//!       ▼ wait (waker in the request's slot)     ▼
//!  coroutine resumes ◄── waker.wake() ◄── on_interrupt: ack, pop each used request,
//!  copies its data out                    store its result in its slot
//! ```
//!
//! The device reads and writes a request's memory until it completes it,
//! so that memory belongs to the driver, not to the caller's future: each
//! request has its own buffer ([`MAX_BLOCKS`] blocks), data is copied in
//! for writes and out for reads. A future dropped while its request is in
//! flight leaves the buffer to the interrupt handler, which takes it back
//! when the device is done with it.
//!
//! The `virtio-drivers` crate's virtqueue has 16 entries: up to 16 requests
//! are on the device at once, more wait in the driver for a completion.

use crate::plic;
use crate::sync::IrqSpinLock;
use crate::virtio::{self, KernelHal};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::mem;
use core::task::{Poll, Waker};
use virtio_drivers::device::blk::{BlkReq, BlkResp, SECTOR_SIZE, VirtIOBlk};
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::mmio::MmioTransport;
use xasync_core::task::stackful::Suspender;

pub use virtio_drivers::Error;

/// Bytes per block.
pub const BLOCK_SIZE: usize = SECTOR_SIZE;
/// The most blocks one request reads or writes.
pub const MAX_BLOCKS: usize = 8;

type VirtioBlk = VirtIOBlk<KernelHal, MmioTransport<'static>>;

/// A request: its memory, shared with the device while it is in flight,
/// and its state.
struct Request {
    header: BlkReq,
    data: [u8; MAX_BLOCKS * BLOCK_SIZE],
    len: usize,
    write: bool,
    status: BlkResp,
    state: State,
}

enum State {
    /// Not in use (on the spare list).
    Free,
    /// On the device; `abandoned` if its future was dropped meanwhile.
    InFlight {
        waker: Option<Waker>,
        abandoned: bool,
    },
    /// Completed, not yet collected by its future.
    Done(Result<(), Error>),
}

struct Driver {
    device: VirtioBlk,
    /// One per queue entry. Boxed, so their memory stays where the device
    /// was told it is; never removed.
    requests: Vec<Box<Request>>,
    /// Requests in state `Free`.
    spare: Vec<usize>,
    /// `by_token[t]`: the request that the queue's entry `t` carries. (The
    /// queue reuses an entry as soon as it is completed, possibly before
    /// the future collected the result: results stay with the request.)
    by_token: Vec<Option<usize>>,
    /// Tasks waiting for room on the queue; all are woken by each
    /// completion (a woken one may since have been dropped).
    waiting: Vec<Waker>,
    in_flight: u64,
    stats: BlkStats,
}

static DRIVER: IrqSpinLock<Option<Driver>> = IrqSpinLock::new(None);

/// Counters of the block driver.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlkStats {
    /// Requests completed by the device.
    pub completed: u64,
    /// Completion interrupts handled.
    pub interrupts: u64,
    /// The most requests on the device at once.
    pub peak_in_flight: u64,
    /// Times a request found the queue full and waited for a completion.
    pub waited_for_room: u64,
}

fn with<R>(f: impl FnOnce(&mut Driver) -> R) -> R {
    let mut driver = DRIVER.lock();
    f(driver.as_mut().expect("blk: blk::init was not called"))
}

/// Sets up the virtio-blk device and routes its interrupt to the calling
/// hart; returns its capacity in blocks.
///
/// # Panics
///
/// If there is no virtio-blk device (QEMU: `-device virtio-blk-device`) or
/// it was already set up.
pub fn init() -> u64 {
    // SAFETY: the DRIVER check below makes this the only call that keeps a
    // block transport.
    let found = unsafe { virtio::find(DeviceType::Block) }
        .expect("blk: no virtio-blk device (qemu -device virtio-blk-device)");
    let mut device = VirtioBlk::new(found.transport).expect("blk: virtio-blk setup");
    device.enable_interrupts();
    let capacity = device.capacity();
    let entries = usize::from(device.virt_queue_size());
    let requests = (0..entries)
        .map(|_| {
            Box::new(Request {
                header: BlkReq::default(),
                data: [0; MAX_BLOCKS * BLOCK_SIZE],
                len: 0,
                write: false,
                status: BlkResp::default(),
                state: State::Free,
            })
        })
        .collect();
    let previous = DRIVER.lock().replace(Driver {
        device,
        requests,
        spare: (0..entries).collect(),
        by_token: (0..entries).map(|_| None).collect(),
        waiting: Vec::with_capacity(64),
        in_flight: 0,
        stats: BlkStats::default(),
    });
    assert!(previous.is_none(), "blk: blk::init called twice");
    plic::register(found.irq, on_interrupt);
    capacity
}

/// The counters so far.
pub fn stats() -> BlkStats {
    with(|driver| driver.stats)
}

/// The completion interrupt: acknowledges the device, completes every
/// request it is done with, and wakes their tasks (and those waiting for
/// room). Allocates nothing.
fn on_interrupt() {
    with(|driver| {
        driver.device.ack_interrupt();
        driver.stats.interrupts += 1;
        while let Some(token) = driver.device.peek_used() {
            let id = driver.by_token[usize::from(token)]
                .take()
                .expect("blk: the device completed an entry that carries no request");
            let r = &mut *driver.requests[id];
            // SAFETY: the same buffers as at submission (`submit`); the
            // request is in flight, so nothing touched them since.
            let result = unsafe {
                if r.write {
                    driver.device.complete_write_blocks(
                        token,
                        &r.header,
                        &r.data[..r.len],
                        &mut r.status,
                    )
                } else {
                    driver.device.complete_read_blocks(
                        token,
                        &r.header,
                        &mut r.data[..r.len],
                        &mut r.status,
                    )
                }
            };
            driver.in_flight -= 1;
            driver.stats.completed += 1;
            match mem::replace(&mut r.state, State::Done(result)) {
                State::InFlight {
                    abandoned: true, ..
                } => {
                    r.state = State::Free;
                    driver.spare.push(id);
                }
                State::InFlight { waker, .. } => {
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
                _ => unreachable!("blk: a completed request was not in flight"),
            }
        }
        // `drain` keeps the vector's memory: nothing is freed here.
        for waker in driver.waiting.drain(..) {
            waker.wake();
        }
    });
}

/// A request on the device (or completed); its drop gives the request back
/// (now, or at completion if it is still in flight).
struct Submitted {
    id: usize,
}

impl Drop for Submitted {
    fn drop(&mut self) {
        with(|driver| {
            let r = &mut *driver.requests[self.id];
            match &mut r.state {
                State::InFlight { abandoned, .. } => *abandoned = true,
                _ => {
                    r.state = State::Free;
                    driver.spare.push(self.id);
                }
            }
        });
    }
}

/// Puts a request on the device: `fill` prepares its buffer. Waits while
/// the queue is full.
async fn submit(
    block: u64,
    len: usize,
    write: bool,
    fill: impl Fn(&mut [u8]),
) -> Result<Submitted, Error> {
    assert!(
        len > 0 && len.is_multiple_of(BLOCK_SIZE) && len <= MAX_BLOCKS * BLOCK_SIZE,
        "blk: {len} bytes is not 1 to {MAX_BLOCKS} whole blocks"
    );
    let sector = usize::try_from(block).expect("blk: block number overflows");
    poll_fn(|cx| {
        with(|driver| {
            let Some(id) = driver.spare.pop() else {
                driver.stats.waited_for_room += 1;
                driver.waiting.push(cx.waker().clone());
                return Poll::Pending;
            };
            let r = &mut *driver.requests[id];
            r.len = len;
            r.write = write;
            fill(&mut r.data[..len]);
            // SAFETY: the buffers live in the boxed request, which stays in
            // `requests` and is not touched until the device completed it
            // (see `on_interrupt`; `Submitted::drop` leaves it in flight).
            let token = unsafe {
                if write {
                    driver.device.write_blocks_nb(
                        sector,
                        &mut r.header,
                        &r.data[..len],
                        &mut r.status,
                    )
                } else {
                    driver.device.read_blocks_nb(
                        sector,
                        &mut r.header,
                        &mut r.data[..len],
                        &mut r.status,
                    )
                }
            };
            match token {
                Ok(token) => {
                    r.state = State::InFlight {
                        waker: None,
                        abandoned: false,
                    };
                    driver.by_token[usize::from(token)] = Some(id);
                    driver.in_flight += 1;
                    driver.stats.peak_in_flight = driver.stats.peak_in_flight.max(driver.in_flight);
                    Poll::Ready(Ok(Submitted { id }))
                }
                Err(Error::QueueFull) => {
                    driver.spare.push(id);
                    driver.stats.waited_for_room += 1;
                    driver.waiting.push(cx.waker().clone());
                    Poll::Pending
                }
                Err(error) => {
                    driver.spare.push(id);
                    Poll::Ready(Err(error))
                }
            }
        })
    })
    .await
}

/// Waits for the completion of `submitted`; runs `collect` on its data.
async fn complete<R>(submitted: Submitted, collect: impl FnOnce(&[u8]) -> R) -> Result<R, Error> {
    let mut collect = Some(collect);
    poll_fn(|cx| {
        with(|driver| {
            let r = &mut *driver.requests[submitted.id];
            match &mut r.state {
                State::Done(result) => {
                    let collect = collect.take().expect("blk: polled after completion");
                    Poll::Ready(result.map(|()| collect(&r.data[..r.len])))
                }
                State::InFlight { waker, .. } => {
                    *waker = Some(cx.waker().clone());
                    Poll::Pending
                }
                State::Free => unreachable!("blk: a submitted request is free"),
            }
        })
    })
    .await
    // `submitted` drops here and gives the request back.
}

/// Reads `buffer.len()` bytes (1 to [`MAX_BLOCKS`] whole blocks) from
/// `block` on, as a future.
pub async fn read_async(block: u64, buffer: &mut [u8]) -> Result<(), Error> {
    let submitted = submit(block, buffer.len(), false, |_| ()).await?;
    complete(submitted, |data| buffer.copy_from_slice(data)).await
}

/// Writes `data` (1 to [`MAX_BLOCKS`] whole blocks) from `block` on, as a
/// future; ready once the device reports it done.
pub async fn write_async(block: u64, data: &[u8]) -> Result<(), Error> {
    let submitted = submit(block, data.len(), true, |buffer| {
        buffer.copy_from_slice(data)
    })
    .await?;
    complete(submitted, |_| ()).await
}

/// Reads like [`read_async`], suspending the calling coroutine.
pub fn read(s: &Suspender<'_>, block: u64, buffer: &mut [u8]) -> Result<(), Error> {
    s.wait(read_async(block, buffer))
}

/// Writes like [`write_async`], suspending the calling coroutine.
pub fn write(s: &Suspender<'_>, block: u64, data: &[u8]) -> Result<(), Error> {
    s.wait(write_async(block, data))
}

//! The network stack: the NIC and smoltcp's interface and sockets behind
//! one interrupt-safe lock, the NIC's interrupt handler, and the task that
//! polls smoltcp.
//!
//! ```text
//!  NIC interrupt ─► on_interrupt: ack the NIC, ACTIVITY.signal() ─┐
//!  socket read/write/close ─► kick(): ACTIVITY.signal() ──────────┤
//!  smoltcp's next timer (retransmit, delayed ACK) ─► sleep ends ──┤
//!                                                                  ▼
//!  poll task: lock, iface.poll ─► smoltcp wakes the sockets' wakers ─► the coroutines
//!             in accept/read/write run again and take their data
//! ```
//!
//! The interrupt handler only acknowledges the device and wakes the poll
//! task: the protocol work runs in task context, where it may allocate and
//! take its time.

use super::device::{BUFFER_SIZE, NetDevice, VirtioNet};
use crate::event::IrqEvent;
use crate::platform::{Executor, Spawner};
use crate::sync::IrqSpinLock;
use crate::{plic, timer, virtio};
use alloc::vec::Vec;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::Poll;
use core::time::Duration;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr, Ipv4Address};
use virtio_drivers::transport::DeviceType;

/// The kernel's address under QEMU user networking (its fixed guest
/// address; no DHCP client here).
pub const ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
/// QEMU user networking's gateway.
const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

/// The NIC, the interface and its sockets.
pub(crate) struct Stack {
    iface: Interface,
    device: NetDevice,
    pub(crate) sockets: SocketSet<'static>,
    /// Sockets closed by their owner, removed once TCP is done with them.
    pub(crate) closing: Vec<SocketHandle>,
}

static STACK: IrqSpinLock<Option<Stack>> = IrqSpinLock::new(None);
/// Signalled by the NIC's interrupt and by socket operations; the poll
/// task waits on it.
static ACTIVITY: IrqEvent = IrqEvent::new();
/// NIC interrupts so far.
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);
/// Polls of the interface so far.
static POLLS: AtomicU64 = AtomicU64::new(0);

/// Counters of the network stack.
#[derive(Clone, Copy, Debug)]
pub struct NetStats {
    /// NIC interrupts handled.
    pub interrupts: u64,
    /// Times the poll task ran smoltcp.
    pub polls: u64,
}

/// The counters so far.
pub fn stats() -> NetStats {
    NetStats {
        interrupts: INTERRUPTS.load(Ordering::Relaxed),
        polls: POLLS.load(Ordering::Relaxed),
    }
}

/// Runs `f` on the stack, under its lock (interrupts off: keep it short).
pub(crate) fn with<R>(f: impl FnOnce(&mut Stack) -> R) -> R {
    let mut stack = STACK.lock();
    f(stack.as_mut().expect("net: net::init was not called"))
}

/// Asks the poll task to run smoltcp: there is data to send, or window
/// to announce.
pub(crate) fn kick() {
    ACTIVITY.signal();
}

fn now() -> Instant {
    Instant::from_micros(timer::uptime().as_micros() as i64)
}

/// Brings the network up on the calling hart: finds the virtio-net device,
/// gives it the address [`ADDRESS`]/24, routes its interrupt here, and
/// spawns the task that polls the stack on `executor`.
///
/// # Panics
///
/// If there is no virtio-net device (QEMU: `-device virtio-net-device`) or
/// it was already set up.
pub fn init(executor: &Executor) -> EthernetAddress {
    // SAFETY: the STACK check below makes this the only call that keeps a
    // network transport.
    let found = unsafe { virtio::find(DeviceType::Network) }
        .expect("net: no virtio-net device (qemu -device virtio-net-device)");
    let mut nic = VirtioNet::new(found.transport, BUFFER_SIZE).expect("net: virtio-net setup");
    let mac = EthernetAddress(nic.mac_address());
    nic.enable_interrupts();
    let mut device = NetDevice(nic);
    let mut config = Config::new(mac.into());
    config.random_seed = timer::uptime().as_nanos() as u64;
    let mut iface = Interface::new(config, &mut device, now());
    iface.update_ip_addrs(|addresses| {
        addresses
            .push(IpCidr::new(IpAddress::Ipv4(ADDRESS), 24))
            .expect("net: room for one address");
    });
    iface
        .routes_mut()
        .add_default_ipv4_route(GATEWAY)
        .expect("net: room for the default route");
    let previous = STACK.lock().replace(Stack {
        iface,
        device,
        sockets: SocketSet::new(Vec::new()),
        closing: Vec::new(),
    });
    assert!(previous.is_none(), "net: net::init called twice");
    plic::register(found.irq, on_interrupt);
    executor.spawn(poll_task(executor.spawner())).detach();
    mac
}

/// The NIC's interrupt handler: acknowledges the device (its line drops)
/// and wakes the poll task.
fn on_interrupt() {
    with(|stack| stack.device.0.ack_interrupt());
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    ACTIVITY.signal();
}

impl Stack {
    /// Runs smoltcp once; returns how soon it wants to run again.
    fn poll(&mut self) -> Option<Duration> {
        let now = now();
        self.iface.poll(now, &mut self.device, &mut self.sockets);
        let sockets = &mut self.sockets;
        self.closing.retain(|&handle| {
            let done = matches!(
                sockets.get::<tcp::Socket>(handle).state(),
                tcp::State::Closed | tcp::State::TimeWait
            );
            if done {
                sockets.remove(handle);
            }
            !done
        });
        self.iface
            .poll_delay(now, &self.sockets)
            .map(|delay| Duration::from_micros(delay.total_micros()))
    }
}

/// Polls smoltcp whenever the NIC interrupts, a socket asks for it, or one
/// of smoltcp's timers is due.
async fn poll_task(spawner: Spawner) {
    loop {
        // A signal from here on means: poll again.
        let seen = ACTIVITY.signals();
        let delay = with(Stack::poll);
        POLLS.fetch_add(1, Ordering::Relaxed);
        let activity = ACTIVITY.wait_for(seen + 1);
        match delay {
            None => drop(activity.await),
            Some(delay) => first(activity, spawner.sleep(delay)).await,
        }
    }
}

/// Waits until either future is ready.
async fn first(a: impl Future, b: impl Future) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

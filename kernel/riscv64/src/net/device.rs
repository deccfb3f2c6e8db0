//! The virtio-net device as smoltcp's [`Device`]: received buffers are
//! handed to smoltcp and then recycled into the receive queue; transmitted
//! frames go out through a fresh transmit buffer.

use crate::virtio::KernelHal;
use core::marker::PhantomData;
use core::ptr::NonNull;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::transport::mmio::MmioTransport;

/// Receive and transmit queue entries.
const QUEUE_SIZE: usize = 16;
/// Bytes per receive buffer: an Ethernet frame plus the virtio header.
pub(crate) const BUFFER_SIZE: usize = 2048;

/// The virtio-net driver of the `virtio-drivers` crate, on this kernel.
pub(crate) type VirtioNet = VirtIONet<KernelHal, MmioTransport<'static>, QUEUE_SIZE>;

/// smoltcp's view of the NIC.
pub(crate) struct NetDevice(pub(crate) VirtioNet);

/// The NIC, borrowed by a token. smoltcp gets a receive token and a
/// transmit token together (to answer a frame), and consumes them one after
/// the other, never both at once: each token reborrows the NIC only while
/// it is consumed.
struct NicRef<'a> {
    nic: NonNull<VirtioNet>,
    _borrow: PhantomData<&'a mut VirtioNet>,
}

impl<'a> NicRef<'a> {
    fn new(nic: &'a mut VirtioNet) -> Self {
        NicRef {
            nic: NonNull::from(nic),
            _borrow: PhantomData,
        }
    }

    fn with<R>(self, f: impl FnOnce(&mut VirtioNet) -> R) -> R {
        // SAFETY: the pointer comes from a `&'a mut` that the tokens hold on
        // to; tokens are consumed one at a time (see above), so this is the
        // only live reference while `f` runs.
        f(unsafe { &mut *self.nic.as_ptr() })
    }
}

/// A received frame, recycled into the receive queue once consumed.
pub(crate) struct RxToken<'a> {
    buffer: RxBuffer,
    nic: NicRef<'a>,
}

/// Room to send one frame.
pub(crate) struct TxToken<'a>(NicRef<'a>);

impl Device for NetDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        // Sending waits for the device (see `TxToken`), so a transmit slot
        // is always there once a frame arrived.
        let buffer = self.0.receive().ok()?;
        let nic = NicRef::new(&mut self.0);
        let twin = NicRef {
            nic: nic.nic,
            _borrow: PhantomData,
        };
        Some((RxToken { buffer, nic }, TxToken(twin)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        self.0.can_send().then(|| TxToken(NicRef::new(&mut self.0)))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps.max_burst_size = Some(1);
        caps
    }
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let result = f(self.buffer.packet());
        self.nic.with(|nic| {
            nic.recycle_rx_buffer(self.buffer)
                .expect("virtio-net: recycling a receive buffer")
        });
        result
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.with(|nic| {
            let mut buffer = nic.new_tx_buffer(len);
            let result = f(buffer.packet_mut());
            // The crate's `send` waits for the device to take the frame
            // (QEMU does so at once, in the notification).
            nic.send(buffer).expect("virtio-net: sending a frame");
            result
        })
    }
}

//! What the `virtio-drivers` crate needs from this kernel: its [`Hal`]
//! (DMA memory and address translation) and the virtio-mmio slots of QEMU
//! virt to find devices in.
//!
//! Paging is off and QEMU's devices are cache-coherent with no IOMMU, so a
//! physical address is the virtual one, DMA memory is plain heap memory,
//! and sharing a buffer with a device costs nothing.

use alloc::alloc::{alloc_zeroed, dealloc};
use core::alloc::Layout;
use core::ptr::NonNull;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// The first virtio-mmio slot of QEMU virt; slot `i` is at
/// `SLOTS + i * SLOT_SIZE` and raises PLIC interrupt `1 + i`.
const SLOTS: usize = 0x1000_1000;
const SLOT_SIZE: usize = 0x1000;
const SLOT_COUNT: usize = 8;

/// The kernel's [`Hal`] for virtio drivers.
#[derive(Debug)]
pub struct KernelHal;

fn dma_layout(pages: usize) -> Layout {
    Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE).expect("virtio: DMA size overflows")
}

// SAFETY: `dma_alloc` returns zeroed, page-aligned heap memory that nothing
// else uses until `dma_dealloc`; addresses are identity-mapped (no paging),
// so the physical address handed to the device is the pointer itself.
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        // SAFETY: the layout has a non-zero size (the crate asks for >= 1
        // page).
        let memory = unsafe { alloc_zeroed(dma_layout(pages)) };
        let memory = NonNull::new(memory).expect("virtio: out of memory for DMA");
        (memory.as_ptr() as PhysAddr, memory)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        // SAFETY: the crate gives back what `dma_alloc` returned for `pages`.
        unsafe { dealloc(vaddr.as_ptr(), dma_layout(pages)) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as usize as *mut u8).expect("virtio: MMIO at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.cast::<u8>().as_ptr() as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// A virtio device found in a slot: its transport and its PLIC interrupt.
pub struct Found {
    /// The device's virtio-mmio transport.
    pub transport: MmioTransport<'static>,
    /// The PLIC source the device interrupts on.
    pub irq: usize,
}

/// Finds the first virtio-mmio device of type `kind`.
///
/// # Safety
///
/// Called at most once per device kind (each call hands out the unique
/// transport of the slot it finds).
pub unsafe fn find(kind: DeviceType) -> Option<Found> {
    (0..SLOT_COUNT).find_map(|slot| {
        let header = NonNull::new((SLOTS + slot * SLOT_SIZE) as *mut VirtIOHeader)?;
        // SAFETY: QEMU virt maps a virtio-mmio slot of SLOT_SIZE bytes here;
        // the caller promises no other transport for this device exists
        // (a slot of another kind is dropped again at once).
        let transport = unsafe { MmioTransport::new(header, SLOT_SIZE) }.ok()?;
        (transport.device_type() == kind).then_some(Found {
            transport,
            irq: 1 + slot,
        })
    })
}

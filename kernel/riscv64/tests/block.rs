//! virtio-blk from coroutines: 32 coroutines each write a pattern over
//! their own 64 blocks in 4 KiB requests, read it back and verify it, all
//! at once (up to 32 requests outstanding; the device's queue takes 16,
//! the rest wait for room), each suspended while its request is on the
//! device; then an `async` task reads the whole region again and checks
//! every block.
//!
//! The runner attaches a fresh 16 MiB scratch disk (`devices = "blk"`).

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use xasync_core::task::stackful::Suspender;
use xasync_kernel_riscv64::blk::{self, BLOCK_SIZE, MAX_BLOCKS};
use xasync_kernel_riscv64::{BootInfo, entry, irq, platform, println};

entry!(main, devices = "blk");

/// Coroutines writing and reading at once.
const WRITERS: u64 = 32;
/// Blocks each coroutine owns.
const BLOCKS_EACH: u64 = 64;
/// Blocks per request.
const REQUEST_BLOCKS: u64 = MAX_BLOCKS as u64;
const REQUEST_BYTES: usize = MAX_BLOCKS * BLOCK_SIZE;

/// Requests the coroutines have started and not seen finish, and the most
/// at once.
static OUTSTANDING: AtomicU64 = AtomicU64::new(0);
static PEAK_OUTSTANDING: AtomicU64 = AtomicU64::new(0);

/// Runs one request of a coroutine, counting it as outstanding meanwhile.
fn outstanding<R>(s: &Suspender<'_>, request: impl FnOnce(&Suspender<'_>) -> R) -> R {
    let now = OUTSTANDING.fetch_add(1, Ordering::Relaxed) + 1;
    PEAK_OUTSTANDING.fetch_max(now, Ordering::Relaxed);
    let result = request(s);
    OUTSTANDING.fetch_sub(1, Ordering::Relaxed);
    result
}

/// The byte at `offset` of `block`: differs between blocks and within one,
/// so a block written or read at the wrong place shows.
fn pattern(block: u64, offset: usize) -> u8 {
    (block.wrapping_mul(131) as u8) ^ (offset as u8).wrapping_mul(7) ^ ((offset >> 8) as u8)
}

/// Fills a request's worth of blocks from `first` on.
fn fill(first: u64, buffer: &mut [u8]) {
    for (i, chunk) in buffer.chunks_mut(BLOCK_SIZE).enumerate() {
        for (offset, byte) in chunk.iter_mut().enumerate() {
            *byte = pattern(first + i as u64, offset);
        }
    }
}

/// Checks a request's worth of blocks from `first` on.
fn check(first: u64, buffer: &[u8]) {
    for (i, chunk) in buffer.chunks(BLOCK_SIZE).enumerate() {
        let block = first + i as u64;
        for (offset, &byte) in chunk.iter().enumerate() {
            assert_eq!(
                byte,
                pattern(block, offset),
                "block {block}, byte {offset}: wrong data"
            );
        }
    }
}

fn main(_: &BootInfo) {
    let executor = platform::executor();
    irq::enable();
    let capacity = blk::init();
    println!("block: a disk of {capacity} blocks");
    assert!(
        capacity >= WRITERS * BLOCKS_EACH,
        "block: the disk is too small"
    );

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            executor.spawn_coroutine(move |s| {
                let first = writer * BLOCKS_EACH;
                let mut buffer = [0; REQUEST_BYTES];
                for block in (first..first + BLOCKS_EACH).step_by(REQUEST_BLOCKS as usize) {
                    fill(block, &mut buffer);
                    outstanding(s, |s| blk::write(s, block, &buffer)).expect("block: write");
                }
                for block in (first..first + BLOCKS_EACH).step_by(REQUEST_BLOCKS as usize) {
                    buffer.fill(0);
                    outstanding(s, |s| blk::read(s, block, &mut buffer)).expect("block: read");
                    check(block, &buffer);
                }
            })
        })
        .collect();
    for writer in writers {
        executor.block_on(writer).expect("block: a writer failed");
    }
    let after_writers = blk::stats();
    let peak = PEAK_OUTSTANDING.load(Ordering::Relaxed);
    println!(
        "block: {WRITERS} coroutines wrote and read back {BLOCKS_EACH} blocks each, \
         {peak} requests outstanding at most; {after_writers:?}"
    );

    // The same through futures, from a task: every block, in one pass.
    let reader = executor.spawn(async {
        let mut buffer = [0; REQUEST_BYTES];
        for block in (0..WRITERS * BLOCKS_EACH).step_by(REQUEST_BLOCKS as usize) {
            blk::read_async(block, &mut buffer)
                .await
                .expect("block: read");
            check(block, &buffer);
        }
    });
    executor.block_on(reader).expect("block: the reader failed");
    let _ = irq::disable();

    let stats = blk::stats();
    let requests =
        2 * WRITERS * BLOCKS_EACH / REQUEST_BLOCKS + WRITERS * BLOCKS_EACH / REQUEST_BLOCKS;
    println!(
        "block: an async task read all {} blocks back; {stats:?}",
        WRITERS * BLOCKS_EACH
    );
    assert_eq!(stats.completed, requests, "every request completed once");
    assert!(
        stats.interrupts > 0,
        "completions came through the interrupt"
    );
    // How many requests were outstanding, and on the device, at once is
    // printed, not checked: it depends on how fast QEMU completes them (a
    // completion interrupt can land while a coroutine is being polled, and
    // its next request then starts before other coroutines' first).
}

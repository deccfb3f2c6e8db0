//! 4 KiB random reads of a 1 GiB file in the page cache, 64 in flight:
//! 64 coroutines on one worker, each reading with `File::read_at` at
//! random 4 KiB-aligned offsets. On io_uring the kernel reads into each
//! coroutine's buffer from the worker's ring; on epoll each read is a
//! closure on the blocking pool (a pool thread's `pread`, a copy back).
//! Both runtimes run in this process, alternating; reports reads per
//! second and per CPU-second of the process, medians of the rounds.
//!
//! ```sh
//! cargo bench -p xasync-bench --bench files
//! XASYNC_BENCH_SECS=3 XASYNC_BENCH_ROUNDS=5 cargo bench -p xasync-bench --bench files
//! ```

mod cpu;
#[allow(dead_code)] // the server helpers, for the network benchmarks
mod io;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use xasync::fs::File;
use xasync::io::IoBackend;
use xasync_bench::median;

const FILE_SIZE: u64 = 1 << 30;
const BLOCK: usize = 4096;
const IN_FLIGHT: u64 = 64;

fn main() {
    let path = std::env::temp_dir().join(format!("xasync-bench-files-{}", std::process::id()));
    write_file(&path);
    let secs = io::seconds();
    println!(
        "4 KiB random reads of a 1 GiB file in the page cache, {IN_FLIGHT} coroutines on 1 worker, {secs} s per run, median of {} rounds",
        io::rounds()
    );
    let mut results = [
        ("io_uring", IoBackend::Uring),
        ("blocking pool", IoBackend::Epoll),
    ]
    .map(|(name, backend)| (name, backend, Vec::new(), Vec::new()));
    for _ in 0..io::rounds() {
        for (_, backend, rates, per_cpu) in &mut results {
            let (rate, cpu) = run(&path, *backend, Duration::from_secs(secs));
            rates.push(rate);
            per_cpu.push(rate * secs as f64 / cpu);
        }
    }
    let ours = (median(results[0].2.clone()), median(results[0].3.clone()));
    for (name, _, rates, per_cpu) in results {
        let (rate, per_cpu) = (median(rates), median(per_cpu));
        print!("  {name:<14} {rate:>10.0} reads/s  {per_cpu:>10.0} reads per CPU-second");
        if name != "io_uring" {
            print!(
                "   io_uring/{name}: {:.3}× reads/s, {:.3}× per CPU-s",
                ours.0 / rate,
                ours.1 / per_cpu
            );
        }
        println!();
    }
    let _ = std::fs::remove_file(path);
}

/// Writes the file (and so leaves it in the page cache).
fn write_file(path: &std::path::Path) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    for _ in 0..FILE_SIZE / chunk.len() as u64 {
        file.write_all(&chunk).unwrap();
    }
    file.flush().unwrap();
}

/// Reads for `duration` on a fresh one-worker runtime on `backend`: reads
/// per second, and the process's CPU seconds meanwhile.
fn run(path: &std::path::Path, backend: IoBackend, duration: Duration) -> (f64, f64) {
    let rt = xasync::Runtime::builder()
        .workers(1)
        .io(backend)
        .build()
        .unwrap();
    let file = Arc::new(File::from(std::fs::File::open(path).unwrap()));
    let (stop, reads) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let cpu_before = cpu::process_cpu();
    let start = Instant::now();
    let readers: Vec<_> = (0..IN_FLIGHT)
        .map(|seed| {
            let (file, stop, reads) = (file.clone(), stop.clone(), reads.clone());
            rt.xasync(move || {
                let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let mut buf = [0u8; BLOCK];
                let mut done = 0;
                while !stop.load(Ordering::Relaxed) {
                    // xorshift: a random block of the file.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let offset = (state % (FILE_SIZE / BLOCK as u64)) * BLOCK as u64;
                    assert_eq!(file.read_at(&mut buf, offset).unwrap(), BLOCK);
                    done += 1;
                }
                reads.fetch_add(done, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (cpu::process_cpu() - cpu_before).max(1e-3);
    rt.shutdown();
    (
        reads.load(Ordering::Relaxed) as f64 / elapsed,
        cpu * duration.as_secs_f64() / elapsed,
    )
}

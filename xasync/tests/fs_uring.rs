//! Coroutines' file operations on the io_uring backend: reads and writes
//! at the file's position, positional reads from many coroutines at once,
//! syncs. (tests/fs.rs runs the whole file API on the default backend,
//! and .ci/uring.sh again on epoll.)
//!
//! The tests are skipped (pass, saying so) where io_uring is unavailable.

mod uring;

use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::sync::Arc;
use xasync::fs::File;

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("xasync-fs-uring-{name}-{}", std::process::id()))
}

#[test]
fn reads_writes_and_syncs_follow_the_file_position() {
    let Some(rt) = uring::runtime(2) else { return };
    let path = temp_path("position");
    let inner = path.clone();
    let text = rt
        .xasync(move || {
            let mut file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&inner)?;
            file.write_all(b"hello, ")?;
            file.write_all(b"ring")?;
            file.sync_data()?;
            file.sync_all()?;
            file.seek(SeekFrom::Start(7))?;
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            std::io::Result::Ok(text)
        })
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(text, "ring");
    assert_eq!(std::fs::read(&path).unwrap(), b"hello, ring");
    std::fs::remove_file(path).unwrap();
    rt.shutdown();
}

#[test]
fn many_coroutines_read_one_file_at_their_own_offsets() {
    let Some(rt) = uring::runtime(2) else { return };
    let path = temp_path("read-at");
    let contents: Vec<u8> = (0..64 * 4096).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &contents).unwrap();
    let file = Arc::new(std::fs::File::open(&path).map(File::from).unwrap());
    let contents = Arc::new(contents);
    let readers: Vec<_> = (0..64u64)
        .map(|block| {
            let (file, contents) = (file.clone(), contents.clone());
            rt.xasync(move || {
                // Backwards, so that no read is where the last one ended.
                let offset = (63 - block) * 4096;
                let mut buf = [0; 4096];
                let n = file.read_at(&mut buf, offset).unwrap();
                let at = offset as usize;
                n == 4096 && buf[..] == contents[at..at + 4096]
            })
        })
        .collect();
    for reader in readers {
        assert!(reader.join().unwrap());
    }
    // Past the end: 0, and the position never moved.
    let end = rt
        .xasync({
            let file = file.clone();
            move || file.read_at(&mut [0; 16], 64 * 4096).unwrap()
        })
        .join()
        .unwrap();
    assert_eq!(end, 0);
    std::fs::remove_file(path).unwrap();
    rt.shutdown();
}

#[test]
fn open_and_create_in_the_ring() {
    let Some(rt) = uring::runtime(2) else { return };
    let path = temp_path("open");
    let inner = path.clone();
    let (text, cloexec, missing) = rt
        .xasync(move || {
            let mut file = File::create(&inner).unwrap();
            file.write_all(b"opened").unwrap();
            drop(file);
            let mut file = File::open(&inner).unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            let std = file.into_std().unwrap();
            // SAFETY: F_GETFD on a descriptor we own.
            let flags =
                unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&std), libc::F_GETFD) };
            let missing = File::open(inner.with_extension("missing"))
                .unwrap_err()
                .kind();
            (text, flags & libc::FD_CLOEXEC != 0, missing)
        })
        .join()
        .unwrap();
    assert_eq!(text, "opened");
    assert!(cloexec, "the ring opened it without O_CLOEXEC");
    assert_eq!(missing, ErrorKind::NotFound);
    std::fs::remove_file(path).unwrap();
    rt.shutdown();
}

#[test]
fn file_options_open_in_the_ring_without_the_blocking_pool() {
    let Some(rt) = uring::runtime(1) else { return };
    let path = temp_path("options");
    let inner = path.clone();
    let text = rt
        .xasync(move || {
            let options = File::options;
            let mut file = options().write(true).create_new(true).open(&inner)?;
            file.write_all(b"new")?;
            let mut file = options().read(true).append(true).open(&inner)?;
            file.write_all(b", appended")?;
            drop(options().write(true).open(&inner)?);
            let mut text = String::new();
            options()
                .read(true)
                .open(&inner)?
                .read_to_string(&mut text)?;
            std::io::Result::Ok(text)
        })
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(text, "new, appended");
    // Every open, read and write ran in the ring: no pool thread started.
    assert_eq!(rt.metrics().blocking_threads, 0);
    std::fs::remove_file(path).unwrap();
    rt.shutdown();
}

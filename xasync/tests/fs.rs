//! File system calls from coroutines (suspending), async code and threads.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use xasync::fs::{self, File};
use xasync::{Runtime, xasync};

fn runtime() -> Runtime {
    Runtime::builder().workers(1).build().unwrap()
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xasync-fs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn path_functions_in_a_coroutine() {
    let rt = runtime();
    let dir = scratch("paths");
    let d = dir.clone();
    rt.xasync(move || {
        let nested = d.join("a/b/c");
        fs::create_dir_all(&nested).unwrap();
        let file = nested.join("f.txt");
        fs::write(&file, b"contents").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"contents");
        assert_eq!(fs::read_to_string(&file).unwrap(), "contents");
        assert_eq!(fs::metadata(&file).unwrap().len(), 8);
        assert!(fs::try_exists(&file).unwrap());
        let copy = nested.join("g.txt");
        assert_eq!(fs::copy(&file, &copy).unwrap(), 8);
        fs::rename(&copy, nested.join("h.txt")).unwrap();
        let mut names: Vec<_> = fs::read_dir(&nested)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["f.txt", "h.txt"]);
        fs::remove_file(nested.join("h.txt")).unwrap();
        assert_eq!(
            fs::canonicalize(&file).unwrap(),
            std::fs::canonicalize(&file).unwrap()
        );
        fs::remove_dir_all(d.join("a")).unwrap();
        assert!(!fs::try_exists(d.join("a")).unwrap());
    })
    .join()
    .unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn errors_are_the_os_errors() {
    let rt = runtime();
    let dir = scratch("errors");
    let d = dir.clone();
    let kinds = rt
        .xasync(move || {
            [
                fs::read(d.join("missing")).unwrap_err().kind(),
                fs::metadata(d.join("missing")).unwrap_err().kind(),
                File::open(d.join("missing")).unwrap_err().kind(),
                fs::create_dir(&d).unwrap_err().kind(),
                fs::read_to_string("/proc/self/exe").unwrap_err().kind(), // not UTF-8
            ]
        })
        .join()
        .unwrap();
    assert_eq!(
        kinds,
        [
            io::ErrorKind::NotFound,
            io::ErrorKind::NotFound,
            io::ErrorKind::NotFound,
            io::ErrorKind::AlreadyExists,
            io::ErrorKind::InvalidData,
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn file_read_write_seek_in_a_coroutine_and_on_a_thread() {
    let rt = runtime();
    let dir = scratch("file");
    let path = dir.join("data");
    let p = path.clone();
    rt.xasync(move || {
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .unwrap();
        let data: Vec<u8> = (0..100_000u32).flat_map(u32::to_le_bytes).collect();
        file.write_all(&data).unwrap();
        file.flush().unwrap();
        assert_eq!(file.metadata().unwrap().len(), 400_000);
        file.seek(SeekFrom::Start(4 * 500)).unwrap();
        let mut word = [0; 4];
        file.read_exact(&mut word).unwrap();
        assert_eq!(u32::from_le_bytes(word), 500);
        file.rewind().unwrap();
        let mut back = Vec::new();
        file.read_to_end(&mut back).unwrap(); // through io::Read's default loop
        assert_eq!(back, data);
        // A positional read leaves the position (the end) where it was.
        file.read_at(&mut word, 4 * 7).unwrap();
        assert_eq!(u32::from_le_bytes(word), 7);
        assert_eq!(file.read(&mut word).unwrap(), 0);
        file.set_len(8).unwrap();
        file.sync_all().unwrap();
        file.sync_data().unwrap();
    })
    .join()
    .unwrap();
    // A plain thread: the same calls, made directly.
    let mut file = File::open(&path).unwrap();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, [0, 0, 0, 0, 1, 0, 0, 0]);
    let mut word = [0; 4];
    assert_eq!(file.read_at(&mut word, 4).unwrap(), 4);
    assert_eq!(u32::from_le_bytes(word), 1);
    let std = file.into_std().unwrap();
    assert_eq!(std.metadata().unwrap().len(), 8);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn file_in_async_code() {
    use futures_util::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    let rt = runtime();
    let dir = scratch("async");
    let path = dir.join("data");
    let text = rt.block_on(async move {
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open_async(&path)
            .await
            .unwrap();
        AsyncWriteExt::write_all(&mut file, b"hello, async file")
            .await
            .unwrap();
        AsyncWriteExt::flush(&mut file).await.unwrap();
        AsyncSeekExt::seek(&mut file, SeekFrom::Start(7))
            .await
            .unwrap();
        let mut head = [0; 5];
        AsyncReadExt::read_exact(&mut file, &mut head)
            .await
            .unwrap(); // reads ahead
        // Writing after a read-ahead writes where the reader stopped.
        AsyncWriteExt::write_all(&mut file, b" FILE").await.unwrap();
        AsyncSeekExt::seek(&mut file, SeekFrom::Start(0))
            .await
            .unwrap();
        let mut text = String::new();
        AsyncReadExt::read_to_string(&mut file, &mut text)
            .await
            .unwrap();
        assert_eq!(&head, b"async");
        fs::remove_dir_all_async(&dir).await.unwrap();
        text
    });
    assert_eq!(text, "hello, async FILE");
}

#[test]
fn a_coroutine_waiting_on_the_file_system_does_not_block_its_worker() {
    let rt = runtime();
    let dir = scratch("fifo");
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let f = fifo.clone();
    // Opening a FIFO for reading blocks until a writer opens it.
    let reader = rt.xasync(move || fs::read_to_string(&f).unwrap());
    // The only worker is free to run the writer meanwhile.
    let writer = rt.xasync(move || {
        let mut file = File::options().write(true).open(&fifo).unwrap();
        file.write_all(b"through a fifo").unwrap();
    });
    writer.join().unwrap();
    assert_eq!(reader.join().unwrap(), "through a fifo");
    xasync(move || std::fs::remove_dir_all(dir).unwrap())
        .join()
        .unwrap();
}

#[test]
fn file_options_in_a_coroutine_open_as_std_s() {
    let rt = runtime();
    let dir = scratch("options");
    let d = dir.clone();
    let (appended, kinds, emptied, refused) = rt
        .xasync(move || {
            let path = d.join("file");
            let opts = File::options;
            let mut file = opts().write(true).create_new(true).open(&path).unwrap();
            file.write_all(b"first").unwrap();
            let mut file = opts().append(true).open(&path).unwrap();
            file.write_all(b", appended").unwrap();
            let mut file = opts().read(true).open(&path).unwrap();
            let mut appended = String::new();
            file.read_to_string(&mut appended).unwrap();
            let kinds = [
                opts()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .unwrap_err()
                    .raw_os_error(),
                opts()
                    .write(true)
                    .open(d.join("missing"))
                    .unwrap_err()
                    .raw_os_error(),
                // Opened for reading only: writing fails.
                file.write(b"x").unwrap_err().raw_os_error(),
            ];
            // Truncating keeps the file, empty.
            drop(opts().write(true).truncate(true).open(&path).unwrap());
            let emptied = std::fs::metadata(&path).unwrap().len() == 0;
            // The combinations std refuses are refused with std's error.
            let refused = [
                opts().open(&path),
                opts().read(true).create(true).open(&path),
                opts().append(true).truncate(true).open(&path),
            ]
            .map(|opened| opened.unwrap_err().to_string());
            (appended, kinds, emptied, refused)
        })
        .join()
        .unwrap();
    assert_eq!(appended, "first, appended");
    assert_eq!(
        kinds,
        [Some(libc::EEXIST), Some(libc::ENOENT), Some(libc::EBADF)]
    );
    assert!(emptied, "truncate left bytes");
    let std = std::fs::OpenOptions::new;
    let std_refused = [
        std().open(&dir),
        std().read(true).create(true).open(&dir),
        std().append(true).truncate(true).open(&dir),
    ]
    .map(|opened| opened.unwrap_err().to_string());
    assert_eq!(refused, std_refused);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Opening a FIFO waits for its other end, whichever end opens first
/// (io_uring's inline, non-blocking, attempt at an open failed the writer
/// with `ENXIO`), and a coroutine waiting there can be cancelled.
#[test]
fn opening_a_fifo_waits_for_its_other_end() {
    let rt = runtime();
    let dir = scratch("fifo-ends");
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let later = |f: Box<dyn FnOnce() + Send>| {
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            f();
        })
    };
    // The writer first.
    let f = fifo.clone();
    let writer = rt.xasync(move || {
        let mut file = File::options().write(true).open(&f)?;
        file.write_all(b"to a reader")
    });
    let f = fifo.clone();
    let reader = later(Box::new(move || {
        assert_eq!(std::fs::read_to_string(f).unwrap(), "to a reader");
    }));
    writer.join().unwrap().unwrap();
    reader.join().unwrap();
    // The reader first.
    let f = fifo.clone();
    let reader = rt.xasync(move || {
        let mut text = String::new();
        File::open(&f)?.read_to_string(&mut text)?;
        io::Result::Ok(text)
    });
    let writer = later(Box::new(move || {
        std::fs::write(fifo, "from a writer").unwrap();
    }));
    assert_eq!(reader.join().unwrap().unwrap(), "from a writer");
    writer.join().unwrap();
    // Nobody comes: the wait ends with the coroutine's cancellation.
    let f = dir.join("fifo");
    let blocked = rt.xasync(move || File::options().write(true).open(&f).map(drop));
    std::thread::sleep(std::time::Duration::from_millis(20));
    blocked.cancel();
    assert!(blocked.join().unwrap_err().is_cancelled());
    std::fs::remove_dir_all(dir).unwrap();
}

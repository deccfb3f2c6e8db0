//! [`File`]: an open file whose reads, writes and seeks run on the
//! blocking pool — or, for a coroutine on a worker that uses io_uring,
//! whose opening (but with std's `OpenOptions`), reads, writes and syncs
//! run in the worker's ring, straight into and out of the caller's buffer
//! (see `io::uring`).

use super::offload;
use crate::io::uring;
use crate::task::JoinHandle;
use io_uring::{opcode, squeue, types};
use std::fmt;
use std::fs::{Metadata, OpenOptions};
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

/// Most bytes one read or write moves through the pool.
const CHUNK: usize = 2 * 1024 * 1024;

/// An open file. In a coroutine it is a plain [`Read`] + [`Write`] +
/// [`Seek`] whose calls suspend the coroutine while a pool thread does the
/// system call (on a plain thread they simply run); async code uses its
/// [`AsyncRead`](futures_io::AsyncRead), [`AsyncWrite`](futures_io::AsyncWrite)
/// and [`AsyncSeek`](futures_io::AsyncSeek) implementations.
///
/// An async write returns as soon as its bytes are handed to the pool; an
/// error is reported by the next operation or by `flush`/`close` — flush
/// before dropping to see it.
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// use xasync::fs::File;
///
/// let path = std::env::temp_dir().join(format!("xasync-file-doc-{}", std::process::id()));
/// let path2 = path.clone();
/// let text = xasync::xawait(xasync::xasync(move || {
///     let mut file = File::options().read(true).write(true).create(true).truncate(true).open(&path2)?;
///     file.write_all(b"hello, file")?;
///     file.seek(SeekFrom::Start(7))?;
///     let mut text = String::new();
///     file.read_to_string(&mut text)?;
///     std::io::Result::Ok(text)
/// }))
/// .unwrap();
/// assert_eq!(text, "file");
/// std::fs::remove_file(path).unwrap();
/// ```
pub struct File {
    std: Arc<std::fs::File>,
    /// Bytes an async read fetched beyond what its caller took; the file
    /// position is past them.
    ahead: Vec<u8>,
    /// How much of `ahead` was taken.
    taken: usize,
    /// The async operation in flight, if any.
    op: Option<JoinHandle<Done>>,
    /// The error of a finished async write, for the next operation.
    error: Option<io::Error>,
}

/// The outcome of an operation run on the pool.
enum Done {
    Read(io::Result<Vec<u8>>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
}

impl File {
    /// Opens a file for reading. Suspends a coroutine.
    ///
    /// # Panics
    ///
    /// Inside `Future::poll`; use [`open_async`](Self::open_async).
    pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
        File::options().read(true).open(path)
    }

    /// Creates (or truncates) a file for writing. Suspends a coroutine.
    ///
    /// # Panics
    ///
    /// Inside `Future::poll`; use [`create_async`](Self::create_async).
    pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
        File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Opens a file with `options`. Suspends a coroutine (std's options
    /// do not show their flags, so this opens on the blocking pool, where
    /// [`FileOptions::open`] opens in a ring worker's ring).
    ///
    /// # Panics
    ///
    /// Inside `Future::poll`; use [`open_with_async`](Self::open_with_async).
    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> io::Result<File> {
        let (path, options) = (path.as_ref().to_owned(), options.clone());
        offload::run(move || options.open(path)).map(File::from)
    }

    /// Options to open a file with; finish with
    /// [`FileOptions::open`](FileOptions::open).
    pub fn options() -> FileOptions {
        FileOptions {
            std: OpenOptions::new(),
            set: Set::default(),
        }
    }

    /// The future of [`open`](Self::open).
    pub async fn open_async(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with_async(path, OpenOptions::new().read(true)).await
    }

    /// The future of [`create`](Self::create).
    pub async fn create_async(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with_async(
            path,
            OpenOptions::new().write(true).create(true).truncate(true),
        )
        .await
    }

    /// The future of [`open_with`](Self::open_with).
    pub async fn open_with_async(
        path: impl AsRef<Path>,
        options: &OpenOptions,
    ) -> io::Result<File> {
        let (path, options) = (path.as_ref().to_owned(), options.clone());
        offload::run_async(move || options.open(path))
            .await
            .map(File::from)
    }

    /// The file's metadata. Suspends a coroutine.
    pub fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        offload::run(move || std.metadata())
    }

    /// Truncates or extends the file to `size` bytes. Suspends a coroutine.
    pub fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.settle()?;
        let std = self.std.clone();
        offload::run(move || std.set_len(size))
    }

    /// Flushes data and metadata to the device. Suspends a coroutine.
    pub fn sync_all(&mut self) -> io::Result<()> {
        self.settle()?;
        let fd = self.fd();
        // SAFETY: a sync refers to no memory.
        if let Some(done) = unsafe { uring::run_here(None, || opcode::Fsync::new(fd).build()) } {
            return done.map(drop);
        }
        let std = self.std.clone();
        offload::run(move || std.sync_all())
    }

    /// Flushes data (not all metadata) to the device. Suspends a coroutine.
    pub fn sync_data(&mut self) -> io::Result<()> {
        self.settle()?;
        let fd = self.fd();
        let sync = || {
            opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build()
        };
        // SAFETY: a sync refers to no memory.
        if let Some(done) = unsafe { uring::run_here(None, sync) } {
            return done.map(drop);
        }
        let std = self.std.clone();
        offload::run(move || std.sync_data())
    }

    /// Reads into `buf` from `offset` in the file, without moving the
    /// file's position (`pread(2)`); 0 at the end of the file. Suspends a
    /// coroutine: on io_uring the kernel reads straight into `buf`, and
    /// any number of coroutines may read one file at once.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let (fd, ptr, len) = (self.fd(), buf.as_mut_ptr(), uring::len32(buf.len()));
        // SAFETY: `buf` is borrowed, exclusively, for the whole call.
        let ring = unsafe {
            uring::run_here(None, || {
                opcode::Read::new(fd, ptr, len).offset(offset).build()
            })
        };
        if let Some(done) = ring {
            return done.map(|n| n as usize);
        }
        let (std, len) = (self.std.clone(), buf.len().min(CHUNK));
        let data = offload::run(move || {
            let mut data = vec![0; len];
            let n = std::os::unix::fs::FileExt::read_at(&*std, &mut data, offset)?;
            data.truncate(n);
            io::Result::Ok(data)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    /// The descriptor, for the ring.
    fn fd(&self) -> types::Fd {
        types::Fd(self.std.as_raw_fd())
    }

    /// Finishes pending async work and returns the std file.
    ///
    /// # Errors
    ///
    /// The error of a pending async write.
    pub fn into_std(mut self) -> io::Result<std::fs::File> {
        self.settle()?;
        let std = self.std.clone();
        drop(self);
        Arc::try_unwrap(std).map_err(|_| io::Error::other("the file is still in use by the pool"))
    }

    /// Waits for the async operation in flight, forgets read-ahead bytes
    /// (seeking back over them) and reports a pending write error, so that
    /// a waiting operation starts from a clean state.
    fn settle(&mut self) -> io::Result<()> {
        if let Some(op) = self.op.take() {
            let done = crate::xawait(op);
            self.finish(done)?;
        }
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        let back = self.read_ahead();
        if back > 0 {
            let std = self.std.clone();
            offload::run(move || (&*std).seek(SeekFrom::Current(-back)))?;
        }
        Ok(())
    }

    /// Drops the read-ahead bytes; how far the position is past them.
    fn read_ahead(&mut self) -> i64 {
        let back = self.ahead.len() - self.taken;
        self.ahead.clear();
        self.taken = 0;
        i64::try_from(back).unwrap_or(i64::MAX)
    }

    /// Records a finished async operation (read data, write error).
    fn finish(&mut self, done: Done) -> io::Result<()> {
        match done {
            Done::Read(data) => {
                self.ahead = data?;
                self.taken = 0;
            }
            Done::Write(result) => result?,
            Done::Seek(result) => {
                result?;
            }
        }
        Ok(())
    }

    /// Polls the operation in flight to completion, if any.
    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Done>>> {
        let Some(op) = self.op.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        let done = ready!(Pin::new(op).poll(cx));
        self.op = None;
        Poll::Ready(Ok(Some(done)))
    }

    /// Polls until no operation is in flight and no write error is pending.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(done) = ready!(self.poll_op(cx))? {
            self.finish(done)?;
        }
        match self.error.take() {
            Some(error) => Poll::Ready(Err(error)),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Copies read-ahead bytes into `buf`; how many.
    fn take_ahead(&mut self, buf: &mut [u8]) -> usize {
        let rest = &self.ahead[self.taken..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.taken += n;
        n
    }
}

/// Opening options for [`File`]: `std`'s [`OpenOptions`], finished by a
/// waiting [`open`](Self::open).
#[derive(Clone, Debug)]
pub struct FileOptions {
    std: OpenOptions,
    /// What was set, which `OpenOptions` does not show, for the ring.
    set: Set,
}

/// The options of a [`FileOptions`].
#[derive(Clone, Copy, Debug, Default)]
struct Set {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
}

impl Set {
    /// The `open(2)` flags std's `OpenOptions` passes for these options
    /// (but `O_CLOEXEC`), or `None` for a combination std refuses, to let
    /// std report it.
    fn flags(self) -> Option<libc::c_int> {
        let access = match (self.read, self.write, self.append) {
            (false, false, false) => return None,
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
        };
        let refused = match (self.write, self.append) {
            (true, false) => false,
            (false, false) => self.truncate || self.create || self.create_new,
            (_, true) => self.truncate && !self.create_new,
        };
        if refused {
            return None;
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        };
        Some(access | creation)
    }
}

impl FileOptions {
    /// Open for reading.
    pub fn read(mut self, read: bool) -> Self {
        self.std.read(read);
        self.set.read = read;
        self
    }

    /// Open for writing.
    pub fn write(mut self, write: bool) -> Self {
        self.std.write(write);
        self.set.write = write;
        self
    }

    /// Append to the end.
    pub fn append(mut self, append: bool) -> Self {
        self.std.append(append);
        self.set.append = append;
        self
    }

    /// Truncate to zero length.
    pub fn truncate(mut self, truncate: bool) -> Self {
        self.std.truncate(truncate);
        self.set.truncate = truncate;
        self
    }

    /// Create if missing.
    pub fn create(mut self, create: bool) -> Self {
        self.std.create(create);
        self.set.create = create;
        self
    }

    /// Create, failing if it exists.
    pub fn create_new(mut self, create_new: bool) -> Self {
        self.std.create_new(create_new);
        self.set.create_new = create_new;
        self
    }

    /// Opens `path`. Suspends a coroutine: on io_uring the worker's ring
    /// opens it (`IORING_OP_OPENAT`, with std's flags and mode 0o666).
    ///
    /// # Panics
    ///
    /// Inside `Future::poll`; use [`open_async`](Self::open_async).
    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let in_ring = self
            .set
            .flags()
            .and_then(|flags| open_in_ring(path.as_ref(), flags));
        match in_ring {
            Some(opened) => opened,
            None => File::open_with(path, &self.std),
        }
    }

    /// The future of [`open`](Self::open).
    pub async fn open_async(&self, path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with_async(path, &self.std).await
    }
}

impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File {
            std: Arc::new(std),
            ahead: Vec::new(),
            taken: 0,
            op: None,
            error: None,
        }
    }
}

/// The reads and writes of the trait implementations, as inherent methods:
/// with both `std::io::Read` and `futures::AsyncReadExt` in scope,
/// `file.read(..)` would otherwise be ambiguous (E0034).
impl File {
    /// Reads into `buf` (suspending a coroutine meanwhile); 0 at the end
    /// of the file.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }

    /// Writes from `buf`; the number of bytes written.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(self, buf)
    }

    /// Reads exactly `buf.len()` bytes (`UnexpectedEof` if the file ends
    /// first).
    pub fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        Read::read_exact(self, buf)
    }

    /// Writes all of `buf`.
    pub fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Write::write_all(self, buf)
    }

    /// The future of [`read`](Self::read).
    pub async fn read_async(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| futures_io::AsyncRead::poll_read(Pin::new(&mut *self), cx, buf))
            .await
    }

    /// The future of [`write`](Self::write).
    pub async fn write_async(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| futures_io::AsyncWrite::poll_write(Pin::new(&mut *self), cx, buf))
            .await
    }

    /// The future of [`read_exact`](Self::read_exact).
    pub async fn read_exact_async(&mut self, buf: &mut [u8]) -> io::Result<()> {
        crate::io::exact::read_exact(self, buf).await
    }

    /// The future of [`write_all`](Self::write_all).
    pub async fn write_all_async(&mut self, buf: &[u8]) -> io::Result<()> {
        crate::io::exact::write_all(self, buf).await
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.taken < self.ahead.len() {
            return Ok(self.take_ahead(buf));
        }
        self.settle()?;
        let (fd, ptr, len) = (self.fd(), buf.as_mut_ptr(), uring::len32(buf.len()));
        // SAFETY: `buf` is borrowed, exclusively, for the whole call. At
        // offset -1 the ring reads at the file's position, and moves it.
        let ring = unsafe {
            uring::run_here(None, || {
                opcode::Read::new(fd, ptr, len).offset(u64::MAX).build()
            })
        };
        if let Some(done) = ring {
            return done.map(|n| n as usize);
        }
        let (std, len) = (self.std.clone(), buf.len().min(CHUNK));
        let data = offload::run(move || read_chunk(&std, len))?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.settle()?;
        let (fd, ptr, len) = (self.fd(), buf.as_ptr(), uring::len32(buf.len()));
        // SAFETY: `buf` is borrowed for the whole call; offset -1 as in
        // `read`.
        let ring = unsafe {
            uring::run_here(None, || {
                opcode::Write::new(fd, ptr, len).offset(u64::MAX).build()
            })
        };
        if let Some(done) = ring {
            return done.map(|n| n as usize);
        }
        let (std, data) = (self.std.clone(), buf[..buf.len().min(CHUNK)].to_vec());
        offload::run(move || (&*std).write(&data))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.settle()
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.settle()?;
        let std = self.std.clone();
        offload::run(move || (&*std).seek(pos))
    }
}

/// Opens `path` with `flags` (and `O_CLOEXEC`, mode 0o666 as std's
/// `OpenOptions` by default) in the current worker's ring, if the caller is
/// a coroutine on a worker that parks in one (`None` otherwise).
fn open_in_ring(path: &Path, flags: libc::c_int) -> Option<io::Result<File>> {
    let path = match std::ffi::CString::new(path.as_os_str().as_bytes()) {
        Ok(path) => path,
        Err(_) => {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "file name contained an unexpected NUL byte",
            )));
        }
    };
    // The ring's first attempt at an open, made inline, adds `O_NONBLOCK`,
    // with which a FIFO's writer fails (`ENXIO`) while no reader has it
    // open, where `open(2)` waits for one. Only an open on the kernel's
    // worker threads (`IOSQE_ASYNC`), which blocks, can tell; sending every
    // open there made them 8 times slower (docs/BENCHMARKS.md).
    let opened = match open_at(&path, flags, squeue::Flags::empty())? {
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            open_at(&path, flags, squeue::Flags::ASYNC)?
        }
        opened => opened,
    };
    Some(opened.map(|fd| {
        // SAFETY: a descriptor the kernel just opened for us alone.
        File::from(unsafe { std::fs::File::from_raw_fd(fd as RawFd) })
    }))
}

/// One `IORING_OP_OPENAT` of `path` with `flags` and the submission's
/// `sqe_flags`, as [`open_in_ring`] describes.
fn open_at(
    path: &std::ffi::CStr,
    flags: libc::c_int,
    sqe_flags: squeue::Flags,
) -> Option<io::Result<u32>> {
    let path = path.as_ptr();
    // SAFETY: the path is borrowed for the whole call.
    unsafe {
        uring::run_here(None, || {
            opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), path)
                .flags(flags | libc::O_CLOEXEC)
                .mode(0o666)
                .build()
                .flags(sqe_flags)
        })
    }
}

fn read_chunk(file: &std::fs::File, len: usize) -> io::Result<Vec<u8>> {
    let mut data = vec![0; len];
    let n = (&*file).read(&mut data)?;
    data.truncate(n);
    Ok(data)
}

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if this.taken < this.ahead.len() || buf.is_empty() {
                return Poll::Ready(Ok(this.take_ahead(buf)));
            }
            match ready!(this.poll_op(cx))? {
                Some(Done::Read(data)) => {
                    this.ahead = data?;
                    this.taken = 0;
                    if this.ahead.is_empty() {
                        return Poll::Ready(Ok(0)); // end of file
                    }
                }
                Some(other) => this.finish(other)?,
                None => {
                    if let Some(error) = this.error.take() {
                        return Poll::Ready(Err(error));
                    }
                    let (std, len) = (this.std.clone(), buf.len().min(CHUNK));
                    this.op = Some(offload::run_async(move || {
                        Done::Read(read_chunk(&std, len))
                    }));
                }
            }
        }
    }
}

impl futures_io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_idle(cx))?;
        let back = this.read_ahead();
        let (std, data) = (this.std.clone(), buf[..buf.len().min(CHUNK)].to_vec());
        let n = data.len();
        this.op = Some(offload::run_async(move || {
            let mut file = &*std;
            let written = if back > 0 {
                file.seek(SeekFrom::Current(-back)).map(drop)
            } else {
                Ok(())
            };
            Done::Write(written.and_then(|()| file.write_all(&data)))
        }));
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }
}

impl futures_io::AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            match ready!(this.poll_op(cx))? {
                Some(Done::Seek(result)) => return Poll::Ready(result),
                Some(other) => this.finish(other)?,
                None => {
                    if let Some(error) = this.error.take() {
                        return Poll::Ready(Err(error));
                    }
                    let back = this.read_ahead();
                    let std = this.std.clone();
                    this.op = Some(offload::run_async(move || {
                        let mut file = &*std;
                        let pos = match pos {
                            SeekFrom::Current(offset) => SeekFrom::Current(offset - back),
                            pos => pos,
                        };
                        Done::Seek(file.seek(pos))
                    }));
                }
            }
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("std", &self.std)
            .field("busy", &self.op.is_some())
            .finish()
    }
}

//! File system access that does not block a worker: each call runs on the
//! runtime's blocking pool while a coroutine is suspended (a plain thread
//! simply makes the call). Async code uses the `_async` forms, or
//! [`File`]'s `AsyncRead`/`AsyncWrite`/`AsyncSeek`.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("xasync-fs-doc-{}", std::process::id()));
//! let text = xasync::xawait(xasync::xasync(move || {
//!     xasync::fs::create_dir_all(&dir).unwrap();
//!     let path = dir.join("greeting.txt");
//!     xasync::fs::write(&path, "hello").unwrap(); // suspends the coroutine
//!     let text = xasync::fs::read_to_string(&path).unwrap();
//!     xasync::fs::remove_dir_all(&dir).unwrap();
//!     text
//! }));
//! assert_eq!(text, "hello");
//! ```
//!
//! Operations run on a thread pool today; `offload.rs` is the single seam
//! where an io_uring backend would go.

mod file;
mod offload;

pub use file::{File, FileOptions};
pub use std::fs::{DirEntry, Metadata, OpenOptions, Permissions};

use std::io;
use std::path::{Path, PathBuf};

/// Defines a function of one path and its `_async` form, both running
/// `$std` on the blocking pool.
macro_rules! path_fn {
    ($(#[$doc:meta])* $name:ident, $name_async:ident, $out:ty, $std:expr) => {
        $(#[$doc])*
        ///
        /// Suspends a coroutine (a plain thread makes the call itself).
        ///
        /// # Panics
        ///
        #[doc = concat!("Inside `Future::poll`; use [`", stringify!($name_async), "`] there.")]
        pub fn $name(path: impl AsRef<Path>) -> io::Result<$out> {
            let path = path.as_ref().to_owned();
            offload::run(move || $std(path))
        }

        #[doc = concat!("The future of [`", stringify!($name), "`].")]
        pub async fn $name_async(path: impl AsRef<Path>) -> io::Result<$out> {
            let path = path.as_ref().to_owned();
            offload::run_async(move || $std(path)).await
        }
    };
}

path_fn!(
    /// Reads a whole file.
    read, read_async, Vec<u8>, std::fs::read
);
path_fn!(
    /// Reads a whole file as UTF-8 (`InvalidData` if it is not).
    read_to_string, read_to_string_async, String, std::fs::read_to_string
);
path_fn!(
    /// The metadata of a file or directory (following symbolic links).
    metadata, metadata_async, Metadata, std::fs::metadata
);
path_fn!(
    /// The metadata of a path itself (not following a symbolic link).
    symlink_metadata, symlink_metadata_async, Metadata, std::fs::symlink_metadata
);
path_fn!(
    /// Creates a directory (its parent must exist).
    create_dir, create_dir_async, (), std::fs::create_dir
);
path_fn!(
    /// Creates a directory and its missing parents.
    create_dir_all, create_dir_all_async, (), std::fs::create_dir_all
);
path_fn!(
    /// Removes a file.
    remove_file, remove_file_async, (), std::fs::remove_file
);
path_fn!(
    /// Removes an empty directory.
    remove_dir, remove_dir_async, (), std::fs::remove_dir
);
path_fn!(
    /// Removes a directory and everything in it.
    remove_dir_all, remove_dir_all_async, (), std::fs::remove_dir_all
);
path_fn!(
    /// The absolute path with every symbolic link resolved.
    canonicalize, canonicalize_async, PathBuf, std::fs::canonicalize
);
path_fn!(
    /// The target of a symbolic link.
    read_link, read_link_async, PathBuf, std::fs::read_link
);
path_fn!(
    /// Whether the path exists (`Ok(false)` if it does not; an error if
    /// that cannot be told).
    try_exists, try_exists_async, bool, std::fs::exists
);
path_fn!(
    /// The entries of a directory, read at once (in no particular order;
    /// without `.` and `..`).
    read_dir, read_dir_async, ReadDir, read_dir_now
);

fn read_dir_now(path: PathBuf) -> io::Result<ReadDir> {
    let entries: Vec<_> = std::fs::read_dir(path)?.collect();
    Ok(ReadDir {
        entries: entries.into_iter(),
    })
}

/// The entries of a directory, from [`read_dir`]. (Calling a
/// [`DirEntry`]'s `metadata` makes a system call on the calling thread.)
#[derive(Debug)]
pub struct ReadDir {
    entries: std::vec::IntoIter<io::Result<DirEntry>>,
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        self.entries.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

/// Writes `contents` to a file, creating or truncating it. Suspends a
/// coroutine (a plain thread makes the call itself).
///
/// # Panics
///
/// Inside `Future::poll`; use [`write_async`] there.
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, contents) = (path.as_ref().to_owned(), contents.as_ref().to_owned());
    offload::run(move || std::fs::write(path, contents))
}

/// The future of [`write`](fn@write).
pub async fn write_async(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, contents) = (path.as_ref().to_owned(), contents.as_ref().to_owned());
    offload::run_async(move || std::fs::write(path, contents)).await
}

/// Defines a function of two paths and its `_async` form.
macro_rules! two_path_fn {
    ($(#[$doc:meta])* $name:ident, $name_async:ident, $out:ty, $std:path) => {
        $(#[$doc])*
        ///
        /// Suspends a coroutine (a plain thread makes the call itself).
        ///
        /// # Panics
        ///
        #[doc = concat!("Inside `Future::poll`; use [`", stringify!($name_async), "`] there.")]
        pub fn $name(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<$out> {
            let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
            offload::run(move || $std(from, to))
        }

        #[doc = concat!("The future of [`", stringify!($name), "`].")]
        pub async fn $name_async(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<$out> {
            let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
            offload::run_async(move || $std(from, to)).await
        }
    };
}

two_path_fn!(
    /// Renames (moves) `from` to `to`, replacing `to` if it is a file.
    rename, rename_async, (), std::fs::rename
);
two_path_fn!(
    /// Copies the contents and permissions of file `from` to `to`; the
    /// number of bytes copied.
    copy, copy_async, u64, std::fs::copy
);
two_path_fn!(
    /// Makes `to` a hard link to `from`.
    hard_link, hard_link_async, (), std::fs::hard_link
);

/// Sets the permissions of a file or directory. Suspends a coroutine.
///
/// # Panics
///
/// Inside `Future::poll`; use [`set_permissions_async`] there.
pub fn set_permissions(path: impl AsRef<Path>, permissions: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    offload::run(move || std::fs::set_permissions(path, permissions))
}

/// The future of [`set_permissions`].
pub async fn set_permissions_async(
    path: impl AsRef<Path>,
    permissions: Permissions,
) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    offload::run_async(move || std::fs::set_permissions(path, permissions)).await
}

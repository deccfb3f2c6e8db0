//! `read_exact` and `write_all` for async code, as `std::io` has them for
//! waiting code: the inherent `_async` methods of the sockets and files.

use futures_io::{AsyncRead, AsyncWrite};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;

/// Reads until `buf` is full (`UnexpectedEof` if the source ends first).
pub(crate) async fn read_exact(
    mut from: impl AsyncRead + Unpin,
    mut buf: &mut [u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        match poll_fn(|cx| Pin::new(&mut from).poll_read(cx, buf)).await {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "failed to fill whole buffer",
                ));
            }
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `buf` (`WriteZero` if the sink takes nothing).
pub(crate) async fn write_all(mut to: impl AsyncWrite + Unpin, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match poll_fn(|cx| Pin::new(&mut to).poll_write(cx, buf)).await {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write whole buffer",
                ));
            }
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

//! TCP sockets for kernel coroutines and tasks.
//!
//! Each operation comes twice: a future (`accept_async`, `read_async`,
//! ...) for `async` tasks, and a blocking-style call taking the coroutine's
//! [`Suspender`] (`accept`, `read`, ...) that suspends only the calling
//! coroutine until the future is ready. A future registers its task's
//! waker with the smoltcp socket, which smoltcp wakes when the poll task
//! (see [`super::stack`]) changes that socket's state.

use super::stack::{self, Stack};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::future::poll_fn;
use core::task::Poll;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use xasync_core::task::stackful::Suspender;

/// Bytes of each socket's receive and of its send buffer.
const BUFFER_SIZE: usize = 8 * 1024;
/// How long a closed connection may take to finish (the peer's FIN and
/// ACKs) before it is aborted.
const CLOSE_TIMEOUT: smoltcp::time::Duration = smoltcp::time::Duration::from_secs(10);

/// Why a TCP operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The connection can no longer send: the peer reset it, or it was
    /// closed.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("connection closed"),
        }
    }
}

fn socket(stack: &mut Stack, handle: SocketHandle) -> &mut tcp::Socket<'static> {
    stack.sockets.get_mut::<tcp::Socket>(handle)
}

/// A new socket listening on `port`.
fn listening(stack: &mut Stack, port: u16) -> SocketHandle {
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; BUFFER_SIZE]),
        tcp::SocketBuffer::new(vec![0; BUFFER_SIZE]),
    );
    socket.listen(port).expect("tcp: listening on port 0");
    stack.sockets.add(socket)
}

/// A listening TCP port with a backlog of sockets, each waiting for one
/// connection (smoltcp's model: a socket serves one connection).
#[derive(Debug)]
pub struct TcpListener {
    port: u16,
    backlog: Vec<SocketHandle>,
}

impl TcpListener {
    /// Listens on `port` with `backlog` sockets: that many connections can
    /// be set up at once before [`accept`](Self::accept) takes them.
    ///
    /// # Panics
    ///
    /// If `port` is 0 or `backlog` is 0.
    pub fn bind(port: u16, backlog: usize) -> TcpListener {
        assert!(backlog > 0, "tcp: a backlog of 0 accepts nothing");
        let backlog = stack::with(|stack| (0..backlog).map(|_| listening(stack, port)).collect());
        TcpListener { port, backlog }
    }

    /// Waits for a connection, as a future.
    pub async fn accept_async(&mut self) -> TcpStream {
        poll_fn(|cx| {
            stack::with(|stack| {
                for slot in 0..self.backlog.len() {
                    let socket = socket(stack, self.backlog[slot]);
                    if socket.may_send() {
                        // Established (or already half-closed by the
                        // peer): hand it out, listen with a fresh one.
                        let handle = self.backlog[slot];
                        self.backlog[slot] = listening(stack, self.port);
                        return Poll::Ready(TcpStream { handle });
                    }
                    socket.register_recv_waker(cx.waker());
                }
                Poll::Pending
            })
        })
        .await
    }

    /// Waits for a connection, suspending the calling coroutine.
    pub fn accept(&mut self, s: &Suspender<'_>) -> TcpStream {
        s.wait(self.accept_async())
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        stack::with(|stack| {
            for &handle in &self.backlog {
                stack.sockets.remove(handle);
            }
        });
    }
}

/// A TCP connection. Dropping it closes it (a FIN after the data already
/// written; the socket goes once TCP is done with it).
#[derive(Debug)]
pub struct TcpStream {
    handle: SocketHandle,
}

impl TcpStream {
    /// Reads into `buffer` as soon as data is there; `Ok(0)` at the end of
    /// the stream (the peer closed its side, or the connection is gone).
    pub async fn read_async(&mut self, buffer: &mut [u8]) -> usize {
        let read = poll_fn(|cx| {
            stack::with(|stack| {
                let socket = socket(stack, self.handle);
                if socket.can_recv() {
                    let n = socket.recv_slice(buffer).expect("tcp: can_recv said yes");
                    Poll::Ready(n)
                } else if !socket.may_recv() {
                    Poll::Ready(0)
                } else {
                    socket.register_recv_waker(cx.waker());
                    Poll::Pending
                }
            })
        })
        .await;
        // Room in the receive window: let the stack announce it.
        stack::kick();
        read
    }

    /// Reads like [`read_async`](Self::read_async), suspending the calling
    /// coroutine.
    pub fn read(&mut self, s: &Suspender<'_>, buffer: &mut [u8]) -> usize {
        s.wait(self.read_async(buffer))
    }

    /// Queues as much of `data` as fits in the send buffer, waiting for
    /// room if there is none; returns how many bytes were queued.
    pub async fn write_async(&mut self, data: &[u8]) -> Result<usize, Error> {
        let written = poll_fn(|cx| {
            stack::with(|stack| {
                let socket = socket(stack, self.handle);
                if !socket.may_send() {
                    Poll::Ready(Err(Error::Closed))
                } else if socket.can_send() {
                    Poll::Ready(socket.send_slice(data).map_err(|_| Error::Closed))
                } else {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
            })
        })
        .await?;
        stack::kick();
        Ok(written)
    }

    /// Queues all of `data`, as a future.
    pub async fn write_all_async(&mut self, mut data: &[u8]) -> Result<(), Error> {
        while !data.is_empty() {
            let n = self.write_async(data).await?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Queues all of `data`, suspending the calling coroutine while the
    /// send buffer is full.
    pub fn write_all(&mut self, s: &Suspender<'_>, data: &[u8]) -> Result<(), Error> {
        s.wait(self.write_all_async(data))
    }

    /// Waits until the peer acknowledged everything written, as a future.
    pub async fn flush_async(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            stack::with(|stack| {
                let socket = socket(stack, self.handle);
                if socket.send_queue() == 0 {
                    Poll::Ready(Ok(()))
                } else if !socket.may_send() {
                    Poll::Ready(Err(Error::Closed))
                } else {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
            })
        })
        .await
    }

    /// Waits until the peer acknowledged everything written, suspending
    /// the calling coroutine.
    pub fn flush(&mut self, s: &Suspender<'_>) -> Result<(), Error> {
        s.wait(self.flush_async())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        stack::with(|stack| {
            let socket = socket(stack, self.handle);
            socket.set_timeout(Some(CLOSE_TIMEOUT));
            socket.close();
            stack.closing.push(self.handle);
        });
        stack::kick();
    }
}

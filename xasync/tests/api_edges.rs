//! The rough edges a new user hit (issue 10, part 4): names that did not
//! resolve, or resolved ambiguously, and a oneshot timeout whose error had
//! an awkward shape. Most of these are compile-time checks: before the
//! fix this file did not build.

use std::io::{Read, Write};
use std::time::Duration;
use xasync::net::{TcpListener, TcpStream, UnixStream};
use xasync::sync::{self, channel, oneshot};

// Both in scope on purpose: `conn.read(..)` was E0034 (multiple applicable
// items) with the two traits' methods of the same name.
#[allow(unused_imports)]
use futures_util::AsyncReadExt;
use futures_util::AsyncWriteExt;

fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = xasync::xasync(move || TcpStream::connect(addr).unwrap());
    let (server, _) = listener.accept().unwrap();
    (xasync::xawait(client), server)
}

#[test]
fn socket_reads_and_writes_resolve_with_both_trait_families_in_scope() {
    let (client, server) = pair();
    let echo = xasync::xasync(move || {
        let mut buf = [0; 5];
        server.read_exact(&mut buf).unwrap();
        server.write_all(&buf).unwrap();
        let n = server.read(&mut buf).unwrap();
        assert_eq!(n, 0, "end of stream after the client shut down");
    });
    xasync::xawait(xasync::xasync(move || {
        assert_eq!(client.write(b"hel").unwrap(), 3);
        client.write_all(b"lo").unwrap();
        let mut buf = [0; 5];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        client.shutdown(std::net::Shutdown::Write).unwrap();
    }));
    echo.join().unwrap();
}

#[test]
fn socket_async_methods_are_inherent() {
    let (a, b) = UnixStream::pair().unwrap();
    let done = xasync::spawn(async move {
        a.write_all_async(b"ping").await.unwrap();
        let mut buf = [0; 4];
        a.read_exact_async(&mut buf).await.unwrap();
        buf
    });
    let mut buf = [0; 4];
    let n = xasync::xawait(b.read_async(&mut buf)).unwrap();
    b.read_exact(&mut buf[n..]).unwrap();
    assert_eq!(&buf, b"ping");
    assert_eq!(xasync::xawait(b.write_async(b"pong")).unwrap(), 4);
    assert_eq!(&xasync::xawait(done), b"pong");
    // The stream ends when the other side is gone.
    let mut rest = [0; 1];
    assert_eq!(
        xasync::xawait(b.read_exact_async(&mut rest))
            .unwrap_err()
            .kind(),
        std::io::ErrorKind::UnexpectedEof
    );
}

#[test]
fn the_trait_impls_still_serve_generic_code() {
    let (mut client, server) = pair();
    let writer = xasync::xasync(move || {
        let mut server = server;
        Write::write_all(&mut server, b"trait").unwrap();
    });
    let mut s = String::new();
    xasync::xawait(xasync::xasync(move || {
        Read::read_to_string(&mut client, &mut s).unwrap();
        assert_eq!(s, "trait");
    }));
    writer.join().unwrap();
}

#[test]
fn sync_wrappers_have_the_core_methods_as_their_own() {
    // Paths, not method calls: method calls also found them through Deref.
    let mut mutex = sync::Mutex::new(1);
    *sync::Mutex::get_mut(&mut mutex) += 1;
    assert_eq!(*xasync::xawait(sync::Mutex::lock_async(&mutex)), 2);
    assert!(sync::Mutex::try_lock(&mutex).is_some());

    let lock = sync::RwLock::new(0);
    drop(xasync::xawait(sync::RwLock::read_async(&lock)));
    *xasync::xawait(sync::RwLock::write_async(&lock)) = 3;
    assert_eq!(*sync::RwLock::try_read(&lock).unwrap(), 3);
    assert!(sync::RwLock::try_write(&lock).is_some());

    let sem = sync::Semaphore::new(1);
    let permit = xasync::xawait(sync::Semaphore::acquire_async(&sem, 1)).unwrap();
    assert!(sync::Semaphore::try_acquire(&sem, 1).is_err());
    drop(permit);
    sync::Semaphore::add_permits(&sem, 1);
    assert_eq!(sync::Semaphore::available_permits(&sem), 2);
    sync::Semaphore::close(&sem);
    assert!(sync::Semaphore::is_closed(&sem));

    let notify = sync::Notify::new();
    sync::Notify::notify_one(&notify);
    xasync::xawait(sync::Notify::notified(&notify));
    sync::Notify::notify_all(&notify);

    let wg = sync::WaitGroup::new();
    sync::WaitGroup::add(&wg, 1);
    assert_eq!(sync::WaitGroup::count(&wg), 1);
    sync::WaitGroup::done(&wg);
    xasync::xawait(sync::WaitGroup::wait_async(&wg));

    let barrier = sync::Barrier::new(1);
    assert!(xasync::xawait(sync::Barrier::wait_async(&barrier)).is_leader());

    let cvar = sync::Condvar::new();
    sync::Condvar::notify_one(&cvar);
    sync::Condvar::notify_all(&cvar);

    let (tx, rx) = channel::bounded(1);
    xasync::xawait(channel::Sender::send_async(&tx, 1)).unwrap();
    assert!(channel::Sender::try_send(&tx, 2).is_err());
    assert!(channel::Sender::is_full(&tx));
    assert_eq!(channel::Receiver::len(&rx), 1);
    assert_eq!(channel::Receiver::capacity(&rx), Some(1));
    assert_eq!(xasync::xawait(channel::Receiver::recv_async(&rx)), Ok(1));
    assert!(channel::Receiver::try_recv(&rx).is_err());
    assert_eq!(channel::Sender::receiver_count(&tx), 1);
    drop(tx);
    assert!(channel::Receiver::is_disconnected(&rx));
}

#[test]
fn oneshot_recv_timeout_has_the_channel_error_shape() {
    let short = Duration::from_millis(5);
    let (tx, mut rx) = oneshot::channel::<u32>();
    assert_eq!(
        rx.recv_timeout(short),
        Err(oneshot::RecvTimeoutError::Timeout)
    );
    // The receiver stays usable after a timeout.
    xasync::xasync(move || tx.send(9).unwrap()).detach();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(9));
    assert_eq!(
        rx.recv_timeout(short),
        Err(channel::RecvTimeoutError::Disconnected)
    );

    let (tx, mut rx) = oneshot::channel::<u32>();
    drop(tx);
    assert_eq!(
        rx.recv_timeout(short),
        Err(oneshot::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn file_reads_and_writes_resolve_with_both_trait_families_in_scope() {
    let dir = std::env::temp_dir().join(format!("xasync-api-edges-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f");
    let p = path.clone();
    xasync::xawait(xasync::xasync(move || {
        let mut file = xasync::fs::File::create(&p).unwrap();
        assert_eq!(file.write(b"ab").unwrap(), 2);
        file.write_all(b"cd").unwrap();
        drop(file);
        let mut file = xasync::fs::File::open(&p).unwrap();
        let mut buf = [0; 3];
        file.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"abc");
        assert_eq!(file.read(&mut buf).unwrap(), 1);
    }));
    let p = path.clone();
    xasync::xawait(xasync::spawn(async move {
        let mut file = xasync::fs::File::create_async(&p).await.unwrap();
        file.write_all_async(b"xyz").await.unwrap();
        assert_eq!(file.write_async(b"!").await.unwrap(), 1);
        AsyncWriteExt::flush(&mut file).await.unwrap(); // the write behind completes
        drop(file);
        let mut file = xasync::fs::File::open_async(&p).await.unwrap();
        let mut buf = [0; 2];
        file.read_exact_async(&mut buf).await.unwrap();
        assert_eq!(&buf, b"xy");
        let n = file.read_async(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &b"z!"[..n]);
    }));
    std::fs::remove_dir_all(dir).unwrap();
}

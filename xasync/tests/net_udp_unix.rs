//! UDP and Unix domain sockets from coroutines, async code and threads.

use std::io::{self, Read, Write};
use std::time::Duration;
use xasync::net::{UdpSocket, UnixListener, UnixStream};
use xasync::{Runtime, xasync};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

fn socket_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("xasync-{name}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn udp_ping_pong_between_coroutines() {
    let rt = runtime(1);
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    rt.xasync(move || {
        let mut buf = [0; 64];
        for _ in 0..100 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    })
    .detach();
    rt.xasync(move || {
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(addr).unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        let mut buf = [0; 64];
        for i in 0..100u32 {
            client.send(&i.to_le_bytes()).unwrap();
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], i.to_le_bytes());
        }
    })
    .join()
    .unwrap();
}

#[test]
fn udp_in_async_code_and_with_a_timeout() {
    let rt = runtime(2);
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = b.local_addr().unwrap();
    let got = rt.spawn(async move {
        let mut buf = [0; 16];
        let (n, _) = b.recv_from_async(&mut buf).await.unwrap();
        buf[..n].to_vec()
    });
    rt.block_on(async move {
        a.send_to_async(b"async", to).await.unwrap();
    });
    assert_eq!(got.join().unwrap(), b"async");
    // A receive that times out, on a plain thread and in a coroutine.
    let lonely = UdpSocket::bind("127.0.0.1:0").unwrap();
    lonely
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    assert_eq!(
        lonely.recv(&mut [0; 4]).unwrap_err().kind(),
        io::ErrorKind::TimedOut
    );
    let kind = rt
        .xasync(move || lonely.recv_from(&mut [0; 4]).unwrap_err().kind())
        .join()
        .unwrap();
    assert_eq!(kind, io::ErrorKind::TimedOut);
}

#[test]
fn udp_bad_input() {
    assert!(UdpSocket::bind("nonsense").is_err());
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Not connected: no peer, and send has no destination.
    assert_eq!(
        socket.peer_addr().unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    assert!(socket.send(b"x").is_err());
    let std = socket.into_std().unwrap();
    let back = UdpSocket::from(std);
    assert!(back.local_addr().is_ok());
}

#[test]
fn unix_echo_with_coroutines_and_a_thread() {
    let rt = runtime(1);
    let path = socket_path("echo");
    let listener = UnixListener::bind(&path).unwrap();
    rt.xasync(move || {
        while let Ok((conn, _)) = listener.accept() {
            xasync(move || {
                let _ = io::copy(&mut &conn, &mut &conn);
            })
            .detach();
        }
    })
    .detach();
    let p = path.clone();
    rt.xasync(move || {
        let conn = UnixStream::connect(&p).unwrap();
        conn.write_all(b"unix").unwrap();
        let mut buf = [0; 4];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"unix");
    })
    .join()
    .unwrap();
    let conn = UnixStream::connect(&path).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"thread").unwrap();
    let mut buf = [0; 6];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"thread");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_pair_in_async_code() {
    use futures_util::{AsyncReadExt, AsyncWriteExt};
    let rt = runtime(2);
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let reader = rt.spawn(async move {
        let mut text = String::new();
        AsyncReadExt::read_to_string(&mut b, &mut text)
            .await
            .unwrap();
        text
    });
    rt.block_on(async move {
        AsyncWriteExt::write_all(&mut a, b"over a pair")
            .await
            .unwrap();
        a.close().await.unwrap();
    });
    assert_eq!(reader.join().unwrap(), "over a pair");
}

#[test]
fn unix_bad_input() {
    let missing = std::env::temp_dir().join("xasync-no-such-dir/x.sock");
    assert_eq!(
        UnixStream::connect(&missing).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    let path = socket_path("twice");
    let _first = UnixListener::bind(&path).unwrap();
    assert_eq!(
        UnixListener::bind(&path).unwrap_err().kind(),
        io::ErrorKind::AddrInUse
    );
    std::fs::remove_file(&path).unwrap();
    // Nobody listens anymore.
    let path = socket_path("gone");
    drop(UnixListener::bind(&path).unwrap());
    assert_eq!(
        UnixStream::connect(&path).unwrap_err().kind(),
        io::ErrorKind::ConnectionRefused
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_std_conversions_round_trip() {
    let path = socket_path("std");
    let listener = UnixListener::from(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let client = UnixStream::from(std::os::unix::net::UnixStream::connect(&path).unwrap());
    let (server, _) = listener.accept().unwrap();
    let mut std_client = client.into_std().unwrap();
    std_client.write_all(b"std").unwrap();
    let mut buf = [0; 3];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"std");
    let std_server = server.into_std().unwrap();
    std_server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    drop(std_client);
    assert_eq!((&std_server).read(&mut buf).unwrap(), 0); // blocking again
    let std_listener = listener.into_std().unwrap();
    assert!(std_listener.local_addr().unwrap().as_pathname().is_some());
    std::fs::remove_file(&path).unwrap();
}

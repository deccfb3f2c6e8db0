//! A TCP echo server: one coroutine per connection, copying with plain
//! `std::io::copy` — each `read` and `write` suspends only its coroutine.
//!
//! ```sh
//! cargo run --release --example echo_server              # 127.0.0.1:7000
//! cargo run --release --example echo_client -- 127.0.0.1:7000
//! ```

#[path = "src/accept.rs"]
mod accept;

use std::io;
use xasync::net::TcpListener;
use xasync::{xasync, xawait};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let listener = TcpListener::bind(&addr)?;
    println!("echoing on {}", listener.local_addr()?);
    xawait(xasync(move || serve(&listener)))
}

/// Echoes on every connection `listener` accepts, one coroutine each.
fn serve(listener: &TcpListener) -> io::Result<()> {
    accept::accept_loop(listener, |conn, peer| {
        xasync(move || {
            // `&TcpStream` is both Read and Write: copy it onto itself.
            match io::copy(&mut &conn, &mut &conn) {
                Ok(bytes) => println!("{peer}: echoed {bytes} bytes"),
                Err(e) => println!("{peer}: {e}"),
            }
        })
        .detach();
    })
}

#[cfg(test)]
#[path = "src/child_server.rs"]
mod child_server;

#[cfg(test)]
mod tests {
    use super::child_server::{ChildServer, become_server};
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    /// The descriptor limit of the server process in the test.
    const FDS: u64 = 64;

    /// Sends `message` on `conn` and reads back as many bytes.
    fn echo(conn: &mut TcpStream, message: &[u8]) -> Vec<u8> {
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(message).unwrap();
        let mut back = vec![0; message.len()];
        conn.read_exact(&mut back).unwrap();
        back
    }

    /// The server runs in a process of its own limited to `FDS`
    /// descriptors; this process opens twice as many connections, so accept
    /// fails with EMFILE, then closes them: the server must echo on a new
    /// one.
    #[test]
    fn survives_running_out_of_file_descriptors() {
        let mut server = ChildServer::start("tests::server", Some(FDS), "echoing on ");
        let addr = server.addr();
        let mut many: Vec<TcpStream> = (0..2 * FDS)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        // The first connections are served; the last ones wait in the
        // kernel's queue while the server has no descriptor left. Closed
        // only once the server said so: closing them earlier can free
        // descriptors before it runs out (its accepts through io_uring
        // took turns with the echoes and never hit the limit, 3 runs in 5).
        assert_eq!(echo(&mut many[0], b"first"), b"first");
        server.wait_for(true, "Too many open files");
        drop(many);
        let mut fresh = TcpStream::connect(addr).unwrap();
        assert_eq!(echo(&mut fresh, b"after"), b"after");
        drop(fresh);
        server.assert_running();
        let log = server.stop();
        assert!(log.contains("Too many open files"), "{log}");
    }

    /// The server process of the tests.
    #[test]
    #[ignore = "the server process of the other tests"]
    fn server() {
        if !become_server() {
            return;
        }
        let listener = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
        println!("echoing on {}", listener.local_addr().unwrap());
        let served = xasync::xawait(xasync::xasync(move || super::serve(&listener)));
        panic!("the server stopped: {served:?}");
    }
}

//! A TCP echo server: one coroutine per connection, copying with plain
//! `std::io::copy` — each `read` and `write` suspends only its coroutine.
//!
//! ```sh
//! cargo run --release --example echo_server              # 127.0.0.1:7000
//! cargo run --release --example echo_client -- 127.0.0.1:7000
//! ```

use std::io;
use xasync::net::TcpListener;
use xasync::{xasync, xawait};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let listener = TcpListener::bind(&addr)?;
    println!("echoing on {}", listener.local_addr()?);
    xawait(xasync(move || -> io::Result<()> {
        loop {
            let (conn, peer) = listener.accept()?;
            xasync(move || {
                // `&TcpStream` is both Read and Write: copy it onto itself.
                match io::copy(&mut &conn, &mut &conn) {
                    Ok(bytes) => println!("{peer}: echoed {bytes} bytes"),
                    Err(e) => println!("{peer}: {e}"),
                }
            })
            .detach();
        }
    }))
}

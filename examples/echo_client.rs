//! A TCP echo client: many connections at once, each a coroutine that
//! sends lines and checks that exactly the same bytes come back.
//!
//! ```sh
//! cargo run --release --example echo_client -- 127.0.0.1:7000 [connections] [messages]
//! ```

use std::io::{self, BufRead, BufReader};
use std::time::{Duration, Instant};
use xasync::net::TcpStream;
use xasync::{join_all, xasync};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7000".into());
    let connections: usize = args
        .next()
        .map_or(Ok(100), |a| a.parse())
        .map_err(invalid)?;
    let messages: usize = args
        .next()
        .map_or(Ok(100), |a| a.parse())
        .map_err(invalid)?;
    let start = Instant::now();
    let clients = (0..connections).map(|id| {
        let addr = addr.clone();
        xasync(move || -> io::Result<()> {
            let conn = TcpStream::connect(addr.as_str())?;
            conn.set_read_timeout(Some(Duration::from_secs(10)))?;
            let mut reader = BufReader::new(&conn);
            let mut line = String::new();
            for n in 0..messages {
                let message = format!("client {id} message {n}\n");
                conn.write_all(message.as_bytes())?;
                line.clear();
                reader.read_line(&mut line)?;
                if line != message {
                    return Err(io::Error::other(format!("sent {message:?}, got {line:?}")));
                }
            }
            Ok(())
        })
    });
    let failures = join_all(clients.collect::<Vec<_>>())
        .into_iter()
        .filter_map(Result::err)
        .inspect(|e| eprintln!("{e}"))
        .count();
    let elapsed = start.elapsed();
    let round_trips = (connections - failures) * messages;
    println!(
        "{round_trips} round trips on {connections} connections in {elapsed:.2?} ({:.0}/s), {failures} failed",
        round_trips as f64 / elapsed.as_secs_f64()
    );
    if failures > 0 {
        return Err(io::Error::other("some connections failed"));
    }
    Ok(())
}

fn invalid(e: std::num::ParseIntError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

//! A TCP client for soak tests: connects to an echo server and disconnects,
//! over and over, on several connections at once. Each connection sends a
//! message and ends in turn with a close (after reading the echo), a reset
//! (`SO_LINGER` 0, while the echo may still be on its way) or a half-close
//! (then reads the echo until the server closes); every echo read is
//! checked. Prints its progress every 10 s and exits with an error if any
//! connection failed.
//!
//! ```sh
//! cargo run --release --example echo_server &
//! cargo run --release --example echo_churn -- 127.0.0.1:7000 [seconds] [connections]
//! ```

#[path = "src/reset.rs"]
mod reset;

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use xasync::net::TcpStream;
use xasync::{join_all, xasync};

/// How long any one read, write or connect may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The pause of each loop between two connections. It bounds the rate of
/// new connections, and so the ports held in TIME_WAIT by the closes.
const PAUSE: Duration = Duration::from_millis(2);
/// How often the progress is printed.
const REPORT: Duration = Duration::from_secs(10);
/// The longest message; lengths cycle through 1..=MAX_MESSAGE.
const MAX_MESSAGE: usize = 4096;

/// How a connection ends.
#[derive(Clone, Copy)]
enum Ending {
    Close,
    Reset,
    HalfClose,
}

const ENDINGS: [Ending; 3] = [Ending::Close, Ending::Reset, Ending::HalfClose];

/// Connections that ended well, by `Ending`, and those that failed.
static ENDED: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
static FAILED: AtomicU64 = AtomicU64::new(0);

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7000".into());
    let seconds: u64 = args.next().map_or(Ok(60), |a| a.parse()).map_err(invalid)?;
    let connections: usize = args.next().map_or(Ok(8), |a| a.parse()).map_err(invalid)?;
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let loops: Vec<_> = (0..connections)
        .map(|id| {
            let addr = addr.clone();
            xasync(move || churn(&addr, id, connections, end))
        })
        .collect();
    let mut next = start + REPORT;
    while next < end {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        report(start);
        next += REPORT;
    }
    join_all(loops);
    report(start);
    if FAILED.load(Relaxed) > 0 {
        return Err(io::Error::other("some connections failed"));
    }
    Ok(())
}

/// One loop: connections `id`, `id + step`, `id + 2 step`, ... one after
/// the other, until `end`.
fn churn(addr: &str, id: usize, step: usize, end: Instant) {
    let mut n = id;
    while Instant::now() < end {
        let ending = ENDINGS[n % ENDINGS.len()];
        match connection(addr, ending, &message(n)) {
            Ok(()) => ENDED[ending as usize].fetch_add(1, Relaxed),
            Err(e) => {
                eprintln!("connection {n}: {e}");
                FAILED.fetch_add(1, Relaxed)
            }
        };
        n += step;
        xasync::time::sleep(PAUSE);
    }
}

/// Connection `n`'s message: its length and bytes vary with `n`.
fn message(n: usize) -> Vec<u8> {
    let len = 1 + n * 997 % MAX_MESSAGE;
    (0..len).map(|i| (i ^ n) as u8).collect()
}

/// Connects, sends `message`, and ends the connection as `ending` says.
fn connection(addr: &str, ending: Ending, message: &[u8]) -> io::Result<()> {
    let conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(TIMEOUT))?;
    conn.set_write_timeout(Some(TIMEOUT))?;
    conn.write_all(message)?;
    let mut echo = Vec::with_capacity(message.len());
    match ending {
        Ending::Close => {
            echo.resize(message.len(), 0);
            conn.read_exact(&mut echo)?;
        }
        // Dropping `conn` resets it.
        Ending::Reset => return reset::reset_on_close(&conn),
        Ending::HalfClose => {
            conn.shutdown(Shutdown::Write)?;
            (&conn).read_to_end(&mut echo)?;
        }
    }
    if echo != message {
        return Err(io::Error::other(format!(
            "sent {} bytes, got back {} different ones",
            message.len(),
            echo.len()
        )));
    }
    Ok(())
}

/// Prints the counts so far, in a line the soak script parses.
fn report(start: Instant) {
    let [closed, reset, half_closed] = ENDED.each_ref().map(|n| n.load(Relaxed));
    println!(
        "echo_churn: {:.0} s, {} connections ({closed} closed, {reset} reset, {half_closed} half-closed), {} failed",
        start.elapsed().as_secs_f64(),
        closed + reset + half_closed,
        FAILED.load(Relaxed)
    );
}

fn invalid(e: std::num::ParseIntError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

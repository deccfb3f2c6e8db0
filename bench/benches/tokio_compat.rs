//! Tokio futures on xasync (feature `tokio`) against the same code inside
//! tokio's own current-thread runtime, 1 xasync worker, in one run:
//!
//! * the round trip of a tokio future that is pending once
//!   (`tokio::task::yield_now`): `xawait` in a coroutine, `.await` in an
//!   xasync task, `.await` in a tokio task;
//! * a wake from another task: two coroutines (tasks) ping-ponging through
//!   two `tokio::sync::Notify`;
//! * the wake-up latency of the design: two coroutines ping-ponging one
//!   byte over a loopback `tokio::net::TcpStream` — every readiness event
//!   crosses from the tokio driver thread to the worker — against two
//!   tokio tasks, and against xasync's own sockets (no driver);
//! * a 1 ms `tokio::time::sleep`, as measured by the sleeper.
//!
//! ```sh
//! cargo bench -p xasync-bench --features tokio --bench tokio_compat
//! ```

use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use xasync::{Runtime, xawait};
use xasync_bench::{Contender, compare};

const SAMPLES: usize = 11;

fn main() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    compare(
        "tokio::task::yield_now round trip (pending once), per call",
        vec![
            Contender::new("xasync coroutine, xawait", |n| {
                rt.xasync(move || {
                    for _ in 0..n {
                        xawait(tokio::task::yield_now());
                    }
                })
                .join()
                .unwrap()
            }),
            Contender::new("xasync task, .await", |n| {
                xawait(rt.spawn(async move {
                    for _ in 0..n {
                        tokio::task::yield_now().await;
                    }
                }))
            }),
            Contender::new("tokio current-thread", |n| {
                tokio_rt.block_on(async move {
                    tokio::spawn(async move {
                        for _ in 0..n {
                            tokio::task::yield_now().await;
                        }
                    })
                    .await
                    .unwrap()
                })
            }),
        ],
        200_000,
        SAMPLES,
    );

    compare(
        "tokio::sync::Notify ping-pong between two tasks, per round trip",
        vec![
            Contender::new("xasync coroutines, xawait", |n| {
                let (ping, pong) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
                let (ping2, pong2) = (ping.clone(), pong.clone());
                let other = rt.xasync(move || {
                    for _ in 0..n {
                        xawait(ping2.notified());
                        pong2.notify_one();
                    }
                });
                rt.xasync(move || {
                    for _ in 0..n {
                        ping.notify_one();
                        xawait(pong.notified());
                    }
                })
                .join()
                .unwrap();
                other.join().unwrap();
            }),
            Contender::new("tokio current-thread", |n| {
                let (ping, pong) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
                let (ping2, pong2) = (ping.clone(), pong.clone());
                tokio_rt.block_on(async move {
                    let other = tokio::spawn(async move {
                        for _ in 0..n {
                            ping2.notified().await;
                            pong2.notify_one();
                        }
                    });
                    tokio::spawn(async move {
                        for _ in 0..n {
                            ping.notify_one();
                            pong.notified().await;
                        }
                    })
                    .await
                    .unwrap();
                    other.await.unwrap();
                })
            }),
        ],
        200_000,
        SAMPLES,
    );

    compare(
        "1-byte ping-pong over loopback TCP between two tasks, per round trip",
        vec![
            Contender::new("xasync coroutines, tokio::net", |n| {
                rt.xasync(move || {
                    let listener = xawait(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
                    let addr = listener.local_addr().unwrap();
                    let echo = xasync::xasync(move || {
                        let (mut socket, _) = xawait(listener.accept()).unwrap();
                        let mut byte = [0];
                        for _ in 0..n {
                            xawait(socket.read_exact(&mut byte)).unwrap();
                            xawait(socket.write_all(&byte)).unwrap();
                        }
                    });
                    let mut socket = xawait(tokio::net::TcpStream::connect(addr)).unwrap();
                    socket.set_nodelay(true).unwrap();
                    let mut byte = [0];
                    for _ in 0..n {
                        xawait(socket.write_all(&byte)).unwrap();
                        xawait(socket.read_exact(&mut byte)).unwrap();
                    }
                    echo.join().unwrap();
                })
                .join()
                .unwrap()
            }),
            Contender::new("xasync coroutines, xasync::net", |n| {
                rt.xasync(move || {
                    let listener = xasync::net::TcpListener::bind("127.0.0.1:0").unwrap();
                    let addr = listener.local_addr().unwrap();
                    let echo = xasync::xasync(move || {
                        let (socket, _) = listener.accept().unwrap();
                        let mut byte = [0];
                        for _ in 0..n {
                            socket.read_exact(&mut byte).unwrap();
                            socket.write_all(&byte).unwrap();
                        }
                    });
                    let socket = xasync::net::TcpStream::connect(addr).unwrap();
                    socket.set_nodelay(true).unwrap();
                    let mut byte = [0];
                    for _ in 0..n {
                        socket.write_all(&byte).unwrap();
                        socket.read_exact(&mut byte).unwrap();
                    }
                    echo.join().unwrap();
                })
                .join()
                .unwrap()
            }),
            Contender::new("tokio current-thread", |n| {
                tokio_rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = listener.local_addr().unwrap();
                    let echo = tokio::spawn(async move {
                        let (mut socket, _) = listener.accept().await.unwrap();
                        let mut byte = [0];
                        for _ in 0..n {
                            socket.read_exact(&mut byte).await.unwrap();
                            socket.write_all(&byte).await.unwrap();
                        }
                    });
                    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
                    socket.set_nodelay(true).unwrap();
                    let mut byte = [0];
                    for _ in 0..n {
                        socket.write_all(&byte).await.unwrap();
                        socket.read_exact(&mut byte).await.unwrap();
                    }
                    echo.await.unwrap();
                })
            }),
        ],
        20_000,
        SAMPLES,
    );

    compare(
        "tokio::time::sleep(1 ms), per sleep as the sleeper sees it",
        vec![
            Contender::new("xasync coroutine, xawait", |n| {
                rt.xasync(move || {
                    for _ in 0..n {
                        xawait(tokio::time::sleep(Duration::from_millis(1)));
                    }
                })
                .join()
                .unwrap()
            }),
            Contender::new("tokio current-thread", |n| {
                tokio_rt.block_on(async move {
                    for _ in 0..n {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            }),
        ],
        200,
        SAMPLES,
    );
}

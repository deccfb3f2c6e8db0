//! The HTTP "hello world" example (`examples/http_hello.rs`, plain
//! blocking-style code in coroutines) on one worker against may_minihttp
//! on one worker and hyper on a current-thread tokio runtime, loaded by `wrk -t1 -c100` over loopback, non-pipelined
//! and pipelined 16 deep. Each server runs pinned to CPU 0, wrk to CPU 1;
//! the servers alternate, and the median of the rounds is reported with
//! requests per second, server CPU time, requests per CPU-second, and
//! their ratios. The xasync server runs twice: on io_uring (`xasync`, the
//! ratios' numerator) and on epoll (`xasync-epoll`).
//!
//! ```sh
//! apt-get install -y wrk
//! cargo bench -p xasync-bench --bench http
//! XASYNC_BENCH_SECS=10 XASYNC_BENCH_ROUNDS=5 cargo bench -p xasync-bench --bench http
//! ```

mod io;

// The example itself is what is measured; its `main` is not used here.
#[allow(dead_code)]
#[path = "../../examples/http_hello.rs"]
mod http_hello;

use io::{SERVER_ENV, Server, announce};
use std::process::Command;
use xasync_bench::median;

const CONNECTIONS: usize = 100;
const PIPELINE: usize = 16;

fn main() {
    if let Ok(kind) = std::env::var(SERVER_ENV) {
        serve(&kind);
        return;
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is not installed (apt-get install -y wrk)");
        std::process::exit(1);
    }
    let script = std::env::temp_dir().join(format!("xasync-pipeline-{}.lua", std::process::id()));
    std::fs::write(&script, pipeline_script(PIPELINE)).unwrap();
    let secs = io::seconds();
    println!(
        "HTTP hello world, 1 server worker on CPU 0, wrk -t1 -c{CONNECTIONS} -d{secs}s on CPU 1, median of {} rounds",
        io::rounds()
    );
    for pipelined in [false, true] {
        let mode = if pipelined {
            format!("pipelined {PIPELINE} deep")
        } else {
            "not pipelined".into()
        };
        let mut results: Vec<(&str, Vec<f64>, Vec<f64>)> =
            ["xasync", "xasync-epoll", "may_minihttp", "hyper"]
                .into_iter()
                .map(|name| (name, Vec::new(), Vec::new()))
                .collect();
        for _ in 0..io::rounds() {
            for (name, rates, per_cpu) in &mut results {
                let (rate, cpu) = run(name, pipelined.then_some(script.as_path()), secs);
                rates.push(rate);
                per_cpu.push(rate * secs as f64 / cpu);
            }
        }
        println!("{mode}");
        let ours = (median(results[0].1.clone()), median(results[0].2.clone()));
        for (name, rates, per_cpu) in results {
            let (rate, per_cpu) = (median(rates), median(per_cpu));
            print!(
                "  {name:<14} {:>10.0} req/s  {:>10.0} req per CPU-second",
                rate, per_cpu
            );
            if name != "xasync" {
                print!(
                    "   xasync/{name}: {:.3}× req/s, {:.3}× req per CPU-s",
                    ours.0 / rate,
                    ours.1 / per_cpu
                );
            }
            println!();
        }
    }
    let _ = std::fs::remove_file(script);
}

/// One wrk run against a fresh server: requests per second, and the
/// server's CPU seconds during the run.
fn run(kind: &str, script: Option<&std::path::Path>, secs: u64) -> (f64, f64) {
    let server = Server::start(kind);
    let url = format!("http://{}/", server.addr);
    let before = server.cpu_time();
    let mut wrk = Command::new("taskset");
    wrk.args(["-c", "1", "wrk", "-t1"])
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{secs}s"));
    if let Some(script) = script {
        wrk.arg("-s").arg(script);
    }
    let output = wrk.arg(&url).output().expect("wrk failed to start");
    let cpu = (server.cpu_time() - before).as_secs_f64();
    let text = String::from_utf8_lossy(&output.stdout);
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .unwrap_or_else(|| panic!("no rate in wrk's output:\n{text}"))
        .trim()
        .parse()
        .unwrap();
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        eprintln!("{kind}: wrk reported errors:\n{text}");
    }
    (rate, cpu.max(1e-3))
}

/// A wrk script sending `depth` requests per write.
fn pipeline_script(depth: usize) -> String {
    format!(
        "init = function(args)\n  local r = {{}}\n  for i = 1, {depth} do r[i] = wrk.format(nil, \"/\") end\n  req = table.concat(r)\nend\nrequest = function() return req end\n"
    )
}

fn serve(kind: &str) {
    match kind {
        "xasync" | "xasync-epoll" => {
            let (rt, listener) = io::xasync_server(kind);
            rt.xasync(move || http_hello::accept_loop(&listener))
                .join()
                .unwrap()
                .unwrap();
        }
        "may_minihttp" => {
            may::config().set_workers(1);
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            drop(listener); // may_minihttp binds by address
            let server = may_minihttp::HttpServer(Hello).start(addr).unwrap();
            announce(addr);
            server.join().unwrap();
        }
        "hyper" => serve_hyper(),
        other => panic!("unknown server {other}"),
    }
}

/// may_minihttp's hello world service.
#[derive(Clone)]
struct Hello;

impl may_minihttp::HttpService for Hello {
    fn call(
        &mut self,
        _request: may_minihttp::Request,
        response: &mut may_minihttp::Response,
    ) -> std::io::Result<()> {
        response.body("Hello, world!");
        Ok(())
    }
}

/// hyper 1.x on a current-thread tokio runtime (pipelined responses are
/// flushed together). Its response has `content-length` and `date` but no
/// `server` header: 9 bytes fewer than the other two.
fn serve_hyper() {
    use hyper::service::service_fn;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        announce(listener.local_addr().unwrap());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let hello = service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(b"Hello, world!")),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .pipeline_flush(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), hello)
                    .await;
            });
        }
    });
}

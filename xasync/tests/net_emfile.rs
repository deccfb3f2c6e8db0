//! A server whose `accept` fails with EMFILE (the process is out of file
//! descriptors) stays alive and serves again once descriptors free up.
//! Runs in a child process: it lowers `RLIMIT_NOFILE`.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use xasync::Runtime;
use xasync::net::TcpListener;

const HANG_GUARD: Duration = Duration::from_secs(20);

#[test]
fn accept_out_of_file_descriptors_keeps_the_server_alive() {
    if std::env::var("XASYNC_EMFILE_CHILD").is_ok() {
        child();
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "accept_out_of_file_descriptors_keeps_the_server_alive",
            "--nocapture",
        ])
        .env("XASYNC_EMFILE_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn child() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let emfiles = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let (e, s) = (emfiles.clone(), served.clone());
    rt.xasync(move || {
        loop {
            match listener.accept() {
                Ok((conn, _)) => {
                    s.fetch_add(1, Ordering::SeqCst);
                    xasync::xasync(move || {
                        let mut buf = [0; 4];
                        if conn.read_exact(&mut buf).is_ok() {
                            let _ = conn.write_all(&buf);
                        }
                    })
                    .detach();
                }
                Err(err) if err.raw_os_error() == Some(libc::EMFILE) => {
                    e.fetch_add(1, Ordering::SeqCst);
                    xasync::time::sleep(Duration::from_millis(2)); // back off
                }
                Err(err) => panic!("accept failed: {err}"),
            }
        }
    })
    .detach();

    // Allow a few descriptors above those in use, then take them all.
    let in_use = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    set_nofile(in_use + 32);
    let mut hoard = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => hoard.push(file),
            Err(err) if err.raw_os_error() == Some(libc::EMFILE) => break,
            Err(err) => panic!("open failed: {err}"),
        }
    }
    // One descriptor for the client; the kernel completes its handshake,
    // but the server has none left to accept it with.
    drop(hoard.pop());
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(HANG_GUARD)).unwrap();
    client.write_all(b"ping").unwrap();
    let guard = Instant::now() + HANG_GUARD;
    while emfiles.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < guard, "accept never reported EMFILE");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(served.load(Ordering::SeqCst), 0);

    drop(hoard); // descriptors free up
    let mut buf = [0; 4];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping", "the queued connection was served");
    // And new ones too.
    let mut again = std::net::TcpStream::connect(addr).unwrap();
    again.set_read_timeout(Some(HANG_GUARD)).unwrap();
    again.write_all(b"pong").unwrap();
    again.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

fn set_nofile(soft: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-pointer to an rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0);
    limit.rlim_cur = soft.min(limit.rlim_max);
    // SAFETY: a valid rlimit, soft below hard.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0);
}

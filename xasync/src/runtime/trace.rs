//! The timeline: with `XASYNC_TRACE=path` (or
//! [`Builder::trace`](super::Builder::trace)), each worker records when it
//! ran which task and when it slept, in a ring buffer of its own
//! ([`TRACE_EVENTS`] events: the latest are kept); the monitor adds the
//! stalls. When the runtime shuts down, the file is written in Chrome's
//! trace-event JSON format, which Perfetto (ui.perfetto.dev) and
//! `chrome://tracing` open: one track per worker.
//!
//! Recording costs two clock reads per poll, only when the trace is on;
//! off, a test of one field per poll.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

/// Events each worker keeps.
pub(crate) const TRACE_EVENTS: usize = 1 << 16;

/// What a worker did for a while.
#[derive(Clone, Copy, Debug)]
enum What {
    /// Ran a task: a coroutine's id, or 0 for a future.
    Ran(u64),
    /// Slept for want of work.
    Parked,
}

/// One event of a worker's timeline, in nanoseconds since the runtime
/// started.
#[derive(Clone, Copy, Debug)]
struct Event {
    what: What,
    start: u64,
    end: u64,
}

/// A worker's ring of events (only its thread writes it).
pub(crate) struct Recorder {
    epoch: Instant,
    events: VecDeque<Event>,
}

impl Recorder {
    /// Nanoseconds since the runtime started: the start of an event.
    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn push(&mut self, what: What, start: u64) {
        if self.events.len() == TRACE_EVENTS {
            self.events.pop_front();
        }
        let end = self.now();
        self.events.push_back(Event { what, start, end });
    }

    /// A poll that started at `start` ended: of coroutine `id` (0: a
    /// future).
    pub(crate) fn ran(&mut self, id: u64, start: u64) {
        self.push(What::Ran(id), start);
    }

    /// A sleep that started at `start` ended.
    pub(crate) fn parked(&mut self, start: u64) {
        self.push(What::Parked, start);
    }
}

/// A worker's finished part of the trace.
struct Part {
    worker: usize,
    events: VecDeque<Event>,
    names: HashMap<u64, Box<str>>,
}

/// A stall the monitor saw.
struct Stall {
    worker: usize,
    at: u64,
    ms: u64,
}

/// Where a runtime's trace is gathered and written.
pub(crate) struct Trace {
    path: PathBuf,
    epoch: Instant,
    parts: Mutex<Vec<Part>>,
    stalls: Mutex<Vec<Stall>>,
}

/// The trace file a runtime writes: the builder's, else `XASYNC_TRACE`.
pub(crate) fn path(configured: Option<PathBuf>) -> Option<PathBuf> {
    configured.or_else(|| std::env::var_os("XASYNC_TRACE").map(PathBuf::from))
}

impl Trace {
    /// A trace to be written to `path`.
    pub(crate) fn new(path: PathBuf) -> Trace {
        Trace {
            path,
            epoch: Instant::now(),
            parts: Mutex::new(Vec::new()),
            stalls: Mutex::new(Vec::new()),
        }
    }

    /// A recorder for a worker.
    pub(crate) fn recorder(&self) -> Recorder {
        Recorder {
            epoch: self.epoch,
            events: VecDeque::with_capacity(TRACE_EVENTS),
        }
    }

    /// Hands in worker `worker`'s events as it exits, with the names of its
    /// coroutines.
    pub(crate) fn hand_in(
        &self,
        worker: usize,
        recorder: &mut Recorder,
        names: HashMap<u64, Box<str>>,
    ) {
        self.parts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Part {
                worker,
                events: std::mem::take(&mut recorder.events),
                names,
            });
    }

    /// Records that worker `worker` has been stuck for `ms` so far.
    pub(crate) fn stall(&self, worker: usize, ms: u64) {
        let at = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stalls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Stall { worker, at, ms });
    }

    /// Writes the trace file, reporting a failure on standard error.
    pub(crate) fn write(&self) {
        if let Err(e) = self.try_write() {
            eprintln!(
                "xasync: cannot write the trace {}: {e}",
                self.path.display()
            );
        }
    }

    fn try_write(&self) -> io::Result<()> {
        let parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        let stalls = self.stalls.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = io::BufWriter::new(std::fs::File::create(&self.path)?);
        writeln!(out, "{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")?;
        let mut first = true;
        let mut sep = |out: &mut io::BufWriter<std::fs::File>| {
            let comma = if first { "" } else { "," };
            first = false;
            writeln!(out, "{comma}")
        };
        // Microseconds with nanosecond decimals, as the format wants.
        let us = |ns: u64| format!("{}.{:03}", ns / 1000, ns % 1000);
        for part in parts.iter() {
            let tid = part.worker;
            sep(&mut out)?;
            write!(
                out,
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"name\":\"worker {tid}\"}}}}"
            )?;
            for event in &part.events {
                let name = match event.what {
                    What::Parked => "parked".to_owned(),
                    What::Ran(0) => "future".to_owned(),
                    What::Ran(id) => match part.names.get(&id) {
                        Some(name) => format!("coroutine {id} {}", json_string(name)),
                        None => format!("coroutine {id}"),
                    },
                };
                sep(&mut out)?;
                write!(
                    out,
                    "{{\"name\":{},\"ph\":\"X\",\"pid\":1,\"tid\":{tid},\"ts\":{},\"dur\":{}}}",
                    json_string(&name),
                    us(event.start),
                    us(event.end.saturating_sub(event.start))
                )?;
                if let What::Parked = event.what {
                    sep(&mut out)?;
                    write!(
                        out,
                        "{{\"name\":\"woken\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":{tid},\"ts\":{}}}",
                        us(event.end)
                    )?;
                }
            }
        }
        for stall in stalls.iter() {
            sep(&mut out)?;
            write!(
                out,
                "{{\"name\":\"stall ({} ms)\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":{},\"ts\":{}}}",
                stall.ms,
                stall.worker,
                us(stall.at)
            )?;
        }
        writeln!(out, "\n]}}")?;
        out.flush()
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

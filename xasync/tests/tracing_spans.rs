//! Feature `tracing`: a span entered in a coroutine stays that coroutine's
//! across suspensions, on a real `tracing-subscriber` registry.
//!
//! A layer records each event with the names of its spans (root first), and
//! each closed span; the tests run coroutines interleaving on one worker and
//! check that every event carries only its own coroutine's spans.

use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;
use tracing::Instrument;
use tracing::field::{Field, Visit};
use tracing::span::Id;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};
use xasync::Runtime;
use xasync::sync::oneshot;
use xasync::time::{sleep, sleep_async};

/// What the layer saw: events (message, span names root first) and the
/// names of the spans closed.
#[derive(Default)]
struct Seen {
    events: Vec<(String, Vec<&'static str>)>,
    closed: Vec<&'static str>,
}

static SEEN: Mutex<Seen> = Mutex::new(Seen {
    events: Vec::new(),
    closed: Vec::new(),
});

/// Records into [`SEEN`].
struct Recorder;

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let spans = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().map(|span| span.name()).collect())
            .unwrap_or_default();
        seen().events.push((message.0, spans));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            seen().closed.push(span.name());
        }
    }
}

/// The records, with the recorder installed as the global subscriber (the
/// workers are other threads: a scoped default would not reach them).
fn seen() -> MutexGuard<'static, Seen> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Registry::default().with(Recorder))
            .expect("the only subscriber");
    });
    SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The span names of the events whose message starts with `prefix`, in the
/// order they were logged.
fn events(prefix: &str) -> Vec<(String, Vec<&'static str>)> {
    let seen = seen();
    let events = seen.events.iter().filter(|(m, _)| m.starts_with(prefix));
    events.cloned().collect()
}

fn one_worker() -> Runtime {
    drop(seen()); // installs the subscriber before any span is made
    Runtime::builder().workers(1).build().expect("runtime")
}

/// The example: two coroutines on one worker, each holding its
/// span entered across waits, log before and after, and one makes a child
/// span after resuming; each sees only its own spans. The channels order
/// the interleaving (a sleep would, unless the machine is slow).
#[test]
fn an_entered_span_stays_with_its_coroutine_across_waits() {
    let rt = one_worker();
    let (a_waits, b_goes) = oneshot::channel();
    let (b_waits, a_goes) = oneshot::channel();
    let (a_done, b_resumes) = oneshot::channel();
    let a = rt.xasync(move || {
        let span = tracing::info_span!("hold_a");
        let _entered = span.enter();
        tracing::info!("hold: a before");
        a_waits.send(()).unwrap();
        a_goes.recv().unwrap(); // b enters its span and waits meanwhile
        sleep(Duration::from_millis(1));
        tracing::info!("hold: a after");
        let child = tracing::info_span!("hold_a_child");
        let _child = child.enter();
        tracing::info!("hold: a child");
        a_done.send(()).unwrap();
    });
    let b = rt.xasync(move || {
        b_goes.recv().unwrap(); // a holds its span meanwhile
        let span = tracing::info_span!("hold_b");
        let _entered = span.enter();
        tracing::info!("hold: b before");
        b_waits.send(()).unwrap();
        b_resumes.recv().unwrap(); // a resumes and logs meanwhile
        sleep(Duration::from_millis(1));
        tracing::info!("hold: b after");
    });
    a.join().unwrap();
    b.join().unwrap();
    rt.shutdown();
    assert_eq!(
        events("hold:"),
        [
            ("hold: a before".into(), vec!["hold_a"]),
            ("hold: b before".into(), vec!["hold_b"]),
            ("hold: a after".into(), vec!["hold_a"]),
            ("hold: a child".into(), vec!["hold_a", "hold_a_child"]),
            ("hold: b after".into(), vec!["hold_b"]),
        ]
    );
}

/// `Instrument` keeps working: an instrumented future awaited by a
/// coroutine, and an instrumented async task, log under their spans while
/// a coroutine holds its own span across a wait on the same worker.
#[test]
fn instrumented_futures_keep_their_spans() {
    let rt = one_worker();
    let (entered, wait_entered) = oneshot::channel();
    let (release, released) = oneshot::channel();
    let holder = rt.xasync(move || {
        let span = tracing::info_span!("instr_holder");
        let _entered = span.enter();
        entered.send(()).unwrap();
        released.recv().unwrap(); // the others run meanwhile
        tracing::info!("instr: holder");
    });
    wait_entered.recv().unwrap();
    let awaiter = rt.xasync(|| {
        let span = tracing::info_span!("instr_awaiter");
        let _entered = span.enter();
        let inner = async {
            sleep_async(Duration::from_millis(1)).await;
            tracing::info!("instr: awaited future");
        };
        xasync::xawait(inner.instrument(tracing::info_span!("instr_future")));
        tracing::info!("instr: awaiter");
    });
    let task = rt.spawn(
        async {
            sleep_async(Duration::from_millis(1)).await;
            tracing::info!("instr: task");
        }
        .instrument(tracing::info_span!("instr_task")),
    );
    awaiter.join().unwrap();
    xasync::xawait(task);
    release.send(()).unwrap();
    holder.join().unwrap();
    rt.shutdown();
    let mut events = events("instr:");
    events.sort();
    assert_eq!(
        events,
        [
            (
                "instr: awaited future".into(),
                vec!["instr_awaiter", "instr_future"]
            ),
            ("instr: awaiter".into(), vec!["instr_awaiter"]),
            ("instr: holder".into(), vec!["instr_holder"]),
            ("instr: task".into(), vec!["instr_task"]),
        ]
    );
}

/// A coroutine cancelled while it holds an entered span unwinds with it
/// entered (its guard exits it), and a coroutine that leaks a guard leaves
/// nothing entered on the worker: later coroutines log under no span, and
/// every span closes.
#[test]
fn cancelled_and_leaking_coroutines_leave_the_worker_clean() {
    let rt = one_worker();
    let (entered, wait_entered) = oneshot::channel();
    let cancelled = rt.xasync(move || {
        let span = tracing::info_span!("clean_cancelled");
        let _entered = span.enter();
        entered.send(()).unwrap();
        sleep(Duration::from_secs(60));
    });
    wait_entered.recv().unwrap();
    let leaker = rt.xasync(|| {
        let span = tracing::info_span!("clean_leaked");
        std::mem::forget(span.enter());
        sleep(Duration::from_millis(1));
        tracing::info!("clean: leaker");
    });
    leaker.join().unwrap();
    cancelled.cancel();
    assert!(cancelled.join().unwrap_err().is_cancelled());
    rt.xasync(|| tracing::info!("clean: after")).join().unwrap();
    rt.shutdown();
    assert_eq!(
        events("clean:"),
        [
            ("clean: leaker".into(), vec!["clean_leaked"]),
            ("clean: after".into(), vec![]),
        ]
    );
    let seen = seen();
    assert!(seen.closed.contains(&"clean_cancelled"));
    assert!(seen.closed.contains(&"clean_leaked"));
}

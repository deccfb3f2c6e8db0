//! Feature `tracing`: a subscriber whose current span does not follow its
//! exits (it always names the same span) cannot make a suspension loop
//! forever, and every exit the runtime makes is matched by an enter.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;

/// Enters minus exits, over the whole run.
static ENTERED: AtomicI64 = AtomicI64::new(0);

/// Every span is span 1, and the current span is always span 1.
struct Stuck {
    metadata: OnceLock<&'static Metadata<'static>>,
}

impl Subscriber for Stuck {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.metadata.get_or_init(|| span.metadata());
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {
        ENTERED.fetch_add(1, Ordering::SeqCst);
    }
    fn exit(&self, _: &Id) {
        ENTERED.fetch_sub(1, Ordering::SeqCst);
    }
    fn current_span(&self) -> Current {
        match self.metadata.get() {
            Some(metadata) => Current::new(Id::from_u64(1), metadata),
            None => Current::none(),
        }
    }
}

#[test]
fn a_current_span_that_ignores_exits_does_not_hang_a_suspension() {
    tracing::subscriber::set_global_default(Stuck {
        metadata: OnceLock::new(),
    })
    .expect("the only subscriber");
    let rt = xasync::Runtime::builder().workers(1).build().unwrap();
    let yielder = || {
        let span = tracing::info_span!("stuck");
        let _entered = span.enter();
        for _ in 0..3 {
            xasync::yield_now();
        }
    };
    let (a, b) = (rt.xasync(yielder), rt.xasync(yielder));
    a.join().unwrap();
    b.join().unwrap();
    rt.shutdown();
    assert_eq!(ENTERED.load(Ordering::SeqCst), 0);
}

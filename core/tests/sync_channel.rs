//! Behaviour of `sync::channel`: buffering, waiting, disconnection,
//! rendezvous, cancellation, and multi-thread stress.

mod sync_support;

use futures::executor::block_on;
use futures::stream::StreamExt;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use sync_support::{Counter, pending, ready, scaled};
use xasync_core::sync::channel::{
    self, Receiver, RecvError, SendError, Sender, TryRecvError, TrySendError,
};

#[test]
fn values_arrive_in_send_order() {
    let (tx, rx) = channel::unbounded();
    for i in 0..100 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(rx.len(), 100);
    let got: Vec<i32> = (0..100).map(|_| rx.try_recv().unwrap()).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn bounded_try_send_reports_full_and_gives_the_value_back() {
    let (tx, rx) = channel::bounded(2);
    assert_eq!(tx.capacity(), Some(2));
    tx.try_send(1).unwrap();
    assert!(!tx.is_full());
    tx.try_send(2).unwrap();
    assert!(tx.is_full() && rx.is_full());
    let err = tx.try_send(3).unwrap_err();
    assert!(err.is_full());
    assert_eq!(err.into_inner(), 3);
    assert_eq!(rx.try_recv(), Ok(1));
    tx.try_send(3).unwrap();
    assert_eq!(rx.len(), 2);
}

#[test]
fn unbounded_reports_no_capacity_and_is_never_full() {
    let (tx, rx) = channel::unbounded::<u8>();
    assert_eq!(rx.capacity(), None);
    for _ in 0..scaled(1000) {
        tx.try_send(0).unwrap();
    }
    assert!(!tx.is_full());
}

#[test]
fn huge_capacity_reserves_nothing_up_front() {
    let (tx, rx) = channel::bounded(usize::MAX);
    assert_eq!(tx.capacity(), Some(usize::MAX));
    tx.try_send([0u8; 64]).unwrap();
    assert_eq!(rx.try_recv(), Ok([0u8; 64]));
}

#[test]
fn a_full_send_waits_and_completes_when_a_value_is_taken() {
    let c = Counter::new();
    let (tx, rx) = channel::bounded(1);
    tx.try_send(1).unwrap();
    let mut send = tx.send_async(2);
    pending(&c, &mut send);
    // FIFO fairness: try_send does not overtake the waiting sender.
    assert!(tx.try_send(3).unwrap_err().is_full());
    assert_eq!(c.wakes(), 0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(c.wakes(), 1);
    // The parked value moved into the buffer when the place was freed.
    assert_eq!(rx.len(), 1);
    assert_eq!(ready(&c, &mut send), Ok(()));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_waiting_receiver_gets_the_value_handed_over() {
    let c = Counter::new();
    let (tx, rx) = channel::bounded(4);
    let mut recv = rx.recv_async();
    pending(&c, &mut recv);
    tx.try_send(7).unwrap();
    assert_eq!(c.wakes(), 1);
    // Handed to the waiter, not buffered: another receiver cannot steal it.
    assert_eq!(rx.len(), 0);
    assert_eq!(rx.clone().try_recv(), Err(TryRecvError::Empty));
    assert_eq!(ready(&c, &mut recv), Ok(7));
}

#[test]
fn waiting_receivers_are_served_in_arrival_order() {
    let (tx, rx) = channel::unbounded();
    let counters: Vec<Counter> = (0..3).map(|_| Counter::new()).collect();
    let mut futs: Vec<_> = (0..3).map(|_| rx.recv_async()).collect();
    for (c, f) in counters.iter().zip(&mut futs) {
        pending(c, f);
    }
    tx.try_send(10).unwrap();
    assert_eq!(
        counters.iter().map(Counter::wakes).collect::<Vec<_>>(),
        [1, 0, 0]
    );
    tx.try_send(11).unwrap();
    tx.try_send(12).unwrap();
    let got: Vec<_> = counters
        .iter()
        .zip(&mut futs)
        .map(|(c, f)| ready(c, f).unwrap())
        .collect();
    assert_eq!(got, [10, 11, 12]);
}

#[test]
fn the_latest_waker_is_the_one_woken() {
    let (a, b) = (Counter::new(), Counter::new());
    let (tx, rx) = channel::unbounded();
    let mut recv = rx.recv_async();
    pending(&a, &mut recv);
    pending(&b, &mut recv);
    pending(&b, &mut recv);
    tx.try_send(()).unwrap();
    assert_eq!((a.wakes(), b.wakes()), (0, 1));
    assert_eq!(ready(&b, &mut recv), Ok(()));
}

#[test]
fn receivers_drain_the_buffer_after_the_last_sender_is_gone() {
    let (tx, rx) = channel::bounded(4);
    let tx2 = tx.clone();
    assert_eq!(rx.sender_count(), 2);
    tx.try_send(1).unwrap();
    tx2.try_send(2).unwrap();
    drop(tx);
    assert!(!rx.is_disconnected());
    drop(tx2);
    assert!(rx.is_disconnected());
    assert_eq!(rx.sender_count(), 0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(block_on(rx.recv_async()), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(block_on(rx.recv_async()), Err(RecvError));
}

#[test]
fn dropping_the_last_sender_wakes_every_waiting_receiver() {
    let (tx, rx) = channel::unbounded::<u8>();
    let rx2 = rx.clone();
    let (c1, c2) = (Counter::new(), Counter::new());
    let (mut r1, mut r2) = (rx.recv_async(), rx2.recv_async());
    pending(&c1, &mut r1);
    pending(&c2, &mut r2);
    drop(tx);
    assert_eq!((c1.wakes(), c2.wakes()), (1, 1));
    assert_eq!(ready(&c1, &mut r1), Err(RecvError));
    assert_eq!(ready(&c2, &mut r2), Err(RecvError));
}

#[test]
fn sends_fail_with_the_value_once_every_receiver_is_gone() {
    let (tx, rx) = channel::bounded(1);
    tx.try_send(String::from("buffered")).unwrap();
    let c = Counter::new();
    let mut parked = tx.send_async(String::from("parked"));
    pending(&c, &mut parked);
    let rx2 = rx.clone();
    assert_eq!(tx.receiver_count(), 2);
    drop(rx);
    assert!(!tx.is_disconnected());
    drop(rx2);
    assert!(tx.is_disconnected());
    assert_eq!(c.wakes(), 1);
    assert_eq!(
        ready(&c, &mut parked),
        Err(SendError(String::from("parked")))
    );
    // Buffered values were dropped with the last receiver.
    assert_eq!(tx.len(), 0);
    assert_eq!(
        tx.try_send(String::from("late")),
        Err(TrySendError::Disconnected(String::from("late")))
    );
    assert_eq!(
        block_on(tx.send_async(String::from("x")))
            .unwrap_err()
            .into_inner(),
        "x"
    );
}

#[test]
fn buffered_values_are_dropped_when_the_last_receiver_goes() {
    let token = Arc::new(());
    let (tx, rx) = channel::unbounded();
    tx.try_send(token.clone()).unwrap();
    tx.try_send(token.clone()).unwrap();
    assert_eq!(Arc::strong_count(&token), 3);
    drop(rx);
    assert_eq!(Arc::strong_count(&token), 1);
    drop(tx);
}

#[test]
fn dropping_a_pending_send_withdraws_its_value() {
    let token = Arc::new(());
    let c = Counter::new();
    let (tx, rx) = channel::bounded(0);
    let mut send = tx.send_async(token.clone());
    pending(&c, &mut send);
    assert_eq!(Arc::strong_count(&token), 2);
    drop(send);
    assert_eq!(Arc::strong_count(&token), 1);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn a_value_handed_to_a_dropped_receiver_goes_to_the_next_one() {
    let (tx, rx) = channel::unbounded();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut r1 = rx.recv_async();
    let mut r2 = rx.recv_async();
    pending(&c1, &mut r1);
    pending(&c2, &mut r2);
    tx.try_send(5).unwrap();
    assert_eq!((c1.wakes(), c2.wakes()), (1, 0));
    drop(r1); // woken with the value, but cancelled before taking it
    assert_eq!(c2.wakes(), 1);
    assert_eq!(ready(&c2, &mut r2), Ok(5));
}

#[test]
fn a_value_handed_to_a_dropped_receiver_returns_to_the_front_of_the_buffer() {
    let (tx, rx) = channel::bounded(1);
    let c = Counter::new();
    let mut r = rx.recv_async();
    pending(&c, &mut r);
    tx.try_send(1).unwrap(); // handed to r
    tx.try_send(2).unwrap(); // buffered
    drop(r);
    // Nothing lost, order kept; briefly over capacity.
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn rendezvous_send_completes_only_when_received() {
    let c = Counter::new();
    let (tx, rx) = channel::bounded(0);
    assert!(rx.is_full());
    // No receiver waiting: try_send cannot hand over.
    assert!(tx.try_send(1).unwrap_err().is_full());
    let mut send = tx.send_async(1);
    pending(&c, &mut send);
    assert_eq!(rx.len(), 0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(c.wakes(), 1);
    assert_eq!(ready(&c, &mut send), Ok(()));
    // A waiting receiver: try_send succeeds by handing over.
    let mut recv = rx.recv_async();
    pending(&c, &mut recv);
    tx.try_send(2).unwrap();
    assert_eq!(ready(&c, &mut recv), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn rendezvous_across_threads() {
    let (tx, rx) = channel::bounded(0);
    let t = thread::spawn(move || {
        block_on(async {
            for i in 0..100 {
                tx.send_async(i).await.unwrap();
            }
        })
    });
    let got: Vec<i32> = block_on(rx.clone().collect());
    t.join().unwrap();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn the_receiver_is_a_stream_that_ends_on_disconnection() {
    let (tx, mut rx) = channel::unbounded();
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    drop(tx);
    assert_eq!(block_on(rx.next()), Some(0));
    assert_eq!(block_on((&mut rx).collect::<Vec<_>>()), [1, 2]);
    assert_eq!(block_on(rx.next()), None);
}

#[test]
fn dropping_a_receiver_with_a_pending_stream_poll_passes_its_value_on() {
    let (tx, rx) = channel::unbounded();
    let mut stream_rx = rx.clone();
    let c = Counter::new();
    let mut next = stream_rx.next();
    pending(&c, &mut next);
    drop(next); // the registration belongs to the receiver, not the future
    tx.try_send(9).unwrap();
    drop(stream_rx);
    assert_eq!(rx.try_recv(), Ok(9));
}

#[test]
fn errors_display_and_debug_without_the_value() {
    assert_eq!(
        SendError(1).to_string(),
        "sending on a disconnected channel"
    );
    assert_eq!(format!("{:?}", SendError(1)), "SendError { .. }");
    assert_eq!(format!("{:?}", TrySendError::Full(1)), "Full(..)");
    assert_eq!(
        TrySendError::Full(1).to_string(),
        "sending on a full channel"
    );
    assert_eq!(
        RecvError.to_string(),
        "receiving on an empty and disconnected channel"
    );
    assert_eq!(
        TryRecvError::Empty.to_string(),
        "receiving on an empty channel"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(SendError(()));
    assert!(boxed.source().is_none());
}

#[test]
fn ends_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Sender<String>>();
    send_sync::<Receiver<String>>();
    send_sync::<channel::SendFut<'static, String>>();
    send_sync::<channel::RecvFut<'static, String>>();
}

/// `producers` threads each send `per` distinct numbers; `consumers` threads
/// receive until disconnection. Every number must arrive exactly once.
fn stress(cap: Option<usize>, producers: usize, consumers: usize, per: usize) {
    let per = scaled(per);
    let (tx, rx) = match cap {
        Some(cap) => channel::bounded(cap),
        None => channel::unbounded(),
    };
    let sent = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for p in 0..producers {
        let tx = tx.clone();
        let sent = sent.clone();
        threads.push(thread::spawn(move || {
            block_on(async {
                for i in 0..per {
                    // Mix waiting and non-waiting sends.
                    let v = p * per + i;
                    if i % 3 == 0 {
                        match tx.try_send(v) {
                            Ok(()) => {}
                            Err(TrySendError::Full(v)) => tx.send_async(v).await.unwrap(),
                            Err(TrySendError::Disconnected(_)) => unreachable!(),
                        }
                    } else {
                        tx.send_async(v).await.unwrap();
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            });
            Vec::new()
        }));
    }
    drop(tx);
    for _ in 0..consumers {
        let rx = rx.clone();
        threads.push(thread::spawn(move || {
            block_on(async {
                let mut got = Vec::new();
                while let Ok(v) = rx.recv_async().await {
                    got.push(v);
                }
                got
            })
        }));
    }
    drop(rx);
    let mut all = HashSet::new();
    for t in threads {
        for v in t.join().unwrap() {
            assert!(all.insert(v), "{v} received twice");
        }
    }
    assert_eq!(all.len(), producers * per);
    assert_eq!(sent.load(Ordering::Relaxed), producers * per);
}

#[test]
fn stress_4_producers_4_consumers_bounded() {
    stress(Some(4), 4, 4, 5_000);
}

#[test]
fn stress_4_producers_4_consumers_rendezvous() {
    stress(Some(0), 4, 4, 2_000);
}

#[test]
fn stress_4_producers_4_consumers_unbounded() {
    stress(None, 4, 4, 5_000);
}

#[test]
fn stress_with_cancelled_receives_loses_nothing() {
    // Consumers race recv futures against a short poll budget and drop
    // them while pending: every value must still arrive exactly once.
    let (tx, rx) = channel::bounded(2);
    let per_producer = scaled(2_000);
    let total = 4 * per_producer;
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                block_on(async {
                    for i in 0..per_producer {
                        tx.send_async(p * per_producer + i).await.unwrap();
                    }
                })
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || {
                let c = Counter::new();
                let mut got = Vec::new();
                loop {
                    let mut fut = rx.recv_async();
                    match c.poll(&mut fut) {
                        std::task::Poll::Ready(Ok(v)) => got.push(v),
                        std::task::Poll::Ready(Err(RecvError)) => return got,
                        std::task::Poll::Pending => {
                            thread::yield_now();
                            // Poll once more, then cancel if still pending.
                            match c.poll(&mut fut) {
                                std::task::Poll::Ready(Ok(v)) => got.push(v),
                                std::task::Poll::Ready(Err(RecvError)) => return got,
                                std::task::Poll::Pending => drop(fut),
                            }
                        }
                    }
                }
            })
        })
        .collect();
    drop(rx);
    for p in producers {
        p.join().unwrap();
    }
    let mut all = HashSet::new();
    for c in consumers {
        for v in c.join().unwrap() {
            assert!(all.insert(v), "{v} received twice");
        }
    }
    assert_eq!(all.len(), total);
}

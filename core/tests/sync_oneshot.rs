//! Behaviour of `sync::oneshot`.

mod sync_support;

use futures::executor::block_on;
use std::sync::Arc;
use std::thread;
use sync_support::{Counter, pending, ready, scaled};
use xasync_core::sync::oneshot::{self, RecvError, TryRecvError};

#[test]
fn send_then_receive() {
    let (tx, rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!tx.is_closed());
    tx.send(1).unwrap();
    assert_eq!(block_on(rx), Ok(1));
}

#[test]
fn a_pending_receiver_is_woken_by_send() {
    let (a, b) = (Counter::new(), Counter::new());
    let (tx, mut rx) = oneshot::channel();
    pending(&a, &mut rx);
    pending(&b, &mut rx); // new waker replaces the old one
    tx.send("v").unwrap();
    assert_eq!((a.wakes(), b.wakes()), (0, 1));
    assert_eq!(ready(&b, &mut rx), Ok("v"));
}

#[test]
fn dropping_the_sender_wakes_the_receiver_with_an_error() {
    let c = Counter::new();
    let (tx, mut rx) = oneshot::channel::<u8>();
    pending(&c, &mut rx);
    drop(tx);
    assert_eq!(c.wakes(), 1);
    assert_eq!(ready(&c, &mut rx), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn send_gives_the_value_back_when_the_receiver_is_gone() {
    let (tx, rx) = oneshot::channel();
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(String::from("x")), Err(String::from("x")));
}

#[test]
fn close_refuses_later_sends_but_keeps_an_earlier_value() {
    let (tx, mut rx) = oneshot::channel();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(1), Err(1));
    assert_eq!(block_on(rx), Err(RecvError));

    let (tx, mut rx) = oneshot::channel();
    tx.send(2).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_value_nobody_receives_is_dropped_with_the_receiver() {
    let token = Arc::new(());
    let (tx, rx) = oneshot::channel();
    tx.send(token.clone()).unwrap();
    assert_eq!(Arc::strong_count(&token), 2);
    drop(rx);
    assert_eq!(Arc::strong_count(&token), 1);
}

#[test]
fn across_threads_many_times() {
    for i in 0..scaled(1_000) {
        let (tx, rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(i).unwrap());
        assert_eq!(block_on(rx), Ok(i));
        t.join().unwrap();
    }
}

#[test]
fn errors_display() {
    assert_eq!(
        RecvError.to_string(),
        "oneshot sender dropped without sending"
    );
    assert_eq!(
        TryRecvError::Empty.to_string(),
        "oneshot value not sent yet"
    );
    let _: &dyn std::error::Error = &TryRecvError::Closed;
}

#[test]
fn ends_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<oneshot::Sender<String>>();
    send_sync::<oneshot::Receiver<String>>();
}

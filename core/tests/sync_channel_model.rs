//! Model test: random sequences of channel operations, checked step by step
//! against a `VecDeque` model of the documented semantics.
//!
//! The model is the specification in executable form: a buffer in send
//! order, a FIFO line of waiting receivers (a send hands its value to the
//! first), a FIFO line of parked senders (a receive that frees a place
//! moves the first parked value in, and `bounded(0)` takes it directly),
//! disconnection by counting ends, and cancellation (a dropped receiver
//! gives a handed value to the next waiting one or back to the front of the
//! buffer; a dropped sender withdraws its value). Every result and every
//! wakeup (exactly which pending futures were woken) must match.
//!
//! Each pending future owns a clone of its end, as a spawned task would,
//! so completing or dropping it can disconnect the channel too.

mod sync_support;

use proptest::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use sync_support::Counter;
use xasync_core::sync::channel::{
    self, Receiver, RecvError, SendError, Sender, TryRecvError, TrySendError,
};

type SendTask = Pin<Box<dyn Future<Output = Result<(), SendError<u32>>>>>;
type RecvTask = Pin<Box<dyn Future<Output = Result<u32, RecvError>>>>;

#[derive(Debug, Clone)]
enum Op {
    TrySend(usize),
    TryRecv(usize),
    StartSend(usize),
    StartRecv(usize),
    PollSend(usize),
    PollRecv(usize),
    /// Poll with a new waker, which replaces the old one.
    RepollRecvNewWaker(usize),
    DropSend(usize),
    DropRecv(usize),
    CloneSender,
    DropSender(usize),
    CloneReceiver,
    DropReceiver(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let i = || 0usize..8;
    prop_oneof![
        3 => i().prop_map(Op::TrySend),
        3 => i().prop_map(Op::TryRecv),
        3 => i().prop_map(Op::StartSend),
        3 => i().prop_map(Op::StartRecv),
        2 => i().prop_map(Op::PollSend),
        2 => i().prop_map(Op::PollRecv),
        1 => i().prop_map(Op::RepollRecvNewWaker),
        1 => i().prop_map(Op::DropSend),
        1 => i().prop_map(Op::DropRecv),
        1 => Just(Op::CloneSender),
        1 => i().prop_map(Op::DropSender),
        1 => Just(Op::CloneReceiver),
        1 => i().prop_map(Op::DropReceiver),
    ]
}

#[derive(Default)]
struct RecvModel {
    in_line: bool,
    handed: Option<u32>,
    woken: bool,
}

struct SendModel {
    /// The value while not delivered.
    value: Option<u32>,
    woken: bool,
}

/// The specification.
struct Model {
    cap: usize,
    buffer: VecDeque<u32>,
    senders: usize,
    receivers: usize,
    recv_line: VecDeque<u64>,
    send_line: VecDeque<u64>,
    recvs: HashMap<u64, RecvModel>,
    sends: HashMap<u64, SendModel>,
}

impl Model {
    fn try_send(&mut self, v: u32) -> Result<(), TrySendError<u32>> {
        if self.receivers == 0 {
            return Err(TrySendError::Disconnected(v));
        }
        if let Some(r) = self.recv_line.pop_front() {
            let r = self.recvs.get_mut(&r).unwrap();
            r.in_line = false;
            r.handed = Some(v);
            r.woken = true;
            return Ok(());
        }
        if self.buffer.len() < self.cap && self.send_line.is_empty() {
            self.buffer.push_back(v);
            return Ok(());
        }
        Err(TrySendError::Full(v))
    }

    fn take_parked(&mut self) -> Option<u32> {
        let s = self.send_line.pop_front()?;
        let s = self.sends.get_mut(&s).unwrap();
        s.woken = true;
        s.value.take()
    }

    fn try_recv(&mut self) -> Result<u32, TryRecvError> {
        if let Some(v) = self.buffer.pop_front() {
            if self.buffer.len() < self.cap
                && let Some(p) = self.take_parked()
            {
                self.buffer.push_back(p);
            }
            return Ok(v);
        }
        if let Some(p) = self.take_parked() {
            return Ok(p);
        }
        if self.senders == 0 {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    fn sender_gone(&mut self) {
        self.senders -= 1;
        if self.senders == 0 {
            for r in self.recv_line.drain(..) {
                let r = self.recvs.get_mut(&r).unwrap();
                r.in_line = false;
                r.woken = true;
            }
        }
    }

    fn receiver_gone(&mut self) {
        self.receivers -= 1;
        if self.receivers == 0 {
            self.buffer.clear();
            for s in self.send_line.drain(..) {
                self.sends.get_mut(&s).unwrap().woken = true;
            }
        }
    }

    /// A receive future's poll (it may be new).
    fn poll_recv(&mut self, id: u64) -> Poll<Result<u32, RecvError>> {
        let r = self.recvs.entry(id).or_default();
        if let Some(v) = r.handed.take() {
            return self.finish_recv(id, Ok(v));
        }
        if r.in_line && self.senders > 0 {
            r.woken = false;
            return Poll::Pending;
        }
        self.recv_line.retain(|&x| x != id);
        match self.try_recv() {
            Ok(v) => self.finish_recv(id, Ok(v)),
            Err(TryRecvError::Disconnected) => self.finish_recv(id, Err(RecvError)),
            Err(TryRecvError::Empty) => {
                self.recv_line.push_back(id);
                let r = self.recvs.get_mut(&id).unwrap();
                r.in_line = true;
                r.woken = false;
                Poll::Pending
            }
        }
    }

    fn finish_recv(
        &mut self,
        id: u64,
        out: Result<u32, RecvError>,
    ) -> Poll<Result<u32, RecvError>> {
        self.recvs.remove(&id);
        self.receiver_gone();
        Poll::Ready(out)
    }

    fn drop_recv(&mut self, id: u64) {
        let r = self.recvs.remove(&id).unwrap();
        self.recv_line.retain(|&x| x != id);
        if let Some(v) = r.handed {
            match self.recv_line.pop_front() {
                Some(next) => {
                    let next = self.recvs.get_mut(&next).unwrap();
                    next.in_line = false;
                    next.handed = Some(v);
                    next.woken = true;
                }
                None => self.buffer.push_front(v),
            }
        }
        self.receiver_gone();
    }

    fn start_send(&mut self, id: u64, v: u32) -> Poll<Result<(), SendError<u32>>> {
        match self.try_send(v) {
            Ok(()) => self.finish_send(Ok(())),
            Err(TrySendError::Disconnected(v)) => self.finish_send(Err(SendError(v))),
            Err(TrySendError::Full(v)) => {
                self.send_line.push_back(id);
                self.sends.insert(
                    id,
                    SendModel {
                        value: Some(v),
                        woken: false,
                    },
                );
                Poll::Pending
            }
        }
    }

    fn poll_send(&mut self, id: u64) -> Poll<Result<(), SendError<u32>>> {
        let s = self.sends.get_mut(&id).unwrap();
        s.woken = false;
        match s.value {
            None => {
                self.sends.remove(&id);
                self.finish_send(Ok(()))
            }
            Some(v) if self.receivers == 0 => {
                self.sends.remove(&id);
                self.finish_send(Err(SendError(v)))
            }
            Some(_) => Poll::Pending,
        }
    }

    fn finish_send(&mut self, out: Result<(), SendError<u32>>) -> Poll<Result<(), SendError<u32>>> {
        self.sender_gone();
        Poll::Ready(out)
    }

    fn drop_send(&mut self, id: u64) {
        self.sends.remove(&id);
        self.send_line.retain(|&x| x != id);
        self.sender_gone();
    }
}

/// A pending future of the real channel with its waker.
struct Pending<F> {
    id: u64,
    fut: F,
    counter: Counter,
    seen: usize,
}

impl<F: Future + Unpin> Pending<F> {
    fn poll(&mut self) -> Poll<F::Output> {
        self.seen = self.counter.wakes();
        self.counter.poll(&mut self.fut)
    }
}

fn run(cap: Option<usize>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (tx, rx) = match cap {
        Some(cap) => channel::bounded::<u32>(cap),
        None => channel::unbounded(),
    };
    let mut senders: Vec<Sender<u32>> = vec![tx];
    let mut receivers: Vec<Receiver<u32>> = vec![rx];
    let mut model = Model {
        cap: cap.unwrap_or(usize::MAX),
        buffer: VecDeque::new(),
        senders: 1,
        receivers: 1,
        recv_line: VecDeque::new(),
        send_line: VecDeque::new(),
        recvs: HashMap::new(),
        sends: HashMap::new(),
    };
    let mut sends: Vec<Pending<SendTask>> = Vec::new();
    let mut recvs: Vec<Pending<RecvTask>> = Vec::new();
    let mut next_value = 0u32;
    let mut next_id = 0u64;

    for op in ops {
        match op {
            Op::TrySend(i) if !senders.is_empty() => {
                next_value += 1;
                let real = senders[i % senders.len()].try_send(next_value);
                prop_assert_eq!(real, model.try_send(next_value));
            }
            Op::TryRecv(i) if !receivers.is_empty() => {
                let real = receivers[i % receivers.len()].try_recv();
                prop_assert_eq!(real, model.try_recv());
            }
            Op::StartSend(i) if !senders.is_empty() => {
                next_value += 1;
                next_id += 1;
                let (tx, v) = (senders[i % senders.len()].clone(), next_value);
                model.senders += 1;
                let mut p = Pending {
                    id: next_id,
                    fut: Box::pin(async move { tx.send_async(v).await }) as SendTask,
                    counter: Counter::new(),
                    seen: 0,
                };
                let real = p.poll();
                prop_assert_eq!(&real, &model.start_send(next_id, v));
                if real.is_pending() {
                    sends.push(p);
                }
            }
            Op::StartRecv(i) if !receivers.is_empty() => {
                next_id += 1;
                let rx = receivers[i % receivers.len()].clone();
                model.receivers += 1;
                let mut p = Pending {
                    id: next_id,
                    fut: Box::pin(async move { rx.recv_async().await }) as RecvTask,
                    counter: Counter::new(),
                    seen: 0,
                };
                let real = p.poll();
                prop_assert_eq!(&real, &model.poll_recv(next_id));
                if real.is_pending() {
                    recvs.push(p);
                }
            }
            Op::PollSend(i) if !sends.is_empty() => {
                let i = i % sends.len();
                let real = sends[i].poll();
                prop_assert_eq!(&real, &model.poll_send(sends[i].id));
                if real.is_ready() {
                    sends.remove(i);
                }
            }
            Op::PollRecv(i) | Op::RepollRecvNewWaker(i) if !recvs.is_empty() => {
                let i = i % recvs.len();
                if matches!(op, Op::RepollRecvNewWaker(_)) {
                    // The old waker must not be woken any more.
                    recvs[i].counter = Counter::new();
                    model.recvs.get_mut(&recvs[i].id).unwrap().woken = false;
                }
                let real = recvs[i].poll();
                prop_assert_eq!(&real, &model.poll_recv(recvs[i].id));
                if real.is_ready() {
                    recvs.remove(i);
                }
            }
            Op::DropSend(i) if !sends.is_empty() => {
                let p = sends.remove(i % sends.len());
                model.drop_send(p.id);
            }
            Op::DropRecv(i) if !recvs.is_empty() => {
                let p = recvs.remove(i % recvs.len());
                model.drop_recv(p.id);
            }
            Op::CloneSender if !senders.is_empty() => {
                senders.push(senders[0].clone());
                model.senders += 1;
            }
            Op::DropSender(i) if !senders.is_empty() => {
                senders.remove(i % senders.len());
                model.sender_gone();
            }
            Op::CloneReceiver if !receivers.is_empty() => {
                receivers.push(receivers[0].clone());
                model.receivers += 1;
            }
            Op::DropReceiver(i) if !receivers.is_empty() => {
                receivers.remove(i % receivers.len());
                model.receiver_gone();
            }
            _ => continue,
        }
        // Exactly the futures the model says were woken have been woken.
        for p in &sends {
            let woken = p.counter.wakes() > p.seen;
            prop_assert_eq!(woken, model.sends[&p.id].woken, "send {} woken", p.id);
        }
        for p in &recvs {
            let woken = p.counter.wakes() > p.seen;
            prop_assert_eq!(woken, model.recvs[&p.id].woken, "recv {} woken", p.id);
        }
        // Observable state agrees.
        let end_len = senders
            .first()
            .map(Sender::len)
            .or(receivers.first().map(Receiver::len));
        if let Some(len) = end_len {
            prop_assert_eq!(len, model.buffer.len());
        }
        if let Some(rx) = receivers.first() {
            prop_assert_eq!(rx.sender_count(), model.senders);
            prop_assert_eq!(rx.receiver_count(), model.receivers);
        }
    }
    Ok(())
}

fn capacity() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), (0usize..4).prop_map(Some)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 512 }))]

    #[test]
    fn channel_matches_the_vecdeque_model(cap in capacity(), ops in prop::collection::vec(op(), 1..60)) {
        run(cap, ops)?;
    }
}

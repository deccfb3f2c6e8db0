// A started coroutine must never change threads: `Coroutine` is `!Send`.
use xasync_core::coroutine::{Coroutine, Yielder};
use xasync_core::stack::HeapStack;

fn main() {
    let mut co = Coroutine::with_stack(unsafe { HeapStack::new(16384) }, |y: &Yielder<(), ()>, ()| {
        y.suspend(());
    });
    co.resume(());
    std::thread::spawn(move || {
        co.resume(());
    });
}

// A coroutine's closure cannot borrow from its creator's stack frame.
use xasync_core::coroutine::{Coroutine, Yielder};
use xasync_core::stack::HeapStack;

fn main() {
    let local = String::from("borrowed");
    let co = Coroutine::with_stack(unsafe { HeapStack::new(16384) }, |_: &Yielder<(), ()>, ()| {
        println!("{}", local);
    });
    drop(co);
}

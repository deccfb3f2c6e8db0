// The yielder is borrowed for the coroutine's body only.
use std::cell::RefCell;
use std::rc::Rc;
use xasync_core::coroutine::{Coroutine, Yielder};
use xasync_core::stack::HeapStack;

fn main() {
    let slot: Rc<RefCell<Option<&Yielder<(), ()>>>> = Rc::new(RefCell::new(None));
    let s = slot.clone();
    let _co = Coroutine::with_stack(unsafe { HeapStack::new(16384) }, move |y: &Yielder<(), ()>, ()| {
        *s.borrow_mut() = Some(y);
    });
}

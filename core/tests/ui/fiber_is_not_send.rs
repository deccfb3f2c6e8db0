// Fibers belong to the thread of their group.
use xasync_core::fiber::Group;
use xasync_core::stack::HeapStack;

fn main() {
    let group = Group::new();
    let fiber = group.spawn(unsafe { HeapStack::new(16384) }, |_| {});
    std::thread::spawn(move || drop(fiber));
}

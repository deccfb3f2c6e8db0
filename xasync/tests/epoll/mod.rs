//! What the process's epoll instances watch, read from `/proc`: a test
//! that uses it inspects every instance of the process, so it runs alone
//! in its test binary or knows what the others register.

use std::collections::HashSet;

/// The descriptors registered in any epoll instance of this process.
pub fn registered() -> HashSet<i32> {
    let mut fds = HashSet::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        if target.to_string_lossy() != "anon_inode:[eventpoll]" {
            continue;
        }
        let info = format!("/proc/self/fdinfo/{}", entry.file_name().to_string_lossy());
        for line in std::fs::read_to_string(info).unwrap_or_default().lines() {
            if let Some(rest) = line.strip_prefix("tfd:") {
                fds.insert(rest.split_whitespace().next().unwrap().parse().unwrap());
            }
        }
    }
    fds
}

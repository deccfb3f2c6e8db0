//! Runnable examples of xasync live next to this file (`tour.rs`, ...);
//! run one with `cargo run --release --example <name>`.

//! What an image tells its QEMU runner (`qemu-run.sh`): a marker text, in
//! a section of its own, that the runner reads to pick its machine (CPUs,
//! devices).

/// Copies `text` into an array of its length, for an image's marker
/// static (a `const` array from a `const` string, which `entry!` cannot
/// write otherwise).
pub const fn marker<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

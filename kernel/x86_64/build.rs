//! Links every image of this crate with `linker.ld` (absolute path, so it
//! works whatever cargo's working directory is).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo::rustc-link-arg=-T{dir}/linker.ld");
    println!("cargo::rerun-if-changed=linker.ld");
    println!("cargo::rerun-if-changed=build.rs");
}

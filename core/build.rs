//! Tells the riscv64 context switch whether to save the floating-point
//! registers. Rust does not expose the `d` target feature to `cfg` on
//! stable, so this goes by the target name: `riscv64g*` (G includes D) or an
//! explicit `d` in the target features.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(riscv_fpu)");
    println!("cargo::rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let explicit_d = features.split(',').any(|f| f == "d");
    if target.starts_with("riscv64g") || (target.starts_with("riscv64") && explicit_d) {
        println!("cargo::rustc-cfg=riscv_fpu");
    }
}

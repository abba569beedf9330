// The shim, like `isola` (crates/isola-cli/build.rs), is linked position-dependent: a PIE
// of this size has ~70,000 relative relocations, which dirty 1.2 MiB of .data.rel.ro in every
// shim process (and in every wasm container, a clone of it); without them those pages stay
// clean, file-backed and shared by all of a node's shims.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}

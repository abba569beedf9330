//! isola on a Kubernetes node: packaging a wasm module or a static binary as an OCI image
//! (`image`), and wiring the `isola` runtime handler into containerd's config (`install`).

pub mod image;
pub mod install;

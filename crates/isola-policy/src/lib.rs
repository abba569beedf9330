//! isola's policy layer: a pure function from (OCI spec, annotations, node config, host facts)
//! to a validated [`Plan`]. It never touches the OS: every fact about the host arrives as data,
//! so every clamp and refusal is unit-testable without root.

pub mod caps;
pub mod id;
pub mod mode;
pub mod node;
pub mod plan;
pub mod seccomp;
pub mod wasm;

pub use id::validate_id;
pub use mode::{Mode, WasmSelection};
pub use node::{NodeConfig, WasmCompiler};
pub use wasm::WasmPlan;
pub use plan::{plan_container, plan_exec_process, Clamp, HostFacts, Plan, PolicyError};

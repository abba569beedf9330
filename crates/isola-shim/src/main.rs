//! `containerd-shim-isola-v1`: containerd's shim v2 for isola, one process per pod, calling
//! isola's runtime in process (no `isola` exec per verb, no Go shim). containerd selects it with
//! `runtime_type = "io.containerd.isola.v1"`; `isola install --shim` writes that handler.

mod console;
mod mount;
mod options;
mod reaper;
mod service;
mod stdio;

fn main() {
    // The background compile of a tiered wasm start re-executes this binary (`/proc/self/exe`).
    if std::env::args_os().nth(1).is_some_and(|a| a == isola_runtime::BACKGROUND_COMPILE_ARG) {
        isola_runtime::run_background_compile();
    }
    // One malloc arena: the task service's threads would each grow their own, and a shim lives
    // as long as its pod (see `service::release_free_memory`).
    // SAFETY: mallopt before any other thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    // The task service's threads allocate while a create or exec clones the container's first
    // process: that clone must leave the heap's locks usable in the child.
    isola_runtime::runtime_beside_other_threads();
    let config = containerd_shim::Config {
        // The shim reaps only the processes it started (see reaper.rs): a reaper that waits for
        // any child would steal the runtime's own children (libcontainer's intermediate
        // process, the bounded compile) from the calls that wait for them.
        no_reaper: true,
        ..Default::default()
    };
    containerd_shim::run::<service::Service>(service::RUNTIME_ID, Some(config));
}

//! A containerd shim for wasm built from runwasi's published library (`containerd-shim-wasm`, on
//! youki's libcontainer) with a minimal wasmtime engine: WASI preview 1 modules and preview 2
//! command components, the container's rootfs preopened as `/`, the spec's args and env, and
//! modules precompiled into containerd's content store, as runwasi's own wasmtime shim does.
//! It is the lab's runwasi peer (`containerd-shim-wasmtime-v1`, runtime `io.containerd.wasmtime.v1`).

use std::hash::{Hash, Hasher};

use anyhow::{anyhow, bail, Result};
use containerd_shim_wasm::sandbox::context::{RuntimeContext, WasmBinaryType, WasmLayer};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{version, Cli, Compiler, Shim, Version};
use wasmtime::component::{Component, Linker as ComponentLinker};
use wasmtime::{Config, Engine, Linker, Module, Precompiled, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

struct WasmtimeShim;

#[derive(Clone)]
struct WasmtimeSandbox {
    engine: Engine,
}

impl Default for WasmtimeSandbox {
    fn default() -> Self {
        WasmtimeSandbox { engine: engine() }
    }
}

/// wasmtime's defaults, with the component model on (as runwasi's wasmtime shim configures it).
fn engine() -> Engine {
    let mut config = Config::new();
    config.wasm_component_model(true);
    Engine::new(&config).expect("wasmtime engine")
}

impl Shim for WasmtimeShim {
    type Sandbox = WasmtimeSandbox;

    fn name() -> &'static str {
        "wasmtime"
    }

    fn version() -> Version {
        version!()
    }

    async fn compiler() -> Option<impl Compiler> {
        Some(WasmtimeSandbox::default())
    }
}

impl Compiler for WasmtimeSandbox {
    fn cache_key(&self) -> impl Hash {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        h.finish()
    }

    async fn compile(&self, layers: &[WasmLayer]) -> Result<Vec<Option<Vec<u8>>>> {
        layers
            .iter()
            .map(|l| {
                if Engine::detect_precompiled(&l.layer).is_some() {
                    return Ok(None);
                }
                match WasmBinaryType::from_bytes(&l.layer) {
                    Some(WasmBinaryType::Module) => Ok(Some(self.engine.precompile_module(&l.layer).map_err(wasm_error)?)),
                    Some(WasmBinaryType::Component) => Ok(Some(self.engine.precompile_component(&l.layer).map_err(wasm_error)?)),
                    None => Ok(None),
                }
            })
            .collect()
    }
}

struct ComponentState {
    ctx: WasiCtx,
    table: wasmtime::component::ResourceTable,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
}

impl Sandbox for WasmtimeSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        let entry = ctx.entrypoint();
        let bytes = entry.source.as_bytes()?;
        let (args, envs, func) = (ctx.args().to_vec(), ctx.envs().to_vec(), entry.func.clone());
        // wasmtime-wasi's synchronous calls start their own tokio runtime, which may not run
        // inside the shim's: the guest runs on a thread of its own.
        let sandbox = self.clone();
        std::thread::scope(|s| s.spawn(|| sandbox.run(&bytes, &args, &envs, &func)).join())
            .unwrap_or_else(|_| Err(anyhow!("the wasm thread panicked")))
    }
}

impl WasmtimeSandbox {
    fn run(&self, bytes: &[u8], args: &[String], envs: &[String], func: &str) -> Result<i32> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdio().args(args).preopened_dir("/", "/", FsPerms::ReadWrite).map_err(wasm_error)?;
        for kv in envs {
            if let Some((k, v)) = kv.split_once('=') {
                wasi.env(k, v);
            }
        }
        // SAFETY (deserialize): the precompiled bytes come from containerd's content store, where
        // this shim's own `compile` put them, as runwasi's wasmtime shim trusts them.
        let result = match Engine::detect_precompiled(bytes) {
            Some(Precompiled::Module) => self.run_module(unsafe { Module::deserialize(&self.engine, bytes) }.map_err(wasm_error)?, wasi, func),
            Some(Precompiled::Component) => self.run_component(unsafe { Component::deserialize(&self.engine, bytes) }.map_err(wasm_error)?, wasi),
            None => match WasmBinaryType::from_bytes(bytes) {
                Some(WasmBinaryType::Module) => self.run_module(Module::new(&self.engine, bytes).map_err(wasm_error)?, wasi, func),
                Some(WasmBinaryType::Component) => self.run_component(Component::new(&self.engine, bytes).map_err(wasm_error)?, wasi),
                None => bail!("the entrypoint is neither a wasm module nor a component"),
            },
        };
        match result {
            Ok(()) => Ok(0),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => {
                    eprintln!("wasm error: {e:?}");
                    Ok(137)
                }
            },
        }
    }

    fn run_module(&self, module: Module, mut wasi: WasiCtxBuilder, func: &str) -> wasmtime::Result<()> {
        let mut linker: Linker<WasiP1Ctx> = Linker::new(&self.engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| s)?;
        let mut store = Store::new(&self.engine, wasi.build_p1());
        let instance = linker.instantiate(&mut store, &module)?;
        let f = instance.get_typed_func::<(), ()>(&mut store, func)?;
        f.call(&mut store, ())
    }

    fn run_component(&self, component: Component, mut wasi: WasiCtxBuilder) -> wasmtime::Result<()> {
        let mut linker: ComponentLinker<ComponentState> = ComponentLinker::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        let state = ComponentState { ctx: wasi.build(), table: wasmtime::component::ResourceTable::new() };
        let mut store = Store::new(&self.engine, state);
        let command = wasmtime_wasi::p2::bindings::sync::Command::instantiate(&mut store, &component, &linker)?;
        match command.wasi_cli_run().call_run(&mut store)? {
            Ok(()) => Ok(()),
            Err(()) => Err(I32Exit(1).into()),
        }
    }
}

/// wasmtime 48's error type is its own, not anyhow's.
fn wasm_error(e: wasmtime::Error) -> anyhow::Error {
    anyhow!("{e:?}")
}

fn main() {
    WasmtimeShim::run(None);
}

//! isola's wasm engine for the fuzz targets: the very engine a `Sandbox` builds for a config
//! (`Sandbox::engine`), so validation here is validation under isola's configuration.

use isola_wasm::{ModuleCache, Sandbox, SandboxConfig};
use wasmtime::Engine;

/// The engine isola's sandbox configures for `cfg`.
pub fn engine(cfg: &SandboxConfig) -> Engine {
    Sandbox::new(cfg, ModuleCache::disabled()).expect("sandbox").engine().clone()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `(module (func (export "_start")))`: the smallest WASI command.
pub const TINY_COMMAND: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
    0x03, 0x02, 0x01, 0x00, // func 0: type 0
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, // export "_start"
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: empty body
];

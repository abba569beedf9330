//! Modules that must be refused by `prepare` with one clear line naming the module and the
//! cause, before any guest code runs: not wasm, truncated, unknown imports, not a command,
//! missing preopen directory.

mod common;

use std::path::PathBuf;

use common::{fixture, guest, sandbox};
use isola_wasm::{Preopen, SandboxConfig, WasmError};

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn prepare_err(module: &std::path::Path) -> WasmError {
    let (sb, _tmp) = sandbox(&SandboxConfig::default());
    match sb.prepare(&guest(module, &[])) {
        Ok(_) => panic!("prepare of {} succeeded", module.display()),
        Err(e) => e,
    }
}

fn assert_one_line(e: &WasmError) {
    let s = e.to_string();
    assert!(!s.contains('\n'), "multi-line error: {s:?}");
}

#[test]
fn shell_script_is_not_a_wasm_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "script.wasm", b"#!/bin/sh\necho hi\n");
    let e = prepare_err(&p);
    assert!(matches!(e, WasmError::NotWasm { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!("{}: not a wasm binary (missing \\0asm magic)", p.display())
    );
}

#[test]
fn truncated_module_is_reported_as_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("hello")).unwrap();
    let p = write(tmp.path(), "half.wasm", &bytes[..bytes.len() / 2]);
    let e = prepare_err(&p);
    assert!(matches!(e, WasmError::Truncated { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}: truncated wasm binary", p.display())),
        "{e}"
    );
    assert_one_line(&e);

    let p = write(tmp.path(), "magic-only.wasm", b"\0asm");
    let e = prepare_err(&p);
    assert!(matches!(e, WasmError::Truncated { .. }), "{e}");
}

#[test]
fn unknown_import_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
             (import "env" "foo" (func))
             (memory (export "memory") 1)
             (func (export "_start")))"#,
    )
    .unwrap();
    let p = write(tmp.path(), "imports.wasm", &wasm);
    let e = prepare_err(&p);
    assert!(matches!(e, WasmError::UnknownImport { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!("{}: module imports unknown function env::foo", p.display())
    );
}

#[test]
fn unknown_wasi_function_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(
        r#"(module
             (import "wasi_snapshot_preview1" "sock_open" (func (param i32 i32 i32) (result i32)))
             (func (export "_start")))"#,
    )
    .unwrap();
    let p = write(tmp.path(), "sock.wasm", &wasm);
    let e = prepare_err(&p);
    assert!(
        e.to_string()
            .ends_with("module imports unknown function wasi_snapshot_preview1::sock_open"),
        "{e}"
    );
}

#[test]
fn invalid_module_is_reported_as_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    // Type error: i32.add on an empty stack.
    let wasm = wat::parse_str(r#"(module (func (export "_start") i32.add drop))"#);
    // `wat` itself does not type-check, so this parses; wasmtime must reject it.
    let p = write(tmp.path(), "bad.wasm", &wasm.unwrap());
    let e = prepare_err(&p);
    assert!(matches!(e, WasmError::Invalid { .. }), "{e}");
    assert_one_line(&e);
}

#[test]
fn threads_proposal_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(r#"(module (memory 1 1 shared) (func (export "_start")))"#).unwrap();
    let p = write(tmp.path(), "shared.wasm", &wasm);
    let e = prepare_err(&p);
    assert!(matches!(e, WasmError::Invalid { .. }), "{e}");
}

#[test]
fn module_without_start_is_not_a_command() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(r#"(module (func (export "main")))"#).unwrap();
    let p = write(tmp.path(), "lib.wasm", &wasm);
    let e = prepare_err(&p);
    assert!(matches!(e, WasmError::NotCommand { .. }), "{e}");
}

#[test]
fn missing_module_file_is_a_read_error() {
    let e = prepare_err(std::path::Path::new("/nonexistent/isola/hello.wasm"));
    assert!(matches!(e, WasmError::Read { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/isola/hello.wasm: cannot read module"),
        "{e}"
    );
}

#[test]
fn missing_preopen_directory_is_an_error() {
    let (sb, _tmp) = sandbox(&SandboxConfig::default());
    let mut g = guest(&fixture("hello"), &[]);
    g.preopens = vec![Preopen {
        host: "/nonexistent/isola-dir".into(),
        guest: "/data".into(),
        read_only: true,
    }];
    let e = match sb.prepare(&g) {
        Ok(_) => panic!("prepare succeeded"),
        Err(e) => e,
    };
    assert!(matches!(e, WasmError::Preopen { .. }), "{e}");
    assert_one_line(&e);
}

//! Generated wasm modules of a chosen code size for the start-up curve: a valid WASI command
//! (no imports, `_start` calls one function) of many small functions, each a counted loop of
//! integer arithmetic on two locals, so that compile time grows with code size as it does for
//! real modules of many functions (interpreters, frameworks), without a toolchain.

/// Bytes of one function body with `ops` multiply-add steps in its loop.
fn body(ops: u8, k: u8) -> Vec<u8> {
    let mut b = vec![0x01, 0x02, 0x7f]; // locals: 2 x i32
    b.extend_from_slice(&[0x41, k & 0x3f, 0x21, 0x00]); // local0 = k
    b.extend_from_slice(&[0x03, 0x40]); // loop
    for i in 0..ops {
        // local0 = local0 * (k + i) + i
        b.extend_from_slice(&[0x20, 0x00, 0x41, (k.wrapping_add(i)) & 0x3f, 0x6c, 0x41, i & 0x3f, 0x6a, 0x21, 0x00]);
    }
    // local1 += 1; br_if 0 (local1 < 10)
    b.extend_from_slice(&[0x20, 0x01, 0x41, 0x01, 0x6a, 0x22, 0x01, 0x41, 0x0a, 0x49, 0x0d, 0x00]);
    b.push(0x0b); // end loop
    b.extend_from_slice(&[0x20, 0x00, 0x0b]); // local0; end
    b
}

fn leb128(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb128(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// A module whose code section holds about `code_bytes` bytes.
pub fn module_of_code_size(code_bytes: usize) -> Vec<u8> {
    let per_function = body(8, 0).len() + 1;
    let functions = (code_bytes / per_function).max(1) as u64;
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    // Types: 0 = [] -> [i32], 1 = [] -> [].
    section(1, &[2, 0x60, 0, 1, 0x7f, 0x60, 0, 0], &mut m);
    let mut funcs = Vec::new();
    leb128(&mut funcs, functions + 1);
    funcs.extend(std::iter::repeat_n(0u8, functions as usize));
    funcs.push(1);
    section(3, &funcs, &mut m);
    let mut exports = vec![1, 6];
    exports.extend_from_slice(b"_start");
    exports.push(0);
    leb128(&mut exports, functions);
    section(7, &exports, &mut m);
    let mut code = Vec::new();
    leb128(&mut code, functions + 1);
    for f in 0..functions {
        let b = body(8, (f % 61) as u8);
        leb128(&mut code, b.len() as u64);
        code.extend_from_slice(&b);
    }
    // _start: call 0; drop; end
    code.extend_from_slice(&[5, 0, 0x10, 0, 0x1a, 0x0b]);
    section(10, &code, &mut m);
    m
}

/// Bytes of a module's code section (id 10), or None if `wasm` is not a module whose section
/// headers can be walked.
pub fn code_section_bytes(wasm: &[u8]) -> Option<usize> {
    fn uleb(b: &[u8], i: &mut usize) -> Option<usize> {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let byte = *b.get(*i)?;
            *i += 1;
            v |= ((byte & 0x7f) as usize).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
            if shift > 35 {
                return None;
            }
        }
    }
    if wasm.get(..8)? != b"\0asm\x01\0\0\0" {
        return None;
    }
    let mut i = 8;
    while i < wasm.len() {
        let id = wasm[i];
        i += 1;
        let len = uleb(wasm, &mut i)?;
        if id == 10 {
            return Some(len);
        }
        i = i.checked_add(len)?;
    }
    None
}

/// `100KB`, `1MB`, `20MB`.
pub fn size_label(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{}MB", bytes >> 20)
    } else {
        format!("{}KB", bytes >> 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_module_has_no_code_size() {
        assert_eq!(code_section_bytes(b"hello"), None);
        assert_eq!(code_section_bytes(b"\0asm\x01\0\0\0"), None);
        // A section that claims more bytes than the file holds ends the walk.
        assert_eq!(code_section_bytes(b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f"), None);
    }

    #[test]
    fn modules_are_valid_commands_of_the_size_asked() {
        let cfg = isola_wasm::SandboxConfig { compiler: isola_wasm::Compiler::Winch, ..Default::default() };
        let sandbox = isola_wasm::Sandbox::new(&cfg, isola_wasm::ModuleCache::disabled()).unwrap();
        for size in [10 << 10, 100 << 10, 1 << 20] {
            let m = module_of_code_size(size);
            assert!(m.len() >= size * 9 / 10 && m.len() <= size * 11 / 10, "{size}: {}", m.len());
            let code = code_section_bytes(&m).expect("a code section");
            assert!(code >= size * 9 / 10 && code < m.len(), "{size}: code {code} of {}", m.len());
            if size <= 100 << 10 {
                sandbox.load_bytes(std::path::Path::new("generated.wasm"), m).expect("a valid, linkable command");
            }
        }
    }
}

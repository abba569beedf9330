//! Fuzzes what `isola image` parses: the payload's magic and ELF header (`image::detect`), the
//! image reference (`image::tag_of`), and, for accepted inputs, the whole build (`build_image`).
//! Asserts that detect accepts exactly wasm and static 64-bit LE amd64/arm64 executables, that a
//! tag is the reference's own, and that the same input always gives the same image digest.
//!
//! Input: first byte 0 = payload bytes, 1 = reference text, 2 = `reference \n args... \0 payload`.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use isola_node::image::{build_image, detect, tag_of, ElfArch, ImageRequest, Payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            check_detect(rest);
        }
        1 => {
            if let Ok(name) = std::str::from_utf8(rest) {
                check_tag(name);
            }
        }
        _ => {
            let Some(split) = rest.iter().position(|b| *b == 0) else { return };
            let Ok(head) = std::str::from_utf8(&rest[..split]) else { return };
            let mut lines = head.split('\n');
            let name = lines.next().unwrap_or_default();
            let args: Vec<String> = lines.map(str::to_owned).collect();
            check_build(name, &args, &rest[split + 1..]);
        }
    }
});

fn check_detect(bytes: &[u8]) -> Option<Payload> {
    let u16_at = |o: usize| bytes.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    match detect(Path::new("payload"), bytes) {
        Ok(Payload::Wasm) => assert!(bytes.starts_with(b"\0asm")),
        Ok(Payload::Elf(arch)) => {
            assert!(bytes.starts_with(b"\x7fELF") && bytes[4] == 2 && bytes[5] == 1, "not a 64-bit LE ELF");
            let machine = match arch {
                ElfArch::Amd64 => 0x3e,
                ElfArch::Arm64 => 0xb7,
            };
            assert_eq!(u16_at(18), Some(machine));
            assert!(matches!(u16_at(16), Some(2 | 3)), "not an executable");
            // No program header is PT_INTERP (a dynamic loader the one-file image lacks).
            let phoff = bytes.get(32..40).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())).expect("phoff");
            let (phentsize, phnum) = (u64::from(u16_at(54).expect("phentsize")), u64::from(u16_at(56).expect("phnum")));
            for i in 0..phnum {
                let off = usize::try_from(phoff + i * phentsize).expect("in bounds");
                assert_ne!(bytes.get(off..off + 4), Some(&3u32.to_le_bytes()[..]), "PT_INTERP accepted");
            }
        }
        Err(e) => {
            assert!(!bytes.starts_with(b"\0asm"));
            assert!(!e.to_string().contains('\n'), "a refusal is one line: {e}");
            return None;
        }
    }
    detect(Path::new("payload"), bytes).ok()
}

fn check_tag(name: &str) -> Option<String> {
    match tag_of(name) {
        Ok(tag) => {
            assert!(!name.is_empty() && name.len() <= 255 && !name.contains('@'));
            assert!(!tag.is_empty() && tag.len() <= 128);
            assert!(tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')), "bad tag {tag:?}");
            let last = &name[name.rfind('/').map_or(0, |i| i + 1)..];
            if last.contains(':') {
                assert!(name.ends_with(&format!(":{tag}")), "tag {tag:?} is not {name:?}'s own");
            } else {
                assert_eq!(tag, "latest");
            }
            // The path part is lowercase: containerd and podman refuse anything else.
            let repo = &name[..name.len() - if last.contains(':') { tag.len() + 1 } else { 0 }];
            let path = match repo.split_once('/') {
                Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
                _ => repo,
            };
            assert!(!path.chars().any(|c| c.is_ascii_uppercase()), "uppercase path accepted: {name:?}");
            Some(tag)
        }
        Err(e) => {
            assert!(!e.to_string().contains('\n'), "a refusal is one line: {e}");
            None
        }
    }
}

fn check_build(name: &str, args: &[String], payload: &[u8]) {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("tempdir")).path();
    if check_tag(name).is_none() || check_detect(payload).is_none() {
        return;
    }
    let file = dir.join("app.wasm");
    std::fs::write(&file, payload).expect("write payload");
    let build = |out: &str| {
        let mut req = ImageRequest::new(&file, name, dir.join(out));
        req.args = args.to_vec();
        build_image(&req)
    };
    match (build("a.tar"), build("b.tar")) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.manifest_digest, b.manifest_digest, "same input, different image");
            assert_eq!(std::fs::read(dir.join("a.tar")).ok(), std::fs::read(dir.join("b.tar")).ok());
            let mut want = vec!["/app.wasm".to_owned()];
            want.extend(args.iter().cloned());
            assert_eq!(a.entrypoint, want);
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            assert!(!a.to_string().contains('\n'), "a refusal is one line: {a}");
        }
        (a, b) => panic!("same input, different outcome: {a:?} / {b:?}"),
    }
}

//! Builds the payload corpus twice from the same source (static native, wasm32-wasi) with clang,
//! into a work dir keyed by the sources' hash so unchanged payloads are not rebuilt. It must never
//! write outside its build dir, and a failed wasm build is a result (not-expressible), not a crash.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::manifest::Scenario;

pub const INSTALL_HINT: &str =
    "install the C toolchain: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32";

const NATIVE_FLAGS: &[&str] = &["-O2", "-static"];
/// `-msimd128`: x86-64 `-O2` always vectorises for SSE2 (the x86-64 baseline), so the same
/// optimisation for wasm means letting LLVM use wasm's 128-bit SIMD (payloads/bench/README.md).
const WASM_FLAGS: &[&str] = &["--target=wasm32-wasi", "-O2", "-msimd128"];

/// Which build of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Native,
    Wasm,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::Native => "native",
            Flavor::Wasm => "wasm",
        }
    }
}

/// One program built both ways; a failed build keeps clang's first error line.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub native: Result<PathBuf, String>,
    pub wasm: Result<PathBuf, String>,
}

/// The C toolchain and the build directory.
pub struct Builder {
    pub dir: PathBuf,
    clang: PathBuf,
    ar: PathBuf,
}

impl Builder {
    /// Checks that clang builds both flavours (probe compile); the error says what to install.
    pub fn new(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("create build dir {}", dir.display()))?;
        let clang = which("clang").with_context(|| format!("clang not found: {INSTALL_HINT}"))?;
        let ar = which("llvm-ar").or_else(|| which("ar")).with_context(|| format!("no ar: {INSTALL_HINT}"))?;
        let b = Builder { dir: dir.to_path_buf(), clang, ar };
        let probe_dir = dir.join("probe");
        std::fs::create_dir_all(&probe_dir)?;
        let src = probe_dir.join("probe.c");
        std::fs::write(&src, "#include <stdio.h>\n#include <math.h>\nint main(void){printf(\"%f\\n\", sqrt(2.0));return 0;}\n")?;
        for flavor in [Flavor::Native, Flavor::Wasm] {
            let out = probe_dir.join(format!("probe.{}", flavor.name()));
            if let Err(e) = b.link(flavor, &[src.clone()], &[], &[], &[], &out) {
                bail!("clang cannot build {} programs ({e}); {INSTALL_HINT}", flavor.name());
            }
        }
        Ok(b)
    }

    fn flags(flavor: Flavor) -> &'static [&'static str] {
        match flavor {
            Flavor::Native => NATIVE_FLAGS,
            Flavor::Wasm => WASM_FLAGS,
        }
    }

    /// Compiles and links `sources` (+ static archives) into `out`; Err holds the first error line.
    fn link(&self, flavor: Flavor, sources: &[PathBuf], includes: &[PathBuf], archives: &[PathBuf], extra: &[String], out: &Path) -> Result<(), String> {
        let mut cmd = Command::new(&self.clang);
        cmd.args(Self::flags(flavor)).args(extra);
        for i in includes {
            cmd.arg("-I").arg(i);
        }
        cmd.args(sources).args(archives).arg("-lm").arg("-o").arg(out);
        run_clang(cmd)
    }

    /// Builds `lib<name>.a` from `lib_dir/<name>.c` for one flavour.
    fn archive(&self, flavor: Flavor, lib_src: &Path, includes: &[PathBuf], out_dir: &Path) -> Result<PathBuf, String> {
        let stem = lib_src.file_stem().and_then(|s| s.to_str()).unwrap_or("lib");
        let obj = out_dir.join(format!("{stem}.{}.o", flavor.name()));
        let mut cc = Command::new(&self.clang);
        cc.args(Self::flags(flavor)).arg("-c");
        for i in includes {
            cc.arg("-I").arg(i);
        }
        cc.arg(lib_src).arg("-o").arg(&obj);
        run_clang(cc)?;
        let lib = out_dir.join(format!("lib{stem}.{}.a", flavor.name()));
        let _ = std::fs::remove_file(&lib);
        let out = Command::new(&self.ar).arg("rcs").arg(&lib).arg(&obj).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(first_line(&out.stderr));
        }
        Ok(lib)
    }

    /// Builds one program (sources + libs) both ways, skipping work whose inputs are unchanged.
    pub fn build(&self, name: &str, sources: &[PathBuf], libs: &[PathBuf], includes: &[PathBuf], wasm_ldflags: &[String]) -> Result<Artifact> {
        let mut h = Sha256::new();
        h.update(b"isola-lab-build-v1");
        h.update(wasm_ldflags.join(" ").as_bytes());
        h.update(NATIVE_FLAGS.join(" ").as_bytes());
        h.update(WASM_FLAGS.join(" ").as_bytes());
        for f in sources.iter().chain(libs) {
            h.update(f.to_string_lossy().as_bytes());
            h.update(std::fs::read(f).with_context(|| format!("read {}", f.display()))?);
        }
        for inc in includes {
            if let Ok(entries) = std::fs::read_dir(inc) {
                let mut headers: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "h")).collect();
                headers.sort();
                for hdr in headers {
                    h.update(std::fs::read(&hdr)?);
                }
            }
        }
        let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
        let out_dir = self.dir.join(format!("{name}-{key}"));
        std::fs::create_dir_all(&out_dir)?;
        let mut results = Vec::new();
        for flavor in [Flavor::Native, Flavor::Wasm] {
            let ext = if flavor == Flavor::Wasm { ".wasm" } else { "" };
            let out = out_dir.join(format!("{name}{ext}"));
            let err_file = out_dir.join(format!("{name}.{}.err", flavor.name()));
            let result = if out.exists() {
                Ok(out)
            } else if let Ok(e) = std::fs::read_to_string(&err_file) {
                Err(e)
            } else {
                let archives: Result<Vec<PathBuf>, String> = libs.iter().map(|l| self.archive(flavor, l, includes, &out_dir)).collect();
                let extra: &[String] = if flavor == Flavor::Wasm { wasm_ldflags } else { &[] };
                let r = archives.and_then(|a| self.link(flavor, sources, includes, &a, extra, &out)).map(|_| out);
                if let Err(e) = &r {
                    let _ = std::fs::write(&err_file, e);
                }
                r
            };
            results.push(result);
        }
        let wasm = results.pop().unwrap_or_else(|| Err("not built".into()));
        let native = results.pop().unwrap_or_else(|| Err("not built".into()));
        Ok(Artifact { name: name.to_string(), native, wasm })
    }

    /// Builds one attack scenario (its sources, `attacks/lib/<lib>.c` archives, `attacks/` headers).
    pub fn build_scenario(&self, s: &Scenario) -> Result<Artifact> {
        let sources: Vec<PathBuf> = s.sources.iter().map(|f| s.dir.join(f)).collect();
        let libs: Vec<PathBuf> = s.libs.iter().map(|l| s.dir.join("lib").join(format!("{l}.c"))).collect();
        self.build(&s.id.to_lowercase(), &sources, &libs, &[s.dir.clone()], &s.wasm_ldflags)
    }

    /// Builds one self-contained C file (bench kernels, fixtures).
    pub fn build_single(&self, src: &Path) -> Result<Artifact> {
        let name = src.file_stem().and_then(|s| s.to_str()).context("source name")?;
        self.build(name, &[src.to_path_buf()], &[], &[], &[])
    }
}

fn run_clang(mut cmd: Command) -> Result<(), String> {
    match cmd.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(first_line(&out.stderr)),
        Err(e) => Err(format!("cannot run clang: {e}")),
    }
}

/// The first line of compiler output that reads like an error (else the first line).
fn first_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find(|l| l.contains("error")).or_else(|| text.lines().next()).unwrap_or("failed");
    line.trim().chars().take(240).collect()
}

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Every `*.c` of a directory, sorted.
pub fn c_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "c")).collect())
        .unwrap_or_default();
    v.sort();
    v
}

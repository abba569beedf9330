//! Records the machine a benchmark ran on: CPU, cores, kernel, memory, OS and the version of every
//! runtime and tool involved. Read-only: it must never change the host.

use std::collections::BTreeMap;
use std::process::Command;

use crate::schema::Machine;
use crate::target::Target;

fn meminfo_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// `MemAvailable` in KiB (density's host memory figure).
pub fn mem_available_kib() -> u64 {
    meminfo_kib("MemAvailable")
}

pub fn describe(targets: &[Target]) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
        .unwrap_or_default();
    let mut versions = BTreeMap::new();
    for t in targets {
        if t.missing.is_none() && t.kind != crate::target::Kind::Native {
            versions.insert(t.name().to_string(), t.version.clone());
        }
    }
    if let Ok(out) = Command::new("clang").arg("--version").output() {
        versions.insert("clang".into(), String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").to_string());
    }
    versions.insert("isola-lab".into(), env!("CARGO_PKG_VERSION").into());
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
        memory_kib: meminfo_kib("MemTotal"),
        os,
        versions,
        date: crate::lab::chrono_like_now(),
    }
}

/// Rss, Pss and USS (Private_Clean + Private_Dirty) of one process, in KiB, from smaps_rollup.
pub fn smaps_rollup(pid: u32) -> Option<(u64, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |k: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(k) && l[k.len()..].starts_with(':'))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    Some((field("Rss"), field("Pss"), field("Private_Clean") + field("Private_Dirty")))
}

/// Peak RSS (VmHWM) of one process in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_process_has_memory_figures() {
        let (rss, pss, uss) = super::smaps_rollup(std::process::id()).unwrap();
        assert!(rss > 0 && pss > 0 && uss > 0 && uss <= rss);
        assert!(super::mem_available_kib() > 0);
    }
}

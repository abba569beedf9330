//! Capability names and the default ceiling for untrusted code.
//! The ceiling is Docker's default set minus `CAP_NET_RAW` (raw sockets let a tenant spoof
//! traffic and widen the kernel surface; ping sockets cover the honest use).

use std::str::FromStr;

use oci_spec::runtime::Capability;

/// Docker's default capability set without `CAP_NET_RAW`.
pub const DEFAULT_CEILING: &[&str] = &[
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Parses `CAP_SYS_ADMIN` or `SYS_ADMIN` (any case).
pub fn parse(name: &str) -> Result<Capability, String> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    Capability::from_str(bare).map_err(|_| format!("unknown capability {name:?}"))
}

/// The canonical `CAP_*` name of a capability.
pub fn name(cap: Capability) -> String {
    format!("CAP_{cap}")
}

/// The kernel's number for a capability, as used in `/proc/<pid>/status` bitmasks.
pub fn number(cap: Capability) -> u32 {
    use Capability::*;
    match cap {
        Chown => 0,
        DacOverride => 1,
        DacReadSearch => 2,
        Fowner => 3,
        Fsetid => 4,
        Kill => 5,
        Setgid => 6,
        Setuid => 7,
        Setpcap => 8,
        LinuxImmutable => 9,
        NetBindService => 10,
        NetBroadcast => 11,
        NetAdmin => 12,
        NetRaw => 13,
        IpcLock => 14,
        IpcOwner => 15,
        SysModule => 16,
        SysRawio => 17,
        SysChroot => 18,
        SysPtrace => 19,
        SysPacct => 20,
        SysAdmin => 21,
        SysBoot => 22,
        SysNice => 23,
        SysResource => 24,
        SysTime => 25,
        SysTtyConfig => 26,
        Mknod => 27,
        Lease => 28,
        AuditWrite => 29,
        AuditControl => 30,
        Setfcap => 31,
        MacOverride => 32,
        MacAdmin => 33,
        Syslog => 34,
        WakeAlarm => 35,
        BlockSuspend => 36,
        AuditRead => 37,
        Perfmon => 38,
        Bpf => 39,
        CheckpointRestore => 40,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_with_or_without_prefix() {
        assert_eq!(parse("CAP_SYS_ADMIN").unwrap(), Capability::SysAdmin);
        assert_eq!(parse("sys_admin").unwrap(), Capability::SysAdmin);
        assert_eq!(name(Capability::NetRaw), "CAP_NET_RAW");
        assert!(parse("CAP_MAKE_COFFEE").is_err());
    }

    #[test]
    fn default_ceiling_is_docker_minus_net_raw() {
        let ceiling: Vec<_> = DEFAULT_CEILING.iter().map(|c| parse(c).unwrap()).collect();
        assert!(!ceiling.contains(&Capability::NetRaw));
        assert!(!ceiling.contains(&Capability::SysAdmin));
        assert_eq!(ceiling.len(), 13);
    }

    #[test]
    fn numbers_match_the_kernel() {
        assert_eq!(number(Capability::SysAdmin), 21);
        assert_eq!(number(Capability::SysResource), 24);
        assert_eq!(number(Capability::CheckpointRestore), 40);
    }
}

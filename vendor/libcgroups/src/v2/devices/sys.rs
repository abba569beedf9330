//! The five bpf(2) commands the v2 devices controller needs, as raw syscalls (isola's patch:
//! upstream calls them through libbpf-sys, which builds libbpf and libelf from C for five
//! wrappers). Names and signatures follow libbpf's, so the controller reads as upstream.
#![allow(non_camel_case_types, non_upper_case_globals)]

use std::os::raw::c_int;

pub type __u32 = u32;
pub type size_t = u64;
pub type bpf_prog_type = u32;
pub type bpf_attach_type = u32;

pub const BPF_PROG_TYPE_CGROUP_DEVICE: bpf_prog_type = 15;
pub const BPF_CGROUP_DEVICE: bpf_attach_type = 6;
pub const BPF_F_ALLOW_MULTI: u32 = 2;
pub const BPF_DEVCG_ACC_MKNOD: u32 = 1;
pub const BPF_DEVCG_ACC_READ: u32 = 2;
pub const BPF_DEVCG_ACC_WRITE: u32 = 4;
pub const BPF_DEVCG_DEV_BLOCK: u32 = 1;
pub const BPF_DEVCG_DEV_CHAR: u32 = 2;

const BPF_PROG_LOAD: c_int = 5;
const BPF_PROG_ATTACH: c_int = 8;
const BPF_PROG_DETACH: c_int = 9;
const BPF_PROG_GET_FD_BY_ID: c_int = 13;
const BPF_PROG_QUERY: c_int = 16;

/// One eBPF instruction (`struct bpf_insn`: code, dst_reg:4 + src_reg:4, off, imm).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct bpf_insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// `union bpf_attr`, as the prefix each command reads; the kernel zero-fills the rest.
#[repr(C, align(8))]
struct Attr([u8; 72]);

impl Attr {
    fn new() -> Self {
        Attr([0; 72])
    }
    fn u32_at(mut self, offset: usize, v: u32) -> Self {
        self.0[offset..offset + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64_at(mut self, offset: usize, v: u64) -> Self {
        self.0[offset..offset + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn read_u32(&self, offset: usize) -> u32 {
        u32::from_ne_bytes(self.0[offset..offset + 4].try_into().expect("4 bytes"))
    }
}

fn bpf(cmd: c_int, attr: &mut Attr) -> c_int {
    // SAFETY: attr is a valid, writable buffer of the size passed; every pointer in it points to
    // memory the caller keeps alive for the call.
    unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.0.as_mut_ptr(), attr.0.len()) as c_int }
}

/// BPF_PROG_LOAD of a `prog_type` program (no name, no log): the program's fd, or -1 and errno.
/// `license` must be NUL-terminated.
///
/// # Safety
/// `license` points to a NUL-terminated string and `insns` to `insn_cnt` instructions.
pub unsafe fn bpf_prog_load(
    prog_type: bpf_prog_type,
    license: *const std::os::raw::c_char,
    insns: *const bpf_insn,
    insn_cnt: size_t,
) -> c_int {
    let mut attr = Attr::new()
        .u32_at(0, prog_type)
        .u32_at(4, insn_cnt as u32)
        .u64_at(8, insns as u64)
        .u64_at(16, license as u64);
    bpf(BPF_PROG_LOAD, &mut attr)
}

/// BPF_PROG_QUERY: the ids of the programs attached to `target_fd` for `type_`.
///
/// # Safety
/// `prog_ids` points to `*prog_cnt` writable u32s.
pub unsafe fn bpf_prog_query(
    target_fd: c_int,
    type_: bpf_attach_type,
    query_flags: __u32,
    attach_flags: *mut __u32,
    prog_ids: *mut __u32,
    prog_cnt: *mut __u32,
) -> c_int {
    let mut attr = Attr::new()
        .u32_at(0, target_fd as u32)
        .u32_at(4, type_)
        .u32_at(8, query_flags)
        .u64_at(16, prog_ids as u64)
        .u32_at(24, unsafe { *prog_cnt });
    let ret = bpf(BPF_PROG_QUERY, &mut attr);
    // The kernel writes the count back on success and on ENOSPC.
    unsafe {
        *attach_flags = attr.read_u32(12);
        *prog_cnt = attr.read_u32(24);
    }
    ret
}

/// BPF_PROG_GET_FD_BY_ID.
pub fn bpf_prog_get_fd_by_id(id: __u32) -> c_int {
    let mut attr = Attr::new().u32_at(0, id);
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)
}

/// BPF_PROG_ATTACH of `prog_fd` to the cgroup `attachable_fd`.
pub fn bpf_prog_attach(prog_fd: c_int, attachable_fd: c_int, type_: bpf_attach_type, flags: u32) -> c_int {
    let mut attr = Attr::new()
        .u32_at(0, attachable_fd as u32)
        .u32_at(4, prog_fd as u32)
        .u32_at(8, type_)
        .u32_at(12, flags);
    bpf(BPF_PROG_ATTACH, &mut attr)
}

/// BPF_PROG_DETACH of `prog_fd` from the cgroup `attachable_fd`.
pub fn bpf_prog_detach2(prog_fd: c_int, attachable_fd: c_int, type_: bpf_attach_type) -> c_int {
    let mut attr = Attr::new()
        .u32_at(0, attachable_fd as u32)
        .u32_at(4, prog_fd as u32)
        .u32_at(8, type_);
    bpf(BPF_PROG_DETACH, &mut attr)
}

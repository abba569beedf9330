//! A task's terminal (`terminal: true`): the shim listens on a console socket of its own, the
//! container's init (or exec) sends its pty master there, and two small threads copy between
//! the master and containerd's fifos (stdin to the terminal, the terminal to stdout), as the
//! runc shim's console copy does. Tasks without a terminal have none of this.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a create or exec waits for the pty master after the runtime returned (it was sent
/// before the process was reported ready, so it is normally there already).
const RECEIVE_WAIT: Duration = Duration::from_secs(10);

/// A copy thread moves little data; it needs little stack.
const COPY_STACK: usize = 64 << 10;

/// A listening console socket in a private directory of its own (a bundle path is too long for
/// a socket address), removed when dropped.
pub struct ConsoleSocket {
    dir: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn new() -> Result<Self, String> {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!("isola-shim-pty-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("console socket directory {}: {e}", dir.display()))?;
        let path = dir.join("pty.sock");
        let listener = UnixListener::bind(&path).map_err(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            format!("console socket {}: {e}", path.display())
        })?;
        Ok(ConsoleSocket { dir, listener })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("pty.sock")
    }

    /// The pty master the process sent (runc's protocol: one message, the descriptor as
    /// SCM_RIGHTS).
    pub fn receive(&self) -> Result<OwnedFd, String> {
        self.listener.set_nonblocking(true).map_err(|e| format!("console socket: {e}"))?;
        let deadline = Instant::now() + RECEIVE_WAIT;
        let conn = loop {
            match self.listener.accept() {
                Ok((c, _)) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Err(e) => return Err(format!("no terminal arrived on the console socket: {e}")),
            }
        };
        conn.set_nonblocking(false).and_then(|()| conn.set_read_timeout(Some(RECEIVE_WAIT))).map_err(|e| format!("console socket: {e}"))?;
        receive_fd(conn.as_raw_fd()).map_err(|e| format!("receiving the terminal on the console socket: {e}"))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}


fn receive_fd(sock: i32) -> std::io::Result<OwnedFd> {
    let mut name = [0u8; 64];
    let mut iov = libc::iovec { iov_base: name.as_mut_ptr().cast(), iov_len: name.len() };
    // Room for one descriptor's control message, aligned as cmsghdr needs.
    let mut control = [0u64; 8];
    // SAFETY: a zeroed msghdr is a valid empty one; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: recvmsg into buffers we own; MSG_CMSG_CLOEXEC so the descriptor leaks into no exec.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: walking the control buffer recvmsg filled, with the kernel's own macros.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_level != libc::SOL_SOCKET || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "the message carries no descriptor"));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const i32);
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// A process's terminal, attached to its streams.
pub struct Terminal {
    master: Arc<File>,
    /// Dropped to stop the stdin copy (CloseIO): its read end wakes the copy thread.
    stdin_stop: Mutex<Option<OwnedFd>>,
    /// Set when the terminal's output has all been copied (the process and every holder of
    /// its side of the pty are gone).
    output_done: Arc<(Mutex<bool>, Condvar)>,
}

impl Terminal {
    /// Copies the terminal's output to `stdout` and, when given, `stdin` to the terminal.
    pub fn attach(master: OwnedFd, stdin: &str, stdout: &str) -> Result<Terminal, String> {
        let master = Arc::new(File::from(master));
        let output_done = Arc::new((Mutex::new(false), Condvar::new()));
        let mut out = File::from(crate::stdio::open_output(stdout, "stdout")?);
        let (m, done) = (master.clone(), output_done.clone());
        spawn_copy("pty-out", move || {
            let mut buf = [0u8; 8192];
            // EIO once the last holder of the pty's other side closed it.
            while let Ok(n @ 1..) = (&*m).read(&mut buf) {
                if out.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            drop(out);
            *done.0.lock().unwrap() = true;
            done.1.notify_all();
        })?;
        let stdin_stop = if stdin.is_empty() {
            None
        } else {
            let input = File::from(crate::stdio::open_stdin(stdin)?);
            let (stop_read, stop_write) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
            let m = master.clone();
            spawn_copy("pty-in", move || copy_input(input, stop_read, &m))?;
            Some(stop_write)
        };
        Ok(Terminal { master, stdin_stop: Mutex::new(stdin_stop), output_done })
    }

    pub fn resize(&self, width: u32, height: u32) -> Result<(), String> {
        let size = libc::winsize { ws_row: height as u16, ws_col: width as u16, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ on a pty master we own, with a winsize we own.
        if unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) } < 0 {
            return Err(format!("resizing the terminal: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Stops copying stdin to the terminal (CloseIO).
    pub fn close_stdin(&self) {
        self.stdin_stop.lock().unwrap().take();
    }

    /// Waits at most `timeout` for the output to be copied to the end, so that an exit is
    /// reported after the last thing the process wrote.
    pub fn wait_output(&self, timeout: Duration) -> bool {
        let (lock, cond) = &*self.output_done;
        let done = lock.lock().unwrap();
        *cond.wait_timeout_while(done, timeout, |d| !*d).unwrap().0
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.close_stdin();
    }
}

fn spawn_copy(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), String> {
    std::thread::Builder::new().name(name.into()).stack_size(COPY_STACK).spawn(f).map(drop).map_err(|e| format!("{name} thread: {e}"))
}

/// stdin (containerd's fifo) to the terminal until the fifo's writer closes it or `stop`'s
/// other end is dropped. The fifo is polled first: a fifo whose writer has not come yet reads
/// as EOF, but does not poll readable.
fn copy_input(mut input: File, stop: OwnedFd, master: &File) {
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = [
            libc::pollfd { fd: input.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: stop.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: poll on two descriptors we own.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if rc < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[1].revents != 0 {
            return;
        }
        if fds[0].revents == 0 {
            continue;
        }
        match input.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if (&*master).write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pty pair stands in for a container's: what the "process" writes reaches the stdout
    /// file, what containerd writes to the stdin fifo reaches the process, and the output is
    /// done once the process's side is closed.
    #[test]
    fn a_terminal_copies_both_ways_and_ends_with_its_process() {
        let dir = tempfile::tempdir().unwrap();
        let (stdin, stdout) = (dir.path().join("stdin"), dir.path().join("stdout"));
        nix::unistd::mkfifo(&stdin, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let pty = nix::pty::openpty(None, None).unwrap();
        // Raw mode on the process's side: bytes pass as they are, no echo.
        let mut t = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
        nix::sys::termios::cfmakeraw(&mut t);
        nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &t).unwrap();
        let term = Terminal::attach(pty.master, stdin.to_str().unwrap(), stdout.to_str().unwrap()).unwrap();
        term.resize(120, 40).unwrap();
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCGWINSZ, &mut size) }, 0);
        assert_eq!((size.ws_col, size.ws_row), (120, 40));

        let mut writer = std::fs::OpenOptions::new().write(true).open(&stdin).unwrap();
        writer.write_all(b"typed").unwrap();
        let mut slave = File::from(pty.slave);
        let mut got = [0u8; 5];
        slave.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"typed");

        slave.write_all(b"printed").unwrap();
        assert!(!term.wait_output(Duration::from_millis(50)), "the output is not done while the process's side is open");
        drop(slave);
        assert!(term.wait_output(Duration::from_secs(5)), "the output ends when the process's side closes");
        assert_eq!(std::fs::read(&stdout).unwrap(), b"printed");
        term.close_stdin();
    }

    #[test]
    fn the_console_socket_hands_over_a_descriptor_and_goes_away() {
        let socket = ConsoleSocket::new().unwrap();
        let path = socket.path();
        let sender = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let pty = nix::pty::openpty(None, None).unwrap();
        let fds = [pty.master.as_raw_fd()];
        nix::sys::socket::sendmsg::<()>(
            sender.as_raw_fd(),
            &[std::io::IoSlice::new(b"/dev/ptmx")],
            &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
            nix::sys::socket::MsgFlags::empty(),
            None,
        )
        .unwrap();
        let got = socket.receive().unwrap();
        let st = nix::sys::stat::fstat(got.as_raw_fd()).unwrap();
        assert_eq!(st.st_rdev, nix::sys::stat::fstat(pty.master.as_raw_fd()).unwrap().st_rdev, "the same pty master arrived");
        drop(socket);
        assert!(!path.exists() && !path.parent().unwrap().exists(), "the socket's directory is removed");
    }
}

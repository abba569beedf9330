//! Harness-side oracles: fresh 128-bit canary tokens planted outside the sandbox (a host file, the
//! runtime's environment, a victim process), a loopback listener that counts connections and bytes,
//! and the sha256 of a file that must not change. It must never trust the payload's own word, and
//! never listen on anything but 127.0.0.1.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Name of the environment variable that carries the env canary in the runtime's environment.
pub const ENV_CANARY: &str = "CANARY_ENV";

/// A fresh random 128-bit token, as 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn fresh() -> Self {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Token(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// True when the token (either case) occurs in `haystack`.
    pub fn seen_in(&self, haystack: &[u8]) -> bool {
        let lower = haystack.to_ascii_lowercase();
        lower.windows(self.0.len()).any(|w| w == self.0.as_bytes())
    }
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Files planted on the host for one run: `<dir>/canary` (the token) and `<dir>/checksummed`
/// (content whose sha256 is recorded before the run).
pub struct Plant {
    pub dir: PathBuf,
    pub canary: PathBuf,
    pub target_file: PathBuf,
    pub checksum_before: String,
}

impl Plant {
    pub fn new(dir: &Path, token: &Token) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("create canary dir {}", dir.display()))?;
        let canary = dir.join("canary");
        std::fs::write(&canary, format!("{}\n", token.as_str()))?;
        let target_file = dir.join("checksummed");
        std::fs::write(&target_file, format!("isola-lab: this file must not change ({})\n", token.as_str()))?;
        let checksum_before = sha256_file(&target_file)?;
        Ok(Plant { dir: dir.to_path_buf(), canary, target_file, checksum_before })
    }

    /// Whether the checksummed file changed (or vanished) since planting.
    pub fn checksum_changed(&self) -> bool {
        sha256_file(&self.target_file).map(|s| s != self.checksum_before).unwrap_or(true)
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the loopback listener saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerCount {
    pub connections: u64,
    pub bytes: u64,
    pub token_seen: bool,
}

/// A TCP listener on host 127.0.0.1 counting every accepted connection and the bytes received.
pub struct Listener {
    pub port: u16,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    received: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    pub fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, c, b, r) = (stop.clone(), connections.clone(), bytes.clone(), received.clone());
        let thread = std::thread::spawn(move || accept_loop(listener, s, c, b, r));
        Ok(Listener { port, stop, connections, bytes, received, thread: Some(thread) })
    }

    /// Stops accepting and returns the counts; `token` is looked for in the received bytes.
    pub fn finish(mut self, token: &Token) -> ListenerCount {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let received = self.received.lock().map(|r| r.clone()).unwrap_or_default();
        ListenerCount {
            connections: self.connections.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
            token_seen: token.seen_in(&received),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

const MAX_KEPT: usize = 64 << 10;

fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    received: Arc<Mutex<Vec<u8>>>,
) {
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                connections.fetch_add(1, Ordering::SeqCst);
                let (b, r, s) = (bytes.clone(), received.clone(), stop.clone());
                if readers.len() < 64 {
                    readers.push(std::thread::spawn(move || read_conn(stream, b, r, s)));
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    for r in readers {
        let _ = r.join();
    }
}

fn read_conn(mut stream: TcpStream, bytes: Arc<AtomicU64>, received: Arc<Mutex<Vec<u8>>>, stop: Arc<AtomicBool>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                bytes.fetch_add(n as u64, Ordering::SeqCst);
                if let Ok(mut r) = received.lock() {
                    if r.len() < MAX_KEPT {
                        r.extend_from_slice(&buf[..n]);
                    }
                }
            }
            Err(_) if !stop.load(Ordering::SeqCst) => continue,
            Err(_) => return,
        }
    }
}

/// A harness-owned host process holding the token in its environment and heap
/// (`isola-lab victim TOKEN`), for `{victim_pid}` scenarios. Killed on drop.
pub struct Victim {
    child: Child,
}

impl Victim {
    pub fn start(token: &Token) -> Result<Self> {
        let exe = std::env::current_exe().context("locate isola-lab for the victim")?;
        let child = Command::new(exe)
            .arg("victim")
            .arg(token.as_str())
            .env("ISOLA_VICTIM_CANARY", token.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start victim process")?;
        Ok(Victim { child })
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Body of `isola-lab victim TOKEN`: keep the token in memory, sleep until killed (bounded to 10 min).
pub fn victim_main(token: &str) -> ! {
    let held: Vec<u8> = format!("ISOLA_VICTIM_SECRET={token}").into_bytes();
    for _ in 0..600 {
        std::thread::sleep(Duration::from_secs(1));
        std::hint::black_box(&held);
    }
    std::process::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn tokens_are_fresh_128_bit_hex() {
        let a = Token::fresh();
        let b = Token::fresh();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn token_is_detected_in_output_in_either_case() {
        let t = Token::fresh();
        assert!(t.seen_in(format!("TOKEN:{}\n", t.as_str()).as_bytes()));
        assert!(t.seen_in(format!("x{}y", t.as_str().to_uppercase()).as_bytes()));
        assert!(!t.seen_in(&t.as_str().as_bytes()[..31]));
        assert!(!t.seen_in(b"TOKEN:\n"));
    }

    #[test]
    fn plant_detects_a_changed_checksum_file() {
        let dir = tempfile::tempdir().unwrap();
        let t = Token::fresh();
        let p = Plant::new(&dir.path().join("run"), &t).unwrap();
        assert_eq!(std::fs::read_to_string(&p.canary).unwrap().trim(), t.as_str());
        assert!(!p.checksum_changed());
        std::fs::OpenOptions::new().append(true).open(&p.target_file).unwrap().write_all(b"x").unwrap();
        assert!(p.checksum_changed());
    }

    #[test]
    fn listener_counts_connections_bytes_and_token() {
        let t = Token::fresh();
        let l = Listener::start().unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", l.port)).unwrap();
        s.write_all(t.as_str().as_bytes()).unwrap();
        drop(s);
        std::thread::sleep(Duration::from_millis(100));
        let c = l.finish(&t);
        assert_eq!(c.connections, 1);
        assert_eq!(c.bytes, 32);
        assert!(c.token_seen);
    }
}

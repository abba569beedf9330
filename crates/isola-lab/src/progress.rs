//! Progress of the lab's long phases (payload builds, each attack matrix, each bench suite, stress):
//! a bar on a terminal (indicatif), and where stderr is not a terminal (CI logs) plain lines
//! instead: one when a phase starts, one at most every 30 s while it runs, one when it ends.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a phase prints a plain line while it runs.
const PLAIN_EVERY: Duration = Duration::from_secs(30);

pub struct Phase {
    bar: ProgressBar,
    what: String,
    started: Instant,
    /// `Some` when stderr is not a terminal: when the last plain line was printed.
    plain: Option<Mutex<Instant>>,
}

impl Phase {
    /// A phase of `len` steps named `what` (e.g. "attack/hardened", "startup").
    pub fn new(len: u64, what: &str) -> Phase {
        Phase::with_output(len, what, std::io::stderr().is_terminal())
    }

    fn with_output(len: u64, what: &str, terminal: bool) -> Phase {
        let bar = if terminal { ProgressBar::new(len) } else { ProgressBar::hidden() };
        bar.set_length(len);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        let now = Instant::now();
        let plain = (!terminal).then(|| Mutex::new(now));
        if plain.is_some() {
            eprintln!("{what}: started, {len} steps");
        }
        Phase { bar, what: what.to_string(), started: now, plain }
    }

    /// What the phase is doing now (the target, scenario or size).
    pub fn set_message(&self, msg: impl Into<std::borrow::Cow<'static, str>>) {
        self.bar.set_message(msg);
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if let Some(line) = self.due_line() {
            eprintln!("{line}");
        }
    }

    /// The plain line to print now, if one is due (not a terminal, 30 s since the last).
    fn due_line(&self) -> Option<String> {
        let mut last = self.plain.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() < PLAIN_EVERY {
            return None;
        }
        *last = Instant::now();
        Some(format!("{}: {}/{} after {:.0} s ({})", self.what, self.bar.position(), self.bar.length().unwrap_or(0), self.started.elapsed().as_secs_f64(), self.bar.message()))
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        if self.plain.is_some() {
            eprintln!("{}: done, {}/{} in {:.1} s", self.what, self.bar.position(), self.bar.length().unwrap_or(0), self.started.elapsed().as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_output_prints_a_line_only_when_one_is_due() {
        let p = Phase::with_output(10, "startup", false);
        p.set_message("crun");
        p.inc(1);
        assert_eq!(p.due_line(), None, "no line within 30 s of the start line");
        *p.plain.as_ref().unwrap().lock().unwrap() -= PLAIN_EVERY;
        let line = p.due_line().expect("a line is due after 30 s");
        assert!(line.starts_with("startup: 1/10 after "), "{line}");
        assert!(line.ends_with("(crun)"), "{line}");
        assert_eq!(p.due_line(), None, "the next one is 30 s later");
    }

    #[test]
    fn a_terminal_gets_a_bar_and_no_plain_lines() {
        let p = Phase::with_output(3, "memory", true);
        p.inc(3);
        assert!(p.plain.is_none());
        assert_eq!(p.due_line(), None);
    }
}

//! Turns what the harness observed in one run into a verdict and one line of evidence. Pure and
//! table-tested; it must never let the payload's exit code override a harness oracle that fired.

use serde::{Deserialize, Serialize};

use crate::manifest::Oracle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Escaped,
    Leaked,
    Contained,
    Blocked,
    NotExpressible,
    Error,
    Skipped,
}

impl Verdict {
    #[allow(dead_code)]
    pub const ALL: [Verdict; 7] = [
        Verdict::Escaped,
        Verdict::Leaked,
        Verdict::Contained,
        Verdict::Blocked,
        Verdict::NotExpressible,
        Verdict::Error,
        Verdict::Skipped,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Escaped => "escaped",
            Verdict::Leaked => "leaked",
            Verdict::Contained => "contained",
            Verdict::Blocked => "blocked",
            Verdict::NotExpressible => "not-expressible",
            Verdict::Error => "error",
            Verdict::Skipped => "skipped",
        }
    }
    /// True when the attack worked.
    pub fn is_breach(self) -> bool {
        matches!(self, Verdict::Escaped | Verdict::Leaked)
    }
}

/// How the sandboxed run ended, as the harness saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signaled(i32),
    /// The harness killed it at the wall-clock deadline.
    TimedOut,
}

/// Everything one run produced that the classifier may look at.
#[derive(Debug, Clone)]
pub struct Observation {
    pub oracle: Oracle,
    pub group: String,
    pub ending: Ending,
    /// The target is a wasm target and the manifest says the wasm build is only the N/E stub.
    pub wasm_stub: bool,
    /// The wasm build failed (link error, missing import): the attack cannot be expressed.
    pub wasm_build_failed: Option<String>,
    /// A one-line runtime failure (the sandbox never ran the payload properly).
    pub runtime_error: Option<String>,
    /// Where the canary token was seen in the payload's output ("stdout"/"stderr").
    pub token_in_output: Option<&'static str>,
    pub listener_connections: u64,
    pub listener_bytes: u64,
    pub checksum_changed: bool,
    /// Last `RESULT:` line printed by a probe.
    pub result_line: Option<String>,
    /// Last non-empty output line (for evidence).
    pub last_line: String,
    pub timeout_ms: u64,
}

/// Exit codes of the payload contract.
const ACHIEVED: i32 = 0;
const BLOCKED: i32 = 1;
const NOT_EXPRESSIBLE: i32 = 2;
const REACHABLE: i32 = 3;
const INCONCLUSIVE: i32 = 4;

fn breach_kind(o: &Observation) -> Verdict {
    let leaky_group = matches!(o.group.as_str(), "secrets" | "kernel-info" | "supply-chain");
    if o.oracle == Oracle::CanaryEnv || leaky_group {
        Verdict::Leaked
    } else {
        Verdict::Escaped
    }
}

fn ending_text(e: &Ending) -> String {
    match e {
        Ending::Exited(c) if *c > 128 && *c < 160 => format!("exit {c} (signal {})", c - 128),
        Ending::Exited(c) => format!("exit {c}"),
        Ending::Signaled(s) => format!("killed by signal {s}"),
        Ending::TimedOut => "killed at the harness deadline".into(),
    }
}

fn tail(o: &Observation) -> String {
    if o.last_line.is_empty() {
        String::new()
    } else {
        format!(": {}", o.last_line)
    }
}

/// The verdict for one run, with one line of evidence.
pub fn classify(o: &Observation) -> (Verdict, String) {
    // 1. Harness oracles first: what got out, got out, whatever the payload or runtime says.
    if let Some(stream) = o.token_in_output {
        return (breach_kind(o), format!("canary token printed on {stream} ({})", ending_text(&o.ending)));
    }
    if o.listener_connections > 0 {
        return (
            breach_kind(o),
            format!("host loopback listener accepted {} connection(s), {} bytes", o.listener_connections, o.listener_bytes),
        );
    }
    if o.checksum_changed {
        return (Verdict::Escaped, "checksummed host file changed".into());
    }
    // 2. Attacks WASI cannot express.
    if let Some(why) = &o.wasm_build_failed {
        return (Verdict::NotExpressible, format!("wasm build failed: {why}"));
    }
    if o.wasm_stub {
        return (Verdict::NotExpressible, "wasm build is the N/E stub (manifest wasm = false)".into());
    }
    // 3. The sandbox itself failed.
    if let Some(err) = &o.runtime_error {
        return (Verdict::Error, format!("runtime failed: {err}"));
    }
    if o.ending == Ending::Exited(NOT_EXPRESSIBLE) {
        return (Verdict::NotExpressible, format!("payload exit 2 (not expressible){}", tail(o)));
    }
    // A probe's RESULT: line is the errno fingerprint the harness decides on (exit code secondary).
    if o.oracle == Oracle::Errno {
        let code = match o.ending {
            Ending::Exited(c) if c != ACHIEVED => format!(" (payload exit {c})"),
            _ => String::new(),
        };
        match o.result_line.as_deref() {
            Some(l) if l.contains("reachable") => return (breach_kind(o), format!("probe reached the kernel surface: {l}{code}")),
            Some(l) if l.contains("blocked") => return (Verdict::Blocked, format!("probe denied: {l}{code}")),
            _ => {}
        }
    }
    if o.ending == Ending::Exited(INCONCLUSIVE) {
        return (Verdict::Error, format!("payload inconclusive (exit 4){}", tail(o)));
    }
    // 4. The scenario's own oracle.
    match o.oracle {
        Oracle::Errno => by_exit(o),
        Oracle::Resource => match &o.ending {
            Ending::TimedOut => (
                Verdict::Escaped,
                format!("not bounded by the target: ran until the harness killed it (scenario bound {} ms){}", o.timeout_ms, tail(o)),
            ),
            Ending::Exited(ACHIEVED) => (Verdict::Escaped, format!("bomb ran to completion unbounded (exit 0){}", tail(o))),
            Ending::Exited(REACHABLE) => (Verdict::Escaped, format!("precondition reachable (exit 3){}", tail(o))),
            e => (Verdict::Contained, format!("bounded: {}{}", ending_text(e), tail(o))),
        },
        Oracle::Exit => match &o.ending {
            Ending::Exited(ACHIEVED) => (breach_kind(o), format!("attack completed (exit 0){}", tail(o))),
            Ending::TimedOut => (Verdict::Contained, format!("killed at the harness deadline ({} ms)", o.timeout_ms)),
            e => (Verdict::Blocked, format!("stopped: {}{}", ending_text(e), tail(o))),
        },
        // The harness's own child is the process hosting the untrusted code: the payload itself
        // natively, the runtime for every sandbox. Killed by a signal = the attack took its host
        // down. Any status the host reports itself (a trap, 128+N for a contained process, the
        // guest's own exit code) means the host survived; the host oracles above did not fire,
        // so whatever the guest did stayed inside it.
        Oracle::Crash => match &o.ending {
            Ending::Signaled(s) => (
                breach_kind(o),
                format!("the process hosting the code was killed by signal {s}: no sandbox absorbed it{}", tail(o)),
            ),
            Ending::TimedOut => (Verdict::Error, format!("hung until the harness deadline ({} ms){}", o.timeout_ms, tail(o))),
            e => (
                Verdict::Contained,
                format!("host process survived and reported {}; canary, listener and checksummed host file untouched, so the effect stayed inside the sandbox{}", ending_text(e), tail(o)),
            ),
        },
        Oracle::Canary | Oracle::CanaryEnv | Oracle::Listener | Oracle::Checksum => {
            let claim = match o.ending {
                Ending::Exited(ACHIEVED) => " (payload claimed success, but no harness oracle fired)",
                Ending::Exited(REACHABLE) => " (payload reports the precondition reachable)",
                _ => "",
            };
            (Verdict::Blocked, format!("no oracle fired; {}{claim}{}", ending_text(&o.ending), tail(o)))
        }
    }
}

fn by_exit(o: &Observation) -> (Verdict, String) {
    match &o.ending {
        Ending::Exited(ACHIEVED) => (breach_kind(o), format!("probe achieved (exit 0){}", tail(o))),
        Ending::Exited(REACHABLE) => (breach_kind(o), format!("precondition reachable (exit 3){}", tail(o))),
        Ending::Exited(BLOCKED) => (Verdict::Blocked, format!("probe denied (exit 1){}", tail(o))),
        Ending::TimedOut => (Verdict::Error, format!("probe hung until the deadline ({} ms)", o.timeout_ms)),
        e => (Verdict::Blocked, format!("stopped: {}{}", ending_text(e), tail(o))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(oracle: Oracle, ending: Ending) -> Observation {
        Observation {
            oracle,
            group: "filesystem".into(),
            ending,
            wasm_stub: false,
            wasm_build_failed: None,
            runtime_error: None,
            token_in_output: None,
            listener_connections: 0,
            listener_bytes: 0,
            checksum_changed: false,
            result_line: None,
            last_line: String::new(),
            timeout_ms: 5000,
        }
    }

    #[test]
    fn classification_table() {
        use Ending::*;
        use Oracle::*;
        use Verdict::*;
        type Tweak = fn(&mut Observation);
        let cases: Vec<(&str, Oracle, Ending, Tweak, Verdict)> = vec![
            ("token printed escapes", Canary, Exited(0), |o| o.token_in_output = Some("stdout"), Escaped),
            ("token beats a blocked exit code", Canary, Exited(1), |o| o.token_in_output = Some("stderr"), Escaped),
            ("env token is a leak", CanaryEnv, Exited(0), |o| o.token_in_output = Some("stdout"), Leaked),
            ("secrets group leaks", Canary, Exited(0), |o| { o.group = "secrets".into(); o.token_in_output = Some("stdout") }, Leaked),
            ("no token, claimed success, is blocked", Canary, Exited(0), |_| {}, Blocked),
            ("no token, exit 1, is blocked", Canary, Exited(1), |_| {}, Blocked),
            ("listener hit escapes", Listener, Exited(1), |o| o.listener_connections = 1, Escaped),
            ("listener silent is blocked", Listener, Exited(1), |_| {}, Blocked),
            ("checksum changed escapes", Checksum, Exited(1), |o| o.checksum_changed = true, Escaped),
            ("wasm stub is N/E", Canary, Exited(2), |o| o.wasm_stub = true, NotExpressible),
            ("exit 2 is N/E", Exit, Exited(2), |_| {}, NotExpressible),
            ("wasm build failure is N/E", Canary, Exited(0), |o| o.wasm_build_failed = Some("undefined symbol: fork".into()), NotExpressible),
            ("runtime failure is error", Canary, Exited(1), |o| o.runtime_error = Some("wasm workloads are not supported".into()), Error),
            ("runtime failure still loses to a fired oracle", Canary, Exited(1), |o| { o.runtime_error = Some("x".into()); o.token_in_output = Some("stdout") }, Escaped),
            ("inconclusive is error", Errno, Exited(4), |_| {}, Error),
            ("RESULT line beats an inconclusive exit", Errno, Exited(4), |o| o.result_line = Some("RESULT:reachable".into()), Escaped),
            ("probe reachable escapes", Errno, Exited(3), |o| o.result_line = Some("RESULT:reachable".into()), Escaped),
            ("probe blocked", Errno, Exited(1), |o| o.result_line = Some("RESULT:blocked".into()), Blocked),
            ("probe without RESULT falls back to exit 3", Errno, Exited(3), |_| {}, Escaped),
            ("probe without RESULT, SIGSYS", Errno, Signaled(31), |_| {}, Blocked),
            ("bomb to deadline escapes", Resource, TimedOut, |_| {}, Escaped),
            ("bomb completing escapes", Resource, Exited(0), |_| {}, Escaped),
            ("OOM kill is contained", Resource, Exited(137), |_| {}, Contained),
            ("wasm trap on a bomb is contained", Resource, Exited(134), |_| {}, Contained),
            ("bomb denied is contained", Resource, Exited(1), |_| {}, Contained),
            ("exit oracle success escapes", Exit, Exited(0), |_| {}, Escaped),
            ("exit oracle trap is blocked", Exit, Exited(134), |_| {}, Blocked),
            ("exit oracle segfault is blocked", Exit, Signaled(11), |_| {}, Blocked),
            ("crash oracle: host killed by a signal escapes", Crash, Signaled(11), |_| {}, Escaped),
            ("crash oracle: runtime reporting 139 is contained", Crash, Exited(139), |_| {}, Contained),
            ("crash oracle: trap is contained", Crash, Exited(134), |_| {}, Contained),
            ("crash oracle: guest-only corruption (exit 0) is contained", Crash, Exited(0), |o| o.group = "resources".into(), Contained),
            ("crash oracle: a fired canary still wins", Crash, Exited(0), |o| o.token_in_output = Some("stdout"), Escaped),
            ("crash oracle: a hang is an error", Crash, TimedOut, |_| {}, Error),
            ("exit oracle: env canary in an over-read escapes", Exit, Signaled(11), |o| o.token_in_output = Some("stdout"), Escaped),
        ];
        for (name, oracle, ending, tweak, want) in cases {
            let mut o = obs(oracle, ending);
            tweak(&mut o);
            let (got, evidence) = classify(&o);
            assert_eq!(got, want, "{name}: evidence {evidence}");
            assert!(!evidence.is_empty() && !evidence.contains('\n'), "{name}: one line of evidence");
        }
    }

    #[test]
    fn verdict_names_match_the_schema() {
        assert_eq!(serde_json::to_string(&Verdict::NotExpressible).unwrap(), "\"not-expressible\"");
        for v in Verdict::ALL {
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{}\"", v.as_str()));
        }
    }
}

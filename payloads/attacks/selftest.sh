#!/usr/bin/env bash
# selftest.sh -- native positive control for the attack corpus (NOT the lab).
#
# Builds every scenario for both targets (static native + wasm32-wasi) into a
# temp dir, plants a canary with a random token, a checksummed target file, a
# "victim" process holding the token in its env, and a loopback TCP listener;
# then runs each NATIVE binary unconfined with the placeholders filled and
# prints: id, oracle, exit, evidence, and whether the attack succeeded
# natively (the positive control). With WASM=1 (default when a wasmtime CLI is
# found) it also runs the wasm builds under `wasmtime run --dir <work>::.`.
#
# Usage: bash selftest.sh [ID-substring ...]     (run as root, like the lab's native target)
# Env:   KEEP=1 keeps the temp dir; WASMTIME=/path/to/wasmtime; WASM=0 skips wasm.
# SAFETY: every payload is bounded (see its header); this only runs them natively
# the way the lab's "native" (no isolation) target does.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
T="$(mktemp -d /tmp/isola-selftest.XXXXXX)"
mkdir -p "$T/n" "$T/w" "$T/work" "$T/canary" "$T/logs"
TOKEN="ISOLA$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$TOKEN" > "$T/canary/canary"; chmod 600 "$T/canary/canary"
printf 'listen=127.0.0.1\nworkers=2\n' > "$T/target_file"

echo "== build (clang 14) into $T"
FAIL=0
clang -O2 -Wall -c "$HERE/lib/evil.c" -o "$T/n/evil.o" 2>"$T/logs/evil-n.err" && llvm-ar rcs "$T/n/libevil.a" "$T/n/evil.o" || { echo "BUILD FAIL native lib/evil.c"; FAIL=1; }
clang --target=wasm32-wasi -O2 -Wall -c "$HERE/lib/evil.c" -o "$T/w/evil.o" 2>"$T/logs/evil-w.err" && llvm-ar rcs "$T/w/libevil.a" "$T/w/evil.o" || { echo "BUILD FAIL wasm lib/evil.c"; FAIL=1; }
python3 - "$HERE" "$T" > "$T/build.sh" <<'PY'
import sys, tomllib, glob, os, shlex
here, t = sys.argv[1], sys.argv[2]
for m in sorted(glob.glob(os.path.join(here, "*.toml"))):
    d = tomllib.load(open(m, "rb")); i = os.path.basename(m)[:-5]
    srcs = " ".join(shlex.quote(os.path.join(here, s)) for s in d["sources"])
    ln = " ".join(f"{t}/n/lib{l}.a" for l in d.get("libs", []))
    lw = " ".join(f"{t}/w/lib{l}.a" for l in d.get("libs", []))
    xf = " ".join(shlex.quote(f) for f in d.get("wasm_ldflags", []))
    print(f"clang -O2 -static -Wall {srcs} {ln} -o {t}/n/{i} 2>{t}/logs/{i}-n.err || echo 'BUILD FAIL native {i}'")
    print(f"clang --target=wasm32-wasi -O2 {xf} {srcs} {lw} -o {t}/w/{i}.wasm 2>{t}/logs/{i}-w.err || echo 'BUILD FAIL wasm {i}'")
PY
bash "$T/build.sh" | tee "$T/logs/build.out"
NB=$(ls "$T/n" | grep -vc '\.[ao]$'); NW=$(ls "$T/w" | grep -c '\.wasm$')
echo "built: native=$NB wasm=$NW; failures: $(grep -c 'BUILD FAIL' "$T/logs/build.out")"
grep -h -E 'warning:' "$T"/logs/*.err | grep -v getaddrinfo | sort -u | head -20

# listener: counts connections and bytes, one line per connection
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
python3 - "$PORT" "$T/logs/listener.log" <<'PY' &
import socket, sys, threading
port, log = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(64); s.settimeout(900)
def h(c):
    c.settimeout(2); data = b""
    try:
        while len(data) < 1 << 20:
            b = c.recv(65536)
            if not b: break
            data += b
    except Exception: pass
    with open(log, "a") as f: f.write(f"CONN bytes={len(data)} {data[:200]!r}\n")
    c.close()
while True:
    try: c, _ = s.accept()
    except Exception: break
    threading.Thread(target=h, args=(c,), daemon=True).start()
PY
LPID=$!
env ISOLA_VICTIM_TOKEN="$TOKEN" sleep 900 &
VPID=$!
sleep 0.5
cleanup() { kill "$LPID" "$VPID" 2>/dev/null; wait "$LPID" "$VPID" 2>/dev/null; rm -f /tmp/.isola-sc02 /tmp/isola-fs03-h; [ "${KEEP:-0}" = 1 ] || rm -rf "$T"; }
trap cleanup EXIT

WT="${WASMTIME:-}"
if [ -z "$WT" ]; then
  P=$(python3 -c 'import wasmtime_cli,os;print(os.path.join(os.path.dirname(wasmtime_cli.__file__),"wasmtime"))' 2>/dev/null)
  if [ -n "$P" ] && [ -f "$P" ]; then cp "$P" "$T/wasmtime" && chmod +x "$T/wasmtime" && WT="$T/wasmtime"; fi
fi
[ "${WASM:-1}" = 0 ] && WT=""

echo "== native positive control (token=$TOKEN port=$PORT victim=$VPID)"
python3 - "$HERE" "$T" "$TOKEN" "$PORT" "$VPID" "$WT" "$@" <<'PY'
import sys, tomllib, glob, os, subprocess, hashlib, signal, shutil
here, t, token, port, vpid, wt = sys.argv[1:7]; only = sys.argv[7:]
ph = {"{canary}": f"{t}/canary/canary", "{canary_dir}": f"{t}/canary", "{port}": port,
      "{target_file}": f"{t}/target_file", "{victim_pid}": vpid}
# reference behaviour of the exit-oracle scenarios natively (not an escape)
exit_ref = {"DOS-06": [-11, 139], "W-01": [-11, 139], "W-02": [0], "W-03": [2], "W-04": [2],
            "W-05": [1], "W-07": [0], "W-08": [1], "W-09": [2]}
def conns():
    try: return open(f"{t}/logs/listener.log").read().count("CONN")
    except FileNotFoundError: return 0
def sha(): return hashlib.sha256(open(f"{t}/target_file", "rb").read()).hexdigest()
def fill(a):
    for k, v in ph.items(): a = a.replace(k, v)
    return a
rows, ok, tot = [], 0, 0
for m in sorted(glob.glob(os.path.join(here, "*.toml")), key=lambda p: (p.split("/")[-1].split("-")[0], p)):
    d = tomllib.load(open(m, "rb")); i = d["id"]
    if only and not any(o.lower() in i.lower() for o in only): continue
    exe = f"{t}/n/{os.path.basename(m)[:-5]}"
    if not os.path.exists(exe): rows.append((i, d["oracle"], "-", "BUILD FAILED", "FAIL")); continue
    args = [fill(a) for a in d["args"]]
    c0, s0 = conns(), sha()
    env = dict(os.environ, ISOLA_CANARY_ENV=token)
    if i == "SC-02" or i == "SC-03": open(f"{t}/target_file", "w").write("listen=127.0.0.1\nworkers=2\n"); s0 = sha()
    to = d.get("timeout_ms", 5000) / 1000
    try:
        p = subprocess.run([exe] + args, cwd=f"{t}/work", env=env, capture_output=True, timeout=to)
        rc, out = p.returncode, p.stdout.decode("utf8", "replace") + p.stderr.decode("utf8", "replace")
    except subprocess.TimeoutExpired as e:
        rc, out = "TIMEOUT", ((e.stdout or b"") + (e.stderr or b"")).decode("utf8", "replace")
    import time; time.sleep(0.3)
    open(f"{t}/logs/{i}.out", "w").write(out)
    o = d["oracle"]; c1 = conns()
    if o in ("canary", "canary-env"): good, ev = token in out, f"token={'yes' if token in out else 'no'}"
    elif o == "listener": good, ev = c1 > c0, f"conns+={c1-c0} token={'yes' if token in out else 'no'}"
    elif o == "checksum": good, ev = sha() != s0, f"sha256 {'changed' if sha()!=s0 else 'same'}"
    elif o == "errno":
        r = [l for l in out.splitlines() if l.startswith("RESULT:")]
        good, ev = bool(r) and r[-1] == "RESULT:reachable", (r[-1] if r else "no RESULT")
    elif o == "resource": good, ev = rc in (0, "TIMEOUT"), ("ran past deadline" if rc == "TIMEOUT" else "bound reached" if rc == 0 else "stopped early")
    else:
        good = rc in exit_ref.get(i, [0]); ev = f"reference exit {exit_ref.get(i)}"
    tot += 1; ok += good
    last = [l for l in out.splitlines() if l.strip()][-1:] or [""]
    rows.append((i, o, str(rc), ev + " | " + last[0][:60], "OK" if good else "NOT"))
w = max(len(r[3]) for r in rows) if rows else 10
print(f"{'id':8} {'oracle':10} {'exit':8} {'native control':5} evidence")
for r in rows: print(f"{r[0]:8} {r[1]:10} {r[2]:8} {r[4]:14} {r[3]}")
print(f"native positive control: {ok}/{tot} succeeded")
if not wt: sys.exit(0)
print(f"== wasm under {subprocess.run([wt,'--version'],capture_output=True,text=True).stdout.strip()} (--dir work::. , no env, no net)")
for m in sorted(glob.glob(os.path.join(here, "*.toml"))):
    d = tomllib.load(open(m, "rb")); i = d["id"]
    if only and not any(o.lower() in i.lower() for o in only): continue
    wasm = f"{t}/w/{os.path.basename(m)[:-5]}.wasm"
    if not os.path.exists(wasm): print(f"{i:8} BUILD FAILED"); continue
    args = [fill(a) for a in d["args"]]
    c0 = conns()
    try:
        p = subprocess.run([wt, "run", "--dir", f"{t}/work::.", wasm] + args, cwd=f"{t}/work", capture_output=True, timeout=min(d.get("timeout_ms", 5000) / 1000, 10))
        rc, out = p.returncode, p.stdout.decode("utf8", "replace") + p.stderr.decode("utf8", "replace")
    except subprocess.TimeoutExpired as e:
        rc, out = "TIMEOUT", ((e.stdout or b"") + (e.stderr or b"")).decode("utf8", "replace")
    open(f"{t}/logs/{i}.wasm.out", "w").write(out)
    ev = [l for l in out.splitlines() if l.startswith(("RESULT:", "N/E", "Error", "TOKEN:", "CODEGEN", "TABLE:", "MEM:", "TIMER:", "RESIDUE:", "STACK:data", "CALLED", "OOB-READ", "GUEST", "FD:opened", "DISK:"))]
    trap = [l.strip() for l in out.splitlines() if "wasm trap" in l or "unknown import" in l]
    leak = "LEAK(token)" if token in out else ""
    print(f"{i:8} wasm={str(d['wasm']).lower():5} exit={str(rc):8} conns+={conns()-c0} {leak} {(trap or ev or [''])[-1][:90]}")
PY

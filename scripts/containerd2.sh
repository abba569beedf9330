#!/usr/bin/env bash
# Fetches a containerd 2.x for the CRI suite (`ISOLA_E2E_CONTAINERD`): Debian 12 ships containerd
# 1.6, so this takes Debian unstable's `containerd` package (2.x; static Go binaries that need only
# glibc >= 2.34), downloaded by apt from a private package list (apt checks the archive's signature
# and the package's hash) and unpacked, not installed, under $ISOLA_CONTAINERD2 (default
# /var/cache/isola-containerd2). Prints the containerd binary's path. Once unpacked, no network.
# Usage: scripts/containerd2.sh          (as root)
set -euo pipefail
dir="${ISOLA_CONTAINERD2:-/var/cache/isola-containerd2}"
bin="$dir/root/usr/bin/containerd"
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
    echo "$bin"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "containerd2: run as root" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/download"
echo "deb http://deb.debian.org/debian sid main" > "$dir/apt/sources.list"
apt_opts=(
    -o "Dir::Etc::SourceList=$dir/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache"
    -o Dir::State::status=/dev/null -o APT::Sandbox::User=root
)
apt-get "${apt_opts[@]}" update -qq >&2
(cd "$dir/download" && apt-get "${apt_opts[@]}" download -qq containerd >&2)
deb="$(ls "$dir"/download/containerd_*.deb)"
dpkg-deb -x "$deb" "$dir/root"
rm -rf "$dir/apt" "$dir/download"
version="$("$bin" --version)"
case "$version" in
    *" 2."*|*" v2."*) ;;
    *) echo "containerd2: Debian unstable's containerd is not a 2.x release: $version" >&2; exit 1 ;;
esac
echo "containerd2: unpacked $(basename "$deb"): $version" >&2
echo "$bin"

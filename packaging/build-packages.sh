#!/usr/bin/env bash
# Builds krony's Debian package and RPM (kronyd with kronyc, man pages, completions,
# unit, init script, configuration) into $CARGO_TARGET_DIR/packages (default
# target/packages). Needs cargo-deb and cargo-generate-rpm (cargo install --locked ...);
# .ci/package-check installs them and checks the result.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target=$PWD/$target ;; esac
dist=$target/release/krony-dist
out=$target/packages

# Small binaries: no debug info, symbols stripped (the workspace's release profile keeps
# line tables for benchmarks and backtraces).
export CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols

echo "== release build of kronyd and kronyc"
cargo build --release -p kronyd -p kronyc

echo "== man pages and completions (cargo run -p xtask -- dist $dist)"
rm -rf "$dist"
cargo run -q -p xtask -- dist "$dist"
gzip -9nf "$dist"/man/*

mkdir -p "$out"
echo "== Debian package (cargo deb)"
cargo deb -p kronyd --no-build --no-strip -o "$out/"
echo "== RPM (cargo generate-rpm)"
cargo generate-rpm -p kronyd -o "$out/"
ls -l "$out"

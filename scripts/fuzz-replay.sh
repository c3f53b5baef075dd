#!/usr/bin/env bash
# Builds every fuzz target (fuzz/, its own workspace) and replays its committed, minimised
# corpus (fuzz/corpus/<target>) once: any panic, failed invariant, timeout (-timeout) or memory
# blow-up (-rss_limit_mb, -malloc_limit_mb) fails the run. Called by .ci/run after the tests.
# Usage: scripts/fuzz-replay.sh [TARGET...]   (default: every target `cargo fuzz list` names)
# Needs the nightly toolchain and cargo-fuzz (pinned; installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
# cargo-fuzz at its pinned version (scripts/cargo-tools.sh). The nightly is whichever the
# machine image ships (rustup reaches no network here); CI prints it below.
scripts/cargo-tools.sh fuzz
rustup run nightly rustc --version
# The campaign's build: cargo-fuzz's default (optimised, with debug assertions and overflow
# checks) without a sanitizer (the crates forbid unsafe code; panics, overflow, timeouts and
# allocations are what is caught).
flags=(-s none)
start=$(date +%s)
cargo +nightly fuzz build "${flags[@]}"
echo "== fuzz build in $(( $(date +%s) - start )) s"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
failed=()
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  if [ ! -d "$corpus" ]; then
    echo "== $t: no committed corpus ($corpus)" >&2
    failed+=("$t")
    continue
  fi
  # -runs=0: run each corpus input once, mutate nothing. The corpus is copied so that the
  # replay never writes into the checkout.
  work=$(mktemp -d)
  cp -r "$corpus"/. "$work"/
  if ! cargo +nightly fuzz run "${flags[@]}" "$t" "$work" -- \
    -runs=0 -rss_limit_mb=512 -timeout=60 -artifact_prefix="$work/" 2>"$work.log"; then
    tail -n 40 "$work.log" >&2
    echo "== $t: FAILED replaying $(ls "$corpus" | wc -l) inputs (crash input in $work/)" >&2
    failed+=("$t")
    continue
  fi
  echo "== $t: $(ls "$corpus" | wc -l) inputs replayed: $(grep -m1 -o 'DONE.*' "$work.log" || true)"
  rm -rf "$work" "$work.log"
done
echo "== fuzz replay done in $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz replay failed for: ${failed[*]}" >&2
  exit 1
fi

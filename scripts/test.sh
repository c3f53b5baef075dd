#!/usr/bin/env bash
# Runs keywarden's whole test suite on a fresh machine, installing what the tests need.
# Usage: scripts/test.sh   (from anywhere; run as root or with sudo available for apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# System packages the tests use: chromium (dashboard browser test), nginx (the gateway's
# auth_request test) and openssl (its TLS test's certificate), besides a C compiler for
# aws-lc-sys, zstd-sys and sqlite, which the rust machine image ships. Add here, never in test
# code.
for pkg in ${KEYWARDEN_APT_PACKAGES:-chromium nginx openssl}; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

if [ ! -d ../shared/datasets ]; then
  echo "warning: ../shared/ (real log samples, Sigma rules, token vectors) is missing beside the checkout; tests that read it will fail" >&2
fi

# Snapshots must match what is committed; never write new ones in a test run.
export INSTA_UPDATE=no
npm ci --silent --no-audit --no-fund --prefix crates/keywarden-server/tests/browser
cargo test --workspace --locked "$@"

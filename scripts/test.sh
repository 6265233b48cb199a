#!/usr/bin/env bash
# Every check CI runs: formatting, lints, and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace

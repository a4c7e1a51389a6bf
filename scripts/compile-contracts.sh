#!/usr/bin/env bash
# Compiles contracts/src/*.sol with the solc pinned in contracts/package.json
# (from the npm registry) into contracts/artifacts/, which are committed so
# that `cargo test` needs no Node.js. `--check` compiles and fails if a
# committed artifact differs from what the compiler makes now.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
npm ci --no-audit --no-fund --loglevel=error
node compile.js "$@"

#!/usr/bin/env bash
# The README's test command: installs what the tests need and is missing
# on a fresh machine (Debian's Chromium, for the explorer's browser test),
# then runs every test of the workspace. `.ci/run` runs it after the
# format and lint checks.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium for the browser tests" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

exec cargo test --workspace "$@"

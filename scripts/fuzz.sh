#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for N seconds each (default 60), one
# after another, and prints each target's executions and coverage. Not part
# of the test run: it needs the nightly toolchain, and installs cargo-fuzz
# from crates.io if it is missing. A crash stops the script with the
# failing input saved under fuzz/artifacts/<target>/; commit it as a
# regression test (see docs/reliability.md). A target with committed seeds
# (fuzz/seeds/<target>/: inputs the fuzzer would take long to find, such as
# a whole valid snapshot) starts from them, with inputs up to twice the
# largest seed.
#
#     scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p logs
for target in "${targets[@]}"; do
  echo "== $target: ${seconds} s"
  # The corpus is the fuzzer's own (not committed): a clean clone has none
  # yet, and libFuzzer refuses a directory that does not exist.
  mkdir -p "corpus/$target"
  corpora=("corpus/$target")
  options=()
  if [ -d "seeds/$target" ]; then
    corpora+=("seeds/$target")
    largest=$(find "seeds/$target" -type f -printf '%s\n' | sort -n | tail -1)
    options+=("-max_len=$((2 * largest))")
  fi
  if ! cargo +nightly fuzz run -O "$target" "${corpora[@]}" -- "${options[@]}" \
      -max_total_time="$seconds" -print_final_stats=1 > "logs/$target.log" 2>&1; then
    tail -40 "logs/$target.log"
    echo "$target FAILED: see fuzz/artifacts/$target/ and fuzz/logs/$target.log" >&2
    exit 1
  fi
  grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb|cov: " "logs/$target.log" | tail -4
done

#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) on nightly, installing cargo-fuzz if missing (docs/fuzzing.md).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]      e.g. fuzz/run.sh 600 envelope
# New inputs the fuzzer finds go to a working corpus beside the build (FUZZ_TARGET_DIR, default fuzz/target),
# never into fuzz/corpus, whose committed seeds are only read. A crash stops that target with the input saved in
# fuzz/artifacts/<target>/; the script goes on with the other targets and exits 1 at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(frame invite policy envelope)

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: cargo-fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

target_dir="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
# Release build with debug assertions and overflow checks (cargo-fuzz's default). No sanitizer: the crate forbids
# unsafe code, so what the fuzzer hunts here is panics, broken properties, and unbounded time or memory; AddressSanitizer
# would cost half the executions for memory errors only dependencies could have (FUZZ_SANITIZER=address to turn it on).
build=(--sanitizer "${FUZZ_SANITIZER:-none}" --target-dir "$target_dir")
cargo +nightly fuzz build "${build[@]}"

status=0
for target in "${targets[@]}"; do
  mkdir -p "$target_dir/corpus/$target"
  echo "== fuzz $target for ${seconds}s"
  # -max_len: frames, invite links and policy files past 16 KiB reach nothing that smaller ones do not, only slower.
  # -timeout / -rss_limit_mb: one input taking over 10 s or 2 GiB is a finding (a parser that does not bound its work).
  dict=fuzz/dict/json.dict
  [ "$target" = policy ] && dict=fuzz/dict/yaml.dict
  # libFuzzer's progress goes to a log; the summary (runs, executions per second, new inputs) is printed.
  log="$target_dir/fuzz-$target.log"
  if cargo +nightly fuzz run "${build[@]}" "$target" "$target_dir/corpus/$target" "fuzz/corpus/$target" -- \
    -dict="$dict" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1; then
    grep -E '^Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
  else
    tail -n 60 "$log" >&2
    echo "== fuzz $target FOUND A CRASH: the input is in fuzz/artifacts/$target/ (docs/fuzzing.md: what to do)" >&2
    status=1
  fi
done
exit "$status"

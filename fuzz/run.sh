#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang 14, ASan + UBSan) in their own build folder and runs each
# for a bounded time from the checked-in seeds. Fails when any harness finds a crash, a leak, a
# timeout or an out-of-memory; the reproducer is kept under $BUILD/fuzz-run/<harness>/.
#
#   fuzz/run.sh [SECONDS_PER_HARNESS] [HARNESS...]     (default 25 s each, all harnesses)
#
# Needs the Debian packages clang-14, libfuzzer-14-dev and libclang-rt-14-dev. Idempotent: the
# checked-in corpus is only read; each run starts from a fresh scratch folder.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
seconds="${1:-25}"
shift || true
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(terminal_frames crew_json console_api http_request registry_csv journal_records)
fi
build="${RESCUE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${RESCUE_FUZZ_BUILD_JOBS:-2}"
cxx="${RESCUE_FUZZ_CXX:-clang++-14}"

if ! command -v "$cxx" >/dev/null; then
  echo "fuzz/run.sh: $cxx not found (apt-get install clang-14 libfuzzer-14-dev libclang-rt-14-dev)" >&2
  exit 2
fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
    -DRESCUE_FUZZ=ON -DRESCUE_BUILD_TESTS=OFF -DRESCUE_BUILD_BENCHMARKS=OFF "${launcher[@]}"
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

failed=()
for h in "${harnesses[@]}"; do
  work="$build/fuzz-run/$h"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  args=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -max_len=65536
        -print_final_stats=1 -artifact_prefix="$work/artifacts/")
  if [ -f "$here/dict/$h.dict" ]; then args+=(-dict="$here/dict/$h.dict"); fi
  echo "== fuzz_$h: ${seconds} s"
  # New inputs go to the scratch corpus; the checked-in seeds (and crash reproducers) are read.
  if (cd "$work" && "$build/bin/fuzz_$h" "${args[@]}" "$work/corpus" "$here/corpus/$h") \
      >"$work/log" 2>&1; then
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/log" || true
  else
    echo "!! fuzz_$h failed; log: $work/log" >&2
    tail -n 40 "$work/log" >&2
    failed+=("$h")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz/run.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz/run.sh: ${#harnesses[@]} harnesses ran ${seconds} s each without a crash"

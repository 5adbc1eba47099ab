#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds everything and runs the whole test suite:
# the normal build, then the unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

# Only the pure-logic test executables (CTest label `unit`) are built and run under sanitizers.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRESCUE_SANITIZE=ON -DRESCUE_BUILD_BENCHMARKS=OFF
cmake --build build-asan -j"$jobs" --target protocol_test dispatcher_core_test geo_test \
  storage_registry_test
ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit

#!/usr/bin/env bash
# The journal benchmark on each backend, side by side in one run: the SQLite file, one
# redis-server, and a Redis Cluster of 3 masters + 3 replicas with appends waiting for a replica
# (WAIT 1). Every Redis node runs with appendonly yes and appendfsync always, on loopback, on
# ports of its own, and is stopped at the end. Not part of the test suite.
#   bash bench/journal/redis.sh [SECONDS_PER_ROW] [REPLAY_EVENTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-3}
events=${2:-200000}
bench=build/bin/journal_bench
[ -x "$bench" ] || { echo "build first: cmake --build build --target journal_bench" >&2; exit 1; }

work=$(mktemp -d /tmp/journal-bench-redis.XXXXXX)
source bench/redis-servers.sh

base=$((30000 + RANDOM % 20000))
echo "# journal_bench, one run: SQLite, Redis (one server), Redis Cluster (3+3, WAIT 1)"
echo
echo "## SQLite"
"$bench" --dir "$work" --seconds "$seconds" --replay-events "$events"

start_redis "$base"
echo
echo "## Redis, one server"
"$bench" --dir "$work" --seconds "$seconds" --replay-events "$events" \
  --redis "redis://127.0.0.1:$base/bench"

start_cluster "$((base + 10))"
seeds=$(IFS=,; echo "${cluster_ports[*]}")
echo
echo "## Redis Cluster, 3 masters + 3 replicas, WAIT 1"
"$bench" --dir "$work" --seconds "$seconds" --replay-events "$events" \
  --redis "redis-cluster://$seeds/bench" --wait-replicas 1

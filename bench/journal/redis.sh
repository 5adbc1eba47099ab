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

# Below the ephemeral range (32768-60999); cluster bus ports are 10000 above.
base=$((20000 + RANDOM % 10000))
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

# Three shards, one per master: three writers at once, each on its own store, as the three
# instances of a sharded city append. Store names are picked so that each lands in another
# third of the slots (one master each, as `redis-cli --cluster create` splits them).
stores=()
for third in 0 1 2; do
  for n in $(seq 1 200); do
    slot=$(redis-cli -p "$((base + 11))" cluster keyslot "{bench.shard$n}")
    if [ "$((slot * 3 / 16384))" = "$third" ]; then stores+=("bench.shard$n"); break; fi
  done
done
echo
echo "## Redis Cluster, three shards on three masters, WAIT 1: ${stores[*]} written at once"
writers=()
for s in "${stores[@]}"; do
  "$bench" --dir "$work" --seconds "$seconds" --replay-events 1000 \
    --redis "redis-cluster://$seeds/$s" --wait-replicas 1 > "$work/$s.txt" &
  writers+=($!)
done
wait "${writers[@]}"
echo
echo "| producers per shard | in flight each | durable events/s, three shards together | each shard |"
echo "|---|---|---|---|"
for row in 1 2 3 4 5 6; do
  for s in "${stores[@]}"; do
    grep -E '^\| [0-9]+ \| [0-9]+ \| [0-9]+ \|' "$work/$s.txt" | sed -n "${row}p"
  done | awk -F'|' '{gsub(/ /, "", $2); gsub(/ /, "", $3); gsub(/ /, "", $4);
                      p = $2; f = $3; sum += $4; each = each (each == "" ? "" : " + ") $4}
                    END {print "| " p " | " f " | " sum " | " each " |"}'
done

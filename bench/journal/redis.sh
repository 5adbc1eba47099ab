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
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

start_redis() {  # port, extra args...
  local port=$1
  shift
  mkdir -p "$work/$port"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$work/$port" --appendonly yes \
    --appendfsync always --save "" --daemonize no --logfile "$work/$port/redis.log" "$@" &
  pids+=($!)
  for _ in $(seq 1 200); do
    redis-cli -p "$port" ping > /dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server on $port did not start" >&2
  exit 1
}

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

cluster_ports=()
for i in 1 2 3 4 5 6; do
  port=$((base + i))
  start_redis "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout 5000 --repl-diskless-sync-delay 0
  cluster_ports+=("127.0.0.1:$port")
done
redis-cli --cluster create "${cluster_ports[@]}" --cluster-replicas 1 --cluster-yes > /dev/null
for _ in $(seq 1 100); do
  redis-cli -p "$((base + 1))" cluster info | grep -q '^cluster_state:ok' && break
  sleep 0.2
done
# Every master's replica must have synced before WAIT can count it.
for _ in $(seq 1 100); do
  synced=0
  for i in 1 2 3 4 5 6; do
    redis-cli -p "$((base + i))" info replication | grep -q 'state=online' && synced=$((synced + 1))
  done
  [ "$synced" -ge 3 ] && break
  sleep 0.2
done
seeds=$(IFS=,; echo "${cluster_ports[*]}")
echo
echo "## Redis Cluster, 3 masters + 3 replicas, WAIT 1"
"$bench" --dir "$work" --seconds "$seconds" --replay-events "$events" \
  --redis "redis-cluster://$seeds/bench" --wait-replicas 1

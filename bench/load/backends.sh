#!/usr/bin/env bash
# Alarm-to-ack and alarm-to-offer during a 500 alarms/s burst, with the server on each storage
# backend in turn, in one run: the SQLite file, one redis-server, a Redis Cluster of
# 3 masters + 3 replicas (WAIT 1) with one instance, and the same cluster with the city in three
# shards and three instances. Every Redis node runs with appendfsync always on loopback.
# rescue-sim load drives the server (terminals heartbeating, crews connected, then the burst)
# and prints its figures. Not part of the test suite.
#   bash bench/load/backends.sh [TERMINALS] [BURST_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
terminals=${1:-2000}
burst_s=${2:-4}
for b in rescue-dispatchd rescue-sim; do
  [ -x "build/bin/$b" ] || { echo "build first: cmake --build build --target $b" >&2; exit 1; }
done

work=$(mktemp -d /tmp/load-backends.XXXXXX)
source bench/redis-servers.sh

build/bin/rescue-sim city --out "$work/city" --elevators 5000 --terminal-share 0.8 --units 60 \
  --stations 10 --crews-per-unit 5 --seed 96333 > /dev/null
# Below the ephemeral range (32768-60999), where the simulator's own connections come from.
base=$((20000 + RANDOM % 10000))
tport=$((base + 100))
hport=$((base + 101))

shard_names=(central west outer)
shard_tables='[[storage.shards]]\nname = "central"\nnumber = 1\ndistricts = ["500103", "500105", "500108"]\n[[storage.shards]]\nname = "west"\nnumber = 2\ndistricts = ["500106", "500107", "500104"]\n[[storage.shards]]\nname = "outer"\nnumber = 3\ndistricts = ["*"]\n'

run() {  # title, instances (1, or 3: the city in three shards, one instance each), then sed
         # expressions for the [storage] keys
  local title=$1 instances=$2 dir i shard_keys
  shift 2
  local servers=() more_tports=() more_hports=()
  for i in $(seq 0 $((instances - 1))); do
    dir="$work/run-$RANDOM"
    mkdir -p "$dir"
    shard_keys=()
    if [ "$instances" -gt 1 ]; then
      shard_keys=(-e "s|^# redis_instance = .*|redis_instance = \"load-$i\"\nredis_shard = \"${shard_names[$i]}\"\n$shard_tables|")
      [ "$i" -gt 0 ] && more_tports+=("$((tport + 2 * i))") && more_hports+=("$((hport + 2 * i))")
    fi
    # Every simulated terminal and crew comes from 127.0.0.1: no per-address caps.
    sed -e "s|^journal_path = .*|journal_path = \"$dir/journal.db\"|" \
        -e "s|^signing_key_path = .*|signing_key_path = \"$work/journal-signing.pem\"|" \
        -e "s|^outbox_path = .*|outbox_path = \"$dir/outbox.db\"|" \
        -e "s|^positions_path = .*|positions_path = \"$dir/positions.db\"|" \
        -e "s|^registry_db_path = .*|registry_db_path = \"$dir/registry.db\"|" \
        -e "s|^dir = .*|dir = \"$work/city\"|" -e "s|^web_root = .*|web_root = \"$PWD/web\"|" \
        -e "s|^terminal_port = .*|terminal_port = $((tport + 2 * i))|" \
        -e "s|^http_port = .*|http_port = $((hport + 2 * i))|" \
        -e "s|^max_connections_per_address = .*|max_connections_per_address = 100000|" \
        -e "s|^level = \"info\"|level = \"warn\"|" \
        "${shard_keys[@]}" "$@" deploy/rescue-dispatchd.toml > "$dir/rescue-dispatchd.toml"
    build/bin/rescue-dispatchd --config "$dir/rescue-dispatchd.toml" > "$dir/server.log" 2>&1 &
    servers+=($!)
    pids+=($!)  # a failed start stops the script: cleanup kills every instance
    for _ in $(seq 1 100); do
      (exec 3<>/dev/tcp/127.0.0.1/$((hport + 2 * i))) 2>/dev/null && break
      kill -0 "${servers[-1]}" 2>/dev/null || { cat "$dir/server.log"; exit 1; }
      sleep 0.1
    done
  done
  local spread=()
  if [ "${#more_tports[@]}" -gt 0 ]; then
    spread=(--more-terminal-ports "$(IFS=,; echo "${more_tports[*]}")"
            --more-http-ports "$(IFS=,; echo "${more_hports[*]}")")
  fi
  echo
  echo "## $title"
  build/bin/rescue-sim load --registry "$work/city" --terminal-port "$tport" --http-port "$hport" \
    "${spread[@]}" --terminals "$terminals" --burst-at 5 --burst-rate 500 --burst-s "$burst_s" \
    --duration-s 15 --server-pid "${servers[0]}" 2>&1 | grep -v "^crew .*: handshake" | tail -20
  kill -TERM "${servers[@]}"
  for pid in "${servers[@]}"; do wait "$pid" || true; done
}

echo "# alarm burst (500/s for ${burst_s} s, $terminals terminals) on each backend"
run "SQLite" 1

start_redis "$base"
single_redis=${pids[-1]}
run "Redis, one server" 1 -e 's|^backend = .*|backend = "redis"|' \
  -e "s|^redis_port = .*|redis_port = $base|" -e 's|^redis_store = .*|redis_store = "load"|'
kill -KILL "$single_redis"

start_cluster "$((base + 10))"
toml_seeds=$(printf '"%s", ' "${cluster_ports[@]}")
run "Redis Cluster, 3 masters + 3 replicas, WAIT 1" 1 -e 's|^backend = .*|backend = "redis"|' \
  -e "s|^# redis_cluster_nodes = .*|redis_cluster_nodes = [${toml_seeds%, }]|" \
  -e 's|^redis_store = .*|redis_store = "load"|' -e 's|^redis_wait_replicas = .*|redis_wait_replicas = 1|'
# Three instances, the city in three shards: terminals and crews spread over all three, so two
# in three alarms go through another shard's inbox and most offers reach a phone on another
# instance.
run "Redis Cluster, three instances, three shards, WAIT 1" 3 -e 's|^backend = .*|backend = "redis"|' \
  -e "s|^# redis_cluster_nodes = .*|redis_cluster_nodes = [${toml_seeds%, }]|" \
  -e 's|^redis_store = .*|redis_store = "sharded"|' -e 's|^redis_wait_replicas = .*|redis_wait_replicas = 1|'

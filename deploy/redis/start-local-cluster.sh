#!/usr/bin/env bash
# Starts, on loopback, the scale-out layout for trying it on one machine: a Redis Cluster of
# 3 masters + 3 replicas (ports 7001-7006, AOF fsynced on every write) and the sample city in
# three shards of districts, each decided by one rescue-dispatchd instance with a standby:
#   central (Yuzhong, Jiangbei, Nan'an)       dispatch-0, standby dispatch-3
#   west    (Shapingba, Jiulongpo, Dadukou)   dispatch-1, standby dispatch-4
#   outer   (every other district)            dispatch-2, standby dispatch-5
# Terminals on 9633-9635, console and crews on 8096-8098: any instance takes any terminal, crew
# or console; a standby opens the ports of the instance it replaces (9636-9638, 8099-8101) once
# it holds the shard's lease. Appends wait for one replica (redis_wait_replicas = 1).
# Everything stops on Ctrl-C; state stays in var/cluster-<time>/.
#
#   bash deploy/redis/start-local-cluster.sh
#
# Try a failover: kill -9 a serving instance (its pid is printed) and watch its standby's log;
# or kill -9 a Redis master (redis-cli -p 7001 cluster nodes) and watch its replica take over.
# `rescuectl verify --journal redis-cluster://127.0.0.1:7001/city --shards central,west,outer`
# checks every shard's chain.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

bash deploy/install-deps.sh
if [ ! -x build/bin/rescue-dispatchd ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build build -j"$(nproc)" --target rescue-dispatchd
fi

state="var/cluster-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$state"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

ports=(7001 7002 7003 7004 7005 7006)
for port in "${ports[@]}"; do
  mkdir -p "$state/redis-$port"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$root/$state/redis-$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
    --cluster-require-full-coverage no --appendonly yes --appendfsync always \
    --maxmemory-policy noeviction --save "" --daemonize no \
    > "$state/redis-$port/redis.log" 2>&1 &
  pids+=($!)
done
for port in "${ports[@]}"; do
  for _ in $(seq 1 50); do
    redis-cli -p "$port" ping > /dev/null 2>&1 && break
    sleep 0.1
  done
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 \
  --cluster-yes > "$state/cluster-create.log"
for _ in $(seq 1 100); do
  redis-cli -p 7001 cluster info | grep -q '^cluster_state:ok' && break
  sleep 0.2
done
echo "Redis Cluster up: 3 masters + 3 replicas on 127.0.0.1:7001-7006 ($state)"

seeds=$(printf '"127.0.0.1:%s", ' "${ports[@]}")
seeds="[${seeds%, }]"
shard_names=(central west outer)
shard_tables='[[storage.shards]]\nname = "central"\nnumber = 1\ndistricts = ["500103", "500105", "500108"]\n[[storage.shards]]\nname = "west"\nnumber = 2\ndistricts = ["500106", "500107", "500104"]\n[[storage.shards]]\nname = "outer"\nnumber = 3\ndistricts = ["*"]\n'
for i in 0 1 2 3 4 5; do
  dir="$state/dispatch-$i"
  shard=${shard_names[$((i % 3))]}
  mkdir -p "$dir"
  sed -e "s|^terminal_port = [0-9]*|terminal_port = $((9633 + i))|" \
      -e "s|^http_port = [0-9]*|http_port = $((8096 + i))|" \
      -e 's|^backend = "sqlite"|backend = "redis"|' \
      -e "s|^# redis_cluster_nodes = .*|redis_cluster_nodes = $seeds|" \
      -e 's|^redis_wait_replicas = 0|redis_wait_replicas = 1|' \
      -e "s|^# redis_instance = .*|redis_instance = \"dispatch-$i\"\nredis_shard = \"$shard\"\n$shard_tables|" \
      -e "s|^signing_key_path = .*|signing_key_path = \"$root/$state/journal-signing.pem\"|" \
      -e "s|^registry_db_path = .*|registry_db_path = \"registry.db\"|" \
      -e "s|^dir = .*|dir = \"$root/tests/data/chongqing-sample\"|" \
      -e "s|^web_root = .*|web_root = \"$root/web\"|" \
      deploy/rescue-dispatchd.toml > "$dir/rescue-dispatchd.toml"
  build/bin/rescue-dispatchd --config "$dir/rescue-dispatchd.toml" > "$dir/server.log" 2>&1 &
  pids+=($!)
  role=$([ "$i" -lt 3 ] && echo "decides shard $shard" || echo "stands by for shard $shard")
  echo "dispatch-$i: pid $!, $role; terminals 127.0.0.1:$((9633 + i)), console http://127.0.0.1:$((8096 + i)) (log $dir/server.log)"
  # Each owner takes its shard's lease before its standby starts.
  if [ "$i" -lt 3 ]; then
    for _ in $(seq 1 100); do
      grep -q "listening on" "$dir/server.log" && break
      sleep 0.1
    done
  fi
done
echo "dispatch-0..2 decide the three shards; dispatch-3..5 stand by. Ctrl-C stops everything."
wait

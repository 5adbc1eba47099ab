# Sourced by the benchmark scripts that need Redis: redis-servers on loopback with the
# production durability settings (appendonly yes, appendfsync always), in $work, stopped and
# removed on exit. Set `work` (a fresh directory) before sourcing.
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# start_redis PORT [redis-server arguments...]: starts one and waits until it answers.
start_redis() {
  local port=$1
  shift
  mkdir -p "$work/redis-$port"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$work/redis-$port" --appendonly yes \
    --appendfsync always --save "" --daemonize no --logfile "$work/redis-$port/redis.log" "$@" &
  pids+=($!)
  for _ in $(seq 1 200); do
    redis-cli -p "$port" ping > /dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server on $port did not start" >&2
  exit 1
}

# start_cluster BASE: 3 masters + 3 replicas on BASE+1..BASE+6, waiting until the cluster is ok
# and every master's replica has synced (only then can WAIT count it, or a failover promote it).
# Sets cluster_ports to "127.0.0.1:PORT" of each node.
start_cluster() {
  local base=$1 i synced
  cluster_ports=()
  for i in 1 2 3 4 5 6; do
    start_redis "$((base + i))" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 5000 --repl-diskless-sync-delay 0
    cluster_ports+=("127.0.0.1:$((base + i))")
  done
  redis-cli --cluster create "${cluster_ports[@]}" --cluster-replicas 1 --cluster-yes > /dev/null
  for _ in $(seq 1 100); do
    redis-cli -p "$((base + 1))" cluster info | grep -q '^cluster_state:ok' && break
    sleep 0.2
  done
  for _ in $(seq 1 100); do
    synced=0
    for i in 1 2 3 4 5 6; do
      redis-cli -p "$((base + i))" info replication | grep -q 'state=online' && synced=$((synced + 1))
    done
    [ "$synced" -ge 3 ] && return 0
    sleep 0.2
  done
  echo "the cluster's replicas did not sync" >&2
  exit 1
}

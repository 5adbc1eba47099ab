#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds, and runs rescue-dispatchd on the embedded default
# (one SQLite journal, no other service) with the sample Chongqing city. rescue-sim plays the
# car terminals, the crews' phones, callers and the fire centre for a while, so live incidents
# appear; the server keeps running afterwards until Ctrl-C.
#
# Environment: DEMO_SECONDS (default 300) is how long the simulator drives the server.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs" --target rescue-dispatchd rescue-sim rescuectl

# Each run gets its own state folder, so an earlier run's open incidents do not keep the
# simulated crews busy; earlier journals stay for auditing.
run_dir="var/run-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"
config="$run_dir/rescue-dispatchd.toml"
root=$(pwd)
sed -e "s|^journal_path = .*|journal_path = \"journal.db\"|" \
    -e "s|^signing_key_path = .*|signing_key_path = \"journal-signing.pem\"|" \
    -e "s|^outbox_path = .*|outbox_path = \"outbox.db\"|" \
    -e "s|^registry_db_path = .*|registry_db_path = \"registry.db\"|" \
    -e "s|^dir = .*|dir = \"$root/tests/data/chongqing-sample\"|" \
    -e "s|^web_root = .*|web_root = \"$root/web\"|" \
    -e 's|^webhook_url = .*|webhook_url = "http://127.0.0.1:9119/119/escalations"|' \
    deploy/rescue-dispatchd.toml > "$config"

build/bin/rescue-dispatchd --config "$config" > "$run_dir/server.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/8096) 2>/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$run_dir/server.log"; exit 1; }
  sleep 0.2
done
echo "rescue-dispatchd is running (log: $run_dir/server.log)"
echo "  console API: http://127.0.0.1:8096/api/v1/incidents  (Bearer sample-operator-token-0001)"
echo "  metrics:     http://127.0.0.1:8096/metrics"
echo "Simulating terminals, crews, callers and the fire centre for ${DEMO_SECONDS:-300} s..."

build/bin/rescue-sim drive --registry tests/data/chongqing-sample --fire-port 9119 \
  --alarm-rate 0.2 --calls-rate 0.05 --injured-prob 0.1 --accept-prob 0.7 --decline-prob 0.2 \
  --burst-district 500103 --burst-at 60 --burst-rate 10 --burst-s 2 \
  --time-scale 30 --duration-s "${DEMO_SECONDS:-300}" --server-pid $server

echo
echo "Journal check:"
build/bin/rescuectl verify --journal "$run_dir/journal.db" || true
build/bin/rescuectl replay --journal "$run_dir/journal.db" || true
echo
echo "The server keeps running; press Ctrl-C to stop it (SIGTERM: it flushes the journal)."
wait $server

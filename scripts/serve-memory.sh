#!/bin/bash
# Peak RSS and CPU seconds of `keywarden serve` per ingest scenario, read from outside (VmHWM of
# /proc/PID/status, utime + stime of /proc/PID/stat, server start included): docs/SERVE.md, "Memory budget".
# usage: scripts/serve-memory.sh BINARY plain31|six|zstd250 [extra [server] config lines]
# The bodies are generated once in $KW_MEM_DIR (default /tmp/kw-serve-memory): JSON lines of
# ~210-byte UAL records, 31 MiB plain and 250 MiB zstd-compressed (needs python3 and zstd).
set -euo pipefail
BIN=$1; SC=$2; EXTRA=${3:-}
W=${KW_MEM_DIR:-/tmp/kw-serve-memory}
mkdir -p "$W"
gen() {
  python3 - "$1" "$2" <<'PY'
import sys
target, out, n, i = int(sys.argv[1]), open(sys.argv[2], "w"), 0, 0
while n < target:
    r = ('{"Id":"%08x-0000-4000-8000-%012x","RecordType":50,"CreationTime":"2023-06-%02dT%02d:%02d:%02d",'
         '"Operation":"MailItemsAccessed","UserId":"user%d@contoso.com","ClientIP":"203.0.113.%d",'
         '"Workload":"Exchange"}\n') % (i, i, 1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 500, i % 250)
    out.write(r); n += len(r); i += 1
PY
}
[ -f "$W/plain31.jsonl" ] || gen $((31 * 1024 * 1024)) "$W/plain31.jsonl"
if [ "$SC" = zstd250 ] && [ ! -f "$W/big250.jsonl.zst" ]; then
  gen $((250 * 1024 * 1024)) "$W/big250.jsonl" && zstd -q -3 -f "$W/big250.jsonl" -o "$W/big250.jsonl.zst"
fi
D=$(mktemp -d "$W/run.XXXX")
KEY=kw-measure-key-0123456789abcdef
echo "$KEY" > "$D/keys"
printf '[server]\nrequest_timeout_seconds = 900\n%b\n' "$EXTRA" > "$D/config.toml"
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$D/data" --api-key-file "$D/keys" \
  --config "$D/config.toml" > "$D/out" 2> "$D/err" &
PID=$!
for _ in $(seq 1 100); do grep -qo '127.0.0.1:[0-9]*' "$D/err" 2>/dev/null && break; sleep 0.2; done
ADDR=$(grep -ho '127.0.0.1:[0-9]*' "$D/err" | head -1)
# 503 (the memory budget's body pool is in use) is retried, as a client honouring Retry-After.
post() {
  curl -s -o "$D/resp.$2" -w "%{http_code} %{time_total}s\n" -H "Authorization: Bearer $KEY" \
    --retry 600 --retry-delay 1 --retry-all-errors \
    --data-binary @"$1" "http://$ADDR/api/v1/ingest?name=$2"
}
T0=$(date +%s.%N)
case $SC in
  plain31) post "$W/plain31.jsonl" a ;;
  six)
    PIDS=()
    for k in 1 2 3 4 5 6; do post "$W/plain31.jsonl" "s$k" & PIDS+=($!); done
    wait "${PIDS[@]}" ;;
  zstd250) post "$W/big250.jsonl.zst" z ;;
  *) echo "unknown scenario $SC" >&2; kill "$PID"; exit 2 ;;
esac
T1=$(date +%s.%N)
HWM=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
# CPU of the whole server process (all threads): utime + stime, in clock ticks.
TICKS=$(awk '{print $14 + $15}' "/proc/$PID/stat")
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
echo "$SC peak_rss_mib=$((HWM / 1024)) seconds=$(echo "$T1 - $T0" | bc) cpu_seconds=$(echo "scale=2; $TICKS / $(getconf CLK_TCK)" | bc)"
head -c 300 "$D"/resp.*; echo
rm -rf "$D"

#!/usr/bin/env bash
# One fuzzing campaign: each target in turn (one at a time, niced, one worker), from its
# committed corpus plus the seeds `fuzz/seed.py` writes, for SECONDS each, under the memory
# limit the README states. Prints one line of figures per target (executions, exec/s, cov, ft,
# corpus size, peak RSS) and keeps any crash input in WORK/artifacts.
# Usage: fuzz/campaign.sh WORK SECONDS TARGET...   (built first: cargo +nightly fuzz build -s none)
# RUNS=N in the environment also stops each target after N executions, CPU=S after S seconds of
# the fuzzer's own CPU time (user + system, read from /proc; libFuzzer is sent SIGINT and prints
# its final figures): whichever comes first. The bar for targets below 3 000 exec/s is one
# CPU-hour (CPU=3600), which wall-clock time under load does not measure.
set -uo pipefail
cd "$(dirname "$0")/.."
work=$1 secs=$2
shift 2
bin=${CARGO_TARGET_DIR:-fuzz/target}/x86_64-unknown-linux-gnu/release
[ -d "$work/seeds" ] || python3 fuzz/seed.py "$work/seeds" >/dev/null
mkdir -p "$work/artifacts" "$work/logs"

# Longest input per target: enough for the samples' slices, small enough to stay fast.
max_len() {
  case $1 in
    ingest_evtx) echo 20000 ;;
    ingest_json | ingest_ual_json | detect_pack | sim_eval) echo 16384 ;;
    ingest_csv | ingest_appended | sigma_rule | serve_ingest | detect_intel) echo 8192 ;;
    ingest_damage) echo 260 ;;
    serve_decompress) echo 2048 ;;
    *) echo 4096 ;;
  esac
}

for t in "$@"; do
  mkdir -p "$work/corpus/$t" "$work/seeds/$t"
  [ -d "fuzz/corpus/$t" ] && cp -rn "fuzz/corpus/$t"/. "$work/corpus/$t"/
  log=$work/logs/$t.log
  nice -n 19 "$bin/$t" "$work/corpus/$t" "$work/seeds/$t" \
    -rss_limit_mb=512 -max_len="$(max_len "$t")" -max_total_time="$secs" -timeout=600 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" ${RUNS:+-runs=$RUNS} >"$log" 2>&1 &
  pid=$!
  ticks=$(getconf CLK_TCK)
  cpu=0
  while kill -0 "$pid" 2>/dev/null; do
    # Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks.
    if read -ra st <"/proc/$pid/stat" 2>/dev/null; then
      cpu=$(((st[13] + st[14]) / ticks))
      if [ -n "${CPU:-}" ] && [ "$cpu" -ge "$CPU" ]; then kill -INT "$pid" 2>/dev/null; fi
    fi
    sleep 5
  done
  wait "$pid"
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$')
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+')
  echo -e "$t\trc=$rc\texecs=${execs:-?}\texec/s=${rate:-?}\t${last:-?}\tcpu=${cpu}s\trss=${rss:-?}MB\tfiles=$(ls "$work/corpus/$t" | wc -l)"
done

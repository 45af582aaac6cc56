#!/usr/bin/env bash
# slurm.sh - the quick study through a real single-node Slurm on this machine
# (Debian's slurmctld, slurmd and munge, with a generated slurm.conf and
# munge key in a temporary folder, on ports of their own). One array task is
# killed with SIGKILL midway; the rerun cancels the arrays left waiting on it
# and submits what is not done; the report's results.csv must equal the local
# backend's byte for byte. Every daemon started is stopped by its pid.
# Prints "ok slurm" or "FAIL slurm" (or "SKIP slurm: why" without Slurm).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
ticket=$root/bin/ticket
# The runs happen in folders of their own, where ./data is not.
export TICKET_DATA=${TICKET_DATA:-$root/data}
for p in slurmctld slurmd munged sbatch squeue scancel; do
    command -v $p >/dev/null || { echo "SKIP slurm: $p is not installed (apt-get install slurm-wlm munge)"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP slurm: the daemons need root"; exit 0; }

work=$(mktemp -d /tmp/ticket-slurm.XXXXXX)
fail() { echo "  $*"; echo "FAIL slurm"; exit 1; }
stop() {
    for f in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munged.pid; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 1
    for f in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munged.pid; do
        [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    # Tasks slurmd started and that outlived it.
    pkill -9 -f "study job $work/" 2>/dev/null
    rm -rf "$work"
}
trap stop EXIT

host=$(hostname)
port=$((20000 + $$ % 20000))
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 2>/dev/null
chmod 600 "$work/munge.key"
mkdir -p "$work/state" "$work/spool" "$work/munge"
munged --socket="$work/munge/socket" --key-file="$work/munge.key" --pid-file="$work/munged.pid" \
    --log-file="$work/munged.log" --seed-file="$work/munge.seed" --force || fail "munged did not start"
cat >"$work/slurm.conf" <<EOF
ClusterName=ticket-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=ticket Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start: $(tail -3 "$work/slurmctld.log")"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start: $(tail -3 "$work/slurmd.log")"
for i in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 0.5; done
sinfo -h -o %T | grep -q idle || fail "the node did not come up: $(tail -3 "$work/slurmd.log")"

spec=$root/transfer/studies/quick.json
mkdir -p "$work/local" "$work/slurm"
(cd "$work/local" && "$ticket" study run "$spec" --out study -j 2 >log 2>&1) || fail "the local run failed: $(tail -3 "$work/local/log")"

# Waits until the queue is empty, or holds only tasks that wait on a failed
# one (Slurm marks them DependencyNeverSatisfied one step at a time: the
# others still say Dependency, but nothing runs or can start).
drain() {
    for i in $(seq 900); do
        q=$(squeue -h -o "%T %r")
        [ -z "$q" ] && return 0
        if ! echo "$q" | grep -v -E "^PENDING (Dependency|DependencyNeverSatisfied)$" | grep -q . &&
            echo "$q" | grep -q DependencyNeverSatisfied; then
            return 0
        fi
        sleep 1
    done
    fail "the Slurm tasks did not finish in 15 minutes: $(squeue)"
}

cd "$work/slurm"
"$ticket" study run "$spec" --out study --backend slurm --array-max 2 >submit.log 2>&1 || fail "submission failed: $(cat submit.log)"
# Kill the first task seen training: the holder of a job's claim (tk_claim.h).
killed=
for i in $(seq 1500); do
    for c in study/claims/*; do
        case $c in *.failed | *.tmp | *.break | "study/claims/*") continue ;; esac
        pid=$(awk '{print $2}' "$c" 2>/dev/null)
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && killed=$pid && break 2
    done
    sleep 0.2
done
[ -n "$killed" ] || fail "no task to kill ran"
drain
"$ticket" study status study >status-after-kill.log 2>&1
grep -q "of 22 jobs done" status-after-kill.log || fail "status: $(cat status-after-kill.log)"
grep -q "22 of 22 jobs done" status-after-kill.log && fail "the killed task's job counted done: $(cat status-after-kill.log)"
grep -q "pid $killed, died in it" status-after-kill.log || fail "status does not name the killed worker: $(cat status-after-kill.log)"
[ -e study/report/results.csv ] && fail "a report was written although a task was killed"
"$ticket" study run "$spec" --out study --backend slurm >resubmit.log 2>&1 || fail "resubmission failed: $(cat resubmit.log)"
drain
"$ticket" study status study >status.log 2>&1
grep -q "22 of 22 jobs done" status.log || fail "not every job is done after the rerun: $(cat status.log)"
cmp "$work/local/study/report/results.csv" study/report/results.csv ||
    fail "results.csv of the Slurm run differs from the local run's: $(diff "$work/local/study/report/results.csv" study/report/results.csv | head -5)"
# A rerun with everything done submits nothing and rewrites the report.
"$ticket" study run "$spec" --out study --backend slurm >final.log 2>&1 || fail "the final rerun failed: $(cat final.log)"
grep -q "submitted" final.log && fail "a rerun of a finished study submitted jobs: $(cat final.log)"
echo "  killed task pid $killed; $(grep -c submitted resubmit.log) submissions on the rerun"
echo "ok slurm"

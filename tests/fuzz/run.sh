#!/bin/bash
# run.sh BUILD SECONDS JOBS TARGET... - runs each harness BUILD/fuzz/fuzz_TARGET
# for SECONDS on a copy of its seed corpus, JOBS at a time, then prints one
# line per target (execs, coverage from libFuzzer's final stats, result) and
# fails when any harness crashed, naming the crash file and how to replay it.
#   BUILD/corpus/TARGET/   the growing corpus (seeded from tests/fuzz/corpus/TARGET/)
#   BUILD/crashes/TARGET/  crash-*, leak-*, timeout-*, oom-* inputs
#   BUILD/logs/TARGET.log  libFuzzer's output
# tests/fuzz/fuzz_TARGET.options, when present, holds more libFuzzer flags.
set -u
build=$1 seconds=$2 jobs=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)

one() {
    local t=$1 bin=$build/fuzz/fuzz_$1
    local corpus=$build/corpus/$t crashes=$build/crashes/$t log=$build/logs/$t.log tmp=$build/tmp/$t
    mkdir -p "$corpus" "$crashes" "$build/logs" "$tmp"
    [ -d "$here/corpus/$t" ] && cp -n "$here/corpus/$t"/* "$corpus"/ 2>/dev/null
    local start=$(date +%s)
    # lsan.supp names leaks that are a library's, not ticket's (none today).
    TMPDIR=$tmp LSAN_OPTIONS=suppressions=$here/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
        "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" $(cat "$here/fuzz_$t.options" 2>/dev/null) "$corpus" >"$log" 2>&1
    local rc=$? end=$(date +%s)
    rm -rf "$tmp"
    local execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    local cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    local result=ok
    if [ $rc != 0 ]; then
        local art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        result="CRASH ${art:-(no crash file; see $log)}"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$((end - start))" "${execs:-?}" "${cov:-?}" "$result" >"$build/logs/$t.result"
}
export -f one
export build seconds here

for t in "$@"; do rm -f "$build/logs/$t.result"; done
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'one {}'

printf '%-14s %8s %12s %9s  %s\n' target seconds execs cov result
failed=0
for t in "$@"; do
    IFS=$'\t' read -r name secs execs cov result <"$build/logs/$t.result"
    printf '%-14s %8s %12s %9s  %s\n' "$name" "$secs" "$execs" "$cov" "$result"
    case $result in CRASH*) failed=1 ;; esac
done
if [ $failed = 1 ]; then
    echo "fuzzing found crashes; replay one with: $build/fuzz/fuzz_TARGET CRASH_FILE (logs in $build/logs/)"
    for t in "$@"; do
        IFS=$'\t' read -r name secs execs cov result <"$build/logs/$t.result"
        case $result in CRASH*) echo "  $build/fuzz/fuzz_$t ${result#CRASH }" ;; esac
    done
    exit 1
fi

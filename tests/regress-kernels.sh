#!/usr/bin/env bash
# regress-kernels.sh - the quick study produced under two OpenBLAS core types,
# each checked against the registry (what `make regress` does), then the two
# results.csv compared. Run by `make regress-kernels` after `make`.
#
# The kernels are the oldest and the newest this CPU runs (tests/coretypes.sh),
# or the first two words of $KERNELS. Each must PASS `ticket regress`: the
# registry's tolerances are meant to hold for any kernel. The comparison says
# whether the two studies agree to the bit, and otherwise how far apart their
# accuracies are; it fails only when they do not have the same rows.
set -u
cd "$(dirname "$0")/.." || exit 1
read -r -a all <<<"${KERNELS:-$(bash tests/coretypes.sh | tr '\n' ' ')}"
if [ "${#all[@]}" -lt 2 ]; then
  echo "regress-kernels: this CPU runs fewer than two OpenBLAS core types (${all[*]:-none}); nothing to compare" >&2
  exit 2
fi
if [ -n "${KERNELS:-}" ]; then pair=("${all[0]}" "${all[1]}"); else pair=("${all[0]}" "${all[${#all[@]}-1]}"); fi

status=0
for k in "${pair[@]}"; do
  out=runs/study-quick-$k
  echo "==== quick study under OPENBLAS_CORETYPE=$k: $out"
  # Produced afresh: a study left from an earlier build would be skipped as done.
  rm -rf "$out" && mkdir -p "$out"
  if ! OPENBLAS_CORETYPE=$k ./bin/ticket study run transfer/studies/quick.json --out "$out" >"$out/study.log" 2>&1; then
    echo "regress-kernels: the quick study failed under $k (log: $out/study.log)" >&2
    tail -n 5 "$out/study.log" >&2
    exit 1
  fi
  OPENBLAS_CORETYPE=$k ./bin/ticket regress "$out" --junit "$out/regress.xml" --markdown "$out/regress.md" ||
    status=1
done

a=runs/study-quick-${pair[0]}/report/results.csv b=runs/study-quick-${pair[1]}/report/results.csv
if cmp -s "$a" "$b"; then
  echo "results.csv: byte-identical under ${pair[0]} and ${pair[1]}"
else
  # Rows pair up by their position (the report sorts them); columns by name.
  awk -F, -v ka="${pair[0]}" -v kb="${pair[1]}" '
    function key(f,   k, n, i) {
      n = split("target target_optimizer source source_optimizer control level seed", k, " ")
      for (i = 1; i <= n; i++) out = (i == 1 ? "" : out " ") $(col[f, k[i]])
      return out
    }
    FNR == 1 { for (i = 1; i <= NF; i++) col[FILENAME, $i] = i; next }
    FILENAME == ARGV[1] { na++; fa[na] = $(col[ARGV[1], "final_accuracy"]); id[na] = key(ARGV[1]); next }
    { nb++; fb[nb] = $(col[ARGV[2], "final_accuracy"]); ib[nb] = key(ARGV[2]) }
    END {
      if (na != nb) { printf "results.csv: %d rows under %s, %d under %s\n", na, ka, nb, kb; exit 1 }
      for (i = 1; i <= na; i++) {
        if (id[i] != ib[i]) { printf "results.csv: row %d is %s under %s, %s under %s\n", i, id[i], ka, ib[i], kb; exit 1 }
        d = fa[i] - fb[i]; if (d < 0) d = -d
        if (d > 0) differ++
        if (d > worst) worst = d
      }
      printf "results.csv: %d of %d rows differ in final_accuracy between %s and %s, by at most %.4f\n", differ, na, ka, kb, worst
    }' "$a" "$b" || status=1
fi
[ "$status" = 0 ] && echo "regress-kernels: PASS under ${pair[0]} and ${pair[1]}" || echo "regress-kernels: FAIL"
exit $status

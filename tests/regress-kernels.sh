#!/usr/bin/env bash
# regress-kernels.sh - the quick study produced under two OpenBLAS core types,
# each checked against the registry (what `make regress` does), then the two
# results.csv compared. Run by `make regress-kernels` after `make`.
#
# The kernels are the oldest and the newest this CPU runs (tests/coretypes.sh),
# or the first two words of $KERNELS. Each must PASS `ticket regress`: the
# registry's tolerances are meant to hold for any kernel. The comparison says
# whether the two studies agree to the bit, and otherwise how far apart their
# accuracies are; it fails when they do not have the same rows, and, under
# TICKET_GEMM=own (our own matrix product), when any row differs at all.
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
# Rows pair up by their position (the report sorts them); the cells compared
# are those before the provenance columns (which name the kernel, so differ).
# With TICKET_GEMM=own every compared cell must be the same bytes.
awk -F, -v ka="${pair[0]}" -v kb="${pair[1]}" -v own="$([ "${TICKET_GEMM:-}" = own ] && echo 1)" '
  FNR == 1 {
    for (i = 1; i <= NF; i++) { if ($i == "ticket_version") prov = i; if ($i == "final_accuracy") acc = i }
    if (!prov) prov = NF + 1
    next
  }
  FILENAME == ARGV[1] { na++; for (i = 1; i < prov; i++) ca[na, i] = $i; fa[na] = $acc; ncol = prov - 1; next }
  { nb++; for (i = 1; i < prov; i++) cb[nb, i] = $i; fb[nb] = $acc }
  END {
    if (na != nb) { printf "results.csv: %d rows under %s, %d under %s\n", na, ka, nb, kb; exit 1 }
    for (r = 1; r <= na; r++) {
      same = 1
      for (i = 1; i <= ncol; i++) if (ca[r, i] != cb[r, i]) same = 0
      if (!same) differ++
      d = fa[r] - fb[r]; if (d < 0) d = -d
      if (d > worst) worst = d
    }
    printf "results.csv: %d of %d rows differ between %s and %s (final_accuracy by at most %.4f)\n", differ, na, ka, kb, worst
    if (own && differ) { print "results.csv: with TICKET_GEMM=own the rows must be the same bytes"; exit 1 }
  }' "$a" "$b" || status=1
[ "$status" = 0 ] && echo "regress-kernels: PASS under ${pair[0]} and ${pair[1]}" || echo "regress-kernels: FAIL"
exit $status

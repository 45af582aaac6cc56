#!/usr/bin/env bash
# Runs each test program given as an argument and counts its "ok"/"FAIL" lines.
# A program that exits non-zero without reporting a failure (a crash, a
# sanitizer report) counts as one failed test.
passed=0
failed=0
for t in "$@"; do
  name=$(basename "$t")
  out=$("$t" 2>&1)
  status=$?
  p=$(grep -c '^ok ' <<<"$out")
  f=$(grep -c '^FAIL ' <<<"$out")
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; out="$out"$'\n'"FAIL $name exited with status $status"; fi
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$f" -ne 0 ]; then
    echo "== $name: $p passed, $f failed"
    echo "$out" | sed 's/^/   /'
  else
    echo "== $name: $p passed"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

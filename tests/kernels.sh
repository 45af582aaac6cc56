#!/usr/bin/env bash
# kernels.sh COMMAND... - runs COMMAND once under each OpenBLAS core type this
# CPU can run (tests/coretypes.sh), or those named in $KERNELS, with
# OPENBLAS_CORETYPE set; fails when any run fails. Results must not depend on
# which kernel OpenBLAS picks: CI runs the tests this way so that a test tuned
# to one kernel's rounding is caught on the next submission, whatever CPU CI has.
set -u
cd "$(dirname "$0")/.." || exit 1
kernels=${KERNELS:-$(bash tests/coretypes.sh)}
if [ -z "$kernels" ]; then
  echo "kernels.sh: no OpenBLAS core type known for this CPU ($(uname -m)); run the command alone" >&2
  exit 2
fi
passed="" failed=""
for k in $kernels; do
  echo "==== OPENBLAS_CORETYPE=$k: $*"
  if OPENBLAS_CORETYPE=$k "$@"; then passed="$passed $k"; else failed="$failed $k"; fi
done
echo "kernels passed:${passed:- none}; failed:${failed:- none}"
[ -z "$failed" ]

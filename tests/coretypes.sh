#!/usr/bin/env bash
# coretypes.sh - the OpenBLAS core types (values of OPENBLAS_CORETYPE) this
# CPU can run, one per line, oldest first. OpenBLAS does not check a core type
# it is told to use: one whose instructions the CPU lacks dies of SIGILL, so
# the list comes from the CPU's own flags (/proc/cpuinfo), which the kernel
# shows only for extensions it has enabled.
#
#   Prescott     SSE3, the x86-64 floor (and what OpenBLAS 0.3.21 falls back
#                to on CPUs newer than it knows)
#   Sandybridge  AVX
#   Haswell      AVX2 + FMA (also what Zen CPUs run)
#   SkylakeX     AVX-512 F, CD, BW, DQ, VL (Intel since Skylake-SP, AMD Zen 4)
set -u
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has() {
  local f
  for f in "$@"; do
    case "$flags" in *" $f "*) ;; *) return 1 ;; esac
  done
}
[ "$(uname -m)" = x86_64 ] || exit 0
has pni && echo Prescott
has avx && echo Sandybridge
has avx avx2 fma && echo Haswell
has avx512f avx512cd avx512bw avx512dq avx512vl && echo SkylakeX
exit 0

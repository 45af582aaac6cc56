#!/usr/bin/env bash
# layers.sh - the folders are the layers of ticket, lowest first; a file may
# include the headers of its own layer and of those below it, never above.
# Prints "ok layers" or "FAIL layers" after the offending includes, so that
# tests/run.sh counts it (`make layers` runs it alone). ARCHITECTURE.md says
# what each layer does and what flows between them.
cd "$(dirname "$0")/.." || exit 1

layers=(base datasets src tickets plots backends transfer cli)
declare -A rank
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done

# Each public header (include/tk_NAME.h) belongs to the layer that implements it.
declare -A home
put() { local layer=$1; shift; for h in "$@"; do home[$h]=$layer; done; }
put base      tk_common tk_file tk_rng tk_parallel tk_duration tk_json tk_claim tk_process
put datasets  tk_archive tk_data tk_image tk_catalog tk_transform
put src       tk_gemm tk_layers tk_sparse tk_model tk_optim tk_checkpoint tk_train tk_provenance tk_build_version
put tickets   tk_prune tk_control tk_find tk_ticket
put plots     tk_report tk_regress tk_results
put backends  tk_scheduler tk_backend tk_build_mpi
put transfer  tk_study
put cli       tk_cli

bad=0
say() { echo "  $*"; bad=1; }

# A header's layer: a public one's from the table, a private one's (next to
# the .c files that share it) from its folder.
layer_of_header() {
  local file=$1 name=$2
  if [[ $name == tk_* ]]; then echo "${home[$name]:-}"; else echo "${file%%/*}"; fi
}

check_includes() {
  local file=$1 own=$2
  local name
  while read -r name; do
    local layer
    layer=$(layer_of_header "$file" "$name")
    if [ -z "$layer" ]; then
      say "$file includes $name.h, which has no layer: add it to tests/layers.sh"
    elif [[ $name != tk_* && ! -f "$(dirname "$file")/$name.h" ]]; then
      say "$file includes $name.h, a private header of another folder: make it public in include/ or move the code"
    elif [ "${rank[$layer]}" -gt "${rank[$own]}" ]; then
      say "$file (layer $own) includes $name.h of layer $layer, above it: move the code down or pass what it needs in"
    fi
  done < <(sed -n 's/^#include "\([A-Za-z0-9_]*\)\.h".*/\1/p' "$file")
}

for h in include/*.h; do
  name=$(basename "$h" .h)
  own=${home[$name]:-}
  if [ -z "$own" ]; then say "$h has no layer: add it to tests/layers.sh"; continue; fi
  check_includes "$h" "$own"
done
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]'); do
  top=${f%%/*}
  case $top in include|tests) continue ;; esac
  if [ -z "${rank[$top]:-}" ]; then say "$f is in $top/, which is not a layer: add the folder to tests/layers.sh"; continue; fi
  check_includes "$f" "$top"
done

if [ $bad = 0 ]; then echo "ok layers"; else echo "FAIL layers"; fi
exit 0

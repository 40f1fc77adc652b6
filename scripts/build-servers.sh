#!/usr/bin/env bash
# Builds real Redis / Valkey / KeyDB servers from local git mirrors, for the differential tests
# of the honeypot's personas. The binaries are build output: never commit them.
#
#   scripts/build-servers.sh [OUT] [product-version...]
#
# OUT defaults to /work/servers. Each product-version (e.g. redis-7.0.15, valkey-8.0.1,
# keydb-6.3.4) gets OUT/<name>/redis-server (and redis-cli; for Valkey and KeyDB these are
# symlinks to valkey-*/keydb-*, which sit next to them). A name whose redis-server already
# exists is skipped. Logs: OUT/.logs/<name>.log.
#
# Sources: bare git mirrors, $MIRRORS/redis+redis/repo, $MIRRORS/valkey-io+valkey/repo,
# $MIRRORS/Snapchat+KeyDB/repo (MIRRORS defaults to /work/.mirror). Nothing is downloaded.
# Needs: gcc, g++ (KeyDB), make, tar, git; libssl-dev for TLS on 6.0+ (built without TLS if
# the headers are missing); uuid-dev for KeyDB.
set -euo pipefail

MIRRORS=${MIRRORS:-/work/.mirror}
JOBS=${JOBS:-2}
OUT=${1:-/work/servers}
[[ $# -gt 0 ]] && shift

DEFAULT=(
  redis-7.0.15 redis-6.2.16 redis-5.0.8 redis-3.2.12 redis-2.8.24 redis-7.4.1 redis-7.2.4
  redis-6.0.20 redis-4.0.14 redis-5.0.14 redis-3.0.7 redis-8.0-m01
  valkey-8.0.1 valkey-7.2.7 keydb-6.3.4
)
if [[ $# -gt 0 ]]; then names=("$@"); else names=("${DEFAULT[@]}"); fi

mkdir -p "$OUT/.logs"
OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/build-servers.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# A git that always fails, first on PATH: mkreleasehdr.sh then records no sha1 and no dirty
# flag, so `--version` says sha=00000000:0 as a release tarball build does.
mkdir -p "$TMP/bin"
printf '#!/bin/sh\nexit 1\n' >"$TMP/bin/git"
chmod +x "$TMP/bin/git"
GIT=$(command -v git)

have_tls=no
[[ -f /usr/include/openssl/ssl.h ]] && have_tls=yes

# "7.0.15" -> 7000015, "8.0-m01" -> 8000000: for version-range comparisons.
vnum() {
  local major minor patch
  IFS=. read -r major minor patch <<<"${1%%-*}"
  echo $((major * 1000000 + ${minor:-0} * 1000 + ${patch:-0}))
}

summary=()
report() { summary+=("$(printf '%-16s %s' "$1" "$2")"); echo "== $1: $2"; }

build_one() {
  local name=$1 product=${1%%-*} version=${1#*-}
  local repo tag prefix dest=$OUT/$1 log=$OUT/.logs/$1.log
  case $product in
    redis) repo=redis+redis prefix=redis tag=$version ;;
    valkey) repo=valkey-io+valkey prefix=valkey tag=$version ;;
    keydb) repo=Snapchat+KeyDB prefix=keydb tag=v$version ;;
    *) report "$name" "failed (unknown product '$product')"; return ;;
  esac
  local gitdir=$MIRRORS/$repo/repo

  if [[ -x $dest/redis-server ]]; then
    report "$name" "skipped (exists: $("$dest/redis-server" --version 2>&1 | head -n1))"
    return
  fi
  if ! "$GIT" --git-dir="$gitdir" rev-parse -q --verify "refs/tags/$tag^{commit}" >/dev/null 2>&1; then
    report "$name" "failed (no tag $tag in $gitdir)"
    return
  fi

  local src=$TMP/src-$name
  rm -rf "$src" && mkdir -p "$src"
  "$GIT" --git-dir="$gitdir" archive --format=tar "$tag" | tar -x -C "$src"

  local -a args=("-j$JOBS" MALLOC=libc)
  local v
  v=$(vnum "$version")
  # 6.0+ (and every Valkey / KeyDB) can build TLS in.
  if [[ $have_tls == yes ]] && { [[ $product != redis ]] || ((v >= 6000000)); }; then
    args+=(BUILD_TLS=yes)
  fi
  # Redis before 5.0.8 was written for compilers that defaulted to -fcommon (GCC < 10), which
  # merges tentative definitions of the same global; -fcommon keeps that link semantics. (GCC
  # 12.2 also builds 2.8.24, 3.0.7 and 4.0.14 without it; set CFLAGS yourself to add more.)
  local cflags=${CFLAGS:-}
  if [[ $product == redis ]] && ((v < 5000008)); then cflags="-fcommon${cflags:+ $cflags}"; fi
  # KeyDB: no message-of-the-day fetch over the network.
  [[ $product == keydb ]] && args+=(NO_MOTD=yes)

  echo "== $name: building ($tag; make ${args[*]}${cflags:+ CFLAGS=$cflags}; log $log)"
  local start=$SECONDS rc=0
  (
    cd "$src"
    export PATH="$TMP/bin:$PATH"
    if [[ -n $cflags ]]; then export CFLAGS=$cflags; fi
    make "${args[@]}"
  ) >"$log" 2>&1 || rc=$?
  local took=$((SECONDS - start))
  if ((rc != 0)); then
    local why
    why=$(grep -E 'error|Error' "$log" | head -n1 | cut -c1-160)
    report "$name" "failed (make exit $rc after ${took}s: ${why:-see $log})"
    return
  fi

  local stage=$dest.part
  rm -rf "$stage" && mkdir -p "$stage"
  local bin
  for bin in server cli; do
    if [[ -x $src/src/$prefix-$bin ]]; then
      cp "$src/src/$prefix-$bin" "$stage/"
      [[ $prefix == redis ]] || ln -s "$prefix-$bin" "$stage/redis-$bin"
    fi
  done
  rm -rf "$src"
  if [[ ! -x $stage/redis-server ]]; then
    report "$name" "failed (no $prefix-server after make, ${took}s)"
    return
  fi
  local ver
  if ! ver=$("$stage/redis-server" --version 2>&1 | head -n1); then
    report "$name" "failed (--version failed: $ver)"
    return
  fi
  rm -rf "$dest" && mv "$stage" "$dest"
  report "$name" "built in ${took}s: $ver"
}

for name in "${names[@]}"; do
  build_one "$name"
done

echo
echo "Summary ($OUT):"
printf '%s\n' "${summary[@]}"
if printf '%s\n' "${summary[@]}" | grep -q ' failed ('; then exit 1; fi

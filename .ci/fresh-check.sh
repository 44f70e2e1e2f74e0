#!/usr/bin/env bash
# Prove the README's two commands on a bare Debian: in a minimal root (mmdebstrap
# --variant=minbase, plus only git, make, ca-certificates and the shared libraries the
# host's pyenv Python links to), clone the committed HEAD, run `make test`, then
# `make run` until it serves the login page, and stop it as Ctrl-C would.
#
#   .ci/fresh-check.sh [--rebuild]       (or make fresh-check [FRESH_CHECK_REBUILD=1])
#
# Environment:
#   FRESH_CHECK_REBUILD=1    build the root again instead of reusing var/fresh-root/base
#   FRESH_CHECK_POSTGRES=1   also DATABASE_URL=postgres://postgres@127.0.0.1:5432/fresh_check make test
#   FRESH_CHECK_PORT=N       port for make run (default: a free one)
#   FRESH_CHECK_RUN_TIMEOUT  seconds to wait for the login page (default 300)
#
# The base root is built once and kept read-only under an overlay: each run writes to a
# new upper layer (var/fresh-root/run/upper, kept until the next run for a post-mortem),
# so every run starts from the same bare machine. Logs go to var/fresh-root/logs/.
# Everything runs in a private mount and PID namespace (unshare): no mount is ever
# visible on the host, and no process outlives the check, even after Ctrl-C.
# Needs root (chroot, mount), the host's network (PostgreSQL on 127.0.0.1) and its
# Debian mirror and pip configuration, both read from the host's config at run time.
set -euo pipefail

self=$(readlink -f "$0")
repo=$(cd "$(dirname "$self")/.." && pwd)
fresh=${FRESH_ROOT_DIR:-$repo/var/fresh-root}
base=$fresh/base
run=$fresh/run
merged=$run/merged
logs=$fresh/logs
results=$logs/results.tsv
clone_dir=/root/ocr-service
host_repo=/mnt/host-repo.git
base_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# What a fresh machine of this kind has before the project: the tools to fetch and build
# it, and the libraries the pyenv Python's modules link to (ssl/hashlib, sqlite3, ctypes,
# zlib, bz2, lzma, readline, curses, uuid, and 3.12's nis). Not tkinter's X11/Tk: nothing
# here uses it; the check below says so if that set ever grows.
packages=(git make ca-certificates
  libssl3 libsqlite3-0 libffi8 zlib1g libbz2-1.0 liblzma5 libreadline8
  libncursesw6 libtinfo6 libuuid1 libnsl2)

log() { printf '\n==> %s\n' "$*"; }
die() { echo "fresh-check: $*" >&2; exit 2; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"; }

# The interpreters to lend the root, read-only at the same path: the one make would pick
# on the host and a 3.12 if there is one. Print their installation prefixes.
host_pythons() {
  local py prefix
  for want in "" 3.12; do
    py=$("$repo/.ci/find-python.sh" $want 2>/dev/null) || continue
    prefix=$("$py" -c 'import sys; print(sys.base_prefix)')
    case $prefix in
      /usr | /usr/local) echo "fresh-check: $py lives in $prefix, not lent to the root" >&2 ;;
      *) echo "$prefix" ;;
    esac
  done | sort -u
}

# The host's Debian archive entries for its own release, as one-line sources; entries for
# other suites (third-party repositories) are left out: their keys are not in the root.
debian_sources() {
  local codename
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  {
    [ -f /etc/apt/sources.list ] && grep -hE '^\s*deb\s' /etc/apt/sources.list
    for f in /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && grep -hE '^\s*deb\s' "$f"; done
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk 'function flush() {
             if (types ~ /(^| )deb( |$)/ && enabled != "no")
               for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
                 printf "deb %s%s %s %s\n", opts, u[i], s[j], comps
             types = ""; enabled = ""; opts = ""; comps = ""; nu = 0; ns = 0 }
           /^#/ { next }
           /^[ \t]*$/ { flush(); next }
           { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "") }
           key == "types" { types = $0 }
           key == "enabled" { enabled = tolower($0) }
           key == "uris" { nu = split($0, u, " ") }
           key == "suites" { ns = split($0, s, " ") }
           key == "components" { comps = $0 }
           key == "signed-by" && $0 ~ /^\// { opts = "[signed-by=" $0 "] " }
           END { flush() }' "$f"
    done
  } | awk -v c="$codename" '{ i = 2
      if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }   # skip [options]
      if ($(i + 1) == c || index($(i + 1), c "-") == 1) print }'
}

# Absolute paths the host's pip configuration points at (find-links, file:// indexes,
# constraints, certificates), one a line.
pip_paths() {
  local py=$1
  { "$py" -m pip config list 2>/dev/null | sed -E "s/^[^=]*=//; s/^'//; s/'$//"
    env | sed -n 's/^PIP_[A-Z_]*=//p'; } | tr ' ' '\n' | sed -E 's#^file://##' | grep '^/' | sort -u
}

bind_ro() { # bind_ro SRC DST: a read-only bind mount (mkdir DST first)
  if [ -d "$1" ]; then mkdir -p "$2"; else mkdir -p "$(dirname "$2")"; : >"$2"; fi
  mount --bind "$1" "$2"
  mount -o remount,bind,ro "$2"
}

# The command prefix that enters the root as a fresh login would, with the host's PIP_*
# settings (the rest of the pip configuration is copied in).
root_argv=(chroot "$merged" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash
  PATH="$base_path" TERM="${TERM:-dumb}")
while IFS= read -r line; do root_argv+=("$line"); done < <(env | grep '^PIP_' || true)
in_root() { "${root_argv[@]}" "$@"; }

pytest_line() { # pytest_line LOG SECONDS: pytest's closing line, or what stopped before pytest
  local line
  line=$(grep -aE '^=+ .* in [0-9.]+s.*=+$' "$1" | tail -1 | sed -E 's/^=+ //; s/ =+$//')
  if [ -n "$line" ]; then
    # The rest of the step is the venv, the pip installs from the locks and the checks.
    echo "$line" | awk -v total="$2" '{ match($0, / in [0-9.]+s/)
      p = substr($0, RSTART + 4, RLENGTH - 5)
      printf "%s; before pytest (venv, pip, checks) %.0fs\n", $0, total - p }'
    return
  fi
  line=$(grep -a . "$1" | tail -1 | cut -c1-100)
  echo "no pytest summary; last line: ${line:-(none)}"
}

stop_group() { # stop_group PGID SIGNAL: signal a process group, then kill it after 20 s
  [ -n "$1" ] && kill -0 -- "-$1" 2>/dev/null || return 0
  kill "-$2" -- "-$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL -- "-$1" 2>/dev/null || true
  return 1
}

# step LOG CMD...: run CMD in its own process group, output to the terminal and LOG, and
# wait for it with `wait`, which a trapped Ctrl-C interrupts at once (a foreground child
# would first have to finish: pip, for one, can sit in a download for minutes).
step() {
  local log=$1 rc=0
  shift
  setsid bash -c 'set -o pipefail; "$@" 2>&1 | tee "$0"' "$log" "$@" </dev/null &
  step_pid=$!
  wait "$step_pid" || rc=$?
  step_pid=""
  return "$rc"
}

# ---------------------------------------------------------------------------------------
# Inside the namespaces: build or reuse the root, mount, run the steps, unmount.
inner() {
  local rebuild=$1 sha=$2 gitdir=$3 pythons=$4
  step_pid="" run_pid=""

  cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_group "$step_pid" TERM
    stop_group "$run_pid" INT
    if mountpoint -q "$merged" 2>/dev/null; then
      umount -R "$merged" 2>/dev/null || umount -R -l "$merged" || true
    fi
    if grep -qF " $fresh" /proc/self/mountinfo; then
      echo "fresh-check: mounts left in the namespace:" >&2
      grep -F " $fresh" /proc/self/mountinfo >&2
      rc=3
    fi
    # This shell is PID 1 of the namespace: when it exits, the kernel kills what is left.
    exit "$rc"
  }
  trap cleanup EXIT
  trap 'echo "fresh-check: interrupted" >&2; record interrupted FAIL - "Ctrl-C or SIGTERM"; exit 130' INT TERM

  # 1. The base root, built once (into a scratch directory, renamed when complete).
  local stamp="${packages[*]}"
  if [ "$rebuild" = 1 ] || [ "$(cat "$base/.fresh-check-packages" 2>/dev/null)" != "$stamp" ]; then
    log "Building a minbase root in $base"
    local t sources
    t=$(now)
    rm -rf "$base" "$base.tmp"
    sources=$fresh/sources.list
    debian_sources >"$sources"
    [ -s "$sources" ] || die "no Debian entry for this release in the host's apt sources"
    echo "Debian sources (from the host's apt configuration):"; sed 's/^/  /' "$sources"
    local incl
    incl=$(IFS=,; echo "${packages[*]}")
    if step "$logs/build-root.log" mmdebstrap --variant=minbase --include="$incl" \
      "$(. /etc/os-release && echo "$VERSION_CODENAME")" "$base.tmp" "$sources" >/dev/null; then
      echo "$stamp" >"$base.tmp/.fresh-check-packages"
      mv "$base.tmp" "$base"
      record "build root" pass "$(since "$t")" "minbase + ${#packages[@]} packages, $(du -sh "$base" | cut -f1)"
    else
      tail -20 "$logs/build-root.log" >&2
      record "build root" FAIL "$(since "$t")" "mmdebstrap failed: $logs/build-root.log"
      exit 1
    fi
  else
    record "build root" reused 0.0 "$base (FRESH_CHECK_REBUILD=1 to rebuild)"
  fi

  # 2. This run's root: the base under a fresh overlay (a full copy where overlayfs is missing).
  log "Preparing the run root $merged"
  local t cleared
  t=$(now)
  rm -rf "$run"
  cleared=$(since "$t")
  t=$(now)
  mkdir -p "$run/upper" "$run/work" "$merged"
  if ! mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work" "$merged" 2>/dev/null; then
    echo "no overlayfs: copying the base root"
    cp -a "$base/." "$merged/"
  fi
  mount -t proc proc "$merged/proc"
  mount --rbind /dev "$merged/dev"
  mount --rbind /sys "$merged/sys"
  mount -o remount,bind,ro "$merged/sys"
  mount -t tmpfs -o mode=1777 tmpfs "$merged/tmp"
  cp /etc/resolv.conf /etc/hosts "$merged/etc/"
  local prefix py
  for prefix in $pythons; do bind_ro "$prefix" "$merged$prefix"; done
  bind_ro "$gitdir" "$merged$host_repo"
  # The host's pip configuration, and the local indexes and files it names.
  for f in /etc/pip.conf /etc/xdg/pip/pip.conf /root/.config/pip/pip.conf ${PIP_CONFIG_FILE:-}; do
    [ -f "$f" ] && { mkdir -p "$merged$(dirname "$f")"; cp "$f" "$merged$f"; }
  done
  py=$(echo "$pythons" | head -1)/bin/python3
  while IFS= read -r p; do
    if [ -d "$p" ]; then
      # A file:// index keeps its files beside simple/: lend the index root.
      [ "$(basename "$p")" = simple ] && p=$(dirname "$p")
      mountpoint -q "$merged$p" || bind_ro "$p" "$merged$p"
    elif [ -f "$p" ]; then
      mkdir -p "$merged$(dirname "$p")"; cp "$p" "$merged$p"
    fi
  done < <(pip_paths "$py")
  # Every library the lent interpreters' modules need must be in the root (tkinter aside).
  local missing
  missing=$(for prefix in $pythons; do
      in_root sh -c "ldd $prefix/bin/python3 $prefix/lib/python3*/lib-dynload/*.so" 2>&1 \
        | awk '/^\// { m = $1 } /not found/ { print m, $1 }'
    done | grep -v '_tkinter' || true)
  record "prepare root" pass "$(since "$t")" \
    "overlay, binds: $(echo $pythons), $host_repo (last run's layer removed in ${cleared}s)"
  if [ -z "$missing" ]; then
    record "python libraries" pass 0.0 "ldd: every module's library is in the root (tkinter aside)"
  else
    echo "Libraries missing in the root (add their packages to \$packages):" >&2
    echo "$missing" >&2
    record "python libraries" FAIL 0.0 "missing: $(echo "$missing" | awk '{print $2}' | sort -u | tr '\n' ' ')"
  fi

  # 3. Clone what has been committed.
  log "git clone (HEAD ${sha:0:10})"
  t=$(now)
  if step "$logs/clone.log" "${root_argv[@]}" sh -c \
    "git clone --quiet $host_repo $clone_dir && cd $clone_dir && git checkout --quiet --detach $sha"; then
    record "git clone" pass "$(since "$t")" "${sha:0:10} into $clone_dir"
  else
    cat "$logs/clone.log" >&2
    record "git clone" FAIL "$(since "$t")" "see $logs/clone.log"
    exit 1
  fi

  # 4. make test, as the README says (SQLite).
  log "make test (SQLite) in the root"
  t=$(now)
  local status=pass secs
  step "$logs/make-test.log" "${root_argv[@]}" bash -c "cd $clone_dir && make test" || status=FAIL
  secs=$(since "$t")
  record "make test" "$status" "$secs" "$(pytest_line "$logs/make-test.log" "$secs")"

  # 5. make run, in its own process group, until it serves the login page; then stop it
  # as Ctrl-C would (SIGINT to the group), and make sure nothing is left.
  local port=${FRESH_CHECK_PORT:-}
  [ -n "$port" ] || port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log "make run (PORT=$port) in the root"
  t=$(now)
  setsid "${root_argv[@]}" bash -c "cd $clone_dir && PORT=$port exec make run" \
    >"$logs/make-run.log" 2>&1 &
  run_pid=$!
  local served="" waited=0 timeout=${FRESH_CHECK_RUN_TIMEOUT:-300}
  while [ "$waited" -lt "$timeout" ] && kill -0 "$run_pid" 2>/dev/null; do
    if "$py" - "$port" <<'EOF' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=5) as r:
    body = r.read().decode("utf-8", "replace")
sys.exit(0 if r.status == 200 and "/accounts/login/" in r.url and 'name="password"' in body else 1)
EOF
      served=$(since "$t"); break
    fi
    sleep 1; waited=$((waited + 1))
  done
  local stop_detail stop_t
  stop_t=$(now)
  if stop_group "$run_pid" INT; then
    stop_detail="stopped by SIGINT in $(since "$stop_t")s"
  else
    stop_detail="still running 20 s after SIGINT: killed"
  fi
  wait "$run_pid" 2>/dev/null || true
  run_pid=""
  if [ -n "$served" ] && [[ $stop_detail == stopped* ]]; then
    record "make run" pass "$served" "login page on :$port after ${served}s; $stop_detail"
  elif [ -n "$served" ]; then
    record "make run" FAIL "$served" "login page served; $stop_detail"
  else
    tail -20 "$logs/make-run.log" >&2
    record "make run" FAIL "$(since "$t")" "no login page on :$port; last line: $(grep -a . "$logs/make-run.log" | tail -1 | cut -c1-80)"
  fi

  # 6. Optionally the suite on PostgreSQL (database fresh_check; pytest-django uses test_fresh_check).
  if [ "${FRESH_CHECK_POSTGRES:-}" = 1 ]; then
    log "make test on PostgreSQL in the root"
    t=$(now)
    status=pass
    step "$logs/make-test-postgres.log" "${root_argv[@]}" bash -c \
      "cd $clone_dir && DATABASE_URL=postgres://postgres@127.0.0.1:5432/fresh_check make test" || status=FAIL
    secs=$(since "$t")
    record "make test (PostgreSQL)" "$status" "$secs" "$(pytest_line "$logs/make-test-postgres.log" "$secs")"
  fi
}

# ---------------------------------------------------------------------------------------
# On the host: preflight, then the inner part in private namespaces, then the report.
if [ "${1:-}" = --inner ]; then
  shift
  inner "$@"
  exit
fi

rebuild=${FRESH_CHECK_REBUILD:-0}
for arg in "$@"; do
  case $arg in
    --rebuild) rebuild=1 ;;
    -h | --help) sed -n '2,20p' "$self" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (see --help)" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "needs root (chroot and mounts): sudo make fresh-check"
command -v unshare >/dev/null || die "unshare (util-linux) is missing"
if ! command -v mmdebstrap >/dev/null; then
  log "Installing mmdebstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
fi

cd "$repo"
sha=$(git rev-parse HEAD)
gitdir=$(cd "$(git rev-parse --git-common-dir)" && pwd)
[ -z "$(git status --porcelain --untracked-files=no)" ] \
  || echo "NOTE: uncommitted changes are not checked: the root clones HEAD ${sha:0:10}."
pythons=$(host_pythons)
[ -n "$pythons" ] || die "no Python >= 3.12 outside /usr to lend the root (see .ci/find-python.sh)"

mkdir -p "$fresh" "$logs"
exec 9>"$fresh/.lock"
flock -n 9 || die "another fresh-check is running on $fresh"
: >"$results"

interrupted=0
trap 'interrupted=1' INT TERM
rc=0
unshare --mount --pid --fork --mount-proc --propagation private \
  "$self" --inner "$rebuild" "$sha" "$gitdir" "$pythons" || rc=$?
trap - INT TERM

left=$(findmnt -rn -o TARGET | grep -F "$fresh" || true)
printf '\n%-24s %-7s %8s  %s\n' step result seconds detail
printf '%-24s %-7s %8s  %s\n' ------------------------ ------- -------- ------
while IFS=$'\t' read -r step result secs detail; do
  printf '%-24s %-7s %8s  %s\n' "$step" "$result" "$secs" "$detail"
done <"$results"
echo "Logs: $logs/  (the run's root stays in $run/upper until the next run)"
if [ -n "$left" ]; then
  echo "Mounts left behind under $fresh:" >&2; echo "$left" >&2; exit 3
fi
[ "$interrupted" = 0 ] || { echo "Interrupted." >&2; exit 130; }
if [ "$rc" != 0 ] || cut -f2 "$results" | grep -q FAIL; then
  echo "fresh-check: FAILED" >&2; exit 1
fi
echo "fresh-check: the README's make test and make run work on a bare $(. /etc/os-release && echo "$PRETTY_NAME")."

#!/usr/bin/env bash
# scripts/setup.sh — set up taskmq on a fresh Debian machine.
#   scripts/setup.sh demo   install what is missing (apt, promtool), build, run the demo
#   scripts/setup.sh test   install what is missing, build, run every test: the plain build,
#                           then the whole suite again under AddressSanitizer + UBSan
#   scripts/setup.sh build  install what is missing and build (build/bin/)
#   scripts/setup.sh bench  install what is missing and the benchmark's peers, run bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-demo}

PACKAGES=(build-essential cmake pkg-config libzmq3-dev libczmq-dev libmsgpack-dev
          libjansson-dev libcmocka-dev libmicrohttpd-dev libxxhash-dev jq curl clang procps python3 python3-msgpack
          python3-zmq python3-pytest python3-setuptools python3-venv python3-pip
          systemd systemd-container strace) # the deploy units' tests (it_deploy_units, _boot)
# the peers bench/run.sh measures taskmq beside, and what it plots and profiles with
BENCH_PACKAGES=(parallel gearman-job-server libgearman-dev python3-distributed python3-celery
                python3-redis redis-server gnuplot-nox valgrind util-linux)
PROMTOOL_DIR=build-tools/bin # where fetch_promtool puts promtool (git-ignored)
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

install_missing() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== installing: ${missing[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    fetch_promtool
}

# promtool checks the broker's metrics output in the tests (it_metrics). It comes from Debian's
# prometheus package, which is not installed: its postinst starts a Prometheus server (on
# 0.0.0.0:9090 where there is no systemd). apt-get download fetches the .deb, checked by apt
# against the signed package index, and only usr/bin/promtool is taken out of it, into
# $PROMTOOL_DIR. Skipped when a promtool is on PATH or already there.
fetch_promtool() {
    command -v promtool >/dev/null && return 0
    [ -x "$PROMTOOL_DIR/promtool" ] && return 0
    echo "== fetching promtool (out of Debian's prometheus package, which is not installed)"
    local tmp
    tmp=$(mktemp -d)
    chmod 755 "$tmp" # apt's download user writes there
    if ! (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); then
        $sudo apt-get update -qq # no package index yet
        (cd "$tmp" && apt-get download -qq prometheus >/dev/null)
    fi
    dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
    mkdir -p "$PROMTOOL_DIR"
    mv "$tmp/usr/bin/promtool" "$PROMTOOL_DIR/promtool"
    rm -rf "$tmp"
    "$PROMTOOL_DIR/promtool" --version >/dev/null
}

build() { # build DIR [cmake flags...]
    local dir=$1; shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
}

case "$mode" in
build | demo | test | bench) ;;
*)
    echo "usage: scripts/setup.sh [demo|test|build|bench]" >&2 # before installing anything
    exit 2
    ;;
esac
[ "$mode" = bench ] && PACKAGES+=("${BENCH_PACKAGES[@]}")
install_missing
case "$mode" in
build)
    build build
    ;;
demo)
    build build
    TASKMQ_BIN=$PWD/build/bin scripts/demo.sh
    ;;
test)
    build build
    echo "== tests (plain build)"
    (cd build && ctest --output-on-failure --timeout 300)
    build build-asan -DTASKMQ_SANITIZE=ON
    echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure --timeout 300)
    ;;
bench)
    bench/run.sh
    ;;
*)
    echo "usage: scripts/setup.sh [demo|test|build|bench]" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# scripts/setup.sh — set up taskmq on a fresh Debian machine.
#   scripts/setup.sh demo   install what is missing (apt), build, run the demo
#   scripts/setup.sh test   install what is missing, build, run every test: the plain build,
#                           then the whole suite again under AddressSanitizer + UBSan
#   scripts/setup.sh build  install what is missing and build (build/bin/)
#   scripts/setup.sh bench  install what is missing and the benchmark's peers, run bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-demo}

PACKAGES=(build-essential cmake pkg-config libzmq3-dev libczmq-dev libmsgpack-dev
          libjansson-dev libcmocka-dev libmicrohttpd-dev libxxhash-dev jq clang procps python3
          python3-msgpack python3-zmq python3-pytest python3-setuptools python3-venv python3-pip)
BENCH_PACKAGES=(parallel) # peers bench/run.sh measures taskmq beside

install_missing() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "== installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

build() { # build DIR [cmake flags...]
    local dir=$1; shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
}

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

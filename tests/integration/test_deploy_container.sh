# deploy/Containerfile, checked without a container engine (none runs here; where one does,
# TASKMQ_CONTAINER_BUILD=1 builds and runs the image too):
#  - it parses (tests/integration/containerfile.py): two stages on debian:bookworm-slim, the
#    runtime one copying the build's install tree, a user that is not root, ports 5555 and
#    5556, STOPSIGNAL SIGTERM, an entry point;
#  - every package it installs exists in this machine's Debian (apt-cache), and the build
#    stage has every -dev package scripts/setup.sh installs for the build;
#  - its layout is what CMake installs: DESTDIR=... cmake --install with prefix /usr/local
#    gives the three programs, libtaskmq and the Python package where the runtime's python3
#    looks; every library those files link is in a runtime package it installs (or in the
#    base image), and so is every module outside the standard library that the Python
#    package imports;
#  - the programs run from that tree: a broker, a worker and a job through the Python client.
. "$(dirname "$0")/lib.sh"
: "${TASKMQ_BUILD:?}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CF=$SRC/deploy/Containerfile

python3 "$(dirname "$0")/containerfile.py" "$CF" >"$T/cf.json" || fail "deploy/Containerfile does not parse"
q() { jq -r "$@" "$T/cf.json"; }
assert_eq "$(q '.stages | length')" "2" "stages"
assert_eq "$(q '[.stages[].from] | unique | join(" ")')" "debian:bookworm-slim" "base images"
build=$(q '.stages[0].name')
[ "$build" != null ] || fail "the build stage has no name (FROM ... AS build)"
assert_eq "$(q '.stages[1].copy_from[0].stage')" "$build" "the runtime stage copies from the build stage"
destdir=$(q '.stages[0].destdir[0]')
[ "$destdir" != null ] || fail "the build stage has no DESTDIR=... cmake --install"
assert_eq "$(q '.stages[1].copy_from[0].src' | sed 's|/*$||')" "$destdir" "what the runtime stage copies"
assert_eq "$(q '.stages[1].copy_from[0].dst')" "/" "where it copies it"
user=$(q '.stages[1].user')
case "$user" in null | root | 0 | 0:*) fail "the image runs as root (USER $user)" ;; esac
assert_eq "$(q '.stages[1].expose | join(" ")')" "5555 5556" "EXPOSE"
assert_eq "$(q '.stages[1].stopsignal')" "SIGTERM" "STOPSIGNAL"
[ "$(q '.stages[1].entrypoint | length')" -gt 0 ] || fail "no ENTRYPOINT"
grep -q -- '-DCMAKE_BUILD_TYPE=RelWithDebInfo' "$CF" || fail "the build is not RelWithDebInfo"
grep -q -- '-DCMAKE_INSTALL_PREFIX=/usr/local' "$CF" || fail "the build's prefix is not /usr/local"
pass "deploy/Containerfile parses: build stage '$build', runtime as $user, 5555 5556, SIGTERM"

buildpkgs=" $(q '.stages[0].packages | join(" ")') "
runpkgs=" $(q '.stages[1].packages | join(" ")') "
# the -dev packages setup.sh installs for the build (cmocka is for the tests alone)
for p in $(sed -n '/^PACKAGES=(/,/)/p' "$SRC/scripts/setup.sh" | grep -o 'lib[a-z0-9.+-]*-dev'); do
    [ "$p" = libcmocka-dev ] && continue
    [[ "$buildpkgs" == *" $p "* ]] || fail "the build stage lacks $p (scripts/setup.sh installs it)"
done
if ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
    echo "  note: not Debian bookworm here: the packages' names are not looked up"
elif ! apt-cache show libc6 >/dev/null 2>&1; then
    echo "  note: apt has no package lists here (apt-get update): the packages' names are not looked up"
else
    for p in $buildpkgs $runpkgs; do
        apt-cache show "$p" >/dev/null 2>&1 || fail "deploy/Containerfile installs $p, which bookworm does not have"
    done
    pass "every package it installs is in Debian bookworm"
fi

# ---- the layout ----
out=$T/out
DESTDIR=$out cmake --install "$TASKMQ_BUILD" --prefix /usr/local >/dev/null || fail "cmake --install"
L=$out/usr/local
for f in bin/taskmq bin/taskmq-broker bin/taskmq-worker; do
    [ -x "$L/$f" ] || fail "not installed where the image expects it: /usr/local/$f"
done
compgen -G "$L/lib/libtaskmq.so*" >/dev/null || fail "no /usr/local/lib/libtaskmq.so (the image runs ldconfig for it)"
# Debian's python3, the one the image has (not whatever python3 comes first in PATH)
PY=/usr/bin/python3
[ -x "$PY" ] || fail "no /usr/bin/python3 (Debian's python3 package)"
pyver=$($PY -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pydir=/usr/local/lib/python$pyver/dist-packages
if [ "$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$TASKMQ_BUILD/CMakeCache.txt")" = /usr/local ]; then
    [ -f "$out$pydir/taskmq/__init__.py" ] || fail "the Python package is not in $pydir, where python3 looks for /usr/local"
    $PY -c 'import sys; sys.exit(0 if sys.argv[1] in sys.path else 1)' "$pydir" \
        || fail "python3 does not look in $pydir"
else
    echo "  note: this build's prefix is not /usr/local: the Python package's place is not checked"
fi
pass "cmake --install with prefix /usr/local puts the programs, libtaskmq and the Python package where the image expects them"

if grep -q '^TASKMQ_SANITIZE:BOOL=ON' "$TASKMQ_BUILD/CMakeCache.txt"; then
    echo "  note: a sanitizer build links its runtime: the image's libraries are checked in the plain build"
else
    # the base image has the C library and the compiler's runtime (apt needs them)
    have=" libc6 libgcc-s1 libstdc++6 $runpkgs "
    while IFS= read -r f; do
        for lib in $(objdump -p "$f" 2>/dev/null | awk '/NEEDED/ {print $2}'); do
            [ -e "$L/lib/$lib" ] && continue # ours: libtaskmq
            path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|64bit|=>/ {print $NF; exit}')
            [ -n "$path" ] || fail "$f links $lib, which this machine does not have"
            pkg=$( (dpkg -S "$path" || dpkg -S "/usr$path" || dpkg -S "${path#/usr}") 2>/dev/null | head -n 1 | cut -d: -f1)
            [ -n "$pkg" ] || fail "no Debian package holds $path (linked by $f)"
            [[ "$have" == *" $pkg "* ]] || fail "${f#"$out"} links $lib from $pkg, which the runtime stage does not install"
        done
    done < <(find "$L" -type f \( -perm -u+x -o -name '*.so*' \) | xargs file | awk -F: '/ELF/ {print $1}')
    pass "every library the installed files link is in the runtime stage's packages (or the base image)"
fi
if [ -d "$out$pydir/taskmq" ]; then
    mods=$($PY - "$out$pydir/taskmq" <<'PY'
import ast, pathlib, sys
names = set()
for f in pathlib.Path(sys.argv[1]).rglob("*.py"):
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
print(" ".join(sorted(n for n in names if n not in sys.stdlib_module_names and n != "taskmq")))
PY
)
    for m in $mods; do
        file=$($PY -c "import $m, os; print(os.path.realpath($m.__file__))" 2>/dev/null) \
            || fail "the Python package imports $m, which this machine's python3 lacks"
        pkg=$(dpkg -S "$file" 2>/dev/null | head -n 1 | cut -d: -f1)
        [[ "$runpkgs" == *" $pkg "* ]] || fail "the Python package imports $m (${pkg:-no package}), which the runtime stage does not install"
    done
    pass "the Python package's imports beyond the standard library ($mods) are in the runtime stage"
fi

# ---- the programs, run from that tree ----
export LD_LIBRARY_PATH=$L/lib
BROKER=$L/bin/taskmq-broker WORKER=$L/bin/taskmq-worker TASKMQ=$L/bin/taskmq
start_broker
start_worker c1 --procs 1
wait_workers 1
got=$(PYTHONPATH=$out$pydir timeout 30 $PY -c '
import os, sys, taskmq
assert taskmq.__file__.startswith(sys.argv[1]), taskmq.__file__
with taskmq.Client(os.environ["TASKMQ_BROKER"]) as c:
    print(c.submit("sum", 1000).result(timeout=20))' "$out") || fail "the installed Python package"
assert_eq "$got" "499500" "a job through the installed Python client"
pass "the installed tree serves: its broker, its worker and its Python client"

# ---- a real build, where a container engine runs and it is asked for ----
engine=""
for e in docker podman; do
    command -v "$e" >/dev/null && timeout 10 "$e" info >/dev/null 2>&1 && { engine=$e; break; }
done
if [ -z "$engine" ]; then
    echo "  note: no container engine runs here: the image itself is not built"
elif [ "${TASKMQ_CONTAINER_BUILD:-}" != 1 ]; then
    echo "  note: $engine runs here; TASKMQ_CONTAINER_BUILD=1 builds the image too"
else
    tag=taskmq-test:$$
    timeout 1200 "$engine" build -f "$CF" -t "$tag" "$SRC" >"$T/build.log" 2>&1 \
        || fail "$engine build: $(tail -n 20 "$T/build.log")"
    v=$("$engine" run --rm "$tag" taskmq-broker --version) || fail "$engine run $tag taskmq-broker --version"
    "$engine" rmi "$tag" >/dev/null 2>&1
    pass "$engine builds the image; it runs taskmq-broker ($v)"
fi

# The units under a real systemd: this machine's own OS booted in a container
# (systemd-nspawn, on a throwaway overlay of /, with no network but its loopback), with
# taskmq installed into /usr/local there as cmake --install lays it out. Inside, as
# docs/deploy.md tells an operator: systemd-sysusers makes the user taskmq; the quick start
# (no env files) serves on loopback; then the keys go to
# /etc/taskmq (secrets readable by the group taskmq), the env examples to /etc/taskmq; then
# the broker and taskmq-worker@w1 start with their whole sandbox, the worker registers as
# w1 and serves, an exec job finds the sandbox (user taskmq, /etc read-only, /home hidden),
# systemctl reload rereads the keys, systemctl stop drains the worker (a running job
# finishes) and stops both with exit 0. What systemd-analyze cannot show: that the
# sandbox lets the programs work.
# Needs root, systemd-nspawn (Debian: systemd-container) and overlayfs; skips elsewhere, and
# where the container does not boot at all (it never ran the test's own service).
. "$(dirname "$0")/lib.sh"
: "${TASKMQ_BUILD:?}"
if [ "$(id -u)" != 0 ] || ! command -v systemd-nspawn >/dev/null || ! command -v unshare >/dev/null; then
    echo "SKIP: needs root and systemd-nspawn (Debian: apt-get install systemd-container)"
    exit 77
fi
if ! grep -qw overlay /proc/filesystems; then
    echo "SKIP: needs overlayfs (the container is an overlay of /)"
    exit 77
fi
if grep -q '^TASKMQ_SANITIZE:BOOL=ON' "$TASKMQ_BUILD/CMakeCache.txt"; then
    echo "SKIP: a sanitizer build (its runtime under the units' sandbox is not what ships)"
    exit 77
fi
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$TASKMQ_BUILD/CMakeCache.txt")
case "$prefix" in
/usr | /) echo "SKIP: install prefix $prefix would hide the container's own OS"; exit 77 ;;
esac
DESTDIR=$T/inst cmake --install "$TASKMQ_BUILD" >/dev/null || fail "cmake --install"
drain=1
"$WORKER" --help | grep -q -- --drain-timeout || drain=0
mkdir -p "$T/box" "$T/out" "$T/rw" "$T/root"

# The test, run inside by a service of its own; it writes "ok ..." / "FAIL ..." lines.
cat >"$T/box/inner.sh" <<'INNER'
#!/bin/bash
exec >/srv/out/inner.log 2>&1
R=/srv/out/results
ok() { echo "ok - $*" >>$R; }
bad() { echo "FAIL: $*" >>$R; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
trap 'echo "done" >>$R; systemctl poweroff' EXIT
tmq() { timeout 20 taskmq --connect-timeout 2000 "$@"; }
ended() { echo "$(systemctl show -P Result "$1") $(systemctl show -P ExecMainStatus "$1")"; }
set -x
systemd-sysusers
check "systemd-sysusers makes the user taskmq (lib/sysusers.d/taskmq.conf)" getent passwd taskmq
# the quick start of docs/deploy.md: no env files, a broker for this machine alone
systemctl daemon-reload
systemctl enable --now taskmq-broker
systemctl enable --now "taskmq-worker@$(hostname -s)"
until [ "$(timeout 5 taskmq --connect-timeout 2000 status --json | jq -r '.workers[0].name')" = "$(hostname -s)" ] ||
    [ $SECONDS -gt 30 ]; do sleep 0.1; done
check "the quick start (no env files): a loopback broker and a worker named after the host serve" \
    test "$(timeout 20 taskmq submit sum 10)" = 45
systemctl disable --now "taskmq-worker@$(hostname -s)" taskmq-broker
# keys as docs/deploy.md sets them up (the broker's host and a worker's host in one)
install -d -m 0755 /etc/taskmq /etc/taskmq/clients /etc/taskmq/workers
install -d -m 0750 -g taskmq /etc/taskmq/keys
taskmq keygen /etc/taskmq/keys/broker && taskmq keygen /etc/taskmq/keys/worker
chgrp taskmq /etc/taskmq/keys/broker_secret /etc/taskmq/keys/worker_secret
chmod 0640 /etc/taskmq/keys/broker_secret /etc/taskmq/keys/worker_secret
cp /etc/taskmq/keys/worker /etc/taskmq/workers/w1
taskmq keygen /root/me && cp /root/me /etc/taskmq/clients/me
ex=/usr/local/share/doc/taskmq/examples
cp $ex/broker.env /etc/taskmq/broker.env
sed 's|tcp://broker.example:5556|tcp://127.0.0.1:5556|' $ex/worker.env >/etc/taskmq/worker.env
[ "$DRAIN" = 1 ] || sed -i 's|--drain-timeout 30||' /etc/taskmq/worker.env
printf 'TASKMQ_INSTANCE_OPTS="--procs 2 --allow-exec"\n' >/etc/taskmq/worker-w1.env
# docs/deploy.md's drop-in: a directory the jobs may write to
install -d -o taskmq -g taskmq /srv/shared
mkdir -p /etc/systemd/system/taskmq-worker@w1.service.d
printf '[Service]\nReadWritePaths=/srv/shared\n' >/etc/systemd/system/taskmq-worker@w1.service.d/shared.conf
systemctl daemon-reload
systemctl start taskmq-broker.service taskmq-worker@w1.service
check "taskmq-broker.service is active" systemctl is-active -q taskmq-broker.service
export TASKMQ_BROKER=tcp://127.0.0.1:5555 TASKMQ_CURVE_CERT=/root/me_secret TASKMQ_BROKER_CERT=/etc/taskmq/keys/broker
until [ "$(tmq status --json | jq -r '.workers[0].name')" = w1 ] || [ $SECONDS -gt 60 ]; do
    sleep 0.1
done
check "the worker registers under its instance name, w1, with its keys" \
    test "$(tmq status --json | jq -r '.workers[0].name')" = w1
check "jobs run" test "$(tmq submit sum 1000)" = 499500
out=$(tmq submit exec '{"argv":["sh","-c","id -un; touch /etc/x || echo ro; ls /home || echo hidden; echo t >/tmp/t && cat /tmp/t; touch /srv/shared/x && echo shared"]}')
check "an exec job runs in the sandbox: user taskmq, /etc read-only, /home hidden, /tmp and the drop-in's ReadWritePaths writable" \
    test "$(jq -r .stdout <<<"$out")" = "$(printf 'taskmq\nro\nhidden\nt\nshared')"
systemctl reload taskmq-broker.service
sleep 0.5
check "systemctl reload reads the key directories again" \
    sh -c "journalctl -u taskmq-broker.service | grep -q 'key directories read again'"
if [ "$DRAIN" = 1 ]; then
    tmq submit sleep 2000 >/srv/out/drained 2>/srv/out/drained.err &
    job=$!
    for _ in $(seq 1 50); do
        [ "$(tmq status --json | jq '[.workers[].busy] | add')" = 1 ] && break
        sleep 0.1
    done
fi
systemctl stop taskmq-worker@w1.service
check "systemctl stop: the worker exits 0" \
    test "$(ended taskmq-worker@w1.service)" = "success 0"
if [ "$DRAIN" = 1 ]; then
    wait $job
    check "systemctl stop drains: the running job finishes" test "$(cat /srv/out/drained)" = 2000
fi
systemctl stop taskmq-broker.service
check "systemctl stop: the broker exits 0" \
    test "$(ended taskmq-broker.service)" = "success 0"
journalctl --no-pager -u taskmq-broker.service -u 'taskmq-worker@*'
INNER
chmod +x "$T/box/inner.sh"
cat >"$T/box/tmqtest.service" <<EOF
[Unit]
Description=taskmq units under systemd (it_deploy_boot)
After=systemd-journald.socket systemd-sysusers.service
[Service]
Type=oneshot
Environment=DRAIN=$drain
ExecStart=/srv/inner.sh
EOF

# A private mount namespace holds the overlay: nothing of it shows on this machine.
uuid=$(tr -d - </proc/sys/kernel/random/uuid)
timeout 180 unshare -m --propagation private bash -c '
    set -e
    mount -t tmpfs -o size=1g tmpfs "$1/rw"
    mkdir "$1/rw/upper" "$1/rw/work"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$1/rw/upper,workdir=$1/rw/work" "$1/root"
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec systemd-nspawn -q -D "$1/root" --private-network \
        --register=no --keep-unit --link-journal=no --uuid="$2" \
        --bind-ro="$1/inst$3:$3" --bind-ro="$1/box/inner.sh:/srv/inner.sh" --bind="$1/out:/srv/out" \
        --bind-ro="$1/box/tmqtest.service:/etc/systemd/system/tmqtest.service" \
        --boot systemd.unit=tmqtest.service' - "$T" "$uuid" "$prefix" >"$T/nspawn.log" 2>&1
rc=$?
if [ ! -f "$T/out/results" ]; then # the machine cannot boot a container: not the units' doing
    echo "SKIP: systemd-nspawn did not boot this OS here (exit $rc); its log ends:"
    tail -n 20 "$T/nspawn.log"
    exit 77
fi
sed 's/^/  /' "$T/out/results"
if grep -q '^FAIL' "$T/out/results" || ! grep -q '^ok - systemctl stop: the broker' "$T/out/results"; then
    cp "$T/out/inner.log" "$T/inner.log"
    fail "under systemd: $(grep '^FAIL' "$T/out/results" | head -n 3)"
fi
[ "$drain" = 1 ] || echo "  note: this taskmq-worker has no --drain-timeout yet: draining not checked"
pass "the units run under systemd with their sandbox: keys, jobs, reload, stop"

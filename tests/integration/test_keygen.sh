# `taskmq keygen PATH` writes PATH and PATH_secret (0600); it never replaces an existing one
# without --force (exit 1, "PATH exists; --force to overwrite"), says why a file cannot be
# written, and leaves no half pair behind. No broker involved.
. "$(dirname "$0")/lib.sh"
if ! tmq keygen "$T/probe" >/dev/null 2>"$T/probe.err"; then
    grep -q "no CurveZMQ support" "$T/probe.err" || fail "keygen: $(cat "$T/probe.err")"
    echo "skipped: this czmq has no CurveZMQ"
    exit 77
fi

k="$T/k"
tmq keygen "$k" >"$T/out" || fail "keygen exited $?"
assert_eq "$(cat "$T/out")" "wrote $k (public) and ${k}_secret (secret)" "keygen output"
assert_eq "$(stat -c %a "${k}_secret")" "600" "secret file mode"
grep -q "secret-key" "${k}_secret" || fail "no secret key in ${k}_secret"
cp "$k" "$T/pub.0"; cp "${k}_secret" "$T/sec.0"
pass "keygen writes a pair"

tmq keygen "$k" >/dev/null 2>"$T/again"
assert_eq "$?" "1" "keygen over an existing pair"
assert_eq "$(cat "$T/again")" "taskmq: $k exists; --force to overwrite" "the refusal"
cmp -s "$k" "$T/pub.0" && cmp -s "${k}_secret" "$T/sec.0" || fail "the pair changed"
rm "$k"
tmq keygen "$k" >/dev/null 2>"$T/secret-left"
assert_eq "$?" "1" "keygen over an existing secret"
assert_eq "$(cat "$T/secret-left")" "taskmq: ${k}_secret exists; --force to overwrite" "secret refusal"
[ -e "$k" ] && fail "a public file was written beside the old secret"
cmp -s "${k}_secret" "$T/sec.0" || fail "the secret changed"
pass "an existing PATH or PATH_secret is kept: exit 1, says --force"

cp "$T/pub.0" "$k"
tmq keygen --force "$k" >/dev/null || fail "keygen --force exited $?"
cmp -s "${k}_secret" "$T/sec.0" && fail "--force kept the old secret"
cmp -s "$k" "$T/pub.0" && fail "--force kept the old public key"
assert_eq "$(stat -c %a "${k}_secret")" "600" "secret file mode after --force"
pass "--force overwrites both"

tmq keygen "$T/no/such/dir/k" >/dev/null 2>"$T/nodir"
assert_eq "$?" "1" "keygen into a missing directory"
assert_eq "$(cat "$T/nodir")" "taskmq: cannot write $T/no/such/dir/k: No such file or directory" "the reason"
mkdir "$T/e_secret"
tmq keygen "$T/e" >/dev/null 2>"$T/dir"
assert_eq "$(cat "$T/dir")" "taskmq: $T/e_secret exists; --force to overwrite" "a directory in the way"
tmq keygen --force "$T/e" >/dev/null 2>"$T/dir"
assert_eq "$?" "1" "keygen --force where the secret cannot be written"
assert_eq "$(cat "$T/dir")" "taskmq: cannot write $T/e_secret: Is a directory" "the secret's reason"
[ -e "$T/e" ] && fail "half a pair left behind"
pass "a write failure says which file and why, and leaves no half pair"

# a secret another user cannot read is "Permission denied", not missing, nor "no secret key"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 755 "$T"
    tmq keygen "$T/u" >/dev/null && tmq keygen "$T/b" >/dev/null || fail "keygen"
    chmod 000 "$T/u_secret"
    as_nobody() { timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    for c in "$T/u" "$T/u_secret"; do
        as_nobody "$TASKMQ" --curve-cert "$c" --broker-cert "$T/b" status 2>"$T/perm.err"
        assert_eq "$?" "2" "an unreadable secret ($c)"
        assert_eq "$(cat "$T/perm.err")" "taskmq: cannot read $T/u_secret: Permission denied" \
            "what an unreadable secret ($c) is told"
    done
    as_nobody "$WORKER" --curve-cert "$T/u" --broker-cert "$T/b" --procs 1 2>"$T/wperm.err"
    assert_eq "$?" "2" "the worker with an unreadable secret"
    grep -q "cannot read $T/u_secret: Permission denied" "$T/wperm.err" || fail "worker: $(cat "$T/wperm.err")"
    pass "an unreadable secret: 'Permission denied', naming the secret file"
fi

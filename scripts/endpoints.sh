# scripts/endpoints.sh — sourced by the demo, the benchmark and the integration tests.
# tmq_await_endpoints LOG PID: waits (5 s at most) until the broker with PID has logged the
# endpoints it bound (it does when started with tcp://127.0.0.1:*), and sets FRONTEND and
# BACKEND. Returns 1 when the broker exited or never said.
tmq_await_endpoints() {
    local log=$1 pid=$2
    FRONTEND="" BACKEND=""
    for _ in $(seq 1 100); do
        FRONTEND=$(sed -n 's/.*frontend bound to \(tcp:[^ ]*\).*/\1/p' "$log" | head -n1)
        BACKEND=$(sed -n 's/.*backend bound to \(tcp:[^ ]*\).*/\1/p' "$log" | head -n1)
        [ -n "$FRONTEND" ] && [ -n "$BACKEND" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Integration tests: real broker, worker daemons and client tool on loopback ports.
tmq_integration_test(it_results SCRIPT test_results.sh TIMEOUT 120)
tmq_integration_test(it_order SCRIPT test_order.sh TIMEOUT 120)
tmq_integration_test(it_stdin SCRIPT test_stdin.sh TIMEOUT 180)
tmq_integration_test(it_errors SCRIPT test_errors.sh TIMEOUT 120)
tmq_integration_test(it_local_status SCRIPT test_local_status.sh TIMEOUT 120)

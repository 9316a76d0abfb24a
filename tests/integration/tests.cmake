# Integration tests: real broker, worker daemons and client tool on loopback ports.
tmq_integration_test(it_results SCRIPT test_results.sh TIMEOUT 120)
tmq_integration_test(it_order SCRIPT test_order.sh TIMEOUT 120)
tmq_integration_test(it_stdin SCRIPT test_stdin.sh TIMEOUT 180)
tmq_integration_test(it_errors SCRIPT test_errors.sh TIMEOUT 120)
tmq_integration_test(it_local_status SCRIPT test_local_status.sh TIMEOUT 120)
tmq_integration_test(it_fault_executor SCRIPT test_fault_executor.sh TIMEOUT 120)
tmq_integration_test(it_fault_kill SCRIPT test_fault_kill.sh TIMEOUT 300)
tmq_integration_test(it_fault_stop SCRIPT test_fault_stop.sh TIMEOUT 120)
tmq_integration_test(it_bad_input SCRIPT test_bad_input.sh TIMEOUT 180)
tmq_integration_test(it_client_gone SCRIPT test_client_gone.sh TIMEOUT 120)
tmq_integration_test(it_max_queue SCRIPT test_max_queue.sh TIMEOUT 180)
tmq_integration_test(it_broker_restart SCRIPT test_broker_restart.sh TIMEOUT 120)
tmq_integration_test(it_install SCRIPT test_install.sh TIMEOUT 120)
tmq_integration_test(it_broker_cli SCRIPT test_broker_cli.sh TIMEOUT 120)
tmq_integration_test(it_broker_peers SCRIPT test_broker_peers.sh TIMEOUT 120)
tmq_integration_test(it_stranded SCRIPT test_stranded.sh TIMEOUT 180)
tmq_integration_test(it_worker_cli SCRIPT test_worker_cli.sh TIMEOUT 120)
# A program that exits without tmq_client_destroy (links the shared libtaskmq, as users do).
add_executable(tmq_no_destroy integration/tmq_no_destroy.c)
target_link_libraries(tmq_no_destroy PRIVATE taskmq-lib)
set_target_properties(tmq_no_destroy PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
tmq_integration_test(it_client_exit SCRIPT test_client_exit.sh TIMEOUT 120)
set_property(TEST it_client_exit APPEND PROPERTY ENVIRONMENT
  "TASKMQ_NO_DESTROY=${CMAKE_BINARY_DIR}/tests/tmq_no_destroy")
tmq_integration_test(it_stdin_eof SCRIPT test_stdin_eof.sh TIMEOUT 120)
tmq_integration_test(it_input_modes SCRIPT test_input_modes.sh TIMEOUT 120)
tmq_integration_test(it_fail_fast SCRIPT test_fail_fast.sh TIMEOUT 120)
tmq_integration_test(it_progress SCRIPT test_progress.sh TIMEOUT 120)
tmq_integration_test(it_cli_errors SCRIPT test_cli_errors.sh TIMEOUT 120)
tmq_integration_test(it_broker_shutdown SCRIPT test_broker_shutdown.sh TIMEOUT 120)
tmq_integration_test(it_status_functions SCRIPT test_status_functions.sh TIMEOUT 120)
tmq_integration_test(it_std_fds SCRIPT test_std_fds.sh TIMEOUT 60)
tmq_integration_test(it_keygen SCRIPT test_keygen.sh TIMEOUT 60)
set_tests_properties(it_keygen PROPERTIES SKIP_RETURN_CODE 77)
tmq_integration_test(it_waiting SCRIPT test_waiting.sh TIMEOUT 60)
tmq_integration_test(it_executor_cmd SCRIPT test_executor_cmd.sh TIMEOUT 120)
# C plugins built against the installed SDK and served by the installed worker.
tmq_integration_test(it_plugin SCRIPT test_plugin.sh TIMEOUT 240)
tmq_integration_test(it_exec SCRIPT test_exec.sh TIMEOUT 120)
tmq_integration_test(it_mem_limit SCRIPT test_mem_limit.sh TIMEOUT 120)
# Job memory limits (--mem-limit, --retry-oom) through a real broker to a worker that reports OOM.
tmq_integration_test(it_oom SCRIPT test_oom.sh TIMEOUT 120)
# Python job functions: taskmq-worker --python with python/taskmq/executor.py.
tmq_integration_test(it_python SCRIPT test_python.sh TIMEOUT 120)
tmq_integration_test(it_netns_cluster SCRIPT test_netns_cluster.sh TIMEOUT 180)
tmq_integration_test(it_netns_curve SCRIPT test_netns_curve.sh TIMEOUT 180)
tmq_integration_test(it_daemon_files SCRIPT test_daemon_files.sh TIMEOUT 60)
tmq_integration_test(it_drain SCRIPT test_drain.sh TIMEOUT 120)
tmq_integration_test(it_drain_edges SCRIPT test_drain_edges.sh TIMEOUT 60)
# The tool through a journaled broker's restart (a fake one: fake_journal_broker.py).
tmq_integration_test(it_client_journal SCRIPT test_client_journal.sh TIMEOUT 90)
# The broker's --metrics endpoint; its scrapes are checked by promtool, which
# scripts/setup.sh takes out of Debian's prometheus package into build-tools/bin.
find_program(TASKMQ_PROMTOOL promtool HINTS ${CMAKE_SOURCE_DIR}/build-tools/bin)
tmq_integration_test(it_metrics SCRIPT test_metrics.sh TIMEOUT 120)
set_property(TEST it_metrics APPEND PROPERTY ENVIRONMENT "TASKMQ_PROMTOOL=${TASKMQ_PROMTOOL}")
# deploy/systemd: the installed units pass systemd-analyze verify and security, their
# SystemCallFilter= lets the programs' calls through, and the env files' flags work.
tmq_integration_test(it_deploy_units SCRIPT test_deploy_units.sh TIMEOUT 120)
# ... and run under a real systemd: this machine's OS booted in systemd-nspawn (root only).
tmq_integration_test(it_deploy_boot SCRIPT test_deploy_boot.sh TIMEOUT 240)
# deploy/Containerfile without a container engine: it parses, its packages exist, its layout
# is what cmake --install makes, its runtime packages hold every library the programs link.
tmq_integration_test(it_deploy_container SCRIPT test_deploy_container.sh TIMEOUT 120)
tmq_integration_test(it_journal_sessions SCRIPT test_journal_sessions.sh TIMEOUT 180)
tmq_integration_test(it_batches_proto SCRIPT test_batches_proto.sh TIMEOUT 90)
tmq_integration_test(it_journal_crash SCRIPT test_journal_crash.sh TIMEOUT 300)
# Named batches with the tool: map --batch killed, attach, --ordered, batches, --resume, restarts.
tmq_integration_test(it_batches SCRIPT test_batches.sh TIMEOUT 120)

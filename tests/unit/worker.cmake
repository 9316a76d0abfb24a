# Worker unit tests (included from tests/CMakeLists.txt; paths relative to tests/).
tmq_unit_test(test_builtins SOURCES unit/test_builtins.c LIBS tmq_worker)
tmq_unit_test(test_worker_frame SOURCES unit/test_worker_frame.c LIBS tmq_worker)
tmq_unit_test(test_worker_wjob SOURCES unit/test_worker_wjob.c LIBS tmq_worker)
tmq_unit_test(test_worker_pace SOURCES unit/test_worker_pace.c LIBS tmq_worker)
tmq_unit_test(test_worker_options SOURCES unit/test_worker_options.c LIBS tmq_worker)
# Starts real executor processes: the built taskmq-worker in --executor mode.
tmq_unit_test(test_worker_supervisor SOURCES unit/test_worker_supervisor.c LIBS tmq_worker)
target_compile_definitions(test_worker_supervisor PRIVATE
  TMQ_WORKER_BIN="$<TARGET_FILE:taskmq-worker>")
add_dependencies(test_worker_supervisor taskmq-worker)
# Runs real commands (sh, cat, wc, ...) through the exec built-in.
tmq_unit_test(test_exec SOURCES unit/test_exec.c LIBS tmq_worker)

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
# The plugin SDK: the registry, replies, argument readers, and real plugins loaded into the
# test, which exports the SDK as taskmq-worker does. The test plugins are the integration
# test's sources (tests/integration/plugins), built here against the in-tree header.
foreach(tp tp_crash tp_wrong_abi tp_dup tp_init_fail tp_noinit tp_alloc)
  add_library(${tp} MODULE integration/plugins/${tp}.c)
  target_include_directories(${tp} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  set_target_properties(${tp} PROPERTIES PREFIX "" LIBRARY_OUTPUT_DIRECTORY
    ${CMAKE_BINARY_DIR}/tests/plugins)
endforeach()
tmq_unit_test(test_worker_plugin SOURCES unit/test_worker_plugin.c LIBS tmq_worker)
tmq_export_plugin_sdk(test_worker_plugin)
target_compile_definitions(test_worker_plugin PRIVATE
  WORDCOUNT_SO="$<TARGET_FILE:wordcount>" TP_DIR="${CMAKE_BINARY_DIR}/tests/plugins"
  TP_SRC="${CMAKE_CURRENT_SOURCE_DIR}/integration/plugins")
add_dependencies(test_worker_plugin wordcount tp_crash tp_wrong_abi tp_dup tp_init_fail tp_noinit tp_alloc)
# Runs real commands (sh, cat, wc, ...) through the exec built-in.
tmq_unit_test(test_exec SOURCES unit/test_exec.c LIBS tmq_worker)
tmq_unit_test(test_worker_memlimit SOURCES unit/test_worker_memlimit.c LIBS tmq_worker)

# tests/python.cmake — the Python client's tests (python/tests), run by Debian's python3
# against the built programs. Included from tests/CMakeLists.txt.
add_test(NAME py_client
  COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/python/tests/test_client.py)
set_tests_properties(py_client PROPERTIES TIMEOUT 300 LABELS integration
  ENVIRONMENT "TASKMQ_BIN=${CMAKE_BINARY_DIR}/bin;PYTHONPATH=${CMAKE_SOURCE_DIR}/python")
add_test(NAME py_aio
  COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/python/tests/test_aio.py)
set_tests_properties(py_aio PROPERTIES TIMEOUT 300 LABELS integration
  ENVIRONMENT "TASKMQ_BIN=${CMAKE_BINARY_DIR}/bin;PYTHONPATH=${CMAKE_SOURCE_DIR}/python")
add_test(NAME py_cancel
  COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/python/tests/test_cancel.py)
set_tests_properties(py_cancel PROPERTIES TIMEOUT 300 LABELS integration
  ENVIRONMENT "TASKMQ_BIN=${CMAKE_BINARY_DIR}/bin;PYTHONPATH=${CMAKE_SOURCE_DIR}/python")

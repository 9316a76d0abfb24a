# Unit tests of the client library and the `taskmq` tool (included from tests/CMakeLists.txt).
# test_client: pure logic. test_client_lib: libtaskmq against a fake broker over inproc.
tmq_unit_test(test_client SOURCES unit/test_client.c LIBS tmq_cli)
tmq_unit_test(test_client_lib SOURCES unit/test_client_lib.c LIBS taskmq-lib-static)

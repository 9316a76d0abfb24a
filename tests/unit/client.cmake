# Unit tests of the client library and the `taskmq` tool (included from tests/CMakeLists.txt).
# test_cli: the tool's modules, pure logic. test_client_lib: libtaskmq against a fake broker
# over inproc (and the status rendering of its reply).
tmq_unit_test(test_cli SOURCES unit/test_cli.c LIBS tmq_cli)
tmq_unit_test(test_client_lib SOURCES unit/test_client_lib.c LIBS taskmq-lib-static tmq_cli)
# test_cli_exec: `taskmq map --exec`'s replacement strings, arguments, quoting, results, joblog.
tmq_unit_test(test_cli_exec SOURCES unit/test_cli_exec.c LIBS tmq_cli)
# test_client_session: a client's session (PROTOCOL.md 5.7) as plain data, on its own clock.
tmq_unit_test(test_client_session SOURCES unit/test_client_session.c LIBS taskmq-lib-static)
# test_client_attach: an attachment to a named batch (PROTOCOL.md 5.8) as plain data.
tmq_unit_test(test_client_attach SOURCES unit/test_client_attach.c LIBS taskmq-lib-static)

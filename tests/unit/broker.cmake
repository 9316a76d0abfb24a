# broker unit tests: the core state machine driven without a network (one executable per
# handler over tests/unit/broker_harness.c), and its data structures.
foreach(part frontend backend dispatch core session)
  tmq_unit_test(test_broker_${part} SOURCES unit/test_broker_${part}.c unit/broker_harness.c
    LIBS tmq_broker)
endforeach()
tmq_unit_test(test_broker_structs SOURCES unit/test_broker_structs.c LIBS tmq_broker)
tmq_unit_test(test_broker_zap SOURCES unit/test_broker_zap.c LIBS tmq_broker)
tmq_unit_test(test_broker_metrics SOURCES unit/test_broker_metrics.c unit/broker_harness.c
  LIBS tmq_broker_metrics)
# the journal's storage engine on its own, in temporary directories (one test mounts a small
# tmpfs to fill it, and skips when mounting is not permitted)
tmq_unit_test(test_journal SOURCES unit/test_journal.c LIBS tmq_broker TIMEOUT 120)

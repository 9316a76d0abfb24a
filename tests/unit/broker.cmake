# broker unit tests: the core state machine driven without a network, and its data structures.
tmq_unit_test(test_broker SOURCES unit/test_broker.c LIBS tmq_broker)
tmq_unit_test(test_broker_structs SOURCES unit/test_broker_structs.c LIBS tmq_broker)

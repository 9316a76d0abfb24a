/* common/exits.h — exit statuses shared by the taskmq programs (each --help lists its own).
 *
 * taskmq: 0 every job succeeded, 1 some job failed, 2 usage or input error, 3 no broker
 * reachable (or it refused us), 4 lost the broker mid-run, 130 interrupted.
 * taskmq-broker: 0 clean shutdown, 1 could not serve (bind failed), 2 usage.
 * taskmq-worker: 0 clean stop, 1 could not start its executors, 2 usage, 3 the broker
 * cannot be reached (host does not resolve) or refused us (wrong port).
 */
#ifndef TMQ_EXITS_H
#define TMQ_EXITS_H

#define TMQ_EXIT_OK 0
#define TMQ_EXIT_FAILED 1
#define TMQ_EXIT_USAGE 2
#define TMQ_EXIT_NO_BROKER 3
#define TMQ_EXIT_LOST_BROKER 4
#define TMQ_EXIT_INTERRUPTED 130

#endif

/* common/endpoint.h — checking ZeroMQ endpoints before handing them to libzmq.
 *
 * libzmq accepts a connect to a host that does not resolve and then retries it forever, and
 * refuses to bind a host name with "No such device". These checks turn both into a clear
 * message at start: the syntax (tcp://HOST:PORT, ipc://PATH, inproc://NAME), whether a host
 * to connect to resolves, and for a bind, a host name resolved to the address to bind.
 */
#ifndef TMQ_ENDPOINT_H
#define TMQ_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    TMQ_EP_OK = 0,
    TMQ_EP_SYNTAX = -1,     /* not an endpoint taskmq can use: a usage error */
    TMQ_EP_UNRESOLVED = -2, /* the host name does not resolve (the resolver's words in err) */
} tmq_ep_status_t;

/* Checks the syntax of ep. For a connect (bind false) the port must be a number 1..65535;
 * for a bind it may also be '*' (any free port) and the host '*' (every interface). Returns
 * TMQ_EP_OK or TMQ_EP_SYNTAX with a one-line reason in err ("tcp endpoints are
 * tcp://HOST:PORT, not ..."). */
int tmq_endpoint_check(const char *ep, bool bind, char *err, size_t errlen);
/* The same with the example endpoint the reason suggests (the default is a client's,
 * tcp://127.0.0.1:5555; a worker suggests its own port). */
int tmq_endpoint_check_ex(const char *ep, bool bind, const char *example, char *err, size_t errlen);

/* For a connect: checks ep and that its host resolves. Returns TMQ_EP_OK, TMQ_EP_SYNTAX or
 * TMQ_EP_UNRESOLVED ("cannot resolve host 'x': Name or service not known"). The endpoint is
 * used as given (libzmq resolves it again on every reconnect). */
int tmq_endpoint_connectable(const char *ep, char *err, size_t errlen);

/* For a bind: checks ep and writes into out the endpoint to give libzmq: unchanged when its
 * host is '*', an IPv4 address or an interface name, else with the host name replaced by the
 * first IPv4 address it resolves to. Same returns as tmq_endpoint_connectable. */
int tmq_endpoint_bindable(const char *ep, char *out, size_t outlen, char *err, size_t errlen);

/* The port of a tcp endpoint ("5555", or "*"), into buf; "" for other transports. */
void tmq_endpoint_port(const char *ep, char *buf, size_t len);

#endif

/* common/endpoint.c — see endpoint.h. */
#include "endpoint.h"

#include "platform.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define S_HOST_MAX 256

/* Splits "tcp://HOST:PORT" (HOST may be [v6]); 0, or -1 when it has no host or no port. */
static int s_split(const char *ep, char *host, size_t hlen, char *port, size_t plen)
{
    const char *hp = ep + 6; /* after "tcp://" */
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp || colon[1] == '\0') return -1;
    size_t n = (size_t)(colon - hp);
    if (n >= hlen || strlen(colon + 1) >= plen) return -1;
    memcpy(host, hp, n);
    host[n] = '\0';
    snprintf(port, plen, "%s", colon + 1);
    return 0;
}

int tmq_endpoint_check(const char *ep, bool bind, char *err, size_t errlen)
{
    return tmq_endpoint_check_ex(ep, bind, "tcp://127.0.0.1:5555", err, errlen);
}

int tmq_endpoint_check_ex(const char *ep, bool bind, const char *example, char *err, size_t errlen)
{
    if (!ep || !*ep) {
        snprintf(err, errlen, "an endpoint is needed, e.g. %s", example);
        return TMQ_EP_SYNTAX;
    }
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0) {
        if (ep[strlen(ep) - 1] == '/') {
            snprintf(err, errlen, "'%s' names no path", ep);
            return TMQ_EP_SYNTAX;
        }
        return TMQ_EP_OK;
    }
    char host[S_HOST_MAX], port[16];
    if (strncmp(ep, "tcp://", 6) != 0 || s_split(ep, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "'%s' is not an endpoint: use tcp://HOST:PORT (e.g. %s)%s", ep,
                 example, bind ? ", tcp://*:PORT for every interface" : "");
        return TMQ_EP_SYNTAX;
    }
    long p;
    if (!(bind && strcmp(port, "*") == 0) && tmq_parse_long(port, 1, 65535, &p) != 0) {
        snprintf(err, errlen, "'%s': the port must be a number from 1 to 65535%s, not '%s'", ep,
                 bind ? " or '*'" : "", port);
        return TMQ_EP_SYNTAX;
    }
    if (!bind && strcmp(host, "*") == 0) {
        snprintf(err, errlen,
                 "'%s': '*' is for binding; connect to the broker's host name or "
                 "address",
                 ep);
        return TMQ_EP_SYNTAX;
    }
    return TMQ_EP_OK;
}

static bool s_is_ipv4(const char *host)
{
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1;
}

/* The first IPv4 address of host into out; TMQ_EP_OK or TMQ_EP_UNRESOLVED. */
static int s_resolve(const char *host, char *out, size_t outlen, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve host '%s': %s", host,
                 rc == EAI_SYSTEM ? "system error" : gai_strerror(rc));
        if (res) freeaddrinfo(res);
        return TMQ_EP_UNRESOLVED;
    }
    const struct sockaddr_in *sin = (const struct sockaddr_in *)res->ai_addr;
    inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)outlen);
    freeaddrinfo(res);
    return TMQ_EP_OK;
}

int tmq_endpoint_connectable(const char *ep, char *err, size_t errlen)
{
    int rc = tmq_endpoint_check(ep, false, err, errlen);
    if (rc != TMQ_EP_OK || strncmp(ep, "tcp://", 6) != 0) return rc;
    char host[S_HOST_MAX], port[16], addr[INET_ADDRSTRLEN];
    s_split(ep, host, sizeof host, port, sizeof port);
    if (s_is_ipv4(host)) return TMQ_EP_OK;
    return s_resolve(host, addr, sizeof addr, err, errlen);
}

int tmq_endpoint_bindable(const char *ep, char *out, size_t outlen, char *err, size_t errlen)
{
    int rc = tmq_endpoint_check(ep, true, err, errlen);
    if (rc != TMQ_EP_OK) return rc;
    snprintf(out, outlen, "%s", ep);
    if (strncmp(ep, "tcp://", 6) != 0) return TMQ_EP_OK;
    char host[S_HOST_MAX], port[16], addr[INET_ADDRSTRLEN];
    s_split(ep, host, sizeof host, port, sizeof port);
    if (strcmp(host, "*") == 0 || s_is_ipv4(host) || if_nametoindex(host) != 0) return TMQ_EP_OK;
    rc = s_resolve(host, addr, sizeof addr, err, errlen);
    if (rc == TMQ_EP_OK) snprintf(out, outlen, "tcp://%s:%s", addr, port);
    return rc;
}

void tmq_endpoint_port(const char *ep, char *buf, size_t len)
{
    char host[S_HOST_MAX];
    if (len) buf[0] = '\0';
    if (!ep || strncmp(ep, "tcp://", 6) != 0 || s_split(ep, host, sizeof host, buf, len) != 0)
        if (len) buf[0] = '\0';
}

/* client/link.h — the client's broker link: a czmq actor that owns the DEALER.
 *
 * The user thread talks to the broker through the actor's pipe: every protocol message
 * ([header][body]) written to the pipe goes to the broker, and every message from the
 * broker except HEARTBEAT comes out of the pipe. The actor sends HELLO when it starts and
 * HEARTBEAT whenever it has sent nothing for the broker's heartbeat interval, so a busy user
 * thread never gets its client expired. "$TERM" (zactor_destroy) stops it; messages already
 * handed to the DEALER keep going out for TMQ_LINK_LINGER_MS, so a final BYE is delivered.
 */
#ifndef TMQ_LINK_H
#define TMQ_LINK_H

#include <czmq.h>

#define TMQ_LINK_LINGER_MS 1000
#define TMQ_LINK_DEFAULT_HEARTBEAT_MS 1000 /* until the broker's WELCOME says otherwise */

/* Actor body for zactor_new. args is a connected DEALER (zsock_t *); the actor takes it. */
void tmq_link_actor(zsock_t *pipe, void *args);

#endif

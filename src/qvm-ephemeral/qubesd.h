/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Admin API client: the only place that knows how qubesd is reached and how
 * its requests and replies are framed.
 *
 * Transport: the Unix socket $QUBESD_SOCKET (default /var/run/qubesd.sock);
 * when that socket does not exist (a management qube) the same call goes
 * through `qrexec-client-vm DEST METHOD+ARG`, which returns the same reply
 * bytes. Wire format (qubes/api/__init__.py):
 *   request  "METHOD+ARG dom0 name DEST\0" PAYLOAD, then end of write side
 *   reply    "0\0" CONTENT                          success
 *            "2\0" TYPE "\0" TRACEBACK "\0" MESSAGE "\0"   error
 *            "1\0" SUBJECT "\0" EVENT "\0" (KEY "\0" VALUE "\0")* "\0"   events */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define QUBESD_SOCKET_DEFAULT "/var/run/qubesd.sock"
#define QUBESD_REQ_MAX 1024        /* header; qubesd's own limit is 64 KiB in total */
#define QUBESD_REPLY_MAX (16u << 20)

/* The reason of a failed call, filled by qubesd_call_err(). */
struct qubesd_error {
	char type[64];   /* qubesd's exception class, or "transport" */
	char msg[512];   /* qubesd's message, or the local failure */
};

/* Every call made so far (for -v and the benchmark), and those that failed
 * through qubesd_call() (each printed). */
extern unsigned long qubesd_ncalls, qubesd_nfailed;

/* One Admin API call. dest NULL means dom0; arg and payload may be NULL.
 * Returns 0 and, when out is not NULL, *out = the content (malloc'd,
 * NUL-terminated). Returns -EREMOTEIO when qubesd answered with an error and
 * another negative errno when it could not be asked; either way err (if not
 * NULL) says why. Prints nothing. */
int qubesd_call_err(const char *method, const char *dest, const char *arg, const char *payload,
		    char **out, struct qubesd_error *err);

/* Same, but a failure prints one line naming the qube, the call and qubesd's
 * message: "qvm-ephemeral: work: admin.vm.volume.Set.rw+root: QubesVMNotHaltedError: …". */
int qubesd_call(const char *method, const char *dest, const char *arg, const char *payload, char **out);

/* --- pure parts (unit tested) --- */

/* Writes the request header "METHOD[+ARG] dom0 name DEST\0" into buf; returns
 * its length including the NUL, or -EINVAL when a field is empty or holds a
 * space, NUL or newline, or -ENAMETOOLONG. */
int qubesd_format_request(char *buf, size_t size, const char *method, const char *dest, const char *arg);

/* Splits a complete reply. Success: returns 0, *content points into buf
 * (length *content_len). Error reply: returns -EREMOTEIO and fills err.
 * Empty, truncated or unknown replies: -EPROTO with err->msg saying which. */
int qubesd_parse_reply(const char *buf, size_t len, const char **content, size_t *content_len,
		       struct qubesd_error *err);

/* One event of an admin.Events stream. Pointers point into the parsed buffer. */
#define QUBESD_EVENT_MAX_KW 16
struct qubesd_event {
	const char *subject;   /* "" for the global app object */
	const char *name;      /* e.g. "domain-add", "property-set:template_for_dispvms" */
	size_t nkw;
	const char *key[QUBESD_EVENT_MAX_KW];
	const char *value[QUBESD_EVENT_MAX_KW];
};

/* Parses one event at the start of buf. Returns the bytes it used, 0 when
 * buf does not yet hold a whole event, -EPROTO when buf does not start with
 * an event (e.g. an error reply; err then says what qubesd said). */
ssize_t qubesd_parse_event(const char *buf, size_t len, struct qubesd_event *ev, struct qubesd_error *err);

/* Value of key in ev, or NULL. */
const char *qubesd_event_kw(const struct qubesd_event *ev, const char *key);

/* --- event stream --- */

/* Opens an admin.Events stream for all qubes. Returns a readable fd (>= 0)
 * and sets *child to the helper process (qrexec mode) or 0; negative errno
 * on failure (err says why). */
int qubesd_events_open(pid_t *child, struct qubesd_error *err);
void qubesd_events_close(int fd, pid_t child);

/* true when calls go through qrexec-client-vm (no local socket). */
bool qubesd_via_qrexec(void);

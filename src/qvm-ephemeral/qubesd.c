/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Admin API client: framing and transport (see qubesd.h). */
#define _GNU_SOURCE
#include "qubesd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "spawn.h"
#include "qvm.h"

unsigned long qubesd_ncalls, qubesd_nfailed;

static void set_err(struct qubesd_error *err, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(struct qubesd_error *err, const char *type, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	snprintf(err->type, sizeof(err->type), "%s", type);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static bool field_ok(const char *s)
{
	return s && *s && !strpbrk(s, " \n\r\t");
}

int qubesd_format_request(char *buf, size_t size, const char *method, const char *dest, const char *arg)
{
	if (!field_ok(method) || !field_ok(dest) || (arg && *arg && !field_ok(arg)) || strchr(method, '+'))
		return -EINVAL;
	int n = snprintf(buf, size, "%s%s%s dom0 name %s", method, arg && *arg ? "+" : "",
			 arg && *arg ? arg : "", dest);
	if (n < 0 || (size_t)n + 1 > size)
		return -ENAMETOOLONG;
	return n + 1; /* the NUL is part of the frame */
}

/* Next NUL-terminated field of [*p, end); NULL if there is no NUL. */
static const char *next_field(const char **p, const char *end)
{
	const char *s = *p, *z = memchr(s, 0, end - s);
	if (!z)
		return NULL;
	*p = z + 1;
	return s;
}

int qubesd_parse_reply(const char *buf, size_t len, const char **content, size_t *content_len,
		       struct qubesd_error *err)
{
	if (len == 0) {
		set_err(err, "protocol", "empty reply from qubesd (see journalctl in dom0)");
		return -EPROTO;
	}
	if (len < 2 || buf[1] != 0 || (buf[0] != '0' && buf[0] != '1' && buf[0] != '2')) {
		set_err(err, "protocol", "malformed reply from qubesd (starts with 0x%02x)", (unsigned char)buf[0]);
		return -EPROTO;
	}
	if (buf[0] == '0') {
		*content = buf + 2;
		*content_len = len - 2;
		return 0;
	}
	if (buf[0] == '1') {
		set_err(err, "protocol", "qubesd sent events to a plain call");
		return -EPROTO;
	}
	const char *p = buf + 2, *end = buf + len;
	const char *type = next_field(&p, end), *tb = type ? next_field(&p, end) : NULL;
	const char *msg = tb ? next_field(&p, end) : NULL;
	(void)tb;
	if (!msg) {
		set_err(err, "protocol", "truncated error reply from qubesd");
		return -EPROTO;
	}
	set_err(err, *type ? type : "QubesException", "%s", *msg ? msg : "(no message)");
	return -EREMOTEIO;
}

ssize_t qubesd_parse_event(const char *buf, size_t len, struct qubesd_event *ev, struct qubesd_error *err)
{
	const char *p = buf, *end = buf + len;
	if (len >= 1 && buf[0] != '1') {
		const char *c;
		size_t cl;
		if (len >= 2 && qubesd_parse_reply(buf, len, &c, &cl, err) == 0)
			set_err(err, "protocol", "qubesd answered admin.Events with a plain reply");
		else if (len < 2)
			set_err(err, "protocol", "non-event data on the events stream");
		return -EPROTO;
	}
	if (len < 2)
		return 0;
	if (buf[1] != 0) {
		set_err(err, "protocol", "non-event data on the events stream");
		return -EPROTO;
	}
	p += 2;
	memset(ev, 0, sizeof(*ev));
	if (!(ev->subject = next_field(&p, end)) || !(ev->name = next_field(&p, end)))
		return 0;
	for (;;) {
		const char *k = next_field(&p, end);
		if (!k)
			return 0;
		if (!*k)
			break;
		const char *v = next_field(&p, end);
		if (!v)
			return 0;
		if (ev->nkw < QUBESD_EVENT_MAX_KW) {
			ev->key[ev->nkw] = k;
			ev->value[ev->nkw++] = v;
		}
	}
	return p - buf;
}

const char *qubesd_event_kw(const struct qubesd_event *ev, const char *key)
{
	for (size_t i = 0; i < ev->nkw; i++)
		if (!strcmp(ev->key[i], key))
			return ev->value[i];
	return NULL;
}

/* --- transport --- */

static const char *socket_path(void)
{
	const char *s = getenv("QUBESD_SOCKET");
	return s && *s ? s : QUBESD_SOCKET_DEFAULT;
}

bool qubesd_via_qrexec(void)
{
	struct stat st;
	return stat(socket_path(), &st) < 0 && errno == ENOENT;
}

static int connect_socket(struct qubesd_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = socket_path();
	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_err(err, "transport", "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_err(err, "transport", "socket: %s", strerror(errno));
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		set_err(err, "transport", "cannot connect to qubesd at %s: %s%s", path, strerror(e),
			e == EACCES ? " (run as root or as a member of group qubes)" : "");
		return -e;
	}
	return fd;
}

/* Starts `qrexec-client-vm TARGET SERVICE` with its stdout on a pipe (and
 * its stdin on one when want_stdin, else /dev/null). */
static int spawn_qrexec(const char *target, const char *service, bool want_stdin, struct child *c,
			struct qubesd_error *err)
{
	char *argv[] = { "qrexec-client-vm", (char *)target, (char *)service, NULL };
	struct spawn_opts o = { .in = want_stdin ? SPAWN_PIPE : SPAWN_NULL, .out = SPAWN_PIPE, .err = SPAWN_KEEP,
				.cwdfd = -1 };
	int r = spawn_start(argv, &o, c);
	if (r < 0)
		set_err(err, "transport", "cannot start qrexec-client-vm: %s", strerror(-r));
	return r;
}

int qubesd_call_err(const char *method, const char *dest, const char *arg, const char *payload,
		    char **out, struct qubesd_error *err)
{
	char hdr[QUBESD_REQ_MAX];
	char *reply = NULL;
	size_t rlen = 0;
	int r, fd;

	if (!dest)
		dest = "dom0";
	if (out)
		*out = NULL;
	r = qubesd_format_request(hdr, sizeof(hdr), method, dest, arg);
	if (r < 0) {
		set_err(err, "usage", "invalid call %s%s%s to %s", method, arg && *arg ? "+" : "", arg ? arg : "", dest);
		return r;
	}
	size_t hlen = r;
	size_t plen = payload ? strlen(payload) : 0;
	qubesd_ncalls++;
	if (qvm_verbose)
		fprintf(stderr, "qvm-ephemeral: call %s%s%s %s%s%s\n", method, arg && *arg ? "+" : "", arg ? arg : "",
			dest, payload ? " <- " : "", payload ? payload : "");

	if (!qubesd_via_qrexec()) {
		fd = connect_socket(err);
		if (fd < 0)
			return fd;
		r = write_full(fd, hdr, hlen);
		if (r == 0)
			r = write_full(fd, payload ? payload : "", plen);
		if (r == 0 && shutdown(fd, SHUT_WR) < 0)
			r = -errno;
		if (r == 0)
			r = read_fd_full(fd, QUBESD_REPLY_MAX, &reply, &rlen);
		close(fd);
		if (r < 0) {
			set_err(err, "transport", "talking to qubesd: %s", strerror(-r));
			return r;
		}
	} else {
		struct child c;
		char service[QUBESD_REQ_MAX], how[96];
		snprintf(service, sizeof(service), "%s%s%s", method, arg && *arg ? "+" : "", arg ? arg : "");
		if ((r = spawn_qrexec(dest, service, true, &c, err)) < 0)
			return r;
		/* EPIPE here: it exited without reading; its status says why */
		(void)write_full(c.in, payload ? payload : "", plen);
		close(c.in);
		c.in = -1;
		r = read_fd_full(c.out, QUBESD_REPLY_MAX, &reply, &rlen);
		int rc = spawn_wait(&c);
		if (r == 0 && rc != 0) {
			free(reply);
			set_err(err, "transport",
				"qrexec-client-vm %s %s %s (no qubesd socket here; is the call allowed by qrexec policy?)",
				dest, service, spawn_status_text(rc, how, sizeof(how)));
			return -ECOMM;
		}
		if (r < 0) {
			set_err(err, "transport", "qrexec-client-vm: %s", strerror(-r));
			return r;
		}
	}

	const char *content;
	size_t clen;
	r = qubesd_parse_reply(reply, rlen, &content, &clen, err);
	if (r == 0 && out) {
		memmove(reply, content, clen);
		reply[clen] = 0;
		*out = reply;
		return 0;
	}
	free(reply);
	return r;
}

int qubesd_call(const char *method, const char *dest, const char *arg, const char *payload, char **out)
{
	struct qubesd_error err;
	int r = qubesd_call_err(method, dest, arg, payload, out, &err);
	if (r < 0 && ++qubesd_nfailed)
		fprintf(stderr, "qvm-ephemeral: %s: %s%s%s: %s: %s\n", dest ? dest : "dom0", method,
			arg && *arg ? "+" : "", arg ? arg : "", err.type, err.msg);
	return r;
}

int qubesd_events_open(pid_t *child, struct qubesd_error *err)
{
	char hdr[QUBESD_REQ_MAX];
	*child = 0;
	qubesd_ncalls++;
	if (qubesd_via_qrexec()) {
		struct child c;
		int r = spawn_qrexec("dom0", "admin.Events", false, &c, err);
		if (r < 0)
			return r;
		*child = c.pid;
		return c.out;
	}
	int fd = connect_socket(err);
	if (fd < 0)
		return fd;
	int n = qubesd_format_request(hdr, sizeof(hdr), "admin.Events", "dom0", NULL);
	int r = write_full(fd, hdr, n);
	if (r == 0 && shutdown(fd, SHUT_WR) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		set_err(err, "transport", "sending admin.Events: %s", strerror(-r));
		return r;
	}
	return fd;
}

void qubesd_events_close(int fd, pid_t child)
{
	if (fd >= 0)
		close(fd);
	if (child > 0) {
		struct child c = { .pid = child, .in = -1, .out = -1 };
		kill(child, SIGTERM);
		spawn_wait(&c);
	}
}

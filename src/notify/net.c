/*
 * net.c — a blocking TCP client connection where every operation waits at
 * most until one deadline (non-blocking socket and poll), so a server that
 * stops answering cannot hold the delivery worker for longer than the
 * configured timeout.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "notify/notify_int.h"

/* Milliseconds left until the deadline (0 when passed). */
static int left_ms(const notify_net *n)
{
	uint64_t now = clock_mono_ns();
	if (now >= n->deadline_ns)
		return 0;
	uint64_t ms = (n->deadline_ns - now + 999999) / 1000000;
	return ms > 3600000 ? 3600000 : (int)ms;
}

/* Wait for events on the socket until the deadline. */
static yz_status wait_for(notify_net *n, short events, const char *what, yz_err *e)
{
	for (;;) {
		int ms = left_ms(n);
		if (ms == 0)
			return yz_fail(e, YZ_EIO, "timed out %s", what);
		struct pollfd p = {.fd = n->fd, .events = events};
		int r = poll(&p, 1, ms);
		if (r > 0)
			return YZ_OK;
		if (r < 0 && errno != EINTR)
			return yz_fail(e, YZ_EIO, "poll failed %s: %s", what, strerror(errno));
	}
}

static yz_status try_connect(notify_net *n, const struct addrinfo *ai, yz_err *e)
{
	int fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return yz_fail(e, YZ_EIO, "socket: %s", strerror(errno));
	n->fd = fd;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return YZ_OK;
	if (errno != EINPROGRESS) {
		yz_status st = yz_fail(e, YZ_EIO, "connect: %s", strerror(errno));
		notify_net_close(n);
		return st;
	}
	yz_status st = wait_for(n, POLLOUT, "connecting", e);
	if (st == YZ_OK) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err)
			st = yz_fail(e, YZ_EIO, "connect: %s", strerror(err));
	}
	if (st != YZ_OK)
		notify_net_close(n);
	return st;
}

yz_status notify_net_connect(notify_net *n, const char *host, int port, uint64_t deadline_ns,
                             yz_err *e)
{
	memset(n, 0, sizeof *n);
	n->fd = -1;
	n->deadline_ns = deadline_ns;
	if (!host || !*host || port <= 0 || port > 65535)
		return yz_fail(e, YZ_EINVAL, "no server address");
	char service[16];
	snprintf(service, sizeof service, "%d", port);
	/* a bracketed IPv6 literal from a URL */
	char name[256];
	size_t hn = strlen(host);
	if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']' && hn - 2 < sizeof name) {
		memcpy(name, host + 1, hn - 2);
		name[hn - 2] = '\0';
	} else {
		yz_strlcpy(name, host, sizeof name);
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int gr = getaddrinfo(name, service, &hints, &res);
	if (gr != 0)
		return yz_fail(e, YZ_EIO, "cannot resolve %s: %s", name, gai_strerror(gr));
	yz_status st = YZ_EIO;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		st = try_connect(n, ai, e);
		if (st == YZ_OK || left_ms(n) == 0)
			break;
	}
	freeaddrinfo(res);
	if (st != YZ_OK && e)
		snprintf(e->msg + strlen(e->msg), sizeof e->msg - strlen(e->msg), " (%s:%d)", name,
		         port);
	return st;
}

yz_status notify_net_write(notify_net *n, const void *p, size_t len, yz_err *e)
{
	const char *c = p;
	while (len > 0) {
		ssize_t w = send(n->fd, c, len, MSG_NOSIGNAL);
		if (w > 0) {
			c += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			yz_status st = wait_for(n, POLLOUT, "sending", e);
			if (st != YZ_OK)
				return st;
			continue;
		}
		return yz_fail(e, YZ_EIO, "send: %s", w < 0 ? strerror(errno) : "nothing written");
	}
	return YZ_OK;
}

/* More bytes into the input buffer; *eof when the peer closed. */
static yz_status fill(notify_net *n, bool *eof, yz_err *e)
{
	*eof = false;
	if (n->pos > 0) {
		memmove(n->in, n->in + n->pos, n->len - n->pos);
		n->len -= n->pos;
		n->pos = 0;
	}
	if (n->len == sizeof n->in)
		return yz_fail(e, YZ_ETOOBIG, "answer line too long");
	for (;;) {
		ssize_t r = recv(n->fd, n->in + n->len, sizeof n->in - n->len, 0);
		if (r > 0) {
			n->len += (size_t)r;
			return YZ_OK;
		}
		if (r == 0) {
			*eof = true;
			return YZ_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return yz_fail(e, YZ_EIO, "recv: %s", strerror(errno));
		yz_status st = wait_for(n, POLLIN, "waiting for the answer", e);
		if (st != YZ_OK)
			return st;
	}
}

yz_status notify_net_line(notify_net *n, char *out, size_t cap, yz_err *e)
{
	for (;;) {
		char *lf = memchr(n->in + n->pos, '\n', n->len - n->pos);
		if (lf) {
			size_t k = (size_t)(lf - (n->in + n->pos));
			size_t m = k > 0 && n->in[n->pos + k - 1] == '\r' ? k - 1 : k;
			if (m >= cap)
				return yz_fail(e, YZ_ETOOBIG, "answer line too long");
			memcpy(out, n->in + n->pos, m);
			out[m] = '\0';
			n->pos += k + 1;
			return YZ_OK;
		}
		bool eof;
		yz_status st = fill(n, &eof, e);
		if (st != YZ_OK)
			return st;
		if (eof)
			return yz_fail(e, YZ_EIO, "the server closed the connection");
	}
}

yz_status notify_net_read(notify_net *n, char *out, size_t cap, size_t *got, yz_err *e)
{
	*got = 0;
	if (n->pos == n->len) {
		bool eof;
		n->pos = n->len = 0;
		yz_status st = fill(n, &eof, e);
		if (st != YZ_OK || eof)
			return st;
	}
	size_t k = n->len - n->pos < cap ? n->len - n->pos : cap;
	memcpy(out, n->in + n->pos, k);
	n->pos += k;
	*got = k;
	return YZ_OK;
}

void notify_net_close(notify_net *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

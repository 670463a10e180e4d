/*
 * epoll_tcp: the C reference TCP uppercase server for bench/run.
 *
 *   epoll_tcp [-t THREADS] [-a ADDR] PORT oneshot|stream
 *
 * THREADS event loops (default: one per online CPU), each a thread with its
 * own listening socket bound to ADDR:PORT (default 127.0.0.1) with
 * SO_REUSEPORT, so the kernel spreads connections over them without a shared
 * accept queue, and its own level-triggered epoll instance. Every socket is
 * non-blocking. Each byte received is answered with its ASCII uppercase
 * (toupper in the C locale); bytes outside a-z pass through unchanged.
 *
 * oneshot: the tutorial's protocol. The listener has TCP_DEFER_ACCEPT, so a
 * connection is normally accepted only once its request has arrived:
 * accept4, one read of up to 1024 bytes, the write of the reply, close --
 * four system calls per connection plus a share of epoll_wait and of the
 * accept4 that ends each batch with EAGAIN. If the request is not there yet
 * (EAGAIN), the connection waits in epoll for it.
 *
 * stream: persistent connections; every read (up to 64 KiB) is answered with
 * its uppercase; EOF or an error closes the connection. A reply the socket
 * does not take at once is kept, and the connection is not read again until
 * it has been written (EPOLLOUT), so a client that does not read is not
 * buffered without bound.
 *
 * Build: gcc -O2 -pthread -o epoll_tcp epoll_tcp.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define ONESHOT_READ 1024
#define STREAM_READ (64 * 1024)
#define MAX_EVENTS 256

enum mode { ONESHOT, STREAM };

static enum mode mode;
static struct sockaddr_in bind_addr;

/* A stream connection's reply not yet written. */
struct conn {
	int fd;
	size_t off, len;
	char *buf; /* STREAM_READ bytes, allocated on first use */
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void upper(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'a' && p[i] <= 'z')
			p[i] -= 'a' - 'A';
}

static int listener(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die("SO_REUSEADDR");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
		die("SO_REUSEPORT");
	if (mode == ONESHOT) {
		int secs = 1; /* how long the kernel holds a connection with no data */
		if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs) < 0)
			die("TCP_DEFER_ACCEPT");
	}
	if (bind(fd, (struct sockaddr *)&bind_addr, sizeof bind_addr) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

static void ep_add(int ep, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl add");
}

static void ep_mod(int ep, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		die("epoll_ctl mod");
}

/* oneshot: read the request, write the reply, close. Returns 0 if the request
 * has not arrived yet and the connection must wait for it. */
static int oneshot(int fd)
{
	char buf[ONESHOT_READ];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n > 0) {
		upper(buf, (size_t)n);
		/* An empty socket send buffer takes 1024 bytes whole. */
		(void)write(fd, buf, (size_t)n);
	}
	close(fd);
	return 1;
}

static void conn_close(struct conn *c)
{
	close(c->fd); /* also removes it from the epoll set */
	free(c->buf);
	free(c);
}

/* stream: write what is pending; returns -1 on error, 1 when all is written,
 * 0 when the socket is full. */
static int flush(struct conn *c)
{
	while (c->off < c->len) {
		ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->off += (size_t)n;
	}
	c->off = c->len = 0;
	return 1;
}

static void stream_event(int ep, struct conn *c, uint32_t events)
{
	if (c->len > 0) { /* waiting for EPOLLOUT */
		int r = flush(c);
		if (r < 0) {
			conn_close(c);
		} else if (r > 0) {
			ep_mod(ep, c->fd, EPOLLIN | EPOLLRDHUP, c);
		}
		return;
	}
	if (c->buf == NULL && (c->buf = malloc(STREAM_READ)) == NULL)
		die("malloc");
	ssize_t n = read(c->fd, c->buf, STREAM_READ);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(c);
		return;
	}
	if (n == 0) {
		conn_close(c);
		return;
	}
	(void)events;
	upper(c->buf, (size_t)n);
	c->off = 0;
	c->len = (size_t)n;
	int r = flush(c);
	if (r < 0)
		conn_close(c);
	else if (r == 0)
		ep_mod(ep, c->fd, EPOLLOUT, c);
}

static void *loop(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	/* data.ptr: NULL for the listener, a struct conn for a stream
	 * connection; data.u64 with the low bit set (pointers are even) for a
	 * oneshot connection waiting for its request: the fd shifted left. */
	ep_add(ep, lfd, EPOLLIN, NULL);

	struct epoll_event evs[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == NULL) {
				for (;;) {
					int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0) {
						if (errno == EINTR || errno == ECONNABORTED)
							continue;
						if (errno != EAGAIN)
							perror("accept4"); /* EMFILE etc.: retried on the next event */
						break;
					}
					if (mode == ONESHOT) {
						if (!oneshot(fd)) {
							struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
										  .data.u64 = ((uint64_t)fd << 1) | 1 };
							if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
								die("epoll_ctl add");
						}
					} else {
						struct conn *c = calloc(1, sizeof *c);
						if (c == NULL)
							die("calloc");
						c->fd = fd;
						ep_add(ep, fd, EPOLLIN | EPOLLRDHUP, c);
					}
				}
			} else if (evs[i].data.u64 & 1) {
				int fd = (int)(evs[i].data.u64 >> 1);
				if (!oneshot(fd) && (evs[i].events & (EPOLLERR | EPOLLHUP)))
					close(fd);
			} else {
				stream_event(ep, p, evs[i].events);
			}
		}
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: epoll_tcp [-t THREADS] [-a ADDR] PORT oneshot|stream\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	const char *addr = "127.0.0.1";
	int opt;
	while ((opt = getopt(argc, argv, "t:a:")) != -1) {
		switch (opt) {
		case 't':
			threads = strtol(optarg, NULL, 10);
			break;
		case 'a':
			addr = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || threads < 1 || threads > 1024)
		usage();
	int port = atoi(argv[optind]);
	if (port < 1 || port > 65535)
		usage();
	if (strcmp(argv[optind + 1], "oneshot") == 0)
		mode = ONESHOT;
	else if (strcmp(argv[optind + 1], "stream") == 0)
		mode = STREAM;
	else
		usage();
	bind_addr.sin_family = AF_INET;
	bind_addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &bind_addr.sin_addr) != 1)
		usage();
	signal(SIGPIPE, SIG_IGN);

	/* Bind every listener before serving, so that a client that finds the
	 * port open is never refused by a thread still starting. */
	int *lfds = calloc((size_t)threads, sizeof *lfds);
	if (lfds == NULL)
		die("calloc");
	for (long i = 0; i < threads; i++)
		lfds[i] = listener();
	for (long i = 1; i < threads; i++) {
		pthread_t tid;
		if (pthread_create(&tid, NULL, loop, (void *)(intptr_t)lfds[i]) != 0)
			die("pthread_create");
	}
	loop((void *)(intptr_t)lfds[0]);
	return 0;
}

/*
 * mmsg_udp: the C reference UDP uppercase server for bench/run.
 *
 *   mmsg_udp [-t THREADS] [-b BATCH] [-a ADDR] PORT
 *
 * THREADS threads (default: one per online CPU), each with its own UDP socket
 * bound to ADDR:PORT (default 127.0.0.1) with SO_REUSEPORT, so the kernel
 * spreads the clients' flows over them. Each thread blocks in recvmmsg with
 * MSG_WAITFORONE for up to BATCH datagrams (default 32): it returns as soon
 * as one has arrived, with every other one already queued. Each datagram is
 * answered to its sender with its ASCII uppercase (bytes outside a-z pass
 * through unchanged), the whole batch in one sendmmsg. A datagram is read
 * whole, up to 65507 bytes.
 *
 * Build: gcc -O2 -pthread -o mmsg_udp mmsg_udp.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_DATAGRAM 65507

static int batch = 32;

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

static int udp_socket(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
		die("SO_REUSEPORT");
	if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
		die("bind");
	return fd;
}

static void *loop(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct mmsghdr *in = calloc((size_t)batch, sizeof *in);
	struct mmsghdr *out = calloc((size_t)batch, sizeof *out);
	struct iovec *iov = calloc((size_t)batch, sizeof *iov);
	struct iovec *oiov = calloc((size_t)batch, sizeof *oiov);
	struct sockaddr_in *from = calloc((size_t)batch, sizeof *from);
	char *bufs = malloc((size_t)batch * MAX_DATAGRAM);
	if (!in || !out || !iov || !oiov || !from || !bufs)
		die("malloc");
	for (int i = 0; i < batch; i++) {
		iov[i].iov_base = bufs + (size_t)i * MAX_DATAGRAM;
		iov[i].iov_len = MAX_DATAGRAM;
	}
	for (;;) {
		for (int i = 0; i < batch; i++) {
			in[i].msg_hdr.msg_iov = &iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof from[i];
			in[i].msg_hdr.msg_control = NULL;
			in[i].msg_hdr.msg_controllen = 0;
			in[i].msg_hdr.msg_flags = 0;
		}
		int n = recvmmsg(fd, in, (unsigned)batch, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("recvmmsg"); /* e.g. ECONNREFUSED from an ICMP error: go on */
			continue;
		}
		int m = 0;
		for (int i = 0; i < n; i++) {
			if (in[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue;
			upper(iov[i].iov_base, in[i].msg_len);
			oiov[m].iov_base = iov[i].iov_base;
			oiov[m].iov_len = in[i].msg_len;
			memset(&out[m].msg_hdr, 0, sizeof out[m].msg_hdr);
			out[m].msg_hdr.msg_iov = &oiov[m];
			out[m].msg_hdr.msg_iovlen = 1;
			out[m].msg_hdr.msg_name = &from[i];
			out[m].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
			m++;
		}
		for (int sent = 0; sent < m;) {
			int k = sendmmsg(fd, out + sent, (unsigned)(m - sent), 0);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				/* This datagram's sender is gone (or the buffer is
				 * full): drop it and go on with the rest. */
				sent++;
				continue;
			}
			sent += k;
		}
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: mmsg_udp [-t THREADS] [-b BATCH] [-a ADDR] PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	const char *addr = "127.0.0.1";
	int opt;
	while ((opt = getopt(argc, argv, "t:b:a:")) != -1) {
		switch (opt) {
		case 't':
			threads = strtol(optarg, NULL, 10);
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		case 'a':
			addr = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1 || threads < 1 || threads > 1024 || batch < 1 || batch > 1024)
		usage();
	int port = atoi(argv[optind]);
	if (port < 1 || port > 65535)
		usage();
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		usage();

	/* Bind every socket before serving, so that no datagram is sent to a
	 * thread still starting (datagrams hashed to a bound socket wait in its
	 * buffer anyway). */
	int *fds = calloc((size_t)threads, sizeof *fds);
	if (fds == NULL)
		die("calloc");
	for (long i = 0; i < threads; i++)
		fds[i] = udp_socket(&sa);
	for (long i = 1; i < threads; i++) {
		pthread_t tid;
		if (pthread_create(&tid, NULL, loop, (void *)(intptr_t)fds[i]) != 0)
			die("pthread_create");
	}
	loop((void *)(intptr_t)fds[0]);
	return 0;
}

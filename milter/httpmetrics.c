/*
 * httpmetrics - GET /metrics over libmicrohttpd.  See httpmetrics.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "httpmetrics.h"
#include "log.h"
#include "netaddr.h"
#include "policy/stats.h"

int
httpmetrics_open(const char *listen_spec)
{
	char host[NET_ADDR_STRLEN + 2];
	const char *colon = strrchr(listen_spec, ':'), *h = listen_spec;
	size_t hlen;
	struct net_addr a;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, port;

	if (colon == NULL)
		goto bad;
	hlen = (size_t)(colon - listen_spec);
	if (h[0] == '[' && hlen >= 2) {
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	port = atoi(colon + 1);
	if (net_addr_parse(host, &a) != 0 || port < 1 || port > 65535)
		goto bad;
	memset(&ss, 0, sizeof(ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a.bytes, 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, a.bytes, 16);
		sl = sizeof(*sin6);
	}
	if ((fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto err;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 32) != 0) {
		close(fd);
		goto err;
	}
	return fd;
err:
	fprintf(stderr, "hopmilter: metrics_listen %s: %s\n", listen_spec, strerror(errno));
	return -1;
bad:
	fprintf(stderr, "hopmilter: metrics_listen %s: expected IP:PORT\n", listen_spec);
	return -1;
}

static enum MHD_Result
httpmetrics_reply(struct MHD_Connection *conn, unsigned int code, const char *type, char *body,
    size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;

	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
httpmetrics_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	static int first;
	char *body = NULL;
	size_t len = 0;
	FILE *fp;

	(void)cls;
	(void)version;
	(void)upload_data;
	if (*req_cls == NULL) {
		/* Called once for the headers: answer on the second call, after any body. */
		*req_cls = &first;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;  /* a body is never wanted: discard it */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return httpmetrics_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
		    strdup("only GET\n"), 9);
	if (strcmp(url, "/metrics") != 0)
		return httpmetrics_reply(conn, MHD_HTTP_NOT_FOUND, "text/plain",
		    strdup("not found: try /metrics\n"), 24);
	if ((fp = open_memstream(&body, &len)) == NULL)
		return MHD_NO;
	stats_prometheus(fp);
	if (fclose(fp) != 0) {
		free(body);
		return MHD_NO;
	}
	return httpmetrics_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
	    body, len);
}

int
httpmetrics_start(int fd)
{
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, httpmetrics_handler, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTPMETRICS_MAX_CONN,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPMETRICS_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
	    MHD_OPTION_END);

	if (d == NULL) {
		log_error("metrics_listen: libmicrohttpd would not start");
		return -1;
	}
	return 0;   /* runs for the life of the process */
}

/*
 * hoprelayd - hoprelay as a long-running LMTP server: Postfix's lmtp(8)
 * hands it mail on one unix socket per route, and each transaction is
 * relayed, command by command, to a next hop of that route (lmtpd.h).
 *
 * Why a daemon: run once per message, hoprelay spends most of its time
 * building its OpenSSL context (~14 ms of CPU with OpenSSL 3.0) and in
 * a fresh TCP and TLS handshake.  hoprelayd builds one context per route
 * at start and on reload, keeps connections to the hops open for a while
 * (hcache.h) and resumes TLS sessions.
 *
 * Design: one thread per LMTP session with blocking I/O under deadlines
 * (the netio model of the pipe mode, unchanged).  A slow hop blocks only
 * the sessions waiting on it; each step has its own time limit, so the MTA
 * sees a 4xx in bounded time, and sessions are capped (-m), as are the
 * connections per hop (-H).  The main thread accepts, and handles signals
 * through a signalfd:
 *
 *   SIGHUP            reload hoprelay.conf: new TLS contexts and a new
 *                     connection cache; running transactions finish on the
 *                     old ones, which are freed after the last; a broken
 *                     file is logged (FILE:LINE) and the old one stays
 *   SIGUSR1           log the counters (connections opened, reused, resumed)
 *   SIGTERM, SIGINT   stop accepting, give sessions up to 10 s, exit 0
 *
 * The configuration in use is one "generation" with a reference count:
 * each transaction holds it from MAIL FROM to its end.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "hcache.h"
#include "lmtpd.h"
#include "log.h"
#include "monotime.h"
#include "netio.h"
#include "route.h"
#include "tlsc.h"

#define HRD_SOCKET_DIR "/var/spool/postfix/hoprelay"
#define HRD_STOP_GRACE 10000
#define HRD_THREAD_STACK (256 * 1024)

struct hrd_args {
	const char *conf_path;
	const char *socket_dir;
	long max_sessions;
	long max_per_hop;
	long idle_s;
	long max_age_s;
	long timeout_s;
	long data_timeout_s;
	long max_rcpts;
	long max_size;
	bool log_stderr;
	bool check;
};

struct hrd_gen {
	struct lmtpd_gen pub;
	struct route_conf *conf;
	struct tlsc_ctx **tls;
	unsigned refs;                  /* the installed slot holds one */
};

struct hrd_listener {
	char *route;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
};

static struct {
	struct hrd_args a;
	pthread_mutex_t lock;           /* guards `gen` and the reference counts */
	struct hrd_gen *gen;
	struct hrd_listener *ls;
	size_t nls;
	atomic_long sessions;
	atomic_ulong next_id;
	atomic_bool stopping;
	char myname[256];
} hrd = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct hrd_session {
	int fd;
	char *route;
	unsigned long id;
};

static void
hrd_usage(FILE *fp)
{
	fprintf(fp, "usage: hoprelayd [-c FILE] [-s DIR] [-m SESSIONS] [-H CONNS] [-k SECONDS] "
	    "[-r SECONDS] [-t SECONDS]\n"
	    "                 [-d SECONDS] [-R RCPTS] [-z BYTES] [-e]\n"
	    "       hoprelayd [-c FILE] -n\n"
	    "  -c FILE     configuration (default %s)\n"
	    "  -s DIR      one LMTP socket per route, DIR/ROUTE (default %s)\n"
	    "  -m N        concurrent LMTP sessions (default 100)\n"
	    "  -H N        connections per next hop, busy and idle (default 20)\n"
	    "  -k SECONDS  keep idle connections to next hops this long (default 5; 0: never)\n"
	    "  -r SECONDS  reuse a connection to a next hop for at most this long (default 300)\n"
	    "  -t SECONDS  time limit for each command line (and the wait for it), each piece of\n"
	    "              message data and each write to the MTA (default 300)\n"
	    "  -d SECONDS  time limit for a whole message, DATA to the final dot (default 1800)\n"
	    "  -R N        recipients per transaction (default %d)\n"
	    "  -z BYTES    largest message taken (default 0: the next hop's limit only)\n"
	    "  -e          log to standard error instead of syslog\n"
	    "  -n          check the configuration and the TLS files, then exit (0, or 78)\n",
	    ROUTE_DEFAULT_PATH, HRD_SOCKET_DIR, LMTPD_MAX_RCPTS);
}

static int
hrd_number(const char *s, long min, long max, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* 0 to go on, 1 when done, -1 on a usage error (message written). */
static int
hrd_parse_args(int argc, char **argv, struct hrd_args *a)
{
	int opt;

	*a = (struct hrd_args){.conf_path = ROUTE_DEFAULT_PATH, .socket_dir = HRD_SOCKET_DIR,
	    .max_sessions = 100, .max_per_hop = 20, .idle_s = 5, .max_age_s = 300,
	    .timeout_s = 300, .data_timeout_s = 1800, .max_rcpts = LMTPD_MAX_RCPTS};
	while ((opt = getopt(argc, argv, "c:s:m:H:k:r:t:d:R:z:enhV")) != -1) {
		int bad = 0;

		switch (opt) {
		case 'c': a->conf_path = optarg; break;
		case 's': a->socket_dir = optarg; break;
		case 'm': bad = hrd_number(optarg, 1, 100000, &a->max_sessions); break;
		case 'H': bad = hrd_number(optarg, 1, 100000, &a->max_per_hop); break;
		case 'k': bad = hrd_number(optarg, 0, 3600, &a->idle_s); break;
		case 'r': bad = hrd_number(optarg, 1, 86400, &a->max_age_s); break;
		case 't': bad = hrd_number(optarg, 1, 86400, &a->timeout_s); break;
		case 'd': bad = hrd_number(optarg, 1, 86400, &a->data_timeout_s); break;
		case 'R': bad = hrd_number(optarg, 1, 100000, &a->max_rcpts); break;
		case 'z': bad = hrd_number(optarg, 0, 1L << 40, &a->max_size); break;
		case 'e': a->log_stderr = true; break;
		case 'n': a->check = true; break;
		case 'h': hrd_usage(stdout); return 1;
		case 'V': printf("hoprelayd %s\n", PACKAGE_VERSION); return 1;
		default: hrd_usage(stderr); return -1;
		}
		if (bad) {
			fprintf(stderr, "hoprelayd: -%c %s: not a number in range\n", opt, optarg);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "hoprelayd: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* ---- generations ---- */

static void
hrd_gen_free(struct hrd_gen *g)
{
	if (g == NULL)
		return;
	hcache_free(g->pub.cache);
	for (size_t i = 0; g->tls != NULL && i < g->conf->nroutes; i++)
		tlsc_ctx_free(g->tls[i]);
	free(g->tls);
	route_conf_free(g->conf);
	free(g);
}

/* A route name becomes a file name: keep it plain. */
static bool
hrd_name_ok(const char *name)
{
	if (name[0] == '\0' || name[0] == '.' || strlen(name) > 64)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	    strlen(name);
}

/* Load the file and build contexts and cache.  NULL with a reason in `err`. */
static struct hrd_gen *
hrd_gen_load(const struct hrd_args *a, char *err, size_t errsz)
{
	struct hrd_gen *g = calloc(1, sizeof(*g));
	struct hcache_limits lim = {.max_per_hop = (size_t)a->max_per_hop,
	    .idle_ms = a->idle_s * 1000, .max_age_ms = a->max_age_s * 1000};

	if (g == NULL || route_load(a->conf_path, &g->conf, err, errsz) != 0)
		goto fail;
	if ((g->tls = calloc(g->conf->nroutes + 1, sizeof(*g->tls))) == NULL)
		goto oom;
	for (size_t i = 0; i < g->conf->nroutes; i++) {
		const struct route *r = &g->conf->routes[i];

		if (!hrd_name_ok(r->name)) {
			snprintf(err, errsz, "%s: route '%s': hoprelayd needs a route name of letters, "
			    "digits, '.', '_' and '-' (it names the socket)", a->conf_path, r->name);
			goto fail;
		}
		if (r->tls == ROUTE_TLS_NONE)
			continue;
		if (tlsc_ctx_new(r, &g->tls[i], err, errsz) != 0)
			goto fail;
		tlsc_allow_resumption(g->tls[i]);
	}
	if ((g->pub.cache = hcache_new(g->conf, g->tls, &lim)) == NULL)
		goto oom;
	g->pub.conf = g->conf;
	g->refs = 1;
	return g;
oom:
	snprintf(err, errsz, "out of memory");
fail:
	hrd_gen_free(g);
	return NULL;
}

static struct lmtpd_gen *
hrd_acquire(void *arg)
{
	struct hrd_gen *g;

	(void)arg;
	pthread_mutex_lock(&hrd.lock);
	g = hrd.gen;
	g->refs++;
	pthread_mutex_unlock(&hrd.lock);
	return &g->pub;
}

static void *
hrd_gen_free_main(void *arg)
{
	hrd_gen_free(arg);
	return NULL;
}

static void
hrd_release(void *arg, struct lmtpd_gen *pub)
{
	struct hrd_gen *g = (struct hrd_gen *)pub;    /* pub is the first member */
	pthread_attr_t attr;
	pthread_t t;
	bool last;

	(void)arg;
	pthread_mutex_lock(&hrd.lock);
	last = --g->refs == 0;
	pthread_mutex_unlock(&hrd.lock);
	if (!last)
		return;
	/*
	 * Freeing closes the idle connections with QUIT, up to 10 s each
	 * against a hung hop: not on the thread that accepts or serves.
	 */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (atomic_load(&hrd.stopping) || pthread_create(&t, &attr, hrd_gen_free_main, g) != 0)
		hrd_gen_free(g);
	pthread_attr_destroy(&attr);
}

static const struct lmtpd_ops hrd_ops = {.acquire = hrd_acquire, .release = hrd_release};

/* ---- sockets ---- */

static int
hrd_listen(struct hrd_listener *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(l->path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, l->path, strlen(l->path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	unlink(l->path);
	/* Postfix's lmtp(8) runs as the mail system user: owner and group may connect. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(l->path, 0660) != 0 ||
	    listen(fd, 128) != 0) {
		close(fd);
		return -1;
	}
	l->fd = fd;
	return 0;
}

static void
hrd_unlisten(struct hrd_listener *l)
{
	if (l->fd >= 0) {
		close(l->fd);
		unlink(l->path);
	}
	free(l->route);
	l->fd = -1;
}

/* One socket per route of `c`: keep those that stay, open new ones, close the rest. */
static int
hrd_sync_listeners(const struct route_conf *c, char *err, size_t errsz)
{
	struct hrd_listener *ls = calloc(c->nroutes + 1, sizeof(*ls));
	int failed = 0;

	if (ls == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		ls[i].fd = -1;
		for (size_t j = 0; j < hrd.nls; j++)
			if (hrd.ls[j].route != NULL && strcmp(hrd.ls[j].route, c->routes[i].name) == 0) {
				ls[i] = hrd.ls[j];
				hrd.ls[j].route = NULL;
				hrd.ls[j].fd = -1;
			}
		if (ls[i].fd >= 0)
			continue;
		ls[i].route = strdup(c->routes[i].name);
		snprintf(ls[i].path, sizeof(ls[i].path), "%s/%s", hrd.a.socket_dir, c->routes[i].name);
		if (ls[i].route == NULL || hrd_listen(&ls[i]) != 0) {
			/* The other routes keep working; the caller decides if this is fatal. */
			snprintf(err, errsz, "cannot listen on %s: %s", ls[i].path, strerror(errno));
			log_error("%s", err);
			failed++;
			continue;
		}
		log_info("listening on %s for route %s", ls[i].path, ls[i].route);
	}
	for (size_t j = 0; j < hrd.nls; j++)
		if (hrd.ls[j].route != NULL) {
			log_info("route %s is gone: closing %s", hrd.ls[j].route, hrd.ls[j].path);
			hrd_unlisten(&hrd.ls[j]);
		}
	free(hrd.ls);
	hrd.ls = ls;
	hrd.nls = c->nroutes;
	return failed > 0 ? -1 : 0;
}

/* ---- sessions ---- */

static void *
hrd_session_main(void *arg)
{
	struct hrd_session *s = arg;
	struct lmtpd_params p = {.route = s->route, .myname = hrd.myname,
	    .timeout_ms = hrd.a.timeout_s * 1000, .data_timeout_ms = hrd.a.data_timeout_s * 1000,
	    .max_rcpts = hrd.a.max_rcpts, .max_size = hrd.a.max_size, .id = s->id};

	lmtpd_session(s->fd, &p, &hrd_ops);
	close(s->fd);
	free(s->route);
	free(s);
	atomic_fetch_sub(&hrd.sessions, 1);
	return NULL;
}

/* Over the limit the MTA hears 421 at once and tries again later. */
static void
hrd_refuse(int fd, const char *why)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "421 4.3.2 %s\r\n", why);

	if (n > 0)
		(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void
hrd_accept(const struct hrd_listener *l)
{
	struct hrd_session *s;
	pthread_attr_t attr;
	pthread_t t;
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0) {
		/* Out of descriptors or memory: the socket stays readable; do not spin. */
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			log_error("accept on %s: %s", l->path, strerror(errno));
			usleep(100000);
		}
		return;
	}
	if (atomic_fetch_add(&hrd.sessions, 1) >= hrd.a.max_sessions) {
		/*
		 * One line a second at most (this is the accepting thread only): a
		 * flood of connections must not become a flood of log lines.
		 */
		static long long last_log = -1000000;
		static unsigned long unlogged;
		long long now = monotime_ms();

		atomic_fetch_sub(&hrd.sessions, 1);
		if (now - last_log >= 1000) {
			log_warning("session limit (%ld) reached: refusing a connection on %s (%lu more "
			    "refused since the last such line)", hrd.a.max_sessions, l->path, unlogged);
			last_log = now;
			unlogged = 0;
		} else {
			unlogged++;
		}
		hrd_refuse(fd, "hoprelayd is busy: too many sessions");
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->route = strdup(l->route)) == NULL) {
		free(s);
		atomic_fetch_sub(&hrd.sessions, 1);
		hrd_refuse(fd, "hoprelayd: out of memory");
		return;
	}
	s->fd = fd;
	s->id = atomic_fetch_add(&hrd.next_id, 1) + 1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, HRD_THREAD_STACK);
	if (pthread_create(&t, &attr, hrd_session_main, s) != 0) {
		free(s->route);
		free(s);
		atomic_fetch_sub(&hrd.sessions, 1);
		hrd_refuse(fd, "hoprelayd: cannot start a session");
	}
	pthread_attr_destroy(&attr);
}

/* Close idle hop connections past their time, once a second. */
static void *
hrd_reaper(void *arg)
{
	(void)arg;
	while (!atomic_load(&hrd.stopping)) {
		struct lmtpd_gen *g;

		sleep(1);
		g = hrd_acquire(NULL);
		hcache_sweep(g->cache);
		hrd_release(NULL, g);
	}
	return NULL;
}

static void
hrd_log_stats(const char *when)
{
	struct lmtpd_gen *g = hrd_acquire(NULL);
	struct hcache_stats st;

	hcache_stats(g->cache, &st);
	hrd_release(NULL, g);
	log_info("%s: sessions=%ld hop connections opened=%lu reused=%lu tls_resumed=%lu "
	    "idle_closed=%lu probe_failed=%lu", when, atomic_load(&hrd.sessions), st.opened,
	    st.reused, st.resumed, st.closed_idle, st.probe_failed);
}

static void
hrd_reload(void)
{
	char err[1024];
	struct hrd_gen *g = hrd_gen_load(&hrd.a, err, sizeof(err)), *old;

	if (g == NULL) {
		log_error("reload failed, keeping the running configuration: %s", err);
		return;
	}
	hrd_log_stats("before reload");
	pthread_mutex_lock(&hrd.lock);
	old = hrd.gen;
	hrd.gen = g;
	pthread_mutex_unlock(&hrd.lock);
	hrd_release(NULL, &old->pub);
	hrd_sync_listeners(g->conf, err, sizeof(err));
	log_info("reloaded %s: %zu routes", g->conf->path, g->conf->nroutes);
}

/* Accept and dispatch until SIGTERM or SIGINT. */
static void
hrd_loop(int sfd)
{
	for (;;) {
		struct pollfd *pf = calloc(hrd.nls + 1, sizeof(*pf));
		struct signalfd_siginfo si;
		bool reload = false;

		if (pf == NULL) {
			sleep(1);
			continue;
		}
		pf[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (size_t i = 0; i < hrd.nls; i++)
			pf[i + 1] = (struct pollfd){.fd = hrd.ls[i].fd, .events = POLLIN};
		if (poll(pf, hrd.nls + 1, -1) < 0 && errno != EINTR) {
			free(pf);
			return;
		}
		if ((pf[0].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGUSR1) {
				hrd_log_stats("statistics");
				free(pf);
				continue;
			}
			if (si.ssi_signo != SIGHUP) {
				free(pf);
				return;
			}
			reload = true;
		}
		for (size_t i = 0; !reload && i < hrd.nls; i++)
			if (pf[i + 1].revents & POLLIN)
				hrd_accept(&hrd.ls[i]);
		free(pf);
		/* After the poll set is gone: the listeners may change. */
		if (reload)
			hrd_reload();
	}
}

static int
hrd_check(const struct hrd_args *a)
{
	char err[1024];
	struct hrd_gen *g = hrd_gen_load(a, err, sizeof(err));

	if (g == NULL) {
		fprintf(stderr, "hoprelayd: %s\n", err);
		return EX_CONFIG;
	}
	hrd_gen_free(g);
	return EX_OK;
}

static void
hrd_stop(void)
{
	long long until = monotime_ms() + HRD_STOP_GRACE;

	for (size_t i = 0; i < hrd.nls; i++)
		hrd_unlisten(&hrd.ls[i]);
	atomic_store(&hrd.stopping, true);
	while (atomic_load(&hrd.sessions) > 0 && monotime_ms() < until)
		usleep(50000);
	hrd_log_stats("stopping");
	log_info("stopped (%ld sessions cut)", atomic_load(&hrd.sessions));
}

int
main(int argc, char **argv)
{
	char err[1024];
	sigset_t set;
	pthread_t reaper;
	int rc, sfd;

	if ((rc = hrd_parse_args(argc, argv, &hrd.a)) != 0)
		return rc > 0 ? EX_OK : EX_USAGE;
	if (hrd.a.check)
		return hrd_check(&hrd.a);
	signal(SIGPIPE, SIG_IGN);
	/* Every thread inherits the mask: signals are read from the signalfd only. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "hoprelayd: signalfd: %s\n", strerror(errno));
		return EX_OSERR;
	}
	if ((hrd.gen = hrd_gen_load(&hrd.a, err, sizeof(err))) == NULL) {
		fprintf(stderr, "hoprelayd: %s\n", err);
		return EX_CONFIG;
	}
	log_open("hoprelayd", hrd.a.log_stderr, hrd.gen->conf->syslog_facility);
	log_set_level(hrd.gen->conf->log_level);
	if (gethostname(hrd.myname, sizeof(hrd.myname) - 1) != 0)
		snprintf(hrd.myname, sizeof(hrd.myname), "localhost");
	if (hrd_sync_listeners(hrd.gen->conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "hoprelayd: %s\n", err);
		return EX_CANTCREAT;
	}
	if (pthread_create(&reaper, NULL, hrd_reaper, NULL) != 0) {
		fprintf(stderr, "hoprelayd: cannot start the reaper thread\n");
		return EX_OSERR;
	}
	log_info("started: %zu routes, at most %ld sessions, %ld connections per hop, idle "
	    "connections kept %ld s, command timeout %ld s, message timeout %ld s, %ld recipients, "
	    "size limit %ld", hrd.nls, hrd.a.max_sessions, hrd.a.max_per_hop, hrd.a.idle_s,
	    hrd.a.timeout_s, hrd.a.data_timeout_s, hrd.a.max_rcpts, hrd.a.max_size);
	hrd_loop(sfd);
	hrd_stop();
	pthread_join(reaper, NULL);
	if (atomic_load(&hrd.sessions) == 0)
		hrd_release(NULL, &hrd.gen->pub);
	return EX_OK;
}

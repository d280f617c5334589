/*
 * hopmilter - the edge node's mail filter daemon.
 *
 * Start-up order matters: the configuration is read and checked before
 * anything else (exit 78 with FILE:LINE on error), the process detaches
 * before any thread exists, the socket is created while still root (so it
 * can live in a root-owned directory) and handed to the service user, and
 * only then are privileges dropped and libmilter's threads started.
 *
 * Signals: libmilter's own signal thread owns SIGHUP/SIGTERM/SIGINT (they
 * stop the filter); configuration reload therefore uses SIGUSR1, taken by a
 * dedicated thread with sigwait().  That thread starts only once the first
 * policy is installed (a SIGUSR1 during start-up waits, blocked, and is
 * taken then), and a reload and the shutdown exclude each other: after the
 * policy is uninstalled no reload runs, so none can find it missing or
 * install one behind the shutdown's back.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "policy/conf.h"
#include "ctl.h"
#include "daemon.h"
#include "httpmetrics.h"
#include "log.h"
#include "mlfi.h"
#include "policy/policy.h"
#include "policy/stats.h"

static const char *hm_conf_path = CONF_DEFAULT_PATH;
static sigset_t hm_usr1;

/* Held by a whole reload, and by the shutdown while it uninstalls the policy. */
static pthread_mutex_t hm_reload_lock = PTHREAD_MUTEX_INITIALIZER;
static bool hm_serving;   /* a policy is installed and reloads may replace it */
/*
 * Set by the shutdown before it waits for the lock: a storm of SIGUSR1
 * keeps the reload thread taking the lock again and again (mutexes are not
 * fair), and each reload would otherwise delay the stop further.
 */
static atomic_bool hm_stopping;

/*
 * Block the signals first thing, before any thread exists and before the
 * socket is visible, so every thread inherits the mask: SIGUSR1 is for our
 * reload thread; SIGTERM, SIGINT and SIGHUP for the thread libmilter starts
 * in smfi_main(), which stops cleanly.  Unblocked, an early SIGTERM would be
 * delivered to some other thread (or arrive before smfi_main) and kill the
 * process on the spot.  A signal that arrives early stays pending until
 * libmilter waits for it.
 */
static void
hm_block_signals(void)
{
	sigset_t stop;

	sigemptyset(&hm_usr1);
	sigaddset(&hm_usr1, SIGUSR1);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hm_usr1, NULL);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
}

static void
hm_usage(FILE *fp)
{
	fprintf(fp, "usage: hopmilter [-c FILE] [-f] [-n] [-C]\n"
	    "       hopmilter -V | --version\n"
	    "       hopmilter -h | --help\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -f       stay in the foreground and log to stderr\n"
	    "  -n       check what start-up checks (the file, the user, the socket's\n"
	    "           directory), then exit (0 ok, 78 error)\n"
	    "  -C       exit 1 while a valid configuration names no allowed_domains, else 0\n"
	    "  -V       print the version and exit\n"
	    "  -h       print this help and exit\n", CONF_DEFAULT_PATH);
}

static void
hm_version(void)
{
	unsigned int maj, min, pl;

	smfi_version(&maj, &min, &pl);
	printf("hopmilter %s (libmilter %u.%u.%u)\n", PACKAGE_VERSION, maj, min, pl);
}

/* What the counters and `hopmilter-ctl status` say about the running configuration. */
static void
hm_loaded(const struct conf *c)
{
	char hash[65];

	stats_file_sha256(hm_conf_path, hash);
	stats_set_config(hm_conf_path, hash);
	stats_set_enabled(c->counters);
}

/* Read the file and build a policy; "FILE:LINE: reason" in `err` on failure. */
static struct policy *
hm_load(const char *path, char *err, size_t errsz)
{
	struct conf *c;
	struct policy *p;

	if (conf_load(path, &c, err, errsz) != 0)
		return NULL;
	if (policy_new(c, &p, err, errsz) != 0)
		return NULL;
	return p;
}

/* Say which settings of `n` a reload cannot apply; `old` may be NULL. */
static void
hm_reload_warn(const struct conf *n, const struct policy *old)
{
	const struct conf *o;

	if (old == NULL)
		return;
	o = policy_conf(old);
	if (strcmp(n->socket, o->socket) != 0 || strcmp(n->user, o->user) != 0 ||
	    strcmp(n->pid_file, o->pid_file) != 0 || n->syslog_facility != o->syslog_facility ||
	    strcmp(n->control_socket, o->control_socket) != 0 ||
	    strcmp(n->metrics_listen, o->metrics_listen) != 0)
		log_warning("reload: socket, user, pid_file, syslog_facility, control_socket and "
		    "metrics_listen change only on restart");
}

/* With hm_reload_lock held and a policy installed. */
static void
hm_reload_locked(void)
{
	char err[1024];
	struct policy *p = hm_load(hm_conf_path, err, sizeof(err)), *old;
	const struct conf *n;

	if (p == NULL) {
		log_error("reload failed, keeping the running configuration: %s", err);
		stats_reload(false);
		return;
	}
	old = policy_acquire();
	n = policy_conf(p);
	hm_reload_warn(n, old);
	if (old != NULL)
		policy_log_shadow(old, "until this reload");
	policy_unref(old);
	log_set_level(n->log_level);
	/* Before install: after it, `n` belongs to whoever replaces or stops the policy. */
	hm_loaded(n);
	policy_install(p);
	stats_reload(true);
	log_notice("reloaded %s: new sessions use it, running ones finish on the old one",
	    hm_conf_path);
}

static void
hm_reload(void)
{
	static bool said;

	pthread_mutex_lock(&hm_reload_lock);
	if (hm_serving && !atomic_load(&hm_stopping))
		hm_reload_locked();
	else if (!said) {
		said = true;   /* once: a storm of signals must not flood the log */
		log_notice("reload ignored: hopmilter is stopping");
	}
	pthread_mutex_unlock(&hm_reload_lock);
}

static void *
hm_reload_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			daemon_notify("RELOADING=1");
			hm_reload();
			daemon_notify("READY=1");
		}
	}
	return NULL;
}

/* Socket set-up while still root: parent directory, stale socket, owner, mode. */
static int
hm_open_socket(const struct conf *c, bool as_root, uid_t uid, gid_t gid)
{
	const char *path = daemon_unix_path(c->socket);
	mode_t old;
	int rc;

	if (smfi_setconn(c->socket) != MI_SUCCESS) {
		fprintf(stderr, "hopmilter: smfi_setconn(%s) failed\n", c->socket);
		return -1;
	}
	/* 0660: the MTA reaches it through the group, nobody else at all. */
	old = umask(0117);
	rc = smfi_opensocket(true);
	umask(old);
	if (rc != MI_SUCCESS) {
		fprintf(stderr, "hopmilter: cannot create socket %s (does its directory exist and is "
		    "it writable?)\n", c->socket);
		return -1;
	}
	if (path != NULL && as_root && chown(path, uid, gid) != 0) {
		fprintf(stderr, "hopmilter: chown %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* "FILE:LINE" of an option's value, or "FILE" when it is the default. */
static const char *
hm_where(int line, char *buf, size_t bufsz)
{
	if (line > 0)
		snprintf(buf, bufsz, "%s:%d", hm_conf_path, line);
	else
		snprintf(buf, bufsz, "%s", hm_conf_path);
	return buf;
}

/*
 * Who to become: 0, or EX_CONFIG with the reason on stderr.  `check_only`
 * (-n) checks the user whoever runs it: the service starts as root, and a
 * typo in `user` should show before that.
 */
static int
hm_check_user(const struct conf *c, bool as_root, bool check_only, uid_t *uid, gid_t *gid)
{
	char where[4200];

	if (!as_root && !(check_only && c->user[0] != '\0'))
		return 0;
	if (c->user[0] == '\0') {
		fprintf(stderr, "hopmilter: %s: refusing to run as root: set 'user' to an "
		    "unprivileged account\n", hm_conf_path);
		return EX_CONFIG;
	}
	if (daemon_lookup_user(c->user, uid, gid) != 0) {
		fprintf(stderr, "hopmilter: %s: option 'user': no such user '%s'\n",
		    hm_where(c->user_line, where, sizeof(where)), c->user);
		return EX_CONFIG;
	}
	return 0;
}

/* A unix socket's directory must exist: 0, or EX_CONFIG with the reason on stderr. */
static int
hm_check_socket_dir(const struct conf *c)
{
	const char *path = daemon_unix_path(c->socket);
	char dir[4096], where[4200];
	struct stat st;
	char *slash;

	if (path == NULL || strlen(path) >= sizeof(dir))
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "hopmilter: %s: option 'socket': directory %s does not exist%s\n",
		    hm_where(c->socket_line, where, sizeof(where)), dir,
		    strncmp(dir, RUNSTATEDIR "/", strlen(RUNSTATEDIR) + 1) == 0 ?
		    " (systemd creates it from hopmilter.tmpfiles; or mkdir it)" : "");
		return EX_CONFIG;
	}
	return 0;
}

/* Socket, listeners, pid file, privileges: 0 or an exit status (the reload thread comes with the first policy). */
static int
hm_start(const struct conf *c, bool as_root, uid_t uid, gid_t gid)
{
	int ctl_fd = -1, http_fd = -1;

	if (smfi_register(mlfi_desc) != MI_SUCCESS) {
		fprintf(stderr, "hopmilter: smfi_register failed\n");
		return EX_SOFTWARE;
	}
	if (hm_open_socket(c, as_root, uid, gid) != 0)
		return EX_OSERR;
	/* Both listeners are bound while still root, and served only once root is gone. */
	if (c->control_socket[0] != '\0' && (ctl_fd = ctl_open(c->control_socket, as_root, gid)) < 0)
		return EX_OSERR;
	if (c->metrics_listen[0] != '\0' && (http_fd = httpmetrics_open(c->metrics_listen)) < 0)
		return EX_OSERR;
	if (c->pid_file[0] != '\0' && daemon_write_pidfile(c->pid_file) != 0) {
		fprintf(stderr, "hopmilter: pid file %s: %s\n", c->pid_file, strerror(errno));
		return EX_CANTCREAT;
	}
	if (as_root && daemon_drop_privileges(c->user, uid, gid) != 0) {
		fprintf(stderr, "hopmilter: cannot become user %s: %s\n", c->user, strerror(errno));
		return EX_OSERR;
	}
	if ((ctl_fd >= 0 && ctl_start(ctl_fd) != 0) || (http_fd >= 0 && httpmetrics_start(http_fd) != 0)) {
		fprintf(stderr, "hopmilter: cannot start the control socket or metrics listener\n");
		return EX_OSERR;
	}
	return 0;
}

/* Install the first policy, then let reloads replace it. */
static int
hm_install_first(struct policy *pol)
{
	pthread_t tid;

	pthread_mutex_lock(&hm_reload_lock);
	policy_install(pol);
	hm_serving = true;
	pthread_mutex_unlock(&hm_reload_lock);
	if (pthread_create(&tid, NULL, hm_reload_thread, &hm_usr1) != 0) {
		log_error("cannot start the reload thread");
		return -1;
	}
	pthread_detach(tid);
	return 0;
}

/* Stop reloads (waiting for one under way), remove the pid file, uninstall. */
static void
hm_uninstall(void)
{
	struct policy *pol;

	atomic_store(&hm_stopping, true);
	pthread_mutex_lock(&hm_reload_lock);
	hm_serving = false;
	pol = policy_acquire();
	if (pol != NULL)
		policy_log_shadow(pol, "since the last start or reload");
	if (pol != NULL && policy_conf(pol)->pid_file[0] != '\0')
		unlink(policy_conf(pol)->pid_file);
	policy_unref(pol);
	policy_install(NULL);
	pthread_mutex_unlock(&hm_reload_lock);
}

/* Serve until libmilter stops (SIGTERM/SIGINT/SIGHUP); takes over `pol`. */
static int
hm_serve(struct policy *pol, int ready_fd)
{
	const struct conf *c = policy_conf(pol);

	/* Everything that reads `c` comes first: once installed, a reload may free it. */
	hm_loaded(c);
	log_notice("starting hopmilter %s: socket=%s config=%s dry_run=%s", PACKAGE_VERSION,
	    c->socket, hm_conf_path, c->dry_run ? "yes" : "no");
	if (dset_count(c->allowed_domains) == 0)
		log_warning("allowed_domains is empty: every inbound recipient will be refused");
	if (hm_install_first(pol) != 0) {
		hm_uninstall();
		return EX_OSERR;
	}
	daemon_ready(ready_fd);
	daemon_notify("READY=1");

	if (smfi_main() != MI_SUCCESS)
		log_error("smfi_main failed");
	daemon_notify("STOPPING=1");
	log_notice("stopping");
	hm_uninstall();
	return 0;
}

/*
 * -C, the unit's ExecCondition=: an edge whose allowed_domains is still the
 * shipped empty list would refuse every inbound recipient with a 5xx, so
 * the unit is skipped (exit 1) instead of started.  An invalid file passes
 * (exit 0): ExecStartPre's -n then fails the unit with FILE:LINE, which a
 * skipped condition would hide.
 */
static int
hm_ready_check(struct policy *pol, const char *err)
{
	int rc = 0;

	if (pol == NULL) {
		fprintf(stderr, "hopmilter: %s\n", err);
		return 0;
	}
	if (dset_count(policy_conf(pol)->allowed_domains) == 0) {
		fprintf(stderr, "hopmilter: %s: allowed_domains is empty: not starting until it names "
		    "the domains this edge accepts mail for\n", hm_conf_path);
		rc = 1;
	}
	policy_unref(pol);
	return rc;
}

int
main(int argc, char **argv)
{
	bool foreground = false, check_only = false, ready_check = false, as_root = geteuid() == 0;
	char err[1024];
	struct policy *pol;
	uid_t uid = 0;
	gid_t gid = 0;
	int opt, rc, ready_fd = -1;

	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};

	/* Before anything else: an early SIGUSR1 must wait, not kill (its default action). */
	hm_block_signals();
	while ((opt = getopt_long(argc, argv, "c:fnCVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': hm_conf_path = optarg; break;
		case 'f': foreground = true; break;
		case 'n': check_only = true; break;
		case 'C': ready_check = true; break;
		case 'V': hm_version(); return 0;
		case 'h': hm_usage(stdout); return 0;
		default: hm_usage(stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		hm_usage(stderr);
		return EX_USAGE;
	}
	pol = hm_load(hm_conf_path, err, sizeof(err));
	if (ready_check)
		return hm_ready_check(pol, err);
	if (pol == NULL) {
		fprintf(stderr, "hopmilter: %s\n", err);
		return EX_CONFIG;
	}
	/* -n checks what start-up checks, in the same order. */
	if ((rc = hm_check_user(policy_conf(pol), as_root, check_only, &uid, &gid)) != 0 ||
	    (rc = hm_check_socket_dir(policy_conf(pol))) != 0 || check_only) {
		policy_unref(pol);
		return rc;
	}
	log_open("hopmilter", foreground, policy_conf(pol)->syslog_facility);
	log_set_level(policy_conf(pol)->log_level);
	/* Under systemd's Type=notify systemd keeps the process it started:
	 * no fork, readiness by sd_notify (daemon.h). */
	if (!foreground && !daemon_notify_wanted() && (ready_fd = daemon_detach()) < 0) {
		fprintf(stderr, "hopmilter: cannot detach: %s\n", strerror(errno));
		policy_unref(pol);
		return EX_OSERR;
	}
	if ((rc = hm_start(policy_conf(pol), as_root, uid, gid)) != 0) {
		policy_unref(pol);
		return rc;
	}
	return hm_serve(pol, ready_fd);
}

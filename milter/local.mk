# milter/: the hopmilter daemon.  The policy core lives in milter/policy/
# (a convenience library shared by the daemon, the unit tests and the
# fuzzers, with no libmilter in it); the files directly in milter/ are the
# libmilter face that adapts it.  tests/layout.sh enforces the split.
noinst_LIBRARIES += milter/policy/libhoppolicy.a
milter_policy_libhoppolicy_a_SOURCES = \
	milter/policy/authres.c milter/policy/authres.h \
	milter/policy/conf.c milter/policy/conf.h \
	milter/policy/conflist.c milter/policy/conflist.h \
	milter/policy/dset.c milter/policy/dset.h \
	milter/policy/policy.c milter/policy/policy.h \
	milter/policy/ratelimit.c milter/policy/ratelimit.h \
	milter/policy/rllocal.c milter/policy/rllocal.h \
	milter/policy/rlbreaker.c milter/policy/rlbreaker.h \
	milter/policy/rlconn.c milter/policy/rlconn.h \
	milter/policy/rlwire.c milter/policy/rlwire.h \
	milter/policy/rlpool.c milter/policy/rlpool.h \
	milter/policy/rlredis.c milter/policy/rlredis.h \
	milter/policy/rlsentinel.c milter/policy/rlsentinel.h \
	milter/policy/rlscript.h \
	milter/policy/rfc2047.c milter/policy/rfc2047.h \
	milter/policy/scrub.c milter/policy/scrub.h \
	milter/policy/spfcheck.c milter/policy/spfcheck.h \
	milter/policy/spfdns.c milter/policy/spfdns.h \
	milter/policy/spfguard.c milter/policy/spfguard.h \
	milter/policy/spfrec.c milter/policy/spfrec.h \
	milter/policy/spfzone.c milter/policy/spfzone.h \
	milter/policy/stats.c milter/policy/stats.h
nodist_milter_policy_libhoppolicy_a_SOURCES = milter/policy/rlscript.c
# The generated rlscript.c sits in the build tree and finds its header here.
milter_policy_libhoppolicy_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/milter/policy

# The rate-limit script is compiled in, byte for byte (see rlscript.h).
milter/policy/rlscript.c: $(top_srcdir)/redis/gcra.lua
	$(AM_V_GEN)$(MKDIR_P) milter/policy && { \
	  echo '/* Generated from redis/gcra.lua by make: do not edit. */'; \
	  echo '#include "rlscript.h"'; \
	  echo 'const unsigned char rlscript_gcra[] = {'; \
	  od -An -v -tx1 $(top_srcdir)/redis/gcra.lua | $(SED) -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; \
	  echo 'const size_t rlscript_gcra_len = sizeof(rlscript_gcra);'; \
	} >$@.tmp && mv $@.tmp $@
CLEANFILES += milter/policy/rlscript.c

# Link order: the policy library first, then what it uses.
HOPPOLICY_LIBS = milter/policy/libhoppolicy.a lib/libhopcommon.a $(IDN2_LIBS) $(CONFUSE_LIBS) $(SPF2_LIBS) \
	$(HIREDIS_LIBS) $(OPENSSL_LIBS)

sbin_PROGRAMS += milter/hopmilter
milter_hopmilter_SOURCES = \
	milter/hopmilter.c \
	milter/mlfi.c milter/mlfi.h \
	milter/daemon.c milter/daemon.h \
	milter/ctl.c milter/ctl.h \
	milter/ctlcmd.c milter/ctlcmd.h \
	milter/httpmetrics.c milter/httpmetrics.h
milter_hopmilter_CPPFLAGS = $(AM_CPPFLAGS) $(MHD_CFLAGS)
milter_hopmilter_LDADD = $(HOPPOLICY_LIBS) $(MILTER_LIBS) $(MHD_LIBS) $(SYSTEMD_LIBS)

# The control tool: a client of the daemon's control socket, nothing more.
sbin_PROGRAMS += milter/hopmilter-ctl
milter_hopmilter_ctl_SOURCES = milter/ctltool.c
milter_hopmilter_ctl_LDADD = lib/libhopcommon.a

dist_man_MANS += milter/hopmilter.8 milter/hopmilter.conf.5 milter/hopmilter-ctl.8
EXTRA_DIST += milter/hopmilter.conf

# ---------------------------------------------------------------------------
# Installation: where Debian puts things (configure --prefix=/usr
# --sysconfdir=/etc --runstatedir=/run).  DESTDIR is respected throughout.
# ---------------------------------------------------------------------------
sysusersdir = $(prefix)/lib/sysusers.d
tmpfilesdir = $(prefix)/lib/tmpfiles.d
hmconfdir = $(sysconfdir)/hopmilter
fail2bandir = $(sysconfdir)/fail2ban
examplesdir = $(docdir)/examples

EXTRA_DIST += milter/hopmilter.service.in milter/hopmilter.sysusers milter/hopmilter.tmpfiles
# The unit is written at install time, so its paths are those of the
# installation (make install prefix=/usr ... works without reconfiguring).
HM_UNIT_SED = sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@runstatedir[@]|$(runstatedir)|g' -e 's|@unit_type[@]|$(HM_UNIT_TYPE)|g'

# The configuration is installed only where none exists yet, and removed on
# uninstall only while it is still the unchanged sample.
install-data-local: install-hopmilter-data
install-hopmilter-data:
	$(MKDIR_P) '$(DESTDIR)$(systemdunitdir)'
	$(HM_UNIT_SED) $(srcdir)/milter/hopmilter.service.in >'$(DESTDIR)$(systemdunitdir)/hopmilter.service'
	chmod 0644 '$(DESTDIR)$(systemdunitdir)/hopmilter.service'
	$(MKDIR_P) '$(DESTDIR)$(hmconfdir)' '$(DESTDIR)$(sysusersdir)' '$(DESTDIR)$(tmpfilesdir)' \
		'$(DESTDIR)$(fail2bandir)/filter.d' '$(DESTDIR)$(fail2bandir)/jail.d' '$(DESTDIR)$(examplesdir)'
	test -f '$(DESTDIR)$(hmconfdir)/hopmilter.conf' || \
		$(INSTALL) -m 0640 $(srcdir)/milter/hopmilter.conf '$(DESTDIR)$(hmconfdir)/hopmilter.conf'
	$(INSTALL_DATA) $(srcdir)/milter/hopmilter.sysusers '$(DESTDIR)$(sysusersdir)/hopmilter.conf'
	$(INSTALL_DATA) $(srcdir)/milter/hopmilter.tmpfiles '$(DESTDIR)$(tmpfilesdir)/hopmilter.conf'
	$(INSTALL_DATA) $(srcdir)/fail2ban/filter.d/hopmilter.conf '$(DESTDIR)$(fail2bandir)/filter.d/hopmilter.conf'
	$(INSTALL_DATA) $(srcdir)/fail2ban/filter.d/hopmilter-ratelimit.conf '$(DESTDIR)$(fail2bandir)/filter.d/hopmilter-ratelimit.conf'
	$(INSTALL_DATA) $(srcdir)/fail2ban/jail.d/hopmilter.conf '$(DESTDIR)$(fail2bandir)/jail.d/hopmilter.conf'
	for d in postfix-conf sendmail-conf redis deploy; do \
		$(MKDIR_P) '$(DESTDIR)$(examplesdir)/'$$d; \
		for f in $(srcdir)/$$d/*; do \
			if test -f "$$f"; then $(INSTALL_DATA) "$$f" '$(DESTDIR)$(examplesdir)/'$$d/; fi; \
		done; \
	done

# The man pages name the Debian paths (/etc, /run); the installed copies
# name this installation's, which are those compiled into the programs
# (SYSCONFDIR, RUNSTATEDIR): `hopmilter --help` and hopmilter(8) agree.
install-data-hook: install-hopmilter-man
install-hopmilter-man:
	for m in man8/hopmilter.8 man8/hopmilter-ctl.8 man5/hopmilter.conf.5 man8/hoprelay.8 \
		man5/hoprelay.conf.5 man8/hoprelayd.8; do \
		f='$(DESTDIR)$(mandir)/'$$m; test -f "$$f" || continue; \
		sed -e 's|/etc/hopmilter/|$(sysconfdir)/hopmilter/|g' -e 's|/etc/hoprelay/|$(sysconfdir)/hoprelay/|g' \
			-e 's|/etc/fail2ban/|$(sysconfdir)/fail2ban/|g' \
			-e 's|/run/hopmilter/|$(runstatedir)/hopmilter/|g' "$$f" >"$$f.tmp" && \
		mv "$$f.tmp" "$$f" || exit 1; \
	done
.PHONY: install-hopmilter-man

uninstall-local: uninstall-hopmilter-data
uninstall-hopmilter-data:
	if cmp -s $(srcdir)/milter/hopmilter.conf '$(DESTDIR)$(hmconfdir)/hopmilter.conf'; then \
		rm -f '$(DESTDIR)$(hmconfdir)/hopmilter.conf'; fi
	rm -f '$(DESTDIR)$(systemdunitdir)/hopmilter.service'
	rm -f '$(DESTDIR)$(sysusersdir)/hopmilter.conf' '$(DESTDIR)$(tmpfilesdir)/hopmilter.conf' \
		'$(DESTDIR)$(fail2bandir)/filter.d/hopmilter.conf' '$(DESTDIR)$(fail2bandir)/jail.d/hopmilter.conf' \
		'$(DESTDIR)$(fail2bandir)/filter.d/hopmilter-ratelimit.conf'
	rm -rf '$(DESTDIR)$(examplesdir)'
.PHONY: install-hopmilter-data uninstall-hopmilter-data

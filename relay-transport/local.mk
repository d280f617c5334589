# relay-transport/: hoprelay, the SMTP client that carries mail from node to
# node across the VPN (a Postfix pipe(8) transport / Sendmail mailer).  Its
# modules form a convenience library shared by the program and its unit tests.
noinst_LIBRARIES += relay-transport/libhoprelay.a
relay_transport_libhoprelay_a_SOURCES = \
	relay-transport/hcache.c relay-transport/hcache.h \
	relay-transport/lmtpd.c relay-transport/lmtpd.h \
	relay-transport/msgin.c relay-transport/msgin.h \
	relay-transport/netio.c relay-transport/netio.h \
	relay-transport/outcome.c relay-transport/outcome.h \
	relay-transport/probe.c relay-transport/probe.h \
	relay-transport/route.c relay-transport/route.h \
	relay-transport/smtpc.c relay-transport/smtpc.h \
	relay-transport/tlsc.c relay-transport/tlsc.h \
	relay-transport/xfer.c relay-transport/xfer.h

# Link order: the relay library first, then what it uses.
HOPRELAY_LIBS = relay-transport/libhoprelay.a lib/libhopcommon.a $(IDN2_LIBS) $(CONFUSE_LIBS) $(OPENSSL_LIBS)

sbin_PROGRAMS += relay-transport/hoprelay
relay_transport_hoprelay_SOURCES = relay-transport/hoprelay.c
relay_transport_hoprelay_LDADD = $(HOPRELAY_LIBS)

# The LMTP daemon: the same library, kept running (see hoprelayd.c).
sbin_PROGRAMS += relay-transport/hoprelayd
relay_transport_hoprelayd_SOURCES = relay-transport/hoprelayd.c
relay_transport_hoprelayd_LDADD = $(HOPRELAY_LIBS)

dist_man_MANS += relay-transport/hoprelay.8 relay-transport/hoprelay.conf.5 relay-transport/hoprelayd.8
EXTRA_DIST += relay-transport/hoprelay.conf relay-transport/hoprelayd.service.in

# The sample routes go to $(sysconfdir)/hoprelay/hoprelay.conf only where
# no file exists yet, and leave on uninstall only while unchanged.  Mode
# 0644: the pipe(8) user (hoprelay, from sysusers.d/hoprelay.conf) must read
# it; it holds paths and pins, no secrets.  Its own directory, because
# hopmilter's (/etc/hopmilter, 0750 root:hopmilter) is closed to it and a hop
# node runs no hopmilter at all.
EXTRA_DIST += relay-transport/hoprelay.sysusers relay-transport/hoprelay.tmpfiles
install-data-local: install-hoprelay-data
install-hoprelay-data:
	$(MKDIR_P) '$(DESTDIR)$(systemdunitdir)' '$(DESTDIR)$(sysconfdir)/hoprelay' '$(DESTDIR)$(sysusersdir)' \
		'$(DESTDIR)$(tmpfilesdir)'
	$(HM_UNIT_SED) $(srcdir)/relay-transport/hoprelayd.service.in >'$(DESTDIR)$(systemdunitdir)/hoprelayd.service'
	chmod 0644 '$(DESTDIR)$(systemdunitdir)/hoprelayd.service'
	test -f '$(DESTDIR)$(sysconfdir)/hoprelay/hoprelay.conf' || \
		$(INSTALL_DATA) $(srcdir)/relay-transport/hoprelay.conf '$(DESTDIR)$(sysconfdir)/hoprelay/hoprelay.conf'
	$(INSTALL_DATA) $(srcdir)/relay-transport/hoprelay.sysusers '$(DESTDIR)$(sysusersdir)/hoprelay.conf'
	$(INSTALL_DATA) $(srcdir)/relay-transport/hoprelay.tmpfiles '$(DESTDIR)$(tmpfilesdir)/hoprelay.conf'
uninstall-local: uninstall-hoprelay-data
uninstall-hoprelay-data:
	rm -f '$(DESTDIR)$(systemdunitdir)/hoprelayd.service'
	if cmp -s $(srcdir)/relay-transport/hoprelay.conf '$(DESTDIR)$(sysconfdir)/hoprelay/hoprelay.conf'; then \
		rm -f '$(DESTDIR)$(sysconfdir)/hoprelay/hoprelay.conf'; fi
	rm -f '$(DESTDIR)$(sysusersdir)/hoprelay.conf' '$(DESTDIR)$(tmpfilesdir)/hoprelay.conf'
.PHONY: install-hoprelay-data uninstall-hoprelay-data

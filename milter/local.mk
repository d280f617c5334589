# milter/: the policy core (a convenience library shared by the daemon and
# the unit tests) and the hopmilter daemon that adapts it to libmilter.
noinst_LIBRARIES += milter/libhoppolicy.a
milter_libhoppolicy_a_SOURCES = \
	milter/conf.c milter/conf.h \
	milter/dset.c milter/dset.h \
	milter/policy.c milter/policy.h \
	milter/scrub.c milter/scrub.h
milter_libhoppolicy_a_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS)

# Link order: the policy library first, then what it uses.
HOPPOLICY_LIBS = milter/libhoppolicy.a lib/libhopcommon.a $(CONFUSE_LIBS)

sbin_PROGRAMS += milter/hopmilter
milter_hopmilter_SOURCES = \
	milter/hopmilter.c \
	milter/mlfi.c milter/mlfi.h \
	milter/daemon.c milter/daemon.h
milter_hopmilter_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS)
milter_hopmilter_LDADD = $(HOPPOLICY_LIBS) $(MILTER_LIBS)

dist_man_MANS += milter/hopmilter.8 milter/hopmilter.conf.5
EXTRA_DIST += milter/hopmilter.conf

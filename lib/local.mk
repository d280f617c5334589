# lib/: code shared by hopmilter and hoprelay (logging, escaping, addresses,
# domains, the monotonic clock, configuration glue).
noinst_LIBRARIES += lib/libhopcommon.a
lib_libhopcommon_a_SOURCES = \
	lib/addr.c lib/addr.h \
	lib/cfgtext.c lib/cfgtext.h \
	lib/cfgx.c lib/cfgx.h \
	lib/domain.c lib/domain.h \
	lib/esc.c lib/esc.h \
	lib/listfile.c lib/listfile.h \
	lib/log.c lib/log.h \
	lib/monotime.c lib/monotime.h \
	lib/netaddr.c lib/netaddr.h

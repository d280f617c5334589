/*
 * fuzz - what the libFuzzer harnesses in tests/fuzz share (header only:
 * tests/fuzz/run.sh builds each harness from its own .c and source list).
 *
 * fuzz_quiet is a log sink (log_set_sink) that drops every line: a harness
 * runs millions of inputs, and what it checks is the code's results, not
 * its log.
 */
#ifndef HOP_FUZZ_H
#define HOP_FUZZ_H

static void
fuzz_quiet(int prio, const char *text, void *arg)
{
	(void)prio;
	(void)text;
	(void)arg;
}

#endif

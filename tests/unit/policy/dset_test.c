/* Unit tests: domain sets (milter/policy/dset.c). */
#include "config.h"

#include <stdio.h>

#include "tests/unit/check.h"
#include "milter/policy/dset.h"

int
main(void)
{
	struct dset *s = dset_new();
	char name[64];

	CHECK(s != NULL, "dset_new");
	dset_add(s, "example.com", false);
	dset_add(s, "example.org", true);
	dset_add(s, "deep.sub.example.net", true);

	CHECK(dset_match(s, "example.com"), "exact entry");
	CHECK(!dset_match(s, "mail.example.com"), "exact entry does not cover subdomains");
	CHECK(!dset_match(s, "notexample.com"), "suffix without a dot is another domain");
	CHECK(dset_match(s, "example.org"), "subdomain entry covers itself");
	CHECK(dset_match(s, "a.b.example.org"), "subdomain entry covers deep names");
	CHECK(!dset_match(s, "example.org.evil.example"), "a listed name inside another does not match");
	CHECK(!dset_match(s, "badexample.org"), "label boundary respected");
	CHECK(dset_match(s, "x.deep.sub.example.net"), "multi-label entry");
	CHECK(!dset_match(s, "sub.example.net"), "parent of an entry is not covered");
	CHECK(!dset_match(s, ""), "empty name");
	CHECK(!dset_match(NULL, "example.com"), "NULL set matches nothing");

	/* Same name twice: the wider flag wins. */
	dset_add(s, "example.com", true);
	CHECK(dset_match(s, "www.example.com"), "re-added with subdomains");
	CHECK(dset_count(s) == 3, "count %zu", dset_count(s));

	/* Growth keeps every entry. */
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		dset_add(s, name, i % 2 == 0);
	}
	CHECK(dset_count(s) == 5003, "count after growth %zu", dset_count(s));
	CHECK(dset_match(s, "d4998.example") && dset_match(s, "x.d4998.example"), "even: subdomains");
	CHECK(dset_match(s, "d4999.example") && !dset_match(s, "x.d4999.example"), "odd: exact");
	CHECK(dset_match(s, "a.b.example.org"), "old entries survive growth");
	dset_free(s);
	return check_done("dset_test");
}

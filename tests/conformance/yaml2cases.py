#!/usr/bin/env python3
"""yaml2cases.py - turn the openspf RFC 7208 test suite (YAML) into the
line format spf_conformance reads, with the suite's own DNS rules applied
the way its reference driver (pyspf's test/testspf.py) applies them.

Output, one record per line, fields separated by tabs, every byte outside
printable ASCII (and the backslash) written as \\xHH:

  S  <scenario description>
  Z  <name> <A|AAAA|MX|TXT|PTR|TIMEOUT|NODATA> <data>
  T  <id> <client ip> <helo> <mail from> <result[,result]> <explanation>

DNS rules of the suite (testspf.py):
  - an SPF entry stands for a TXT record too unless the name has a TXT entry
    (RFC 7208 retired the SPF type; only TXT is served here);
  - "TXT: NONE" means no TXT record; a list of strings is one record;
  - a bare TIMEOUT makes every type not listed before it time out, and the
    entries after it are never seen;
  - a name that exists has "no data" for other types (NODATA), a name that
    is not listed does not exist;
  - a CNAME is followed once: its target's records answer for it.

Standard library only, plus yaml from Debian's python3-yaml.
"""
import sys

import yaml


def esc(value):
    if isinstance(value, str):
        value = value.encode('utf-8')
    out = []
    for b in value:
        if 0x21 <= b <= 0x7e and b != 0x5c:
            out.append(chr(b))
        else:
            out.append('\\x%02x' % b)
    return ''.join(out)


def txt_join(v):
    return ''.join(v) if isinstance(v, list) else v


def name_records(entries):
    """(records, timeout) for one name: records as (type, data) in order."""
    recs, spf, has_txt, timeout = [], [], False, False
    for e in entries:
        if e == 'TIMEOUT':
            timeout = True
            break
        for t, v in e.items():
            if t == 'SPF':
                spf.append(txt_join(v))
            elif t == 'TXT':
                has_txt = True
                if v != 'NONE':
                    recs.append(('TXT', txt_join(v)))
            elif t == 'MX':
                recs.append(('MX', '%d %s' % (v[0], v[1])))
            elif t in ('A', 'AAAA', 'PTR', 'CNAME'):
                recs.append((t, v))
            else:
                raise SystemExit('unknown record type %s' % t)
    if not has_txt:
        recs += [('TXT', s) for s in spf]
    return recs, timeout


def zone_lines(zonedata):
    names = {}
    for name, entries in zonedata.items():
        names[name.lower().rstrip('.')] = name_records(entries)
    lines = []
    for name, (recs, timeout) in names.items():
        out = []
        for t, v in recs:
            if t == 'CNAME':
                target = names.get(v.lower().rstrip('.'), ([], False))[0]
                out += [r for r in target if r[0] != 'CNAME']
            else:
                out.append((t, v))
        out.append(('TIMEOUT' if timeout else 'NODATA', ''))
        lines += ['Z\t%s\t%s\t%s' % (esc(name), t, esc(v)) for t, v in out]
    return lines


def main():
    with open(sys.argv[1], 'rb') as f:
        docs = list(yaml.safe_load_all(f))
    for doc in docs:
        print('S\t%s' % esc(doc.get('description', '')))
        for line in zone_lines(doc.get('zonedata', {})):
            print(line)
        for tid, t in doc['tests'].items():
            res = t['result']
            res = ','.join(res) if isinstance(res, list) else res
            print('T\t%s\t%s\t%s\t%s\t%s\t%s' % (esc(tid), esc(t['host']), esc(t['helo']),
                  esc(t['mailfrom']), res, esc(t.get('explanation', ''))))


if __name__ == '__main__':
    main()

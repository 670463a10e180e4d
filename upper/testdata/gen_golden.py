#!/usr/bin/env python3
"""Write upper.golden: Python's str.upper for every code point that it changes.

The first line is "# unidata_version X.Y.Z" (Python's unicodedata version).
Each further line is "XXXX YYYY [YYYY...]": a code point in hex, then the
code points of chr(c).upper() in hex. Code points 0..0x10FFFF except the
surrogates are tried; those not listed map to themselves.

Run from anywhere; go generate runs it as `python3 testdata/gen_golden.py`.
"""
import os
import unicodedata

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upper.golden")
lines = ["# unidata_version %s" % unicodedata.unidata_version]
for c in range(0x110000):
    if 0xD800 <= c <= 0xDFFF:
        continue
    u = chr(c).upper()
    if u != chr(c):
        lines.append("%04X %s" % (c, " ".join("%04X" % ord(x) for x in u)))
with open(path, "w", encoding="ascii", newline="\n") as f:
    f.write("\n".join(lines) + "\n")

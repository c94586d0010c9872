#!/usr/bin/python3
"""Compare two dumps page by page with libkdumpfile (an independent reader).

usage: kdumpfile_compare.py A B
Walks the pages libkdumpfile reports as present (file.pagemap) in both files, requires the
same set of pfns and identical contents, and prints "identical N" on success."""
import sys
import kdumpfile

PHYS = kdumpfile.KDUMP_MACHPHYSADDR


def pages(path):
    k = kdumpfile.kdumpfile(path)
    pm = k.attr["file.pagemap"]
    maxp = k.attr["max_pfn"]
    ps = 4096
    pfn = 0
    while pfn < maxp:
        try:
            pfn = pm.find_set(pfn)
        except Exception:
            return
        if pfn >= maxp:
            return
        yield pfn, bytes(k.read(PHYS, pfn * ps, ps))
        pfn += 1


n = 0
for (pa, da), (pb, db) in zip(pages(sys.argv[1]), pages(sys.argv[2])):
    if pa != pb:
        sys.exit("pfn sets differ: %#x vs %#x" % (pa, pb))
    if da != db:
        sys.exit("pfn %#x differs" % pa)
    n += 1
rest = sum(1 for _ in pages(sys.argv[1])) - n, sum(1 for _ in pages(sys.argv[2])) - n
if rest != (0, 0):
    sys.exit("page counts differ: %d extra in A, %d extra in B" % rest)
print("identical", n)

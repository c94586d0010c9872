#!/usr/bin/python3
"""Regenerate the LZO test vectors with liblzo2 (python3-lzo): NAME.raw is the input,
NAME.1.lzo is lzo1x_1_compress output, NAME.999.lzo is lzo1x_999_compress output (raw, no
python-lzo header). Run from this directory; the Rust tests decode every .lzo file."""
import lzo, random, sys

def vectors():
    r = random.Random(1234)
    yield "empty", b""
    yield "one", b"x"
    yield "text", (b"The quick brown fox jumps over the lazy dog. " * 60)[:2500]
    yield "zeros", bytes(4096)
    yield "noise", bytes(r.getrandbits(8) for _ in range(4096))
    page = bytearray()
    while len(page) < 4096:
        kind = r.randrange(4)
        n = r.randrange(1, 300)
        if kind == 0:
            page += bytes(n)
        elif kind == 1:
            page += bytes(r.getrandbits(8) for _ in range(n))
        elif kind == 2 and len(page) > 8:
            start = r.randrange(0, len(page) - 4)
            page += page[start:start + n]
        else:
            page += (r.getrandbits(64).to_bytes(8, "little")) * (n // 8 + 1)
    yield "mixed", bytes(page[:4096])
    big = bytes(r.getrandbits(8) for _ in range(20000))
    yield "far", big + big + bytes(3000) + big[:5000]
    # a page of pointer-like data as found in kernel memory
    yield "pointers", b"".join((0xffff888000000000 + r.randrange(1 << 20) * 64).to_bytes(8, "little") for _ in range(512))

for name, data in vectors():
    open(name + ".raw", "wb").write(data)
    for level in (1, 9):
        c = lzo.compress(data, level, False)
        assert lzo.decompress(c, False, max(len(data), 1)) == data
        open("%s.%s.lzo" % (name, "1" if level == 1 else "999"), "wb").write(c)

#!/usr/bin/python3
"""Read a list of physical / kernel virtual ranges from a dump with python3-libkdumpfile.
stdin: {"path": FILE, "reads": [["p" or "v", address, length], ...]}
stdout: a JSON list, one entry per read: the bytes as hex, or "ERR" if the read failed."""
import json, sys
import kdumpfile

req = json.load(sys.stdin)
try:
    k = kdumpfile.kdumpfile(req["path"])
    k.attr["addrxlat.ostype"] = "linux"
except Exception as e:
    json.dump({"open_error": str(e)}, sys.stdout)
    sys.exit(0)
out = []
for kind, addr, length in req["reads"]:
    space = kdumpfile.KDUMP_KPHYSADDR if kind == "p" else kdumpfile.KDUMP_KVADDR
    try:
        out.append(bytes(k.read(space, addr, length)).hex())
    except Exception:
        out.append("ERR")
json.dump(out, sys.stdout)

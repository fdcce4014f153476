"""An independent jump consistent hash (Lamping & Veach, 2014, arXiv:1406.2294) over FNV-1a 64-bit key hashes,
written from the paper's pseudo-code, to cross-check Usher's Redis node choice.

stdin:  {"keys": [str, ...], "node_counts": [int, ...]}
stdout: {"nodes": {"<count>": [node per key, ...]}}
"""
import json
import sys

MASK = (1 << 64) - 1


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def jump(key, buckets):
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & MASK
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


request = json.load(sys.stdin)
hashes = [fnv1a64(k.encode()) for k in request["keys"]]
json.dump({"nodes": {str(n): [jump(h, n) for h in hashes] for n in request["node_counts"]}}, sys.stdout)

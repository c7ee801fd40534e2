#!/usr/bin/env python3
"""Decode a PNG file with the standard library only (struct, zlib) and print what it holds.

    python3 scripts/checks/png_check.py FILE.png
    -> {"width": 480, "height": 480, "channels": 3, "bit_depth": 8, "distinct_colors": 1234}

Checks the signature, every chunk's CRC, IHDR, the IDAT stream's length, and undoes the row
filters (None, Sub, Up, Average, Paeth) to count distinct pixel colours. An independent decoder
for the files orwdist writes through libpng; exits non-zero with a message on any defect.
"""
import json
import struct
import sys
import zlib

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}   # colour type -> samples per pixel


def fail(message):
    sys.exit(f"png_check: {sys.argv[1]}: {message}")


def main():
    data = open(sys.argv[1], "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG signature")
    position, chunks = 8, []
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        if zlib.crc32(kind + body) != crc:
            fail(f"bad CRC in chunk {kind!r}")
        chunks.append((kind, body))
        position += 12 + length
        if kind == b"IEND":
            break
    if chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        fail("IHDR must come first and IEND last")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if depth != 8 or interlace != 0:
        fail(f"only 8-bit non-interlaced images are checked (bit depth {depth}, interlace {interlace})")
    bpp = CHANNELS[color]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        fail(f"IDAT holds {len(raw)} bytes, {width}x{height}x{bpp} needs {height * (stride + 1)}")
    previous, colors = bytearray(stride), set()
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + left) & 255
            elif kind == 2:
                row[i] = (row[i] + up) & 255
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[i] = (row[i] + predictor) & 255
            elif kind != 0:
                fail(f"unknown filter type {kind} in row {y}")
        colors.update(bytes(row[i:i + bpp]) for i in range(0, stride, bpp))
        previous = row
    print(json.dumps({"width": width, "height": height, "channels": bpp, "bit_depth": depth,
                      "distinct_colors": len(colors)}))


if __name__ == "__main__":
    main()

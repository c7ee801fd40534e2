#!/usr/bin/env python3
"""Prints the JPEG reward −(size in kB) of Fashion-MNIST's first N test images, the scale the
compressibility experiment's samples compare against: mean and standard deviation.

    python3 scripts/experiments/jpeg_reference.py [N] [QUALITY]      # defaults: 256, 95

Uses `cjpeg -quality Q -grayscale` (libjpeg-turbo-progs), the encoder the `jpeg` reward matches
byte for byte, on the raw test images (standard library only).
"""
import gzip
import statistics
import subprocess
import sys

IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def main(count=256, quality=95):
    with gzip.open(IMAGES) as file:
        data = file.read()
    side = 28
    rewards = []
    for i in range(count):
        pixels = data[16 + i * side * side:16 + (i + 1) * side * side]
        jpeg = subprocess.run(["cjpeg", "-quality", str(quality), "-grayscale"],
                              input=b"P5 28 28 255\n" + pixels, capture_output=True, check=True).stdout
        rewards.append(-len(jpeg) / 1000)
    print(f"JPEG reward of the first {count} Fashion-MNIST test images at quality {quality}: "
          f"mean {statistics.mean(rewards):.3f} kB, std {statistics.pstdev(rewards):.3f} kB")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:3]))

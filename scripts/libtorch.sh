#!/usr/bin/env bash
# Provision libtorch 2.4.0 (CPU) from the PyPI wheel `torch==2.4.0`, without the
# download from pytorch.org that tch's build script would otherwise attempt.
#
#   scripts/libtorch.sh          # idempotent; prints the LIBTORCH folder
#
# Result: .libtorch/cpu/{include,lib} (a folder of links into the wheel), which
# .cargo/config.toml points LIBTORCH at. Why: tch 0.17 wants libtorch 2.4.0, and its own
# download (from pytorch.org) is not reachable here; the CPU wheel on PyPI carries the same
# library, headers included.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.libtorch"
venv="$cache/venv"
out="$cache/cpu"
stamp="$cache/.done-2.4.0"

if [ -f "$stamp" ] && [ -e "$out/lib/libtorch_cpu.so" ]; then
  echo "$out"
  exit 0
fi

py=${PYTHON:-python3}
mkdir -p "$cache"
if [ ! -x "$venv/bin/pip" ]; then
  echo "libtorch: creating $venv" >&2
  "$py" -m venv "$venv"
fi
echo "libtorch: installing torch==2.4.0 from PyPI (about 810 MB, cached in .libtorch/)" >&2
"$venv/bin/pip" install --quiet --no-deps torch==2.4.0 \
  nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105 >&2

torch_dir=$("$venv/bin/python" - <<'PY'
import pathlib, sysconfig
print(pathlib.Path(sysconfig.get_paths()["purelib"]) / "torch")
PY
)
if [ ! -e "$torch_dir/lib/libtorch_cpu.so" ]; then
  echo "libtorch: $torch_dir/lib/libtorch_cpu.so not found after install" >&2
  exit 1
fi
mkdir -p "$out/lib"
ln -sfn "$torch_dir/include" "$out/include"
ln -sf "$torch_dir/lib/libtorch_cpu.so" "$out/lib/libtorch_cpu.so"
ln -sf "$torch_dir/lib/libc10.so" "$out/lib/libc10.so"
# The wheel's own libtorch.so needs libtorch_cuda; point the name at the CPU library.
ln -sf "$torch_dir/lib/libtorch_cpu.so" "$out/lib/libtorch.so"
touch "$stamp"
echo "$out"

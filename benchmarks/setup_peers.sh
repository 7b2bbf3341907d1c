#!/usr/bin/env bash
# The peers live in their own virtualenv so they never touch mfrec's dependencies.
# Surprise is built against NumPy 1.x, hence numpy<2 and a pyarrow that still supports it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
peers="$here/.peers"
# benchmarks/.peers may be a symlink to a shared folder: the venv goes into its target.
[ -L "$peers" ] && peers="$(readlink -f "$peers")"
python3 -m venv "$peers"
"$peers/bin/pip" install -q --upgrade pip
"$peers/bin/pip" install -q "numpy<2" scikit-surprise libmf cmfrec implicit myfm threadpoolctl pandas "pyarrow<16"
# The libmf wheel compiles LibMF without its SIMD path (no -DUSEAVX) and without OpenMP;
# build the same sources with LibMF's fastest flags (AVX + OpenMP, as its own Makefile's
# USEAVX/USEOMP options) so the comparison is against LibMF at its best.
src="$(mktemp -d)"
"$peers/bin/pip" download -q --no-binary :all: --no-deps -d "$src" libmf
tar xzf "$src"/libmf-*.tar.gz -C "$src"
flags=(-O3 -march=native -DUSEAVX -mavx -DUSEOMP -fopenmp -std=c++11 -pthread)
cpp="$(echo "$src"/libmf-*/src_cpp)"
g++ "${flags[@]}" -shared -fPIC "$cpp/libmf_interface.cpp" "$cpp/mf.cpp" -o "$peers/libmf-avx.so"
# LibMF's own command-line trainer, when the sdist ships its source.
if [ -f "$cpp/mf-train.cpp" ]; then
    g++ "${flags[@]}" "$cpp/mf-train.cpp" "$cpp/mf.cpp" -o "$peers/mf-train"
fi
rm -rf "$src"
echo "peers installed in $peers (LibMF with AVX + OpenMP: $peers/libmf-avx.so)"

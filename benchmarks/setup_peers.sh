#!/usr/bin/env bash
# The peers live in their own virtualenv so they never touch mfrec's dependencies.
# Surprise is built against NumPy 1.x, hence numpy<2 and a pyarrow that still supports it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.peers"
"$here/.peers/bin/pip" install -q --upgrade pip
"$here/.peers/bin/pip" install -q "numpy<2" scikit-surprise libmf cmfrec implicit threadpoolctl pandas "pyarrow<16"
# The libmf wheel compiles LibMF without its SIMD path (no -DUSEAVX), about 6x slower than
# LibMF proper; build the same sources with AVX so the comparison is against LibMF at its best.
src="$(mktemp -d)"
"$here/.peers/bin/pip" download -q --no-binary :all: --no-deps -d "$src" libmf
tar xzf "$src"/libmf-*.tar.gz -C "$src"
g++ -O3 -march=native -DUSEAVX -mavx -std=c++11 -shared -fPIC -pthread \
    "$src"/libmf-*/src_cpp/libmf_interface.cpp "$src"/libmf-*/src_cpp/mf.cpp -o "$here/.peers/libmf-avx.so"
rm -rf "$src"
echo "peers installed in $here/.peers (LibMF with AVX: $here/.peers/libmf-avx.so)"

#!/usr/bin/env bash
# LibMF's own command-line trainer, mf-train, built from LibMF's sources with the AVX + OpenMP options of its
# Makefile (DFLAG = -DUSEAVX, CXXFLAGS += -mavx, -DUSEOMP -fopenmp), into the peers' folder (issue 30 #2).
# The PyPI package has no CLI, so the sources come from github.com/cjlin1/libmf:
#   git clone https://github.com/cjlin1/libmf /tmp/libmf   (or any copy of it)
#   benchmarks/build_libmf_cli.sh /tmp/libmf [OUT_DIR]
# Nothing of LibMF is committed here; OUT_DIR (default benchmarks/.peers, the peers' venv) gets mf-train and
# mf-train.build (the flags and, when SRC is a git checkout, its commit), which the speed table quotes.
set -euo pipefail
src="${1:?usage: build_libmf_cli.sh LIBMF_SOURCE_DIR [OUT_DIR]}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${2:-$here/.peers}"
[ -L "$out" ] && out="$(readlink -f "$out")"
flags=(-Wall -O3 -pthread -std=c++0x -march=native -fopenmp -DUSEAVX -mavx -DUSEOMP)
work="$(mktemp -d)"
g++ "${flags[@]}" -c -fPIC -o "$work/mf.o" "$src/mf.cpp"
g++ "${flags[@]}" -o "$out/mf-train" "$src/mf-train.cpp" "$work/mf.o"
rm -rf "$work"
commit="$(git -C "$src" rev-parse HEAD 2>/dev/null || echo "${LIBMF_COMMIT:-unknown}")"
echo "LibMF mf-train, commit $commit, g++ $(g++ -dumpversion) ${flags[*]}" > "$out/mf-train.build"
echo "built $out/mf-train: $(cat "$out/mf-train.build")"

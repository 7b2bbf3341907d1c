#!/usr/bin/env bash
# The peers live in their own virtualenv so they never touch mfrec's dependencies.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.peers"
"$here/.peers/bin/pip" install -q --upgrade pip
"$here/.peers/bin/pip" install -q "numpy<2" scikit-surprise libmf pandas pyarrow
echo "peers installed in $here/.peers"

#!/usr/bin/env bash
# clang-format check and clang-tidy over src/ (uses build/compile_commands.json).
# Usage: scripts/lint.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp' 'bench/*.hpp')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
else
  clang-format --dry-run --Werror "${files[@]}"
fi
[ -f build/compile_commands.json ] || cmake --preset release >/dev/null
mapfile -t srcs < <(git ls-files 'src/*.cpp')
clang-tidy -p build --quiet "${srcs[@]}"
echo "lint: ok"

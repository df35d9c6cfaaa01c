#!/usr/bin/env bash
# check-atomics.sh [SOURCE_DIR]
# Every atomic operation and fence in src/ carries a comment naming its
# ordering and its pair (see CONTRIBUTING.md). Flags each line of src/*.c and
# src/*.h that calls atomic_*() (atomic_thread_fence included; not _Atomic
# declarations, atomic_* type names, #include <stdatomic.h> or atomic_init,
# which is not an atomic access) and has no comment on the same line or on
# the line right before. A line counts as commented when it holds "//",
# "/*" or "*/", or lies inside a block comment. A statement that spans lines
# counts as one: a comment right before its first line covers all of them
# (a line continues the one before unless that one ends in ; { or }).
# Exits 1 listing them.
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
shopt -s nullglob
files=("$root"/src/*.c "$root"/src/*/*.c "$root"/src/*/*.h)
[ ${#files[@]} -gt 0 ] || { echo "ok: no sources in $root/src"; exit 0; }

status=0
awk '
  FNR == 1 { in_block = 0; prev_commented = 0; prev_covered = 0; prev_open = 0 }
  {
    line = $0
    # Is any part of this line a comment?
    commented = in_block || index(line, "//") || index(line, "/*") || index(line, "*/")
    # Covered: commented here or on the line before, or continuing a
    # statement whose earlier line was covered.
    covered = commented || prev_commented || (prev_open && prev_covered)
    # Track block comments across lines (strings holding "/*" are ignored).
    rest = line
    while (1) {
      if (in_block) {
        p = index(rest, "*/")
        if (!p) break
        in_block = 0; rest = substr(rest, p + 2)
      } else {
        p = index(rest, "/*"); q = index(rest, "//")
        if (!p || (q && q < p)) break
        in_block = 1; rest = substr(rest, p + 2)
      }
    }
    if (line ~ /(^|[^A-Za-z0-9_])atomic_[a-z_]+[ \t]*\(/ &&
        line !~ /^[ \t]*#[ \t]*include/) {
      call = line
      gsub(/(^|[^A-Za-z0-9_])atomic_init[ \t]*\(/, "", call)
      if (call ~ /(^|[^A-Za-z0-9_])atomic_[a-z_]+[ \t]*\(/ && !covered) {
        printf "%s:%d: %s\n", FILENAME, FNR, line
        found = 1
      }
    }
    prev_commented = commented
    prev_covered = covered
    # Does the statement go on past this line? (Code only: drop a trailing
    # comment and blanks; blank and comment-only lines end nothing.)
    code = line
    sub(/[ \t]*(\/\/.*|\/\*.*)$/, "", code)
    sub(/[ \t]+$/, "", code)
    if (in_block && !index(line, "/*")) code = ""
    if (code != "" && code !~ /^[ \t]*\*/)
      prev_open = (code !~ /[;{}]$/ && code !~ /^[ \t]*#/) || code ~ /\\$/
  }
  END { exit found ? 1 : 0 }
' "${files[@]}" || status=$?

if [ "$status" -eq 1 ]; then
  echo "error: the atomic operations above need a comment (ordering, purpose, pair)" \
       "on the same line or the line before" >&2
  exit 1
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
echo "ok: every atomic operation in src/ is commented"

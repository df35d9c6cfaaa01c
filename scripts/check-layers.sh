#!/usr/bin/env bash
# check-layers.sh: the source tree's layer rule (CONTRIBUTING.md).
#
#   base <- core <- {sync, io, debug} <- http <- runtime.c
#
# A file under src/FOLDER/ may include weft.h, system headers, and private
# headers of its own folder or of a folder below it, always named with
# their folder ("core/task.h"). sync, io and debug never include each
# other. src/runtime.c, the composition root, may include any folder.
# Modules of one folder may include each other both ways (worker.c and
# timer.c do); the script also checks, independently of the table above,
# that no include cycle spans two folders.
# Prints each offending line; exits 1 if there is any.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/src"

allowed() { # allowed FOLDER -> the folders it may include
  case $1 in
    base) echo "base" ;;
    core) echo "base core" ;;
    sync) echo "base core sync" ;;
    io) echo "base core io" ;;
    debug) echo "base core debug" ;;
    http) echo "base core sync io http" ;;
    .) echo "base core sync io debug http" ;;
    *) echo "" ;;
  esac
}

bad=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in *.c */*.c */*.h; do
  [ -e "$f" ] || continue
  folder=$(dirname "$f")
  ok=$(allowed "$folder")
  if [ "$folder" != . ] && [ -z "$ok" ]; then
    echo "$f: folder '$folder' is not a layer (add it to check-layers.sh)"
    bad=1
    continue
  fi
  while IFS= read -r line; do
    inc=${line#*\"}
    inc=${inc%%\"*}
    [ "$inc" = weft.h ] && continue
    case $inc in
      */*) to=${inc%%/*} ;;
      *)
        echo "$f: #include \"$inc\" names no folder"
        bad=1
        continue ;;
    esac
    if [ ! -e "$inc" ]; then
      echo "$f: #include \"$inc\": no such file under src/"
      bad=1
      continue
    fi
    if ! grep -qw -- "$to" <<<"$ok"; then
      echo "$f: #include \"$inc\" runs upward or sideways ($folder -> $to)"
      bad=1
    fi
    # Folder-to-folder edges, for the cycle check.
    [ "$folder" != "$to" ] && echo "$folder $to" >>"$edges"
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
done

# A cycle among folders: tsort reports one.
sort -u -o "$edges" "$edges"
if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
  echo "include cycle across folders:"
  sed 's/^/  /' "$edges.err"
  bad=1
fi
rm -f "$edges.err"

if [ "$bad" -ne 0 ]; then
  echo "FAILED: the layer rule is broken (see CONTRIBUTING.md, 'Layers')"
  exit 1
fi
echo "ok: every include points down, no cycle across folders"

#!/usr/bin/env bash
# The user documentation stands on its own in a clone: every relative link of
# README.md and docs/*.md (and every docs/ file named by `retouchd --help` and
# `retouch --help`) resolves inside the repository, every #anchor names a
# heading of its target, and nothing points at ../shared (a design folder a
# clone does not have).
#   doc_links.sh REPO_ROOT [BINARY...]
set -u
root="$1"
shift
cd "$root" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# GitHub's anchor of a heading: lower case, punctuation dropped, spaces -> '-'.
slug() { printf '%s' "$1" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g'; }
has_anchor() { # file anchor
  local h
  while IFS= read -r h; do
    [ "$(slug "$h")" = "$2" ] && return 0
  done < <(sed -nE 's/^#{1,6} +(.*[^ ]) *$/\1/p' "$1")
  return 1
}

docs=(README.md docs/*.md)
[ -e docs/API.md ] || fail "docs/API.md is missing"
[ -e docs/PLUGINS.md ] || fail "docs/PLUGINS.md is missing"
checked=0
for doc in "${docs[@]}"; do
  [ -f "$doc" ] || continue
  dir=$(dirname "$doc")
  # ../shared, in links or in prose
  if grep -n '\.\./shared\|/work/shared' "$doc" >/dev/null; then
    fail "$doc mentions a folder outside the repository: $(grep -n '\.\./shared\|/work/shared' "$doc" | head -3 | tr '\n' ' ')"
  fi
  # [text](target) and ![alt](target); code spans are not links
  while IFS= read -r target; do
    target="${target%% *}" # drop a "title"
    case "$target" in
    http://* | https://* | mailto:*) continue ;;
    esac
    checked=$((checked + 1))
    path="${target%%#*}"
    anchor=""
    [ "$path" != "$target" ] && anchor="${target#*#}"
    if [ -z "$path" ]; then
      file="$doc"
    else
      file="$dir/$path"
      resolved=$(realpath -m "$file")
      case "$resolved" in
      "$(pwd)"/*) ;;
      *) fail "$doc: link $target leaves the repository" && continue ;;
      esac
      [ -e "$file" ] || {
        fail "$doc: link $target does not resolve ($file is missing)"
        continue
      }
    fi
    if [ -n "$anchor" ] && [ -f "$file" ]; then
      has_anchor "$file" "$anchor" || fail "$doc: link $target: no heading #$anchor in $file"
    fi
  done < <(sed -E 's/`[^`]*`//g' "$doc" | grep -oE '\]\([^)]+\)' | sed -E 's/^\]\((.*)\)$/\1/')
done
[ "$checked" -gt 10 ] || fail "only $checked relative links found: is the parser broken?"

# The binaries' --help names docs that must exist.
for bin in "$@"; do
  help=$("$bin" --help 2>&1)
  if printf '%s' "$help" | grep -q '\.\./shared'; then
    fail "$(basename "$bin") --help mentions ../shared"
  fi
  for ref in $(printf '%s' "$help" | grep -oE 'docs/[A-Za-z0-9_./-]+\.md'); do
    [ -e "$ref" ] || fail "$(basename "$bin") --help names $ref, which the repository lacks"
  done
done

if [ "$failures" -ne 0 ]; then
  echo "$failures documentation link checks failed"
  exit 1
fi
echo "documentation links: $checked relative links resolve"

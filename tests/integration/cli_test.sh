#!/usr/bin/env bash
# Black-box tests of the `retouch` command line: the interface other tools
# depend on (exit codes, -o semantics, folders, metadata, presets, errors).
set -u
RETOUCH="$1"
DATA="$2"
T=$(mktemp -d /tmp/rt-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect_rc() { # expected command...
  local want=$1; shift
  "$@" >"$T/stdout" 2>"$T/stderr"
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "exit $rc (want $want): $* -- $(head -c 400 "$T/stderr")"
}
magic() { head -c 4 "$1" | od -An -c | tr -d ' \n'; }

CC='{"mode":"professional","tasks":[{"Plugin":"Color Correction"}]}'
LAYERED='{"mode":"professional","tasks":[{"Plugin":"Color Correction","Layer":1}]}'
echo "$CC" >"$T/cc.json"
echo "$LAYERED" >"$T/layered.json"
cp "$DATA/london_012_800.jpg" "$T/a.jpg"
cp "$DATA/london_038_800.jpg" "$T/b.jpg"

# --list-plugins: the 17 names in table order
expect_rc 0 "$RETOUCH" --list-plugins
[ "$(wc -l <"$T/stdout")" -eq 17 ] || fail "--list-plugins prints $(wc -l <"$T/stdout") lines"
[ "$(head -1 "$T/stdout")" = "Skin Mask" ] || fail "first plugin is $(head -1 "$T/stdout")"
[ "$(tail -1 "$T/stdout")" = "Crop" ] || fail "last plugin is $(tail -1 "$T/stdout")"

# presets
expect_rc 0 "$RETOUCH" --preset list
grep -qx natural "$T/stdout" || fail "--preset list lacks natural"
expect_rc 2 "$RETOUCH" --preset nosuch a.jpg
grep -q "unknown preset 'nosuch'" "$T/stderr" || fail "unknown preset message"
expect_rc 2 "$RETOUCH" --preset ../etc/passwd "$T/a.jpg"

# --validate: normalised tasks, or the errors (exit 2)
expect_rc 0 "$RETOUCH" -p "$T/cc.json" --validate
grep -q '"Plugin": "Color Correction"' "$T/stdout" || fail "--validate output"
echo '{"mode":"professional","tasks":[{"Plugin":"Dodge Burn","Alpha1":2.5}]}' >"$T/bad.json"
expect_rc 2 "$RETOUCH" -p "$T/bad.json" --validate
grep -q 'tasks\[0\] (Dodge Burn): Alpha1 = 2.5 is outside \[0, 2\]' "$T/stderr" ||
  fail "payload error message: $(cat "$T/stderr")"
expect_rc 2 "$RETOUCH" -p "$T/bad.json" "$T/a.jpg"
[ ! -e "$T/a_retouched.jpg" ] || fail "a payload error processed an image"
echo '{}' >"$T/empty.json"
expect_rc 2 "$RETOUCH" -p "$T/empty.json" --validate
grep -q 'mode is required' "$T/stderr" || fail "{} message"
# usage errors
expect_rc 2 "$RETOUCH" "$T/a.jpg"
expect_rc 2 "$RETOUCH" -p "$T/cc.json"
expect_rc 2 "$RETOUCH" -p "$T/missing.json" "$T/a.jpg"
expect_rc 2 "$RETOUCH" -p "$T/cc.json" --jobs 0 "$T/a.jpg"
expect_rc 2 "$RETOUCH" --bogus-flag

# one input: -o is the file; --metadata writes result.json
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/out.jpg" --metadata "$T/out.json" "$T/a.jpg"
[ "$(magic "$T/out.jpg")" = "377330377340" ] || [ "$(head -c 3 "$T/out.jpg" | od -An -tx1 | tr -d ' \n')" = "ffd8ff" ] || fail "out.jpg is not a JPEG"
grep -q '"jsonVersion": "1"' "$T/out.json" || fail "result.json content"
[ ! -s "$T/stderr" ] || fail "--quiet printed: $(cat "$T/stderr")"
# payload from standard input; layered payload gives a ZIP
expect_rc 0 "$RETOUCH" -q -p - -o "$T/out.zip" "$T/a.jpg" <"$T/layered.json"
[ "$(head -c 2 "$T/out.zip")" = "PK" ] || fail "layered output is not a ZIP"
unzip -l "$T/out.zip" | grep -q 'index=0&blendmode=normal&name=Color Correction.png' ||
  fail "ZIP lacks the layer"
# default output name beside the input
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" "$T/a.jpg"
[ -s "$T/a_retouched.jpg" ] || fail "default output a_retouched.jpg missing"

# several inputs and a folder: -o is a folder, names follow the inputs
mkdir -p "$T/in"
cp "$T/a.jpg" "$T/in/one.jpg"
cp "$T/b.jpg" "$T/in/two.jpg"
vips copy "$T/b.jpg" "$T/in/two.png" 2>/dev/null || cp "$T/b.jpg" "$T/in/two.png"
echo "notes" >"$T/in/readme.txt"
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/outdir" --metadata "$T/meta" --jobs 2 "$T/in"
for f in one.jpg two.jpg two.png; do
  [ -s "$T/outdir/$f" ] || fail "folder output $f missing ($(ls "$T/outdir" | tr '\n' ' '))"
done
[ -s "$T/meta/one.json" ] || fail "metadata folder lacks one.json"
[ ! -e "$T/outdir/readme.txt" ] || fail "a text file was processed"

# one bad input among good ones: exit 1, the others are still processed
cp "$T/a.jpg" "$T/good1.jpg"
head -c 3000 "$T/b.jpg" >"$T/truncated.jpg"
cp "$T/b.jpg" "$T/good2.jpg"
expect_rc 1 "$RETOUCH" -p "$T/cc.json" -o "$T/mixed" "$T/good1.jpg" "$T/truncated.jpg" \
  "$T/missing.jpg" "$T/good2.jpg"
[ -s "$T/mixed/good1.jpg" ] && [ -s "$T/mixed/good2.jpg" ] || fail "good inputs not processed"
[ ! -e "$T/mixed/truncated.jpg" ] || fail "a failed input left an output"
grep -q 'truncated.jpg: error: truncated.jpg: the image is corrupt or truncated' "$T/stderr" ||
  fail "no clear error for the truncated file: $(cat "$T/stderr")"
ls "$T/mixed" | grep -q '\.part$' && fail "a .part file was left behind"

# hostile and unusual file names
cp "$T/a.jpg" "$T/in/naïve photo; rm -rf \$HOME (1).jpg"
cp "$T/a.jpg" "$T/-dash.jpg"
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/odd" "$T/in/naïve photo; rm -rf \$HOME (1).jpg" -- "$T/-dash.jpg"
[ -s "$T/odd/naïve photo; rm -rf \$HOME (1).jpg" ] || fail "unusual name not kept: $(ls "$T/odd")"

# never overwrite the input
mkdir -p "$T/same"
cp "$T/a.jpg" "$T/same/x.jpg"
sum_before=$(md5sum <"$T/same/x.jpg")
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/same" "$T/same/x.jpg" "$T/b.jpg"
[ "$(md5sum <"$T/same/x.jpg")" = "$sum_before" ] || fail "the input was overwritten"

# limits: a megapixel limit below the image
expect_rc 1 "$RETOUCH" -p "$T/cc.json" --max-megapixels 0.1 -o "$T/big.jpg" "$T/a.jpg"
grep -q 'the limit is 0 megapixels\|megapixels; the limit is' "$T/stderr" || fail "limit message"
# not implemented plugins are refused before anything runs
echo '{"mode":"professional","tasks":[{"Plugin":"Fabric"}]}' >"$T/fabric.json"
expect_rc 2 "$RETOUCH" -p "$T/fabric.json" "$T/a.jpg"
grep -q 'not implemented yet' "$T/stderr" || fail "not-implemented message"

if [ "$failures" -ne 0 ]; then
  echo "$failures CLI checks failed"
  exit 1
fi
echo "all CLI checks passed"

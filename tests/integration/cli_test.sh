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

# --list-plugins: the 17 names in table order, each marked implemented or not
expect_rc 0 "$RETOUCH" --list-plugins
[ "$(wc -l <"$T/stdout")" -eq 17 ] || fail "--list-plugins prints $(wc -l <"$T/stdout") lines"
[ "$(head -1 "$T/stdout" | sed -E 's/ {2,}.*//')" = "Skin Mask" ] || fail "first plugin is $(head -1 "$T/stdout")"
[ "$(tail -1 "$T/stdout")" = "Crop                 implemented" ] || fail "last line is $(tail -1 "$T/stdout")"
grep -qE '^Color Correction +implemented$' "$T/stdout" || fail "Color Correction not marked implemented"
grep -qE '^Fabric +not implemented yet$' "$T/stdout" || fail "Fabric not marked: $(grep Fabric "$T/stdout")"

# presets, each with what it does
expect_rc 0 "$RETOUCH" --preset list
grep -qE '^natural +Color Correction \(Exposure & WB\); one image$' "$T/stdout" ||
  fail "--preset list lacks natural's description: $(cat "$T/stdout")"
grep -qE '^layers +.*as a layer.*; ZIP of layers$' "$T/stdout" || fail "--preset list: layers"
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
grep -qx 'retouch: unknown option --bogus-flag (retouch --help lists them)' "$T/stderr" ||
  fail "option error: $(cat "$T/stderr")"
expect_rc 2 "$RETOUCH" -p "$T/cc.json" -o
grep -qx 'retouch: option -o needs a value (retouch --help)' "$T/stderr" ||
  fail "missing value: $(cat "$T/stderr")"
expect_rc 2 "$RETOUCH" -p "$T/cc.json" -x "$T/a.jpg"
grep -q '^retouch: unknown option -x' "$T/stderr" || fail "short option error: $(cat "$T/stderr")"

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
grep -q 'a.jpg: the image is 800x800 = 0.64 megapixels, over the limit of 0.1 megapixels (--max-megapixels)' "$T/stderr" ||
  fail "limit message: $(cat "$T/stderr")"
# not implemented plugins are refused before anything runs
echo '{"mode":"professional","tasks":[{"Plugin":"Fabric"}]}' >"$T/fabric.json"
expect_rc 2 "$RETOUCH" -p "$T/fabric.json" "$T/a.jpg"
grep -q 'not implemented yet' "$T/stderr" || fail "not-implemented message"

# ---- what a newcomer trips over (issue 15) ----
# (a small photo: these checks are about names, formats and messages)
cp "$DATA/server_headshot.jpg" "$T/s.jpg"
vips flip "$T/s.jpg" "$T/s2.jpg" horizontal

# a missing or empty input says why
: >"$T/empty.jpg"
expect_rc 1 "$RETOUCH" -p "$T/cc.json" -o "$T/n1" "$T/nosuch.jpg" "$T/empty.jpg"
grep -q 'nosuch.jpg: cannot read the file: No such file or directory' "$T/stderr" ||
  fail "missing input message: $(cat "$T/stderr")"
grep -q 'empty.jpg: the file is empty (0 bytes)' "$T/stderr" || fail "empty input message: $(cat "$T/stderr")"
if [ "$(id -u)" -ne 0 ]; then
  cp "$T/s.jpg" "$T/locked.jpg" && chmod 000 "$T/locked.jpg"
  expect_rc 1 "$RETOUCH" -p "$T/cc.json" -o "$T/locked_out.jpg" "$T/locked.jpg"
  grep -q 'locked.jpg: cannot read the file: Permission denied' "$T/stderr" ||
    fail "unreadable input message: $(cat "$T/stderr")"
else
  echo "skip: the permission message (running as root, every file is readable)"
fi

# progress: one line per plugin per image, not one per step
echo '{"mode":"professional","tasks":[{"Plugin":"Face Detection"},{"Plugin":"Color Correction"}]}' >"$T/fd_cc.json"
expect_rc 0 "$RETOUCH" -p "$T/fd_cc.json" -o "$T/fd.jpg" "$T/s.jpg"
[ "$(grep -c ': Face Detection$' "$T/stderr")" -eq 1 ] || fail "Face Detection shown $(grep -c ': Face Detection$' "$T/stderr") times: $(cat "$T/stderr")"
[ "$(grep -c ': Color Correction$' "$T/stderr")" -eq 1 ] || fail "Color Correction shown $(grep -c ': Color Correction$' "$T/stderr") times"

# the job's own warnings are shown too, per image (and kept in result.json)
echo '{"mode":"professional","tasks":[{"Plugin":"Crop","User Params":{"AutoStraightenMode":"Person"}}]}' >"$T/person.json"
expect_rc 0 "$RETOUCH" -p "$T/person.json" -o "$T/nf.jpg" --metadata "$T/nf.json" "$DATA/noface_mairi_backdrop.jpg"
grep -q '^\[1/1\] noface_mairi_backdrop.jpg: warning: tasks\[0\] (Crop): no face found' "$T/stderr" ||
  fail "job warning not shown: $(cat "$T/stderr")"
grep -q 'no face found' "$T/nf.json" || fail "job warning not in result.json"

# payload warnings are shown (and kept out of --quiet); a number as a ratio is an error
echo '{"mode":"professional","tasks":[{"Plugin":"Color Correction","Alpha1":"high"}]}' >"$T/alpha.json"
expect_rc 0 "$RETOUCH" -p "$T/alpha.json" -o "$T/alpha.jpg" "$T/s.jpg"
grep -q 'retouch: warning: tasks\[0\] (Color Correction): Alpha1 = "high" ignored: Color Correction does not use Alpha1' "$T/stderr" ||
  fail "unused Alpha1 not warned: $(cat "$T/stderr")"
expect_rc 0 "$RETOUCH" -q -p "$T/alpha.json" -o "$T/alpha.jpg" "$T/s.jpg"
[ ! -s "$T/stderr" ] || fail "--quiet printed a warning: $(cat "$T/stderr")"
echo '{"mode":"professional","tasks":[{"Plugin":"Crop","User Params":{"AspectRatio":45}}]}' >"$T/ar.json"
expect_rc 2 "$RETOUCH" -p "$T/ar.json" -o "$T/ar.jpg" "$T/s.jpg"
grep -q 'tasks\[0\] (Crop): User Params/AspectRatio = 45 is a number' "$T/stderr" ||
  fail "AspectRatio 45 not refused: $(cat "$T/stderr")"

# a folder run twice skips its own results (by name, and by the output mark)
mkdir -p "$T/again"
cp "$T/s.jpg" "$T/again/a.jpg"
cp "$T/s2.jpg" "$T/again/b.jpg"
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" "$T/again"
[ -s "$T/again/a_retouched.jpg" ] && [ -s "$T/again/b_retouched.jpg" ] || fail "first folder run: $(ls "$T/again")"
# a result renamed by hand keeps the mark
cp --preserve=xattr "$T/again/b_retouched.jpg" "$T/again/final.jpg"
expect_rc 0 "$RETOUCH" -p "$T/cc.json" "$T/again"
ls "$T/again" | grep -q '_retouched_retouched' && fail "results processed again: $(ls "$T/again")"
grep -q 'skipping .*a_retouched.jpg: written by retouch (its name ends in _retouched)' "$T/stderr" ||
  fail "no skip message: $(cat "$T/stderr")"
if getfattr -n user.retouch.output "$T/again/final.jpg" >/dev/null 2>&1 ||
  python3 -c 'import os,sys; os.getxattr(sys.argv[1], "user.retouch.output")' "$T/again/final.jpg" 2>/dev/null; then
  grep -q "skipping .*final.jpg: written by retouch (it carries retouch's output mark)" "$T/stderr" ||
    fail "marked result not skipped: $(cat "$T/stderr")"
  [ ! -e "$T/again/final_retouched.jpg" ] || fail "the marked result was processed"
else
  echo "skip: this file system keeps no user attributes (the name rule still applies)"
fi
grep -q '2 of 2 images done' "$T/stderr" || fail "second run did not process a and b: $(cat "$T/stderr")"
# named alone, a result is processed
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" "$T/again/a_retouched.jpg"
[ -s "$T/again/a_retouched_retouched.jpg" ] || fail "an explicit result input was skipped"

# -o's extension picks the format
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/fmt.png" "$T/s.jpg"
[ "$(head -c 4 "$T/fmt.png" | od -An -tx1 | tr -d ' \n')" = "89504e47" ] || fail "out.png is not a PNG"
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/fmt.TIFF" "$T/s.jpg"
case "$(head -c 4 "$T/fmt.TIFF" | od -An -tx1 | tr -d ' \n')" in 49492a00 | 4d4d002a) ;; *) fail "out.TIFF is not a TIFF" ;; esac
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/fmt.webp" "$T/s.jpg"
[ "$(head -c 4 "$T/fmt.webp")" = "RIFF" ] || fail "out.webp is not a WebP"
"$RETOUCH" -q -p "$T/cc.json" -o "$T/fmt.heic" "$T/s.jpg" >"$T/stdout" 2>"$T/stderr"
case $? in
0) [ "$(head -c 12 "$T/fmt.heic" | tail -c 4)" = "heic" ] || fail "out.heic is not a HEIC: $(head -c 12 "$T/fmt.heic" | od -c | head -1)" ;;
1) grep -q "cannot write heif" "$T/stderr" || fail "heic refusal: $(cat "$T/stderr")"
   [ ! -e "$T/fmt.heic" ] || fail "a refused .heic was written" ;;
*) fail "out.heic: exit $?" ;;
esac
expect_rc 2 "$RETOUCH" -p "$T/cc.json" -o "$T/fmt.avif" "$T/s.jpg"
grep -q 'AVIF output is not supported' "$T/stderr" || fail "avif: $(cat "$T/stderr")"
[ ! -e "$T/fmt.avif" ] || fail "an .avif was written"
# a layered job needs a .zip name, a flattened one an image name: before any work
expect_rc 2 "$RETOUCH" -p "$T/layered.json" -o "$T/layers.jpg" "$T/s.jpg"
grep -q 'makes a ZIP of layers (a task has "Layer": 1); name the output .zip' "$T/stderr" ||
  fail "layered -o .jpg: $(cat "$T/stderr")"
grep -q 'reading' "$T/stderr" && fail "layered -o .jpg started work"
[ ! -e "$T/layers.jpg" ] || fail "a ZIP was written as .jpg"
expect_rc 2 "$RETOUCH" -p "$T/cc.json" -o "$T/flat.zip" "$T/s.jpg"
grep -q 'this payload makes one image' "$T/stderr" || fail "flat -o .zip: $(cat "$T/stderr")"
echo '{"mode":"professional","outputFormat":"png","tasks":[{"Plugin":"Color Correction"}]}' >"$T/png.json"
expect_rc 2 "$RETOUCH" -p "$T/png.json" -o "$T/clash.jpg" "$T/s.jpg"
grep -q "the payload's outputFormat is png, but the name says jpeg" "$T/stderr" || fail "format clash: $(cat "$T/stderr")"

# several inputs and a file-like -o: refused, no folder named x.jpg
expect_rc 2 "$RETOUCH" -p "$T/cc.json" -o "$T/x.jpg" "$T/s.jpg" "$T/s2.jpg"
grep -q 'x.jpg: 2 inputs need an output folder' "$T/stderr" || fail "file-like -o: $(cat "$T/stderr")"
[ ! -e "$T/x.jpg" ] || fail "a folder named x.jpg was created"
# two inputs with the same name into one folder: a.jpg and a-2.jpg, said
mkdir -p "$T/d1" "$T/d2"
cp "$T/s.jpg" "$T/d1/a.jpg"
cp "$T/s2.jpg" "$T/d2/a.jpg"
expect_rc 0 "$RETOUCH" -p "$T/cc.json" -o "$T/dup" --metadata "$T/dupmeta" --jobs 2 "$T/d1/a.jpg" "$T/d2/a.jpg"
[ "$(ls "$T/dup" | tr '\n' ' ')" = "a-2.jpg a.jpg " ] || fail "same names: $(ls "$T/dup")"
[ "$(ls "$T/dupmeta" | tr '\n' ' ')" = "a-2.json a.json " ] || fail "same names, metadata: $(ls "$T/dupmeta")"
grep -q "note: $T/d2/a.jpg -> $T/dup/a-2.jpg" "$T/stderr" || fail "rename not said: $(cat "$T/stderr")"
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/d1_alone.jpg" "$T/d1/a.jpg"
cmp -s "$T/dup/a.jpg" "$T/d1_alone.jpg" || fail "dup/a.jpg is not d1/a.jpg's result"
# an output folder that is the input folder: never NAME.jpg.jpg
mkdir -p "$T/inplace"
cp "$T/s.jpg" "$T/inplace/p.jpg"
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/inplace" "$T/inplace"
[ "$(ls "$T/inplace" | tr '\n' ' ')" = "p-2.jpg p.jpg " ] || fail "in-place names: $(ls "$T/inplace")"

# libvips's warnings come through the CLI's reporting: once, prefixed, silent under -q
python3 - "$DATA/server_headshot.png" "$T/badcrc.png" <<'PY2'
import struct, sys
png = open(sys.argv[1], "rb").read()
end = 8 + 4 + 4 + 13 + 4  # after IHDR
text = b"Comment\x00hello"  # an ancillary chunk with a wrong CRC: libpng warns
chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", 12345)
open(sys.argv[2], "wb").write(png[:end] + chunk + png[end:])
PY2
expect_rc 0 "$RETOUCH" -p "$T/cc.json" -o "$T/badcrc_out.png" "$T/badcrc.png"
[ "$(grep -c '^retouch: warning (libvips): tEXt: CRC error$' "$T/stderr")" -eq 1 ] ||
  fail "libvips warning not routed once: $(cat "$T/stderr")"
grep -q 'VIPS-WARNING' "$T/stderr" && fail "a raw VIPS-WARNING was printed"
expect_rc 0 "$RETOUCH" -q -p "$T/cc.json" -o "$T/badcrc_out.png" "$T/badcrc.png"
[ ! -s "$T/stderr" ] || fail "-q printed: $(cat "$T/stderr")"

# -o into a folder that does not exist: said before any work, naming the folder
expect_rc 2 "$RETOUCH" -p "$T/cc.json" -o "$T/newdir/sub/a.jpg" "$T/s.jpg"
grep -qx "retouch: -o $T/newdir/sub/a.jpg: the folder $T/newdir/sub does not exist; create it first (mkdir -p $T/newdir/sub)" "$T/stderr" ||
  fail "missing folder: $(cat "$T/stderr")"
grep -q 'reading\|\.part' "$T/stderr" && fail "missing folder: work started or a .part named"
expect_rc 2 "$RETOUCH" -p "$T/cc.json" --metadata "$T/newdir/r.json" -o "$T/m.jpg" "$T/s.jpg"
grep -q "the folder $T/newdir does not exist" "$T/stderr" || fail "missing metadata folder: $(cat "$T/stderr")"

if [ "$failures" -ne 0 ]; then
  echo "$failures CLI checks failed"
  exit 1
fi
echo "all CLI checks passed"

#!/usr/bin/env bash
# `make run`'s main job as a new user meets it: scripts/run-main starts
# retouchd (on a free loopback port, with a store in a temporary folder) and
# prints a command to paste; that printed command itself is run against a good
# photo (the result arrives, exit 0), a truncated JPEG (the job fails: the
# server's reason, exit 1, no file) and an unimplemented plugin (the 462's
# message, exit 1, at once instead of polling forever).
#   run_main_test.sh REPO_ROOT BUILD_DIR
set -u
ROOT="$1"
BUILD="$2"
T=$(mktemp -d /tmp/rt-run-main-XXXXXX)
main_pid=""
cleanup() {
  if [ -n "$main_pid" ] && kill -0 "$main_pid" 2>/dev/null; then
    kill -TERM "$main_pid" 2>/dev/null
    wait "$main_pid" 2>/dev/null
  fi
  rm -rf "$T"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

RETOUCH_BUILD_DIR="$BUILD" RETOUCHD_DATA_DIR="$T/var" RETOUCHD_LISTEN=127.0.0.1:0 \
  RETOUCHD_WORKERS=1 bash "$ROOT/scripts/run-main" >"$T/printed" 2>"$T/server.log" &
main_pid=$!
cmd=""
for _ in $(seq 1 600); do
  cmd=$(grep -m 1 'scripts/retouch-http ' "$T/printed" 2>/dev/null)
  [ -n "$cmd" ] && break
  kill -0 "$main_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$cmd" ]; then
  echo "FAIL: run-main printed no retouch-http command"
  cat "$T/printed" "$T/server.log" | tail -20
  exit 1
fi
echo "printed: $cmd"
photo_q=$(printf '%q' "$ROOT/tests/data/headshot_obama_official_smile.jpg")
case "$cmd" in
*"$photo_q"*) ;;
*) fail "the printed command does not name the sample photo $photo_q" ;;
esac
grep -q '"Color Correction"' <<<"$cmd" || fail "the printed command has no Color Correction payload"

run_printed() { # folder command -> rc; stdout/stderr in folder/out, folder/err
  mkdir -p "$1"
  (cd "$1" && timeout 120 bash -c "$2" >out 2>err)
}

# 1. as printed: the retouched JPEG arrives
run_printed "$T/good" "$cmd"
rc=$?
[ "$rc" -eq 0 ] || fail "printed command: exit $rc: $(cat "$T/good/err")"
[ "$(head -c 3 "$T/good/retouched.jpg" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "ffd8ff" ] ||
  fail "retouched.jpg is not a JPEG: $(head -c 200 "$T/good/retouched.jpg" 2>/dev/null)"
grep -q '^saved retouched.jpg (image/jpeg' "$T/good/out" || fail "no saved line: $(cat "$T/good/out")"

# 2. a truncated JPEG: the header is fine (accepted), the job fails
head -c 60000 "$ROOT/tests/data/headshot_obama_official_smile.jpg" >"$T/truncated.jpg"
run_printed "$T/trunc" "${cmd/"$photo_q"/"$T/truncated.jpg"}"
rc=$?
[ "$rc" -eq 1 ] || fail "truncated JPEG: exit $rc (want 1): $(cat "$T/trunc/err")"
grep -q 'failed: .*corrupt or truncated' "$T/trunc/err" ||
  fail "truncated JPEG: no server reason: $(cat "$T/trunc/err")"
[ ! -e "$T/trunc/retouched.jpg" ] || fail "truncated JPEG: retouched.jpg was written"
grep -q saved "$T/trunc/out" && fail "truncated JPEG: says saved"

# 3. a misspelt plugin: the 462 comes back at once, naming the valid ones
run_printed "$T/fabric" "${cmd/'"Color Correction"'/'"Fabrik"'}"
rc=$?
[ "$rc" -eq 1 ] || fail "Fabrik: exit $rc (want 1): $(cat "$T/fabric/err")"
grep -q 'HTTP 462.*unknown plugin.*Fabrik.*Fabric' "$T/fabric/err" ||
  fail "Fabrik: no 462 message: $(cat "$T/fabric/err")"
[ ! -e "$T/fabric/retouched.jpg" ] || fail "Fabrik: retouched.jpg was written"

# 4. a wrong token: the 460's message
run_printed "$T/token" "$(sed -E 's/--token [^ ]+/--token not-a-token/' <<<"$cmd")"
rc=$?
[ "$rc" -eq 1 ] || fail "bad token: exit $rc (want 1)"
grep -q 'HTTP 460' "$T/token/err" || fail "bad token: no 460: $(cat "$T/token/err")"

# 5. a layered payload with -o retouched.jpg: saved as a .zip, never a ZIP named .jpg
run_printed "$T/layered" "${cmd/'"Color Correction"}'/'"Color Correction","Layer":1}'}"
rc=$?
[ "$rc" -eq 0 ] || fail "layered: exit $rc: $(cat "$T/layered/err")"
[ "$(head -c 2 "$T/layered/retouched.zip" 2>/dev/null)" = "PK" ] ||
  fail "layered: no retouched.zip ($(ls "$T/layered"))"
[ ! -e "$T/layered/retouched.jpg" ] || fail "layered: a ZIP was saved as retouched.jpg"

kill -TERM "$main_pid"
wait "$main_pid"
rc=$?
main_pid=""
[ "$rc" -eq 0 ] || fail "run-main exit $rc after SIGTERM: $(tail -5 "$T/server.log")"

if [ "$failures" -ne 0 ]; then
  echo "$failures run-main checks failed"
  exit 1
fi
echo "run-main: the printed command works, and fails clearly"

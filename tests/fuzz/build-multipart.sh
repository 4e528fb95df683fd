# Registers the retouchd multipart/upload target with tests/fuzz/run
# (sourced there; defines build_multipart).
build_multipart() {
  clang $CFLAGS $INC -o "$out/multipart/fuzz" "$root/tests/fuzz/fuzz_multipart.c" \
    "$root/src/server/multipart.c" "$root/src/server/form.c" "$root/src/server/upload.c" \
    "$root/src/core/error.c"
}

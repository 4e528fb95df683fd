# Registers the retouchd route-handling target with tests/fuzz/run
# (sourced there; defines build_routes).
build_routes() {
  clang $CFLAGS $INC -o "$out/routes/fuzz" "$root/tests/fuzz/fuzz_routes.c" \
    "$root/src/server/router.c" "$root/src/server/reply.c" "$root/src/server/upload.c" \
    "$root/src/server/multipart.c" "$root/src/server/form.c" "$root/src/core/error.c" \
    $(pkg-config --cflags --libs jansson)
}

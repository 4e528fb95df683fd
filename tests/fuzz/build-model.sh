# Registers the model loader target with tests/fuzz/run (sourced there;
# defines build_model).
build_model() {
  clang $CFLAGS $INC -o "$out/model/fuzz" "$root/tests/fuzz/fuzz_model.c" \
    "$root"/src/nn/*.c "$root"/src/nn/ops/*.c \
    "$root/src/core/error.c" "$root/src/core/image.c" \
    -fopenmp $(pkg-config --cflags --libs jansson) \
    $(PKG_CONFIG_PATH=/usr/lib/$(gcc -print-multiarch)/openblas-openmp/pkgconfig pkg-config --cflags --libs openblas) -lm
}

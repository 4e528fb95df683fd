# Registers the image decoding target with tests/fuzz/run (sourced there;
# defines build_image).
build_image() {
  clang $CFLAGS $INC -o "$out/image/fuzz" "$root/tests/fuzz/fuzz_image.c" \
    "$root"/src/io/image_{format,decode,metadata,encode}.c "$root/src/io/vips_error.c" \
    "$root/src/io/jpeg_reader.c" "$root/src/io/jpeg_writer.c" \
    "$root/src/core/error.c" "$root/src/core/image.c" "$root/src/core/quantize.c" \
    "$root/src/core/colour.c" -fopenmp $(pkg-config --cflags --libs vips libjpeg) -lm
}

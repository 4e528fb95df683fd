/* Image I/O: formats, bit depths, orientation, metadata, limits, bad files. */
#include "core/error.h"
#include "io/image_io.h"
#include "io/image_io_internal.h"
#include "io/jpeg_writer.h"
#include "retouch.h"
#include "test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

static void expect_error(const char *path, int code, const char *want)
{
    rt_decoded *d = NULL;
    int err = rt_decode(path, 0, &d);
    assert_null(d);
    if (err != code || !strstr(rt_error_message(), want))
        fail_msg("%s: got %d \"%s\", want %d containing \"%s\"", path, err, rt_error_message(),
                 code, want);
}

static void test_jpeg_roundtrip_keeps_metadata(void **state)
{
    (void)state;
    const char *in = test_data("headshot_obama_official_smile.jpg");
    rt_decoded *d = test_decode(in);
    assert_int_equal(d->image->width, 910);
    assert_int_equal(d->image->height, 1137);
    assert_int_equal(d->bits, 8);
    assert_int_equal(d->format, RT_FMT_JPEG);
    const void *blob;
    size_t len;
    assert_int_equal(rt_metadata_blob(&d->meta, "icc-profile-data", &blob, &len), 0);
    assert_int_equal(rt_metadata_blob(&d->meta, "exif-data", &blob, &len), 0);
    assert_int_equal(rt_metadata_blob(&d->meta, "xmp-data", &blob, &len), 0);
    /* through the whole pipeline with no task: quality 95, 4:4:4, metadata kept */
    const char *out = test_tmp("obama_out.jpg");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}", in, out, NULL), 0);
    VipsImage *im = vips_image_new_from_file(out, NULL);
    assert_non_null(im);
    assert_int_equal(im->Xsize, 910);
    const char *sub = NULL;
    assert_int_equal(vips_image_get_string(im, "jpeg-chroma-subsample", &sub), 0);
    assert_string_equal(sub, "4:4:4");
    assert_true(vips_image_get_typeof(im, "icc-profile-data") != 0);
    assert_true(vips_image_get_typeof(im, "xmp-data") != 0);
    assert_true(vips_image_get_typeof(im, "exif-data") != 0);
    const char *artist = NULL;
    assert_int_equal(vips_image_get_string(im, "exif-ifd0-Artist", &artist), 0);
    assert_non_null(strstr(artist, "Pete Souza"));
    int orient = 0;
    assert_int_equal(vips_image_get_int(im, "orientation", &orient), 0);
    assert_int_equal(orient, 1);
    g_object_unref(im);
    /* re-encoding at Q95 stays close to the input */
    rt_decoded *o = test_decode(out);
    assert_true(test_fraction_differing(d->image, o->image, 3.0) < 0.01);
    rt_decoded_destroy(o);
    rt_decoded_destroy(d);
}

/* Stores an upright image rotated and tagged, as cameras do. */
static void write_oriented(const char *upright, const char *path, VipsAngle stored_rotation,
                           int orientation)
{
    VipsImage *u = vips_image_new_from_file(upright, NULL), *c, *s;
    assert_non_null(u);
    /* a non-square crop so a missed rotation changes the size */
    assert_int_equal(vips_crop(u, &c, 0, 100, 800, 600, NULL), 0);
    assert_int_equal(vips_rot(c, &s, stored_rotation, NULL), 0);
    VipsImage *t;
    assert_int_equal(vips_copy(s, &t, NULL), 0);
    vips_image_set_int(t, "orientation", orientation);
    assert_int_equal(vips_tiffsave(t, path, NULL), 0);
    g_object_unref(t);
    g_object_unref(s);
    g_object_unref(c);
    g_object_unref(u);
}

static void test_exif_orientation_applied(void **state)
{
    (void)state;
    const char *src = test_data("london_012_800.jpg");
    const char *upright_path = test_tmp("upright.tif");
    write_oriented(src, upright_path, VIPS_ANGLE_D0, 1);
    rt_decoded *up = test_decode(upright_path);
    assert_int_equal(up->image->width, 800);
    assert_int_equal(up->image->height, 600);
    /* orientation 6: stored turned 90 degrees anticlockwise, shown turned back */
    const char *six = test_tmp("six.tif");
    write_oriented(src, six, VIPS_ANGLE_D270, 6);
    rt_image_info info;
    assert_int_equal(rt_probe_image(six, 0, &info), 0);
    assert_int_equal(info.width, 800); /* the probe reports the displayed size */
    assert_int_equal(info.height, 600);
    rt_decoded *d = test_decode(six);
    assert_int_equal(d->image->width, 800);
    assert_int_equal(d->image->height, 600);
    assert_true(test_max_abs_diff(up->image, d->image) < 1e-6);
    rt_decoded_destroy(d);
    /* orientation 3: upside down */
    const char *three = test_tmp("three.tif");
    write_oriented(src, three, VIPS_ANGLE_D180, 3);
    d = test_decode(three);
    assert_true(test_max_abs_diff(up->image, d->image) < 1e-6);
    /* the output is upright with orientation 1 */
    const char *out = test_tmp("three_out.tif");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}", three, out, NULL), 0);
    VipsImage *im = vips_image_new_from_file(out, NULL);
    int orient = 0;
    assert_int_equal(vips_image_get_int(im, "orientation", &orient), 0);
    assert_int_equal(orient, 1);
    g_object_unref(im);
    rt_decoded *o = test_decode(out);
    assert_true(test_max_abs_diff(up->image, o->image) < 1e-6);
    rt_decoded_destroy(o);
    rt_decoded_destroy(d);
    rt_decoded_destroy(up);
}

static void test_sixteen_bit_roundtrip(void **state)
{
    (void)state;
    rt_image *im;
    assert_int_equal(rt_image_create(64, 32, 3, &im), 0);
    srand(7);
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < rt_image_pixels(im); i++)
            rt_image_plane(im, c)[i] = (float)(rand() % 65536) / 65535.0f;
    const rt_file_format fmts[2] = {RT_FMT_PNG, RT_FMT_TIFF};
    const char *names[2] = {"s16.png", "s16.tif"};
    for (int k = 0; k < 2; k++) {
        const char *path = test_tmp(names[k]);
        rt_planes p = rt_planes_of(im, NULL);
        rt_encode_params ep = {.format = fmts[k], .bits = 16};
        assert_int_equal(rt_encode_file(&p, &ep, path), 0);
        rt_decoded *d = test_decode(path);
        assert_int_equal(d->bits, 16);
        assert_true(test_max_abs_diff(im, d->image) < 0.5 / 65535.0);
        /* 16-bit input stays 16-bit through a job */
        const char *out = test_tmp(k ? "s16_out.tif" : "s16_out.png");
        assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}", path, out, NULL),
                         0);
        rt_decoded *o = test_decode(out);
        assert_int_equal(o->bits, 16);
        assert_true(test_max_abs_diff(im, o->image) < 0.5 / 65535.0);
        rt_decoded_destroy(o);
        rt_decoded_destroy(d);
    }
    rt_image_destroy(im);
}

static void test_eight_bit_exact(void **state)
{
    (void)state;
    /* the encoder's dither never moves an exact 8-bit value */
    const char *in = test_tmp("exact.png");
    rt_decoded *src = test_decode(test_data("london_038_800.jpg"));
    test_write_image(src->image, in);
    rt_decoded *a = test_decode(in);
    const char *out = test_tmp("exact_out.png");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}", in, out, NULL), 0);
    rt_decoded *b = test_decode(out);
    assert_true(test_max_abs_diff(a->image, b->image) == 0.0);
    rt_decoded_destroy(a);
    rt_decoded_destroy(b);
    rt_decoded_destroy(src);
}

static void test_webp_grey_alpha(void **state)
{
    (void)state;
    VipsImage *u = vips_image_new_from_file(test_data("london_012_800.jpg"), NULL);
    const char *webp = test_tmp("in.webp");
    assert_int_equal(vips_webpsave(u, webp, "Q", 90, NULL), 0);
    rt_decoded *d = test_decode(webp);
    assert_int_equal(d->format, RT_FMT_WEBP);
    rt_decoded_destroy(d);
    const char *wout = test_tmp("out.webp");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}", webp, wout, NULL), 0);
    rt_image_info info;
    assert_int_equal(rt_probe_image(wout, 0, &info), 0);
    assert_string_equal(info.format, "webp");

    /* HEIF in, HEIF out, where libheif has an encoder */
    const char *heic = test_tmp("in.heic");
    if (vips_heifsave(u, heic, "Q", 90, NULL) == 0) {
        d = test_decode(heic);
        assert_int_equal(d->format, RT_FMT_HEIF);
        assert_int_equal(d->image->width, 800);
        rt_decoded_destroy(d);
        const char *hout = test_tmp("out.heic");
        assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}", heic, hout, NULL),
                         0);
        assert_int_equal(rt_probe_image(hout, 0, &info), 0);
        assert_string_equal(info.format, "heif");
    } else {
        printf("no HEIF encoder here: HEIF round trip not checked\n");
        vips_error_clear();
    }

    /* grey in, grey out */
    VipsImage *grey, *ga, *alpha, *bw;
    assert_int_equal(vips_colourspace(u, &grey, VIPS_INTERPRETATION_B_W, NULL), 0);
    const char *gpath = test_tmp("grey.png");
    assert_int_equal(vips_pngsave(grey, gpath, NULL), 0);
    d = test_decode(gpath);
    assert_true(d->grey);
    rt_decoded_destroy(d);
    const char *gout = test_tmp("grey_out.png");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}", gpath, gout, NULL),
                     0);
    assert_int_equal(rt_probe_image(gout, 0, &info), 0);
    assert_int_equal(info.bands, 1);

    /* alpha is kept in PNG output */
    assert_int_equal(vips_black(&alpha, u->Xsize, u->Ysize, NULL), 0);
    VipsImage *alpha8;
    assert_int_equal(vips_linear1(alpha, &alpha8, 1.0, 200.0, "uchar", TRUE, NULL), 0);
    assert_int_equal(vips_bandjoin2(u, alpha8, &ga, NULL), 0);
    const char *apath = test_tmp("alpha.png");
    assert_int_equal(vips_pngsave(ga, apath, NULL), 0);
    d = test_decode(apath);
    assert_non_null(d->alpha);
    assert_true(fabsf(d->alpha[100] - 200.0f / 255.0f) < 1e-6f);
    rt_decoded_destroy(d);
    const char *aout = test_tmp("alpha_out.png");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"tasks\":[]}", apath, aout, NULL),
                     0);
    assert_int_equal(rt_probe_image(aout, 0, &info), 0);
    assert_int_equal(info.bands, 4);
    /* and dropped for JPEG */
    const char *jout = test_tmp("alpha_out.jpg");
    assert_int_equal(test_run_job("{\"mode\":\"professional\",\"outputFormat\":\"jpeg\","
                                  "\"tasks\":[]}",
                                  apath, jout, NULL),
                     0);
    assert_int_equal(rt_probe_image(jout, 0, &info), 0);
    assert_int_equal(info.bands, 3);
    (void)bw;
    g_object_unref(alpha8);
    g_object_unref(alpha);
    g_object_unref(ga);
    g_object_unref(grey);
    g_object_unref(u);
}

/* A small real JPEG whose frame header claims w x h pixels. */
static void write_jpeg_claiming(const char *path, unsigned w, unsigned h)
{
    VipsImage *black;
    void *buf;
    size_t len;
    assert_int_equal(vips_black(&black, 16, 16, "bands", 3, NULL), 0);
    assert_int_equal(vips_jpegsave_buffer(black, &buf, &len, NULL), 0);
    unsigned char *b = buf;
    size_t i;
    for (i = 2; i + 9 < len; i++)
        if (b[i] == 0xFF && (b[i + 1] == 0xC0 || b[i + 1] == 0xC2)) break;
    assert_true(i + 9 < len);
    b[i + 5] = (unsigned char)(h >> 8), b[i + 6] = (unsigned char)h;
    b[i + 7] = (unsigned char)(w >> 8), b[i + 8] = (unsigned char)w;
    test_write_file(path, buf, len);
    g_free(buf);
    g_object_unref(black);
}

static void test_megapixel_limit_from_header(void **state)
{
    (void)state;
    const char *path = test_tmp("huge.jpg");
    write_jpeg_claiming(path, 30000, 30000); /* 900 MP */
    clock_t t0 = clock();
    expect_error(path, RT_ERR_TOO_BIG, "30000x30000 = 900.0 megapixels; the limit is 250");
    /* header only: no time spent decoding */
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    rt_image_info info;
    assert_int_equal(rt_probe_image(path, 0, &info), RT_ERR_TOO_BIG);
    assert_int_equal(rt_http_status(RT_ERR_TOO_BIG), 413);
    /* a configured limit */
    rt_decoded *d = NULL;
    assert_int_equal(rt_decode(test_data("london_012_800.jpg"), 0.5, &d), RT_ERR_TOO_BIG);
    assert_non_null(strstr(rt_error_message(), "the limit is 0 megapixels") ||
                            strstr(rt_error_message(), "the limit is 1 megapixels")
                        ? "ok"
                        : NULL);
}

static void test_bad_files(void **state)
{
    (void)state;
    const char *txt = test_tmp("notes.jpg");
    test_write_file(txt, "hello, this is not an image\n", 28);
    expect_error(txt, RT_ERR_IMAGE, "not a supported image; send a JPEG, PNG, TIFF, WebP or HEIF");
    const char *empty = test_tmp("empty.png");
    test_write_file(empty, "", 0);
    expect_error(empty, RT_ERR_IMAGE, "not a supported image");
    expect_error(test_tmp("missing.jpg"), RT_ERR_IO, "cannot read the file");
    const char *svg = test_tmp("evil.svg");
    const char *svgtext = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>";
    test_write_file(svg, svgtext, strlen(svgtext));
    rt_decoded *d = NULL;
    assert_int_equal(rt_decode(svg, 0, &d), RT_ERR_IMAGE);
    /* truncated JPEG: half of a real file */
    size_t len;
    char *jpg = test_read_file(test_data("london_012_800.jpg"), &len);
    const char *half = test_tmp("half.jpg");
    test_write_file(half, jpg, len / 2);
    expect_error(half, RT_ERR_IMAGE, "half.jpg: the image is corrupt or truncated");
    /* the same half with an end marker: the file looks complete, the scan's
     * data is not (libjpeg would paint the rest grey) */
    const char *ended = test_tmp("ended.jpg");
    memcpy(jpg + len / 2, "\xff\xd9", 2);
    test_write_file(ended, jpg, len / 2 + 2);
    expect_error(ended, RT_ERR_IMAGE, "the image data stops before its last rows");
    /* corrupt: garbage after the header */
    for (size_t i = 600; i < len; i += 7)
        jpg[i] = (char)(jpg[i] ^ 0x5a);
    const char *bad = test_tmp("garbled.jpg");
    test_write_file(bad, jpg, len);
    assert_int_equal(rt_decode(bad, 0, &d), RT_ERR_IMAGE);
    free(jpg);
    /* truncated PNG */
    const char *png = test_tmp("full.png");
    rt_decoded *src = test_decode(test_data("london_012_800.jpg"));
    test_write_image(src->image, png);
    rt_decoded_destroy(src);
    char *pdata = test_read_file(png, &len);
    const char *phalf = test_tmp("half.png");
    test_write_file(phalf, pdata, len / 3);
    free(pdata);
    expect_error(phalf, RT_ERR_IMAGE, "corrupt");
    /* found by the image fuzzer: pixel data that ends early, which libvips
     * sometimes reports as a success with the last rows never written (a
     * race in its sink); those rows would hold a recycled buffer's old
     * pixels.  Several tries, as the race comes and goes. */
    for (int i = 0; i < 12; i++)
        expect_error(test_data("short_idat.png"), RT_ERR_IMAGE, "corrupt or truncated");
    assert_int_equal(rt_http_status(RT_ERR_IMAGE), 400);
}

/* The parallel JPEG writer (restart-marker strips) decodes to exactly the
 * pixels of libvips's serial encoder at the same settings, for sizes that
 * cut MCUs and strips anywhere, in colour and grey. */
static void test_parallel_jpeg_matches_serial(void **state)
{
    (void)state;
    VipsImage *src = vips_image_new_from_file(test_data("mary_900.jpg"), NULL);
    assert_non_null(src);
    const int sizes[][2] = {{900, 673}, {257, 1201}, {1203, 515}, {9, 9}, {8, 2000}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int grey = 0; grey < 2; grey++) {
            VipsImage *sized, *im;
            assert_int_equal(vips_resize(src, &sized, (double)sizes[k][0] / src->Xsize, "vscale",
                                         (double)sizes[k][1] / src->Ysize, NULL),
                             0);
            if (grey)
                assert_int_equal(vips_colourspace(sized, &im, VIPS_INTERPRETATION_B_W, NULL), 0);
            else
                assert_int_equal(vips_copy(sized, &im, NULL), 0);
            const char *png = test_tmp("src.png");
            assert_int_equal(vips_pngsave(im, png, NULL), 0);
            const char *serial = test_tmp("serial.jpg");
            assert_int_equal(vips_jpegsave(im, serial, "Q", 95, "subsample_mode",
                                           VIPS_FOREIGN_SUBSAMPLE_OFF, NULL),
                             0);
            rt_decoded *d = test_decode(png);
            rt_planes p = rt_planes_of(d->image, NULL);
            if (grey) p.n = 1;
            rt_encode_params ep = {.format = RT_FMT_JPEG, .bits = 8, .dither = 1};
            const char *par = test_tmp("parallel.jpg");
            assert_int_equal(rt_encode_file(&p, &ep, par), 0);
            VipsImage *a = vips_image_new_from_file(serial, NULL);
            VipsImage *b = vips_image_new_from_file(par, NULL);
            assert_non_null(a);
            assert_non_null(b);
            assert_int_equal(a->Xsize, b->Xsize);
            assert_int_equal(a->Ysize, b->Ysize);
            assert_int_equal(a->Bands, b->Bands);
            double diff;
            VipsImage *dd, *ad;
            assert_int_equal(vips_subtract(a, b, &dd, NULL), 0);
            assert_int_equal(vips_abs(dd, &ad, NULL), 0);
            assert_int_equal(vips_max(ad, &diff, NULL), 0);
            if (diff != 0)
                fail_msg("%dx%d %s: parallel JPEG differs from serial by %g", sizes[k][0],
                         sizes[k][1], grey ? "grey" : "colour", diff);
            g_object_unref(ad);
            g_object_unref(dd);
            g_object_unref(a);
            g_object_unref(b);
            rt_decoded_destroy(d);
            g_object_unref(im);
            g_object_unref(sized);
        }
    g_object_unref(src);
    /* pure noise compresses worst: the writer outgrows its first buffer */
    VipsImage *bands[3], *joined, *noise8;
    for (int c = 0; c < 3; c++)
        assert_int_equal(vips_gaussnoise(&bands[c], 640, 480, "sigma", 90.0, "mean", 128.0, NULL),
                         0);
    assert_int_equal(vips_bandjoin(bands, &joined, 3, NULL), 0);
    assert_int_equal(vips_cast(joined, &noise8, VIPS_FORMAT_UCHAR, NULL), 0);
    const char *npng = test_tmp("noise.png"), *njpg = test_tmp("noise.jpg");
    assert_int_equal(vips_pngsave(noise8, npng, NULL), 0);
    rt_decoded *nd = test_decode(npng);
    rt_planes np = rt_planes_of(nd->image, NULL);
    rt_encode_params nep = {.format = RT_FMT_JPEG, .bits = 8, .dither = 1};
    assert_int_equal(rt_encode_file(&np, &nep, njpg), 0);
    VipsImage *back = vips_image_new_from_file(njpg, NULL);
    assert_non_null(back);
    double mean;
    assert_int_equal(vips_avg(back, &mean, NULL), 0);
    assert_true(mean > 100 && mean < 156);
    g_object_unref(back);
    rt_decoded_destroy(nd);
    for (int c = 0; c < 3; c++)
        g_object_unref(bands[c]);
    g_object_unref(joined);
    g_object_unref(noise8);
}

/* JPEGs are decoded by our own libjpeg-turbo loop (jpeg_reader.h): the
 * planes must hold exactly libvips's samples, for every chroma layout,
 * progressive files, grey, and sizes that cut MCUs and strips anywhere. */
static void test_direct_jpeg_matches_libvips(void **state)
{
    (void)state;
    VipsImage *src = vips_image_new_from_file(test_data("mary_900.jpg"), NULL);
    assert_non_null(src);
    const struct {
        int w, h, grey, progressive;
        VipsForeignSubsample subsample;
    } cases[] = {
        {900, 673, 0, 0, VIPS_FOREIGN_SUBSAMPLE_OFF},
        {901, 675, 0, 0, VIPS_FOREIGN_SUBSAMPLE_ON},
        {257, 1201, 0, 1, VIPS_FOREIGN_SUBSAMPLE_ON},
        {1203, 515, 1, 0, VIPS_FOREIGN_SUBSAMPLE_AUTO},
        {9, 9, 0, 1, VIPS_FOREIGN_SUBSAMPLE_OFF},
        {8, 2000, 1, 1, VIPS_FOREIGN_SUBSAMPLE_AUTO},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        VipsImage *sized, *im;
        assert_int_equal(vips_resize(src, &sized, (double)cases[k].w / src->Xsize, "vscale",
                                     (double)cases[k].h / src->Ysize, NULL),
                         0);
        if (cases[k].grey)
            assert_int_equal(vips_colourspace(sized, &im, VIPS_INTERPRETATION_B_W, NULL), 0);
        else
            assert_int_equal(vips_copy(sized, &im, NULL), 0);
        const char *path = test_tmp("direct.jpg");
        assert_int_equal(vips_jpegsave(im, path, "Q", 90, "subsample_mode", cases[k].subsample,
                                       "interlace", cases[k].progressive, NULL),
                         0);
        VipsImage *ref = vips_image_new_from_file(path, NULL);
        assert_non_null(ref);
        size_t len;
        unsigned char *want = vips_image_write_to_memory(ref, &len);
        assert_non_null(want);
        rt_decoded *d = test_decode(path);
        assert_int_equal(d->grey, cases[k].grey);
        assert_int_equal(d->image->width, ref->Xsize);
        assert_int_equal(d->image->height, ref->Ysize);
        size_t off = 0;
        for (size_t i = 0; i < rt_image_pixels(d->image); i++)
            for (int c = 0; c < 3; c++) {
                int got = (int)lrintf(rt_image_plane(d->image, c)[i] * 255.0f);
                int exp = want[i * ref->Bands + (ref->Bands == 1 ? 0 : c)];
                if (got != exp) off++;
            }
        if (off)
            fail_msg("case %zu (%dx%d): %zu samples differ from libvips", k, cases[k].w, cases[k].h,
                     off);
        rt_decoded_destroy(d);
        g_free(want);
        g_object_unref(ref);
        /* every EXIF orientation, turned as the strips convert, against
         * libvips's autorot (odd sizes: a transposition error shows) */
        for (int o = 2; o <= 8 && k < 4; o++) {
            VipsImage *tagged;
            assert_int_equal(vips_copy(im, &tagged, NULL), 0);
            vips_image_set_int(tagged, "orientation", o);
            assert_int_equal(
                vips_jpegsave(tagged, path, "Q", 90, "subsample_mode", cases[k].subsample, NULL),
                0);
            VipsImage *loaded = vips_image_new_from_file(path, NULL), *upright;
            assert_non_null(loaded);
            assert_int_equal(vips_autorot(loaded, &upright, NULL), 0);
            unsigned char *px = vips_image_write_to_memory(upright, &len);
            rt_decoded *od = test_decode(path);
            assert_int_equal(od->image->width, upright->Xsize);
            assert_int_equal(od->image->height, upright->Ysize);
            size_t bad = 0;
            for (size_t i = 0; i < rt_image_pixels(od->image); i++)
                for (int c = 0; c < 3; c++)
                    bad += (int)lrintf(rt_image_plane(od->image, c)[i] * 255.0f) !=
                           px[i * upright->Bands + (upright->Bands == 1 ? 0 : c)];
            if (bad) fail_msg("case %zu orientation %d: %zu samples differ", k, o, bad);
            rt_decoded_destroy(od);
            g_free(px);
            g_object_unref(upright);
            g_object_unref(loaded);
            g_object_unref(tagged);
        }
        g_object_unref(im);
        g_object_unref(sized);
    }
    g_object_unref(src);
}

/* JPEG stores each side in 16 bits and libjpeg reads at most 65500: a
 * taller image is refused with a clear message before any work (it used to
 * come back 16x4464, or 16x0 for a height of 65536, reported as success);
 * 65500 itself round-trips. */
static void test_jpeg_size_limit(void **state)
{
    (void)state;
    const int w = 16, tall = 70000;
    float *grey = malloc((size_t)w * tall * sizeof *grey);
    assert_non_null(grey);
    for (size_t i = 0; i < (size_t)w * tall; i++)
        grey[i] = (float)(i % 251) / 250.0f;
    const int heights[] = {70000, 65536, 65501};
    for (int k = 0; k < 3; k++) {
        rt_planes p = {.width = w, .height = heights[k], .n = 1, .p = {grey}};
        rt_encode_params ep = {.format = RT_FMT_JPEG, .bits = 8, .dither = 1};
        void *buf = NULL;
        size_t len = 0;
        assert_int_equal(rt_encode_buffer(&p, &ep, &buf, &len), RT_ERR_TOO_BIG);
        assert_null(buf);
        assert_non_null(strstr(rt_error_message(), "JPEG holds at most 65500 pixels a side"));
        /* the writer checks by itself too */
        assert_int_equal(rt_jpeg_encode(&p, 95, 1, NULL, &buf, &len), RT_ERR_TOO_BIG);
        assert_null(buf);
        /* sideways as well */
        rt_planes wide = {.width = heights[k], .height = w, .n = 1, .p = {grey}};
        assert_int_equal(rt_encode_buffer(&wide, &ep, &buf, &len), RT_ERR_TOO_BIG);
    }
    rt_planes p = {.width = w, .height = 65500, .n = 1, .p = {grey}};
    rt_encode_params ep = {.format = RT_FMT_JPEG, .bits = 8, .dither = 1};
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(rt_encode_buffer(&p, &ep, &buf, &len), 0);
    VipsImage *im = vips_image_new_from_buffer(buf, len, "", NULL);
    assert_non_null(im);
    assert_int_equal(vips_image_get_width(im), w);
    assert_int_equal(vips_image_get_height(im), 65500);
    g_object_unref(im);
    rt_encode_free(buf);

    /* through a job: refused at the start, nothing written */
    VipsImage *png = NULL;
    assert_int_equal(vips_black(&png, w, tall, "bands", 3, NULL), 0);
    const char *in = test_tmp("tall.png");
    assert_int_equal(vips_pngsave(png, in, NULL), 0);
    g_object_unref(png);
    const char *out = test_tmp("tall.jpg");
    int err =
        test_run_job("{\"mode\":\"professional\",\"outputFormat\":\"jpeg\",\"tasks\":[{\"Plugin\":"
                     "\"Color Correction\"}]}",
                     in, out, NULL);
    assert_int_equal(err, RT_ERR_TOO_BIG);
    assert_non_null(strstr(rt_error_message(), "16x70000"));
    assert_non_null(strstr(rt_error_message(), "outputFormat \"png\""));
    assert_int_equal(access(out, F_OK), -1);
    free(grey);
}

/* A TIFF whose header reads and whose only strip lies past the end of the
 * file: libtiff's message names the file's full path. */
static void write_tiff_missing_strip(const char *path)
{
    unsigned char d[8 + 2 + 9 * 12 + 4] = {'I', 'I', 42, 0, 8, 0, 0, 0, 9, 0};
    static const unsigned short tags[9][2] = {{256, 10}, {257, 10}, {258, 8},  {259, 1},  {262, 1},
                                              {273, 0},  {277, 1},  {278, 10}, {279, 100}};
    for (int i = 0; i < 9; i++) {
        unsigned char *e = d + 10 + 12 * i;
        unsigned value = tags[i][0] == 273 ? 100000u : tags[i][1];
        int type = tags[i][0] == 273 || tags[i][0] == 279 ? 4 : 3; /* LONG or SHORT */
        e[0] = (unsigned char)tags[i][0];
        e[1] = (unsigned char)(tags[i][0] >> 8);
        e[2] = (unsigned char)type;
        e[4] = 1;
        e[8] = (unsigned char)value;
        e[9] = (unsigned char)(value >> 8);
        e[10] = (unsigned char)(value >> 16);
    }
    test_write_file(path, d, sizeof d);
}

enum { DECODERS = 8, DECODES_EACH = 12 };
typedef struct decoder_arg {
    char path[512];
    int bad; /* messages that named a directory */
    char example[600];
} decoder_arg;

static void *decode_repeatedly(void *a)
{
    decoder_arg *arg = a;
    for (int i = 0; i < DECODES_EACH; i++) {
        rt_decoded *d = NULL;
        int err = rt_decode(arg->path, 0, &d);
        const char *msg = rt_error_message();
        if (err != RT_ERR_IMAGE || d || strstr(msg, "secret") || strchr(msg, '/')) {
            if (!arg->bad) snprintf(arg->example, sizeof arg->example, "%d %s", err, msg);
            arg->bad++;
        }
        rt_decoded_destroy(d);
    }
    return NULL;
}

/* libvips keeps one error buffer per process and its messages name the
 * input's path, which in the server holds the job id: failing decodes on
 * several threads at once must each report a message naming no directory,
 * its own or another job's. */
static void test_concurrent_decode_errors(void **state)
{
    (void)state;
    decoder_arg args[DECODERS];
    pthread_t threads[DECODERS];
    for (int k = 0; k < DECODERS; k++) {
        memset(&args[k], 0, sizeof args[k]);
        char dir[64];
        snprintf(dir, sizeof dir, "job-%d-secret", k);
        snprintf(args[k].path, sizeof args[k].path, "%s", test_tmp(dir));
        assert_int_equal(mkdir(args[k].path, 0700), 0);
        strcat(args[k].path, "/input");
        write_tiff_missing_strip(args[k].path);
    }
    for (int k = 0; k < DECODERS; k++)
        assert_int_equal(pthread_create(&threads[k], NULL, decode_repeatedly, &args[k]), 0);
    for (int k = 0; k < DECODERS; k++)
        pthread_join(threads[k], NULL);
    for (int k = 0; k < DECODERS; k++)
        if (args[k].bad)
            fail_msg("decoder %d: %d of %d messages name a directory, e.g. \"%s\"", k, args[k].bad,
                     DECODES_EACH, args[k].example);
    /* one decode alone keeps libtiff's reason, with the file's base name */
    rt_decoded *d = NULL;
    assert_int_equal(rt_decode(args[0].path, 0, &d), RT_ERR_IMAGE);
    assert_non_null(strstr(rt_error_message(), "input: the image is corrupt"));
}

/* Metadata holding one EXIF blob, and the given resolution. */
static void exif_metadata(rt_metadata *m, const void *exif, size_t len, double per_mm)
{
    memset(m, 0, sizeof *m);
    m->fields = calloc(1, sizeof *m->fields);
    assert_non_null(m->fields);
    m->nfields = 1;
    m->fields[0].name = strdup("exif-data");
    g_value_init(&m->fields[0].value, VIPS_TYPE_BLOB);
    VipsBlob *b = vips_blob_copy(exif, len);
    g_value_set_boxed(&m->fields[0].value, b);
    vips_area_unref(VIPS_AREA(b));
    m->xres = m->yres = per_mm;
}

/* Encodes a 16x16 grey JPEG with meta; checks libvips decodes every pixel
 * of it; returns its JFIF density unit, and the X density in *xdpi. */
static int encode_with_metadata(const rt_metadata *meta, int *xdpi, int *has_exif)
{
    static float grey[16 * 16];
    for (int i = 0; i < 16 * 16; i++)
        grey[i] = 0.5f;
    rt_planes p = {.width = 16, .height = 16, .n = 1, .p = {grey}};
    rt_encode_params ep = {.format = RT_FMT_JPEG, .bits = 8, .meta = meta};
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(rt_encode_buffer(&p, &ep, &buf, &len), 0);
    VipsImage *im = vips_image_new_from_buffer(buf, len, "", "fail_on", VIPS_FAIL_ON_ERROR, NULL);
    double mean = 0;
    if (!im || vips_avg(im, &mean, NULL))
        fail_msg("the JPEG does not decode: %s", vips_error_buffer());
    assert_true(fabs(mean - 128) < 1.5);
    *has_exif = vips_image_get_typeof(im, "exif-data") != 0;
    g_object_unref(im);
    const unsigned char *b = buf;
    assert_true(len > 20 && b[2] == 0xFF && b[3] == 0xE0 && memcmp(b + 6, "JFIF", 5) == 0);
    int unit = b[13];
    *xdpi = b[14] << 8 | b[15];
    rt_encode_free(buf);
    return unit;
}

/* An EXIF blob without the Exif\0\0 prefix gets one: near the 64 KB segment
 * limit it no longer fits and is left out (it used to overflow the 16-bit
 * segment length and corrupt the file); a resolution JFIF's 16-bit density
 * cannot hold is left out (the cast was undefined), a normal one kept. */
static void test_jpeg_metadata_limits(void **state)
{
    (void)state;
    const size_t big = 65530;
    unsigned char *exif = calloc(1, big);
    assert_non_null(exif);
    memcpy(exif, "II*\0\10\0\0\0", 8); /* TIFF header, IFD at 8 with no entries */
    rt_metadata m;
    int dpi, has_exif;
    exif_metadata(&m, exif, big, 300 / 25.4);
    assert_int_equal(encode_with_metadata(&m, &dpi, &has_exif), 1);
    assert_int_equal(dpi, 300);
    assert_false(has_exif);
    rt_metadata_clear(&m);
    /* a small one is kept */
    exif_metadata(&m, exif, 200, 3000.0); /* 76200 dpi */
    assert_int_equal(encode_with_metadata(&m, &dpi, &has_exif), 0);
    assert_true(has_exif);
    rt_metadata_clear(&m);
    free(exif);
}

/* Outputs appear whole or not at all (core/atomic_file.h): no .part is
 * left behind, and a failure names the file but not its directory. */
static void test_atomic_outputs(void **state)
{
    (void)state;
    static float grey[8 * 8];
    rt_planes p = {.width = 8, .height = 8, .n = 1, .p = {grey}};
    const rt_file_format formats[] = {RT_FMT_JPEG, RT_FMT_PNG, RT_FMT_TIFF};
    for (int i = 0; i < 3; i++) {
        rt_encode_params ep = {.format = formats[i], .bits = 8};
        char name[32], part[600];
        snprintf(name, sizeof name, "atomic.%s", rt_file_format_extension(formats[i]));
        const char *path = test_tmp(name);
        assert_int_equal(rt_encode_file(&p, &ep, path), 0);
        snprintf(part, sizeof part, "%s.part", path);
        assert_int_equal(access(path, F_OK), 0);
        assert_int_equal(access(part, F_OK), -1);
        /* a directory that does not exist */
        char missing[600];
        snprintf(missing, sizeof missing, "%s/job-secret-dir/%s", test_tmpdir(), name);
        assert_int_equal(rt_encode_file(&p, &ep, missing), RT_ERR_IO);
        assert_non_null(strstr(rt_error_message(), name));
        assert_null(strstr(rt_error_message(), "job-secret-dir"));
    }
}

static int teardown(void **state)
{
    (void)state;
    test_tmpdir_cleanup();
    return 0;
}

int main(void)
{
    rt_init("test_image_io");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_roundtrip_keeps_metadata),
        cmocka_unit_test(test_exif_orientation_applied),
        cmocka_unit_test(test_sixteen_bit_roundtrip),
        cmocka_unit_test(test_eight_bit_exact),
        cmocka_unit_test(test_webp_grey_alpha),
        cmocka_unit_test(test_megapixel_limit_from_header),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_parallel_jpeg_matches_serial),
        cmocka_unit_test(test_direct_jpeg_matches_libvips),
        cmocka_unit_test(test_jpeg_size_limit),
        cmocka_unit_test(test_concurrent_decode_errors),
        cmocka_unit_test(test_jpeg_metadata_limits),
        cmocka_unit_test(test_atomic_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}

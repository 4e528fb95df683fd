/* The payload rules of API.md "The task payload", one by one. */
#include "core/error.h"
#include "payload/payload.h"
#include "retouch.h"
#include "test_plugins.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_payload *parse_ok(const char *json)
{
    rt_payload *p = NULL;
    int err = payload_parse(json, strlen(json), &p);
    if (err) fail_msg("expected %s to parse, got: %s", json, rt_error_message());
    return p;
}

/* Parses json expecting failure with code; the message must contain want. */
static void parse_fails(const char *json, int code, const char *want)
{
    rt_payload *p = NULL;
    int err = payload_parse(json, strlen(json), &p);
    if (err == 0) {
        payload_destroy(p);
        fail_msg("expected %s to fail", json);
    }
    assert_int_equal(err, code);
    assert_null(p);
    if (!strstr(rt_error_message(), want))
        fail_msg("message \"%s\" does not contain \"%s\"", rt_error_message(), want);
}

static void test_mode_required(void **state)
{
    (void)state;
    parse_fails("{}", RT_ERR_PAYLOAD, "mode is required and must be \"professional\"");
    parse_fails("{\"mode\":\"basic\",\"tasks\":[]}", RT_ERR_PAYLOAD,
                "mode = \"basic\" is not supported");
    parse_fails("{\"mode\":\"professional\"}", RT_ERR_PAYLOAD, "tasks is required");
    assert_int_equal(rt_error_http_status(RT_ERR_PAYLOAD), 462);
    rt_payload *p = parse_ok("{\"mode\":\"professional\",\"tasks\":[]}");
    assert_int_equal(p->ntasks, 0);
    payload_destroy(p);
}

static void test_malformed_json(void **state)
{
    (void)state;
    parse_fails("{\"mode\":\"professional\",", RT_ERR_PAYLOAD, "payload is not valid JSON");
    parse_fails("[1,2]", RT_ERR_PAYLOAD, "payload must be a JSON object");
    parse_fails("{\"mode\":\"professional\",\"mode\":\"professional\",\"tasks\":[]}",
                RT_ERR_PAYLOAD, "duplicate");
    parse_fails("{\"mode\":\"professional\",\"tasks\":{}}", RT_ERR_PAYLOAD, "tasks must be a list");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[42]}", RT_ERR_PAYLOAD,
                "tasks[0]: each task must be a JSON object");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Alpha1\":1}]}", RT_ERR_PAYLOAD,
                "tasks[0]: \"Plugin\" is required");
    rt_payload *p = NULL;
    assert_int_equal(payload_parse(NULL, 0, &p), RT_ERR_PAYLOAD);
}

static void test_names_match_leniently(void **state)
{
    (void)state;
    const char *spellings[] = {"Dodge Burn", "dodge burn", "dodge_burn", "DODGE-BURN", "DodgeBurn"};
    for (size_t i = 0; i < 5; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"%s\"}]}",
                 spellings[i]);
        rt_payload *p = parse_ok(json);
        assert_string_equal(p->tasks[0].spec->name, "Dodge Burn");
        payload_destroy(p);
    }
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Dodge Burner\"}]}",
                RT_ERR_PAYLOAD,
                "tasks[0]: unknown plugin \"Dodge Burner\"; valid names are Skin Mask, Clean "
                "Backdrop, Heal");
}

static void test_alpha_ranges_and_defaults(void **state)
{
    (void)state;
    /* the message names the task index, plugin, field and rule */
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Heal\"},{\"Plugin\":"
                "\"Heal\"},{\"Plugin\":\"Dodge Burn\",\"Alpha1\":2.5}]}",
                RT_ERR_PAYLOAD, "tasks[2] (Dodge Burn): Alpha1 = 2.5 is outside [0, 2]");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Heal\",\"Alpha1\":-0.1}]}",
                RT_ERR_PAYLOAD, "tasks[0] (Heal): Alpha1 = -0.1 is outside [0, 1]");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"White Teeth\",\"Alpha2\":"
                "\"lots\"}]}",
                RT_ERR_PAYLOAD, "tasks[0] (White Teeth): Alpha2 = \"lots\" is not a number");
    /* numbers may be integers, floats or numeric strings */
    rt_payload *p = parse_ok("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Dodge Burn\","
                             "\"Alpha1\":\"1.5\",\"Alpha2\":1},{\"Plugin\":\"Skin Tone\"},"
                             "{\"Plugin\":\"White Teeth\",\"Alpha1\":0.25}]}");
    assert_true(rt_task_number(&p->tasks[0], "Alpha1") == 1.5);
    assert_true(rt_task_number(&p->tasks[0], "Alpha2") == 1.0);
    /* missing Alpha1 means 1, missing Alpha2 means 0 */
    assert_true(rt_task_number(&p->tasks[1], "Alpha1") == 1.0);
    assert_true(rt_task_number(&p->tasks[2], "Alpha2") == 0.0);
    assert_false(rt_task_given(&p->tasks[2], "Alpha2"));
    payload_destroy(p);
}

static void test_unused_alpha_ignored(void **state)
{
    (void)state;
    /* real clients send Alpha2 to Mattifier, Skin Tone, Portrait Volumes:
     * never an error, but a warning like an unknown key's */
    rt_payload *p = parse_ok("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Mattifier\","
                             "\"Alpha1\":0.7,\"Alpha2\":0},{\"Plugin\":\"Portrait Volumes\","
                             "\"Alpha2\":\"junk\"},{\"Plugin\":\"Face Detection\",\"Alpha1\":"
                             "5},{\"Plugin\":\"Color Correction\",\"Alpha1\":\"high\"}]}");
    assert_int_equal(p->nwarnings, 4);
    assert_string_equal(p->warnings[0],
                        "tasks[0] (Mattifier): Alpha2 = 0 ignored: Mattifier does not use Alpha2");
    assert_string_equal(p->warnings[3], "tasks[3] (Color Correction): Alpha1 = \"high\" ignored: "
                                        "Color Correction does not use Alpha1");
    /* a used Alpha is checked, not warned about */
    assert_true(rt_task_number(&p->tasks[0], "Alpha1") == 0.7);
    payload_destroy(p);
}

static void test_cmyk_profile(void **state)
{
    (void)state;
    rt_payload *p = parse_ok("{\"mode\":\"professional\",\"cmykProfile\":\"Naive\",\"tasks\":[]}");
    assert_string_equal(p->cmyk_profile, "naive");
    assert_int_equal(p->nwarnings, 0);
    payload_destroy(p);
    p = parse_ok("{\"mode\":\"professional\",\"tasks\":[]}");
    assert_null(p->cmyk_profile);
    payload_destroy(p);
    /* a server takes no file path: only the two names */
    parse_fails("{\"mode\":\"professional\",\"cmykProfile\":\"/etc/x.icc\",\"tasks\":[]}",
                RT_ERR_PAYLOAD, "cmykProfile = \"/etc/x.icc\" is not one of \"press\", \"naive\"");
}

static void test_aspect_ratio_number_refused(void **state)
{
    (void)state;
    /* 45 would otherwise crop a 45 : 1 strip */
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\",\"User Params\":{"
                "\"AspectRatio\":45}}]}",
                RT_ERR_PAYLOAD,
                "tasks[0] (Crop): User Params/AspectRatio = 45 is a number, but an aspect ratio "
                "is a string");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\",\"User Params\":{"
                "\"AspectRatio\":0.8}}]}",
                RT_ERR_PAYLOAD, "User Params/AspectRatio = 0.8 is a number");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\",\"User Params\":{"
                "\"AspectRatio\":\"45 : 1\"}}]}",
                RT_ERR_PAYLOAD, "User Params/AspectRatio = \"45 : 1\" is too elongated");
    rt_payload *p = parse_ok("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\",\"User "
                             "Params\":{\"AspectRatio\":\"16 : 10\"}}]}");
    assert_true(rt_task_value(&p->tasks[0], "User Params/AspectRatio")->ratio == 1.6);
    payload_destroy(p);
}

static void test_scale_layer_automask(void **state)
{
    (void)state;
    rt_payload *p = parse_ok("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Clean "
                             "Backdrop\",\"Scale\":3,\"Layer\":true,\"Automask\":false},{"
                             "\"Plugin\":\"Dust\",\"Scale\":\"2\",\"Layer\":0},{\"Plugin\":"
                             "\"Clean Backdrop\"},{\"Plugin\":\"Heal\",\"Automask\":true}]}");
    assert_int_equal(p->tasks[0].scale, 3);
    assert_int_equal(p->tasks[0].layer, 1);
    assert_int_equal(p->tasks[0].automask, 0);
    assert_int_equal(p->tasks[1].scale, 2);
    assert_int_equal(p->tasks[1].layer, 0);
    assert_int_equal(p->tasks[2].automask, 1); /* the person is protected by default */
    assert_int_equal(p->nwarnings, 1);         /* Automask on Heal is ignored */
    assert_non_null(strstr(p->warnings[0], "tasks[3] (Heal): Automask applies to Clean Backdrop"));
    assert_true(payload_is_layered(p));
    payload_destroy(p);
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Dust\",\"Scale\":4}]}",
                RT_ERR_PAYLOAD, "tasks[0] (Dust): Scale = 4 must be 0, 1, 2 or 3");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Dust\",\"Scale\":1.5}]}",
                RT_ERR_PAYLOAD, "Scale = 1.5 must be 0, 1, 2 or 3");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Dust\",\"Layer\":2}]}",
                RT_ERR_PAYLOAD, "tasks[0] (Dust): Layer = 2 must be 0 or 1");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Clean Backdrop\","
                "\"Automask\":\"maybe\"}]}",
                RT_ERR_PAYLOAD, "Automask = \"maybe\" must be true or false");
}

static void test_unknown_keys_warn(void **state)
{
    (void)state;
    rt_payload *p = parse_ok("{\"mode\":\"professional\",\"client\":\"x\",\"tasks\":[{"
                             "\"Plugin\":\"Heal\",\"Alpha3\":1},{\"Plugin\":\"Crop\",\"User "
                             "Params\":{\"AutoStraightenMode\":\"AI\",\"Zoom\":2}}]}");
    assert_int_equal(p->nwarnings, 3);
    int seen = 0;
    for (size_t i = 0; i < p->nwarnings; i++) {
        if (strstr(p->warnings[i], "unknown key 'client' ignored")) seen |= 1;
        if (strstr(p->warnings[i], "tasks[0] (Heal): unknown key 'Alpha3' ignored")) seen |= 2;
        if (strstr(p->warnings[i], "tasks[1] (Crop): unknown key 'User Params/Zoom' ignored"))
            seen |= 4;
    }
    assert_int_equal(seen, 7);
    payload_destroy(p);
}

static void test_limits(void **state)
{
    (void)state;
    /* 65 tasks */
    size_t cap = 65 * 24 + 64;
    char *json = malloc(cap);
    strcpy(json, "{\"mode\":\"professional\",\"tasks\":[");
    for (int i = 0; i < 65; i++)
        strcat(json, i ? ",{\"Plugin\":\"Heal\"}" : "{\"Plugin\":\"Heal\"}");
    strcat(json, "]}");
    parse_fails(json, RT_ERR_PAYLOAD, "tasks has 65 entries; at most 64 are allowed");
    /* 64 tasks are fine */
    char *last = strrchr(json, '{');
    strcpy(last - 1, "]}");
    rt_payload *p = parse_ok(json);
    assert_int_equal(p->ntasks, 64);
    payload_destroy(p);
    free(json);
    /* over 64 KiB */
    size_t big = RT_PAYLOAD_MAX_BYTES + 10;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, "{\"mode\":\"professional\",\"tasks\":[]}", 34);
    huge[big] = '\0';
    parse_fails(huge, RT_ERR_PAYLOAD, "the limit is 65536 bytes");
    free(huge);
}

static void test_named_fields(void **state)
{
    (void)state;
    rt_payload *p = parse_ok(
        "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Face Lifting\","
        "\"face_lifting_version\":3,\"Face Lifting\":1.0,\"Face Masculinity\":0.55,\"Double Chin "
        "Correction\":1.0,\"Face Lifting Depth\":0.6,\"Flow Smoothing\":0.1},{\"Plugin\":\"Face "
        "Lifting\",\"Face Femininity\":0.8},{\"Plugin\":\"Glasses Anti Glare\",\"Glasses Glare "
        "Removal\":0.4,\"LayoutMode\":\"patch\",\"Layer\":1},{\"Plugin\":\"Glasses Anti "
        "Glare\",\"Alpha1\":0.3}]}");
    assert_true(rt_task_number(&p->tasks[0], "Face Masculinity") == 0.55);
    assert_true(rt_task_number(&p->tasks[0], "Face Lifting Depth") == 0.6);
    /* Femininity is the mirror of Masculinity */
    assert_true(rt_task_number(&p->tasks[1], "Face Masculinity") > 0.199 &&
                rt_task_number(&p->tasks[1], "Face Masculinity") < 0.201);
    assert_true(rt_task_number(&p->tasks[2], "Glasses Glare Removal") == 0.4);
    assert_int_equal(rt_task_choice(&p->tasks[2], "LayoutMode"), 1);
    /* Alpha1 is accepted for the glare strength */
    assert_true(rt_task_number(&p->tasks[3], "Glasses Glare Removal") == 0.3);
    payload_destroy(p);
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Face Lifting\",\"Face "
                "Lifting\":1.5}]}",
                RT_ERR_PAYLOAD, "tasks[0] (Face Lifting): Face Lifting = 1.5 is outside [0, 1]");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Glasses Anti Glare\","
                "\"LayoutMode\":\"tiles\"}]}",
                RT_ERR_PAYLOAD, "LayoutMode = \"tiles\" is not one of \"full\", \"patch\"");
}

static void test_user_params(void **state)
{
    (void)state;
    rt_payload *p = parse_ok(
        "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Color Correction\",\"User "
        "Params\":{\"AI\":{\"Color Correction Mode\":\"exposure and wb\"},\"Basic\":{\"Enable "
        "Basic\":true,\"Exposure\":\"0.5\"}}},{\"Plugin\":\"Crop\",\"Layer\":0,\"User "
        "Params\":{\"AutoStraightenMode\":\"Manual\",\"Angle\":-3,\"AspectRatio\":\"4 : 5\","
        "\"ManualArea\":0.8,\"ManualCenterX\":0.25}},{\"Plugin\":\"Crop\",\"User Params\":{"
        "\"AspectRatio\":\"Custom\",\"CustomAspectX\":3,\"CustomAspectY\":2}}]}");
    assert_int_equal(rt_task_choice(&p->tasks[0], "User Params/AI/Color Correction Mode"), 2);
    assert_true(rt_task_number(&p->tasks[0], "User Params/Basic/Exposure") == 0.5);
    assert_true(rt_task_number(&p->tasks[1], "User Params/Angle") == -3);
    const rt_field_value *ar = rt_task_value(&p->tasks[1], "User Params/AspectRatio");
    assert_int_equal((int)ar->num, RT_ASPECT_RATIO);
    assert_true(ar->ratio > 0.7999 && ar->ratio < 0.8001);
    assert_true(rt_task_given(&p->tasks[1], "User Params/ManualArea"));
    assert_false(rt_task_given(&p->tasks[1], "User Params/ManualCenterY"));
    assert_true(rt_task_number(&p->tasks[1], "User Params/ManualCenterY") == 0.5);
    assert_int_equal(rt_task_choice(&p->tasks[2], "User Params/AutoStraightenMode"), 0);
    assert_int_equal((int)rt_task_number(&p->tasks[2], "User Params/AspectRatio"),
                     RT_ASPECT_CUSTOM);
    payload_destroy(p);
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Color Correction\",\"User "
                "Params\":{\"AI\":{\"Color Correction Mode\":\"Magic\"}}}]}",
                RT_ERR_PAYLOAD,
                "tasks[0] (Color Correction): User Params/AI/Color Correction Mode = \"Magic\" "
                "is not one of \"None\", \"Exposure only\", \"Exposure & WB\", \"Full\"");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\",\"User Params\":{"
                "\"AspectRatio\":\"4 : x\"}}]}",
                RT_ERR_PAYLOAD, "User Params/AspectRatio = \"4 : x\" is not an aspect ratio");
    parse_fails("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Crop\",\"User Params\":{"
                "\"ManualCenterX\":1.5}}]}",
                RT_ERR_PAYLOAD, "User Params/ManualCenterX = 1.5 is outside [0, 1]");
}

static void test_all_errors_reported(void **state)
{
    (void)state;
    rt_payload *p = NULL;
    const char *json = "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"Heal\",\"Alpha1\":"
                       "9},{\"Plugin\":\"Nope\"},{\"Plugin\":\"Dust\",\"Scale\":7}]}";
    assert_int_equal(payload_parse(json, strlen(json), &p), RT_ERR_PAYLOAD);
    const char *m = rt_error_message();
    assert_non_null(strstr(m, "tasks[0] (Heal): Alpha1 = 9"));
    assert_non_null(strstr(m, "tasks[1]: unknown plugin \"Nope\""));
    assert_non_null(strstr(m, "tasks[2] (Dust): Scale = 7"));
}

static void test_output_format(void **state)
{
    (void)state;
    rt_payload *p = parse_ok("{\"mode\":\"professional\",\"outputFormat\":\"png\",\"tasks\":[]}");
    assert_int_equal(p->output_format, RT_OUTPUT_PNG);
    assert_false(payload_is_layered(p));
    payload_destroy(p);
    p = parse_ok("{\"mode\":\"professional\",\"outputFormat\":\"zip\",\"tasks\":[]}");
    assert_true(payload_is_layered(p));
    payload_destroy(p);
    parse_fails("{\"mode\":\"professional\",\"outputFormat\":\"gif\",\"tasks\":[]}", RT_ERR_PAYLOAD,
                "outputFormat = \"gif\" is not one of");
}

static void test_normalised_json(void **state)
{
    (void)state;
    rt_payload *p = parse_ok("{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"dodge_burn\","
                             "\"Alpha1\":\"2\",\"Layer\":1}]}");
    char *s = payload_to_json(p);
    assert_non_null(strstr(s, "\"Plugin\": \"Dodge Burn\""));
    assert_non_null(strstr(s, "\"Alpha1\": 2.0"));
    assert_non_null(strstr(s, "\"Alpha2\": 0.0"));
    assert_non_null(strstr(s, "\"blendmode\": \"softLight\""));
    assert_non_null(strstr(s, "\"output\": \"zip\""));
    free(s);
    payload_destroy(p);
}

static void test_every_plugin_is_implemented(void **state)
{
    (void)state;
    /* all 17 plugins of the API run in this build: none is refused with
     * the 462 "not implemented" (the path stays for a future plugin) */
    for (size_t i = 0; i < rt_plugin_count(); i++) {
        assert_true(rt_plugin_implemented(i));
        char json[160];
        snprintf(json, sizeof json, "{\"mode\":\"professional\",\"tasks\":[{\"Plugin\":\"%s\"}]}",
                 rt_plugin_name(i));
        rt_payload *p = NULL;
        int err = rt_payload_parse(json, strlen(json), &p);
        if (err) fail_msg("%s: %s", rt_plugin_name(i), rt_last_error());
        rt_payload_destroy(p);
    }
}

static void test_plugin_table_order(void **state)
{
    (void)state;
    const char *want[] = {"Skin Mask",
                          "Clean Backdrop",
                          "Heal",
                          "Fabric",
                          "Dust",
                          "Eye Vessels",
                          "Eye Brilliance",
                          "White Teeth",
                          "Mattifier",
                          "Dodge Burn",
                          "Skin Tone",
                          "Portrait Volumes",
                          "Face Detection",
                          "Face Lifting",
                          "Glasses Anti Glare",
                          "Color Correction",
                          "Crop"};
    assert_int_equal(rt_plugin_count(), 17);
    for (size_t i = 0; i < 17; i++)
        assert_string_equal(rt_plugin_name(i), want[i]);
}

int main(void)
{
    rt_init("test_payload");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_required),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_names_match_leniently),
        cmocka_unit_test(test_alpha_ranges_and_defaults),
        cmocka_unit_test(test_unused_alpha_ignored),
        cmocka_unit_test(test_scale_layer_automask),
        cmocka_unit_test(test_unknown_keys_warn),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_named_fields),
        cmocka_unit_test(test_user_params),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_aspect_ratio_number_refused),
        cmocka_unit_test(test_cmyk_profile),
        cmocka_unit_test(test_output_format),
        cmocka_unit_test(test_normalised_json),
        cmocka_unit_test(test_every_plugin_is_implemented),
        cmocka_unit_test(test_plugin_table_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the webhook policy and signature, settings parsing and
 * Content-Disposition: pure functions of retouchd. */
#include "core/error.h"
#include "server/config.h"
#include "server/reply.h"
#include "server/webhooks.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_private(const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, addr, &in->sin_addr) == 1)
        in->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    else
        fail_msg("bad address %s", addr);
    return rd_address_is_private((struct sockaddr *)&ss);
}

static void test_private_addresses(void **state)
{
    (void)state;
    const char *private_ones[] = {
        "127.0.0.1",       "10.1.2.3",        "172.16.0.1", "172.31.255.255",
        "192.168.1.1",     "169.254.169.254", "0.0.0.0",    "100.64.0.1",
        "224.0.0.1",       "255.255.255.255", "::1",        "::",
        "fe80::1",         "fc00::1",         "fd12::1",    "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "64:ff9b::a00:1",  "ff02::1",    "2001:db8::1"};
    for (size_t i = 0; i < sizeof private_ones / sizeof *private_ones; i++)
        assert_true(is_private(private_ones[i]));
    const char *public_ones[] = {"8.8.8.8",         "1.1.1.1",         "172.32.0.1",
                                 "193.0.0.1",       "2606:4700::1111", "::ffff:8.8.8.8",
                                 "64:ff9b::808:808"};
    for (size_t i = 0; i < sizeof public_ones / sizeof *public_ones; i++)
        assert_false(is_private(public_ones[i]));
}

/* IPv6 forms that embed an IPv4 address are judged by the embedded one
 * (issue 14 item 9): 6to4, NAT64 (well-known and local-use) and Teredo. */
static void test_transition_addresses(void **state)
{
    (void)state;
    const char *private_ones[] = {
        "2002:7f00:1::1",     /* 6to4 of 127.0.0.1 */
        "2002:7f00:0001::",   /* the same, no host part */
        "2002:a00:1::1",      /* 6to4 of 10.0.0.1 */
        "2002:c0a8:101::5",   /* 6to4 of 192.168.1.1 */
        "2002:a9fe:a9fe::1",  /* 6to4 of 169.254.169.254 (cloud metadata) */
        "2002::1",            /* 6to4 of 0.0.0.0 */
        "64:ff9b::7f00:1",    /* NAT64 of 127.0.0.1 */
        "64:ff9b::127.0.0.1", /* the same, dotted */
        "64:ff9b::a9fe:a9fe", /* NAT64 of 169.254.169.254 */
        "64:ff9b:1::7f00:1",  /* local-use NAT64 */
        "64:ff9b:1::808:808", /* local-use NAT64 is a site's own: always refused */
        "64:ff9b:1:ffff::1",  /* anywhere in 64:ff9b:1::/48 */
        "2001:0:4136:e378:8000:63bf:80ff:fffe", /* Teredo, client 127.0.0.1 */
        "2001:0:4136:e378:8000:63bf:f5ff:fffe", /* Teredo, client 10.0.0.1 */
        "2001:0:7f00:1:8000:63bf:f7f7:f7f7",    /* Teredo, server 127.0.0.1 */
        "2001:0:c0a8:101::f7f7:f7f7",           /* Teredo, server 192.168.1.1 */
    };
    for (size_t i = 0; i < sizeof private_ones / sizeof *private_ones; i++)
        if (!is_private(private_ones[i])) fail_msg("%s should be refused", private_ones[i]);
    const char *public_ones[] = {
        "2002:808:808::1",                      /* 6to4 of 8.8.8.8 */
        "64:ff9b::808:808",                     /* NAT64 of 8.8.8.8 */
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7", /* Teredo, 65.54.227.120 and 8.8.8.8 */
        "2001:4860:4860::8888",                 /* ordinary 2001:: space, not Teredo */
    };
    for (size_t i = 0; i < sizeof public_ones / sizeof *public_ones; i++)
        if (is_private(public_ones[i])) fail_msg("%s should be allowed", public_ones[i]);
    /* The same judgement for literals in a hook URL. */
    static const char allow[][256] = {"*"};
    rd_webhook_policy p = {.allow = allow, .n_allow = 1};
    assert_int_equal(rd_webhook_check_url(&p, "http://[2002:7f00:1::1]:8080/x"), RT_ERR_ARG);
    assert_int_equal(rd_webhook_check_url(&p, "http://[64:ff9b::7f00:1]/x"), RT_ERR_ARG);
    assert_int_equal(rd_webhook_check_url(&p, "http://[64:ff9b:1::808:808]/x"), RT_ERR_ARG);
    assert_int_equal(rd_webhook_check_url(&p, "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x"),
                     RT_ERR_ARG);
    assert_int_equal(rd_webhook_check_url(&p, "http://[2002:808:808::1]/x"), 0);
}

static void test_check_url(void **state)
{
    (void)state;
    static const char allow[][256] = {"hooks.example.com", "*.lab.example.org", "127.0.0.1"};
    rd_webhook_policy p = {.allow = allow, .n_allow = 3, .timeout_ms = 1000};
    assert_int_equal(rd_webhook_check_url(&p, "https://hooks.example.com/x?y=1"), 0);
    assert_int_equal(rd_webhook_check_url(&p, "http://HOOKS.example.com:8443/x"), 0);
    assert_int_equal(rd_webhook_check_url(&p, "https://a.b.lab.example.org/"), 0);
    assert_int_equal(rd_webhook_check_url(&p, "https://lab.example.org/"), RT_ERR_ARG);
    assert_int_equal(rd_webhook_check_url(&p, "https://evil.com/"), RT_ERR_ARG);
    assert_non_null(strstr(rt_error_message(), "allow-list"));
    assert_int_equal(rd_webhook_check_url(&p, "https://hooks.example.com.evil.com/"), RT_ERR_ARG);
    assert_int_equal(rd_webhook_check_url(&p, "ftp://hooks.example.com/"), RT_ERR_ARG);
    assert_int_equal(rd_webhook_check_url(&p, "hooks.example.com/x"), RT_ERR_ARG);
    assert_int_equal(rd_webhook_check_url(&p, "http://hooks.example.com/a b"), RT_ERR_ARG);
    /* Allowed by name, but a loopback literal: refused unless private is allowed. */
    assert_int_equal(rd_webhook_check_url(&p, "http://127.0.0.1:9/x"), RT_ERR_ARG);
    assert_non_null(strstr(rt_error_message(), "private"));
    p.allow_private = 1;
    assert_int_equal(rd_webhook_check_url(&p, "http://127.0.0.1:9/x"), 0);
    p.n_allow = 0;
    assert_int_equal(rd_webhook_check_url(&p, "https://hooks.example.com/"), RT_ERR_ARG);
    assert_non_null(strstr(rt_error_message(), "allow-list is empty"));
}

static void test_signature(void **state)
{
    (void)state;
    /* RFC 4231 test case 2. */
    char sig[80];
    static const char data[] = "what do ya want for nothing?";
    rd_webhook_sign("Jefe", data, sizeof data - 1, sig);
    assert_string_equal(sig,
                        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_refused_address_is_permanent(void **state)
{
    (void)state;
    /* Allowed by name, private by address: the connect-time check refuses it
     * without sending anything, and says retrying cannot help. */
    static const char allow[][256] = {"localhost"};
    rd_webhook_policy p = {.allow = allow, .n_allow = 1, .timeout_ms = 2000};
    rd_delivery d;
    assert_int_equal(rd_webhook_post(&p, "http://localhost:9/h", "job.completed", "{}", "s", &d),
                     RT_ERR_IO);
    assert_true(d.permanent);
    assert_non_null(strstr(d.error, "private"));
}

static void test_durations_and_sizes(void **state)
{
    (void)state;
    int64_t ms;
    uint64_t bytes;
    assert_int_equal(rd_parse_duration("24h", &ms), 0);
    assert_int_equal(ms, 86400000);
    assert_int_equal(rd_parse_duration("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(rd_parse_duration("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(rd_parse_duration("30", &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(rd_parse_duration("2w", &ms), RT_ERR_ARG);
    assert_int_equal(rd_parse_duration("-1s", &ms), RT_ERR_ARG);
    assert_int_equal(rd_parse_size("100M", &bytes), 0);
    assert_int_equal(bytes, 100u << 20);
    assert_int_equal(rd_parse_size("512KiB", &bytes), 0);
    assert_int_equal(bytes, 512u << 10);
    assert_int_equal(rd_parse_size("1234", &bytes), 0);
    assert_int_equal(bytes, 1234);
    assert_int_equal(rd_parse_size("12X", &bytes), RT_ERR_ARG);
}

static void test_flags(void **state)
{
    (void)state;
    rd_config c;
    rd_config_defaults(&c);
    char *argv[] = {"retouchd",
                    "--listen",
                    "[::1]:0",
                    "--workers",
                    "3",
                    "--webhook-allow",
                    "a.com,*.B.com",
                    "--webhook-allow",
                    "c.com",
                    "--webhook-allow-private",
                    "--retention",
                    "2s",
                    "token",
                    "list",
                    NULL};
    int next = 0;
    assert_int_equal(rd_config_from_args(&c, 14, argv, &next), 0);
    assert_int_equal(next, 12);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 0);
    assert_int_equal(c.workers, 3);
    assert_int_equal(c.n_webhook_allow, 3);
    assert_string_equal(c.webhook_allow[1], "*.b.com");
    assert_true(c.webhook_allow_private);
    assert_int_equal(c.retention_ms, 2000);
    char *bad[] = {"retouchd", "--workers", "0", NULL};
    assert_int_equal(rd_config_from_args(&c, 3, bad, &next), RT_ERR_ARG);
    assert_non_null(strstr(rt_error_message(), "--workers"));
    char *unknown[] = {"retouchd", "--nope", NULL};
    assert_int_equal(rd_config_from_args(&c, 2, unknown, &next), RT_ERR_ARG);
    assert_non_null(strstr(rt_error_message(), "unknown option"));
    setenv("RETOUCHD_MAX_UPLOAD", "3M", 1);
    setenv("RETOUCHD_LISTEN", "0.0.0.0:9999", 1);
    assert_int_equal(rd_config_from_env(&c), 0);
    assert_int_equal(c.max_upload_bytes, 3u << 20);
    assert_int_equal(c.listen_port, 9999);
    setenv("RETOUCHD_WORKERS", "many", 1);
    assert_int_equal(rd_config_from_env(&c), RT_ERR_ARG);
    assert_non_null(strstr(rt_error_message(), "RETOUCHD_WORKERS"));
    unsetenv("RETOUCHD_WORKERS");
    unsetenv("RETOUCHD_MAX_UPLOAD");
    unsetenv("RETOUCHD_LISTEN");
}

static void test_content_disposition(void **state)
{
    (void)state;
    char *d = rd_content_disposition("portrait.jpg");
    assert_string_equal(d, "attachment; filename=\"portrait.jpg\"");
    free(d);
    d = rd_content_disposition("\xc3\xa9t\xc3\xa9 1.jpg");
    assert_string_equal(
        d, "attachment; filename=\"_t_ 1.jpg\"; filename*=UTF-8''%C3%A9t%C3%A9%201.jpg");
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_addresses),
        cmocka_unit_test(test_transition_addresses),
        cmocka_unit_test(test_check_url),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_refused_address_is_permanent),
        cmocka_unit_test(test_durations_and_sizes),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_content_disposition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

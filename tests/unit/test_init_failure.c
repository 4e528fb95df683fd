/* A failed rt_init tells every calling thread why (issue: only the thread
 * that ran the initialisation saw the message).  libvips's start-up is made
 * to fail by wrapping vips_init at link time (tests/unit/CMakeLists.txt). */
#include "retouch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <vips/vips.h>

/* libvips starts (its locks exist), then reports a failure, as a real
 * start-up failure late in vips_init would */
int __real_vips_init(const char *argv0);
int __wrap_vips_init(const char *argv0);
int __wrap_vips_init(const char *argv0)
{
    if (__real_vips_init(argv0)) return -1;
    vips_error("vips_init", "%s", "test: no start-up today");
    return -1;
}

static void *call_init(void *msg)
{
    int err = rt_init("test_init_failure");
    snprintf(msg, 600, "%d %s", err, err ? rt_last_error() : "");
    return NULL;
}

static void test_every_thread_gets_the_message(void **state)
{
    (void)state;
    char msg[4][600];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, call_init, msg[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        assert_non_null(strstr(msg[i], "cannot initialise libvips"));
        assert_non_null(strstr(msg[i], "no start-up today"));
    }
    /* and a later call on this thread too */
    assert_int_not_equal(rt_init("again"), 0);
    assert_non_null(strstr(rt_last_error(), "no start-up today"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_thread_gets_the_message)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

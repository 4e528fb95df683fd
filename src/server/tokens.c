/* API tokens: request checks and the `token` subcommands (see tokens.h). */
#include "server/tokens.h"

#include "core/error.h"
#include "server/clock.h"
#include "server/crypto.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2

int rd_auth(rd_store *store, const char *token, rd_token *out)
{
    char buf[256];
    const char *s = token ? token : "";
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t len = strlen(s);
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    if (!len)
        return rt_error(RT_ERR_AUTH, "token missing: send your token in the 'token' form field "
                                     "or the X-Retouch-Token header");
    if (len >= sizeof buf)
        return rt_error(RT_ERR_AUTH, "token not found: it is too long to be a token; check what "
                                     "you send");
    memcpy(buf, s, len);
    buf[len] = '\0';
    char hash[RD_SHA256_HEX_LEN + 1];
    rd_sha256_hex(buf, len, hash);
    int err = rd_store_token_find(store, hash, out);
    if (err == RT_ERR_NOT_FOUND)
        return rt_error(RT_ERR_AUTH, "token not found: check it for typos, or ask the operator "
                                     "for one (retouchd token create)");
    if (err) return err;
    if (out->revoked)
        return rt_error(RT_ERR_AUTH, "this token was revoked; ask the operator for a new one");
    return 0;
}

/* ---- the subcommands ---------------------------------------------------- */

static void token_usage(FILE *out)
{
    fprintf(out,
            "usage: retouchd [--data-dir DIR] token create --name NAME [--daily-quota N]\n"
            "                [--credits N] [--webhook-secret SECRET]\n"
            "       retouchd [--data-dir DIR] token list\n"
            "       retouchd [--data-dir DIR] token revoke TOKEN\n"
            "       retouchd [--data-dir DIR] token set TOKEN [--name NAME] [--daily-quota N]\n"
            "                [--credits N] [--webhook-secret SECRET]\n"
            "\n"
            "N is a whole number or 'unlimited' (the default).  TOKEN is the token itself\n"
            "or, when no other token shares it, its name.  `create` prints the new token\n"
            "alone on its last line; the server keeps only its hash.\n");
}

static int parse_limit(const char *flag, const char *s, int64_t *out)
{
    if (strcasecmp(s, "unlimited") == 0 || strcmp(s, "-1") == 0) {
        *out = RD_UNLIMITED;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > 1000000000000LL) {
        fprintf(stderr, "retouchd token: %s %s: use a whole number (0 or more) or 'unlimited'\n",
                flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

static void format_limit(int64_t v, char *out, size_t cap)
{
    if (v == RD_UNLIMITED)
        snprintf(out, cap, "unlimited");
    else
        snprintf(out, cap, "%lld", (long long)v);
}

typedef struct token_options {
    const char *name;
    const char *secret;
    int64_t daily_quota, credits;
    int has_quota, has_credits;
} token_options;

/* Parses the options of create/set from argv[first..]; returns the index of
 * the first operand, or -1 on a usage error. */
static int parse_token_options(int argc, char **argv, int first, token_options *o)
{
    static const struct option longopts[] = {
        {"name", required_argument, NULL, 'n'},    {"daily-quota", required_argument, NULL, 'q'},
        {"credits", required_argument, NULL, 'c'}, {"webhook-secret", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    optind = first;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o->name = optarg;
            break;
        case 's':
            o->secret = optarg;
            break;
        case 'q':
            if (parse_limit("--daily-quota", optarg, &o->daily_quota)) return -1;
            o->has_quota = 1;
            break;
        case 'c':
            if (parse_limit("--credits", optarg, &o->credits)) return -1;
            o->has_credits = 1;
            break;
        case 'h':
            token_usage(stdout);
            return -2;
        default:
            fprintf(stderr, "retouchd token: %s: unknown option or missing value\n",
                    argv[optind - 1]);
            token_usage(stderr);
            return -1;
        }
    }
    if (o->name && (!o->name[0] || strlen(o->name) >= sizeof((rd_token *)0)->name)) {
        fprintf(stderr, "retouchd token: --name must be 1 to 127 characters\n");
        return -1;
    }
    if (o->secret &&
        (strlen(o->secret) < 16 || strlen(o->secret) >= sizeof((rd_token *)0)->webhook_secret)) {
        fprintf(stderr, "retouchd token: --webhook-secret must be 16 to 95 characters\n");
        return -1;
    }
    return optind;
}

static void print_token(const rd_token *t)
{
    char quota[32], credits[32], created[32];
    format_limit(t->daily_quota, quota, sizeof quota);
    format_limit(t->credits, credits, sizeof credits);
    rd_iso8601(t->created_ms, created);
    printf("name: %s\nhint: %s...\ndaily quota: %s\ncredits: %s\nstatus: %s\ncreated: %s\n",
           t->name, t->hint, quota, credits, t->revoked ? "revoked" : "active", created);
}

static int cmd_create(rd_store *store, int argc, char **argv)
{
    token_options o = {.daily_quota = RD_UNLIMITED, .credits = RD_UNLIMITED};
    int next = parse_token_options(argc, argv, 2, &o);
    if (next < 0) return next == -2 ? 0 : EXIT_USAGE;
    if (next < argc) {
        fprintf(stderr, "retouchd token create: unexpected argument '%s'\n", argv[next]);
        return EXIT_USAGE;
    }
    if (!o.name) {
        fprintf(stderr, "retouchd token create: --name NAME is required (who the token is "
                        "for)\n");
        return EXIT_USAGE;
    }
    rd_token t = {.daily_quota = o.daily_quota, .credits = o.credits, .created_ms = rd_now_ms()};
    snprintf(t.name, sizeof t.name, "%s", o.name);
    char token[RD_TOKEN_LEN + 1];
    int err = rd_new_token(token);
    if (!err && o.secret)
        snprintf(t.webhook_secret, sizeof t.webhook_secret, "%s", o.secret);
    else if (!err)
        err = rd_new_webhook_secret(t.webhook_secret, sizeof t.webhook_secret);
    char hash[RD_SHA256_HEX_LEN + 1];
    if (!err) {
        snprintf(t.hint, sizeof t.hint, "%.9s", token);
        rd_sha256_hex(token, strlen(token), hash);
        err = rd_store_token_insert(store, &t, hash);
    }
    if (err) {
        fprintf(stderr, "retouchd token create: %s\n", rt_error_message());
        return EXIT_FAILED;
    }
    char quota[32], credits[32];
    format_limit(t.daily_quota, quota, sizeof quota);
    format_limit(t.credits, credits, sizeof credits);
    printf("created token '%s' (daily quota: %s, credits: %s)\n", t.name, quota, credits);
    printf("webhook secret: %s\n", t.webhook_secret);
    printf("%s\n", token);
    return 0;
}

static int cmd_list(rd_store *store, int argc, char **argv)
{
    (void)argv;
    if (argc > 2) {
        fprintf(stderr, "retouchd token list: takes no arguments\n");
        return EXIT_USAGE;
    }
    rd_token *tokens = NULL;
    size_t n = 0;
    if (rd_store_token_list(store, &tokens, &n)) {
        fprintf(stderr, "retouchd token list: %s\n", rt_error_message());
        return EXIT_FAILED;
    }
    char today[16];
    rd_utc_day(rd_now_ms(), today);
    printf("%-24s %-13s %-12s %-10s %-12s %-8s %s\n", "NAME", "HINT", "DAILY-QUOTA", "USED-TODAY",
           "CREDITS", "STATUS", "CREATED");
    for (size_t i = 0; i < n; i++) {
        const rd_token *t = &tokens[i];
        char quota[32], credits[32], created[32], hint[24];
        format_limit(t->daily_quota, quota, sizeof quota);
        format_limit(t->credits, credits, sizeof credits);
        rd_iso8601(t->created_ms, created);
        snprintf(hint, sizeof hint, "%s...", t->hint);
        printf("%-24s %-13s %-12s %-10lld %-12s %-8s %s\n", t->name, hint, quota,
               (long long)(strcmp(t->day, today) == 0 ? t->used_today : 0), credits,
               t->revoked ? "revoked" : "active", created);
    }
    free(tokens);
    return 0;
}

/* The token named by arg: the token itself, or a name only one token has. */
static int find_token(rd_store *store, const char *cmd, const char *arg, rd_token *out)
{
    char hash[RD_SHA256_HEX_LEN + 1];
    rd_sha256_hex(arg, strlen(arg), hash);
    int err = rd_store_token_find(store, hash, out);
    if (err != RT_ERR_NOT_FOUND) {
        if (err) fprintf(stderr, "retouchd token %s: %s\n", cmd, rt_error_message());
        return err;
    }
    int matches = 0;
    err = rd_store_token_find_name(store, arg, out, &matches);
    if (err == RT_ERR_NOT_FOUND) {
        fprintf(stderr, "retouchd token %s: no token is '%s' or named so (see token list)\n", cmd,
                arg);
        return err;
    }
    if (err) {
        fprintf(stderr, "retouchd token %s: %s\n", cmd, rt_error_message());
        return err;
    }
    if (matches > 1) {
        fprintf(stderr, "retouchd token %s: %d tokens are named '%s'; give the token itself\n", cmd,
                matches, arg);
        return RT_ERR_ARG;
    }
    return 0;
}

static int cmd_revoke(rd_store *store, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "retouchd token revoke: give one TOKEN (or its name)\n");
        return EXIT_USAGE;
    }
    rd_token t;
    if (find_token(store, "revoke", argv[2], &t)) return EXIT_FAILED;
    t.revoked = 1;
    if (rd_store_token_update(store, &t)) {
        fprintf(stderr, "retouchd token revoke: %s\n", rt_error_message());
        return EXIT_FAILED;
    }
    printf("revoked token '%s' (%s...)\n", t.name, t.hint);
    return 0;
}

static int cmd_set(rd_store *store, int argc, char **argv)
{
    token_options o = {0};
    if (argc < 3) {
        fprintf(stderr, "retouchd token set: give the TOKEN (or its name), then what to change\n");
        return EXIT_USAGE;
    }
    /* TOKEN comes first, options after it; options first and TOKEN last
     * works too. */
    const char *which = argv[2];
    int first = 3;
    if (argv[2][0] == '-') {
        which = argv[argc - 1];
        argc--;
        first = 2;
    }
    int next = parse_token_options(argc, argv, first, &o);
    if (next < 0) return next == -2 ? 0 : EXIT_USAGE;
    if (next < argc) {
        fprintf(stderr, "retouchd token set: unexpected argument '%s'\n", argv[next]);
        return EXIT_USAGE;
    }
    if (!o.name && !o.secret && !o.has_quota && !o.has_credits) {
        fprintf(stderr, "retouchd token set: nothing to change: give --name, --daily-quota, "
                        "--credits or --webhook-secret\n");
        return EXIT_USAGE;
    }
    rd_token t;
    if (find_token(store, "set", which, &t)) return EXIT_FAILED;
    if (o.name) snprintf(t.name, sizeof t.name, "%s", o.name);
    if (o.secret) snprintf(t.webhook_secret, sizeof t.webhook_secret, "%s", o.secret);
    if (o.has_quota) t.daily_quota = o.daily_quota;
    if (o.has_credits) t.credits = o.credits;
    if (rd_store_token_update(store, &t)) {
        fprintf(stderr, "retouchd token set: %s\n", rt_error_message());
        return EXIT_FAILED;
    }
    print_token(&t);
    return 0;
}

int rd_tokens_main(rd_store *store, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        token_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "create")) return cmd_create(store, argc, argv);
    if (!strcmp(cmd, "list")) return cmd_list(store, argc, argv);
    if (!strcmp(cmd, "revoke")) return cmd_revoke(store, argc, argv);
    if (!strcmp(cmd, "set")) return cmd_set(store, argc, argv);
    fprintf(stderr, "retouchd token: unknown command '%s'\n", cmd);
    token_usage(stderr);
    return EXIT_USAGE;
}

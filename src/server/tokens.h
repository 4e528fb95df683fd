/* tokens.h: API tokens: checking them on requests, and the `retouchd token`
 * subcommands that manage them.
 *
 * A token is "rt_" + 256 random bits.  The store keeps only its SHA-256 and
 * its first characters (the hint `token list` shows), so a copy of the
 * database does not hand out working tokens.  Each token carries a name, a
 * daily quota and credits (unlimited unless set), and the secret its jobs'
 * webhooks are signed with.
 */
#ifndef RD_TOKENS_H
#define RD_TOKENS_H

#include "server/store.h"

/* Looks a request's token up.  RT_ERR_AUTH (460) with a message saying what
 * to fix when it is missing, unknown or revoked. */
int rd_auth(rd_store *store, const char *token, rd_token *out);

/* `retouchd [--data-dir DIR] token create|list|revoke|set ...`: argv[0] is
 * "token".  Prints to stdout (`create` prints the new token alone on the
 * last line) and returns the process exit status: 0 ok, 1 failure, 2 usage
 * error. */
int rd_tokens_main(rd_store *store, int argc, char **argv);

#endif

/* libFuzzer target for the payload parser and validator: any bytes must give
 * either a payload whose normalised JSON can be produced, or an error with a
 * message, never a crash, leak or undefined behaviour.  See tests/fuzz/run. */
#include "core/error.h"
#include "payload/payload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rt_payload *p = NULL;
    int err = payload_parse((const char *)data, size, &p);
    if (err) {
        /* every failure explains itself */
        if (p || rt_error_message()[0] == '\0') abort();
        return 0;
    }
    char *json = payload_to_json(p);
    if (!json) abort();
    /* the normalised form parses again to the same tasks */
    rt_payload *q = NULL;
    if (payload_parse(json, strlen(json), &q) == 0) {
        if (q->ntasks != p->ntasks) abort();
        for (size_t i = 0; i < p->ntasks; i++)
            if (q->tasks[i].spec != p->tasks[i].spec || q->tasks[i].layer != p->tasks[i].layer)
                abort();
        payload_destroy(q);
    }
    free(json);
    payload_destroy(p);
    return 0;
}

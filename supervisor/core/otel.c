/* SPDX-License-Identifier: MIT */
/*
 * OTEL_RESOURCE_ATTRIBUTES for the agent (see the header): the batch,
 * school, attempt and iteration as resource attributes, so Claude Code's
 * own metrics (claude_code.cost.usage, token counts, …) can be grouped by
 * school in the user's collector. School names hold spaces, commas and
 * non-ASCII letters: all of them are percent-encoded, byte by byte, as the
 * specification asks for everything outside the baggage octets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/core/otel.h"
#include "ralphsup/base/buf.h"
#include "ralphsup/base/common.h"

#define OTEL_VAR "OTEL_RESOURCE_ATTRIBUTES"
#define TELEMETRY_VAR "CLAUDE_CODE_ENABLE_TELEMETRY"

/* The value of the last entry NAME=… of @env, or NULL. */
static const char *last_value(char *const *env, size_t n, const char *name, size_t *at)
{
    size_t l = strlen(name);
    const char *v = NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], name, l) == 0 && env[i][l] == '=') {
            v = env[i] + l + 1;
            if (at)
                *at = i;
        }
    return v;
}

bool rs_otel_telemetry_on(char *const *env, size_t n)
{
    const char *v = last_value(env, n, TELEMETRY_VAR, NULL);
    return v && v[0] && strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
}

char *rs_otel_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct rs_buf b;
    rs_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~') {
            rs_buf_putc(&b, (char)*p);
        } else {
            rs_buf_putc(&b, '%');
            rs_buf_putc(&b, hex[*p >> 4]);
            rs_buf_putc(&b, hex[*p & 15]);
        }
    }
    return rs_buf_steal(&b);
}

bool rs_otel_apply(char **env, size_t *k, const char *batch, const char *school, int attempt, int64_t iteration)
{
    if (!rs_otel_telemetry_on(env, *k))
        return false;
    size_t at = 0;
    const char *old = last_value(env, *k, OTEL_VAR, &at);
    char *eb = rs_otel_encode(batch ? batch : "");
    char *es = rs_otel_encode(school ? school : "");
    char *entry = rs_xasprintf(OTEL_VAR "=%s%sralphsup.batch=%s,ralphsup.school=%s,ralphsup.attempt=%d,"
                               "ralphsup.iteration=%lld",
                               old && old[0] ? old : "", old && old[0] ? "," : "", eb, es, attempt,
                               (long long)iteration);
    free(eb);
    free(es);
    if (old) {
        free(env[at]);
        env[at] = entry;
    } else {
        env[(*k)++] = entry;
    }
    return true;
}

/* SPDX-License-Identifier: MIT */
/* OTEL_RESOURCE_ATTRIBUTES for the agent: when it is set, how values are encoded, how a user's value is kept. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ralphsup/base/common.h"
#include "ralphsup/core/otel.h"

/* A malloc'd environment of the given entries with room for one more and the NULL. */
static char **env_of(size_t n, const char *const *v)
{
    char **e = rs_xcalloc(n + 2, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        e[i] = rs_xstrdup(v[i]);
    return e;
}

static void env_free(char **e)
{
    for (size_t i = 0; e[i]; i++)
        free(e[i]);
    free(e);
}

Test(otel, telemetry_switch)
{
    const char *on[] = {"PATH=/bin", "CLAUDE_CODE_ENABLE_TELEMETRY=1"};
    const char *off0[] = {"CLAUDE_CODE_ENABLE_TELEMETRY=0"};
    const char *offe[] = {"CLAUDE_CODE_ENABLE_TELEMETRY="};
    const char *later[] = {"CLAUDE_CODE_ENABLE_TELEMETRY=1", "CLAUDE_CODE_ENABLE_TELEMETRY=false"};
    const char *prefix[] = {"CLAUDE_CODE_ENABLE_TELEMETRY_X=1"};
    cr_expect(rs_otel_telemetry_on((char **)on, 2));
    cr_expect(!rs_otel_telemetry_on((char **)off0, 1));
    cr_expect(!rs_otel_telemetry_on((char **)offe, 1));
    cr_expect(!rs_otel_telemetry_on((char **)later, 2), "the last entry of the name counts");
    cr_expect(!rs_otel_telemetry_on((char **)prefix, 1), "a longer name is another variable");
    cr_expect(!rs_otel_telemetry_on(NULL, 0));
}

Test(otel, percent_encoding)
{
    char *e = rs_otel_encode("Université de l'Ouest, A=B;c%d \"x\"\\");
    cr_expect_str_eq(e, "Universit%C3%A9%20de%20l%27Ouest%2C%20A%3DB%3Bc%25d%20%22x%22%5C");
    free(e);
    e = rs_otel_encode("plain-name_1.0~");
    cr_expect_str_eq(e, "plain-name_1.0~");
    free(e);
}

Test(otel, appended_when_telemetry_on)
{
    const char *v[] = {"HOME=/h", "CLAUDE_CODE_ENABLE_TELEMETRY=1"};
    char **env = env_of(2, v);
    size_t k = 2;
    cr_assert(rs_otel_apply(env, &k, "west", "University of Utah", 2, 17));
    cr_expect_eq(k, 3);
    cr_expect_str_eq(env[2], "OTEL_RESOURCE_ATTRIBUTES=ralphsup.batch=west,ralphsup.school=University%20of%20Utah,"
                             "ralphsup.attempt=2,ralphsup.iteration=17");
    env_free(env);
}

Test(otel, user_value_kept_first)
{
    const char *v[] = {"OTEL_RESOURCE_ATTRIBUTES=service.namespace=nmdp,team=a%2Cb", "CLAUDE_CODE_ENABLE_TELEMETRY=true"};
    char **env = env_of(2, v);
    size_t k = 2;
    cr_assert(rs_otel_apply(env, &k, "b", "S", 1, 1));
    cr_expect_eq(k, 2, "the entry is replaced, not added twice");
    cr_expect_str_eq(env[0], "OTEL_RESOURCE_ATTRIBUTES=service.namespace=nmdp,team=a%2Cb,ralphsup.batch=b,"
                             "ralphsup.school=S,ralphsup.attempt=1,ralphsup.iteration=1");
    env_free(env);
}

Test(otel, untouched_when_off)
{
    const char *v[] = {"OTEL_RESOURCE_ATTRIBUTES=x=1"};
    char **env = env_of(1, v);
    size_t k = 1;
    cr_expect(!rs_otel_apply(env, &k, "b", "S", 1, 1));
    cr_expect_eq(k, 1);
    cr_expect_str_eq(env[0], "OTEL_RESOURCE_ATTRIBUTES=x=1");
    env_free(env);
}

/* SPDX-License-Identifier: MIT */
/*
 * Fetching one evidence page and turning it into text: the only users of
 * libcurl and libxml2 (docs/architecture.md). One blocking GET per call,
 * bounded every way a page from the open web can hurt: http and https only
 * (redirects too), at most 5 redirects, a connect timeout and a timeout on
 * the whole transfer, a cap on the body (a longer page is read up to the
 * cap and marked truncated, not refused), no proxy from the environment,
 * and no connection to a loopback, private or link-local address unless
 * allowed (checked on the resolved address of every connection, redirects
 * included, before it is opened).
 *
 * Errors are returned as text for the audit result, never printed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ralphsup/base/buf.h"

#define RS_FETCH_MAX_REDIRECTS 5

struct rs_fetch_opts {
    bool allow_private;
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
    int64_t max_bytes;
    const char *user_agent;  /* may be NULL */
};

struct rs_fetch_result {
    int http_status;         /* of the last response; 0 = none */
    char *final_url;         /* after redirects, or NULL */
    char *content_type;      /* or NULL */
    struct rs_buf body;      /* at most max_bytes (decoded when the server compressed it) */
    bool truncated;          /* the body was longer: cut at max_bytes */
    char error[256];         /* why the page is unreachable: "HTTP 404", "private address 127.0.0.1", ... */
};

/* Once per process, before the first rs_fetch() / after the last. Return: 0 or -EIO. */
int rs_fetch_global_init(void);
void rs_fetch_global_cleanup(void);

/*
 * rs_fetch() - GET @url into @res (initialised here; rs_fetch_result_deinit()
 * after). Return: 0 when a 2xx page was read (maybe truncated); 1 when it is
 * unreachable, with the reason in res->error: "HTTP <status>", "too many
 * redirects (more than 5)", "private address <ip>", "timeout after <d>",
 * "not an http(s) URL", or libcurl's message ("Could not resolve host: x").
 */
int rs_fetch(const char *url, const struct rs_fetch_opts *o, struct rs_fetch_result *res);
void rs_fetch_result_deinit(struct rs_fetch_result *res);

/*
 * rs_fetch_host() - the host part of @url, lower-cased (caller frees), or
 * NULL when it has none. The audit keys its per-host interval on it.
 */
char *rs_fetch_host(const char *url);

/*
 * rs_html_text() - append the text of an HTML document (@len bytes of
 * @data, @charset from the Content-Type or NULL to let the parser look for
 * a <meta> or guess) to @out: every text node in document order, entities
 * decoded, the contents of script, style, noscript and template left out,
 * a space between block-level elements (p, div, li, td, br, h1-h6, ...) and
 * none between inline ones, so "Be The <b>Match</b>" reads "Be The Match"
 * and a quote split across tags is found. libxml2's HTML parser in
 * recovery mode: broken markup still gives its text, nothing is fetched.
 */
void rs_html_text(const char *data, size_t len, const char *charset, struct rs_buf *out);

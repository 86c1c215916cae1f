/* SPDX-License-Identifier: MIT */
/*
 * One evidence page: libcurl for the GET, libxml2's HTML parser for its
 * text (include/ralphsup/audit/fetch.h). The limits are set on every
 * handle, so no caller can forget one:
 *   CURLOPT_PROTOCOLS_STR / REDIR_PROTOCOLS_STR "http,https";
 *   CURLOPT_MAXREDIRS 5; CURLOPT_CONNECTTIMEOUT_MS and CURLOPT_TIMEOUT_MS;
 *   the body cap in the write callback (it keeps the first max_bytes and
 *   then stops the transfer, which is a success marked truncated);
 *   CURLOPT_PROXY "" (an environment proxy would hide the real address);
 *   CURLOPT_OPENSOCKETFUNCTION refuses a socket to a private address, so
 *   nothing is sent there (libcurl 7.88, Debian bookworm, has it; it sees
 *   the resolved address of every connection, redirects included).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "ralphsup/audit/fetch.h"
#include "ralphsup/base/util.h"
#include "ralphsup/core/evidence.h"

int rs_fetch_global_init(void)
{
    xmlInitParser();
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void rs_fetch_global_cleanup(void)
{
    curl_global_cleanup();
    xmlCleanupParser();
}

struct xfer {
    const struct rs_fetch_opts *o;
    struct rs_fetch_result *res;
    char refused[INET6_ADDRSTRLEN]; /* the private address a socket was refused for */
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    size_t room = (size_t)x->o->max_bytes - x->res->body.len;
    if (len > room) {
        rs_buf_append(&x->res->body, p, room);
        x->res->truncated = true;
        return 0; /* stop: CURLE_WRITE_ERROR, read as "truncated", not as an error */
    }
    rs_buf_append(&x->res->body, p, len);
    return len;
}

static curl_socket_t on_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = ud;
    if (!x->o->allow_private) {
        bool priv = true;
        const void *bytes = NULL;
        if (a->family == AF_INET) {
            bytes = &((const struct sockaddr_in *)(const void *)&a->addr)->sin_addr;
            priv = rs_evidence_addr_private(4, bytes);
        } else if (a->family == AF_INET6) {
            bytes = &((const struct sockaddr_in6 *)(const void *)&a->addr)->sin6_addr;
            priv = rs_evidence_addr_private(6, bytes);
        }
        if (priv) {
            if (!bytes || !inet_ntop(a->family, bytes, x->refused, sizeof x->refused))
                snprintf(x->refused, sizeof x->refused, "(family %d)", a->family);
            return CURL_SOCKET_BAD;
        }
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void set_error(struct rs_fetch_result *res, const char *fmt, ...) RS_PRINTF(2, 3);
static void set_error(struct rs_fetch_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
}

int rs_fetch(const char *url, const struct rs_fetch_opts *o, struct rs_fetch_result *res)
{
    memset(res, 0, sizeof *res);
    rs_buf_init(&res->body);
    if (!rs_evidence_url_ok(url)) {
        set_error(res, "not an http(s) URL");
        return 1;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        set_error(res, "cannot start a transfer (libcurl)");
        return 1;
    }
    struct xfer x = {.o = o, .res = res};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)RS_FETCH_MAX_REDIRECTS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "ralphsup-audit");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &x);
    CURLcode rc = curl_easy_perform(h);

    long code = 0;
    char *eff = NULL, *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    res->http_status = code > 0 && code < 1000 ? (int)code : 0;
    res->final_url = eff ? rs_xstrdup(eff) : NULL;
    res->content_type = ct ? rs_xstrdup(ct) : NULL;
    int r = 1;
    char d[32];
    if (rc == CURLE_WRITE_ERROR && res->truncated)
        rc = CURLE_OK;
    if (x.refused[0])
        set_error(res, "private address %s", x.refused);
    else if (rc == CURLE_TOO_MANY_REDIRECTS)
        set_error(res, "too many redirects (more than %d)", RS_FETCH_MAX_REDIRECTS);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        set_error(res, "timeout after %s", rs_duration_format(o->timeout_ms, d, sizeof d));
    else if (rc == CURLE_UNSUPPORTED_PROTOCOL)
        set_error(res, "redirected to a URL that is not http(s)");
    else if (rc != CURLE_OK)
        set_error(res, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (res->http_status < 200 || res->http_status > 299)
        set_error(res, "HTTP %d", res->http_status);
    else
        r = 0;
    /* libcurl's messages may end in a line break. */
    size_t el = strlen(res->error);
    while (el && (res->error[el - 1] == '\n' || res->error[el - 1] == '\r'))
        res->error[--el] = '\0';
    curl_easy_cleanup(h);
    rs_buf_cstr(&res->body);
    return r;
}

void rs_fetch_result_deinit(struct rs_fetch_result *res)
{
    free(res->final_url);
    free(res->content_type);
    rs_buf_deinit(&res->body);
    memset(res, 0, sizeof *res);
}

char *rs_fetch_host(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
        out = rs_xstrdup(host);
        for (char *p = out; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
    }
    curl_free(host);
    curl_url_cleanup(u);
    return out;
}

/* ---- HTML to text -------------------------------------------------------------- */

static bool name_in(const xmlChar *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp((const char *)name, list[i]) == 0)
            return true;
    return false;
}

static const char *const skipped[] = {"script", "style", "noscript", "template"};
static const char *const blocks[] = {
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "option", "p", "pre", "section", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "title", "tr", "ul", "body", "head", "html",
};

void rs_html_text(const char *data, size_t len, const char *charset, struct rs_buf *out)
{
    if (len > (size_t)INT32_MAX)
        len = (size_t)INT32_MAX;
    htmlDocPtr doc = htmlReadMemory(data, (int)len, NULL, charset,
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NONET | HTML_PARSE_NOBLANKS);
    if (!doc && charset) /* an encoding libxml2 does not know: let it guess */
        doc = htmlReadMemory(data, (int)len, NULL, NULL,
                             HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
    if (!doc)
        return;
    /* Iterative walk: no recursion, whatever the nesting. */
    xmlNodePtr n = xmlDocGetRootElement(doc);
    while (n) {
        bool descend = false;
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                rs_buf_puts(out, (const char *)n->content);
        } else if (n->type == XML_ELEMENT_NODE && n->name) {
            if (!name_in(n->name, skipped, RS_ARRAY_SIZE(skipped))) {
                if (name_in(n->name, blocks, RS_ARRAY_SIZE(blocks)))
                    rs_buf_putc(out, ' ');
                descend = n->children != NULL;
            }
        }
        if (descend) {
            n = n->children;
            continue;
        }
        while (n && !n->next) {
            n = n->parent;
            if (!n || n->type == XML_DOCUMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE) {
                n = NULL;
                break;
            }
            if (n->type == XML_ELEMENT_NODE && n->name && name_in(n->name, blocks, RS_ARRAY_SIZE(blocks)))
                rs_buf_putc(out, ' ');
        }
        if (n)
            n = n->next;
    }
    xmlFreeDoc(doc);
    rs_buf_cstr(out);
}

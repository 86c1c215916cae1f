/* SPDX-License-Identifier: MIT */
/*
 * What `ralphsup audit` decides about one warm lead, once its evidence page
 * has been fetched and turned into text (docs/audit.md): whether the page
 * really carries the lead's quote and the coach's surname, and whether an
 * address may be connected to at all. Everything here is pure: bytes in,
 * a verdict out; the fetching (libcurl, libxml2) lives in the audit layer.
 *
 * Normalisation (both the page text and the quote): HTML entities decoded
 * (the quote only: the HTML parser has already decoded the page's), every
 * kind of white space (tabs, line ends, no-break and other Unicode spaces)
 * one space, runs collapsed, ends trimmed; invisible characters (soft
 * hyphen, zero-width marks, BOM) dropped; typographic quotes, dashes and
 * the ellipsis folded to ' " - and "..."; letters lower-cased (ASCII,
 * Latin-1, Latin Extended-A, Greek, Cyrillic); ill-formed UTF-8 becomes
 * U+FFFD.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ralphsup/base/buf.h"

/* The result classes, in the order the summary lists them. */
enum rs_evidence_result {
    RS_EVIDENCE_VERIFIED = 0,       /* "verified": quote and surname on the page */
    RS_EVIDENCE_QUOTE_NOT_FOUND,    /* "quote-not-found": the page lacks the quote */
    RS_EVIDENCE_NAME_NOT_FOUND,     /* "name-not-found": the quote is there, the coach's surname is not */
    RS_EVIDENCE_UNREACHABLE,        /* "unreachable (<why>)": no page to look at */
    RS_EVIDENCE_NO_EVIDENCE,        /* "no-evidence": the lead has no evidence_url or no quote */
    RS_EVIDENCE_NRESULTS
};

/* "verified", "quote-not-found", "name-not-found", "unreachable", "no-evidence". */
const char *rs_evidence_result_name(enum rs_evidence_result r);
/*
 * rs_evidence_result_parse() - the class of a stored result string: its
 * name, or for "unreachable (...)" the part before " (". -1 when unknown.
 */
int rs_evidence_result_parse(const char *s);

/*
 * rs_evidence_normalize() - append the normalised form of @len bytes of @s
 * to @out (see above); @entities: decode HTML character references first
 * (named ones of a common table, &#NNN; and &#xHH;; an unknown one stays
 * as it is).
 */
void rs_evidence_normalize(const char *s, size_t len, bool entities, struct rs_buf *out);

/*
 * rs_evidence_surname() - the surname of a coach's name, normalised (with
 * entities): the last word, after dropping suffixes (Jr., Sr., II, III, IV,
 * PhD, ...), nicknames in quotes or parentheses, and trailing dots; "Doe,
 * Jane" gives "doe". Empty when the name has no word. Caller frees.
 */
char *rs_evidence_surname(const char *name);

/*
 * rs_evidence_match() - the verdict on a page whose text, already
 * normalised with rs_evidence_normalize(), is @text (@len bytes), for a
 * lead with @quote and @coach (both as in the CSV; normalised here, with
 * entities). The quote counts as found when each of its parts between
 * ellipses ("...") occurs, in order; the surname only as a whole word.
 * Return: RS_EVIDENCE_NO_EVIDENCE (empty quote), RS_EVIDENCE_QUOTE_NOT_FOUND,
 * RS_EVIDENCE_NAME_NOT_FOUND or RS_EVIDENCE_VERIFIED.
 */
enum rs_evidence_result rs_evidence_match(const char *text, size_t len, const char *quote, const char *coach);

/*
 * rs_evidence_url_ok() - @url is an absolute http:// or https:// URL
 * (scheme case-insensitive) with a host, and no white space or control
 * character. Only these are fetched.
 */
bool rs_evidence_url_ok(const char *url);

/*
 * rs_evidence_addr_private() - the address of @family (4: @addr holds 4
 * bytes, 6: 16 bytes, network order) is one `audit` refuses unless
 * [audit] allow_private: unspecified, loopback, private (10/8, 172.16/12,
 * 192.168/16, fc00::/7), shared (100.64/10), link-local (169.254/16,
 * fe80::/10), benchmarking (198.18/15), IETF protocol (192.0.0/24),
 * multicast, reserved (240/4) and broadcast; IPv4-mapped and NAT64 IPv6
 * addresses by the IPv4 address they carry. Any other family is refused.
 */
bool rs_evidence_addr_private(int family, const unsigned char *addr);

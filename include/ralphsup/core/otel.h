/* SPDX-License-Identifier: MIT */
/*
 * The agent's own OpenTelemetry: when the user turns on Claude Code's
 * telemetry (CLAUDE_CODE_ENABLE_TELEMETRY in the agent's environment), each
 * agent gets OTEL_RESOURCE_ATTRIBUTES naming the batch, school, attempt and
 * iteration it works on, so every metric and event Claude Code exports
 * carries them (docs/config.md, "Telemetry of the agent").
 *
 * The value follows the OpenTelemetry SDK environment specification:
 * "key1=value1,key2=value2", values percent-encoded (W3C Baggage octets;
 * here every byte outside [A-Za-z0-9-._~] is encoded, which every decoder
 * accepts). A value the user already gave is kept, ours appended after it.
 * Pure: no environment is read here, the caller passes the one it builds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * rs_otel_telemetry_on() - whether @env (@n "NAME=value" entries) turns on
 * Claude Code's telemetry: CLAUDE_CODE_ENABLE_TELEMETRY set to a value other
 * than "", "0" or "false" (the last entry of that name counts).
 */
bool rs_otel_telemetry_on(char *const *env, size_t n);

/* @s percent-encoded (every byte outside [A-Za-z0-9-._~] as %XX). Return: a new string (caller frees). */
char *rs_otel_encode(const char *s);

/*
 * rs_otel_apply() - when rs_otel_telemetry_on(), set
 * OTEL_RESOURCE_ATTRIBUTES in @env: the existing entry (the last of that
 * name) is replaced by "<its value>,ralphsup.batch=…,ralphsup.school=…,
 * ralphsup.attempt=N,ralphsup.iteration=N", or one is appended at env[*k]
 * (the caller leaves room for one more entry and the NULL). Entries are
 * malloc'd; a replaced one is freed.
 * Return: true when the environment was changed.
 */
bool rs_otel_apply(char **env, size_t *k, const char *batch, const char *school, int attempt, int64_t iteration);

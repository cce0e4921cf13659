#ifndef OUTPOST_CLIBUV_SHIM_H
#define OUTPOST_CLIBUV_SHIM_H
#include <uv.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

/* uv_tcp_t and friends are unions-of-structs that Swift can size but not cast between. */
static inline uv_handle_t *outpost_uv_tcp_as_handle(uv_tcp_t *t) { return (uv_handle_t *)t; }
static inline uv_stream_t *outpost_uv_tcp_as_stream(uv_tcp_t *t) { return (uv_stream_t *)t; }
#endif

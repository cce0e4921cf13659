#ifndef OUTPOST_CHTTPPARSER_SHIM_H
#define OUTPOST_CHTTPPARSER_SHIM_H
#include <http_parser.h>
/* http_parser keeps these in bitfields and macros. */
static inline unsigned outpost_http_errno(const http_parser *p) { return p->http_errno; }
static inline unsigned outpost_http_method(const http_parser *p) { return p->method; }
static inline unsigned outpost_http_status(const http_parser *p) { return p->status_code; }
static inline unsigned outpost_http_is_upgrade(const http_parser *p) { return p->upgrade; }
static inline unsigned outpost_http_is_chunked(const http_parser *p) { return (p->flags & F_CHUNKED) != 0; }
static inline int outpost_http_has_content_length(const http_parser *p) { return (p->flags & F_CONTENTLENGTH) != 0; }
#endif

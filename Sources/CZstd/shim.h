#ifndef OUTPOST_CZSTD_SHIM_H
#define OUTPOST_CZSTD_SHIM_H
#include <zstd.h>
/* ZSTD_CONTENTSIZE_* are macros of a cast expression. */
static inline unsigned long long outpost_zstd_contentsize_unknown(void) { return ZSTD_CONTENTSIZE_UNKNOWN; }
static inline unsigned long long outpost_zstd_contentsize_error(void) { return ZSTD_CONTENTSIZE_ERROR; }
#endif

#ifndef OUTPOST_CLIBPQ_SHIM_H
#define OUTPOST_CLIBPQ_SHIM_H
/* PostgreSQL's client library (Debian's libpq-dev): the hub's ledger on PostgreSQL (docs/ledger.md). */
#include <libpq-fe.h>
#endif

#ifndef OUTPOST_CSQLITE_SHIM_H
#define OUTPOST_CSQLITE_SHIM_H
/* The session extension and pre-update hook are compiled into Debian's libsqlite3;
   their declarations are only visible with these defined. */
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>

/* SQLITE_TRANSIENT is a cast macro Swift cannot import. */
static inline sqlite3_destructor_type outpost_sqlite_transient(void) { return SQLITE_TRANSIENT; }

/* sqlite3_db_config is variadic. */
static inline int outpost_sqlite_db_config_int(sqlite3 *db, int op, int value) {
    int out = 0;
    return sqlite3_db_config(db, op, value, &out);
}
#endif

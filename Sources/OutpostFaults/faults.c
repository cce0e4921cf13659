/*
 * Test harness only, never linked into noded: preloaded into a noded under test
 * (LD_PRELOAD=libOutpostFaults.so) to make its disk fail the way real disks do.
 *
 *   OUTPOST_FAULT_DIR     faults touch only files under this directory (the data directory)
 *   OUTPOST_FAULT_SWITCH  a file; while it exists, its first word says what fails:
 *                           enospc  every write fails with ENOSPC (a full disk: SQLITE_FULL)
 *                           eio     every write fails with EIO
 *                           fsync   fsync and fdatasync fail with EIO (writes succeed)
 *                         or, followed by a count N, only the Nth such call after the switch
 *                         file appeared fails (once): enospc-nth N, eio-nth N, fsync-nth N.
 *                         When it has failed, the library creates <switch>.fired, so a sweep
 *                         over N knows when N passed the last call.
 *
 * The switch is a file so that a test turns faults on and off while the node runs, and so that
 * the node itself can turn them on at a chosen moment (OUTPOST_TEST_FAULT=fill-disk-after-reservation).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "OutpostFaults.h"

enum { FAULT_NONE = 0, FAULT_ENOSPC, FAULT_EIO, FAULT_FSYNC };

/* The switch file read: its mode, and for an "-nth" mode the call to fail (0: every call). */
struct fault_switch { int mode; long nth; ino_t inode; };

static struct fault_switch read_switch(void) {
    struct fault_switch none = {FAULT_NONE, 0, 0};
    const char *path = getenv("OUTPOST_FAULT_SWITCH");
    if (path == NULL) return none;
    int fd = (int)syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return none;
    char word[48] = {0};
    ssize_t n = syscall(SYS_read, fd, word, sizeof word - 1);
    struct stat st;
    int statted = fstat(fd, &st);
    syscall(SYS_close, fd);
    if (n <= 0 || statted != 0) return none;
    struct fault_switch s = {FAULT_NONE, 0, st.st_ino};
    if (strncmp(word, "enospc", 6) == 0) s.mode = FAULT_ENOSPC;
    else if (strncmp(word, "eio", 3) == 0) s.mode = FAULT_EIO;
    else if (strncmp(word, "fsync", 5) == 0) s.mode = FAULT_FSYNC;
    const char *nth = strstr(word, "-nth ");
    if (nth != NULL) s.nth = strtol(nth + 5, NULL, 10);
    return s;
}

/* Calls of the switch's kind seen since the switch file (this inode) appeared. */
static ino_t counted_inode;
static long counted_calls;

/* Whether this call, of `kind`, fails: every one in a plain mode, the Nth in an "-nth" mode. */
static int fault_mode_for(int kind) {
    struct fault_switch s = read_switch();
    if (s.mode != kind) return FAULT_NONE;
    if (s.nth <= 0) return s.mode;
    if (s.inode != counted_inode) { counted_inode = s.inode; counted_calls = 0; }
    counted_calls += 1;
    if (counted_calls != s.nth) return FAULT_NONE;
    char fired[4096];
    snprintf(fired, sizeof fired, "%s.fired", getenv("OUTPOST_FAULT_SWITCH"));
    int fd = (int)syscall(SYS_open, fired, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) syscall(SYS_close, fd);
    return s.mode;
}

/* Whether fd is a file under OUTPOST_FAULT_DIR. */
static int under_fault_dir(int fd) {
    const char *dir = getenv("OUTPOST_FAULT_DIR");
    if (dir == NULL || *dir == 0) return 0;
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    size_t len = strlen(dir);
    return strncmp(target, dir, len) == 0 && (target[len] == '/' || target[len] == 0);
}

int outpost_faults_active(int fd, int kind) {
    return under_fault_dir(fd) ? fault_mode_for(kind) : FAULT_NONE;
}

#define REAL(name) static __typeof__(name) *real_##name; if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static int write_fault(int fd) {
    if (getenv("OUTPOST_FAULT_SWITCH") == NULL) return 0;
    if (outpost_faults_active(fd, FAULT_ENOSPC)) { errno = ENOSPC; return 1; }
    if (outpost_faults_active(fd, FAULT_EIO)) { errno = EIO; return 1; }
    return 0;
}

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write);
    if (fd > 2 && write_fault(fd)) return -1;
    return real_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    REAL(pwrite);
    if (write_fault(fd)) return -1;
    return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    REAL(pwrite64);
    if (write_fault(fd)) return -1;
    return real_pwrite64(fd, buf, count, offset);
}

int fsync(int fd) {
    REAL(fsync);
    if (outpost_faults_active(fd, FAULT_FSYNC)) { errno = EIO; return -1; }
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    if (outpost_faults_active(fd, FAULT_FSYNC)) { errno = EIO; return -1; }
    return real_fdatasync(fd);
}

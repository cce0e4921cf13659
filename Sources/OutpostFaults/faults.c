/*
 * Test harness only, never linked into noded: preloaded into a noded under test
 * (LD_PRELOAD=libOutpostFaults.so) to make its disk fail the way real disks do.
 *
 *   OUTPOST_FAULT_DIR     faults touch only files under this directory (the data directory)
 *   OUTPOST_FAULT_SWITCH  a file; while it exists, its first word says what fails:
 *                           enospc  every write fails with ENOSPC (a full disk: SQLITE_FULL)
 *                           eio     every write fails with EIO
 *                           fsync   fsync and fdatasync fail with EIO (writes succeed)
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
#include <sys/types.h>
#include <unistd.h>
#include "OutpostFaults.h"

enum { FAULT_NONE = 0, FAULT_ENOSPC, FAULT_EIO, FAULT_FSYNC };

static int fault_mode(void) {
    const char *path = getenv("OUTPOST_FAULT_SWITCH");
    if (path == NULL) return FAULT_NONE;
    int fd = (int)syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return FAULT_NONE;
    char word[16] = {0};
    ssize_t n = syscall(SYS_read, fd, word, sizeof word - 1);
    syscall(SYS_close, fd);
    if (n <= 0) return FAULT_NONE;
    if (strncmp(word, "enospc", 6) == 0) return FAULT_ENOSPC;
    if (strncmp(word, "eio", 3) == 0) return FAULT_EIO;
    if (strncmp(word, "fsync", 5) == 0) return FAULT_FSYNC;
    return FAULT_NONE;
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

int outpost_faults_active(int fd) {
    int mode = fault_mode();
    return mode != FAULT_NONE && under_fault_dir(fd) ? mode : FAULT_NONE;
}

#define REAL(name) static __typeof__(name) *real_##name; if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static int write_fault(int fd) {
    switch (outpost_faults_active(fd)) {
    case FAULT_ENOSPC: errno = ENOSPC; return 1;
    case FAULT_EIO: errno = EIO; return 1;
    default: return 0;
    }
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
    if (outpost_faults_active(fd) == FAULT_FSYNC) { errno = EIO; return -1; }
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    if (outpost_faults_active(fd) == FAULT_FSYNC) { errno = EIO; return -1; }
    return real_fdatasync(fd);
}

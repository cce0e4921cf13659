/* Test harness only: an LD_PRELOAD library that makes the disk fail on demand (faults.c). */
#ifndef OUTPOST_FAULTS_H
#define OUTPOST_FAULTS_H
int outpost_faults_active(int fd, int kind);
#endif

/* tk_process.h - other programs: finding them on $PATH and running them
 * with fork/exec (no shell), their output kept for messages and results. */
#ifndef TK_PROCESS_H
#define TK_PROCESS_H

#include "tk_common.h"

/* `name` on $PATH (as execvp would search it) into path; false when absent. */
bool tk_find_program(const char *name, char *path, size_t cap);

/* Runs argv (argv[0] the path to run) with stdin from /dev/null and stdout
 * and stderr into out (cut at cap - 1 bytes, NUL-terminated, trailing
 * newlines and spaces removed). Returns its exit status (0..255), or -1 with
 * err set when it could not be started or was killed by a signal. */
int tk_run_program(char *const argv[], char *out, size_t cap, tk_error *err);

#endif

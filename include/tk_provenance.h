/* tk_provenance.h - how a number was produced: the program, the BLAS library
 * and its kernels, the threads and the CPU.
 *
 * Provenance is never part of a run's configuration identity (config.json,
 * the hashed find configuration): a run resumed on another machine still
 * resumes. It is recorded beside the results instead:
 *   - a trainer run keeps its segments in provenance.json, one per stretch of
 *     iterations trained under one provenance (a resume under the same one
 *     extends the segment), and copies them into summary.json when it ends;
 *   - results.csv has one column per field (tk_provenance_field_names), the
 *     segments' distinct values joined by "; ";
 *   - report.md, `ticket regress` and `ticket bench` print the one-line form.
 * Every field is text, so that a merged value fits the same place. */
#ifndef TK_PROVENANCE_H
#define TK_PROVENANCE_H

#include "tk_common.h"

struct cJSON;

typedef enum tk_provenance_field {
    TK_PROV_VERSION,        /* `git describe --always --dirty` at build time, else TK_VERSION */
    TK_PROV_BLAS,           /* openblas_get_config() */
    TK_PROV_BLAS_CORE,      /* openblas_get_corename(): the kernels in use */
    TK_PROV_BLAS_CORETYPE,  /* $OPENBLAS_CORETYPE, "" when unset (the core was detected) */
    TK_PROV_BLAS_THREADS,   /* openblas_get_num_threads() */
    TK_PROV_ENGINE_THREADS, /* tk_parallel_lanes(): the engine's own lanes */
    TK_PROV_CPU,            /* /proc/cpuinfo's first "model name", "unknown" without one */
    TK_PROV_ISA,            /* the widest vector ISA the CPU has: "avx512f", "avx2", "x86-64", "unknown" */
    TK_PROV_GEMM,           /* the engine's matrix product, tk_gemm_kind_names: "blas" or "own" (TICKET_GEMM) */
    TK_PROV_FIELD_COUNT
} tk_provenance_field;
/* The JSON keys and results.csv columns: "ticket_version", "blas",
 * "blas_core", "blas_coretype", "blas_threads", "engine_threads", "cpu", "isa", "gemm". */
extern const char *const tk_provenance_field_names[]; /* [TK_PROV_FIELD_COUNT] */

enum { TK_PROVENANCE_TEXT = 256 };

typedef struct tk_provenance {
    char field[TK_PROV_FIELD_COUNT][TK_PROVENANCE_TEXT]; /* "" = not known */
} tk_provenance;

/* This process, now: call it after openblas_set_num_threads. */
void tk_provenance_collect(tk_provenance *p);
/* The version baked in at build time. */
const char *tk_provenance_version(void);

bool tk_provenance_known(const tk_provenance *p); /* any field set */
bool tk_provenance_equal(const tk_provenance *a, const tk_provenance *b);
/* Same matrix product: both the own one (TICKET_GEMM=own, the same bits on
 * every CPU), or the same BLAS build and kernels (blas and blas_core):
 * numbers from different kernels differ in their last bits. */
bool tk_provenance_same_kernel(const tk_provenance *a, const tk_provenance *b);
/* Adds b's values to a's: a field whose values differ becomes "x; y". */
void tk_provenance_merge(tk_provenance *a, const tk_provenance *b);

/* One line for people: "ticket V, BLAS (core C, OPENBLAS_CORETYPE=...),
 * N BLAS threads, M engine threads, CPU (ISA), gemm G". */
void tk_provenance_format(const tk_provenance *p, char *out, size_t cap);

/* A JSON object with every field (the thread counts as numbers when they are
 * one number); the caller owns it. Reading ignores other keys (a segment's
 * "from_iteration") and leaves absent fields "". */
struct cJSON *tk_provenance_to_json(const tk_provenance *p);
void tk_provenance_from_json(const struct cJSON *o, tk_provenance *p);

/* ---- a trainer run's segments (DIR/provenance.json) */

/* Records that the run in `path` (its provenance.json) trains from
 * `iteration` under `now`: segments that began at or after `iteration`
 * produced nothing that survives and are dropped; the last one is extended
 * when its provenance is `now`, else a new one begins. *changed (when not
 * NULL) says whether the run's earlier iterations were trained under another
 * provenance, and `before` (when not NULL) gets that provenance. */
int tk_provenance_note_segment(const char *path, int64_t iteration, const tk_provenance *now, bool *changed,
                               tk_provenance *before, tk_error *err);
/* The segments of provenance.json as a JSON array (objects with
 * "from_iteration" and the fields), or an empty array when there is none. */
struct cJSON *tk_provenance_read_segments(const char *path);

/* A finished run's provenance from its DIR/summary.json: every segment
 * merged. False (p all "") when the summary records none (a run from before
 * provenance was recorded). *segments gets their count when not NULL. */
bool tk_provenance_of_run(const char *run_dir, tk_provenance *p, int *segments);

#endif

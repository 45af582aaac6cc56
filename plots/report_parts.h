/* report_parts.h - what the report's files (report.c, mask_overlap.c,
 * report_markdown.c) share; private to plots/. */
#ifndef REPORT_PARTS_H
#define REPORT_PARTS_H

#include "tk_file.h"
#include "tk_provenance.h"
#include "tk_report.h"

#define TK_REPORT_DASH "\xe2\x80\x94" /* U+2014: a cell without a result */

/* The index of (dataset, optimizer) in keys[0..n), or -1. */
int report_find_key(const tk_report_key *keys, int n, const char *dataset, const char *optimizer);
/* Its index, appended when it is not there yet. */
int report_add_key(tk_report_key **keys, int *n, const char *dataset, const char *optimizer);
void report_sort_keys(tk_report_key *keys, int n);
/* Adds v to the set (*set, *n) when it is not there. */
void report_add_level(int **set, int *n, int v);
/* The levels (indices into dens[0..n)) nearest the matrix densities the
 * study names (or the default ones), ascending, malloc'd; *picked of them. */
int *report_pick_levels(const tk_report_input *in, const double *dens, int n, int *picked);
/* DIR/NAME holding b, written atomically. */
int report_write_file(const char *dir, const char *name, const tk_buf *b, tk_error *err);

/* Fills r's pairs and layer densities from r->in's masks (mask_overlap.c). */
int report_analyze_masks(tk_report *r, tk_error *err);
/* report.md (report_markdown.c); figures_error, when not NULL, is noted. */
int report_write_markdown(const tk_report *r, const tk_provenance *prov, const char *dir, const char *figures_error,
                          tk_error *err);

#endif

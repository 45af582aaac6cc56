/* ticket_file.c - reading and writing masks and tickets (formats in tk_ticket.h). */
#include "tk_ticket.h"

#include <stdlib.h>
#include <string.h>

#include "tk_checkpoint.h"
#include "tk_file.h"

static const char mask_magic[4] = {'T', 'K', 'M', 'K'}, ticket_magic[4] = {'T', 'K', 'T', 'K'};
enum { MASK_VERSION = 1, TICKET_VERSION = 1 };

static void put_bits(tk_buf *b, const uint8_t *mask, size_t n) {
    size_t bytes = (n + 7) / 8;
    uint8_t *packed = tk_calloc(bytes ? bytes : 1, 1);
    for (size_t i = 0; i < n; i++)
        if (mask[i]) packed[i / 8] |= (uint8_t)(1u << (i % 8));
    tk_buf_put(b, packed, bytes);
    free(packed);
}

static int get_bits(tk_reader *r, uint8_t *mask, size_t n, tk_error *err) {
    size_t bytes = (n + 7) / 8;
    uint8_t *packed = tk_malloc(bytes ? bytes : 1);
    int rc = tk_read(r, packed, bytes, "mask", err);
    for (size_t i = 0; rc == 0 && i < n; i++) mask[i] = (packed[i / 8] >> (i % 8)) & 1;
    free(packed);
    return rc;
}

int tk_mask_write(const char *path, const uint8_t *mask, size_t n, tk_error *err) {
    tk_buf b = {0};
    tk_buf_begin(&b, mask_magic, MASK_VERSION);
    tk_buf_u64(&b, n);
    put_bits(&b, mask, n);
    tk_buf_end(&b);
    int rc = tk_file_write_atomic(path, b.data, b.len, err);
    tk_buf_free(&b);
    return rc;
}

int tk_mask_read(const char *path, uint8_t *mask, size_t n, tk_error *err) {
    uint8_t *data;
    size_t len;
    if (tk_file_read_all(path, &data, &len, err)) return -1;
    tk_reader r;
    uint64_t stored = 0;
    int rc = tk_reader_begin(&r, data, len, path, mask_magic, MASK_VERSION, "mask", err);
    if (rc == 0) rc = tk_read_u64(&r, &stored, "mask length", err);
    if (rc == 0 && stored != n)
        rc = tk_fail(err, "%s holds a mask of %llu weights, the model has %zu prunable weights", path,
                     (unsigned long long)stored, n);
    if (rc == 0) rc = get_bits(&r, mask, n, err);
    if (rc == 0 && r.pos != r.len)
        rc = tk_fail(err, "%s: %zu unexpected bytes at offset %zu after the mask", path, r.len - r.pos, r.pos);
    free(data);
    return rc;
}

int tk_ticket_write(const char *path, const tk_model *m, float width, const float *weights, const char *provenance,
                    tk_error *err) {
    tk_buf b = {0};
    tk_buf_begin(&b, ticket_magic, TICKET_VERSION);
    tk_buf_str(&b, provenance);
    tk_put_model_id(&b, m, width);
    tk_buf_u32(&b, (uint32_t)m->n_param_tensors);
    /* Arena order, so that the weights below are one contiguous copy. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < m->n_param_tensors; i++) {
            const tk_param *p = &m->params[i];
            if (p->prunable != (pass == 0)) continue;
            tk_buf_str(&b, p->name);
            uint8_t prunable = p->prunable;
            tk_buf_put(&b, &prunable, 1);
            tk_buf_u32(&b, (uint32_t)p->ndim);
            for (int d = 0; d < p->ndim; d++) tk_buf_u32(&b, (uint32_t)p->shape[d]);
        }
    tk_buf_u64(&b, m->n_params);
    tk_buf_u64(&b, m->n_prunable);
    put_bits(&b, m->mask, m->n_prunable);
    tk_buf_put(&b, weights, m->n_params * sizeof(float));
    tk_buf_end(&b);
    int rc = tk_file_write_atomic(path, b.data, b.len, err);
    tk_buf_free(&b);
    return rc;
}

static int read_ticket(tk_reader *r, tk_model *m, float width, char **provenance, tk_error *err) {
    char *prov = tk_malloc(r->len + 1);
    char name[64];
    tk_model_config id;
    uint32_t count;
    int rc = tk_read_str(r, prov, r->len + 1, "provenance", err);
    if (rc == 0) rc = tk_read_model_id(r, &id, name, err);
    if (rc == 0 && !tk_model_matches(m, width, &id))
        rc = tk_fail(err, "%s is a ticket of %s (width %g, input %dx%dx%d, %d classes), not of %s (width %g, input "
                     "%dx%dx%d, %d classes); use a ticket found for this model and data shape",
                     r->path, name, id.width, id.input.C, id.input.H, id.input.W, id.classes, m->name, width,
                     m->input.C, m->input.H, m->input.W, m->classes);
    if (rc == 0) rc = tk_read_u32(r, &count, "tensor count", err);
    if (rc == 0 && (int)count != m->n_param_tensors)
        rc = tk_fail(err, "%s: %u tensors, model %s has %d", r->path, count, m->name, m->n_param_tensors);
    for (int pass = 0; rc == 0 && pass < 2; pass++)
        for (int i = 0; rc == 0 && i < m->n_param_tensors; i++) {
            const tk_param *p = &m->params[i];
            if (p->prunable != (pass == 0)) continue;
            char pname[64];
            uint8_t prunable;
            uint32_t ndim, dim;
            rc = tk_read_str(r, pname, sizeof pname, "tensor name", err);
            if (rc == 0) rc = tk_read(r, &prunable, 1, "prunable flag", err);
            if (rc == 0) rc = tk_read_u32(r, &ndim, "tensor rank", err);
            bool same = rc == 0 && !strcmp(pname, p->name) && prunable == p->prunable && (int)ndim == p->ndim;
            for (uint32_t d = 0; rc == 0 && d < ndim && d < 4; d++) {
                rc = tk_read_u32(r, &dim, "tensor shape", err);
                same = same && (int)dim == p->shape[d];
            }
            if (rc == 0 && !same)
                rc = tk_fail(err, "%s: tensor '%s' does not match %s's '%s' (name, shape or prunability differ)",
                             r->path, pname, m->name, p->name);
        }
    uint64_t n_params, n_prunable;
    if (rc == 0) rc = tk_read_u64(r, &n_params, "n_params", err);
    if (rc == 0) rc = tk_read_u64(r, &n_prunable, "n_prunable", err);
    if (rc == 0 && (n_params != m->n_params || n_prunable != m->n_prunable))
        rc = tk_fail(err, "%s: %llu parameters (%llu prunable), the model has %zu (%zu)", r->path,
                     (unsigned long long)n_params, (unsigned long long)n_prunable, m->n_params, m->n_prunable);
    if (rc == 0) rc = get_bits(r, m->mask, m->n_prunable, err);
    if (rc == 0) rc = tk_read(r, m->param, m->n_params * sizeof(float), "weights", err);
    if (rc == 0 && r->pos != r->len)
        rc = tk_fail(err, "%s: %zu unexpected bytes at offset %zu", r->path, r->len - r->pos, r->pos);
    if (rc == 0 && provenance) *provenance = prov;
    else free(prov);
    return rc;
}

int tk_ticket_model(const char *path, tk_model_config *cfg, char name[64], tk_error *err) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    tk_reader r;
    int rc = tk_reader_begin(&r, data, n, path, ticket_magic, TICKET_VERSION, "ticket", err);
    char *skip = tk_malloc(n + 1);
    if (rc == 0) rc = tk_read_str(&r, skip, n + 1, "provenance", err);
    if (rc == 0) rc = tk_read_model_id(&r, cfg, name, err);
    free(skip);
    free(data);
    return rc;
}

int tk_ticket_read(const char *path, tk_model *m, float width, char **provenance, tk_error *err) {
    uint8_t *data;
    size_t n;
    if (tk_file_read_all(path, &data, &n, err)) return -1;
    tk_reader r;
    int rc = tk_reader_begin(&r, data, n, path, ticket_magic, TICKET_VERSION, "ticket", err);
    if (rc == 0) rc = read_ticket(&r, m, width, provenance, err);
    free(data);
    return rc;
}

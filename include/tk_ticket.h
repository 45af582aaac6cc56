/* tk_ticket.h - tickets on disk: the mask file and the self-describing ticket file.
 *
 * Mask file (magic "TKMK", version 1): u64 n_prunable, then the mask
 * bit-packed (bit i is bit i%8, least significant first, of byte i/8),
 * then the CRC-32.
 *
 * Ticket file (magic "TKTK", version 1), usable alone by another program:
 *   str provenance (JSON: model, width, input, classes, level, density,
 *       rewind point, seed, source dataset, optimizer, the find
 *       configuration, program version)
 *   str model, f32 width, u32 C H W classes
 *   u32 tensors; per tensor: str name, u8 prunable, u32 ndim, u32 dims[ndim]
 *   u64 n_params, u64 n_prunable
 *   the mask, bit-packed as above, over the prunable weights in tensor order
 *   f32 weights[n_params] at the rewind point (pruned ones are 0), tensor order
 *   u32 CRC-32 of everything before it
 * Tensors are stored in the model's arena order (prunable tensors first) and
 * each tensor row-major in PyTorch's layout (conv [K,C,R,S], linear [out,in]). */
#ifndef TK_TICKET_H
#define TK_TICKET_H

#include "tk_model.h"

int tk_mask_write(const char *path, const uint8_t *mask, size_t n, tk_error *err);
int tk_mask_read(const char *path, uint8_t *mask, size_t n, tk_error *err);

/* Writes m's mask with `weights` (the rewind point) and the provenance JSON. */
int tk_ticket_write(const char *path, const tk_model *m, float width, const float *weights, const char *provenance,
                    tk_error *err);
/* The model a ticket file was found for: fills cfg's shape, classes and
 * width, and copies the model name into name[64] (cfg->name points to it). */
int tk_ticket_model(const char *path, tk_model_config *cfg, char name[64], tk_error *err);

/* Loads a ticket into m (its mask, and its weights into m->param), after
 * checking that the file describes the same model, shapes and width. With
 * `provenance` non-NULL, returns a malloc'd copy of the provenance JSON. */
int tk_ticket_read(const char *path, tk_model *m, float width, char **provenance, tk_error *err);

#endif

/* loss.c - softmax cross-entropy, the mean over the batch. */
#include <math.h>

#include "tk_common.h"
#include "tk_layers.h"

float tk_softmax_xent_forward(float *probs, int *correct, const float *logits, const int32_t *labels, int B,
                              int classes) {
    double total = 0.0;
    int hits = 0;
    for (int i = 0; i < B; i++) {
        const float *z = logits + (size_t)i * classes;
        float *pr = probs + (size_t)i * classes;
        TK_ASSERT(labels[i] >= 0 && labels[i] < classes);
        /* Subtracting the row maximum keeps exp() in range; its index is also the prediction. */
        int top = 0;
        for (int j = 1; j < classes; j++)
            if (z[j] > z[top]) top = j;
        double sum = 0.0;
        for (int j = 0; j < classes; j++) sum += exp((double)z[j] - z[top]);
        for (int j = 0; j < classes; j++) pr[j] = (float)(exp((double)z[j] - z[top]) / sum);
        /* -log softmax(z)[label] = log(sum) - (z[label] - max), exact even when the probability underflows. */
        total += log(sum) - ((double)z[labels[i]] - z[top]);
        hits += top == labels[i];
    }
    if (correct) *correct = hits;
    return (float)(total / B);
}

void tk_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels, int B, int classes) {
    if (!dlogits) return;
    const float inv_b = 1.0f / (float)B;
    for (int i = 0; i < B; i++) {
        float *d = dlogits + (size_t)i * classes;
        const float *pr = probs + (size_t)i * classes;
        for (int j = 0; j < classes; j++) d[j] += (pr[j] - (j == labels[i] ? 1.0f : 0.0f)) * inv_b;
    }
}

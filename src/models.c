/* models.c - the model registry: every architecture ticket can train.
 *
 * Each entry builds its graph for any input shape, class count and width
 * multiplier, and keeps beside it what the model gets when not told: its
 * input shape and its training (optimizer, learning rate, weight decay,
 * batch, epochs). Parameter names follow the PyTorch modules of the reference
 * implementations (OpenLTH; ../shared/bench/torch_ref.py) so that golden
 * tests and exported tickets line up name for name. */
#include "tk_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int scaled(int channels, float width) {
    int c = (int)lroundf((float)channels * width);
    return c < 1 ? 1 : c;
}

/* LeNet-300-100 (Frankle & Carbin 2019): the input is flattened whatever its shape. */
static int build_lenet_300_100(tk_model *m, float width) {
    int x = tk_add_relu(m, tk_add_linear(m, "fc1", 0, scaled(300, width), true, TK_INIT_GLOROT_NORMAL));
    x = tk_add_relu(m, tk_add_linear(m, "fc2", x, scaled(100, width), true, TK_INIT_GLOROT_NORMAL));
    return tk_add_linear(m, "fc3", x, m->classes, true, TK_INIT_GLOROT_NORMAL);
}

/* Conv-2/4/6 (Frankle & Carbin 2019): pairs of 3x3 convs (padding 1) with a
 * 2x2 max-pool after each pair, then fc 256, 256 and the output layer. Names
 * follow torch_ref.py's nn.Sequential indices (features.N, classifier.N). */
static int build_convnet(tk_model *m, float width, int pairs) {
    static const int channels[] = {64, 128, 256};
    int x = 0, index = 0;
    char name[32];
    for (int p = 0; p < pairs; p++) {
        for (int j = 0; j < 2; j++) {
            snprintf(name, sizeof name, "features.%d", index);
            x = tk_add_relu(m, tk_add_conv(m, name, x, scaled(channels[p], width), 3, 1, 1, true,
                                           TK_INIT_GLOROT_NORMAL));
            index += 2;
        }
        x = tk_add_maxpool(m, x, 2, 2);
        index += 1;
    }
    x = tk_add_relu(m, tk_add_linear(m, "classifier.0", x, scaled(256, width), true, TK_INIT_GLOROT_NORMAL));
    x = tk_add_relu(m, tk_add_linear(m, "classifier.2", x, scaled(256, width), true, TK_INIT_GLOROT_NORMAL));
    return tk_add_linear(m, "classifier.4", x, m->classes, true, TK_INIT_GLOROT_NORMAL);
}
static int build_conv2(tk_model *m, float width) { return build_convnet(m, width, 1); }
static int build_conv4(tk_model *m, float width) { return build_convnet(m, width, 2); }
static int build_conv6(tk_model *m, float width) { return build_convnet(m, width, 3); }

/* VGG for CIFAR with batch norm (OpenLTH cifar_vgg): conv3x3(bias)+BN+ReLU,
 * 0 in a plan is a 2x2 max-pool; then average pooling over what is left
 * (OpenLTH's AvgPool2d(2) on 32x32 inputs) and one linear layer. */
static int build_vgg(tk_model *m, float width, const int *plan, int n) {
    int x = 0;
    char name[32];
    /* Named by position in the plan, pools included, as OpenLTH's nn.Sequential does. */
    for (int i = 0; i < n; i++) {
        if (plan[i] == 0) {
            x = tk_add_maxpool(m, x, 2, 2);
            continue;
        }
        snprintf(name, sizeof name, "layers.%d.conv", i);
        x = tk_add_conv(m, name, x, scaled(plan[i], width), 3, 1, 1, true, TK_INIT_KAIMING_NORMAL_FAN_IN);
        snprintf(name, sizeof name, "layers.%d.bn", i);
        x = tk_add_relu(m, tk_add_batchnorm(m, name, x));
    }
    x = tk_add_avgpool(m, x, m->tensors[x].H < m->tensors[x].W ? m->tensors[x].H : m->tensors[x].W);
    return tk_add_linear(m, "fc", x, m->classes, true, TK_INIT_KAIMING_NORMAL_FAN_IN);
}
static const int vgg11_plan[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512};
static const int vgg16_plan[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512};
static const int vgg19_plan[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0,
                                 512, 512, 512, 512, 0, 512, 512, 512, 512};
static int build_vgg11(tk_model *m, float w) { return build_vgg(m, w, vgg11_plan, TK_ARRAY_LEN(vgg11_plan)); }
static int build_vgg16(tk_model *m, float w) { return build_vgg(m, w, vgg16_plan, TK_ARRAY_LEN(vgg16_plan)); }
static int build_vgg19(tk_model *m, float w) { return build_vgg(m, w, vgg19_plan, TK_ARRAY_LEN(vgg19_plan)); }

/* The basic residual block (He et al. 2016) as OpenLTH writes it: conv-BN-ReLU-
 * conv-BN, plus the input or a strided 1x1 conv + BN of it, then ReLU. */
static int residual_block(tk_model *m, const char *prefix, int x, int out_channels, int stride) {
    char name[64];
    snprintf(name, sizeof name, "%s.conv1", prefix);
    int y = tk_add_conv(m, name, x, out_channels, 3, stride, 1, false, TK_INIT_KAIMING_NORMAL_FAN_IN);
    snprintf(name, sizeof name, "%s.bn1", prefix);
    y = tk_add_relu(m, tk_add_batchnorm(m, name, y));
    snprintf(name, sizeof name, "%s.conv2", prefix);
    y = tk_add_conv(m, name, y, out_channels, 3, 1, 1, false, TK_INIT_KAIMING_NORMAL_FAN_IN);
    snprintf(name, sizeof name, "%s.bn2", prefix);
    y = tk_add_batchnorm(m, name, y);
    int shortcut = x;
    if (stride != 1 || m->tensors[x].C != out_channels) {
        snprintf(name, sizeof name, "%s.shortcut.0", prefix);
        shortcut = tk_add_conv(m, name, x, out_channels, 1, stride, 0, false, TK_INIT_KAIMING_NORMAL_FAN_IN);
        snprintf(name, sizeof name, "%s.shortcut.1", prefix);
        shortcut = tk_add_batchnorm(m, name, shortcut);
    }
    return tk_add_relu(m, tk_add_residual(m, y, shortcut));
}

/* ResNet-D for CIFAR (He et al. 2016; OpenLTH cifar_resnet_D): D = 6n+2,
 * three stages of n blocks at 16/32/64 channels, global average pooling. */
static int build_cifar_resnet(tk_model *m, float width, int depth) {
    int n = (depth - 2) / 6, x = 0, block = 0;
    int w0 = scaled(16, width);
    x = tk_add_relu(m, tk_add_batchnorm(m, "bn", tk_add_conv(m, "conv", 0, w0, 3, 1, 1, false,
                                                               TK_INIT_KAIMING_NORMAL_FAN_IN)));
    char prefix[32];
    for (int stage = 0; stage < 3; stage++)
        for (int b = 0; b < n; b++) {
            snprintf(prefix, sizeof prefix, "blocks.%d", block++);
            x = residual_block(m, prefix, x, w0 << stage, stage > 0 && b == 0 ? 2 : 1);
        }
    x = tk_add_avgpool(m, x, m->tensors[x].H);
    return tk_add_linear(m, "fc", x, m->classes, true, TK_INIT_KAIMING_NORMAL_FAN_IN);
}
static int build_resnet20(tk_model *m, float w) { return build_cifar_resnet(m, w, 20); }
static int build_resnet32(tk_model *m, float w) { return build_cifar_resnet(m, w, 32); }
static int build_resnet56(tk_model *m, float w) { return build_cifar_resnet(m, w, 56); }

/* ResNet-18 for 64x64 inputs (Tiny ImageNet, downsampled ImageNet): the
 * ImageNet network with a 3x3 stride-1 stem and no stem max-pool, the usual
 * adaptation for small images; stages of 2 blocks at 64/128/256/512. */
static int build_resnet18(tk_model *m, float width) {
    int w0 = scaled(64, width);
    int x = tk_add_relu(m, tk_add_batchnorm(m, "bn1", tk_add_conv(m, "conv1", 0, w0, 3, 1, 1, false,
                                                                   TK_INIT_KAIMING_NORMAL_FAN_OUT)));
    char prefix[32];
    for (int stage = 0; stage < 4; stage++)
        for (int b = 0; b < 2; b++) {
            snprintf(prefix, sizeof prefix, "layer%d.%d", stage + 1, b);
            x = residual_block(m, prefix, x, w0 << stage, stage > 0 && b == 0 ? 2 : 1);
        }
    x = tk_add_avgpool(m, x, m->tensors[x].H < m->tensors[x].W ? m->tensors[x].H : m->tensors[x].W);
    return tk_add_linear(m, "fc", x, m->classes, true, TK_INIT_KAIMING_NORMAL_FAN_IN);
}

/* Training defaults: Frankle & Carbin (2019) Table 1 for LeNet and Conv-x
 * (Adam; iterations at batch 60 rounded to epochs); OpenLTH's cifar defaults
 * for VGG and ResNet (SGD 0.1, momentum 0.9, multistep at 80 and 120 epochs
 * of 160: tk_train_defaults adds what every SGD run gets). */
#define ADAM(lr, epochs) {TK_OPTIM_ADAM, lr, 0, 60, epochs}
#define OPENLTH_SGD {TK_OPTIM_SGD, 0.1f, 1e-4f, 128, 160}

static const tk_model_entry registry[] = {
    {"lenet_300_100", "LeNet-300-100 MLP (Frankle & Carbin 2019)", {1, 28, 28}, build_lenet_300_100,
     ADAM(1.2e-3f, 20)},
    {"conv2", "Conv-2: 2x conv64, pool, fc 256-256 (Frankle & Carbin 2019)", {3, 32, 32}, build_conv2,
     ADAM(2e-4f, 20)},
    {"conv4", "Conv-4: conv64 x2, pool, conv128 x2, pool, fc 256-256", {3, 32, 32}, build_conv4, ADAM(3e-4f, 25)},
    {"conv6", "Conv-6: Conv-4 + conv256 x2, pool", {3, 32, 32}, build_conv6, ADAM(3e-4f, 30)},
    {"vgg11", "VGG-11 with batch norm, CIFAR variant (OpenLTH)", {3, 32, 32}, build_vgg11, OPENLTH_SGD},
    {"vgg16", "VGG-16 with batch norm, CIFAR variant (OpenLTH)", {3, 32, 32}, build_vgg16, OPENLTH_SGD},
    {"vgg19", "VGG-19 with batch norm, CIFAR variant (OpenLTH; Morcos et al. 2019)", {3, 32, 32}, build_vgg19,
     OPENLTH_SGD},
    {"resnet20", "ResNet-20 for CIFAR, 16/32/64 channels (He et al. 2016)", {3, 32, 32}, build_resnet20,
     OPENLTH_SGD},
    {"resnet32", "ResNet-32 for CIFAR", {3, 32, 32}, build_resnet32, OPENLTH_SGD},
    {"resnet56", "ResNet-56 for CIFAR", {3, 32, 32}, build_resnet56, OPENLTH_SGD},
    {"resnet18", "ResNet-18 for 64x64 inputs, 3x3 stem without max-pool", {3, 64, 64}, build_resnet18, OPENLTH_SGD},
};

const tk_model_entry *tk_model_registry(int *count) {
    *count = TK_ARRAY_LEN(registry);
    return registry;
}

const tk_model_entry *tk_model_find(const char *name) {
    for (int i = 0; i < TK_ARRAY_LEN(registry); i++)
        if (!strcmp(registry[i].name, name)) return &registry[i];
    return NULL;
}

const tk_model_entry *tk_model_lookup(const char *name, tk_error *err) {
    const tk_model_entry *entry = tk_model_find(name);
    if (!entry) {
        const char *names[TK_ARRAY_LEN(registry)];
        for (int i = 0; i < TK_ARRAY_LEN(registry); i++) names[i] = registry[i].name;
        int index;
        tk_parse_name("model", name, names, TK_ARRAY_LEN(registry), &index, err);
    }
    return entry;
}

tk_model *tk_model_create(const tk_model_config *cfg, tk_error *err) {
    const tk_model_entry *entry = tk_model_lookup(cfg->name, err);
    if (!entry) return NULL;
    if (cfg->classes < 2 || cfg->classes > TK_MODEL_MAX_CLASSES) {
        tk_fail(err, "model %s: %d classes; a classifier needs 2 to %d", cfg->name, cfg->classes,
                TK_MODEL_MAX_CLASSES);
        return NULL;
    }
    if (!(cfg->width > 0) || cfg->width > 64) {
        tk_fail(err, "model %s: width multiplier %g must be in (0, 64]", cfg->name, cfg->width);
        return NULL;
    }
    tk_shape input = cfg->input.C > 0 ? cfg->input : entry->default_input;
    tk_model *m = tk_model_begin(entry->name, input, cfg->classes);
    int output = entry->build(m, cfg->width);
    if (tk_model_finish(m, output, err) < 0) {
        tk_model_free(m);
        return NULL;
    }
    return m;
}

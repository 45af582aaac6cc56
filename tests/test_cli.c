/* test_cli.c - the ticket command as a user meets it: help and the model list,
 * then every kind of bad input, each of which must exit non-zero with a
 * message that names the problem and how to fix it. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_file.h"
#include "tk_model.h"

#include <sys/stat.h>
#include <unistd.h>

/* root/data: the tiny dataset; root/cwd: an empty working directory, so that
 * ./data is not the repository's; root/empty: a data directory without data;
 * env: the env(1) arguments that point TICKET_DATA at root/data. */
static char *root, *data, *cwd, *empty, *env;

/* The env(1) arguments that point TICKET_DATA at data_dir (unset it when NULL), malloc'd. */
static char *data_env(const char *data_dir) {
    char *env;
    if (!data_dir) return strdup("-u TICKET_DATA");
    if (asprintf(&env, "TICKET_DATA='%s'", data_dir) < 0) abort();
    return env;
}

/* Runs `ticket ARGS` from cwd with TICKET_DATA=data; returns the exit status
 * and the output in *out. */
static int ticket(const char *args, char **out) { return ticket_output(cwd, env, args, out); }

/* The same, checking the exit status and that the output holds every needle. */
#define EXPECT(args, status, ...) CHECK_TICKET(cwd, env, (args), (status), __VA_ARGS__)

/* A refused input: exit status 1 or 2 (not 0, not a crash) and every needle in the message. */
static void expect_error_in(const char *data_dir, const char *args, const char *a, const char *b, const char *c) {
    char *other = data_env(data_dir);
    CHECK_TICKET(cwd, other, args, 2, a, b, c);
    free(other);
}

static void expect_error(const char *args, const char *a, const char *b) { EXPECT(args, 2, a, b); }

/* Six iterations of a small LeNet on the 8x8 dataset: a complete run in well under a second. */
#define TRAIN "train --dataset mnist --width 0.25 --iterations 6 --batch 30 --threads 1 --checkpoint-every 3it --quiet"

/* ---- help */

static void test_help_lists_commands_and_options(void) {
    EXPECT("--help", 0, "usage: ticket COMMAND", "train", "bench", "models");
    EXPECT("", 2, "usage: ticket COMMAND"); /* no command: usage, but as an error */
    EXPECT("--version", 0, "ticket " TK_VERSION);

    char *out = NULL;
    CHECK(ticket("train --help", &out) == 0);
    static const char *const options[] = {
        "--model M",   "--dataset D",      "--optimizer",      "--lr X",     "--momentum X",   "--nesterov",
        "--weight-decay X", "--schedule",  "--milestones",     "--gamma X",  "--warmup T",     "--batch N",
        "--epochs N",  "--iterations N",   "--length T",       "--eval-every T", "--checkpoint-every T",
        "--val N",     "--width X",        "--seed N",         "--threads N", "--out DIR",     "--resume DIR",
        "--quiet",     "--help"};
    for (int i = 0; i < TK_ARRAY_LEN(options); i++) CHECK_CONTAINS(out, options[i]);
    CHECK_CONTAINS(out, "usage: ticket train --model M --dataset D");
    free(out);
}

static void test_models_lists_the_registry(void) {
    char *out = NULL;
    CHECK(ticket("models", &out) == 0);
    int count = 0;
    const tk_model_entry *entries = tk_model_registry(&count);
    CHECK(count >= 11);
    for (int i = 0; i < count; i++) {
        char row[64]; /* a row starts with the name, so "resnet2" cannot match "resnet20" */
        snprintf(row, sizeof row, "\n%s ", entries[i].name);
        CHECK_CONTAINS(out, row);
        CHECK_CONTAINS(out, entries[i].description);
    }
    CHECK_CONTAINS(out, "parameters");
    free(out);
    EXPECT("models --help", 0, "--input CxHxW");
    expect_error("models --input 3x32", "--input expects CxHxW", "got '3x32'");
}

/* ---- names */

static void test_unknown_names_suggest_the_nearest(void) {
    expect_error("trian", "unknown command 'trian'", "did you mean 'train'");
    expect_error("modles", "unknown command 'modles'", "did you mean 'models'");
    expect_error(TRAIN " --model lenet", "unknown model 'lenet'", "did you mean 'lenet_300_100'");
    expect_error(TRAIN " --model resnet21", "unknown model 'resnet21'", "did you mean 'resnet20'");
    expect_error(TRAIN " --model lenet_300_100 --optimizer adma", "unknown optimizer 'adma'", "did you mean 'adam'");
    expect_error(TRAIN " --model lenet_300_100 --schedule cosin", "unknown schedule 'cosin'",
                 "did you mean 'cosine'");
    expect_error(TRAIN " --model lenet_300_100 --epoch 3", "unknown option --epoch", "did you mean --epochs");
    expect_error(TRAIN " --model lenet_300_100 --chekpoint-every 2it", "unknown option --chekpoint-every",
                 "did you mean --checkpoint-every");
    expect_error("models --widht 2", "unknown option --widht", "did you mean --width");
    char *out_dir = path_in(root, "never");
    char *args;
    if (asprintf(&args, TRAIN " --model lenet_300_100 --dataset mnsit --out '%s'", out_dir) < 0) abort();
    expect_error(args, "unknown dataset \"mnsit\"", "did you mean \"mnist\"");
    free(args), free(out_dir);
}

/* ---- numbers and option syntax */

static void test_bad_values_name_the_option(void) {
    char *out_dir = path_in(root, "bad-values");
    char *args;
    if (asprintf(&args, TRAIN " --model lenet_300_100 --lr -0.1 --out '%s'", out_dir) < 0) abort();
    expect_error(args, "--lr must be a positive number", "got -0.1");
    CHECK(!tk_file_exists(out_dir)); /* refused before anything is written */
    free(args), free(out_dir);
    expect_error(TRAIN " --model lenet_300_100 --lr fast", "--lr expects a number", "got 'fast'");
    expect_error(TRAIN " --model lenet_300_100 --lr 1e999", "--lr expects a number", "got '1e999'");
    expect_error(TRAIN " --model lenet_300_100 --batch 0", "--batch must be in [1, 65536]", "got 0");
    expect_error(TRAIN " --model lenet_300_100 --batch 12x", "--batch expects a whole number", "got '12x'");
    expect_error(TRAIN " --model lenet_300_100 --momentum 1.5", "--momentum must be in [0, 1)", "got 1.5");
    expect_error(TRAIN " --model lenet_300_100 --seed -3", "--seed expects a non-negative whole number", "'-3'");
    expect_error(TRAIN " --model lenet_300_100 --threads 0", "--threads must be in [1, 256]", "got 0");
    expect_error(TRAIN " --model lenet_300_100 --checkpoint-every 3", "--checkpoint-every", "has no unit");
    expect_error(TRAIN " --model lenet_300_100 --eval-every 0it", "--eval-every must be at least 1it", NULL);
    expect_error(TRAIN " --model lenet_300_100 --warmup 1.5ep", "--warmup", "whole numbers");
    expect_error(TRAIN " --model lenet_300_100 --milestones 2ep,x", "--milestones", "invalid duration 'x'");
    expect_error(TRAIN " --model lenet_300_100 --epochs 2", "give only one of --epochs, --iterations and --length",
                 NULL);
    expect_error(TRAIN " --model lenet_300_100 --lr", "option --lr needs a value", NULL);
    expect_error(TRAIN " --model lenet_300_100 --quiet=yes", "option --quiet takes no value", NULL);
    expect_error(TRAIN " --model lenet_300_100 stray", "unexpected argument 'stray'", NULL);
    expect_error(TRAIN, "--model is required", "ticket models");
    expect_error("train --model lenet_300_100", "--dataset is required", NULL);
    expect_error("train --resume somewhere --lr 0.1", "--lr cannot be combined", "--resume");
}

/* Options that only the data can judge are refused when training starts. */
static void test_options_checked_against_the_data(void) {
    char *dir = path_in(root, "too-much"), *args;
    if (asprintf(&args, TRAIN " --model lenet_300_100 --val 600 --out '%s'", dir) < 0) abort();
    expect_error(args, "--val 600 leaves no training data", "600 examples");
    free(args);
    if (asprintf(&args, TRAIN " --model lenet_300_100 --batch 700 --out '%s-2'", dir) < 0) abort();
    expect_error(args, "--batch 700 is larger than the 600 training examples", NULL);
    free(args);
    /* Fixing the option and running again into the same --out must work: the
     * refused run trained nothing: config.json is written only after the
     * options have been checked against the data, so the retry is accepted. */
    if (asprintf(&args, TRAIN " --model lenet_300_100 --val 60 --out '%s'", dir) < 0) abort();
    char *out = NULL;
    CHECK(ticket(args, &out) == 0);
    CHECK_CONTAINS(out, "6 iterations");
    free(out), free(args), free(dir);
}

/* ---- data */

static void test_missing_dataset_lists_the_search(void) {
    if (tk_file_exists("/usr/share/datasets/mnist/train-images-idx3-ubyte.gz") ||
        tk_file_exists("/usr/share/datasets/mnist/train-images-idx3-ubyte")) {
        printf("  skipped: this machine has /usr/share/datasets/mnist, so mnist cannot be missing\n");
        return;
    }
    char *out_dir = path_in(root, "no-data"), *args, *searched;
    if (asprintf(&args, TRAIN " --model lenet_300_100 --out '%s'", out_dir) < 0 ||
        asprintf(&searched, "\n  %s/mnist ($TICKET_DATA)", empty) < 0)
        abort();
    expect_error_in(empty, args, "dataset mnist (train split) not found",
                    "looked for train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz)", searched);
    expect_error_in(empty, args, "\n  ./data/mnist", "\n  /usr/share/datasets/mnist", "\nto get it: ");
    expect_error_in(NULL, args, "$TICKET_DATA is not set", "\n  ./data/mnist", "to get it: ");

    /* Half a dataset: the message says which file is there and which is not. */
    char *half = path_in(root, "half"), *folder = path_in(half, "mnist");
    CHECK(mkdir(half, 0755) == 0 && mkdir(folder, 0755) == 0);
    char *img = path_in(folder, "train-images-idx3-ubyte");
    write_file(img, "x", 1);
    expect_error_in(half, args, "(has ", img, "but not train-labels-idx1-ubyte(.gz))");
    free(img), free(folder), free(half);
    free(searched), free(args), free(out_dir);
}

/* A copy of the tiny dataset in root/NAME whose train image file is replaced
 * by its first `keep` bytes, with the 4 bytes at offset 0 set to `magic`
 * (when magic is non-zero). Returns the data dir and, in *file, the image file. */
static char *damaged_dataset(const char *name, size_t keep, uint32_t magic, char **file) {
    char *dir = path_in(root, name);
    CHECK(mkdir(dir, 0755) == 0);
    write_idx_dataset(dir, 600, 200, 8, 8, 10, 7);
    char *folder = path_in(dir, "mnist");
    *file = path_in(folder, "train-images-idx3-ubyte");
    size_t n = 0;
    char *bytes = read_whole_file(*file, &n);
    CHECK(bytes && n == 16 + 600 * 64);
    if (magic) bytes[0] = (char)(magic >> 24), bytes[1] = (char)(magic >> 16), bytes[2] = (char)(magic >> 8),
               bytes[3] = (char)magic;
    write_file(*file, bytes, keep < n ? keep : n);
    free(bytes), free(folder);
    return dir;
}

static void test_damaged_idx_files(void) {
    char *out_dir = path_in(root, "idx-run"), *args, *file;
    if (asprintf(&args, TRAIN " --model lenet_300_100 --out '%s'", out_dir) < 0) abort();
    char *dir = damaged_dataset("bad-magic", SIZE_MAX, 0x00000804, &file);
    expect_error_in(dir, args, file, "expected 0x00000803 for an IDX image file, found 0x00000804", NULL);
    free(dir), free(file);
    dir = damaged_dataset("swapped", SIZE_MAX, 0x00000801, &file);
    expect_error_in(dir, args, "found 0x00000801", "are the image and label paths swapped?", NULL);
    free(dir), free(file);
    dir = damaged_dataset("truncated", 16 + 600 * 64 - 100, 0, &file);
    expect_error_in(dir, args, file, "truncated", "fetch it again");
    expect_error_in(dir, args, "600x8x8", "found 38300", NULL);
    free(dir), free(file);
    dir = damaged_dataset("short-header", 10, 0, &file);
    expect_error_in(dir, args, "truncated", "header is 16 bytes", NULL);
    free(dir), free(file);
    free(args), free(out_dir);
}

/* ---- run directories and checkpoints */

/* Trains `model` into root/NAME and returns the directory. */
static char *trained_run(const char *name, const char *model) {
    char *dir = path_in(root, name), *args, *out = NULL;
    if (asprintf(&args, TRAIN " --model %s --out '%s'", model, dir) < 0) abort();
    int status = ticket(args, &out);
    if (status) printf("  `ticket %s` failed (%d): %s\n", args, status, out);
    CHECK(status == 0);
    free(out), free(args);
    return dir;
}

/* A finished run made to look unfinished (as if killed just before the
 * end), so that resuming it has to read the checkpoint. */
static char *unfinished_run(const char *name) {
    char *dir = trained_run(name, "lenet_300_100");
    char *summary = path_in(dir, "summary.json");
    CHECK(unlink(summary) == 0);
    free(summary);
    return dir;
}

static void expect_resume_error(const char *dir, const char *a, const char *b) {
    char *args;
    if (asprintf(&args, "train --resume '%s'", dir) < 0) abort();
    expect_error(args, a, b);
    free(args);
}

/* Replaces dir/checkpoint by its bytes changed by `damage`; returns the path. */
static char *rewrite_checkpoint(const char *dir, void (*damage)(char *bytes, size_t *n)) {
    char *path = path_in(dir, "checkpoint");
    size_t n = 0;
    char *bytes = read_whole_file(path, &n);
    CHECK(bytes && n > 100);
    damage(bytes, &n);
    write_file(path, bytes, n);
    free(bytes);
    return path;
}
static void flip_middle_byte(char *bytes, size_t *n) { bytes[*n / 2] ^= 0x10; }
static void cut_in_half(char *bytes, size_t *n) {
    (void)bytes;
    *n /= 2;
}
static void not_a_checkpoint(char *bytes, size_t *n) { *n = (size_t)sprintf(bytes, "PK\3\4 a zip file"); }

static void test_run_directory_mismatches(void) {
    /* The same --out with another model: the directory's config.json differs. */
    char *lenet = trained_run("lenet", "lenet_300_100");
    char *args;
    if (asprintf(&args, TRAIN " --model conv2 --out '%s'", lenet) < 0) abort();
    expect_error(args, "holds a run with other hyper-parameters", "ticket train --resume");
    free(args);
    /* The same config again is the same run: finished, so it only reports. */
    char *out = NULL;
    if (asprintf(&args, TRAIN " --model lenet_300_100 --out '%s'", lenet) < 0) abort();
    CHECK(ticket(args, &out) == 0);
    CHECK_CONTAINS(out, "6 iterations, final accuracy");
    free(out), free(args);

    /* A conv2 checkpoint copied over an unfinished lenet run. */
    char *conv2 = trained_run("conv2", "conv2");
    char *victim = unfinished_run("foreign");
    char *from = path_in(conv2, "checkpoint"), *to = path_in(victim, "checkpoint");
    size_t n = 0;
    char *bytes = read_whole_file(from, &n);
    CHECK(bytes != NULL);
    write_file(to, bytes, n);
    expect_resume_error(victim, "is a checkpoint of model conv2", "this run trains lenet_300_100");
    size_t after_n = 0;
    char *after = read_whole_file(to, &after_n);
    CHECK(after && after_n == n && !memcmp(after, bytes, n)); /* a refused resume leaves the file alone */
    free(after), free(bytes), free(from), free(to);
    free(victim), free(conv2), free(lenet);
}

static void test_damaged_checkpoints(void) {
    char *dir = unfinished_run("flipped");
    char *path = rewrite_checkpoint(dir, flip_middle_byte);
    expect_resume_error(dir, path, "checksum mismatch");
    free(path), free(dir);

    dir = unfinished_run("cut");
    path = rewrite_checkpoint(dir, cut_in_half);
    expect_resume_error(dir, path, "checksum mismatch");
    free(path), free(dir);

    dir = unfinished_run("zip");
    path = rewrite_checkpoint(dir, not_a_checkpoint);
    expect_resume_error(dir, "is not a checkpoint file", "expected \"TKCK\"");
    free(path), free(dir);

    /* Undamaged, the same kind of directory resumes and finishes. */
    dir = unfinished_run("intact");
    char *args, *out = NULL;
    if (asprintf(&args, "train --resume '%s'", dir) < 0) abort();
    CHECK(ticket(args, &out) == 0);
    CHECK_CONTAINS(out, "6 iterations");
    free(out), free(args), free(dir);
}

static void test_resume_needs_a_run_directory(void) {
    expect_resume_error(empty, "is not a run directory (no config.json)", "ticket train --model M --dataset D");
    char *nowhere = path_in(root, "does-not-exist");
    expect_resume_error(nowhere, nowhere, "is not a run directory");
    free(nowhere);

    char *dir = path_in(root, "bad-config"), *config = path_in(dir, "config.json");
    CHECK(mkdir(dir, 0755) == 0);
    static const char typo[] = "{\"model\": \"lenet_300_100\", \"dataset\": \"mnist\", \"batchsize\": 30}\n";
    write_file(config, typo, sizeof typo - 1);
    expect_resume_error(dir, "unknown key 'batchsize'", "did you mean 'batch'");
    write_file(config, "{\"model\": ", 10);
    expect_resume_error(dir, config, "not valid JSON");
    free(config), free(dir);
}

/* The run-store and study commands name what is missing and how to make it. */
static void test_store_commands_refuse_bad_input(void) {
    char *args;
    if (asprintf(&args, "report '%s'", empty) < 0) abort();
    expect_error(args, "is not a study directory", "ticket study run");
    free(args);
    if (asprintf(&args, "runs --root '%s/none'", empty) < 0) abort();
    expect_error(args, "no runs yet", "--root");
    free(args);
    if (asprintf(&args, "show 0123456789abcdef --root '%s'", empty) < 0) abort();
    expect_error(args, "0123456789abcdef/find.json", "cannot open");
    free(args);
    expect_error("export 0123456789abcdef", "give a run and --level", "L >= 0");
    expect_error("study plan", "usage", "STUDY.json");
}

int main(void) {
    if (!ticket_bin()) {
        printf("FAIL ticket_bin\n");
        return 1;
    }
    root = test_tmpdir("cli");
    data = path_in(root, "data");
    cwd = path_in(root, "cwd");
    empty = path_in(root, "empty");
    env = data_env(data);
    if (mkdir(data, 0755) || mkdir(cwd, 0755) || mkdir(empty, 0755)) return 1;
    write_idx_dataset(data, 600, 200, 8, 8, 10, 7);
    RUN(test_help_lists_commands_and_options);
    RUN(test_models_lists_the_registry);
    RUN(test_unknown_names_suggest_the_nearest);
    RUN(test_bad_values_name_the_option);
    RUN(test_options_checked_against_the_data);
    RUN(test_missing_dataset_lists_the_search);
    RUN(test_damaged_idx_files);
    RUN(test_run_directory_mismatches);
    RUN(test_damaged_checkpoints);
    RUN(test_resume_needs_a_run_directory);
    RUN(test_store_commands_refuse_bad_input);
    rm_rf(root);
    free(data), free(cwd), free(empty), free(env), free(root);
    CHECK_MAIN_END();
}

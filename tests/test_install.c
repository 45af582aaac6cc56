/* test_install.c - `make install PREFIX=P` gives a ticket that finds its
 * catalog, plots, registry and study specifications under P, wherever P is;
 * a copy of the executable with none of them around says how to fix that. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_file.h"

#include <sys/stat.h>
#include <unistd.h>

/* Without the variables that would point ticket at the source tree. */
#define NO_OVERRIDES "-u TICKET_CATALOG -u TICKET_PLOTS -u TICKET_REGISTRY"

static char *root;

static void test_installed_copy_finds_its_files(void) {
    char *prefix = path_in(root, "prefix"), *cmd, *out = NULL;
    /* The test runs inside `make test`: the inner make must not join its jobserver. */
    if (asprintf(&cmd, "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory install PREFIX='%s' "
                       "TICKET_EXE='%s'",
                 prefix, ticket_bin()) < 0)
        abort();
    int status = run_capture(cmd, &out);
    if (status) printf("  %s exited with %d:\n%s\n", cmd, status, out);
    CHECK(status == 0);
    const char *installed[] = {"bin/ticket", "share/ticket/catalog/fashion-mnist.json",
                               "share/ticket/plots/accuracy_vs_density.gp", "share/ticket/registry/ticket-quick.json",
                               "share/ticket/studies/quick.json"};
    for (int i = 0; i < TK_ARRAY_LEN(installed); i++) {
        char *p = path_in(prefix, installed[i]);
        if (!tk_file_exists(p)) printf("  not installed: %s\n", p);
        CHECK(tk_file_exists(p));
        free(p);
    }
    free(cmd), free(out);

    /* Planning needs the catalog (shapes and sizes): from an unrelated folder. */
    if (asprintf(&cmd, "cd '%s' && env %s '%s/bin/ticket' study plan '%s/share/ticket/studies/quick.json'", root,
                 NO_OVERRIDES, prefix, prefix) < 0)
        abort();
    status = run_capture(cmd, &out);
    if (status) printf("  %s exited with %d:\n%s\n", cmd, status, out);
    CHECK(status == 0);
    CHECK_CONTAINS(out, "22 jobs");
    free(cmd), free(out), free(prefix);
}

static void test_lonely_copy_says_how_to_fix(void) {
    char *lonely = path_in(root, "lonely"), *cmd, *out = NULL;
    if (mkdir(lonely, 0755) ||
        asprintf(&cmd, "cp '%s' '%s/ticket' && cd '%s' && env %s ./ticket data list", ticket_bin(), lonely, lonely,
                 NO_OVERRIDES) < 0)
        abort();
    int status = run_capture(cmd, &out);
    CHECK(status == 1 || status == 2);
    CHECK_CONTAINS(out, "no dataset catalog found");
    CHECK_CONTAINS(out, "share/ticket/catalog");
    CHECK_CONTAINS(out, "make install PREFIX=");
    free(cmd), free(out), free(lonely);
}

int main(void) {
    root = test_tmpdir("install");
    RUN(test_installed_copy_finds_its_files);
    RUN(test_lonely_copy_says_how_to_fix);
    rm_rf(root);
    free(root);
    CHECK_MAIN_END();
}

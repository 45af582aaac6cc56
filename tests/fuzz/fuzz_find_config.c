/* fuzz_find_config.c - the find specification (tk_find_config_from_json): an
 * accepted and valid specification's canonical find.json, stored under its
 * hash, reopens (tk_find_open) with the same canonical form and hash. */
#include "fuzz_support.h"
#include "tk_find.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char *text = fuzz_text(data, n);
    tk_find_config c, again;
    tk_error err = {0};
    fuzz_dir();
    if (tk_find_config_from_json(text, "find.json", &c, &err) == 0 && tk_find_config_validate(&c, &err) == 0) {
        char *json = tk_find_canonical_json(&c), hash[17], hash2[17];
        tk_find_hash(&c, hash);
        char name[64];
        snprintf(name, sizeof name, "%s/find.json", hash);
        fuzz_write(name, json, strlen(json));
        FUZZ_CHECK(tk_find_open(fuzz_path(hash), &again, &err) == 0, "accepted, but its find.json is refused: %s\n%s",
                   err.msg, json);
        char *json2 = tk_find_canonical_json(&again);
        tk_find_hash(&again, hash2);
        FUZZ_CHECK(!strcmp(json, json2) && !strcmp(hash, hash2), "find.json changed on a round trip:\n%s\n%s", json,
                   json2);
        free(json2);
        free(json);
    }
    free(text);
    return 0;
}

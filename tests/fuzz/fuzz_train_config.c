/* fuzz_train_config.c - config.json (tk_train_config_from_json): an accepted
 * configuration is written by tk_train_config_to_json to text that is
 * accepted again and written the same. */
#include "fuzz_support.h"
#include "tk_train.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char *text = fuzz_text(data, n);
    tk_train_config c, again;
    tk_error err = {0};
    if (tk_train_config_from_json(text, "config.json", &c, &err) == 0) {
        char *json = tk_train_config_to_json(&c);
        FUZZ_CHECK(tk_train_config_from_json(json, "config.json", &again, &err) == 0,
                   "accepted, but its config.json is refused: %s\n%s", err.msg, json);
        char *json2 = tk_train_config_to_json(&again);
        FUZZ_CHECK(!strcmp(json, json2), "config.json changed on a round trip:\n%s\n%s", json, json2);
        free(json2);
        free(json);
    }
    free(text);
    return 0;
}

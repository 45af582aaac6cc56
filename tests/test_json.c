/* test_json.c - base/json.c: keys checked against a list, typed getters,
 * problems collected; every message in its one form, exactly. */
#include "check.h"
#include "tk_json.h"

static const char *const keys[] = {"rate", "levels", "strategy", "exclude"};

/* Parses text (a test's own JSON: it must parse). */
static cJSON *parse(const char *text) {
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        printf("  test bug: not JSON: %s\nFAIL parse\n", text);
        exit(1);
    }
    return j;
}

#define CHECK_MSG(err, want)                                                                      \
    do {                                                                                          \
        if (strcmp((err).msg, (want))) printf("  expected: %s\n  got:      %s\n", (want), (err).msg); \
        CHECK(!strcmp((err).msg, (want)));                                                        \
    } while (0)

static void test_paths(void) {
    tk_json_at root = tk_json_root("spec.json");
    tk_json_at p = tk_json_key(&root, "pruning");
    tk_json_at r = tk_json_key(&p, "rates");
    tk_json_at e = tk_json_index(&p, 2);
    tk_json_at ee = tk_json_key(&e, "size");
    CHECK(!strcmp(root.path, "") && !strcmp(p.path, "pruning") && !strcmp(r.path, "pruning.rates"));
    CHECK(!strcmp(e.path, "pruning[2]") && !strcmp(ee.path, "pruning[2].size"));
    CHECK(!strcmp(ee.source, "spec.json") && !ee.null_is_absent);
}

static void test_unknown_and_repeated_keys(void) {
    tk_json_at root = tk_json_root("spec.json"), at = tk_json_key(&root, "pruning");
    tk_error err = {0};
    cJSON *ok = parse("{\"rate\": 0.2, \"levels\": 3}");
    CHECK(tk_json_check_keys(&at, ok, keys, TK_ARRAY_LEN(keys), &err) == 0);
    cJSON *near = parse("{\"rate\": 0.2, \"lvels\": 3}");
    CHECK(tk_json_check_keys(&at, near, keys, TK_ARRAY_LEN(keys), &err) == -1);
    CHECK_MSG(err, "spec.json: unknown key 'pruning.lvels' (did you mean 'levels'? valid: rate, levels, strategy, "
                   "exclude)");
    CHECK(err.kind == TK_ERR_INPUT);
    cJSON *far = parse("{\"zzzzzzzz\": 1}");
    CHECK(tk_json_check_keys(&root, far, keys, TK_ARRAY_LEN(keys), &err) == -1);
    CHECK_MSG(err, "spec.json: unknown key 'zzzzzzzz' (valid: rate, levels, strategy, exclude)");
    cJSON *twice = parse("{\"rate\": 0.2, \"levels\": 3, \"rate\": 0.3}");
    CHECK(tk_json_check_keys(&at, twice, keys, TK_ARRAY_LEN(keys), &err) == -1);
    CHECK_MSG(err, "spec.json: key 'pruning.rate' is given more than once; keep one");
    /* The same form as a name refused by tk_parse_name. */
    int i;
    CHECK(tk_parse_name("optimizer", "adma", (const char *const[]){"sgd", "adam"}, 2, &i, &err) == -1);
    CHECK_MSG(err, "unknown optimizer 'adma' (did you mean 'adam'? valid: sgd, adam)");
    cJSON_Delete(ok), cJSON_Delete(near), cJSON_Delete(far), cJSON_Delete(twice);
}

static void test_numbers(void) {
    tk_json_at at = tk_json_root("c.json");
    tk_error err = {0};
    cJSON *o = parse("{\"a\": 7, \"b\": 2.5, \"c\": 1e300, \"d\": \"7\", \"e\": -3, \"f\": 1e999, \"g\": 1e39}");
    int n = 0;
    int64_t big = 0;
    CHECK(tk_json_int(&at, o, "a", NULL, 0, 10, &n, &err) == 1 && n == 7);
    CHECK(tk_json_int(&at, o, "absent", NULL, 0, 10, &n, &err) == 0 && n == 7);
    CHECK(tk_json_int(&at, o, "b", NULL, 0, 10, &n, &err) == -1);
    CHECK_MSG(err, "c.json: key 'b' must be a whole number in [0, 10], not 2.5");
    /* Out of any integer type's range: refused before a cast could be undefined. */
    CHECK(tk_json_int64(&at, o, "c", NULL, 0, INT64_C(1) << 50, &big, &err) == -1);
    CHECK_MSG(err, "c.json: key 'c' must be a whole number in [0, 1125899906842624], not 1e+300");
    CHECK(tk_json_int(&at, o, "d", NULL, 0, 10, &n, &err) == -1);
    CHECK_MSG(err, "c.json: key 'd' must be a whole number in [0, 10], not \"7\"");
    CHECK(tk_json_int(&at, o, "e", NULL, 0, 10, &n, &err) == -1);
    CHECK_MSG(err, "c.json: key 'e' must be a whole number in [0, 10], not -3");
    CHECK(tk_json_int(&at, o, "absent", "the number of classes", 0, 10, &n, &err) == -1);
    CHECK_MSG(err, "c.json: missing required key 'absent' (the number of classes)");

    double d = 0;
    float f = 0;
    CHECK(tk_json_double(&at, o, "b", NULL, &d, &err) == 1 && d == 2.5);
    CHECK(tk_json_double(&at, o, "f", NULL, &d, &err) == -1); /* cJSON reads 1e999 as infinity */
    CHECK_MSG(err, "c.json: key 'f' must be a finite number, not inf");
    CHECK(tk_json_float(&at, o, "c", NULL, &f, &err) == -1);
    CHECK_MSG(err, "c.json: key 'c' must be a number of magnitude at most 3.40282e+38, not 1e+300");
    CHECK(tk_json_float(&at, o, "g", NULL, &f, &err) == -1);
    CHECK(tk_json_float(&at, o, "d", NULL, &f, &err) == -1);
    CHECK_MSG(err, "c.json: key 'd' must be a number, not \"7\"");
    CHECK(tk_json_float(&at, o, "b", NULL, &f, &err) == 1 && f == 2.5f);
    cJSON_Delete(o);
}

static void test_bool_string_name(void) {
    tk_json_at at = tk_json_root("c.json");
    tk_error err = {0};
    cJSON *o = parse("{\"t\": true, \"one\": 1, \"s\": \"hello\", \"empty\": \"\", \"opt\": \"adma\", \"n\": null}");
    bool b = false;
    CHECK(tk_json_bool(&at, o, "t", NULL, &b, &err) == 1 && b);
    CHECK(tk_json_bool(&at, o, "one", NULL, &b, &err) == -1);
    CHECK_MSG(err, "c.json: key 'one' must be true or false, not 1");
    /* null is a value of the wrong type, unless the file says it stands for absent. */
    CHECK(tk_json_bool(&at, o, "n", NULL, &b, &err) == -1);
    CHECK_MSG(err, "c.json: key 'n' must be true or false, not null");
    tk_json_at lenient = at;
    lenient.null_is_absent = true;
    CHECK(tk_json_bool(&lenient, o, "n", NULL, &b, &err) == 0);
    CHECK(tk_json_bool(&lenient, o, "n", "whether to", &b, &err) == -1);
    CHECK_MSG(err, "c.json: key 'n' must be true or false, not null");

    char s[6];
    CHECK(tk_json_string(&at, o, "s", "a word", s, sizeof s, &err) == 1 && !strcmp(s, "hello"));
    char small[4];
    CHECK(tk_json_string(&at, o, "s", NULL, small, sizeof small, &err) == -1);
    CHECK_MSG(err, "c.json: key 's' must be at most 3 characters long, not 5");
    CHECK(tk_json_string(&at, o, "empty", NULL, s, sizeof s, &err) == 1 && !strcmp(s, ""));
    CHECK(tk_json_string(&at, o, "empty", "a word", s, sizeof s, &err) == -1);
    CHECK_MSG(err, "c.json: key 'empty' must be a non-empty string, not \"\"");
    CHECK(tk_json_string(&at, o, "one", NULL, s, sizeof s, &err) == -1);
    CHECK_MSG(err, "c.json: key 'one' must be a string, not 1");

    static const char *const names[] = {"sgd", "adam", "adamw"};
    int i = -1;
    CHECK(tk_json_name(&at, o, "opt", NULL, "optimizer", names, 3, &i, &err) == -1 && i == -1);
    CHECK_MSG(err, "c.json: key 'opt': unknown optimizer 'adma' (did you mean 'adam'? valid: sgd, adam, adamw)");
    cJSON *good = parse("[\"adamw\"]");
    tk_json_at first = tk_json_index(&at, 0);
    CHECK(tk_json_name(&first, good->child, NULL, NULL, "optimizer", names, 3, &i, &err) == 1 && i == 2);
    cJSON_Delete(o), cJSON_Delete(good);
}

static void test_duration_array_object(void) {
    tk_json_at at = tk_json_root("c.json");
    tk_error err = {0};
    cJSON *o = parse("{\"len\": \"2ep10it\", \"bad\": \"2 epochs\", \"num\": 20, \"arr\": [1, 2, 3], \"obj\": {}}");
    tk_duration d = {0, 0};
    CHECK(tk_json_duration(&at, o, "len", NULL, &d, &err) == 1 && d.epochs == 2 && d.iterations == 10);
    CHECK(tk_json_duration(&at, o, "num", NULL, &d, &err) == -1);
    CHECK_MSG(err, "c.json: key 'num' must be a duration such as \"20ep\", \"500it\" or \"2ep10it\", not 20");
    CHECK(tk_json_duration(&at, o, "bad", NULL, &d, &err) == -1);
    CHECK(!strncmp(err.msg, "c.json: key 'bad': ", 19));
    const cJSON *a = NULL;
    CHECK(tk_json_array(&at, o, "arr", NULL, 3, &a, &err) == 1 && cJSON_GetArraySize(a) == 3);
    CHECK(tk_json_array(&at, o, "arr", NULL, 2, &a, &err) == -1);
    CHECK_MSG(err, "c.json: key 'arr' must be an array of at most 2 elements, not one of 3");
    CHECK(tk_json_array(&at, o, "obj", NULL, 2, &a, &err) == -1);
    CHECK_MSG(err, "c.json: key 'obj' must be an array of at most 2 elements, not an object");
    CHECK(tk_json_object(&at, o, "obj", NULL, &a, &err) == 1);
    CHECK(tk_json_object(&at, o, "arr", NULL, &a, &err) == -1);
    CHECK_MSG(err, "c.json: key 'arr' must be an object, not an array");
    /* An element read through key NULL, named by its index. */
    tk_json_at arr = tk_json_key(&at, "arr"), second = tk_json_index(&arr, 1);
    int n;
    CHECK(tk_json_int(&second, cJSON_GetArrayItem(cJSON_GetObjectItem(o, "arr"), 1), NULL, NULL, 0, 1, &n, &err) == -1);
    CHECK_MSG(err, "c.json: key 'arr[1]' must be a whole number in [0, 1], not 2");
    cJSON_Delete(o);
}

static void test_problems(void) {
    tk_json_at at = tk_json_root("s.json");
    tk_json_problems p = {"", 0};
    tk_error err = {0};
    CHECK(tk_json_problems_fail(&p, NULL, &err) == 0);
    cJSON *o = parse("{\"rat\": 1, \"levels\": \"3\", \"exclud\": []}");
    CHECK(tk_json_note_keys(&p, &at, o, keys, TK_ARRAY_LEN(keys)) == 2);
    int n;
    tk_error one;
    if (tk_json_int(&at, o, "levels", NULL, 0, 100, &n, &one) < 0) tk_json_note(&p, &one);
    CHECK(p.count == 3);
    CHECK(tk_json_problems_fail(&p, "in the study specification", &err) == -1);
    CHECK_MSG(err, "3 problems in the study specification:\n"
                   "  s.json: unknown key 'rat' (did you mean 'rate'? valid: rate, levels, strategy, exclude)\n"
                   "  s.json: unknown key 'exclud' (did you mean 'exclude'? valid: rate, levels, strategy, exclude)\n"
                   "  s.json: key 'levels' must be a whole number in [0, 100], not \"3\"");
    tk_json_problems single = {"", 0};
    tk_json_note(&single, &one);
    CHECK(tk_json_problems_fail(&single, NULL, &err) == -1);
    CHECK_MSG(err, "s.json: key 'levels' must be a whole number in [0, 100], not \"3\"");
    /* An error of another parser, put at its key. */
    tk_json_at lat = tk_json_key(&at, "levels");
    tk_fail(&err, "three is not a level");
    CHECK(tk_json_prefix(&lat, &err) == -1);
    CHECK_MSG(err, "s.json: key 'levels': three is not a level");
    cJSON_Delete(o);
}

/* The writer: its members as the file keeps them, strings escaped, a
 * number that is not finite as null; cJSON reads it back. */
static void test_writing(void) {
    tk_buf b = {0};
    tk_json_out o;
    tk_json_out_begin(&o, &b, "{", ", ");
    tk_json_out_int(&o, "iteration", -3);
    tk_json_out_number(&o, "loss", "%.9g", (double)0.1f);
    tk_json_out_number(&o, "diverged", "%.9g", NAN);
    tk_json_out_number(&o, "far", "%.9g", -INFINITY);
    tk_json_out_string(&o, "name", "a \"b\"\\c\nd\x01");
    tk_json_out_raw(&o, "list", "[1, 2]");
    tk_json_out_end(&o, "}");
    tk_buf_put(&b, "", 1);
    const char *text = (const char *)b.data;
    CHECK(!strcmp(text, "{\"iteration\": -3, \"loss\": 0.100000001, \"diverged\": null, \"far\": null, "
                        "\"name\": \"a \\\"b\\\"\\\\c\\u000ad\\u0001\", \"list\": [1, 2]}"));
    cJSON *back = cJSON_Parse(text);
    CHECK(back != NULL);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(back, "name"),
                *loss = cJSON_GetObjectItemCaseSensitive(back, "loss");
    CHECK(cJSON_IsString(name) && !strcmp(name->valuestring, "a \"b\"\\c\nd\x01"));
    CHECK(cJSON_IsNumber(loss) && (float)loss->valuedouble == 0.1f);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(back, "diverged")));
    cJSON_Delete(back);
    tk_buf_free(&b);
}

int main(void) {
    RUN(test_paths);
    RUN(test_unknown_and_repeated_keys);
    RUN(test_numbers);
    RUN(test_bool_string_name);
    RUN(test_duration_array_object);
    RUN(test_problems);
    RUN(test_writing);
    CHECK_MAIN_END();
}

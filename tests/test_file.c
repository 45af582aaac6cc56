/* test_file.c - atomic writes, mkdirs, CRC-32, and the binary buffer/reader
 * with every error a damaged file can produce. */
#define _GNU_SOURCE
#include "check.h"
#include "tk_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_atomic_write_round_trip(void) {
    char *dir = test_tmpdir("file");
    char *path = path_in(dir, "a.bin");
    char *tmp = path_in(dir, "a.bin.tmp");
    tk_error err = {0};
    const char first[] = "first version, longer than the second";
    CHECK(tk_file_write_atomic(path, first, sizeof first, &err) == 0);
    CHECK(tk_file_exists(path));
    CHECK(!tk_file_exists(tmp));
    uint8_t *data = NULL;
    size_t n = 0;
    CHECK(tk_file_read_all(path, &data, &n, &err) == 0);
    CHECK(n == sizeof first && data && !memcmp(data, first, n));
    free(data);

    const char second[] = "second";
    CHECK(tk_file_write_atomic(path, second, sizeof second, &err) == 0);
    CHECK(!tk_file_exists(tmp));
    CHECK(tk_file_read_all(path, &data, &n, &err) == 0);
    CHECK(n == sizeof second && data && !memcmp(data, second, n));
    free(data);

    /* An empty file is a valid file. */
    CHECK(tk_file_write_atomic(path, "", 0, &err) == 0);
    CHECK(tk_file_read_all(path, &data, &n, &err) == 0);
    CHECK(n == 0);
    free(data);
    rm_rf(dir);
    free(dir), free(path), free(tmp);
}

static void test_io_errors_name_the_path(void) {
    char *dir = test_tmpdir("file");
    char *missing = path_in(dir, "no/such/dir/x.bin");
    tk_error err = {0};
    CHECK(tk_file_write_atomic(missing, "x", 1, &err) == -1);
    CHECK_CONTAINS(err.msg, missing);
    CHECK_CONTAINS(err.msg, "No such file or directory");

    uint8_t *data = (uint8_t *)&err;
    size_t n = 7;
    CHECK(tk_file_read_all(missing, &data, &n, &err) == -1);
    CHECK_CONTAINS(err.msg, missing);
    CHECK_CONTAINS(err.msg, "No such file or directory");
    CHECK(data == NULL && n == 0);

    CHECK(tk_file_read_all(dir, &data, &n, &err) == -1);
    CHECK_CONTAINS(err.msg, "is a directory");
    rm_rf(dir);
    free(dir), free(missing);
}

static void test_mkdirs(void) {
    char *dir = test_tmpdir("file");
    char *deep = path_in(dir, "a/b/c");
    tk_error err = {0};
    CHECK(tk_mkdirs(deep, &err) == 0);
    struct stat st;
    CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(tk_mkdirs(deep, &err) == 0); /* already there: fine */

    char *file = path_in(dir, "a/b/file");
    write_file(file, "x", 1);
    char *under_file = path_in(dir, "a/b/file/d");
    CHECK(tk_mkdirs(under_file, &err) == -1);
    CHECK_CONTAINS(err.msg, file);
    CHECK(tk_mkdirs(file, &err) == -1);
    CHECK_CONTAINS(err.msg, "not a directory");
    rm_rf(dir);
    free(dir), free(deep), free(file), free(under_file);
}

static void test_crc32_known_value(void) {
    /* The standard CRC-32 check value. */
    CHECK(tk_crc32("123456789", 9) == 0xCBF43926u);
    CHECK(tk_crc32("", 0) == 0);
}

static void test_buf_little_endian_layout(void) {
    tk_buf b = {0};
    tk_buf_u32(&b, 0x01020304u);
    tk_buf_u64(&b, 0x1122334455667788ull);
    tk_buf_f32(&b, 1.0f);
    tk_buf_str(&b, "hi");
    const uint8_t want[] = {4, 3, 2, 1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
                            0x00, 0x00, 0x80, 0x3f, 2, 0, 0, 0, 'h', 'i'};
    CHECK(b.len == sizeof want);
    CHECK(b.len == sizeof want && !memcmp(b.data, want, sizeof want));
    /* Growth past the first allocation keeps earlier bytes. */
    for (int i = 0; i < 1000; i++) tk_buf_u32(&b, (uint32_t)i);
    CHECK(b.len == sizeof want + 4000 && !memcmp(b.data, want, sizeof want));
    uint32_t last;
    memcpy(&last, b.data + b.len - 4, 4);
    CHECK(last == 999);
    tk_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
}

/* magic "TKTS", version 2, u32 7, u64 1<<40, f32 -2.5, str "name", CRC. */
static tk_buf sample_file(void) {
    tk_buf b = {0};
    tk_buf_begin(&b, "TKTS", 2);
    tk_buf_u32(&b, 7);
    tk_buf_u64(&b, 1ull << 40);
    tk_buf_f32(&b, -2.5f);
    tk_buf_str(&b, "name");
    tk_buf_end(&b);
    return b;
}

static void test_reader_round_trip(void) {
    tk_buf b = sample_file();
    CHECK(b.len == 4 + 4 + 4 + 8 + 4 + 4 + 4 + 4);
    tk_reader r;
    tk_error err = {0};
    CHECK(tk_reader_begin(&r, b.data, b.len, "x.tkts", "TKTS", 2, "test", &err) == 0);
    uint32_t u = 0;
    uint64_t w = 0;
    float f = 0;
    char s[8] = "";
    CHECK(tk_read_u32(&r, &u, "count", &err) == 0 && u == 7);
    CHECK(tk_read_u64(&r, &w, "size", &err) == 0 && w == 1ull << 40);
    CHECK(tk_read_f32(&r, &f, "scale", &err) == 0 && f == -2.5f);
    CHECK(tk_read_str(&r, s, sizeof s, "name", &err) == 0 && !strcmp(s, "name"));
    /* The CRC is not payload: the next read runs off the end. */
    CHECK(r.pos == r.len);
    CHECK(tk_read_u32(&r, &u, "extra", &err) == -1);
    CHECK_CONTAINS(err.msg, "x.tkts: truncated at offset 32 while reading extra (need 4 more bytes)");
    tk_buf_free(&b);
}

static void test_reader_bad_magic(void) {
    tk_buf b = sample_file();
    tk_reader r;
    tk_error err = {0};
    CHECK(tk_reader_begin(&r, b.data, b.len, "model.ckpt", "TKCK", 2, "checkpoint", &err) == -1);
    CHECK_CONTAINS(err.msg, "model.ckpt is not a checkpoint file (magic \"TKTS\", expected \"TKCK\")");
    const uint8_t binary[] = {0x89, 'P', 'N', 'G', 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(tk_reader_begin(&r, binary, sizeof binary, "pic.ckpt", "TKCK", 2, "checkpoint", &err) == -1);
    CHECK_CONTAINS(err.msg, "pic.ckpt is not a checkpoint file (magic \"\\x89PNG\"");
    CHECK(tk_reader_begin(&r, b.data, 2, "tiny.ckpt", "TKTS", 2, "checkpoint", &err) == -1);
    CHECK_CONTAINS(err.msg, "tiny.ckpt is not a checkpoint file");
    CHECK_CONTAINS(err.msg, "shorter than its magic");
    tk_buf_free(&b);
}

static void test_reader_wrong_version(void) {
    tk_buf b = sample_file();
    tk_reader r;
    tk_error err = {0};
    CHECK(tk_reader_begin(&r, b.data, b.len, "x.tkts", "TKTS", 1, "test", &err) == -1);
    CHECK_CONTAINS(err.msg, "x.tkts: test version 2, this ticket reads version 1");
    CHECK_CONTAINS(err.msg, "newer ticket");
    CHECK(tk_reader_begin(&r, b.data, b.len, "x.tkts", "TKTS", 3, "test", &err) == -1);
    CHECK_CONTAINS(err.msg, "x.tkts: test version 2, this ticket reads version 3");
    CHECK_CONTAINS(err.msg, "older ticket");
    tk_buf_free(&b);
}

static void test_reader_flipped_byte(void) {
    tk_buf b = sample_file();
    tk_reader r;
    tk_error err = {0};
    b.data[13] ^= 0x10; /* inside the u64 */
    CHECK(tk_reader_begin(&r, b.data, b.len, "x.tkts", "TKTS", 2, "test", &err) == -1);
    CHECK_CONTAINS(err.msg, "x.tkts: checksum mismatch: the file is corrupted (or truncated); delete it and");
    b.data[13] ^= 0x10;
    b.data[b.len - 1] ^= 0x01; /* the stored CRC itself */
    CHECK(tk_reader_begin(&r, b.data, b.len, "x.tkts", "TKTS", 2, "test", &err) == -1);
    CHECK_CONTAINS(err.msg, "checksum mismatch");
    tk_buf_free(&b);
}

static void test_reader_truncation(void) {
    tk_buf b = sample_file();
    tk_reader r;
    tk_error err = {0};
    /* A cut file no longer matches its CRC. */
    CHECK(tk_reader_begin(&r, b.data, b.len - 3, "x.tkts", "TKTS", 2, "test", &err) == -1);
    CHECK_CONTAINS(err.msg, "checksum mismatch");
    /* Too short to hold the version or the checksum. */
    CHECK(tk_reader_begin(&r, b.data, 6, "x.tkts", "TKTS", 2, "test", &err) == -1);
    CHECK_CONTAINS(err.msg, "x.tkts: truncated at offset 4 while reading version (need 2 more bytes)");
    CHECK(tk_reader_begin(&r, b.data, 10, "x.tkts", "TKTS", 2, "test", &err) == -1);
    CHECK_CONTAINS(err.msg, "x.tkts: truncated at offset 8 while reading checksum (need 2 more bytes)");

    /* A valid CRC over a payload shorter than the reader expects: the
     * error names the field and where it started. */
    tk_buf short_file = {0};
    tk_buf_begin(&short_file, "TKTS", 2);
    tk_buf_u32(&short_file, 7);
    tk_buf_put(&short_file, "abc", 3);
    tk_buf_end(&short_file);
    CHECK(tk_reader_begin(&r, short_file.data, short_file.len, "s.tkts", "TKTS", 2, "test", &err) == 0);
    uint32_t u;
    uint64_t w;
    CHECK(tk_read_u32(&r, &u, "count", &err) == 0 && u == 7);
    CHECK(tk_read_u64(&r, &w, "weights", &err) == -1);
    CHECK_CONTAINS(err.msg, "s.tkts: truncated at offset 12 while reading weights (need 5 more bytes)");
    tk_buf_free(&short_file);
    tk_buf_free(&b);
}

static void test_read_str_limits(void) {
    tk_buf b = {0};
    tk_buf_begin(&b, "TKTS", 1);
    tk_buf_str(&b, "a-long-name");
    tk_buf_u32(&b, 1000); /* a string length that runs past the end */
    tk_buf_end(&b);
    tk_reader r;
    tk_error err = {0};
    CHECK(tk_reader_begin(&r, b.data, b.len, "x.tkts", "TKTS", 1, "test", &err) == 0);
    char s[6];
    CHECK(tk_read_str(&r, s, sizeof s, "label", &err) == -1);
    CHECK_CONTAINS(err.msg, "x.tkts: label at offset 8 is 11 bytes long, more than the 5");
    r.pos = 8;
    char big[2000];
    CHECK(tk_read_str(&r, big, sizeof big, "label", &err) == 0 && !strcmp(big, "a-long-name"));
    CHECK(tk_read_str(&r, big, sizeof big, "comment", &err) == -1);
    CHECK_CONTAINS(err.msg, "truncated at offset 27 while reading comment (need 1000 more bytes)");
    tk_buf_free(&b);
}

static void test_file_round_trip_through_disk(void) {
    char *dir = test_tmpdir("file");
    char *path = path_in(dir, "s.tkts");
    tk_buf b = sample_file();
    tk_error err = {0};
    CHECK(tk_file_write_atomic(path, b.data, b.len, &err) == 0);
    uint8_t *data;
    size_t n;
    CHECK(tk_file_read_all(path, &data, &n, &err) == 0);
    tk_reader r;
    CHECK(tk_reader_begin(&r, data, n, path, "TKTS", 2, "test", &err) == 0);
    uint32_t u = 0;
    CHECK(tk_read_u32(&r, &u, "count", &err) == 0 && u == 7);
    free(data);
    tk_buf_free(&b);
    rm_rf(dir);
    free(dir), free(path);
}

int main(void) {
    RUN(test_atomic_write_round_trip);
    RUN(test_io_errors_name_the_path);
    RUN(test_mkdirs);
    RUN(test_crc32_known_value);
    RUN(test_buf_little_endian_layout);
    RUN(test_reader_round_trip);
    RUN(test_reader_bad_magic);
    RUN(test_reader_wrong_version);
    RUN(test_reader_flipped_byte);
    RUN(test_reader_truncation);
    RUN(test_read_str_limits);
    RUN(test_file_round_trip_through_disk);
    CHECK_MAIN_END();
}

/*
 * Text formatting that never allocates.
 *
 * Everything hakmem prints (env warnings, the configuration printout, stats
 * dumps) runs inside the allocator, where stdio is forbidden: it allocates and
 * takes locks that may already be held.  A hak_buf is a caller-provided array
 * that is appended to and then written with write(2).  Overflow truncates and
 * sets `overflow`, it never writes past the end.
 */
#ifndef HAK_FMT_H
#define HAK_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hak_buf {
    char *data;
    size_t cap;
    size_t len;
    bool overflow;
} hak_buf;

#define HAK_BUF_INIT(array) {(array), sizeof(array), 0, false}

void hak_buf_str(hak_buf *b, const char *s);
void hak_buf_mem(hak_buf *b, const char *s, size_t n);
void hak_buf_char(hak_buf *b, char c);
void hak_buf_u64(hak_buf *b, uint64_t v);
void hak_buf_i64(hak_buf *b, int64_t v);
void hak_buf_hex(hak_buf *b, uint64_t v);
/* Writes the buffer with write(2), retrying on EINTR and short writes.
 * Returns false if the descriptor refused the bytes. */
bool hak_buf_flush(hak_buf *b, int fd);

/* write(2) of a whole NUL-terminated string; for one-line diagnostics. */
void hak_write_str(int fd, const char *s);

#endif /* HAK_FMT_H */

#include "fmt.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void hak_buf_mem(hak_buf *b, const char *s, size_t n)
{
    size_t room = b->cap - b->len;
    if (n > room) {
        n = room;
        b->overflow = true;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

void hak_buf_str(hak_buf *b, const char *s) { hak_buf_mem(b, s, strlen(s)); }

void hak_buf_char(hak_buf *b, char c) { hak_buf_mem(b, &c, 1); }

void hak_buf_u64(hak_buf *b, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    hak_buf_mem(b, digits + sizeof(digits) - n, n);
}

void hak_buf_i64(hak_buf *b, int64_t v)
{
    if (v < 0) {
        hak_buf_char(b, '-');
        hak_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        hak_buf_u64(b, (uint64_t)v);
    }
}

void hak_buf_hex(hak_buf *b, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char digits[16];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = hex[v & 15];
        v >>= 4;
    } while (v != 0);
    hak_buf_str(b, "0x");
    hak_buf_mem(b, digits + sizeof(digits) - n, n);
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

bool hak_buf_flush(hak_buf *b, int fd)
{
    int saved = errno; /* diagnostics must not disturb the caller's errno */
    bool ok = write_all(fd, b->data, b->len);
    b->len = 0;
    errno = saved;
    return ok;
}

void hak_write_str(int fd, const char *s)
{
    int saved = errno;
    write_all(fd, s, strlen(s));
    errno = saved;
}

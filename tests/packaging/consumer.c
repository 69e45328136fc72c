/* Built against an installed hakmem by pkg-config and by find_package. */
#include <hakmem.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    void *p = malloc(100);
    void *q = hak_malloc(100);
    int ok = p != NULL && q != NULL && hak_owns(p) && hak_owns(q) &&
             hak_malloc_usable_size(q) >= 100;
    free(p);
    hak_free(q);
    puts(ok ? "hakmem consumer ok" : "hakmem consumer FAILED");
    return ok ? 0 : 1;
}

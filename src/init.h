/*
 * Start-up.  hakmem initialises itself on its first slow path, from inside
 * whatever malloc call comes first, so initialisation allocates nothing.
 * Calls that arrive while it runs on the same thread (pthread_atfork and
 * dlsym may call malloc) are served from a static bootstrap area.
 */
#ifndef HAK_INIT_H
#define HAK_INIT_H

#include <stdbool.h>
#include <stddef.h>

/* true once hakmem is ready; false if the calling thread is the one
 * initialising it (a recursive call: use the bootstrap area).  Other threads
 * wait for initialisation to finish. */
bool hak_init(void);
bool hak_bootstrapping(void);

void *hak_bootstrap_alloc(size_t size, size_t align);
bool hak_bootstrap_owns(const void *p);
size_t hak_bootstrap_usable(const void *p);

#endif /* HAK_INIT_H */

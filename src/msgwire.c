/* msgwire — TEMPORARY: wired to imf/verdict once those modules land. */
#include "msgwire.h"
#include <stdlib.h>
#include "sbuf.h"

struct msgwire { bool strict; };
struct msgwire *msgwire_new(bool strict_alignment)
{
	struct msgwire *m = xcalloc(1, sizeof *m);
	m->strict = strict_alignment;
	return m;
}
const struct smtp_msg_hooks *msgwire_hooks(struct msgwire *m) { (void)m; return NULL; }
void msgwire_free(struct msgwire *m) { free(m); }

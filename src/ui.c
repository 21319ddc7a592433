/* ui — placeholder until the ncurses UI lands (same session). */
#include "ui.h"
#include <stdio.h>
int ui_run(struct ui_args *a, char *err, size_t errlen)
{
	(void)a;
	snprintf(err, errlen, "the interactive UI is not built yet");
	return -1;
}

/* libFuzzer target: the SMTP dissector with AUTH decoding (src/smtp*.c,
 * src/auth.c), the message path (src/msgwire.c -> src/imf*.c, src/verdict.c)
 * and the output sinks (src/out_json.c, src/out_text.c, src/out_summary.c
 * writing to /dev/null; src/ui_model.c, the UI's bounded escaped copies).
 *
 * Input: byte 0 = options (bit 0 show_secrets, bit 1 JSON events, bit 2 text
 * colour + bodies, bit 3 findings only, bit 4 strict alignment, bit 5 summary
 * as JSON); then records
 *   { u8 op, u16 len, len bytes }
 * op & 1: direction (0 client -> server, 1 server -> client)
 * op & 2: instead of bytes, a gap of len bytes in that direction (no bytes read)
 * Both directions go into one session, interleaved as the records come. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "flow.h"
#include "msgwire.h"
#include "out.h"
#include "out_summary.h"
#include "smtp.h"
#include "ui_model.h"
#include "fuzz_common.h"

static FILE *g_null;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_null && !(g_null = fopen("/dev/null", "w")))
		abort();
	struct fz f = { data, size };
	uint8_t opt = fz_u8(&f);

	struct flow_info fi;
	memset(&fi, 0, sizeof fi);
	fi.id = 1;
	fi.client.family = fi.server.family = 4;
	fi.client.addr[0] = 192, fi.client.addr[3] = 1, fi.client.port = 40000;
	fi.server.addr[0] = 198, fi.server.addr[3] = 2, fi.server.port = 25;
	fi.first_ts_us = fi.last_ts_us = 1700000000000000ull;
	fi.syn_seen = true;

	struct out_opts oo;
	memset(&oo, 0, sizeof oo);
	oo.show_secrets = opt & 1;
	oo.events = (opt & 2) != 0;
	oo.color = oo.show_body = (opt & 4) != 0;
	oo.findings_only = (opt & 8) != 0;
	oo.write_headers_json = out_imf_txn_json;
	oo.write_headers_text = out_imf_txn_text;
	struct event_bus bus;
	memset(&bus, 0, sizeof bus);
	event_bus_add(&bus, out_json_new(g_null, &oo));
	event_bus_add(&bus, out_text_new(g_null, &oo));
	event_bus_add(&bus, out_summary_new(g_null, (opt & 32) != 0, true));
	event_bus_add(&bus, ui_model_sink(ui_model_new(opt & 1)));

	struct msgwire *mw = msgwire_new((opt & 16) != 0);
	struct smtp_config cfg = { .show_secrets = opt & 1, .msg = msgwire_hooks(mw) };
	uint64_t ts = fi.first_ts_us;
	struct smtp_session *s = smtp_session_new(&cfg, &bus, &fi, ts);
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f);
		uint16_t len = fz_u16(&f);
		int dir = (op & 1) ? FLOW_S2C : FLOW_C2S;
		ts += 10;
		fi.last_ts_us = ts;
		if (op & 2) {
			smtp_session_gap(s, dir, len, ts);
			continue;
		}
		size_t n;
		uint8_t *buf = fz_copy(&f, len, &n);
		smtp_session_data(s, dir, buf, n, ts);
		free(buf);
	}
	fi.end = FLOW_END_FIN;
	smtp_session_close(s, ts + 1);
	smtp_session_free(s);
	msgwire_free(mw);
	event_bus_close(&bus);
	return 0;
}

/* out_imf — the parsed message headers (struct imf_headers, include/imf.h)
 * as the JSON "headers" object and as transcript lines; contract in
 * include/out_imf.h. The header parser only collects the fields; how they
 * look in each output is the output layer's business (docs/design.md,
 * "Layers"). */
#include "out_imf.h"

#include <string.h>

#include "esc.h"
#include "msgwire.h"
#include "out.h"
#include "sbuf.h"


static void json_addr(struct sbuf *out, const struct imf_addr *a)
{
	ob_adds(out, "{\"name\":");
	esc_json_str(out, a->name);
	ob_adds(out, ",\"address\":");
	esc_json_str(out, a->address);
	ob_addc(out, '}');
}

static void json_addr_list(struct sbuf *out, const char *key, const struct imf_addr_list *l)
{
	ob_add(out, ",\"", 2);
	ob_adds(out, key);
	ob_add(out, "\":[", 3);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			ob_addc(out, ',');
		json_addr(out, &l->v[i]);
	}
	ob_addc(out, ']');
	if (l->more) {
		ob_add(out, ",\"", 2);
		ob_adds(out, key);
		ob_add(out, "_more\":", 7);
		ob_u64(out, l->more);
	}
}

static void json_kv(struct sbuf *out, const char *key, const char *val)
{
	ob_add(out, ",\"", 2);
	ob_adds(out, key);
	ob_add(out, "\":", 2);
	esc_json_str(out, val);
}

void out_imf_headers_json(struct sbuf *out, const struct imf_headers *h)
{
	ob_adds(out, "{\"from\":[");
	for (size_t i = 0; i < h->from.n; i++) {
		if (i)
			ob_addc(out, ',');
		json_addr(out, &h->from.v[i]);
	}
	ob_addc(out, ']');
	if (h->from.more) {
		ob_adds(out, ",\"from_more\":");
		ob_u64(out, h->from.more);
	}
	ob_adds(out, ",\"sender\":");
	if (h->sender.n)
		json_addr(out, &h->sender.v[0]);
	else
		ob_adds(out, "null");
	json_addr_list(out, "reply_to", &h->reply_to);
	json_addr_list(out, "to", &h->to);
	json_addr_list(out, "cc", &h->cc);
	json_kv(out, "subject", h->subject);
	if (h->subject && h->subject_raw && strcmp(h->subject, h->subject_raw))
		json_kv(out, "subject_raw", h->subject_raw);
	json_kv(out, "date", h->date);
	json_kv(out, "message_id", h->message_id);
	json_kv(out, "in_reply_to", h->in_reply_to);
	json_kv(out, "return_path", h->return_path);
	json_kv(out, "user_agent", h->user_agent);
	json_kv(out, "list_id", h->list_id);
	ob_adds(out, ",\"received\":[");
	for (size_t i = 0; i < h->n_received; i++) {
		if (i)
			ob_addc(out, ',');
		esc_json_str(out, h->received[i]);
	}
	ob_adds(out, "],\"dkim_domains\":[");
	for (size_t i = 0; i < h->n_dkim; i++) {
		if (i)
			ob_addc(out, ',');
		esc_json_str(out, h->dkim_domains[i]);
	}
	ob_adds(out, "],\"attachments\":[");
	for (size_t i = 0; i < h->n_attachments; i++) {
		if (i)
			ob_addc(out, ',');
		ob_adds(out, "{\"name\":");
		esc_json_str(out, h->attachments[i].name);
		ob_adds(out, ",\"content_type\":");
		esc_json_str(out, h->attachments[i].content_type);
		ob_addc(out, '}');
	}
	ob_addc(out, ']');
	if (h->attachments_more) {
		ob_adds(out, ",\"attachments_more\":");
		ob_u64(out, h->attachments_more);
	}
	ob_adds(out, h->truncated ? ",\"truncated\":true}" : ",\"truncated\":false}");
}

static void text_addr_list(struct sbuf *out, const char *indent, const char *label,
			   const struct imf_addr_list *l)
{
	if (!l->n && !l->more)
		return;
	sbuf_adds(out, indent);
	sbuf_adds(out, label);
	sbuf_adds(out, ": ");
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			sbuf_adds(out, ", ");
		if (l->v[i].name) {
			sbuf_addc(out, '"');
			esc_tty(out, l->v[i].name, strlen(l->v[i].name));
			sbuf_adds(out, "\" ");
		}
		sbuf_addc(out, '<');
		esc_tty(out, l->v[i].address, strlen(l->v[i].address));
		sbuf_addc(out, '>');
	}
	if (l->more)
		sbuf_addf(out, " (+%zu more)", l->more);
	sbuf_addc(out, '\n');
}

static void text_kv(struct sbuf *out, const char *indent, const char *label, const char *v)
{
	if (!v)
		return;
	sbuf_adds(out, indent);
	sbuf_adds(out, label);
	sbuf_adds(out, ": ");
	esc_tty(out, v, strlen(v));
	sbuf_addc(out, '\n');
}

void out_imf_headers_text(struct sbuf *out, const struct imf_headers *h, const char *indent)
{
	if (!indent)
		indent = "";
	text_addr_list(out, indent, "From", &h->from);
	text_addr_list(out, indent, "Sender", &h->sender);
	text_addr_list(out, indent, "Reply-To", &h->reply_to);
	text_addr_list(out, indent, "To", &h->to);
	text_addr_list(out, indent, "Cc", &h->cc);
	text_kv(out, indent, "Subject", h->subject);
	text_kv(out, indent, "Date", h->date);
	text_kv(out, indent, "Message-ID", h->message_id);
	text_kv(out, indent, "User-Agent", h->user_agent);
	if (h->n_dkim) {
		sbuf_adds(out, indent);
		sbuf_adds(out, "DKIM d=: ");
		for (size_t i = 0; i < h->n_dkim; i++) {
			if (i)
				sbuf_adds(out, ", ");
			esc_tty(out, h->dkim_domains[i], strlen(h->dkim_domains[i]));
		}
		sbuf_addc(out, '\n');
	}
	if (h->n_attachments) {
		sbuf_adds(out, indent);
		sbuf_adds(out, "Attachments: ");
		for (size_t i = 0; i < h->n_attachments; i++) {
			const struct imf_attachment *a = &h->attachments[i];
			if (i)
				sbuf_adds(out, ", ");
			if (a->name)
				esc_tty(out, a->name, strlen(a->name));
			else
				sbuf_adds(out, "(unnamed)");
			sbuf_adds(out, " (");
			esc_tty(out, a->content_type, strlen(a->content_type));
			sbuf_addc(out, ')');
		}
		if (h->attachments_more)
			sbuf_addf(out, " (+%zu more)", h->attachments_more);
		sbuf_addc(out, '\n');
	}
	if (h->truncated) {
		sbuf_adds(out, indent);
		sbuf_adds(out, "(headers truncated)\n");
	}
}

/* ---- the struct out_opts hooks: txn->headers as msgwire attached it ---- */

void out_imf_txn_json(struct sbuf *out, const void *headers)
{
	out_imf_headers_json(out, msgwire_headers_of(headers));
}

void out_imf_txn_text(struct sbuf *out, const void *headers, const char *indent)
{
	out_imf_headers_text(out, msgwire_headers_of(headers), indent);
}

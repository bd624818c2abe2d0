/*
 * smtp_reply.c - SMTP reply and EHLO keyword parsing (see smtp_reply.h).
 * Untrusted input: reply lines from remote SMTP servers, already bounded
 * by the caller's line buffer; nothing here allocates.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_reply.h"

int
smtp_reply_line(const char *line, size_t len, int *code_r, int *more_r,
    const char **text_r)
{
	int i;

	if (len < 3)
		return -1;
	for (i = 0; i < 3; i++)
		if (!isdigit((unsigned char)line[i]))
			return -1;
	if (line[0] < '2' || line[0] > '5')
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	*code_r = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	*more_r = len > 3 && line[3] == '-';
	*text_r = len > 3 ? line + 4 : line + 3;
	return 0;
}

size_t
smtp_reply_dsn_len(const char *text)
{
	size_t i = 0, part, digits;

	if (text[0] != '2' && text[0] != '4' && text[0] != '5')
		return 0;
	if (text[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		digits = 0;
		while (isdigit((unsigned char)text[i]) && digits < 3) {
			i++;
			digits++;
		}
		if (digits == 0)
			return 0;
		if (part == 0) {
			if (text[i] != '.')
				return 0;
			i++;
		}
	}
	if (text[i] != '\0' && text[i] != ' ')
		return 0;
	return i;
}

void
smtp_ehlo_keyword(const char *text, unsigned *features,
    unsigned long long *size_r)
{
	size_t n = strcspn(text, " =");
	char kw[32];

	if (n == 0 || n >= sizeof(kw))
		return;
	memcpy(kw, text, n);
	kw[n] = '\0';
	if (strcasecmp(kw, "PIPELINING") == 0)
		*features |= SMTP_FEAT_PIPELINING;
	else if (strcasecmp(kw, "8BITMIME") == 0)
		*features |= SMTP_FEAT_8BITMIME;
	else if (strcasecmp(kw, "STARTTLS") == 0)
		*features |= SMTP_FEAT_STARTTLS;
	else if (strcasecmp(kw, "DSN") == 0)
		*features |= SMTP_FEAT_DSN;
	else if (strcasecmp(kw, "SMTPUTF8") == 0)
		*features |= SMTP_FEAT_SMTPUTF8;
	else if (strcasecmp(kw, "ENHANCEDSTATUSCODES") == 0)
		*features |= SMTP_FEAT_ENHANCED;
	else if (strcasecmp(kw, "SIZE") == 0) {
		const char *p = text + n;
		unsigned long long v = 0;
		int digits = 0;
		*features |= SMTP_FEAT_SIZE;
		while (*p == ' ' || *p == '=')
			p++;
		while (isdigit((unsigned char)*p) && digits < 19) {
			v = v * 10 + (unsigned)(*p - '0');
			p++;
			digits++;
		}
		*size_r = v;
	}
}

/* header_eval.h - SpamAssassin's header eval: tests Tempest implements
 * (its HeaderEval plugin), each a function of the analysed message alone
 * (untrusted text; values are matched with PCRE2 and a match limit, an
 * address is quoted before it goes into a pattern). */
#ifndef TEMPEST_HEADER_EVAL_H
#define TEMPEST_HEADER_EVAL_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct mime_msg;
struct relays;

/* SpamAssassin's registry boundaries (its util_rb_tld, util_rb_2tld,
 * util_rb_3tld lists, lower case, each sorted for bsearch). */
struct rb_lists {
	char **v[3];
	size_t n[3];
};
void rb_sort(struct rb_lists *rb);
/* The registered domain of host (its RegistryBoundaries trim_domain):
 * one label more than the longest public suffix the lists (and the US
 * state and k12 forms) give, else the last two labels; host lower-cased,
 * repeated dots one, leading and trailing dots dropped. */
void rb_domain(const struct rb_lists *rb, const char *host, char *out, size_t outlen);

/* v appended to b with every character but letters, digits and '_'
 * escaped (Perl's quotemeta), for a pattern. */
void sa_quotemeta(struct buf *b, const char *v);

/* check_header_count_range(hdr, min, max): distinct values of hdr. */
int he_header_count_range(const struct mime_msg *m, const char *hdr, double min,
    double max);
/* subject_is_all_caps(): a Subject of several words and 10 or more
 * characters, reply prefixes left out, whose letters are all capitals
 * (not in a charset whose text reads as capitals). */
int he_subject_all_caps(const struct mime_msg *m);
/* check_for_to_in_subject('address'|'user'): the To: address, or its
 * local part in the places a spammer's "bob, …" puts it, in the Subject. */
int he_to_in_subject(const struct mime_msg *m, const char *test);
/* check_illegal_chars(hdr|'ALL', ratio, count): raw 8-bit or control
 * bytes (valid UTF-8 without controls is legal) at least ratio of the
 * value and count in number. */
int he_illegal_chars(const struct mime_msg *m, const char *hdr, double ratio,
    double count);
/* check_ratware_name_id(): a Message-Id of 28 capitals and a tail that
 * From: repeats as its address after a quoted name. */
int he_ratware_name_id(const struct mime_msg *m);
/* check_outlook_message_id(): an Outlook-style Message-Id whose time
 * field fits neither the Date: nor the Received: time. */
int he_outlook_message_id(const struct mime_msg *m);

/* check_for_mime(test) of SpamAssassin's MIMEEval, for the tests it
 * derives from each part's headers: mime_base64_count, mime_qp_count,
 * mime_attachment, mime_body_html_count, mime_body_text_count (counts),
 * mime_base64_encoded_text, mime_bad_iso_charset (0 or 1); -1 for a
 * test it derives from the encoded lines (not implemented). */
int he_check_for_mime(const struct mime_msg *m, const char *test);
/* HeaderEval's check_for_forged_juno_received_headers(). */
int he_forged_juno(const struct mime_msg *m);
/* The ImageInfo plugin's measures over the base64 GIF, PNG and JPEG
 * parts of type ("gif", "png", "jpeg" or "all") whose size was read: the
 * pixels they cover; one of h x w within minh..maxh, minw..maxw (a max
 * below 0: none); one named name. */
double he_image_area(const struct mime_msg *m, const char *type);
int he_image_size_range(const struct mime_msg *m, const char *type, double minh,
    double minw, double maxh, double maxw);
int he_image_named(const struct mime_msg *m, const char *name);
/* image_name_regex(re): one whose name the Perl pattern re matches (as
 * SpamAssassin interpolates it: a "/.../i" argument is a pattern with
 * those slashes in it) */
int he_image_name_regex(const struct mime_msg *m, const char *re);
/* MIMEEval's check_ma_non_text(): a multipart/alternative with a part
 * right under it that is not text (nor multipart/related,
 * application/rtf). */
int he_ma_non_text(const struct mime_msg *m);
/* BodyEval's check_stock_info measure: how many distinct stock-tip
 * words (ticker, symbol, target price, ...) end the "label:" lines of
 * the first text/plain part (mime.h labels). */
unsigned he_stock_info(const struct mime_msg *m);
/* SpamAssassin 4's parse_header_addresses() with its own parser (the
 * Email::Address::XS fallback it may consult is not), on a header value
 * as written (unfolded): for each address it finds, at most max, the
 * address (or NULL) into addr[] and the display name (the phrase as
 * written, else the comment; or NULL) into name[], malloc'ed; their
 * number. */
size_t he_parse_addresses(const char *value, char **addr, char **name, size_t max);
/* The first address he_parse_addresses() finds in value (malloc'ed), or
 * NULL (its get("Hdr:first:addr")). */
char *he_first_address(const char *value);
/* HTTPSMismatch's check_https_http_mismatch(min, max): in an HTML part
 * with at least min (1 for 0) and below max links to a named host with
 * a known TLD (counted once each), an anchor whose text's first
 * https:// names another registered domain than its link. */
/* SpamAssassin's uri_to_domain() finds a domain in uri: not a
 * javascript:, cid: or file: one; of a mailto: the part after its one
 * '@', else the host (no user, no port); no %-escaped printable in it;
 * an address (when ip), or a valid name (is_fqdn_valid) whose last
 * label is a util_rb_tld one. */
int he_uri_has_domain(const struct rb_lists *rb, const char *uri, int ip);
int he_https_http_mismatch(const struct mime_msg *m, const struct rb_lists *rb,
    double min, int have_max, double max);
/* URIEval's check_https_ip_mismatch(): a link to an address whose anchor
 * text shows "https:", not followed by an address itself. */
int he_https_ip_mismatch(const struct mime_msg *m);
/* MIMEEval's mime_ascii_text_illegal: a text/plain leaf in US-ASCII (or
 * with no charset) whose body as sent has a NUL, CR or 8-bit byte. */
int he_ascii_text_illegal(const struct mime_msg *m);
/* MIMEEval's mime_multipart_ratio: bytes as sent of the last text/plain
 * over the last text/html leaf (not attachments) once a
 * multipart/alternative was seen; 1.0 without both. */
double he_multipart_ratio(const struct mime_msg *m);
/* image_count(type, min[, max]): base64 gif, png or jpeg parts ("all":
 * the three). */
int he_image_count(const struct mime_msg *m, const char *type, double min, int have_max,
    double max);
/* check_for_uppercase(min, max): capitals in per cent of the letters and
 * digits of the body's lines of several words, above min, at most max; 0
 * under 200 characters or in a charset whose text reads as capitals. */
int he_uppercase(const struct mime_msg *m, double min, double max);
/* check_base64_length(min[, max]): the longest encoded line of the base64
 * parts, with its line end, at least min and at most max. */
int he_base64_length(const struct mime_msg *m, double min, int have_max, double max);

/* check_for_missing_to_header(): neither To: nor Apparently-To:. */
int he_missing_to(const struct mime_msg *m);
/* check_unresolved_template(): a "%NAME" left in a header other than
 * the address, subject, id and a few free-text ones. */
int he_unresolved_template(const struct mime_msg *m);
/* gated_through_received_hdr_remover(): an ezmlm list's or MSN group's
 * post, or no Received: header at all (tests on the Received: trail
 * cannot tell anything then). */
int he_gated_through_rcvd_remover(const struct mime_msg *m);
/* The first address of the first header called name (SpamAssassin's
 * get("name:addr")), malloc'ed, "" when there is none. */
char *he_addr(const struct mime_msg *m, const char *name);
/* check_equal_from_domains(): From: and the envelope sender (its
 * address, envfrom) in different domains, each cut to its last two
 * labels. */
int he_equal_from_domains(const struct mime_msg *m, const char *envfrom);

/* SpamAssassin's RelayEval and WLBLEval tests on the relays
 * (relays.h) the Received: lines give. */
/* helo_ip_mismatch(): an untrusted relay that said HELO with a public
 * IPv4 address outside the /24 of the public IPv4 address it came
 * from. */
int re_helo_ip_mismatch(const struct relays *rl);
/* check_for_forged_received_trail(): more than one untrusted relay whose
 * "by" domain is not the domain of the host the next newer relay says
 * it came from. */
int re_forged_received_trail(const struct relays *rl);
/* check_mailfrom_matches_rcvd(): the envelope sender's registered
 * domain is that of the newest untrusted relay's reverse DNS name (with
 * no untrusted relay: of a trusted one's). */
int re_mailfrom_matches_rcvd(const struct relays *rl, const struct rb_lists *rb,
    const char *envfrom);

/* The FreeMail plugin's welcome-listed local parts (abuse@, support@,
 * postmaster@, bounce-, Gmail message ids, …). */
int he_freemail_role(const char *email);
/* A pattern of a rule's argument against s (kept compiled by its text);
 * he_match_opts() compiles it for this call only (a pattern made from
 * the message). */
int he_match(const char *pat, const char *s);
int he_match_opts(const char *pat, const char *s, uint32_t opts);

/* SpamAssassin's ok_locales: the locales whose mail is expected (a
 * blank-separated list; NULL, or "all" in it: every locale, and the
 * tests below never hit).  A charset is fine for them when it is one
 * the whole net uses (ASCII, ISO 8859, Unicode, Windows code pages) or
 * one of a listed locale's (Locales.pm: ja, ko, ru and its neighbours,
 * th, zh). */
int locales_all(const char *locales);
int locale_charset_ok(const char *charset, const char *locales);
/* check_for_faraway_charset(): the message's Content-Type charset is no
 * fine one and the body text has more non-ASCII characters than ASCII
 * ones (and over 3). */
int he_faraway_charset(const struct mime_msg *m, const char *locales);
/* check_for_faraway_charset_in_headers(): an encoded word of From: or
 * Subject: in a charset that is no fine one. */
int he_faraway_charset_headers(const struct mime_msg *m, const char *locales);
/* check_for_mime('mime_faraway_charset'): a part's charset (with a
 * letter) that is no fine one. */
int he_mime_faraway_charset(const struct mime_msg *m, const char *locales);

/* The FreeMail plugin's bulk envelope senders, whose Reply-To: it does
 * not judge: postmasters, bounces, list owners, no-reply, SRS-like
 * forms. */
int he_bulk_envfrom(const char *envfrom);

/* check_for_forged_gmail_received_headers(): a From: at gmail.com
 * without Google's own trail (an X-Received: of its relays, its
 * submission Received: line, long X-Gm-Message-State and
 * X-Google-Smtp-Source headers). */
int he_forged_gmail(const struct mime_msg *m);
/* check_for_forged_yahoo_received_headers(): a From: at yahoo.com
 * without a Yahoo relay or web-mail Received: line (rl: the relay
 * strings). */
int he_forged_yahoo(const struct mime_msg *m, const struct relays *rl);
/* check_for_forged_eudoramail_received_headers(): a From: at
 * eudoramail.com without its whowhere.com relay and X-Sender-Ip. */
int he_forged_eudoramail(const struct mime_msg *m);
/* check_for_fake_aol_relay_in_rcvd(): an AOL relay name (rly-xx00.) in
 * a Received: line that is not AOL's. */
int he_fake_aol_relay(const struct mime_msg *m);

/* HeaderEval's Hotmail trail: 1 when a Received: line says it came from
 * hotmail.com but none of Hotmail's (or Outlook.com's) own forms is
 * there with an X-Originating-IP (or X-OriginatorOrg); 2 when there is
 * no such line and From: is at hotmail.com; 0 otherwise, and for an MSN
 * group's post (its envelope sender, envfrom, the group's bounce
 * address) or one gated through a list
 * (check_for_forged_hotmail_received_headers: 1,
 * check_for_no_hotmail_received_headers: 2). */
int he_hotmail_trail(const struct mime_msg *m, const char *envfrom);

/* check_ratware_envelope_from(): the envelope sender (its address,
 * envfrom; not an SRS one) has the To: address's registered domain (a
 * valid TLD) then any character then its local part before its '@'. */
int he_ratware_envfrom(const struct mime_msg *m, const struct rb_lists *rb,
    const char *envfrom);

#endif

/* header_eval.h - SpamAssassin's header eval: tests Tempest implements
 * (its HeaderEval plugin), each a function of the analysed message alone
 * (untrusted text; values are matched with PCRE2 and a match limit, an
 * address is quoted before it goes into a pattern). */
#ifndef TEMPEST_HEADER_EVAL_H
#define TEMPEST_HEADER_EVAL_H

struct mime_msg;

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

#endif

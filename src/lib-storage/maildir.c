/*
 * maildir.c - Maildir++ folders, the per-folder UID list, flags in file
 * names, saving, copying and expunging.
 *
 * Untrusted bytes: folder names from clients (validated by
 * maildir_name_check before use in a path), message files and file names
 * found in the Maildir, and the UID list file (parsed with bounds; a
 * corrupt line is dropped and the message gets a new UID).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "imap_search.h"
#include "imap_utf7.h"
#include "log.h"
#include "maildir.h"
#include "mem.h"

#define UIDLIST "tempest-uidlist"
#define UIDLIST_LOCK "tempest-uidlist.lock"
#define MAIL_FILE_MAX ((size_t)1 << 30)

static const char *const special_folders[][2] = {
	{ "Sent", "\\Sent" }, { "Drafts", "\\Drafts" },
	{ "Trash", "\\Trash" }, { "Junk", "\\Junk" },
	{ "Archive", "\\Archive" },
};

/* ---- names and paths ---- */

int
maildir_name_check(const char *name, const char **error_r)
{
	size_t n = strlen(name);

	if (n == 0 || n > 200) {
		*error_r = "Invalid mailbox name length";
		return -1;
	}
	if (name[0] == '.' || name[n - 1] == '.' || strstr(name, "..") != NULL) {
		*error_r = "Invalid mailbox name: empty hierarchy level";
		return -1;
	}
	if (strpbrk(name, "/\\*%~") != NULL || name[0] == '~') {
		*error_r = "Invalid characters in mailbox name";
		return -1;
	}
	if (!imap_utf7_is_valid(name)) {
		*error_r = "Mailbox name is not valid modified UTF-7";
		return -1;
	}
	return 0;
}

char *
maildir_name_normalize(const char *name)
{
	if (strcasecmp(name, "INBOX") == 0)
		return xstrdup("INBOX");
	if (strncasecmp(name, "INBOX.", 6) == 0)
		return xasprintf("INBOX.%s", name + 6);
	return xstrdup(name);
}

static char *
folder_path(struct mail_user *u, const char *name)
{
	if (strcmp(name, "INBOX") == 0)
		return xstrdup(u->root);
	return xasprintf("%s/.%s", u->root, name);
}

const char *
maildir_special_use(const char *name)
{
	for (unsigned i = 0; i < NELEM(special_folders); i++)
		if (strcmp(name, special_folders[i][0]) == 0)
			return special_folders[i][1];
	return NULL;
}

static int
mkdir_folder(const char *path)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char p[4096];

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	for (unsigned i = 0; i < NELEM(subs); i++) {
		snprintf(p, sizeof(p), "%s/%s", path, subs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* ---- user ---- */

static void
load_keywords(struct mail_user *u)
{
	char path[4096], line[256];
	FILE *f;

	for (unsigned i = 0; i < u->nkeywords; i++)
		FREE(u->keywords[i]);
	u->nkeywords = 0;
	snprintf(path, sizeof(path), "%s/tempest-keywords", u->root);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (u->nkeywords < MAILDIR_MAX_KEYWORDS &&
	    fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (u->nkeywords % 32 == 0)
			u->keywords = xreallocarray(u->keywords,
			    u->nkeywords + 32, sizeof(*u->keywords));
		u->keywords[u->nkeywords++] = xstrdup(line);
	}
	fclose(f);
}

struct mail_user *
maildir_user_open(const char *root, char **error_r)
{
	struct mail_user *u = xcalloc(1, sizeof(*u));
	char path[4096];
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	u->root = xstrndup(root, n);
	if (mkdir_folder(u->root) < 0) {
		*error_r = xasprintf("mkdir %s: %s", u->root, strerror(errno));
		maildir_user_free(&u);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/subscriptions", u->root);
	if (access(path, F_OK) < 0) {
		/* a new user: create and subscribe the special-use folders */
		for (unsigned i = 0; i < 4; i++) {
			char *fp = folder_path(u, special_folders[i][0]);
			if (mkdir_folder(fp) < 0)
				log_warn("mkdir %s: %s", fp, strerror(errno));
			free(fp);
		}
		FILE *f = fopen(path, "w");
		if (f != NULL) {
			fputs("INBOX\n", f);
			for (unsigned i = 0; i < 4; i++)
				fprintf(f, "%s\n", special_folders[i][0]);
			fclose(f);
		}
	}
	load_keywords(u);
	return u;
}

void
maildir_user_free(struct mail_user **up)
{
	struct mail_user *u = *up;

	if (u == NULL)
		return;
	for (unsigned i = 0; i < u->nkeywords; i++)
		free(u->keywords[i]);
	free(u->keywords);
	free(u->root);
	FREE(*up);
}

int
maildir_keyword(struct mail_user *u, const char *name, int create)
{
	char path[4096];
	FILE *f;

	for (unsigned i = 0; i < u->nkeywords; i++)
		if (strcasecmp(u->keywords[i], name) == 0)
			return (int)i;
	if (!create)
		return -1;
	load_keywords(u);       /* another process may have added it */
	for (unsigned i = 0; i < u->nkeywords; i++)
		if (strcasecmp(u->keywords[i], name) == 0)
			return (int)i;
	if (strlen(name) > MAILDIR_KEYWORD_MAX_LEN)
		return -3;
	if (u->nkeywords >= MAILDIR_MAX_KEYWORDS)
		return -2;
	snprintf(path, sizeof(path), "%s/tempest-keywords", u->root);
	if ((f = fopen(path, "a")) == NULL)
		return -1;
	fprintf(f, "%s\n", name);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return -1;
	}
	fclose(f);
	if (u->nkeywords % 32 == 0)
		u->keywords = xreallocarray(u->keywords, u->nkeywords + 32,
		    sizeof(*u->keywords));
	u->keywords[u->nkeywords] = xstrdup(name);
	return (int)u->nkeywords++;
}

/* ---- keyword sets ---- */

void
maildir_mail_kw(const struct mail *m, struct maildir_kw *kw_r)
{
	memset(kw_r, 0, sizeof(*kw_r));
	kw_r->w[0] = m->keywords & ((1u << MAILDIR_FILE_KEYWORDS) - 1);
	if (m->xkw != NULL &&
	    maildir_kw_parse(m->xkw, strlen(m->xkw), kw_r) < 0)
		kw_r->w[0] = m->keywords & ((1u << MAILDIR_FILE_KEYWORDS) - 1);
}

int
maildir_kw_parse(const char *s, size_t len, struct maildir_kw *kw)
{
	struct maildir_kw t = *kw;
	size_t i = 0;
	long last = -1;

	if (len == 0)
		return -1;
	while (i < len) {
		unsigned long v = 0;
		size_t st = i;
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - st < 5)
			v = v * 10 + (unsigned long)(s[i++] - '0');
		if (i == st || (s[st] == '0' && i - st > 1) ||
		    v < MAILDIR_FILE_KEYWORDS || v >= MAILDIR_MAX_KEYWORDS ||
		    (long)v <= last)
			return -1;
		last = (long)v;
		maildir_kw_set(&t, (unsigned)v);
		if (i == len)
			break;
		if (s[i] != ',' || i + 1 == len)
			return -1;
		i++;
	}
	*kw = t;
	return 0;
}

char *
maildir_kw_format(const struct maildir_kw *kw)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	for (unsigned i = MAILDIR_FILE_KEYWORDS; i < MAILDIR_MAX_KEYWORDS; i++)
		if (maildir_kw_has(kw, i))
			buf_printf(&b, "%s%u", b.len ? "," : "", i);
	if (b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	char *r = xstrndup((const char *)b.data, b.len);
	buf_free(&b);
	return r;
}

/* NULL-safe string equality of two kw fields */
static int
xkw_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* ---- folder list ---- */

static int
folder_cmp(const void *a, const void *b)
{
	const struct maildir_folder *x = a, *y = b;

	if (strcmp(x->name, "INBOX") == 0)
		return -1;
	if (strcmp(y->name, "INBOX") == 0)
		return 1;
	return strcmp(x->name, y->name);
}

int
maildir_list(struct mail_user *u, struct maildir_folder **v_r, unsigned *n_r)
{
	struct maildir_folder *v = NULL;
	unsigned n = 0;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(u->root)) == NULL)
		return -1;
	v = xcalloc(1, sizeof(*v));
	v[n++].name = xstrdup("INBOX");
	while ((de = readdir(d)) != NULL) {
		const char *e = de->d_name;
		const char *err;
		if (e[0] != '.' || strcmp(e, ".") == 0 || strcmp(e, "..") == 0)
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (maildir_name_check(e + 1, &err) < 0)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		memset(&v[n], 0, sizeof(v[n]));
		v[n++].name = xstrdup(e + 1);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), folder_cmp);
	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(v[i].name);
		v[i].special = maildir_special_use(v[i].name);
		for (unsigned j = 0; j < n; j++)
			if (strncmp(v[j].name, v[i].name, l) == 0 &&
			    v[j].name[l] == '.')
				v[i].children = 1;
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

void
maildir_list_free(struct maildir_folder *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

int
maildir_exists(struct mail_user *u, const char *name)
{
	char *p = folder_path(u, name), *c = xasprintf("%s/cur", p);
	struct stat st;
	int r = stat(c, &st) == 0 && S_ISDIR(st.st_mode);

	free(p);
	free(c);
	return r;
}

int
maildir_create(struct mail_user *u, const char *name, const char **error_r)
{
	char *p;

	if (strcmp(name, "INBOX") == 0 || maildir_exists(u, name)) {
		*error_r = "[ALREADYEXISTS] Mailbox already exists";
		return -1;
	}
	p = folder_path(u, name);
	if (mkdir_folder(p) < 0) {
		log_warn("mkdir %s: %s", p, strerror(errno));
		*error_r = "[SERVERBUG] Cannot create mailbox";
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

static void
rm_files(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char p[4096];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
}

int
maildir_delete(struct mail_user *u, const char *name, const char **error_r)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	struct maildir_folder *v;
	unsigned n;
	char *p, sub[4096];
	size_t l = strlen(name);

	if (strcmp(name, "INBOX") == 0) {
		*error_r = "INBOX can not be deleted";
		return -1;
	}
	if (!maildir_exists(u, name)) {
		*error_r = "[NONEXISTENT] Mailbox does not exist";
		return -1;
	}
	if (maildir_list(u, &v, &n) == 0) {
		int kids = 0;
		for (unsigned i = 0; i < n; i++)
			if (strncmp(v[i].name, name, l) == 0 && v[i].name[l] == '.')
				kids = 1;
		maildir_list_free(v, n);
		if (kids) {
			*error_r = "[INUSE] Mailbox has children, delete them first";
			return -1;
		}
	}
	p = folder_path(u, name);
	for (unsigned i = 0; i < NELEM(subs); i++) {
		snprintf(sub, sizeof(sub), "%s/%s", p, subs[i]);
		rm_files(sub);
		rmdir(sub);
	}
	rm_files(p);
	if (rmdir(p) < 0) {
		log_warn("rmdir %s: %s", p, strerror(errno));
		*error_r = "[SERVERBUG] Cannot delete mailbox";
		free(p);
		return -1;
	}
	free(p);
	maildir_subscribe(u, name, 0);
	return 0;
}

/*
 * RENAME INBOX (RFC 9051 6.3.6): every message of INBOX moves to a new
 * folder `to`; INBOX stays, empty, and its subfolders are not touched.
 * Copied first (hard links), removed from INBOX only once the copy is
 * complete, so a failure leaves duplicates at worst, never a loss.
 */
static int
rename_inbox(struct mail_user *u, const char *to, const char **error_r)
{
	struct mailbox *box;
	unsigned *idx;
	uint32_t uidvalidity, *uids;
	int ret = 0;

	if (strcmp(to, "INBOX") == 0 || maildir_exists(u, to)) {
		*error_r = "[ALREADYEXISTS] Target mailbox already exists";
		return -1;
	}
	if (maildir_create(u, to, error_r) < 0)
		return -1;
	if (maildir_open(u, "INBOX", 0, &box, error_r) < 0)
		return -1;
	idx = xcalloc(box->count + 1, sizeof(*idx));
	uids = xcalloc(box->count + 1, sizeof(*uids));
	for (unsigned i = 0; i < box->count; i++)
		idx[i] = i;
	if (box->count > 0 && maildir_copy(box, idx, box->count, to,
	    &uidvalidity, uids, error_r) < 0)
		ret = -1;
	for (unsigned i = 0; ret == 0 && i < box->count; i++)
		(void)maildir_expunge(box, i);  /* a vanished one is gone anyway */
	free(idx);
	free(uids);
	maildir_close(&box);
	return ret;
}

int
maildir_rename(struct mail_user *u, const char *from, const char *to,
    const char **error_r)
{
	struct maildir_folder *v;
	unsigned n;
	size_t l = strlen(from);

	if (strcmp(from, "INBOX") == 0)
		return rename_inbox(u, to, error_r);
	if (!maildir_exists(u, from)) {
		*error_r = "[NONEXISTENT] Mailbox does not exist";
		return -1;
	}
	if (strcmp(to, "INBOX") == 0 || maildir_exists(u, to)) {
		*error_r = "[ALREADYEXISTS] Target mailbox already exists";
		return -1;
	}
	if (strncmp(to, from, l) == 0 && to[l] == '.') {
		*error_r = "[CANNOT] Cannot move a mailbox under itself";
		return -1;
	}
	if (maildir_list(u, &v, &n) < 0) {
		*error_r = "[SERVERBUG] Cannot list mailboxes";
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(v[i].name, from) != 0 &&
		    !(strncmp(v[i].name, from, l) == 0 && v[i].name[l] == '.'))
			continue;
		char *newname = xasprintf("%s%s", to, v[i].name + l);
		char *a = folder_path(u, v[i].name), *b = folder_path(u, newname);
		if (rename(a, b) < 0)
			log_warn("rename %s %s: %s", a, b, strerror(errno));
		else if (maildir_subscribe(u, v[i].name, 0) == 1)
			maildir_subscribe(u, newname, 1);
		free(a);
		free(b);
		free(newname);
	}
	maildir_list_free(v, n);
	return 0;
}

/* ---- subscriptions ---- */

char **
maildir_subscriptions(struct mail_user *u, unsigned *n_r)
{
	char path[4096], line[512], **v = NULL;
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/subscriptions", u->root);
	if ((f = fopen(path, "r")) != NULL) {
		while (n < 10000 && fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] == '\0')
				continue;
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n++] = xstrdup(line);
		}
		fclose(f);
	}
	*n_r = n;
	return v;
}

/* Returns 1 if the name was subscribed before, 0 if not, -1 on error. */
int
maildir_subscribe(struct mail_user *u, const char *name, int on)
{
	char path[4096], tmp[4200];
	unsigned n;
	char **v = maildir_subscriptions(u, &n);
	int was = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/subscriptions", u->root);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if ((f = fopen(tmp, "w")) == NULL) {
		for (unsigned i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(v[i], name) == 0)
			was = 1;
		else
			fprintf(f, "%s\n", v[i]);
		free(v[i]);
	}
	free(v);
	if (on)
		fprintf(f, "%s\n", name);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return was;
}

/* ---- flags in file names ---- */

static void
info_to_flags(const char *info, unsigned *flags_r, uint32_t *kw_r)
{
	unsigned f = 0;
	uint32_t kw = 0;

	for (; *info; info++) {
		switch (*info) {
		case 'D': f |= IMAP_FLAG_DRAFT; break;
		case 'F': f |= IMAP_FLAG_FLAGGED; break;
		case 'R': f |= IMAP_FLAG_ANSWERED; break;
		case 'S': f |= IMAP_FLAG_SEEN; break;
		case 'T': f |= IMAP_FLAG_DELETED; break;
		default:
			if (*info >= 'a' && *info <= 'z')
				kw |= 1u << (*info - 'a');
		}
	}
	*flags_r = f;
	*kw_r = kw;
}

static void
flags_to_info(unsigned f, uint32_t kw, char *out)
{
	if (f & IMAP_FLAG_DRAFT) *out++ = 'D';
	if (f & IMAP_FLAG_FLAGGED) *out++ = 'F';
	if (f & IMAP_FLAG_ANSWERED) *out++ = 'R';
	if (f & IMAP_FLAG_SEEN) *out++ = 'S';
	if (f & IMAP_FLAG_DELETED) *out++ = 'T';
	for (int i = 0; i < 26; i++)
		if (kw & (1u << i))
			*out++ = (char)('a' + i);
	*out = '\0';
}

/* The info part of a file name ("" for new/ or no ":2,"). */
static const char *
fname_info(const char *fname)
{
	const char *c = strstr(fname, ":2,");

	return c ? c + 3 : "";
}

static size_t
base_len(const char *name)
{
	return strcspn(name, ":");
}

/* ---- the UID list ---- */

struct rec {
	uint32_t uid;
	uint64_t modseq;
	char *base;
	char *xkw;              /* keywords >= 26 ("26,40") or NULL */
	char *fname;            /* found on disk: "cur/..." */
	char info[40];
	int found, moved, in_new;
};

struct state {
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;
	/* mtimes of new/ and cur/ when the list was last known complete;
	 * nonstd: some file name is not "base:2,info" */
	struct timespec mt_new, mt_cur;
	int nonstd;
	struct rec *v;
	unsigned n, cap;
};

static void
state_free(struct state *st)
{
	for (unsigned i = 0; i < st->n; i++) {
		free(st->v[i].base);
		free(st->v[i].xkw);
		free(st->v[i].fname);
	}
	FREE(st->v);
	st->n = st->cap = 0;
}

static struct rec *
state_add(struct state *st)
{
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 64;
		st->v = xreallocarray(st->v, st->cap, sizeof(*st->v));
	}
	memset(&st->v[st->n], 0, sizeof(st->v[0]));
	return &st->v[st->n++];
}

/* open-addressing hash of base name -> rec index */
struct bhash {
	unsigned *slot;         /* index + 1, 0 = empty */
	unsigned size;
};

static unsigned
hash_str(const char *s, size_t n)
{
	unsigned h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void
bhash_build(struct bhash *h, struct state *st)
{
	h->size = 64;
	while (h->size < st->n * 2 + 1)
		h->size *= 2;
	h->slot = xcalloc(h->size, sizeof(*h->slot));
	for (unsigned i = 0; i < st->n; i++) {
		unsigned k = hash_str(st->v[i].base, strlen(st->v[i].base)) & (h->size - 1);
		while (h->slot[k] != 0)
			k = (k + 1) & (h->size - 1);
		h->slot[k] = i + 1;
	}
}

static int
bhash_find(struct bhash *h, struct state *st, const char *base, size_t n)
{
	unsigned k = hash_str(base, n) & (h->size - 1);

	while (h->slot[k] != 0) {
		struct rec *r = &st->v[h->slot[k] - 1];
		if (strlen(r->base) == n && memcmp(r->base, base, n) == 0)
			return (int)h->slot[k] - 1;
		k = (k + 1) & (h->size - 1);
	}
	return -1;
}

static char *
read_file(const char *path, size_t max, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *d;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	d = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, d + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	d[got] = '\0';
	*len_r = got;
	return d;
}

static void
uidlist_read(const char *path, struct state *st)
{
	size_t len;
	char *d = read_file(path, (size_t)1 << 30, &len), *p, *nl;
	uint32_t lastuid = 0;
	unsigned nf;

	st->uidvalidity = 0;
	st->uidnext = 1;
	st->modseq = 1;
	if (d == NULL)
		return;
	p = d;
	nl = strchr(p, '\n');
	if (nl == NULL || (strncmp(p, "T1 ", 3) != 0 &&
	    strncmp(p, "T2 ", 3) != 0)) {
		free(d);
		return;
	}
	nf = p[1] == '2' ? 5 : 4;       /* T2 adds the kw field */
	*nl = '\0';
	for (char *t = strtok(p + 3, " "); t != NULL; t = strtok(NULL, " ")) {
		unsigned long long v = strtoull(t + 1, NULL, 10);
		if (t[0] == 'V') st->uidvalidity = (uint32_t)v;
		else if (t[0] == 'N') st->uidnext = (uint32_t)v;
		else if (t[0] == 'M') st->modseq = v;
		else if (t[0] == 'W' || t[0] == 'C') {
			struct timespec *ts = t[0] == 'W' ? &st->mt_new : &st->mt_cur;
			const char *dot = strchr(t, '.');
			ts->tv_sec = (time_t)v;
			ts->tv_nsec = dot ? strtol(dot + 1, NULL, 10) : 0;
		} else if (t[0] == 'X')
			st->nonstd = 1;
	}
	for (p = nl + 1; *p; p = nl + 1) {
		char *f[5], *s = p, *e;
		unsigned k;
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		for (k = 0; k < nf; k++) {
			f[k] = s;
			e = k < nf - 1 ? strchr(s, ' ') : NULL;
			if (e == NULL)
				break;
			*e = '\0';
			s = e + 1;
		}
		if (k < nf - 1)
			continue;
		char *base = f[nf - 1], *xkw = NULL;
		struct maildir_kw kw;
		unsigned long long uid = strtoull(f[0], NULL, 10);
		if (uid == 0 || uid <= lastuid || uid >= st->uidnext ||
		    strlen(f[2]) >= sizeof(st->v[0].info) || base[0] == '\0')
			continue;       /* corrupt line: the file gets a new UID */
		memset(&kw, 0, sizeof(kw));
		if (nf == 5 && strcmp(f[3], "-") != 0) {
			if (maildir_kw_parse(f[3], strlen(f[3]), &kw) == 0)
				xkw = maildir_kw_format(&kw);
			else
				log_warn("%s: uid %llu: bad keyword field "
				    "ignored", path, uid);
		}
		struct rec *r = state_add(st);
		r->uid = (uint32_t)uid;
		lastuid = r->uid;
		r->modseq = strtoull(f[1], NULL, 10);
		r->in_new = strcmp(f[2], "@") == 0;
		strcpy(r->info, strcmp(f[2], "-") == 0 || r->in_new ? "" : f[2]);
		r->base = xstrdup(base);
		r->xkw = xkw;
	}
	free(d);
}

static int
uidlist_write(const char *dir, struct state *st)
{
	char path[4096], tmp[4200];
	struct buf b;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/" UIDLIST, dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	buf_init(&b, BUF_UNLIMITED);
	buf_printf(&b, "T2 V%u N%u M%llu W%lld.%09ld C%lld.%09ld%s\n",
	    st->uidvalidity, st->uidnext, (unsigned long long)st->modseq,
	    (long long)st->mt_new.tv_sec, st->mt_new.tv_nsec,
	    (long long)st->mt_cur.tv_sec, st->mt_cur.tv_nsec,
	    st->nonstd ? " X1" : "");
	for (unsigned i = 0; i < st->n; i++) {
		struct rec *r = &st->v[i];
		buf_printf(&b, "%u %llu %s %s %s\n", r->uid,
		    (unsigned long long)r->modseq, r->in_new ? "@" :
		    r->info[0] ? r->info : "-", r->xkw ? r->xkw : "-",
		    r->base);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ok = fd >= 0 && write(fd, b.data, b.len) == (ssize_t)b.len;
	if (fd >= 0 && close(fd) < 0)
		ok = 0;
	buf_free(&b);
	if (!ok || rename(tmp, path) < 0) {
		log_warn("write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
lock_folder(const char *dir)
{
	char path[4096];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;

	snprintf(path, sizeof(path), "%s/" UIDLIST_LOCK, dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("open %s: %s", path, strerror(errno));
		return -1;
	}
	while (fcntl(fd, F_SETLKW, &fl) < 0) {
		if (errno != EINTR) {
			log_warn("lock %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* a + b + c as a fresh string (hot path: no printf) */
static char *
concat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *r = xmalloc(la + lb + lc + 1);

	memcpy(r, a, la);
	memcpy(r + la, b, lb);
	memcpy(r + la + lb, c, lc + 1);
	return r;
}

static void
stat_mtime(const char *path, struct timespec *ts)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		memset(&sb, 0, sizeof(sb));
	*ts = sb.st_mtim;
}

static int
ts_same(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

struct newfile {
	char *fname;            /* "new/x" or "cur/x:2,.." */
	int prio;
};

static int
newfile_cmp(const void *a, const void *b)
{
	const struct newfile *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return strcmp(x->fname, y->fname);
}

/*
 * With the folder locked: read the UID list, scan new/ and cur/, give
 * UIDs to new files (prio names first, in order), move new/ to cur/ when
 * move_new, write the list back if anything changed.  st gets the live
 * records in UID order.
 */
static int
state_load(const char *dir, int move_new, const char *const *prio,
    unsigned nprio, struct state *st)
{
	static const char *const subs[] = { "new", "cur" };
	struct newfile *nf = NULL;
	unsigned nnf = 0, o;
	struct bhash h;
	int changed = 0;
	char path[4096];

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/" UIDLIST, dir);
	uidlist_read(path, st);
	if (st->uidvalidity == 0) {
		st->uidvalidity = (uint32_t)time(NULL);
		changed = 1;
	}
	/* the directories' mtimes before the scan: if they still equal the
	 * ones recorded with a complete list (and are old enough that a
	 * change within the same clock tick is impossible), the list alone
	 * describes the folder and the readdir can be skipped */
	struct timespec tn, tc;
	time_t now = time(NULL);
	snprintf(path, sizeof(path), "%s/new", dir);
	stat_mtime(path, &tn);
	snprintf(path, sizeof(path), "%s/cur", dir);
	stat_mtime(path, &tc);
	if (!st->nonstd && nprio == 0 && st->mt_cur.tv_sec != 0 &&
	    st->mt_new.tv_sec != 0 &&
	    ts_same(&tn, &st->mt_new) && ts_same(&tc, &st->mt_cur)) {
		for (unsigned i = 0; i < st->n; i++) {
			struct rec *r = &st->v[i];
			r->found = 1;
			if (!r->in_new) {
				char *t = concat3("cur/", r->base, ":2,");
				r->fname = concat3(t, r->info, "");
				free(t);
				continue;
			}
			r->fname = xasprintf("new/%s", r->base);
			if (move_new) {
				char from[4400], to[4400];
				snprintf(from, sizeof(from), "%s/new/%s", dir, r->base);
				snprintf(to, sizeof(to), "%s/cur/%s:2,", dir, r->base);
				if (rename(from, to) == 0) {
					free(r->fname);
					r->fname = xasprintf("cur/%s:2,", r->base);
					r->in_new = 0;
					r->moved = 1;
					changed = 1;
				}
			}
		}
		if (changed)
			return uidlist_write(dir, st) < 0 ? -1 : 1;
		return 0;
	}
	/* record only mtimes at least a second old: a change later in the
	 * same clock tick (coarse time stamps) could not be told apart */
	if (tn.tv_sec >= now - 1)
		memset(&tn, 0, sizeof(tn));
	if (tc.tv_sec >= now - 1)
		memset(&tc, 0, sizeof(tc));
	if (!ts_same(&tn, &st->mt_new) || !ts_same(&tc, &st->mt_cur))
		changed = 1;    /* record the new mtimes */
	st->mt_new = tn;
	st->mt_cur = tc;
	st->nonstd = 0;
	bhash_build(&h, st);
	for (unsigned s = 0; s < NELEM(subs); s++) {
		struct dirent *de;
		DIR *d;
		snprintf(path, sizeof(path), "%s/%s", dir, subs[s]);
		if ((d = opendir(path)) == NULL) {
			log_warn("opendir %s: %s", path, strerror(errno));
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			const char *e = de->d_name;
			size_t bl = base_len(e);
			int k;
			if (e[0] == '.' || bl == 0 || bl > 200)
				continue;
			k = bhash_find(&h, st, e, bl);
			if (k >= 0) {
				struct rec *r = &st->v[k];
				const char *info = s == 0 ? "" : fname_info(e);
				if (r->found)
					continue;       /* duplicate (rename race) */
				r->found = 1;
				r->fname = concat3(subs[s], "/", e);
				if ((s == 0) != r->in_new) {
					r->in_new = s == 0;
					changed = 1;
				}
				if (s == 1 && (strncmp(e + bl, ":2,", 3) != 0 ||
				    strlen(info) >= sizeof(r->info)))
					st->nonstd = 1;
				if (strlen(info) < sizeof(r->info) &&
				    strcmp(info, r->info) != 0) {
					strcpy(r->info, info);
					r->modseq = ++st->modseq;
					changed = 1;
				}
				continue;
			}
			nf = xreallocarray(nf, nnf + 1, sizeof(*nf));
			nf[nnf].fname = xasprintf("%s/%s", subs[s], e);
			nf[nnf].prio = (int)nprio;
			for (unsigned i = 0; i < nprio; i++)
				if (strlen(prio[i]) == bl &&
				    memcmp(prio[i], e, bl) == 0)
					nf[nnf].prio = (int)i;
			nnf++;
		}
		closedir(d);
	}
	free(h.slot);
	/* drop vanished records; an expunge is a change of the folder's
	 * mod-sequence too (QRESYNC clients compare HIGHESTMODSEQ) */
	for (unsigned i = o = 0; i < st->n; i++) {
		if (!st->v[i].found) {
			free(st->v[i].base);
			free(st->v[i].xkw);
			changed = 1;
			continue;
		}
		st->v[o++] = st->v[i];
	}
	if (o != st->n)
		st->modseq++;
	st->n = o;
	if (nnf > 0) {
		qsort(nf, nnf, sizeof(*nf), newfile_cmp);
		changed = 1;
	}
	for (unsigned i = 0; i < nnf; i++) {
		const char *e = nf[i].fname + 4;
		struct rec *r = state_add(st);
		r->uid = st->uidnext++;
		r->modseq = ++st->modseq;
		r->base = xstrndup(e, base_len(e));
		r->found = 1;
		r->in_new = strncmp(nf[i].fname, "new/", 4) == 0;
		if (strncmp(nf[i].fname, "cur/", 4) == 0 &&
		    strncmp(e + strlen(r->base), ":2,", 3) != 0)
			st->nonstd = 1;
		if (r->in_new && move_new) {
			char from[4400], to[4400];
			snprintf(from, sizeof(from), "%s/%s", dir, nf[i].fname);
			snprintf(to, sizeof(to), "%s/cur/%s:2,", dir, r->base);
			if (rename(from, to) == 0) {
				free(nf[i].fname);
				nf[i].fname = xasprintf("cur/%s:2,", r->base);
				r->moved = 1;
				r->in_new = 0;
			}
		} else if (strncmp(nf[i].fname, "cur/", 4) == 0) {
			const char *info = fname_info(e);
			if (strlen(info) < sizeof(r->info))
				strcpy(r->info, info);
		}
		r->fname = nf[i].fname;
	}
	free(nf);
	if (changed)
		return uidlist_write(dir, st) < 0 ? -1 : 1;
	return 0;
}

/* ---- mailbox (session view) ---- */

static void
stat_ts(const char *path, struct timespec *ts, off_t *size, ino_t *ino)
{
	struct stat st;

	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	*ts = st.st_mtim;
	if (size != NULL)
		*size = st.st_size;
	if (ino != NULL)
		*ino = st.st_ino;
}

static int
ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int
maildir_open(struct mail_user *u, const char *name, int readonly,
    struct mailbox **box_r, const char **error_r)
{
	struct mailbox *box;

	if (!maildir_exists(u, name)) {
		*error_r = "[NONEXISTENT] Mailbox does not exist";
		return -1;
	}
	box = xcalloc(1, sizeof(*box));
	box->user = u;
	box->name = xstrdup(name);
	box->path = folder_path(u, name);
	box->readonly = readonly;
	if (maildir_sync(box, 1, NULL) < 0) {
		maildir_close(&box);
		*error_r = "[SERVERBUG] Cannot read mailbox";
		return -1;
	}
	*box_r = box;
	return 0;
}

void
maildir_close(struct mailbox **boxp)
{
	struct mailbox *box = *boxp;

	if (box == NULL)
		return;
	for (unsigned i = 0; i < box->count; i++) {
		free(box->mails[i].fname);
		free(box->mails[i].xkw);
	}
	free(box->mails);
	free(box->name);
	free(box->path);
	FREE(*boxp);
}

static uint64_t
fname_vsize(const char *fname)
{
	const char *w = strstr(fname, ",W=");

	if (w == NULL)
		return 0;
	return strtoull(w + 3, NULL, 10);
}

int
maildir_sync(struct mailbox *box, int allow_expunge,
    const struct maildir_sync_cb *cb)
{
	struct timespec tl, tn, tc;
	char p[4400];
	off_t size;
	ino_t ino;
	struct state st;
	unsigned i, j, o;
	int lockfd, r, dirty = 0;

	/* cheap check: nothing moved since the last sync */
	snprintf(p, sizeof(p), "%s/" UIDLIST, box->path);
	stat_ts(p, &tl, &size, &ino);
	snprintf(p, sizeof(p), "%s/new", box->path);
	stat_ts(p, &tn, NULL, NULL);
	snprintf(p, sizeof(p), "%s/cur", box->path);
	stat_ts(p, &tc, NULL, NULL);
	for (i = 0; i < box->count; i++)
		if (box->mails[i].expunged)
			dirty = 1;
	if (box->uidvalidity != 0 && ts_eq(&tl, &box->st_list) &&
	    ts_eq(&tn, &box->st_new) && ts_eq(&tc, &box->st_cur) &&
	    size == box->size_list && ino == box->ino_list &&
	    !(dirty && allow_expunge))
		return 0;

	if ((lockfd = lock_folder(box->path)) < 0)
		return -1;
	r = state_load(box->path, !box->readonly, NULL, 0, &st);
	/* stat while still locked: what we saw is what these describe */
	snprintf(p, sizeof(p), "%s/" UIDLIST, box->path);
	stat_ts(p, &box->st_list, &box->size_list, &box->ino_list);
	box->st_new = tn;
	box->st_cur = tc;
	close(lockfd);
	if (r < 0) {
		state_free(&st);
		return -1;
	}
	if (box->uidvalidity != 0 && box->uidvalidity != st.uidvalidity) {
		/* the list was recreated: everybody must start over */
		log_warn("%s: UIDVALIDITY changed", box->path);
	}
	box->uidvalidity = st.uidvalidity;
	box->uidnext = st.uidnext;
	box->highestmodseq = st.modseq;

	/* merge the view with the state */
	for (i = j = o = 0; i < box->count; i++) {
		struct mail *m = &box->mails[i];
		while (j < st.n && st.v[j].uid < m->uid)
			j++;
		if (j >= st.n || st.v[j].uid != m->uid) {
			if (allow_expunge) {
				free(m->fname);
				free(m->xkw);
				if (cb != NULL && cb->expunge != NULL)
					cb->expunge(cb->ctx, o + 1, m->uid);
				continue;
			}
			m->expunged = 1;
			box->mails[o++] = *m;
			continue;
		}
		struct rec *rc = &st.v[j++];
		unsigned flags;
		uint32_t kw;
		info_to_flags(rc->info, &flags, &kw);
		flags |= m->flags & IMAP_FLAG_RECENT;
		free(m->fname);
		m->fname = rc->fname;
		rc->fname = NULL;
		int xchanged = !m->xkw_dirty && !xkw_eq(m->xkw, rc->xkw);
		if (xchanged) {
			free(m->xkw);
			m->xkw = rc->xkw;
			rc->xkw = NULL;
		}
		box->mails[o++] = *m;
		if (flags != m->flags || kw != m->keywords || xchanged) {
			box->mails[o - 1].flags = (uint8_t)flags;
			box->mails[o - 1].keywords = kw;
			box->mails[o - 1].modseq = rc->modseq;
			if (cb != NULL && cb->flags != NULL)
				cb->flags(cb->ctx, o);
		}
		box->mails[o - 1].modseq = rc->modseq;
	}
	box->count = o;
	uint32_t maxuid = box->count ? box->mails[box->count - 1].uid : 0;
	for (; j < st.n; j++) {
		struct rec *rc = &st.v[j];
		struct mail *m;
		unsigned flags;
		uint32_t kw;
		if (rc->uid <= maxuid)
			continue;
		if (box->count == box->cap) {
			box->cap = box->cap ? box->cap * 2 : 64;
			box->mails = xreallocarray(box->mails, box->cap,
			    sizeof(*box->mails));
		}
		m = &box->mails[box->count++];
		memset(m, 0, sizeof(*m));
		info_to_flags(rc->info, &flags, &kw);
		m->uid = rc->uid;
		m->modseq = rc->modseq;
		m->keywords = kw;
		m->xkw = rc->xkw;
		rc->xkw = NULL;
		m->fname = rc->fname;
		rc->fname = NULL;
		m->vsize = fname_vsize(m->fname);
		if (rc->moved || (box->readonly &&
		    strncmp(m->fname, "new/", 4) == 0)) {
			flags |= IMAP_FLAG_RECENT;
			if (cb != NULL && cb->recent != NULL)
				cb->recent(cb->ctx, box->count);
		}
		m->flags = (uint8_t)flags;
	}
	state_free(&st);
	return 0;
}

char *
maildir_mail_path(struct mailbox *box, unsigned i)
{
	return xasprintf("%s/%s", box->path, box->mails[i].fname);
}

int
maildir_set_flags(struct mailbox *box, unsigned i, unsigned flags,
    const struct maildir_kw *kw)
{
	struct mail *m = &box->mails[i];
	char info[40], *from, *to, *base;
	const char *slash;
	uint32_t keywords = (uint32_t)(kw->w[0] &
	    ((1u << MAILDIR_FILE_KEYWORDS) - 1));

	if (m->expunged)
		return -1;
	flags &= ~(unsigned)IMAP_FLAG_RECENT;
	flags_to_info(flags, keywords, info);
	slash = strchr(m->fname, '/');
	base = xstrndup(slash + 1, base_len(slash + 1));
	from = maildir_mail_path(box, i);
	to = xasprintf("%s/cur/%s:2,%s", box->path, base, info);
	if (strcmp(from, to) != 0 && rename(from, to) < 0) {
		free(from);
		free(to);
		free(base);
		return -1;
	}
	free(m->fname);
	m->fname = xasprintf("cur/%s:2,%s", base, info);
	m->flags = (uint8_t)(flags | (m->flags & IMAP_FLAG_RECENT));
	m->keywords = keywords;
	char *x = maildir_kw_format(kw);
	if (!xkw_eq(x, m->xkw)) {
		free(m->xkw);
		m->xkw = x;
		m->xkw_dirty = 1;
	} else
		free(x);
	free(from);
	free(to);
	free(base);
	return 0;
}

int
maildir_commit(struct mailbox *box)
{
	struct state st;
	int lockfd, r;
	/* the renames are done: a locked rescan records the new flags with
	 * fresh modseqs; then adopt the modseqs into the view */
	if ((lockfd = lock_folder(box->path)) < 0)
		return -1;
	r = state_load(box->path, 0, NULL, 0, &st);
	if (r < 0) {
		close(lockfd);
		state_free(&st);
		return -1;
	}
	/* keywords beyond the file name's letters: into the list */
	int xchanged = 0;
	for (unsigned i = 0, j = 0; i < box->count; i++) {
		struct mail *m = &box->mails[i];
		while (j < st.n && st.v[j].uid < m->uid)
			j++;
		if (!m->xkw_dirty || j >= st.n || st.v[j].uid != m->uid)
			continue;
		m->xkw_dirty = 0;
		if (xkw_eq(m->xkw, st.v[j].xkw))
			continue;
		free(st.v[j].xkw);
		st.v[j].xkw = m->xkw ? xstrdup(m->xkw) : NULL;
		st.v[j].modseq = ++st.modseq;
		xchanged = 1;
	}
	if (xchanged && uidlist_write(box->path, &st) < 0)
		r = -1;
	close(lockfd);
	for (unsigned i = 0, j = 0; i < box->count; i++) {
		box->mails[i].xkw_dirty = 0;
		while (j < st.n && st.v[j].uid < box->mails[i].uid)
			j++;
		if (j < st.n && st.v[j].uid == box->mails[i].uid)
			box->mails[i].modseq = st.v[j].modseq;
	}
	box->highestmodseq = st.modseq;
	if (r < 0) {
		state_free(&st);
		return -1;
	}
	state_free(&st);
	return 0;
}

int
maildir_expunge(struct mailbox *box, unsigned i)
{
	char *p = maildir_mail_path(box, i);
	int r = unlink(p);

	if (r < 0 && errno != ENOENT)
		log_warn("unlink %s: %s", p, strerror(errno));
	free(p);
	return r < 0 && errno != ENOENT ? -1 : 0;
}

int
maildir_read(struct mailbox *box, unsigned i, char **data_r, size_t *len_r)
{
	char *p;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (box->mails[i].expunged)
			return -1;
		p = maildir_mail_path(box, i);
		*data_r = read_file(p, MAIL_FILE_MAX, len_r);
		free(p);
		if (*data_r != NULL)
			return 0;
		if (errno != ENOENT)
			return -1;
		/* renamed by another session: refresh the names */
		uint32_t uid = box->mails[i].uid;
		if (maildir_sync(box, 0, NULL) < 0 || i >= box->count ||
		    box->mails[i].uid != uid)
			return -1;
	}
	return -1;
}

time_t
maildir_internaldate(struct mailbox *box, unsigned i)
{
	char *p = maildir_mail_path(box, i);
	struct stat st;
	time_t t = 0;

	if (stat(p, &st) == 0)
		t = st.st_mtime;
	free(p);
	return t;
}

uint64_t
maildir_psize(struct mailbox *box, unsigned i)
{
	const char *s = strstr(box->mails[i].fname, ",S=");
	char *p;
	struct stat st;

	if (s != NULL)
		return strtoull(s + 3, NULL, 10);
	p = maildir_mail_path(box, i);
	st.st_size = 0;
	if (stat(p, &st) < 0)
		st.st_size = 0;
	free(p);
	return (uint64_t)st.st_size;
}

/* ---- saving and copying ---- */

static char *
unique_base(size_t psize, size_t vsize)
{
	static unsigned counter;
	char host[256];
	struct timeval tv;

	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *c = host; *c; c++)
		if (*c == '/' || *c == ':' || *c == ',')
			*c = '_';
	gettimeofday(&tv, NULL);
	return xasprintf("%lld.M%ldP%dQ%u.%s,S=%zu,W=%zu", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (int)getpid(), ++counter, host, psize, vsize);
}

/* xkws (may be NULL, or hold NULLs): each new message's kw field */
static int
assign_uids(struct mail_user *u, const char *name, const char *const *bases,
    const char *const *xkws, unsigned n, uint32_t *uidvalidity_r,
    uint32_t *uids_r)
{
	char *dir = folder_path(u, name);
	struct state st;
	int lockfd, r;

	if ((lockfd = lock_folder(dir)) < 0) {
		free(dir);
		return -1;
	}
	r = state_load(dir, 0, bases, n, &st);
	if (r < 0) {
		close(lockfd);
		free(dir);
		state_free(&st);
		return -1;
	}
	*uidvalidity_r = st.uidvalidity;
	int xchanged = 0;
	for (unsigned k = 0; k < n; k++) {
		uids_r[k] = 0;
		for (unsigned i = st.n; i-- > 0; )
			if (strcmp(st.v[i].base, bases[k]) == 0) {
				struct rec *rc = &st.v[i];
				uids_r[k] = rc->uid;
				if (xkws != NULL && xkws[k] != NULL &&
				    !xkw_eq(rc->xkw, xkws[k])) {
					free(rc->xkw);
					rc->xkw = xstrdup(xkws[k]);
					rc->modseq = ++st.modseq;
					xchanged = 1;
				}
				break;
			}
	}
	if (xchanged && uidlist_write(dir, &st) < 0)
		r = -1;
	close(lockfd);
	free(dir);
	state_free(&st);
	return r < 0 ? -1 : 0;
}

int
maildir_save(struct mail_user *u, const char *name, const char *data,
    size_t len, unsigned flags, const struct maildir_kw *kw, time_t date,
    uint32_t *uidvalidity_r, uint32_t *uid_r, const char **error_r)
{
	char *dir, *base, *tmp, *dst, info[40], *xkw;
	uint32_t keywords = kw ? (uint32_t)(kw->w[0] &
	    ((1u << MAILDIR_FILE_KEYWORDS) - 1)) : 0;
	size_t psize = 0, vsize = 0;
	struct buf b;
	int fd, ok;

	if (!maildir_exists(u, name)) {
		*error_r = "[TRYCREATE] Mailbox does not exist";
		return -1;
	}
	/* store with LF line ends */
	buf_init(&b, len + 1);
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			continue;
		buf_appendc(&b, data[i]);
		vsize += data[i] == '\n' ? 2 : 1;
	}
	psize = b.len;
	dir = folder_path(u, name);
	base = unique_base(psize, vsize);
	tmp = xasprintf("%s/tmp/%s", dir, base);
	flags_to_info(flags & ~(unsigned)IMAP_FLAG_RECENT, keywords, info);
	dst = xasprintf("%s/cur/%s:2,%s", dir, base, info);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ok = fd >= 0 && (b.len == 0 || write(fd, b.data, b.len) == (ssize_t)b.len) &&
	    fsync(fd) == 0;
	if (ok && date > 0) {
		struct timespec ts[2] = { { date, 0 }, { date, 0 } };
		futimens(fd, ts);
	}
	if (fd >= 0 && close(fd) < 0)
		ok = 0;
	if (!ok || rename(tmp, dst) < 0) {
		log_warn("save %s: %s", tmp, strerror(errno));
		unlink(tmp);
		*error_r = "[SERVERBUG] Cannot save message";
		ok = 0;
	}
	buf_free(&b);
	free(tmp);
	free(dst);
	if (ok) {
		const char *bases[1] = { base };
		xkw = kw ? maildir_kw_format(kw) : NULL;
		const char *xkws[1] = { xkw };
		if (assign_uids(u, name, bases, xkws, 1, uidvalidity_r,
		    uid_r) < 0) {
			*error_r = "[SERVERBUG] Cannot assign UID";
			ok = 0;
		}
		free(xkw);
	}
	free(base);
	free(dir);
	return ok ? 0 : -1;
}

int
maildir_copy(struct mailbox *box, const unsigned *idx, unsigned n,
    const char *dest, uint32_t *uidvalidity_r, uint32_t *uids_r,
    const char **error_r)
{
	char **bases;
	char *dir;
	int ok = 1;

	if (!maildir_exists(box->user, dest)) {
		*error_r = "[TRYCREATE] Mailbox does not exist";
		return -1;
	}
	dir = folder_path(box->user, dest);
	bases = xcalloc(n + 1, sizeof(*bases));
	for (unsigned k = 0; k < n && ok; k++) {
		unsigned i = idx[k];
		struct mail *m = &box->mails[i];
		char info[40], *src, *dst, *data;
		size_t len;
		flags_to_info(m->flags & ~(unsigned)IMAP_FLAG_RECENT,
		    m->keywords, info);
		bases[k] = unique_base((size_t)maildir_psize(box, i),
		    (size_t)m->vsize);
		/* keep ,W= only when known: strip it otherwise */
		if (m->vsize == 0) {
			char *w = strstr(bases[k], ",W=");
			if (w != NULL)
				*w = '\0';
		}
		src = maildir_mail_path(box, i);
		dst = xasprintf("%s/cur/%s:2,%s", dir, bases[k], info);
		if (link(src, dst) < 0) {
			if (maildir_read(box, i, &data, &len) == 0) {
				char *tmp = xasprintf("%s/tmp/%s", dir, bases[k]);
				int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL |
				    O_CLOEXEC, 0600);
				ok = fd >= 0 && write(fd, data, len) == (ssize_t)len &&
				    fsync(fd) == 0;
				if (fd >= 0)
					close(fd);
				if (!ok || rename(tmp, dst) < 0) {
					unlink(tmp);
					ok = 0;
				}
				free(tmp);
				free(data);
			} else
				ok = 0;
		}
		free(src);
		free(dst);
	}
	const char **xkws = xcalloc(n + 1, sizeof(*xkws));
	for (unsigned k = 0; k < n; k++)
		xkws[k] = box->mails[idx[k]].xkw;
	if (ok && assign_uids(box->user, dest, (const char *const *)bases,
	    xkws, n, uidvalidity_r, uids_r) < 0)
		ok = 0;
	free(xkws);
	for (unsigned k = 0; k < n; k++)
		free(bases[k]);
	free(bases);
	free(dir);
	if (!ok)
		*error_r = "[SERVERBUG] Copy failed";
	return ok ? 0 : -1;
}

void
maildir_watch_paths(struct mailbox *box, char *paths[3])
{
	paths[0] = xstrdup(box->path);
	paths[1] = xasprintf("%s/new", box->path);
	paths[2] = xasprintf("%s/cur", box->path);
}

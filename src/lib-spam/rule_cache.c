/*
 * rule_cache.c - the on-disk compiled-rule cache (format: doc/spam.md,
 * "Compiled-rule cache").
 *
 * After a rule set is parsed and finished, its rule table, the PCRE2
 * patterns (pcre2_serialize_encode) and the Vectorscan databases
 * (hs_serialize_database) are written to one file named after a hash of
 * the rule specs.  The next start reads it instead of parsing: it is
 * used only if every source text recorded in it (rule files, included
 * files, the built-in set) still hashes the same and the top-level file
 * list of each spec is unchanged; otherwise it is stale and rebuilt.
 *
 * The file is parsed input: it comes from a directory the mail system
 * writes, but it may be truncated or corrupt.  The whole payload is
 * covered by a 64-bit checksum checked before anything is decoded; every
 * read is bounds-checked, every count and index range-checked (a bad
 * file is rejected, the rules are parsed from source instead).  PCRE2's
 * and Vectorscan's deserializers trust their input (a crafted pattern
 * blob with a valid checksum can make the process read or jump where it
 * likes), so the file is only read at all when nobody but this user or
 * root can have written it: the directory and the file must be owned by
 * the effective uid or root and be writable by nobody else, and the
 * file is opened without following a symbolic link.  Before PCRE2 sees
 * a pattern section, its header must be the running library's (magic,
 * version, configuration, character tables) and every code's length
 * must stay inside the section.  ruleset_cache_parse() without
 * decode_blobs (the fuzz target) compiles the patterns from their text
 * instead.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY        /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "buf.h"
#include "fdio.h"
#include "mem.h"
#include "rules-private.h"
#include "builtin.h"

#define CACHE_MAGIC "TMPSRC\r\n"
#define CACHE_VERSION RULE_CACHE_VERSION
#define CACHE_HDR 32                    /* magic, version, flags, checksum, length */
#define CACHE_MAX (256u * 1024 * 1024)
#define PCRE2_SER_HDR 16                /* magic, version, config, number of codes */
#define PCRE2_SER_ID 12                 /* the first three: which build wrote it */

/* ---- hashing (sources and the payload checksum): XXH3, which reads
 * the 6 MB of a cache of Debian's rules in well under a millisecond ---- */

uint64_t
cache_hash(const void *p, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, n, seed);
}

/* ---- writer ---- */

/* The payload, and the strings it refers to: each distinct string once,
 * NUL-terminated, in a table that a read copies in one piece. */
struct wr {
	struct buf b;
	struct buf tab;
	uint32_t *ht;           /* open addressing: table offset + 1 */
	size_t hcap, nht;
	int full;               /* the table outgrew the file's limit */
};

static void
put(struct wr *w, const void *p, size_t n)
{
	(void)buf_append(&w->b, p, n);
}

static void put_u8(struct wr *w, unsigned v) { unsigned char c = (unsigned char)v; put(w, &c, 1); }
static void put_u32(struct wr *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(struct wr *w, uint64_t v) { put(w, &v, 8); }
static void put_f64(struct wr *w, double v) { put(w, &v, 8); }

static size_t
tab_slot(const struct wr *w, const char *s)
{
	size_t i = (size_t)cache_hash(s, strlen(s), 0) & (w->hcap - 1);

	while (w->ht[i] != 0 && strcmp((const char *)w->tab.data + w->ht[i] - 1, s) != 0)
		i = (i + 1) & (w->hcap - 1);
	return i;
}

/* A string as a reference into the table: its offset + 1, 0 for NULL. */
static void
put_str(struct wr *w, const char *s)
{
	size_t i;

	if (s == NULL) {
		put_u32(w, 0);
		return;
	}
	if (w->nht * 2 >= w->hcap) {
		uint32_t *old = w->ht;
		size_t ocap = w->hcap;
		w->hcap = ocap ? ocap * 2 : 4096;
		w->ht = xcalloc(w->hcap, sizeof(*w->ht));
		for (size_t k = 0; k < ocap; k++)
			if (old[k] != 0)
				w->ht[tab_slot(w, (const char *)w->tab.data + old[k] - 1)] = old[k];
		free(old);
	}
	i = tab_slot(w, s);
	if (w->ht[i] == 0) {
		size_t off = w->tab.len;
		if (buf_append(&w->tab, s, strlen(s) + 1) < 0 || w->tab.len >= UINT32_MAX) {
			w->full = 1;
			put_u32(w, 0);
			return;
		}
		w->ht[i] = (uint32_t)off + 1;
		w->nht++;
	}
	put_u32(w, w->ht[i]);
}

/* ---- reader: every read bounds-checked; the first failure sticks ---- */

struct rd {
	const unsigned char *p;
	size_t left;
	const char *err;
	const char *strs;       /* the string table (rs->strs) */
	size_t nstrs;
	size_t metas_used;      /* of rs->metas */
};

static int
get(struct rd *r, void *out, size_t n)
{
	if (r->err != NULL || n > r->left) {
		if (r->err == NULL)
			r->err = "truncated";
		memset(out, 0, n);
		return -1;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

static unsigned get_u8(struct rd *r) { unsigned char c; get(r, &c, 1); return c; }
static uint32_t get_u32(struct rd *r) { uint32_t v; get(r, &v, 4); return v; }
static uint64_t get_u64(struct rd *r) { uint64_t v; get(r, &v, 8); return v; }
static double get_f64(struct rd *r) { double v; get(r, &v, 8); return v; }

/* A string (NULL allowed when nullable): a pointer into the string
 * table, whose last byte is a NUL; NULL + r->err on error. */
static char *
get_str(struct rd *r, int nullable)
{
	uint32_t ref = get_u32(r);

	if (r->err != NULL)
		return NULL;
	if (ref == 0) {
		if (!nullable)
			r->err = "missing string";
		return NULL;
	}
	if (ref - 1 >= r->nstrs) {
		r->err = "bad string reference";
		return NULL;
	}
	return (char *)r->strs + ref - 1;
}

/* A count of items each at least `min` bytes long. */
static uint32_t
get_count(struct rd *r, size_t min, uint32_t max)
{
	uint32_t n = get_u32(r);

	if (r->err == NULL && (n > max || (min > 0 && n > r->left / min)))
		r->err = "bad count";
	return r->err ? 0 : n;
}

/* ---- PCRE2's serialized patterns, as the running library lays them out ---- */

/*
 * pcre2_serialize_decode() takes no length: it copies each code by the
 * block size stored in the code itself.  So before it runs, the section
 * is walked here: the header (magic, version, configuration) and the
 * character tables must be what this library writes, and each code's
 * block size must fit in what is left.  The layout (the tables' length,
 * where a code keeps its block size) is learnt once by serializing two
 * probe patterns of known sizes with the running library.
 */
struct ser_layout {
	int state;                      /* 0 not probed, 1 ready, -1 failed */
	unsigned char id[PCRE2_SER_ID]; /* magic, version, config */
	unsigned char *tables;
	size_t ntables;
	size_t bs_off;                  /* offset of a code's block size */
};

static struct ser_layout ser_layouts[2];        /* 8-bit, 32-bit */

static const char *const ser_probes[2] = { "a", "(?:abc|def)+x[^q]\\d{2,5}(?i)zz" };

/* Serialize the probes with the 8-bit (wide 0) or 32-bit library:
 * the blob (free with free()), its length and the two codes' sizes. */
static int
ser_probe(int wide, unsigned char **blob_r, size_t *len_r, size_t size_r[2])
{
	uint8_t *ser = NULL;
	PCRE2_SIZE sersize = 0;
	int err, rc;
	PCRE2_SIZE off;

	if (!wide) {
		const pcre2_code *c[2];
		pcre2_code *re[2];
		for (int i = 0; i < 2; i++) {
			re[i] = pcre2_compile((PCRE2_SPTR)ser_probes[i], PCRE2_ZERO_TERMINATED,
			    0, &err, &off, NULL);
			c[i] = re[i];
		}
		rc = re[0] && re[1] &&
		    pcre2_pattern_info(re[0], PCRE2_INFO_SIZE, &size_r[0]) == 0 &&
		    pcre2_pattern_info(re[1], PCRE2_INFO_SIZE, &size_r[1]) == 0 &&
		    pcre2_serialize_encode(c, 2, &ser, &sersize, NULL) == 2;
		pcre2_code_free(re[0]);
		pcre2_code_free(re[1]);
		if (!rc)
			return -1;
		*blob_r = xmalloc(sersize);
		memcpy(*blob_r, ser, sersize);
		pcre2_serialize_free(ser);
	} else {
		const pcre2_code_32 *c[2];
		pcre2_code_32 *re[2];
		for (int i = 0; i < 2; i++) {
			re[i] = wide_compile(ser_probes[i], strlen(ser_probes[i]), 0, &err, &off);
			c[i] = re[i];
		}
		rc = re[0] && re[1] &&
		    pcre2_pattern_info_32(re[0], PCRE2_INFO_SIZE, &size_r[0]) == 0 &&
		    pcre2_pattern_info_32(re[1], PCRE2_INFO_SIZE, &size_r[1]) == 0 &&
		    pcre2_serialize_encode_32(c, 2, &ser, &sersize, NULL) == 2;
		pcre2_code_free_32(re[0]);
		pcre2_code_free_32(re[1]);
		if (!rc)
			return -1;
		*blob_r = xmalloc(sersize);
		memcpy(*blob_r, ser, sersize);
		pcre2_serialize_free_32(ser);
	}
	*len_r = sersize;
	return 0;
}

/* The running library's layout for 8-bit (0) or 32-bit (1) patterns,
 * or NULL when it could not be learnt. */
static const struct ser_layout *
ser_layout(int wide)
{
	struct ser_layout *l = &ser_layouts[wide];
	unsigned char *blob = NULL;
	size_t len = 0, sz[2], first;

	if (l->state != 0)
		return l->state > 0 ? l : NULL;
	l->state = -1;
	if (ser_probe(wide, &blob, &len, sz) < 0)
		return NULL;
	if (sz[0] == sz[1] || len < PCRE2_SER_HDR + sz[0] + sz[1]) {
		free(blob);
		return NULL;
	}
	l->ntables = len - PCRE2_SER_HDR - sz[0] - sz[1];
	first = PCRE2_SER_HDR + l->ntables;
	/* the one place where both codes hold their own size */
	for (size_t o = 0; o + sizeof(size_t) <= sz[0] && o + sizeof(size_t) <= sz[1]; o++) {
		size_t a, b;
		memcpy(&a, blob + first + o, sizeof(a));
		memcpy(&b, blob + first + sz[0] + o, sizeof(b));
		if (a == sz[0] && b == sz[1]) {
			l->bs_off = o;
			l->state = 1;
			break;
		}
	}
	if (l->state > 0) {
		memcpy(l->id, blob, PCRE2_SER_ID);
		l->tables = xmalloc(l->ntables ? l->ntables : 1);
		memcpy(l->tables, blob + PCRE2_SER_HDR, l->ntables);
	}
	free(blob);
	return l->state > 0 ? l : NULL;
}

/* NULL if p[0..len) is a serialization of ncodes patterns by this
 * library whose codes all lie inside it; else why not. */
static const char *
ser_check(const unsigned char *p, uint64_t len, uint32_t ncodes, int wide)
{
	const struct ser_layout *l = ser_layout(wide);
	uint64_t off;
	int32_t n;

	if (l == NULL)
		return "cannot check serialized patterns with this PCRE2";
	if (len < PCRE2_SER_HDR + (uint64_t)l->ntables)
		return "bad pattern section";
	if (memcmp(p, l->id, PCRE2_SER_ID) != 0)
		return "patterns from another PCRE2 build";
	memcpy(&n, p + PCRE2_SER_ID, 4);
	if (n < 0 || (uint32_t)n != ncodes)
		return "bad pattern count";
	if (memcmp(p + PCRE2_SER_HDR, l->tables, l->ntables) != 0)
		return "patterns with other character tables";
	off = PCRE2_SER_HDR + l->ntables;
	for (uint32_t i = 0; i < ncodes; i++) {
		size_t bs;
		if (len - off < l->bs_off + sizeof(bs))
			return "truncated pattern";
		memcpy(&bs, p + off + l->bs_off, sizeof(bs));
		if (bs <= l->bs_off + sizeof(bs) || bs > len - off)
			return "bad pattern length";
		off += bs;
	}
	if (off != len)
		return "bad pattern section length";
	return NULL;
}

/*
 * The decoded patterns of a section go into one block, rs->arena[wide],
 * populated in one call (a cache of SpamAssassin's rules holds some
 * 4 MB of them: page by page, a thousand page faults).  PCRE2 allocates
 * through the general context given to pcre2_serialize_decode(), and
 * each code keeps that allocator: what no longer fits (a JIT compile's
 * bookkeeping later on) comes from malloc(), and freeing a piece of the
 * block does nothing (the block goes with the rule set).
 */
static void *
arena_malloc(PCRE2_SIZE n, void *data)
{
	struct code_arena *a = data;
	size_t need = ((size_t)n + 15) & ~(size_t)15;

	if (need >= n && a->len - a->used >= need) {
		void *p = a->p + a->used;
		a->used += need;
		return p;
	}
	return malloc(n);
}

static void
arena_free(void *p, void *data)
{
	const struct code_arena *a = data;

	if (!in_block(p, a->p, a->len))
		free(p);
}

/* A general context for decoding a section of plen bytes into
 * rs->arena[wide] (8-bit or 32-bit context: the caller casts). */
static void *
arena_context(struct ruleset *rs, int wide, uint64_t plen, uint32_t ncodes)
{
	struct code_arena *a = &rs->arena[wide];

	/* the codes are at most the section; each rounded up to 16 bytes;
	 * the context, the tables */
	a->len = (size_t)plen + 16 * (size_t)ncodes + 4096;
	a->p = xmap(a->len);
	a->used = 0;
	if (!wide)
		return pcre2_general_context_create(arena_malloc, arena_free, a);
	return pcre2_general_context_create_32(arena_malloc, arena_free, a);
}

/* A block written whole right away: a large one mapped and populated
 * in one call, a small one (a test's, the fuzz target's, where the
 * address sanitizer should see its bounds) from malloc(). */
#define BLOCK_MAPPED (64 * 1024)

static void *
block_alloc(size_t n)
{
	return n >= BLOCK_MAPPED ? xmap(n) : xcalloc(1, n);
}

static void
block_free(void *p, size_t n)
{
	if (n >= BLOCK_MAPPED)
		xunmap(p, n);
	else
		free(p);
}

void
ruleset_cache_free(struct ruleset *rs)
{
	block_free(rs->metas, rs->nmetas * sizeof(*rs->metas));
	rs->metas = NULL;
	rs->nmetas = 0;
	if (rs->map != NULL)
		(void)munmap(rs->map, rs->maplen);
	else
		block_free(rs->strs, rs->nstrs);
	rs->map = NULL;
	rs->maplen = 0;
	rs->strs = NULL;
	rs->nstrs = 0;
	for (int w = 0; w < 2; w++) {
		xunmap(rs->arena[w].p, rs->arena[w].len);
		rs->arena[w].p = NULL;
		rs->arena[w].len = rs->arena[w].used = 0;
	}
}

/* ---- sources ---- */

static const char *
builtin_text(const char *name)
{
	for (unsigned i = 0; i < spam_builtin_nrules; i++)
		if (strcmp(spam_builtin_rules[i].name, name) == 0)
			return spam_builtin_rules[i].text;
	return NULL;
}

void
source_stat(uint64_t st[5], const struct stat *sb)
{
	struct timespec now;
	uint64_t ct = (uint64_t)sb->st_ctim.tv_sec * 1000000000u + (uint64_t)sb->st_ctim.tv_nsec;

	memset(st, 0, 5 * sizeof(*st));
	if (clock_gettime(CLOCK_REALTIME, &now) < 0 || now.tv_sec - sb->st_ctim.tv_sec < 2)
		return;
	st[0] = (uint64_t)sb->st_dev;
	st[1] = (uint64_t)sb->st_ino;
	st[2] = (uint64_t)sb->st_size;
	st[3] = (uint64_t)sb->st_mtim.tv_sec * 1000000000u + (uint64_t)sb->st_mtim.tv_nsec;
	st[4] = ct;
}

/* Is the file as it was when its text was read (src->st)?  A file
 * whose device, inode, size, mtime and ctime are all unchanged has not
 * been written since: the kernel sets the ctime on every change, and no
 * one can set it back. */
static int
source_unchanged(const struct rule_source *src)
{
	struct stat sb;
	uint64_t st[5];

	if (src->st[0] == 0 && src->st[1] == 0)
		return 0;
	if (stat(src->name, &sb) < 0)
		return 0;
	source_stat(st, &sb);
	return memcmp(st, src->st, sizeof(st)) == 0;
}

/* Hash of a file's contents (the text up to the first NUL, as
 * load_file reads it); -1 if it cannot be read.  Hashed as it is read,
 * through one chunk on the stack: gathering the text first cost a page
 * fault per page of the largest file, and copies as the buffer grew. */
static int
hash_file(const char *path, uint64_t *h_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char chunk[65536];
	XXH3_state_t st;
	ssize_t n;

	if (fd < 0)
		return -1;
	(void)XXH3_64bits_reset_withSeed(&st, 0);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		const char *nul;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		nul = memchr(chunk, '\0', (size_t)n);
		(void)XXH3_64bits_update(&st, chunk, nul != NULL ? (size_t)(nul - chunk) : (size_t)n);
		if (nul != NULL)
			break;
	}
	close(fd);
	*h_r = XXH3_64bits_digest(&st);
	return 0;
}

/* The top-level source names the specs give now, in load order. */
static int
top_sources(const char *const *specs, char ***names_r, size_t *n_r)
{
	char **names = NULL;
	size_t n = 0;

	for (size_t i = 0; specs[i] != NULL; i++) {
		char **v, *err = NULL;
		size_t nv;
		if (strcmp(specs[i], "builtin") == 0) {
			for (unsigned k = 0; k < spam_builtin_nrules; k++) {
				names = xreallocarray(names, n + 1, sizeof(char *));
				names[n++] = xstrdup(spam_builtin_rules[k].name);
			}
			continue;
		}
		if (ruleset_list_files(specs[i], &v, &nv, &err) < 0) {
			free(err);
			for (size_t k = 0; k < n; k++)
				free(names[k]);
			free(names);
			return -1;
		}
		names = xreallocarray(names, n + nv + 1, sizeof(char *));
		for (size_t k = 0; k < nv; k++)
			names[n++] = v[k];
		free(v);
	}
	*names_r = names;
	*n_r = n;
	return 0;
}

/*
 * Is the cache's source list still what the specs load?  1 yes, 0 stale.
 */
static int
sources_current(const struct rule_source *src, size_t nsrc, const char *const *specs)
{
	char **top;
	size_t ntop, t = 0;
	int ok = 1;

	if (top_sources(specs, &top, &ntop) < 0)
		return 0;
	for (size_t i = 0; i < nsrc && ok; i++) {
		uint64_t h;
		if (src[i].top != 0) {
			if (t >= ntop || strcmp(top[t], src[i].name) != 0)
				ok = 0;
			t++;
		}
		if (!ok)
			break;
		if (src[i].top == 2) {
			const char *text = builtin_text(src[i].name);
			ok = text != NULL && cache_hash(text, strlen(text), 0) == src[i].hash;
		} else
			ok = source_unchanged(&src[i]) ||
			    (hash_file(src[i].name, &h) == 0 && h == src[i].hash);
	}
	if (t != ntop)
		ok = 0;
	for (size_t i = 0; i < ntop; i++)
		free(top[i]);
	free(top);
	return ok;
}

/* ---- where the file lives: who else could have written it ---- */

/* NULL if st (the cache directory or file) is owned by the effective
 * uid or root and writable by nobody else; else why not. */
static const char *
trust_problem(const struct stat *st)
{
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return "owned by another user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return "writable by group or others";
	return NULL;
}

/*
 * Open the directory of path and check it: its fd (*base_r the file's
 * name in it), or -1 with *error_r (malloc'ed) when it is not to be
 * trusted, or -1 and *error_r NULL when it cannot be opened.
 */
static int
cache_dir_open(const char *path, const char **base_r, char **error_r)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".") :
	    slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
	const char *why;
	struct stat sb;
	int dfd;

	*error_r = NULL;
	*base_r = slash == NULL ? path : slash + 1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && fstat(dfd, &sb) < 0) {
		close(dfd);
		dfd = -1;
	}
	if (dfd >= 0 && (why = trust_problem(&sb)) != NULL) {
		*error_r = xasprintf("directory %s is %s (uid %ld, mode %03o)", dir, why,
		    (long)sb.st_uid, (unsigned)(sb.st_mode & 07777));
		close(dfd);
		dfd = -1;
	}
	free(dir);
	return dfd;
}

/* ---- file name ---- */

char *
ruleset_cache_path(const char *dir, const char *const *specs, int use_hs)
{
	/* with the prefilter, which scanner the databases were compiled
	 * for (rule_prefilter.c): a cache made for another is not taken */
	const char *kind = use_hs ? prefilter_scanner() : "no-hs";
	uint64_t h;

	if (kind == NULL)
		kind = "hs-none";
	h = cache_hash(kind, strlen(kind), CACHE_VERSION);

	for (size_t i = 0; specs[i] != NULL; i++)
		h = cache_hash(specs[i], strlen(specs[i]) + 1, h);
	return xasprintf("%s/spam-rules-%016llx.cache", dir, (unsigned long long)h);
}

/* ---- save ---- */

/*
 * After a save into the directory dfd: remove the cache files an older
 * or newer Tempest wrote (another format version: none of this build's
 * loads will take them, and each upgrade would leave another behind),
 * and temporary files a writer left over an hour ago.  Only regular
 * files of this user's, named as this code names them; files of other
 * rule sets of the same version stay (another user of the directory may
 * load them).
 */
static void
prune_cache_dir(int dfd, const char *keep)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	time_t now = time(NULL);

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		int tmp = len > 4 && strcmp(n + len - 4, ".tmp") == 0 &&
		    strstr(n, ".cache.") != NULL;
		unsigned char hdr[12];
		struct stat sb;
		uint32_t v;
		int ffd;

		if (strncmp(n, "spam-rules-", 11) != 0 || strcmp(n, keep) == 0 ||
		    (!tmp && (len < 6 || strcmp(n + len - 6, ".cache") != 0)))
			continue;
		ffd = openat(dfd, n, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (ffd < 0)
			continue;
		if (fstat(ffd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid()) {
			close(ffd);
			continue;
		}
		if (tmp) {
			if (now - sb.st_mtime > 3600)
				(void)unlinkat(dfd, n, 0);
		} else if (pread(ffd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
		    memcmp(hdr, CACHE_MAGIC, 8) == 0) {
			memcpy(&v, hdr + 8, 4);
			if (v != CACHE_VERSION)
				(void)unlinkat(dfd, n, 0);
		}
		close(ffd);
	}
	closedir(d);
}

static void
put_rule(struct wr *b, const struct rule *r)
{
	put_str(b, r->name);
	put_u8(b, r->type);
	put_str(b, r->hdr);
	put_u8(b, r->hmod);
	put_u8(b, r->exists);
	put_str(b, r->if_unset);
	put_u8(b, r->negate);
	put_u8(b, r->re != NULL ? 1 : r->re32 != NULL ? 2 : 0);
	put_str(b, r->src);
	put_str(b, r->pat);
	put_u32(b, r->opts);
	put_str(b, r->eval >= 0 ? eval_name(r->eval) : NULL);
	put_u32(b, (uint32_t)r->neval_args);
	for (int i = 0; i < r->neval_args; i++)
		put_str(b, r->eval_args[i]);
	put_u8(b, r->eval_unknown);
	put_u32(b, (uint32_t)r->meta.n);
	for (size_t i = 0; i < r->meta.n; i++) {
		put_u8(b, r->meta.v[i].op);
		put_f64(b, r->meta.v[i].num);
		put_str(b, r->meta.v[i].name);
		put_u32(b, (uint32_t)r->meta.v[i].idx);
	}
	for (int i = 0; i < 4; i++)
		put_f64(b, r->score[i]);
	put_u8(b, (unsigned)r->nscores);
	put_str(b, r->describe);
	put_u32(b, r->tflags);
	put_u32(b, r->maxhits);
	put_u8(b, (unsigned)r->bad);
	put_u8(b, (unsigned)r->dep_skipped);
	put_u8(b, (unsigned)r->unneeded);
}

static void
put_strs(struct wr *b, char **v, size_t n)
{
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_str(b, v[i]);
}

static void
wr_free(struct wr *w)
{
	buf_free(&w->b);
	buf_free(&w->tab);
	free(w->ht);
}

int
ruleset_cache_save(const struct ruleset *rs, const char *path, char **error_r)
{
	struct wr w = { 0 };
	struct buf b;
	const pcre2_code **codes;
	const pcre2_code_32 **codes32;
	size_t ncodes = 0, ncodes32 = 0;
	uint8_t *ser = NULL;
	PCRE2_SIZE sersize = 0;
	char *tmp, *derr;
	const char *base;
	int fd, dfd, ret = -1, ok;
	uint64_t sum;

	buf_init(&w.b, CACHE_MAX);
	buf_init(&w.tab, CACHE_MAX);
	put_u32(&w, (uint32_t)rs->nsrcs);
	for (size_t i = 0; i < rs->nsrcs; i++) {
		put_str(&w, rs->srcs[i].name);
		put_u64(&w, rs->srcs[i].hash);
		for (int k = 0; k < 5; k++)
			put_u64(&w, rs->srcs[i].st[k]);
		put_u8(&w, (unsigned)rs->srcs[i].top);
	}
	put_f64(&w, rs->required);
	put_strs(&w, rs->welcome, rs->nwelcome);
	put_strs(&w, rs->block, rs->nblock);
	for (int k = 0; k < 3; k++)
		put_strs(&w, rs->rb.v[k], rs->rb.n[k]);
	put_strs(&w, rs->redir, rs->nredir);
	for (int k = 0; k < 3; k++)
		put_strs(&w, rs->fm[k], rs->nfm[k]);
	put_str(&w, rs->ok_locales);
	put_u32(&w, (uint32_t)rs->nalists);
	for (size_t l = 0; l < rs->nalists; l++) {
		put_str(&w, rs->alists[l].name);
		put_strs(&w, rs->alists[l].v, rs->alists[l].n);
	}
	put_u32(&w, rs->st.rules);
	put_u32(&w, rs->st.active);
	put_u32(&w, rs->st.eval_skipped);
	put_u32(&w, rs->st.eval_supported);
	put_u32(&w, rs->st.meta_skipped);
	put_u32(&w, rs->st.bad_lines);
	put_u32(&w, rs->st.ignored_lines);
	put_u32(&w, rs->st.skipped_blocks);
	put_strs(&w, (char **)rs->errors, rs->nerrors);
	put_u32(&w, (uint32_t)rs->n);
	{
		size_t nmeta = 0;
		for (size_t i = 0; i < rs->n; i++)
			nmeta += rs->v[i].meta.n;
		put_u32(&w, (uint32_t)nmeta);   /* (at most 1,000,000 per rule) */
	}
	codes = xcalloc(rs->n ? rs->n : 1, sizeof(*codes));
	codes32 = xcalloc(rs->n ? rs->n : 1, sizeof(*codes32));
	for (size_t i = 0; i < rs->n; i++) {
		put_rule(&w, &rs->v[i]);
		if (rs->v[i].re != NULL)
			codes[ncodes++] = rs->v[i].re;
		else if (rs->v[i].re32 != NULL)
			codes32[ncodes32++] = rs->v[i].re32;
	}
	/* the 8-bit patterns, then the 32-bit ones (rule_wide.c) */
	for (int wide = 0; wide < 2; wide++) {
		size_t nc = wide ? ncodes32 : ncodes;
		int rc = 0;
		ser = NULL;
		sersize = 0;
		if (nc > 0 && !wide)
			rc = pcre2_serialize_encode(codes, (int32_t)nc, &ser, &sersize, NULL);
		else if (nc > 0)
			rc = pcre2_serialize_encode_32(codes32, (int32_t)nc,
			    (uint8_t **)&ser, &sersize, NULL);
		if (rc < 0) {
			free(codes);
			free(codes32);
			wr_free(&w);
			*error_r = xstrdup("cannot serialize the patterns");
			return -1;
		}
		put_u32(&w, (uint32_t)nc);
		put_u64(&w, nc ? (uint64_t)sersize : 0);
		if (nc)
			put(&w, ser, sersize);
		if (ser != NULL && !wide)
			pcre2_serialize_free(ser);
		else if (ser != NULL)
			pcre2_serialize_free_32(ser);
	}
	free(codes);
	free(codes32);
#ifdef HAVE_HS
	put_u32(&w, (uint32_t)rs->npf);
	for (size_t j = 0; j < rs->npf; j++) {
		char *bytes = NULL;
		size_t len = 0;
		if (pf_hs.serialize_database(rs->pf[j].db, &bytes, &len) != HS_SUCCESS) {
			wr_free(&w);
			*error_r = xstrdup("cannot serialize the Vectorscan database");
			return -1;
		}
		put_u8(&w, (unsigned)rs->pf[j].kind);
		put_u32(&w, rs->pf[j].n);
		for (unsigned i = 0; i < rs->pf[j].n; i++)
			put_u32(&w, rs->pf[j].rule[i]);
		put(&w, rs->pf[j].grp, rs->pf[j].n);
		put_u64(&w, len);
		put(&w, bytes, len);
		free(bytes);
	}
#else
	put_u32(&w, 0);
#endif
	/* header, string table, the rest */
	buf_init(&b, CACHE_MAX);
	(void)buf_append(&b, CACHE_MAGIC, 8);
	{
		uint32_t v[2] = { CACHE_VERSION, (uint32_t)rs->use_hs }, tl = (uint32_t)w.tab.len;
		uint64_t z[2] = { 0, 0 };       /* checksum, payload length: below */
		(void)buf_append(&b, v, sizeof(v));
		(void)buf_append(&b, z, sizeof(z));
		(void)buf_append(&b, &tl, 4);
	}
	(void)buf_append(&b, w.tab.data, w.tab.len);
	ok = buf_append(&b, w.b.data, w.b.len) == 0 && !w.full && w.b.len < CACHE_MAX &&
	    w.tab.len < CACHE_MAX && b.len < CACHE_MAX;
	wr_free(&w);
	if (!ok) {
		buf_free(&b);
		*error_r = xstrdup("rule cache too large");
		return -1;
	}
	sum = cache_hash(b.data + CACHE_HDR, b.len - CACHE_HDR, CACHE_VERSION);
	memcpy(b.data + 16, &sum, 8);
	sum = b.len - CACHE_HDR;
	memcpy(b.data + 24, &sum, 8);
	/* only where it would be read back: a directory nobody else writes
	 * (so the temporary name is ours: a leftover is removed, and
	 * O_EXCL | O_NOFOLLOW never writes through a planted link) */
	if ((dfd = cache_dir_open(path, &base, &derr)) < 0) {
		*error_r = derr != NULL ? derr : xasprintf("%s: %s", path, strerror(errno));
		buf_free(&b);
		return -1;
	}
	tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		*error_r = xasprintf("%s: %s", tmp, strerror(errno));
	} else if (fd_write_all(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		*error_r = xasprintf("%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
	} else if (close(fd) < 0 || rename(tmp, path) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		unlink(tmp);
	} else {
		ret = 0;
		prune_cache_dir(dfd, base);
	}
	close(dfd);
	free(tmp);
	buf_free(&b);
	return ret;
}

/* ---- load ---- */

static void
get_strs(struct rd *r, char ***v_r, size_t *n_r)
{
	uint32_t n = get_count(r, 4, 10000000);

	*v_r = NULL;
	*n_r = 0;
	for (uint32_t i = 0; i < n && r->err == NULL; i++) {
		char *s = get_str(r, 0);
		if (s == NULL)
			break;
		*v_r = xreallocarray(*v_r, *n_r + 1, sizeof(char *));
		(*v_r)[(*n_r)++] = s;
	}
}

static int
get_rule(struct rd *rd, struct ruleset *rs, size_t nrules, int *has_re_r)
{
	char *name = get_str(rd, 0), *ev;
	struct rule *r;
	unsigned v;

	if (name == NULL)
		return -1;
	if ((r = ruleset_add(rs, name)) == NULL) {
		rd->err = "duplicate or too many rules";
		return -1;
	}
	v = get_u8(rd);
	if (v > RULE_MIMEHEADER)
		rd->err = "bad rule type";
	r->type = (enum rule_type)v;
	r->hdr = get_str(rd, 1);
	v = get_u8(rd);
	if (v > HM_NAME_RAW)
		rd->err = "bad header modifier";
	r->hmod = (enum hdr_mod)v;
	r->exists = get_u8(rd) != 0;
	r->if_unset = get_str(rd, 1);
	r->negate = get_u8(rd) != 0;
	*has_re_r = get_u8(rd);
	if (*has_re_r > 2)
		rd->err = "bad pattern kind";
	r->src = get_str(rd, 1);
	r->pat = get_str(rd, 1);
	r->opts = get_u32(rd) & (PCRE2_CASELESS | PCRE2_MULTILINE | PCRE2_DOTALL | PCRE2_EXTENDED);
	if (*has_re_r && r->src == NULL && rd->err == NULL)
		rd->err = "pattern without text";
	ev = get_str(rd, 1);
	r->eval = -1;
	if (ev != NULL) {
		r->eval = eval_lookup(ev);
		if (r->eval < 0 && rd->err == NULL)
			rd->err = "unknown eval test";
	}
	v = get_count(rd, 4, 1000);
	for (unsigned i = 0; i < v && rd->err == NULL; i++) {
		char *a = get_str(rd, 0);
		if (a == NULL)
			break;
		r->eval_args = xreallocarray(r->eval_args, (size_t)r->neval_args + 1, sizeof(char *));
		r->eval_args[r->neval_args++] = a;
	}
	r->eval_unknown = get_u8(rd);
	if (r->eval_unknown > 2)
		r->eval_unknown = 1;
	v = get_count(rd, 17, 1000000);
	if (v > rs->nmetas - rd->metas_used && rd->err == NULL)
		rd->err = "bad meta count";
	if (v > 0 && rd->err == NULL) {
		r->meta.v = rs->metas + rd->metas_used;
		rd->metas_used += v;
		for (unsigned i = 0; i < v && rd->err == NULL; i++) {
			struct meta_tok *t = &r->meta.v[i];
			unsigned op = get_u8(rd);
			int32_t idx;
			r->meta.n = i + 1;
			if (op > MOP_OR)
				rd->err = "bad meta operator";
			t->op = (enum meta_op)op;
			t->num = get_f64(rd);
			t->name = get_str(rd, 1);
			idx = (int32_t)get_u32(rd);
			if (idx < -1 || (idx >= 0 && (size_t)idx >= nrules))
				rd->err = "bad meta operand";
			if (t->op == MOP_RULE && t->name == NULL && rd->err == NULL)
				rd->err = "meta operand without a name";
			t->idx = idx;
		}
	}
	for (int i = 0; i < 4; i++)
		r->score[i] = get_f64(rd);
	v = get_u8(rd);
	if (v != 0 && v != 1 && v != 4)
		rd->err = "bad score count";
	r->nscores = (int)v;
	r->describe = get_str(rd, 1);
	r->tflags = get_u32(rd);
	r->maxhits = get_u32(rd);
	r->bad = get_u8(rd) != 0;
	v = get_u8(rd);
	if (v > 3)
		rd->err = "bad state";
	r->dep_skipped = v == 3 ? 0 : (int)v;
	r->unneeded = get_u8(rd) != 0;
	/* a header rule that can run needs its header (a bad one may lack it) */
	if ((r->type == RULE_HEADER || r->type == RULE_MIMEHEADER) && r->hdr == NULL &&
	    !r->bad && !r->eval_unknown &&
	    r->eval < 0 && rd->err == NULL)
		rd->err = "header rule without a header";
	return rd->err ? -1 : 0;
}

/* Check that meta expressions are well formed RPN (meta_eval trusts it). */
static int
meta_ok(const struct meta_expr *e)
{
	long depth = 0;

	for (size_t i = 0; i < e->n; i++) {
		switch (e->v[i].op) {
		case MOP_NUM: case MOP_RULE: depth++; break;
		case MOP_NOT: case MOP_NEG: if (depth < 1) return 0; break;
		default: if (depth < 2) return 0; depth--; break;
		}
	}
	return e->n == 0 || depth == 1;
}

int
ruleset_cache_parse(struct ruleset *rs, const unsigned char *data, size_t len,
    const char *const *specs, int decode_blobs, const char **error_r)
{
	struct rd rd = { data, len, NULL };
	unsigned char magic[8];
	uint64_t sum, plen;
	uint32_t n, ncodes, npf;
	uint8_t *has_re = NULL;
	pcre2_code **codes = NULL;
	pcre2_code_32 **codes32 = NULL;
	struct rule_source *src = NULL;
	size_t nsrc = 0;
	int ret = -1;

	*error_r = NULL;
	if (rs->n != 0 || rs->finished) {
		*error_r = "rule set not empty";
		return -1;
	}
	get(&rd, magic, 8);
	if (rd.err == NULL && memcmp(magic, CACHE_MAGIC, 8) != 0)
		rd.err = "not a rule cache";
	if (get_u32(&rd) != CACHE_VERSION && rd.err == NULL)
		rd.err = "other cache version";
	if (get_u32(&rd) != (uint32_t)rs->use_hs && rd.err == NULL)
		rd.err = "built with other prefilter settings";
	sum = get_u64(&rd);
	plen = get_u64(&rd);
	if (rd.err == NULL && plen != rd.left)
		rd.err = "bad length";
	if (rd.err == NULL && cache_hash(rd.p, rd.left, CACHE_VERSION) != sum)
		rd.err = "checksum mismatch";
	/* the string table, which the rules' strings point into (one
	 * string may serve several): where it is in the file's mapping,
	 * which ruleset_cache_load() leaves to the rule set; else copied
	 * once, whole (read-only when mapped) */
	n = get_u32(&rd);
	if (rd.err == NULL && (n > rd.left || (n > 0 && rd.p[n - 1] != '\0')))
		rd.err = "bad string table";
	if (rd.err == NULL && n > 0) {
		if (rs->map != NULL && (const unsigned char *)rs->map == data &&
		    rs->maplen == len)
			rs->strs = (char *)rd.p;
		else {
			rs->strs = block_alloc(n);
			memcpy(rs->strs, rd.p, n);
			if (n >= BLOCK_MAPPED)
				(void)mprotect(rs->strs, n, PROT_READ);
		}
		rs->nstrs = n;
		rd.strs = rs->strs;
		rd.nstrs = n;
		rd.p += n;
		rd.left -= n;
	}
	/* sources: stale if anything changed */
	n = get_count(&rd, 53, 1000000);
	for (uint32_t i = 0; i < n && rd.err == NULL; i++) {
		char *nm = get_str(&rd, 0);
		if (nm == NULL)
			break;
		src = xreallocarray(src, nsrc + 1, sizeof(*src));
		src[nsrc].name = nm;
		src[nsrc].hash = get_u64(&rd);
		for (int k = 0; k < 5; k++)
			src[nsrc].st[k] = get_u64(&rd);
		src[nsrc].top = (int)get_u8(&rd);
		if (src[nsrc].top > 2)
			rd.err = "bad source kind";
		nsrc++;
	}
	if (rd.err == NULL && specs != NULL && !sources_current(src, nsrc, specs)) {
		*error_r = "stale";
		ret = 1;
		goto out;
	}
	rs->srcs = src;
	rs->nsrcs = nsrc;
	src = NULL;
	nsrc = 0;
	rs->required = get_f64(&rd);
	get_strs(&rd, &rs->welcome, &rs->nwelcome);
	get_strs(&rd, &rs->block, &rs->nblock);
	for (int k = 0; k < 3; k++)
		get_strs(&rd, &rs->rb.v[k], &rs->rb.n[k]);
	get_strs(&rd, &rs->redir, &rs->nredir);
	for (int k = 0; k < 3; k++)
		get_strs(&rd, &rs->fm[k], &rs->nfm[k]);
	rs->ok_locales = get_str(&rd, 1);
	{
		uint32_t nl = get_count(&rd, 8, 100000);
		for (uint32_t l = 0; l < nl && rd.err == NULL; l++) {
			char *name = get_str(&rd, 0);
			if (name == NULL)
				break;
			rs->alists = xreallocarray(rs->alists, rs->nalists + 1,
			    sizeof(*rs->alists));
			rs->alists[rs->nalists].name = name;
			get_strs(&rd, &rs->alists[rs->nalists].v, &rs->alists[rs->nalists].n);
			rs->nalists++;
		}
	}
	rs->st.rules = get_u32(&rd);
	rs->st.active = get_u32(&rd);
	rs->st.eval_skipped = get_u32(&rd);
	rs->st.eval_supported = get_u32(&rd);
	rs->st.meta_skipped = get_u32(&rd);
	rs->st.bad_lines = get_u32(&rd);
	rs->st.ignored_lines = get_u32(&rd);
	rs->st.skipped_blocks = get_u32(&rd);
	{
		char **errs;
		size_t ne;
		get_strs(&rd, &errs, &ne);
		for (size_t i = 0; i < ne; i++) {
			if (rs->nerrors < NELEM(rs->errors) - 1)
				rs->errors[rs->nerrors++] = errs[i];
		}
		free(errs);
	}
	n = get_count(&rd, 60, 100000);
	ruleset_reserve(rs, rs->n + n);
	has_re = xcalloc(n ? n : 1, 1);
	/* every meta expression's tokens, in one block */
	{
		uint32_t nmeta = get_count(&rd, 17, UINT32_MAX);
		if (nmeta > 0 && rd.err == NULL) {
			rs->nmetas = nmeta;
			rs->metas = block_alloc((size_t)nmeta * sizeof(*rs->metas));
		}
	}
	for (uint32_t i = 0; i < n && rd.err == NULL; i++) {
		int h = 0;
		if (get_rule(&rd, rs, n, &h) < 0)
			break;
		has_re[i] = (uint8_t)h;
	}
	if (rd.err == NULL && rd.metas_used != rs->nmetas)
		rd.err = "bad meta count";
	for (size_t i = 0; i < rs->n && rd.err == NULL; i++)
		if (!meta_ok(&rs->v[i].meta))
			rd.err = "bad meta expression";
	/* the patterns: 8-bit, then 32-bit (rule_wide.c) */
	for (int wide = 0; wide < 2 && rd.err == NULL; wide++) {
		uint32_t want = 0;
		size_t k = 0;

		ncodes = get_u32(&rd);
		plen = get_u64(&rd);
		for (size_t i = 0; i < rs->n; i++)
			want += has_re[i] == 1 + wide;
		if (rd.err == NULL && (ncodes != want || plen > rd.left ||
		    (ncodes > 0) != (plen > 0) || (ncodes > 0 && plen < PCRE2_SER_HDR)))
			rd.err = "bad pattern section";
		if (rd.err != NULL || ncodes == 0)
			continue;
		{
			/* (without decode_blobs, the fuzz target, the walk
			 * runs but does not decide: the patterns are compiled
			 * from their text, and its seeds hold no real blobs) */
			const char *serr = ser_check(rd.p, plen, ncodes, wide);
			if (serr != NULL && decode_blobs) {
				rd.err = serr;
				continue;
			}
		}
		if (!wide)
			codes = xcalloc(ncodes, sizeof(*codes));
		else
			codes32 = xcalloc(ncodes, sizeof(*codes32));
		if (decode_blobs && !wide) {
			pcre2_general_context *gc = arena_context(rs, 0, plen, ncodes);
			if (gc == NULL ||
			    pcre2_serialize_get_number_of_codes(rd.p) != (int32_t)ncodes ||
			    pcre2_serialize_decode(codes, (int32_t)ncodes, rd.p, gc) != (int32_t)ncodes)
				rd.err = "patterns do not decode (other PCRE2 build?)";
			pcre2_general_context_free(gc);
		} else if (decode_blobs) {
			pcre2_general_context_32 *gc = arena_context(rs, 1, plen, ncodes);
			if (gc == NULL ||
			    pcre2_serialize_get_number_of_codes_32(rd.p) != (int32_t)ncodes ||
			    pcre2_serialize_decode_32(codes32, (int32_t)ncodes, rd.p, gc) !=
			    (int32_t)ncodes)
				rd.err = "patterns do not decode (other PCRE2 build?)";
			pcre2_general_context_free_32(gc);
		} else {
			/* compile from the text instead (no trust in the blob) */
			for (size_t i = 0; i < rs->n && rd.err == NULL; i++) {
				struct rule *r = &rs->v[i];
				const char *p = r->pat ? r->pat : r->src;
				int e;
				PCRE2_SIZE off;
				if (has_re[i] != 1 + wide)
					continue;
				if (!wide)
					codes[k] = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED,
					    r->opts, &e, &off, NULL);
				else
					codes32[k] = wide_compile(p, strlen(p), r->opts, &e, &off);
				if (wide ? codes32[k] == NULL : codes[k] == NULL)
					rd.err = "pattern does not compile";
				k++;
			}
		}
		rd.p += plen;
		rd.left -= plen;
		k = 0;
		for (size_t i = 0; i < rs->n; i++) {
			if (has_re[i] != 1 + wide)
				continue;
			if (!wide)
				rs->v[i].re = codes[k++];
			else
				rs->v[i].re32 = codes32[k++];
		}
		FREE(codes);
		FREE(codes32);
	}
	/* the Vectorscan databases */
	npf = get_count(&rd, 13, PF_N);
#ifndef HAVE_HS
	if (npf != 0 && rd.err == NULL)
		rd.err = "built without Vectorscan";
#endif
	for (uint32_t j = 0; j < npf && rd.err == NULL; j++) {
		unsigned kind = get_u8(&rd);
		uint32_t m = get_count(&rd, 4, 1000000);
		unsigned *rule;
		unsigned char *grp = NULL;
		uint64_t dblen;

		if (kind >= PF_N)
			rd.err = "bad prefilter kind";
		rule = xcalloc(m ? m : 1, sizeof(*rule));
		for (uint32_t i = 0; i < m && rd.err == NULL; i++) {
			rule[i] = get_u32(&rd);
			if (rule[i] >= rs->n || has_re[rule[i]] != 1 ||
			    (rs->v[rule[i]].type == RULE_HEADER && rs->v[rule[i]].hdr == NULL))
				rd.err = "bad prefilter rule";
		}
		if (rd.err == NULL) {
			grp = xcalloc(m ? m : 1, 1);
			get(&rd, grp, m);
			for (uint32_t i = 0; i < m && rd.err == NULL; i++)
				if (grp[i] >= PF_LIT_GROUPS)
					rd.err = "bad literal group";
		}
		dblen = get_u64(&rd);
		if (rd.err == NULL && (dblen > rd.left || m == 0))
			rd.err = "bad prefilter section";
		if (rd.err != NULL) {
			free(rule);
			free(grp);
			break;
		}
#ifdef HAVE_HS
		if (decode_blobs) {
			hs_database_t *db = NULL;
			/* the file name says which scanner it was made for:
			 * none was loaded here, so no database was written */
			if (pf_hs.deserialize_database == NULL) {
				rd.err = "Vectorscan database without Vectorscan";
				free(rule);
				free(grp);
				break;
			}
			if (pf_hs.deserialize_database((const char *)rd.p, dblen, &db) != HS_SUCCESS) {
				rd.err = "Vectorscan database does not load";
				free(rule);
				free(grp);
				break;
			}
			rs->pf = xreallocarray(rs->pf, rs->npf + 1, sizeof(*rs->pf));
			rs->pf[rs->npf].kind = (int)kind;
			rs->pf[rs->npf].db = db;
			rs->pf[rs->npf].rule = rule;
			rs->pf[rs->npf].grp = grp;
			rs->pf[rs->npf].n = m;
			rs->npf++;
			rule = NULL;
			grp = NULL;
		}
#endif
		free(rule);
		free(grp);
		rd.p += dblen;
		rd.left -= dblen;
	}
	if (rd.err == NULL && rd.left != 0)
		rd.err = "trailing bytes";
	if (rd.err != NULL) {
		*error_r = rd.err;
		goto out;
	}
#ifdef HAVE_HS
	if (prefilter_finish(rs) < 0) {
		*error_r = "Vectorscan scratch allocation failed";
		goto out;
	}
#endif
	ruleset_finish_loaded(rs);
	ret = 0;
out:
	free(src);
	free(has_re);
	free(codes);
	free(codes32);
	return ret;
}

int
ruleset_cache_load(struct ruleset *rs, const char *path, const char *const *specs,
    char **error_r)
{
	struct stat sb;
	unsigned char *data;
	void *map;
	size_t got = 0;
	const char *err, *base;
	char *derr;
	int dfd, fd, ret;

	*error_r = NULL;
	dfd = cache_dir_open(path, &base, &derr);
	if (dfd < 0 && derr != NULL) {
		*error_r = xasprintf("%s: %s", path, derr);
		free(derr);
		return 2;
	}
	if (dfd < 0)
		return 1;
	/* no symbolic link; O_NONBLOCK: a FIFO does not hang the open */
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd < 0 && errno == ELOOP) {
		*error_r = xasprintf("%s: a symbolic link", path);
		return -1;
	}
	if (fd < 0)
		return 1;               /* no cache yet */
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < CACHE_HDR ||
	    (unsigned long long)sb.st_size > CACHE_MAX) {
		close(fd);
		*error_r = xasprintf("%s: not a rule cache", path);
		return -1;
	}
	if ((err = trust_problem(&sb)) != NULL) {
		close(fd);
		*error_r = xasprintf("%s: %s (uid %ld, mode %03o)", path, err,
		    (long)sb.st_uid, (unsigned)(sb.st_mode & 07777));
		return -1;
	}
	/* Mapped, the pages already in the page cache all at once: read()
	 * into a buffer cost a copy of the megabytes and a page fault per
	 * page of the buffer, most of a one-message scan's start with
	 * SpamAssassin's rules.  A cache file is only ever replaced by a
	 * rename, never rewritten in place, so the mapping does not shrink
	 * under the parse, nor later while the rule set keeps it. */
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (map != MAP_FAILED) {
		close(fd);
		/* the rule set keeps the mapping: its strings stay in it */
		rs->map = map;
		rs->maplen = (size_t)sb.st_size;
		ret = ruleset_cache_parse(rs, map, (size_t)sb.st_size, specs, 1, &err);
	} else {
		data = xmalloc((size_t)sb.st_size);
		while (got < (size_t)sb.st_size) {
			ssize_t r = read(fd, data + got, (size_t)sb.st_size - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		close(fd);
		ret = ruleset_cache_parse(rs, data, got, specs, 1, &err);
		free(data);
	}
	if (ret < 0 && err != NULL)
		*error_r = xasprintf("%s: %s", path, err);
	return ret;
}

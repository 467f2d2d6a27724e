/*
 * xml.c -- the XML reader of xml.h: one pass over a document in memory,
 * with the open elements on a heap stack of bounded size, never on the C
 * stack.
 *
 * Characters are checked once, up front: `end` is set to the first byte
 * that is not UTF-8 or not an XML character, and the reader works on
 * doc[0..end). Whatever then runs into `end` reports the bad character
 * when there is one (fail_eof), so errors come out in document order.
 */
#include "xml.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An open element: where its '<' is; its name follows, nlen bytes. */
struct open_el {
	const char *at;
	size_t nlen;
};

struct reader {
	const char *doc, *p, *end;      /* end: see the top of the file */
	size_t len;
	const struct xml_handler *h;
	void *ud;
	struct xml_error *err;
	unsigned max_depth;
	int seen_root;
	struct open_el *open;
	size_t depth, open_cap;
	/* the tag being read: name, then attribute names and values, each
	 * NUL-terminated; attrs points into it (and sorts names after the
	 * NULL, for the duplicate check) */
	char *buf;
	size_t buf_len, buf_cap;
	const char **attrs;
	size_t attrs_cap;
};

/* Names and values quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 64

/* How much of s[0..n) to quote: at most QUOTE_MAX, whole characters. */
static int clip(const char *s, size_t n)
{
	if (n <= QUOTE_MAX)
		return (int)n;
	n = QUOTE_MAX;
	while (n && (s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

/* The two arguments of a "%.*s" quoting s[0..n). */
#define QUOTE(s, n) clip((s), (n)), (s)

/* ---- characters ---- */

static int xml_char_ok(uint32_t c)
{
	if (c < 0x20)
		return c == '\t' || c == '\n' || c == '\r';
	return c <= 0xD7FF || (c >= 0xE000 && c <= 0xFFFD) ||
	       (c >= 0x10000 && c <= 0x10FFFF);
}

/* The length of the longest prefix of s that is UTF-8 XML characters. */
static size_t valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t c = s[i], min;
		size_t n;
		if (c < 0x80) {
			if (!xml_char_ok(c))
				return i;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 2, c &= 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			n = 3, c &= 0x0F, min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4, c &= 0x07, min = 0x10000;
		} else {
			return i;
		}
		if (len - i < n)
			return i;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			c = c << 6 | (s[i + k] & 0x3F);
		}
		if (c < min || !xml_char_ok(c))
			return i;
		i += n;
	}
	return i;
}

static size_t utf8_put(uint32_t c, char out[4])
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3F));
	out[2] = (char)(0x80 | (c >> 6 & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* XML's name characters for ASCII; every non-ASCII character is let in. */
static int name_start(char ch)
{
	unsigned char c = (unsigned char)ch;
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == ':' || c >= 0x80;
}

static int name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* ---- errors ---- */

/* Line of `at`, from 1; "\r\n", "\r" and "\n" each end a line. */
static unsigned long line_at(const struct reader *r, const char *at)
{
	unsigned long line = 1;

	for (const char *s = r->doc; s < at; s++) {
		if (*s == '\r' && s + 1 < at && s[1] == '\n')
			s++;
		if (*s == '\n' || *s == '\r')
			line++;
	}
	return line;
}

static int vfail(struct reader *r, const char *at, const char *fmt,
                 va_list ap)
{
	vsnprintf(r->err->msg, sizeof r->err->msg, fmt, ap);
	r->err->line = line_at(r, at);
	return -1;
}

static int fail(struct reader *r, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct reader *r, const char *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(r, at, fmt, ap);
	va_end(ap);
	return -1;
}

static int bad_char(struct reader *r)
{
	unsigned char c = (unsigned char)*r->end;

	if (c < 0x80)
		return fail(r, r->end, "character 0x%02X is not allowed in XML",
		            c);
	return fail(r, r->end, "bytes that are not UTF-8, or a character "
	            "not allowed in XML");
}

/* The text ran out at `end`: a bad character there, or the real end. */
static int fail_eof(struct reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail_eof(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->end < r->doc + r->len)
		return bad_char(r);
	va_start(ap, fmt);
	vfail(r, r->end, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- reading ---- */

/* 1 if the text at p is `s`, 0 if not, -1 if it is a prefix cut by end. */
static int lit(const struct reader *r, const char *s)
{
	size_t n = strlen(s), avail = (size_t)(r->end - r->p);

	if (avail >= n)
		return memcmp(r->p, s, n) == 0;
	return memcmp(r->p, s, avail) == 0 ? -1 : 0;
}

static const char *find(const struct reader *r, const char *s)
{
	return memmem(r->p, (size_t)(r->end - r->p), s, strlen(s));
}

static int skip_space(struct reader *r)
{
	const char *s = r->p;

	while (r->p < r->end && is_space(*r->p))
		r->p++;
	return r->p > s;
}

/* Read a name at p; its length, or 0 (p unchanged) when there is none. */
static size_t read_name(struct reader *r)
{
	const char *s = r->p;

	if (s >= r->end || !name_start(*s))
		return 0;
	while (s < r->end && name_char(*s))
		s++;
	size_t n = (size_t)(s - r->p);
	r->p = s;
	return n;
}

/* Is s[0..n) the name `want`? */
static int is_name(const char *want, const char *s, size_t n)
{
	return strlen(want) == n && !memcmp(want, s, n);
}

static int buf_add(struct reader *r, const char *s, size_t n)
{
	if (r->buf_cap - r->buf_len < n) {
		size_t cap = r->buf_cap ? r->buf_cap : 128;
		while (cap - r->buf_len < n)
			cap *= 2;
		char *b = realloc(r->buf, cap);
		if (!b)
			return -1;
		r->buf = b;
		r->buf_cap = cap;
	}
	memcpy(r->buf + r->buf_len, s, n);
	r->buf_len += n;
	return 0;
}

/* Append s[0..n) and a NUL. */
static int buf_str(struct reader *r, const char *s, size_t n)
{
	return buf_add(r, s, n) || buf_add(r, "", 1) ? -1 : 0;
}

static void emit(struct reader *r, const char *s, size_t n)
{
	if (n && r->h->text)
		r->h->text(r->ud, s, n);
}

/* Pass on text [s, e) with "\r\n" and "\r" made "\n". */
static void emit_text(struct reader *r, const char *s, const char *e)
{
	while (s < e) {
		const char *cr = memchr(s, '\r', (size_t)(e - s));
		if (!cr) {
			emit(r, s, (size_t)(e - s));
			return;
		}
		emit(r, s, (size_t)(cr - s));
		emit(r, "\n", 1);
		s = cr + 1;
		if (s < e && *s == '\n')
			s++;
	}
}

static const struct {
	const char *name;
	char c;
} predefined[] = {
	{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"apos", '\''}, {"quot", '"'},
};

/* At '&': decode the reference into out, its length in *n; p after ';'. */
static int read_ref(struct reader *r, char out[4], size_t *n)
{
	const char *amp = r->p, *s = amp + 1;

	if (s < r->end && *s == '#') {
		uint32_t c = 0;
		int hex = 0;
		size_t digits = 0;
		if (++s < r->end && *s == 'x')
			hex = 1, s++;
		for (; s < r->end; s++, digits++) {
			unsigned d = (unsigned char)*s, lc = d | 0x20;
			if (d >= '0' && d <= '9')
				d -= '0';
			else if (hex && lc >= 'a' && lc <= 'f')
				d = lc - 'a' + 10;
			else
				break;
			if (c <= 0x10FFFF)      /* else it stays too big */
				c = c * (hex ? 16 : 10) + d;
		}
		if (s >= r->end)
			return fail_eof(r, "the text ends inside a character "
			                "reference");
		if (!digits || *s != ';')
			return fail(r, amp, "malformed character reference "
			            "\"%.*s\" (\"&#N;\" or \"&#xH;\")",
			            QUOTE(amp, (size_t)(s - amp)));
		if (!xml_char_ok(c))
			return fail(r, amp, "character reference \"%.*s\" "
			            "names a character XML does not allow",
			            QUOTE(amp, (size_t)(s - amp) + 1));
		*n = utf8_put(c, out);
		r->p = s + 1;
		return 0;
	}
	r->p = s;
	size_t nlen = read_name(r);
	if (!nlen) {
		if (r->p >= r->end)
			return fail_eof(r, "the text ends after '&'");
		return fail(r, amp, "'&' not followed by an entity name "
		            "(write \"&amp;\" for '&')");
	}
	if (r->p >= r->end)
		return fail_eof(r, "the text ends inside an entity reference");
	if (*r->p != ';')
		return fail(r, amp, "entity reference \"&%.*s\" without ';'",
		            QUOTE(s, nlen));
	for (size_t i = 0; i < sizeof predefined / sizeof *predefined; i++) {
		if (is_name(predefined[i].name, s, nlen)) {
			out[0] = predefined[i].c;
			*n = 1;
			r->p++;
			return 0;
		}
	}
	return fail(r, amp, "undefined entity \"&%.*s;\"", QUOTE(s, nlen));
}

/* Text up to the next '<' (or the end). */
static int read_text(struct reader *r)
{
	if (!r->depth) {
		skip_space(r);
		if (r->p < r->end && *r->p != '<')
			return fail(r, r->p, "text %s the root element",
			            r->seen_root ? "after" : "before");
		return 0;
	}
	const char *run = r->p;
	while (r->p < r->end && *r->p != '<') {
		if (*r->p == '&') {
			char out[4];
			size_t n;
			emit_text(r, run, r->p);
			if (read_ref(r, out, &n))
				return -1;
			emit(r, out, n);
			run = r->p;
		} else if (*r->p == ']' && lit(r, "]]>") == 1) {
			return fail(r, r->p, "\"]]>\" outside a CDATA section");
		} else {
			r->p++;
		}
	}
	emit_text(r, run, r->p);
	return 0;
}

/* The text ran out inside the start tag at lt. */
static int fail_in_tag(struct reader *r, const char *lt)
{
	size_t n = 0;

	while (lt + 1 + n < r->end && name_char(lt[1 + n]))
		n++;
	return fail_eof(r, "the text ends inside the tag <%.*s> (line %lu)",
	                QUOTE(lt + 1, n), line_at(r, lt));
}

/* At the opening quote: the value, decoded and normalised, into buf. */
static int read_attr_value(struct reader *r, const char *lt)
{
	char quote = *r->p++;
	const char *run = r->p;

	for (;;) {
		if (r->p >= r->end)
			return fail_in_tag(r, lt);
		char c = *r->p;
		if (c == quote)
			break;
		if (c == '<')
			return fail(r, r->p, "'<' inside an attribute value "
			            "(write \"&lt;\")");
		if (c != '&' && c != '\t' && c != '\n' && c != '\r') {
			r->p++;
			continue;
		}
		if (buf_add(r, run, (size_t)(r->p - run)))
			return fail(r, lt, "out of memory");
		char out[4] = " ";
		size_t n = 1;
		if (c == '&') {
			if (read_ref(r, out, &n))
				return -1;
		} else {
			if (c == '\r' && r->p + 1 < r->end && r->p[1] == '\n')
				r->p++;
			r->p++;
		}
		if (buf_add(r, out, n))
			return fail(r, lt, "out of memory");
		run = r->p;
	}
	if (buf_str(r, run, (size_t)(r->p - run)))
		return fail(r, lt, "out of memory");
	r->p++;
	return 0;
}

/* One attribute, name="value", its name at p: both into buf. */
static int read_attr(struct reader *r, const char *lt)
{
	const char *name = r->p;
	size_t nlen = read_name(r);

	if (buf_str(r, name, nlen))
		return fail(r, lt, "out of memory");
	skip_space(r);
	if (r->p < r->end && *r->p != '=')
		return fail(r, r->p, "attribute %.*s without '='",
		            QUOTE(name, nlen));
	if (r->p < r->end) {
		r->p++;
		skip_space(r);
	}
	if (r->p >= r->end)
		return fail_in_tag(r, lt);
	if (*r->p != '"' && *r->p != '\'')
		return fail(r, r->p, "the value of attribute %.*s is not in "
		            "quotes", QUOTE(name, nlen));
	return read_attr_value(r, lt);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Point attrs at buf's nattrs name/value pairs (after the tag name) and
 * refuse a name given twice.
 */
static int collect_attrs(struct reader *r, size_t nattrs, const char *lt,
                         size_t nlen)
{
	size_t need = 3 * nattrs + 1;

	if (need > r->attrs_cap) {
		const char **a = realloc(r->attrs, need * sizeof *a);
		if (!a)
			return fail(r, lt, "out of memory");
		r->attrs = a;
		r->attrs_cap = need;
	}
	const char *s = r->buf + strlen(r->buf) + 1;
	const char **names = r->attrs + 2 * nattrs + 1;
	for (size_t i = 0; i < 2 * nattrs; i++) {
		r->attrs[i] = s;
		if (i % 2 == 0)
			names[i / 2] = s;
		s += strlen(s) + 1;
	}
	r->attrs[2 * nattrs] = NULL;
	if (nattrs < 2)
		return 0;
	qsort(names, nattrs, sizeof *names, cmp_str);
	for (size_t i = 1; i < nattrs; i++)
		if (!strcmp(names[i - 1], names[i]))
			return fail(r, lt, "attribute %.*s given twice in "
			            "<%.*s>", QUOTE(names[i], strlen(names[i])),
			            QUOTE(lt + 1, nlen));
	return 0;
}

static int push_open(struct reader *r, const char *lt, size_t nlen)
{
	if (r->depth == r->open_cap) {
		size_t cap = r->open_cap ? r->open_cap * 2 : 16;
		struct open_el *o = realloc(r->open, cap * sizeof *o);
		if (!o)
			return fail(r, lt, "out of memory");
		r->open = o;
		r->open_cap = cap;
	}
	r->open[r->depth++] = (struct open_el){lt, nlen};
	return 0;
}

/* The attributes of a start tag, up to and past its '>' or "/>". */
static int read_attrs(struct reader *r, const char *lt, size_t *nattrs,
                      int *empty)
{
	for (*nattrs = 0;; ++*nattrs) {
		int space = skip_space(r);
		if (r->p >= r->end || lit(r, "/>") < 0)
			return fail_in_tag(r, lt);
		if (*r->p == '>' || lit(r, "/>") == 1) {
			*empty = *r->p == '/';
			r->p += *empty ? 2 : 1;
			return 0;
		}
		if (!name_start(*r->p))
			return fail(r, r->p, "unexpected '%c' in a start tag",
			            *r->p);
		if (!space)
			return fail(r, r->p, "no space before an attribute");
		if (read_attr(r, lt))
			return -1;
	}
}

static int read_start_tag(struct reader *r)
{
	const char *lt = r->p++;
	size_t nlen = read_name(r), nattrs;
	int empty = 0;

	if (!nlen) {
		if (r->p >= r->end)
			return fail_eof(r, "the text ends after '<'");
		return fail(r, lt, "'<' not followed by a name (write \"&lt;\" "
		            "for '<' in text)");
	}
	if (r->depth >= r->max_depth)
		return fail(r, lt, "elements nested more than %u deep",
		            r->max_depth);
	r->buf_len = 0;
	if (buf_str(r, lt + 1, nlen))
		return fail(r, lt, "out of memory");
	if (read_attrs(r, lt, &nattrs, &empty) ||
	    collect_attrs(r, nattrs, lt, nlen) || push_open(r, lt, nlen))
		return -1;
	if (r->h->start)
		r->h->start(r->ud, r->buf, r->attrs);
	if (empty) {
		r->depth--;
		if (r->h->end)
			r->h->end(r->ud, r->buf);
	}
	return 0;
}

static int read_end_tag(struct reader *r)
{
	const char *lt = r->p;
	r->p += 2;
	const char *name = r->p;
	size_t nlen = read_name(r);

	if (!nlen) {
		if (r->p >= r->end)
			return fail_eof(r, "the text ends after \"</\"");
		return fail(r, lt, "\"</\" not followed by a name");
	}
	skip_space(r);
	if (r->p >= r->end)
		return fail_eof(r, "the text ends inside the end tag </%.*s>",
		                QUOTE(name, nlen));
	if (*r->p != '>')
		return fail(r, r->p, "unexpected '%c' in the end tag </%.*s>",
		            *r->p, QUOTE(name, nlen));
	r->p++;
	if (!r->depth)
		return fail(r, lt, "end tag </%.*s> without a start tag",
		            QUOTE(name, nlen));
	const struct open_el *top = &r->open[r->depth - 1];
	if (top->nlen != nlen || memcmp(top->at + 1, name, nlen))
		return fail(r, lt, "end tag </%.*s> does not match <%.*s> "
		            "(line %lu)", QUOTE(name, nlen),
		            QUOTE(top->at + 1, top->nlen), line_at(r, top->at));
	r->depth--;
	r->buf_len = 0;
	if (buf_str(r, name, nlen))
		return fail(r, lt, "out of memory");
	if (r->h->end)
		r->h->end(r->ud, r->buf);
	return 0;
}

/* VersionNum's characters, not only "1.x": what expat let through. */
static int version_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == ':' ||
		    !name_char(s[i]))
			return 0;
	return n > 0;
}

static int encoding_ok(const char *s, size_t n)
{
	if (!n || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = s[i], lc = c | 0x20;
		if (!(lc >= 'a' && lc <= 'z') && !(c >= '0' && c <= '9') &&
		    c != '.' && c != '_' && c != '-')
			return 0;
	}
	return 1;
}

static int standalone_ok(const char *s, size_t n)
{
	return (n == 3 && !memcmp(s, "yes", 3)) ||
	       (n == 2 && !memcmp(s, "no", 2));
}

static const struct {
	const char *name;
	int (*ok)(const char *s, size_t n);
} decl_parts[] = {
	{"version", version_ok},
	{"encoding", encoding_ok},
	{"standalone", standalone_ok},
};

#define DECL_PARTS (sizeof decl_parts / sizeof *decl_parts)

/*
 * The rest of "<?xml": version, then encoding and standalone if given,
 * in that order, each name="value" with a value of the right form.
 */
static int read_decl(struct reader *r)
{
	size_t next = 0;

	for (;;) {
		int space = skip_space(r), close = lit(r, "?>");
		if (close == 1 && next) {
			r->p += 2;
			return 0;
		}
		if (r->p >= r->end || close < 0)
			return fail_eof(r, "the text ends inside the XML "
			                "declaration");
		const char *name = r->p;
		size_t nlen = read_name(r), i = next;
		while (i < DECL_PARTS &&
		       !is_name(decl_parts[i].name, name, nlen))
			i++;
		if (!next && i)
			return fail(r, name, "XML declaration without a "
			            "version");
		if (!space || i == DECL_PARTS)
			return fail(r, name, "malformed XML declaration");
		skip_space(r);
		if (r->p < r->end && *r->p == '=')
			r->p++;
		else if (r->p < r->end)
			return fail(r, r->p, "malformed XML declaration");
		skip_space(r);
		if (r->p < r->end && *r->p != '"' && *r->p != '\'')
			return fail(r, r->p, "malformed XML declaration");
		const char *close_q = r->p < r->end ?
			memchr(r->p + 1, *r->p, (size_t)(r->end - r->p - 1)) :
			NULL;
		if (!close_q)
			return fail_eof(r, "the text ends inside the XML "
			                "declaration");
		if (!decl_parts[i].ok(r->p + 1, (size_t)(close_q - r->p - 1)))
			return fail(r, r->p, "bad %s in the XML declaration",
			            decl_parts[i].name);
		r->p = close_q + 1;
		next = i + 1;
	}
}

/* A processing instruction, or the XML declaration when at_start. */
static int read_pi(struct reader *r, int at_start)
{
	const char *lt = r->p;
	r->p += 2;
	const char *target = r->p;
	size_t tlen = read_name(r);

	if (!tlen) {
		if (r->p >= r->end)
			return fail_eof(r, "the text ends after \"<?\"");
		return fail(r, lt, "processing instruction without a target");
	}
	int decl = tlen == 3 && (target[0] | 0x20) == 'x' &&
	           (target[1] | 0x20) == 'm' && (target[2] | 0x20) == 'l';
	if (decl && !at_start)
		return fail(r, lt, "XML declaration not at the start of the "
		            "document");
	if (decl && memcmp(target, "xml", 3))
		return fail(r, lt, "the XML declaration is written \"<?xml\"");
	if (decl)
		return read_decl(r);
	int space = skip_space(r);
	const char *close = find(r, "?>");
	if (!close)
		return fail_eof(r, "the text ends inside a processing "
		                "instruction (line %lu)", line_at(r, lt));
	if (close != r->p && !space)
		return fail(r, r->p, "unexpected '%c' after the processing "
		            "instruction target", *r->p);
	r->p = close + 2;
	return 0;
}

static int read_comment(struct reader *r)
{
	const char *lt = r->p;
	r->p += 4;
	const char *dashes = find(r, "--");

	if (!dashes || dashes + 2 >= r->end)
		return fail_eof(r, "the text ends inside a comment (line %lu)",
		                line_at(r, lt));
	if (dashes[2] != '>')
		return fail(r, dashes, "\"--\" inside a comment");
	r->p = dashes + 3;
	return 0;
}

static int read_cdata(struct reader *r)
{
	const char *lt = r->p;
	r->p += 9;
	const char *close = find(r, "]]>");

	if (!close)
		return fail_eof(r, "the text ends inside a CDATA section "
		                "(line %lu)", line_at(r, lt));
	emit_text(r, r->p, close);
	r->p = close + 3;
	return 0;
}

/*
 * Skip "<!DOCTYPE ...>": quoted strings, and in the internal subset
 * "[...]" also comments and processing instructions, may hold '>'.
 */
static int skip_doctype(struct reader *r)
{
	const char *lt = r->p;
	char quote = 0;
	int subset = 0;

	r->p += 9;
	int space = skip_space(r);
	if (r->p < r->end && (!space || !read_name(r)))
		return fail(r, lt, "a DOCTYPE without a name");
	while (r->p < r->end) {
		char c = *r->p;
		if (quote) {
			quote = c == quote ? 0 : quote;
		} else if (subset && lit(r, "<!--") == 1) {
			if (read_comment(r))
				return -1;
			continue;
		} else if (subset && lit(r, "<?") == 1) {
			const char *close = find(r, "?>");
			if (!close)
				break;
			r->p = close + 2;
			continue;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '[' || c == ']') {
			subset = c == '[';
		} else if (c == '>' && !subset) {
			r->p++;
			return 0;
		}
		r->p++;
	}
	return fail_eof(r, "the text ends inside the DOCTYPE (line %lu)",
	                line_at(r, lt));
}

/* At '<' (not '<?', '</' or a start tag): "<!--", "<![CDATA[", DOCTYPE. */
static int read_bang(struct reader *r, int *doctype)
{
	const char *lt = r->p;
	int comment = lit(r, "<!--"), cdata = lit(r, "<![CDATA["),
	    dt = lit(r, "<!DOCTYPE");

	if (comment == 1)
		return read_comment(r);
	if (cdata == 1) {
		if (!r->depth)
			return fail(r, lt, "CDATA section outside the root "
			            "element");
		return read_cdata(r);
	}
	if (dt == 1) {
		if (r->seen_root || *doctype)
			return fail(r, lt, "DOCTYPE after the root element or "
			            "a second DOCTYPE");
		*doctype = 1;
		return skip_doctype(r);
	}
	if (comment < 0 || cdata < 0 || dt < 0)
		return fail_eof(r, "the text ends inside \"%.*s\"",
		                QUOTE(lt, (size_t)(r->end - lt)));
	return fail(r, lt, "unknown markup \"<!\" (not a comment, CDATA "
	            "section or DOCTYPE)");
}

static int read_markup(struct reader *r, int at_start, int *doctype)
{
	if (r->end - r->p < 2)
		return fail_eof(r, "the text ends after '<'");
	switch (r->p[1]) {
	case '?':
		return read_pi(r, at_start);
	case '/':
		return read_end_tag(r);
	case '!':
		return read_bang(r, doctype);
	}
	if (!r->depth && r->seen_root && name_start(r->p[1]))
		return fail(r, r->p, "a second root element (there is only "
		            "one)");
	r->seen_root = 1;
	return read_start_tag(r);
}

static int finish(struct reader *r)
{
	if (r->depth) {
		const struct open_el *top = &r->open[r->depth - 1];
		return fail_eof(r, "the text ends but <%.*s> (line %lu) is not "
		                "closed", QUOTE(top->at + 1, top->nlen),
		                line_at(r, top->at));
	}
	if (!r->seen_root)
		return fail_eof(r, "no root element");
	if (r->end < r->doc + r->len)
		return bad_char(r);
	return 0;
}

int xml_parse(const char *doc, size_t len, const struct xml_handler *h,
              void *ud, struct xml_error *err)
{
	static const struct xml_handler none;
	struct reader r = {
		.doc = doc, .p = doc, .len = len, .h = h ? h : &none, .ud = ud,
		.err = err,
	};
	int doctype = 0, rc = 0;

	r.end = doc + valid_prefix((const unsigned char *)doc, len);
	r.max_depth = r.h->max_depth ? r.h->max_depth : XML_DEPTH_DEFAULT;
	err->line = 0;
	err->msg[0] = '\0';
	if (lit(&r, "\xEF\xBB\xBF") == 1)
		r.p += 3;
	const char *start = r.p;
	while (!rc && r.p < r.end) {
		if (*r.p == '<')
			rc = read_markup(&r, r.p == start, &doctype);
		else
			rc = read_text(&r);
	}
	if (!rc)
		rc = finish(&r);
	free(r.open);
	free(r.buf);
	free(r.attrs);
	return rc;
}

const char *xml_attr(const char *const *attrs, const char *name)
{
	for (size_t i = 0; attrs && attrs[i]; i += 2)
		if (!strcmp(attrs[i], name))
			return attrs[i + 1];
	return NULL;
}

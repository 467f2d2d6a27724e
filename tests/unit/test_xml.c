/*
 * Unit tests for plugins/testing/xml.c, the testing plugin's XML reader.
 * The plugin is not a library the tests link, so its source is compiled
 * in here (its helpers, such as valid_prefix, are then visible too).
 */
#include "../../plugins/testing/xml.c"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/*
 * The events of a parse written back as a canonical string: start tags
 * with attributes in double quotes, end tags always explicit, text as is
 * (so entities come out decoded).
 */
struct rec {
	char *s;
	size_t len, cap;
	size_t starts;
};

static void rec_add(struct rec *r, const char *s, size_t n)
{
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		while (cap < r->len + n + 1)
			cap *= 2;
		char *b = realloc(r->s, cap);
		if (!b)
			abort();
		r->s = b;
		r->cap = cap;
	}
	memcpy(r->s + r->len, s, n);
	r->len += n;
	r->s[r->len] = '\0';
}

static void rec_str(struct rec *r, const char *s)
{
	rec_add(r, s, strlen(s));
}

static void on_start(void *ud, const char *name, const char *const *attrs)
{
	struct rec *r = ud;

	r->starts++;
	rec_str(r, "<");
	rec_str(r, name);
	for (size_t i = 0; attrs[i]; i += 2) {
		rec_str(r, " ");
		rec_str(r, attrs[i]);
		rec_str(r, "=\"");
		rec_str(r, attrs[i + 1]);
		rec_str(r, "\"");
	}
	rec_str(r, ">");
}

static void on_end(void *ud, const char *name)
{
	struct rec *r = ud;

	rec_str(r, "</");
	rec_str(r, name);
	rec_str(r, ">");
}

static void on_text(void *ud, const char *s, size_t len)
{
	rec_add(ud, s, len);
}

static const struct xml_handler recorder = {
	.start = on_start, .end = on_end, .text = on_text,
};

static struct xml_error err;

/* Parse doc[0..len) with the recorder: its string ("" when none). */
static int parse_len(const char *doc, size_t len, struct rec *r)
{
	memset(r, 0, sizeof *r);
	rec_str(r, "");
	return xml_parse(doc, len, &recorder, r, &err);
}

/* A well-formed document must give exactly `want`. */
static void good(const char *doc, const char *want, const char *what)
{
	struct rec r;
	int rc = parse_len(doc, strlen(doc), &r);

	if (!ok(rc == 0 && !strcmp(r.s, want), "%s", what)) {
		if (rc)
			diag("error at line %lu: %s", err.line, err.msg);
		else
			diag("got \"%s\", want \"%s\"", r.s, want);
	}
	free(r.s);
}

/* A malformed document: an error on `line` whose message holds `part`. */
static void bad_len(const char *doc, size_t len, unsigned long line,
                    const char *part, const char *what)
{
	struct rec r;
	int rc = parse_len(doc, len, &r);
	int right = rc == -1 && err.line == line && strstr(err.msg, part) &&
	            valid_prefix((const unsigned char *)err.msg,
	                         strlen(err.msg)) == strlen(err.msg);

	if (!ok(right, "%s", what)) {
		if (rc)
			diag("error at line %lu: %s (want line %lu, \"%s\")",
			     err.line, err.msg, line, part);
		else
			diag("parsed, giving \"%s\"", r.s);
	}
	free(r.s);
}

static void bad(const char *doc, unsigned long line, const char *part,
                const char *what)
{
	bad_len(doc, strlen(doc), line, part, what);
}

static void test_basics(void)
{
	good("<a x=\"1\" y='2'>hi<b/>there<c ></c ></a>",
	     "<a x=\"1\" y=\"2\">hi<b></b>there<c></c></a>",
	     "elements, both quote styles, empty-element tag, space in tags");
	good("<a x = \"1\"\n  y\t=\t'it'/>", "<a x=\"1\" y=\"it\"></a>",
	     "spaces and newlines around attributes and '='");
	good("<ns:a b.c-d_1=\"v\"/>", "<ns:a b.c-d_1=\"v\"></ns:a>",
	     "names with ':', '.', '-', '_' and digits are passed as written");
	good("<r>\xc3\xa9t\xc3\xa9 <\xc3\xa9l\xc3\xa9ment/></r>",
	     "<r>\xc3\xa9t\xc3\xa9 <\xc3\xa9l\xc3\xa9ment></\xc3\xa9l\xc3\xa9"
	     "ment></r>", "UTF-8 text and element names");
	good("\xEF\xBB\xBF<?xml version=\"1.0\"?><a/>", "<a></a>",
	     "a byte order mark before the XML declaration");
	good("<a>a\r\nb\rc\n</a>", "<a>a\nb\nc\n</a>",
	     "line ends in text become \\n");
	good("<a v=\"a\tb\r\nc\nd\re\"/>", "<a v=\"a b c d e\"></a>",
	     "tab, CR, LF and CRLF in attribute values become one space");
	good("<a v=\"&#10;&#9;\"/>", "<a v=\"\n\t\"></a>",
	     "character references in attribute values are not normalised");

	struct rec r;
	ok(parse_len("<a/>junk", 4, &r) == 0 && !strcmp(r.s, "<a></a>"),
	   "only doc[0..len) is read: the input need not end in NUL");
	free(r.s);
	ok(xml_parse("<a><b/></a>", 11, NULL, NULL, &err) == 0,
	   "no handler: the document is only checked");
}

/* The value of attribute v of <t> (copied: attrs live only in the call). */
static char seen_v[16];

static void grab_v(void *ud, const char *name, const char *const *attrs)
{
	const char *v = xml_attr(attrs, "v");

	(void)ud;
	if (!strcmp(name, "t"))
		snprintf(seen_v, sizeof seen_v, "%s", v ? v : "(none)");
}

static void test_xml_attr(void)
{
	struct xml_handler h = {.start = grab_v};

	xml_parse("<t a='1' v='two'/>", 18, &h, NULL, &err);
	is_str(seen_v, "two", "xml_attr finds an attribute by name");
	xml_parse("<t a='1'/>", 10, &h, NULL, &err);
	is_str(seen_v, "(none)", "xml_attr: NULL for a missing attribute");
	is_str(xml_attr(NULL, "v"), NULL, "xml_attr(NULL): NULL");
}

static void test_entities(void)
{
	good("<a>&lt;&gt;&amp;&apos;&quot;</a>", "<a><>&'\"</a>",
	     "the five predefined entities in text");
	good("<a v=\"&lt;x&gt; &amp; &quot;q&quot; &apos;\"/>",
	     "<a v=\"<x> & \"q\" '\"></a>",
	     "the five predefined entities in an attribute value");
	good("<a>&amp;lt;</a>", "<a>&lt;</a>", "&amp; is decoded only once");
	good("<a>&#65;&#x42;&#x63;&#0000068;</a>", "<a>ABcD</a>",
	     "decimal and hexadecimal character references (ASCII)");
	good("<a>&#xe9;&#233;&#x20AC;&#x1F600;&#128512;&#xFFFD;</a>",
	     "<a>\xc3\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	     "\xef\xbf\xbd</a>",
	     "character references encoded as 2-, 3- and 4-byte UTF-8");
	good("<a>&#x10FFFF;</a>", "<a>\xf4\x8f\xbf\xbf</a>",
	     "the highest code point, U+10FFFF");

	bad("<a>\n&nbsp;</a>", 2, "undefined entity \"&nbsp;\"",
	    "an undefined entity is an error");
	bad("<a>&lt</a>", 1, "without ';'", "an entity without ';'");
	bad("<a>fish & chips</a>", 1, "'&' not followed",
	    "a bare '&' in text");
	bad("<a v='&'/>", 1, "'&' not followed", "a bare '&' in a value");
	bad("<a>&#0;</a>", 1, "\"&#0;\" names a character",
	    "&#0; is refused");
	bad("<a>&#1;</a>", 1, "names a character", "a C0 control refused");
	bad("<a>&#xD800;</a>", 1, "names a character", "a surrogate refused");
	bad("<a>&#xFFFE;</a>", 1, "names a character", "U+FFFE refused");
	bad("<a>&#x110000;</a>", 1, "names a character",
	    "a code point above U+10FFFF refused");
	bad("<a>&#99999999999999999999999;</a>", 1, "names a character",
	    "a decimal reference that overflows 32 bits is refused");
	bad("<a>&#xFFFFFFFFFFFF0041;</a>", 1, "names a character",
	    "a hexadecimal reference that overflows 32 bits is refused");
	bad("<a>&#;</a>", 1, "malformed character reference",
	    "&#; (no digits)");
	bad("<a>&#x;</a>", 1, "malformed character reference",
	    "&#x; (no digits)");
	bad("<a>&#X41;</a>", 1, "malformed character reference",
	    "&#X (capital X) is not XML");
	bad("<a>&#x4G;</a>", 1, "malformed character reference",
	    "a non-hex digit");
	bad("<a>&#65</a>", 1, "malformed character reference",
	    "a character reference without ';'");
	bad("<a>&#65\xc3\xa9;</a>", 1, "\"&#65\"",
	    "a reference cut by a non-ASCII character: quoted without it");
}

static void test_cdata_comments_pi(void)
{
	good("<a><![CDATA[x < y && ]] z ]]]></a>", "<a>x < y && ]] z ]</a>",
	     "CDATA holding '<', '&', \"]]\" and ending in ']'");
	good("<a>1<![CDATA[<b>&amp;</b>]]>2<![CDATA[]]>3</a>",
	     "<a>1<b>&amp;</b>23</a>",
	     "CDATA is literal (no tags, no entities); empty CDATA");
	good("<a><![CDATA[l1\r\nl2]]></a>", "<a>l1\nl2</a>",
	     "line ends in CDATA become \\n");
	bad("<a>x ]]> y</a>", 1, "\"]]>\" outside a CDATA section",
	    "\"]]>\" in text is an error");
	good("<a>x ]] > y ]</a>", "<a>x ]] > y ]</a>",
	     "\"]]\" and ']' alone are plain text");
	bad("<![CDATA[x]]><a/>", 1, "CDATA section outside the root",
	    "CDATA before the root element");
	bad("<a>\n<![CDATA[never closed</a>", 2, "inside a CDATA section "
	    "(line 2)", "an unclosed CDATA section");

	good("<!-- c1 --><a>x<!-- <b> & - > -->y<!---->z</a><!-- c2 -->",
	     "<a>xyz</a>", "comments (with markup, single '-' and empty)");
	bad("<a><!-- a -- b --></a>", 1, "\"--\" inside a comment",
	    "'--' inside a comment is an error");
	bad("<a>\n\n<!-- x ---></a>", 3, "\"--\" inside a comment",
	    "a comment ending in \"--->\" is an error");
	bad("<a><!-- open </a>", 1, "inside a comment (line 1)",
	    "an unclosed comment");

	good("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?style x > y?>"
	     "<a><?pi data?><?pi?></a><?after?>",
	     "<a></a>", "XML declaration and processing instructions skipped");
	bad("\n<?xml version=\"1.0\"?><a/>", 2, "XML declaration not at "
	    "the start", "an XML declaration after a newline");
	bad("<a><?XmL x?></a>", 1, "XML declaration not at the start",
	    "a PI named xml (any case) inside the document");
	bad("<?xml?><a/>", 1, "without a version",
	    "an XML declaration without a version");
	bad("<?XML version=\"1.0\"?><a/>", 1, "written \"<?xml\"",
	    "an XML declaration in capitals");
	good("<?xml version = '1.0' encoding=\"ISO-8859-1\" standalone='no' "
	     "?><a/>", "<a></a>", "a declaration with all three parts");
	bad("<?xml version=\"1.0\" encoding=\"UTF 8\"?><a/>", 1,
	    "bad encoding", "a declaration with a malformed encoding");
	bad("<?xml version=\"1.0\" standalone=\"maybe\"?><a/>", 1,
	    "bad standalone", "a declaration with a bad standalone");
	bad("<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?>"
	    "<a/>", 1, "malformed XML declaration",
	    "declaration parts out of order");
	bad("<?xml encoding=\"UTF-8\"?><a/>", 1, "without a version",
	    "a declaration with only an encoding");
	bad("<?pi!x?><a/>", 1, "unexpected '!'", "a PI target run on");
	bad("<? x?><a/>", 1, "without a target", "a PI without target");

	good("<!DOCTYPE a SYSTEM \"a>b.dtd\" [\n <!ENTITY e \"x>y\">\n"
	     " <!-- ] > -->\n <?pi ]>?>\n]>\n<a>t</a>", "<a>t</a>",
	     "a DOCTYPE with '>' in strings, comments and PIs is skipped");
	bad("<!DOCTYPE a [<!ENTITY e \"x\">]>\n<a>&e;</a>", 2,
	    "undefined entity \"&e;\"",
	    "entities a DOCTYPE declares are not expanded");
	bad("<!DOCTYPE>\n<a/>", 1, "a DOCTYPE without a name",
	    "a DOCTYPE without a name");
	bad("<a/><!DOCTYPE a>", 1, "DOCTYPE after the root",
	    "a DOCTYPE after the root element");
	bad("<!DOCTYPE a [ <!ENTITY e 'x'>", 1, "inside the DOCTYPE",
	    "an unclosed DOCTYPE");
	bad("<a><!ELEMENT a ANY></a>", 1, "unknown markup",
	    "another <! declaration");
}

static void test_attributes(void)
{
	good("<a x=\"1 > 0\" y='a>b' z=\"it's\" w='say \"hi\"'>t</a>",
	     "<a x=\"1 > 0\" y=\"a>b\" z=\"it's\" w=\"say \"hi\"\">t</a>",
	     "'>' and the other quote inside quoted values");
	bad("<a x='1' x='2'/>", 1, "attribute x given twice in <a>",
	    "a duplicate attribute");
	bad("<a b='' c='' d='' e='' c=''/>", 1, "attribute c given twice",
	    "a duplicate attribute among several");
	bad("<a x='1'y='2'/>", 1, "no space before an attribute",
	    "attributes without space between them");
	bad("<a x=1/>", 1, "attribute x is not in quotes",
	    "an unquoted attribute value");
	bad("<a x/>", 1, "attribute x without '='", "an attribute without =");
	bad("<a x='a<b'/>", 1, "'<' inside an attribute value",
	    "'<' in an attribute value");
	bad("<a\nx='1\n\n/>", 4, "inside the tag <a> (line 1)",
	    "an attribute value never closed");
	bad("<a / >", 1, "unexpected '/'", "'/' not followed by '>'");
}

static void test_structure(void)
{
	bad("<testsuite><testcase>", 1, "<testcase> (line 1) is not closed",
	    "unclosed tags at the end (the JUnit fixture)");
	bad("<a>\n <b>\n  text", 3, "<b> (line 2) is not closed",
	    "the innermost unclosed element is named, with its line");
	bad("<a>\n<b>\n</a>", 3, "</a> does not match <b> (line 2)",
	    "a mismatched end tag");
	bad("<a></a\n></b>", 2, "</b> without a start tag",
	    "an end tag after the root element closed");
	bad("<a></ab>", 1, "</ab> does not match <a>",
	    "an end tag that only begins with the open name");
	bad("<a></a x>", 1, "unexpected 'x' in the end tag",
	    "an end tag with an attribute");
	bad("<a/><b/>", 1, "a second root element", "two root elements");
	bad("<a/>\ntext", 2, "text after the root element",
	    "text after the root");
	bad("hello<a/>", 1, "text before the root element",
	    "text before the root");
	good(" \r\n\t<a/> \n", "<a></a>", "whitespace around the root");
	bad("", 1, "no root element", "an empty document");
	bad("<?xml version='1.0'?>\n<!-- only -->\n", 3, "no root element",
	    "a document of a declaration and a comment");
	bad("<a>1 < 2</a>", 1, "'<' not followed by a name",
	    "a bare '<' in text");
	bad("<1a/>", 1, "'<' not followed by a name", "a name starting "
	    "with a digit");
	bad("<a>\n\x01</a>", 2, "character 0x01 is not allowed",
	    "a C0 control character in the text");
	bad("<a>\n\n\xff</a>", 3, "not UTF-8", "a byte that is not UTF-8");
	bad("<a>\xc0\xaf</a>", 1, "not UTF-8", "an overlong UTF-8 sequence");
	bad("<a>\xed\xa0\x80</a>", 1, "not UTF-8", "a UTF-8 surrogate");
	bad("<a>\xef\xbf\xbe</a>", 1, "not UTF-8", "U+FFFE in UTF-8");
	bad("<a>\xe2\x82</a>", 1, "not UTF-8", "a cut UTF-8 sequence");
	bad_len("<a>\0</a>", 8, 1, "character 0x00", "a NUL byte");
	bad("<a></b>\n\xff", 1, "</b> does not match <a>",
	    "errors come in document order: the tag before the bad byte");
	bad("<a><!-- \xff --></a>", 1, "not UTF-8",
	    "a bad byte inside a comment is reported as such");

	/* names quoted in messages are cut at 64 bytes, on a character */
	char doc[512];
	strcpy(doc, "<a");
	for (int i = 0; i < 63; i++)
		strcat(doc, "\xc3\xa9");
	strcat(doc, "></b>");
	bad(doc, 1, "</b> does not match <a\xc3\xa9",
	    "a long non-ASCII name is quoted cut at a character boundary");
}

static void test_depth(void)
{
	enum { N = 10000 };
	char *doc = malloc(7 * N + 1), *p = doc;

	for (int i = 0; i < N; i++, p += 3)
		memcpy(p, "<a>", 3);
	for (int i = 0; i < N; i++, p += 4)
		memcpy(p, "</a>", 4);
	*p = '\0';
	bad_len(doc, 3 * N, 1, "nested more than 256 deep",
	        "10000 unclosed nested elements stop at the default depth");
	bad(doc, 1, "nested more than 256 deep",
	    "10000 nested elements stop at the default depth");

	struct rec r;
	struct xml_handler deep = recorder;
	deep.max_depth = 2 * N;
	memset(&r, 0, sizeof r);
	rec_str(&r, "");
	int rc = xml_parse(doc, strlen(doc), &deep, &r, &err);
	ok(rc == 0 && r.starts == N && r.len == strlen(doc),
	   "10000 nested elements parse with max_depth 20000 (no recursion)");
	free(r.s);

	deep.max_depth = 3;
	memset(&r, 0, sizeof r);
	rc = xml_parse("<a><b><c/></b></a>", 18, &deep, &r, &err);
	ok(rc == 0, "depth exactly max_depth is accepted");
	free(r.s);
	memset(&r, 0, sizeof r);
	rc = xml_parse("<a><b><c><d/></c></b></a>", 25, &deep, &r, &err);
	ok(rc == -1 && strstr(err.msg, "more than 3 deep"),
	   "one more level than max_depth is refused");
	free(r.s);
	free(doc);
}

/* Every proper prefix of a well-formed document must be refused. */
static void test_truncated(void)
{
	static const char doc[] =
		"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE s [<!ENTITY x \"y\">]>\n"
		"<!-- report -->\n"
		"<s n='a &amp; b' m=\"&#x1F600;\">\n"
		" <c n=\"x\"><f m='m'>t &lt; &#233;<![CDATA[ ]] ]]></f></c>\n"
		" <c/><?pi x?>\n"
		"</s>\n";
	size_t len = sizeof doc - 1, refused = 0, bad_line = 0;

	ok(xml_parse(doc, len, NULL, NULL, &err) == 0,
	   "the whole document parses");
	for (size_t n = 0; n < len; n++) {
		struct rec r;
		/* a copy of exactly n bytes, so ASan sees any over-read */
		char *cut = malloc(n ? n : 1);
		memcpy(cut, doc, n);
		if (parse_len(cut, n, &r) == -1) {
			refused++;
			if (err.line < 1 || err.line > 8)
				bad_line++;
		}
		free(r.s);
		free(cut);
	}
	is_int(refused, len - 1, "every prefix but the one without the "
	       "final newline is refused");
	is_int(bad_line, 0, "each refusal names a line of the document");
	bad_len(doc, (size_t)(strstr(doc, "t &lt;") - doc) + 1, 5,
	        "<f> (line 5) is not closed", "cut inside <f>: named, line 5");
	bad_len(doc, (size_t)(strstr(doc, "ENTITY") - doc), 2,
	        "inside the DOCTYPE (line 2)", "cut inside the DOCTYPE");
}

int main(void)
{
	test_basics();
	test_xml_attr();
	test_entities();
	test_cdata_comments_pi();
	test_attributes();
	test_structure();
	test_depth();
	test_truncated();
	done_testing();
	return exit_status();
}

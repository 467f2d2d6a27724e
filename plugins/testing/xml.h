/*
 * xml.h -- a small streaming XML reader (SAX style) for the reports test
 * tools write. It reads a whole document held in memory and calls back for
 * each start tag, end tag and run of text, in document order.
 *
 * What it reads: elements, attributes in single or double quotes, text,
 * CDATA sections, comments, processing instructions and the XML
 * declaration (both skipped), a DOCTYPE (skipped, internal subset
 * included), the five predefined entities and decimal/hexadecimal
 * character references (passed on as UTF-8). Line ends are normalised as
 * XML requires: "\r\n" and "\r" become "\n" in text, and tab, CR and LF
 * become a space in attribute values.
 *
 * Caveats:
 * - The document is taken as UTF-8 whatever its declaration says (the
 *   declaration's form is checked, its encoding ignored); bytes that are
 *   not UTF-8, or characters XML forbids (most C0 controls, U+FFFE,
 *   U+FFFF), are errors.
 * - Names follow XML's rules for ASCII; any non-ASCII character is taken
 *   as a name character.
 * - A DOCTYPE is skipped without checking its declarations.
 * - Entities declared in a DOCTYPE are never expanded: referring to one
 *   is an "undefined entity" error (no entity expansion attacks).
 * - No namespace processing: "ns:name" is passed on as written.
 * - Element nesting is limited (xml_handler.max_depth); the reader keeps
 *   its own stack on the heap and never recurses, so hostile input costs
 *   at most memory proportional to that limit plus the largest tag.
 * - No global or thread-local state: safe in a plugin that is unloaded.
 */
#ifndef MCPD_TESTING_XML_H
#define MCPD_TESTING_XML_H

#include <stddef.h>

/* The nesting limit used when xml_handler.max_depth is 0. */
#define XML_DEPTH_DEFAULT 256

/*
 * Callbacks, each optional (NULL is skipped); ud is xml_parse's.
 * - start: a start tag (or an empty-element tag, followed at once by its
 *   end). attrs holds name, value, name, value... then NULL; names and
 *   values are valid only during the call.
 * - end: an end tag; name as in start.
 * - text: character data inside the root element, entities decoded, in
 *   one or more pieces (s is not NUL-terminated; len > 0). Whitespace
 *   between the root element and the rest is not passed on.
 */
struct xml_handler {
	void (*start)(void *ud, const char *name, const char *const *attrs);
	void (*end)(void *ud, const char *name);
	void (*text)(void *ud, const char *s, size_t len);
	unsigned max_depth;     /* open elements at most; 0: the default */
};

/* Why a document was refused: a sentence and the line (from 1) it is on. */
struct xml_error {
	unsigned long line;
	char msg[192];
};

/*
 * Read doc[0..len) (need not be NUL-terminated), calling h's callbacks.
 * Returns 0 when the document is well-formed, else -1 with err filled in;
 * the callbacks may have been called for the part before the error.
 */
int xml_parse(const char *doc, size_t len, const struct xml_handler *h,
              void *ud, struct xml_error *err);

/* The value of attribute `name` in a start callback's attrs, or NULL. */
const char *xml_attr(const char *const *attrs, const char *name);

#endif /* MCPD_TESTING_XML_H */

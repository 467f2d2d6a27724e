/*
 * lex.h -- just enough of a C/C++ and a Python tokenizer to find the
 * identifiers of a source file: everything that is code, and nothing
 * inside a comment, a string or character literal, a raw string, the
 * literal text of a Python f-string (its {expressions} are code), an
 * #include <header> name or a number.
 *
 * It is lexical, not semantic: every identifier token with a given
 * spelling is one occurrence, whatever scope or namespace it lives in.
 */
#ifndef REFACTOR_LEX_H
#define REFACTOR_LEX_H

#include <stddef.h>

enum lex_lang {
	LEX_C,
	LEX_CPP,
	LEX_PYTHON,
};

/* One identifier token: byte offset and length in the text; line and
 * column 1-based, the column counted in characters (UTF-8 code points). */
struct lex_ident {
	size_t off;
	size_t len;
	int line;
	int col;
};

/*
 * Call fn(text, id, arg) for each identifier of `text` in order; a
 * non-zero return of fn stops the scan and is returned. Returns 0, or -1
 * with a sentence in err (a comment, string or f-string expression left
 * open at the end of the text, naming the line it starts on).
 */
typedef int (*lex_fn)(const char *text, const struct lex_ident *id,
                      void *arg);
int lex_identifiers(enum lex_lang lang, const char *text, size_t len,
                    lex_fn fn, void *arg, char *err, size_t errlen);

/* Is `word` a keyword of `lang` (C11/C23, C++20, Python 3 hard keywords)? */
int lex_is_keyword(enum lex_lang lang, const char *word);

/* Is `word` a Python builtin name (function, type, constant, exception)? */
int lex_is_python_builtin(const char *word);

/* Is `word` a valid identifier: [A-Za-z_][A-Za-z0-9_]*, 1..255 bytes? */
int lex_valid_identifier(const char *word);

#endif

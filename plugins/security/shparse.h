/*
 * shparse.h -- a POSIX/bash command-line parser for security.check_command.
 *
 * It never runs anything: it tokenizes the line the way the shell would
 * (quotes, backslashes, $var / ${var}, $(...), backticks, $'...', <(...),
 * pipelines, lists, subshells, groups, functions, redirections, heredocs),
 * expands what can be known statically (variables assigned earlier in the
 * same line, `$(echo word)`, $IFS splitting) and produces a flat list of
 * simple commands, each knowing its pipeline, its redirections and the
 * scripts of the command substitutions inside its words. What cannot be
 * known is kept as source text and flagged W_DYNAMIC.
 *
 * Everything lives in one arena, freed with sh_arena_free().
 */
#ifndef MCPD_SECURITY_SHPARSE_H
#define MCPD_SECURITY_SHPARSE_H

#include <stddef.h>

struct sh_arena;

/* Word flags. */
#define W_QUOTED 0x01u  /* some part was quoted or escaped */
#define W_DYNAMIC 0x02u /* holds an expansion whose value is unknown */
#define W_SUBST 0x04u   /* holds a command substitution */
#define W_GLOB 0x08u    /* unquoted * ? [ or { */
#define W_PROCSUB 0x10u /* a process substitution <(...) / >(...) */
#define W_TILDE 0x20u   /* starts with an unquoted ~ */
#define W_VAR 0x40u     /* holds a variable expansion (known or not) */
#define W_NET 0x80u     /* holds output of a network fetch (curl, wget...),
                         directly or through a variable */

struct sh_script;

struct sh_word {
	const char *text; /* expanded (dynamic parts as source text) */
	unsigned flags;
	struct sh_script **subs; /* scripts of $(...), `...`, <(...) in it */
	size_t nsubs;
};

struct sh_redir {
	int fd;               /* -1: the operator's default */
	const char *op;       /* ">", ">>", "<", "<<", "<<<", ">&", "&>"... */
	struct sh_word target;
	const char *heredoc;  /* body for << and <<-, else NULL */
};

struct sh_cmd {
	struct sh_word *argv;
	size_t argc;
	struct sh_word *assigns; /* NAME=value prefixes, expanded */
	size_t nassigns;
	struct sh_redir *redirs;
	size_t nredirs;
	int pipeline;    /* id shared by the stages of one pipeline */
	int stage;       /* 0-based position in it */
	int stages;      /* its length */
	int gpipeline;   /* pipeline and stage of the outermost group */
	int gstage;      /* holding it: `(a; b) | c` feeds a and b to c */
	int background;  /* the pipeline ends in & */
	const char *function; /* innermost function whose body holds it */
};

struct sh_script {
	struct sh_cmd *cmds;
	size_t ncmds, cap;
	const char *error; /* NULL, or why the text does not parse */
};

/* Variables known while parsing; shared by nested parses of one check. */
struct sh_vars;

struct sh_arena *sh_arena_new(void);
void sh_arena_free(struct sh_arena *a);
void *sh_alloc(struct sh_arena *a, size_t n);
char *sh_strndup(struct sh_arena *a, const char *s, size_t n);
char *sh_strdup(struct sh_arena *a, const char *s);

/* A variable table with the shell's defaults (IFS, HOME as ~). */
struct sh_vars *sh_vars_new(struct sh_arena *a);
/* The value of `name`: NULL when unset or unknown; *known says which. */
const char *sh_var_get(struct sh_vars *v, const char *name, int *known);

/*
 * Parse `text` (len bytes). `depth` counts nested parses (bash -c, eval,
 * substitutions); past SH_MAX_DEPTH the result carries an error. Never
 * NULL; check ->error.
 */
#define SH_MAX_DEPTH 8
struct sh_script *sh_parse(struct sh_arena *a, struct sh_vars *vars,
                           const char *text, size_t len, int depth);

#endif

# Metrics of Python files, through Python's own tokenize and ast modules.
# Run by the analysis plugin inside the sandbox as
#   python3 -I -c <this text> FILE...
# and prints one JSON object: {"files": {FILE: metrics}}.
#
# Lines: blank (white space only), comment (a comment and no code), code
# (touched by any other token; a multi-line string counts on every line).
# Functions: every def / async def, named by its enclosing classes and
# functions ("Class.method", "outer.inner"), with its cyclomatic
# complexity: 1 + one per if/elif, for, while, except, ternary, each
# extra operand of and/or, each for and if of a comprehension, each case
# of a match. Nested functions and classes count on their own, not in the
# function around them; lambdas count in the function around them.
import ast
import io
import json
import sys
import tokenize


def line_counts(data):
    text = data.decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    code, comment = set(), set()
    skip = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER, tokenize.ENCODING)
    try:
        for tok in tokenize.tokenize(io.BytesIO(data).readline):
            if tok.type == tokenize.COMMENT:
                comment.add(tok.start[0])
            elif tok.type not in skip:
                code.update(range(tok.start[0], tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass
    n_code = n_comment = n_blank = 0
    for i, text in enumerate(lines, 1):
        if not text.strip():
            n_blank += 1
        elif i in code:
            n_code += 1
        else:
            n_comment += 1
    return {"lines": len(lines), "code_lines": n_code,
            "comment_lines": n_comment, "blank_lines": n_blank}


SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def complexity(func):
    n = 1
    todo = list(ast.iter_child_nodes(func))
    while todo:
        node = todo.pop()
        if isinstance(node, SCOPES):
            continue
        if isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While,
                             ast.ExceptHandler, ast.IfExp)):
            n += 1
        elif isinstance(node, ast.BoolOp):
            n += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            n += 1 + len(node.ifs)
        elif hasattr(ast, "match_case") and isinstance(node, ast.match_case):
            n += 1
        todo.extend(ast.iter_child_nodes(node))
    return n


def functions(tree):
    out = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                args = child.args
                params = (len(args.posonlyargs) + len(args.args) +
                          len(args.kwonlyargs) + bool(args.vararg) +
                          bool(args.kwarg))
                end = getattr(child, "end_lineno", None) or child.lineno
                out.append({"name": name, "line": child.lineno,
                            "end_line": end, "lines": end - child.lineno + 1,
                            "parameters": params,
                            "complexity": complexity(child)})
                walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    out.sort(key=lambda f: (f["line"], f["name"]))
    return out


def metrics(path):
    with open(path, "rb") as f:
        data = f.read()
    m = {"language": "python"}
    m.update(line_counts(data))
    try:
        tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError) as e:
        m["functions"] = []
        m["error"] = "%s: %s" % (type(e).__name__, getattr(e, "msg", e))
        if getattr(e, "lineno", None):
            m["error_line"] = e.lineno
        return m
    m["functions"] = functions(tree)
    return m


def main(paths):
    out = {}
    for p in paths:
        try:
            out[p] = metrics(p)
        except (OSError, RecursionError, MemoryError) as e:
            out[p] = {"language": "python", "error": str(e)}
    json.dump({"files": out}, sys.stdout)


main(sys.argv[1:])

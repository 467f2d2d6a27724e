/* JSON Schema subset and json_text_depth (core/schema.c). */
#include "schema-internal.h"
#include "tap.h"

#include <stdlib.h>

static char path[256], msg[256];

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!v) {
		diag("bad test JSON %s: %s", text, e.text);
		abort();
	}
	return v;
}

/* Validate, after checking the schema is usable; path and msg hold the
 * failure. -2 if the schema itself was refused. */
static int check(const char *schema, const char *instance)
{
	json_t *s = parse(schema), *x = parse(instance);
	int rc = -2;
	if (schema_check(s, msg, sizeof msg) == 0)
		rc = schema_validate(s, x, path, sizeof path, msg, sizeof msg);
	else
		diag("schema refused: %s", msg);
	json_decref(s);
	json_decref(x);
	return rc;
}

/* The reason schema_check gives for `schema` ("" if accepted). */
static const char *refusal(const char *schema)
{
	json_t *s = parse(schema);
	if (schema_check(s, msg, sizeof msg) == 0)
		msg[0] = '\0';
	json_decref(s);
	return msg;
}

/* One failure: its path and its message both exact. */
static void fails(const char *schema, const char *instance,
                  const char *want_path, const char *want_msg)
{
	int rc = check(schema, instance);
	is_int(rc, -1, "%s rejects %s", schema, instance);
	is_str(path, want_path, "  path");
	is_str(msg, want_msg, "  message");
}

static void test_type(void)
{
	is_int(check("{\"type\":\"integer\"}", "3"), 0, "integer: 3");
	is_int(check("{\"type\":\"integer\"}", "3.0"), 0, "integer: 3.0");
	fails("{\"type\":\"integer\"}", "3.5", "", "must be integer");
	is_int(check("{\"type\":\"number\"}", "3"), 0, "number: 3");
	is_int(check("{\"type\":\"number\"}", "-3.5e2"), 0, "number: real");
	fails("{\"type\":\"number\"}", "true", "", "must be number");
	fails("{\"type\":\"boolean\"}", "0", "", "must be boolean");
	is_int(check("{\"type\":\"boolean\"}", "false"), 0, "boolean: false");
	is_int(check("{\"type\":\"null\"}", "null"), 0, "null: null");
	fails("{\"type\":\"string\"}", "null", "", "must be string");
	is_int(check("{\"type\":\"object\"}", "{}"), 0, "object: {}");
	fails("{\"type\":\"object\"}", "[]", "", "must be object");
	is_int(check("{\"type\":\"array\"}", "[]"), 0, "array: []");
	is_int(check("{\"type\":[\"string\",\"null\"]}", "null"), 0,
	       "type array: null");
	fails("{\"type\":[\"string\",\"null\"]}", "1", "",
	      "must be string or null");
	fails("{\"type\":[\"string\",\"array\",\"null\"]}", "{}", "",
	      "must be string, array or null");
	is_int(check("{\"type\":[\"integer\"]}", "1e300"), 0,
	       "integer: a huge real is whole");
}

static void test_values(void)
{
	is_int(check("{\"enum\":[\"a\",\"b\"]}", "\"b\""), 0, "enum: b");
	fails("{\"enum\":[\"a\",\"b\"]}", "\"c\"", "",
	      "must be one of [\"a\",\"b\"]");
	is_int(check("{\"enum\":[1,{\"k\":[2]}]}", "1.0"), 0,
	       "enum: 1.0 equals 1");
	is_int(check("{\"enum\":[1,{\"k\":[2]}]}", "{\"k\":[2.0]}"), 0,
	       "enum: nested numbers compare by value");
	is_int(check("{\"enum\":[1]}", "true"), -1, "enum: true is not 1");
	is_int(check("{\"const\":{\"a\":1}}", "{\"a\":1}"), 0, "const: equal");
	fails("{\"const\":{\"a\":1}}", "{\"a\":2}", "",
	      "must be equal to {\"a\":1}");
	fails("{\"const\":null}", "0", "", "must be equal to null");
}

static void test_numbers(void)
{
	fails("{\"minimum\":0}", "-1", "", "must be >= 0");
	is_int(check("{\"minimum\":0}", "0"), 0, "minimum: boundary");
	fails("{\"maximum\":10.5}", "11", "", "must be <= 10.5");
	is_int(check("{\"maximum\":10.5}", "10.5"), 0, "maximum: boundary");
	fails("{\"exclusiveMinimum\":0}", "0", "", "must be > 0");
	is_int(check("{\"exclusiveMinimum\":0}", "0.001"), 0,
	       "exclusiveMinimum: just above");
	fails("{\"exclusiveMaximum\":1}", "1.0", "", "must be < 1");
	fails("{\"minimum\":0.1}", "0.05", "", "must be >= 0.1");
	is_int(check("{\"maximum\":9007199254740993}", "9007199254740992"), 0,
	       "large integers compare exactly");
	fails("{\"maximum\":9007199254740992}", "9007199254740993", "",
	      "must be <= 9007199254740992");
	is_int(check("{\"minimum\":5}", "\"abc\""), 0,
	       "numeric bounds ignore strings");
	is_int(check("{\"minimum\":5}", "false"), 0,
	       "numeric bounds ignore booleans");
}

static void test_strings(void)
{
	fails("{\"minLength\":2}", "\"\xc3\xa9\"", "",
	      "must have at least 2 characters");
	is_int(check("{\"minLength\":2}", "\"\xc3\xa9\xc3\xa9\""), 0,
	       "minLength counts code points");
	fails("{\"maxLength\":2}", "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"",
	      "", "must have at most 2 characters");
	is_int(check("{\"maxLength\":3}",
	             "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\""), 0,
	       "maxLength: three CJK characters, nine bytes");
	fails("{\"minLength\":1}", "\"\"", "", "must have at least 1 character");
	is_int(check("{\"pattern\":\"^[a-z]+$\"}", "\"abc\""), 0, "pattern");
	fails("{\"pattern\":\"^[a-z]+$\"}", "\"ab1\"", "",
	      "must match pattern \"^[a-z]+$\"");
	is_int(check("{\"pattern\":\"b\"}", "\"abc\""), 0,
	       "pattern is an unanchored search");
	is_int(check("{\"pattern\":\"c$\"}", "\"a\\u0000c\""), 0,
	       "pattern sees past an embedded NUL");
	is_int(check("{\"maxLength\":1,\"pattern\":\"x\"}", "5"), 0,
	       "string keywords ignore numbers");
}

static void test_arrays(void)
{
	fails("{\"items\":{\"type\":\"integer\"}}", "[1,\"x\"]", "/1",
	      "must be integer");
	is_int(check("{\"items\":{\"type\":\"integer\"}}", "[1,2]"), 0, "items");
	fails("{\"maxItems\":3}", "[1,2,3,4]", "", "must have at most 3 items");
	fails("{\"minItems\":1}", "[]", "", "must have at least 1 item");
	is_int(check("{\"minItems\":1,\"maxItems\":1}", "[0]"), 0,
	       "minItems/maxItems boundary");
}

static const char *const files_schema =
	"{\"type\":\"object\",\"required\":[\"files\"],\"properties\":{"
	"\"files\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"required\":[\"name\"],\"properties\":{\"name\":{\"type\":"
	"\"string\",\"minLength\":1}}}}}}";

static void test_objects(void)
{
	fails("{\"required\":[\"ms\"]}", "{\"m\":1}", "",
	      "required property \"ms\" is missing");
	is_int(check("{\"required\":[\"ms\"]}", "[1]"), 0,
	       "required ignores non-objects");
	is_int(check(files_schema, "{\"files\":[{\"name\":\"a\"}]}"), 0,
	       "nested object");
	fails(files_schema,
	      "{\"files\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"\"}]}",
	      "/files/2/name", "must have at least 1 character");
	fails(files_schema, "{\"files\":[{\"nam\":\"a\"}]}", "/files/0",
	      "required property \"name\" is missing");
	fails("{\"properties\":{\"a\":{}},\"additionalProperties\":false}",
	      "{\"a\":1,\"x\":2}", "", "additional property \"x\" is not allowed");
	fails("{\"properties\":{\"a\":{}},\"additionalProperties\":"
	      "{\"type\":\"string\"}}",
	      "{\"a\":1,\"x\":2}", "/x", "must be string");
	fails("{\"properties\":{\"a/b~c\":{\"type\":\"string\"}}}",
	      "{\"a/b~c\":1}", "/a~1b~0c", "must be string");
	fails("{\"properties\":{\"x\":false}}", "{\"x\":1}", "/x",
	      "is not allowed");
}

static void test_combinators(void)
{
	const char *any = "{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":10}]}";
	is_int(check(any, "\"s\""), 0, "anyOf: first");
	is_int(check(any, "12"), 0, "anyOf: second");
	fails(any, "3", "", "must match at least one schema in anyOf");

	const char *one = "{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}";
	is_int(check(one, "-1"), 0, "oneOf: exactly one");
	fails(one, "2", "", "must match exactly one schema in oneOf (matched 2)");
	fails(one, "-0.5", "",
	      "must match exactly one schema in oneOf (matched 0)");

	fails("{\"properties\":{\"n\":{\"allOf\":[{\"type\":\"integer\"},"
	      "{\"maximum\":3}]}}}", "{\"n\":4}", "/n", "must be <= 3");

	is_int(check("true", "{\"any\":[1]}"), 0, "schema true accepts all");
	fails("false", "null", "", "is not allowed");
	is_int(check("{\"frobnicate\":7}", "1"), 0, "unknown keywords ignored");
}

static void test_check(void)
{
	is_str(refusal("\"string\""), "must be an object or a boolean",
	       "check: schema must be an object");
	is_str(refusal("{\"type\":\"foo\"}"), "/type: unknown type \"foo\"",
	       "check: unknown type");
	is_str(refusal("{\"type\":[\"string\",1]}"), "/type/1: must be a type name",
	       "check: type array element");
	is_str(refusal("{\"type\":[]}"),
	       "/type: must be a type name or a non-empty array of type names",
	       "check: empty type array");
	is_str(refusal("{\"required\":\"a\"}"),
	       "/required: must be an array of strings", "check: required");
	is_str(refusal("{\"required\":[\"a\",2]}"),
	       "/required/1: must be a string", "check: required element");
	is_str(refusal("{\"properties\":[]}"),
	       "/properties: must be an object of schemas", "check: properties");
	is_str(refusal("{\"properties\":{\"ms\":{\"minimum\":\"0\"}}}"),
	       "/properties/ms/minimum: must be a number",
	       "check: nested minimum");
	is_str(refusal("{\"properties\":{\"a/b\":{\"type\":1}}}"),
	       "/properties/a~1b/type: must be a type name or a non-empty "
	       "array of type names", "check: pointer escaping");
	is_str(refusal("{\"items\":3}"), "/items: must be an object or a boolean",
	       "check: items");
	is_str(refusal("{\"additionalProperties\":\"no\"}"),
	       "/additionalProperties: must be an object or a boolean",
	       "check: additionalProperties");
	is_str(refusal("{\"exclusiveMaximum\":true}"),
	       "/exclusiveMaximum: must be a number",
	       "check: draft-4 boolean exclusiveMaximum");
	is_str(refusal("{\"minLength\":-1}"),
	       "/minLength: must be a non-negative integer", "check: minLength");
	is_str(refusal("{\"maxItems\":1.5}"),
	       "/maxItems: must be a non-negative integer", "check: maxItems");
	is_str(refusal("{\"enum\":{}}"), "/enum: must be an array",
	       "check: enum");
	ok(strncmp(refusal("{\"pattern\":\"(\"}"),
	           "/pattern: invalid regular expression: ", 38) == 0,
	   "check: bad regex (%s)", msg);
	is_str(refusal("{\"pattern\":5}"), "/pattern: must be a string",
	       "check: pattern type");
	is_str(refusal("{\"anyOf\":[]}"),
	       "/anyOf: must be a non-empty array of schemas", "check: anyOf");
	is_str(refusal("{\"allOf\":{}}"),
	       "/allOf: must be a non-empty array of schemas", "check: allOf");
	is_str(refusal("{\"oneOf\":[{},{\"type\":\"x\"}]}"),
	       "/oneOf/1/type: unknown type \"x\"", "check: oneOf element");
	is_str(refusal(files_schema), "", "check: a real schema passes");
	is_str(refusal("false"), "", "check: false is a schema");
	is_str(refusal("{\"minItems\":2.0,\"const\":[1]}"), "",
	       "check: 2.0 is a count");
	is_int(schema_check(NULL, msg, sizeof msg), -1, "check: NULL refused");
}

/* {"items": {"items": ... {} ...}} nested n levels deep. */
static json_t *nested_items(int n)
{
	json_t *s = json_object();
	for (int i = 0; i < n; i++) {
		json_t *up = json_object();
		json_object_set_new(up, "items", s);
		s = up;
	}
	return s;
}

static void test_schema_depth(void)
{
	json_t *ok_schema = nested_items(128), *deep = nested_items(200);
	char long_msg[2048];
	is_int(schema_check(ok_schema, msg, sizeof msg), 0,
	       "128 levels of schema accepted");
	is_int(schema_check(deep, long_msg, sizeof long_msg), -1,
	       "200 levels of schema refused");
	ok(strstr(long_msg, ": schema nesting exceeds 128 levels") != NULL,
	   "  saying why");
	ok(strncmp(long_msg, "/items/items/", 13) == 0, "  with its pointer");

	json_t *x = parse("[[[1]]]");
	is_int(schema_validate(deep, x, path, sizeof path, msg, sizeof msg), 0,
	       "validation stops where the instance does");
	json_decref(x);
	json_decref(ok_schema);
	json_decref(deep);

	/* A path longer than the buffer is cut, never overrun. */
	char small[4];
	json_t *s = parse("{\"items\":{\"items\":{\"type\":\"string\"}}}");
	x = parse("[[\"a\", 1]]");
	is_int(schema_validate(s, x, small, sizeof small, msg, sizeof msg), -1,
	       "small path buffer");
	is_str(small, "/0/", "  path truncated");
	json_decref(s);
	json_decref(x);
}

static int depth(const char *text, int limit)
{
	return json_text_depth(text, strlen(text), limit);
}

static void test_text_depth(void)
{
	is_int(depth("", 10), 0, "depth: empty");
	is_int(depth("42", 10), 0, "depth: scalar");
	is_int(depth("\"[[{\"", 10), 0, "depth: scalar string of brackets");
	is_int(depth("[]", 10), 1, "depth: []");
	is_int(depth("{\"a\":[1,[2]],\"b\":{}}", 10), 3, "depth: mixed");
	is_int(depth("[\"[[[{\"]", 10), 1, "depth: brackets in a string");
	is_int(depth("[\"\\\"[[\"]", 10), 1, "depth: escaped quote");
	is_int(depth("[\"\\\\\",[[]]]", 10), 3,
	       "depth: escaped backslash ends before the quote");
	is_int(depth("[\"\\\\\\\"[\"]", 10), 1, "depth: \\\\\\\" stays inside");
	is_int(depth("{\"k]}\":{\"v{\":[]}}", 10), 3, "depth: brackets in keys");
	is_int(depth("[[[]]]", 3), 3, "depth: exactly the limit");
	is_int(depth("[[[[]]]]", 3), 4, "depth: limit + 1");
	is_int(depth("[[[[ this is not even json", 2), 3,
	       "depth: stops as soon as exceeded");
	is_int(depth("[]]]][[", 10), 2, "depth: stray closers do not go negative");
	is_int(json_text_depth("[[[", 1, 10), 1, "depth: length respected");

	size_t n = 100000;
	char *big = malloc(2 * n + 1);
	memset(big, '[', n);
	memset(big + n, ']', n);
	big[2 * n] = '\0';
	is_int(json_text_depth(big, 2 * n, 1000), 1001, "depth: 100000 deep");
	is_int(json_text_depth(big, 2 * n, 100000), 100000,
	       "depth: 100000 deep, limit 100000");
	free(big);
}

int main(void)
{
	test_type();
	test_values();
	test_numbers();
	test_strings();
	test_arrays();
	test_objects();
	test_combinators();
	test_check();
	test_schema_depth();
	test_text_depth();
	done_testing();
	return exit_status();
}

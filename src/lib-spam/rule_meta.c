/*
 * rule_meta.c - meta rule expressions (and `if` conditions): Perl-like
 * boolean and arithmetic over rule names and numbers, compiled to
 * reverse Polish notation by shunting-yard.  Input: rule files (trusted
 * but third-party); expressions are bounded to META_MAX tokens.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "rules-private.h"

#define META_MAX 4096

static int
prec(enum meta_op op)
{
	switch (op) {
	case MOP_NOT: case MOP_NEG: return 7;
	case MOP_MUL: case MOP_DIV: return 6;
	case MOP_ADD: case MOP_SUB: return 5;
	case MOP_LT: case MOP_GT: case MOP_LE: case MOP_GE: return 4;
	case MOP_EQ: case MOP_NE: return 3;
	case MOP_AND: return 2;
	case MOP_OR: return 1;
	default: return 0;
	}
}

static void
push(struct meta_expr *e, struct meta_tok t)
{
	e->v = xreallocarray(e->v, e->n + 1, sizeof(*e->v));
	e->v[e->n++] = t;
}

int
meta_parse(const char *s, struct meta_expr *e, const char **error_r)
{
	/* operator stack: ops, with -1 marking '(' */
	int ops[256];
	int nops = 0, expect_operand = 1, depth = 0, ntok = 0;
	const char *p = s;

	e->v = NULL;
	e->n = 0;
	while (*p) {
		enum meta_op op;
		size_t len = 1;

		if (isspace((unsigned char)*p)) { p++; continue; }
		if (++ntok > META_MAX) { *error_r = "expression too long"; goto fail; }
		if (isalpha((unsigned char)*p) || *p == '_') {
			const char *q = p;
			struct meta_tok t = { MOP_RULE, 0, NULL, -1 };
			if (!expect_operand) { *error_r = "operator expected"; goto fail; }
			while (isalnum((unsigned char)*q) || *q == '_' || *q == ':')
				q++;
			t.name = xstrndup(p, (size_t)(q - p));
			push(e, t);
			p = q;
			expect_operand = 0;
			continue;
		}
		if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
			char *q;
			struct meta_tok t = { MOP_NUM, 0, NULL, -1 };
			if (!expect_operand) { *error_r = "operator expected"; goto fail; }
			t.num = strtod(p, &q);
			push(e, t);
			p = q;
			expect_operand = 0;
			continue;
		}
		if (*p == '(') {
			if (!expect_operand) { *error_r = "operator expected before ("; goto fail; }
			if (nops >= (int)NELEM(ops)) { *error_r = "too deep"; goto fail; }
			ops[nops++] = -1;
			depth++;
			p++;
			continue;
		}
		if (*p == ')') {
			if (expect_operand || depth == 0) { *error_r = "unexpected )"; goto fail; }
			while (nops > 0 && ops[nops - 1] != -1) {
				struct meta_tok t = { (enum meta_op)ops[--nops], 0, NULL, -1 };
				push(e, t);
			}
			nops--;
			depth--;
			p++;
			continue;
		}
		if (expect_operand) {
			if (*p == '!' && p[1] != '=') op = MOP_NOT;
			else if (*p == '-') op = MOP_NEG;
			else if (*p == '+') { p++; continue; }
			else { *error_r = "operand expected"; goto fail; }
		} else if (p[0] == '&' && p[1] == '&') { op = MOP_AND; len = 2; }
		else if (p[0] == '|' && p[1] == '|') { op = MOP_OR; len = 2; }
		else if (p[0] == '<' && p[1] == '=') { op = MOP_LE; len = 2; }
		else if (p[0] == '>' && p[1] == '=') { op = MOP_GE; len = 2; }
		else if (p[0] == '=' && p[1] == '=') { op = MOP_EQ; len = 2; }
		else if (p[0] == '!' && p[1] == '=') { op = MOP_NE; len = 2; }
		else if (*p == '<') op = MOP_LT;
		else if (*p == '>') op = MOP_GT;
		else if (*p == '+') op = MOP_ADD;
		else if (*p == '-') op = MOP_SUB;
		else if (*p == '*') op = MOP_MUL;
		else if (*p == '/') op = MOP_DIV;
		else { *error_r = "unknown character"; goto fail; }
		if (op == MOP_NOT || op == MOP_NEG) {
			/* right-associative unary: no popping */
		} else {
			while (nops > 0 && ops[nops - 1] != -1 &&
			    prec((enum meta_op)ops[nops - 1]) >= prec(op)) {
				struct meta_tok t = { (enum meta_op)ops[--nops], 0, NULL, -1 };
				push(e, t);
			}
		}
		if (nops >= (int)NELEM(ops)) { *error_r = "too deep"; goto fail; }
		ops[nops++] = (int)op;
		expect_operand = 1;
		p += len;
	}
	if (expect_operand || depth != 0) {
		*error_r = expect_operand ? "incomplete expression" : "unbalanced (";
		goto fail;
	}
	while (nops > 0) {
		struct meta_tok t = { (enum meta_op)ops[--nops], 0, NULL, -1 };
		push(e, t);
	}
	return 0;
fail:
	meta_free(e);
	return -1;
}

void
meta_free(struct meta_expr *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].name);
	FREE(e->v);
	e->n = 0;
}

double
meta_eval(const struct meta_expr *e, double (*val)(void *, int, const char *),
    void *arg)
{
	double st[256];
	int sp = 0;

	for (size_t i = 0; i < e->n; i++) {
		const struct meta_tok *t = &e->v[i];
		double a, b;

		if (t->op == MOP_NUM || t->op == MOP_RULE) {
			if (sp >= (int)NELEM(st))
				return 0;
			st[sp++] = t->op == MOP_NUM ? t->num : val(arg, t->idx, t->name);
			continue;
		}
		if (t->op == MOP_NOT || t->op == MOP_NEG) {
			if (sp < 1)
				return 0;
			st[sp - 1] = t->op == MOP_NOT ? (st[sp - 1] == 0) : -st[sp - 1];
			continue;
		}
		if (sp < 2)
			return 0;
		b = st[--sp];
		a = st[sp - 1];
		switch (t->op) {
		case MOP_MUL: a = a * b; break;
		case MOP_DIV: a = b != 0 ? a / b : 0; break;
		case MOP_ADD: a = a + b; break;
		case MOP_SUB: a = a - b; break;
		case MOP_LT: a = a < b; break;
		case MOP_GT: a = a > b; break;
		case MOP_LE: a = a <= b; break;
		case MOP_GE: a = a >= b; break;
		case MOP_EQ: a = a == b; break;
		case MOP_NE: a = a != b; break;
		case MOP_AND: a = (a != 0) && (b != 0); break;
		case MOP_OR: a = (a != 0) || (b != 0); break;
		default: break;
		}
		st[sp - 1] = a;
	}
	return sp == 1 ? st[0] : 0;
}

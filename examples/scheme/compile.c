/* compile.c -- expressions to code trees.  Design: doc/design/scheme.md ("Evaluation").
 *
 * Code is made of heap objects (T_CODE vectors: an opcode, then operands),
 * so closures, and the images they are saved in, hold nothing but heap
 * data.  Local variables are resolved to (depth, index) here; the derived
 * forms (let*, cond, case, do, named let, quasiquote...) are rewritten
 * into the core ones.  A scope is a list of frames, a frame the list of
 * its variable names.
 */
#include <string.h>

#include "mem.h"
#include "scheme.h"

static value comp(value x, value scope, value name);

static value code(int op, size_t n)
{
    value c = make_obj(T_CODE, n + 1);
    VEC(c)[0] = make_fix(op);
    for (size_t i = 1; i <= n; i++)
        VEC(c)[i] = FALSE_V;
    return c;
}

static value code_const(value v)
{
    value c = code(OP_CONST, 1);
    VEC(c)[1] = v;
    return c;
}

static __attribute__((noreturn)) void syntax_error(const char *msg, value form)
{
    scm_error(msg, form);
}

static value nth(value l, int n, value form)
{
    for (; n > 0; n--) {
        if (!is_pair(l))
            syntax_error("bad syntax", form);
        l = CDR(l);
    }
    if (!is_pair(l))
        syntax_error("bad syntax", form);
    return CAR(l);
}

/* A symbol no program can name: the temporaries of rewritten forms. */
static value fresh_symbol(const char *name)
{
    struct symbol *s = mem_alloc(T_SYMBOL, sizeof *s, 0);
    s->name = cstring(name);
    s->global = UNBOUND;
    s->hash = make_fix(0);
    return (value)s;
}

static value g(const char *name) { return intern(name); }

static int lookup(value scope, value sym, int64_t *depth, int64_t *index)
{
    int64_t d = 0;
    for (; scope != NIL; scope = CDR(scope), d++) {
        int64_t i = 0;
        for (value v = CAR(scope); v != NIL; v = CDR(v), i++)
            if (CAR(v) == sym) {
                *depth = d, *index = i;
                return 1;
            }
    }
    return 0;
}

static value comp_ref(value sym, value scope)
{
    int64_t d, i;
    if (lookup(scope, sym, &d, &i)) {
        value c = code(OP_LOCAL, 2);
        VEC(c)[1] = make_fix(d);
        VEC(c)[2] = make_fix(i);
        return c;
    }
    value c = code(OP_GLOBAL, 1);
    VEC(c)[1] = sym;
    return c;
}

static value comp_set(value sym, value expr, value scope, value form)
{
    if (!is_symbol(sym))
        syntax_error("set!: not a variable", form);
    int64_t d, i;
    value e = comp(expr, scope, sym);
    if (lookup(scope, sym, &d, &i)) {
        value c = code(OP_SET_LOCAL, 3);
        VEC(c)[1] = make_fix(d);
        VEC(c)[2] = make_fix(i);
        VEC(c)[3] = e;
        return c;
    }
    value c = code(OP_SET_GLOBAL, 2);
    VEC(c)[1] = sym;
    VEC(c)[2] = e;
    return c;
}

/* (define (f . args) body...) -> f and (lambda args body...) */
static value define_target(value form, value *expr)
{
    value target = nth(form, 1, form);
    if (is_pair(target)) {
        *expr = cons(SYM_(NAMED_LAMBDA), cons(target, CDR(CDR(form))));
        return CAR(target);
    }
    if (!is_symbol(target))
        syntax_error("define: not a variable", form);
    value rest = CDR(CDR(form));
    *expr = rest == NIL ? UNSPEC : CAR(rest);
    if (rest != NIL && CDR(rest) != NIL)
        syntax_error("define: more than one expression", form);
    return target;
}

static int is_form(value x, value sym) { return is_pair(x) && CAR(x) == sym; }

/* The names a body defines (its own defines, and those of its begins),
 * appended to vars. */
static value body_defines(value body, value vars_rev)
{
    for (; is_pair(body); body = CDR(body)) {
        value x = CAR(body);
        if (is_form(x, SYM_(BEGIN)))
            vars_rev = body_defines(CDR(x), vars_rev);
        else if (is_form(x, SYM_(DEFINE))) {
            value ignored;
            value name = define_target(x, &ignored);
            vars_rev = cons(name, vars_rev);
        }
    }
    return vars_rev;
}

static value comp_seq(value body, value scope, value form)
{
    int64_t n = list_length(body);
    if (n <= 0)
        syntax_error(n == 0 ? "empty body" : "bad syntax", form);
    if (n == 1)
        return comp(CAR(body), scope, FALSE_V);
    value c = code(OP_SEQ, (size_t)n);
    for (int64_t i = 1; i <= n; i++, body = CDR(body))
        VEC(c)[i] = comp(CAR(body), scope, FALSE_V);
    return c;
}

/* A new frame of params (a list, reversed) and the body's defines. */
static value frame_scope(value params_rev, value body, value scope, int64_t *size)
{
    value vars_rev = body_defines(body, params_rev);
    *size = list_length(vars_rev);
    return cons(list_reverse(vars_rev), scope);
}

static value comp_lambda(value params, value body, value scope, value name, value form)
{
    value params_rev = NIL;
    int64_t n = 0;
    int rest = 0;
    for (; is_pair(params); params = CDR(params), n++) {
        if (!is_symbol(CAR(params)))
            syntax_error("lambda: a parameter is not a symbol", form);
        params_rev = cons(CAR(params), params_rev);
    }
    if (params != NIL) {
        if (!is_symbol(params))
            syntax_error("lambda: bad parameter list", form);
        params_rev = cons(params, params_rev);
        rest = 1;
    }
    int64_t size;
    value inner = frame_scope(params_rev, body, scope, &size);
    value c = code(OP_LAMBDA, 5);
    VEC(c)[1] = make_fix(n);
    VEC(c)[2] = make_fix(rest);
    VEC(c)[3] = make_fix(size);
    VEC(c)[5] = name;
    VEC(c)[4] = comp_seq(body, inner, form);
    return c;
}

/* (let ((v init)...) body...), and letrec's frame when inits is empty */
static value comp_let_frame(value vars_rev, value inits, value body, value scope, value form)
{
    int64_t size;
    value inner = frame_scope(vars_rev, body, scope, &size);
    int64_t n = list_length(inits);
    value c = code(OP_LET, 2 + (size_t)n);
    VEC(c)[1] = make_fix(size);
    for (int64_t i = 0; i < n; i++, inits = CDR(inits))
        VEC(c)[3 + i] = comp(CAR(inits), scope, FALSE_V);
    VEC(c)[2] = comp_seq(body, inner, form);
    return c;
}

static void parse_bindings(value bindings, value form, value *vars_rev, value *inits_rev)
{
    *vars_rev = *inits_rev = NIL;
    for (; is_pair(bindings); bindings = CDR(bindings)) {
        value b = CAR(bindings);
        if (is_symbol(b)) {
            *vars_rev = cons(b, *vars_rev);
            *inits_rev = cons(UNSPEC, *inits_rev);
            continue;
        }
        if (!is_pair(b) || !is_symbol(CAR(b)) || (CDR(b) != NIL && !is_pair(CDR(b))))
            syntax_error("bad binding", form);
        *vars_rev = cons(CAR(b), *vars_rev);
        *inits_rev = cons(CDR(b) == NIL ? UNSPEC : CAR(CDR(b)), *inits_rev);
    }
    if (bindings != NIL)
        syntax_error("bad binding list", form);
}

static value make_call(value fn, value args) { return cons(fn, args); }

static value comp_let(value form, value scope)
{
    value second = nth(form, 1, form);
    if (is_symbol(second)) {
        /* named let: ((letrec ((name (lambda vars body))) name) inits...) */
        value vars_rev, inits_rev;
        parse_bindings(nth(form, 2, form), form, &vars_rev, &inits_rev);
        value lambda = cons(SYM_(LAMBDA), cons(list_reverse(vars_rev), CDR(CDR(CDR(form)))));
        value letrec = list3(SYM_(LETREC), cons(list2(second, lambda), NIL), second);
        return comp(make_call(letrec, list_reverse(inits_rev)), scope, FALSE_V);
    }
    value vars_rev, inits_rev;
    parse_bindings(second, form, &vars_rev, &inits_rev);
    return comp_let_frame(vars_rev, list_reverse(inits_rev), CDR(CDR(form)), scope, form);
}

static value comp_letrec(value form, value scope)
{
    value vars_rev, inits_rev;
    parse_bindings(nth(form, 1, form), form, &vars_rev, &inits_rev);
    /* (let () (define v init)... body...): internal defines are letrec* */
    value body = CDR(CDR(form));
    value vars = list_reverse(vars_rev), inits = list_reverse(inits_rev), defs_rev = NIL;
    for (; vars != NIL; vars = CDR(vars), inits = CDR(inits))
        defs_rev = cons(list3(SYM_(DEFINE), CAR(vars), CAR(inits)), defs_rev);
    for (; defs_rev != NIL; defs_rev = CDR(defs_rev))
        body = cons(CAR(defs_rev), body);
    return comp_let_frame(NIL, NIL, body, scope, form);
}

static value comp_let_star(value form, value scope)
{
    value bindings = nth(form, 1, form);
    if (bindings == NIL || (is_pair(bindings) && CDR(bindings) == NIL))
        return comp(cons(SYM_(LET), CDR(form)), scope, FALSE_V);
    if (!is_pair(bindings))
        syntax_error("let*: bad binding list", form);
    value inner = cons(SYM_(LET_STAR), cons(CDR(bindings), CDR(CDR(form))));
    return comp(list3(SYM_(LET), cons(CAR(bindings), NIL), inner), scope, FALSE_V);
}

static value comp_if(value test, value then, value els, value scope)
{
    value c = code(OP_IF, 3);
    VEC(c)[1] = comp(test, scope, FALSE_V);
    VEC(c)[2] = comp(then, scope, FALSE_V);
    VEC(c)[3] = comp(els, scope, FALSE_V);
    return c;
}

static value rewrite_cond(value clauses, value form)
{
    if (clauses == NIL)
        return UNSPEC;
    value cl = CAR(clauses);
    if (!is_pair(cl))
        syntax_error("cond: bad clause", form);
    value rest = rewrite_cond(CDR(clauses), form);
    if (CAR(cl) == SYM_(ELSE))
        return cons(SYM_(BEGIN), CDR(cl));
    if (CDR(cl) == NIL) /* (test): its value */
        return list3(SYM_(OR), CAR(cl), rest);
    if (CAR(CDR(cl)) == SYM_(ARROW)) {
        value t = fresh_symbol("cond-value");
        value call = list2(nth(cl, 2, form), t);
        return list3(SYM_(LET), cons(list2(t, CAR(cl)), NIL),
                     cons(SYM_(IF), list3(t, call, rest)));
    }
    return cons(SYM_(IF), list3(CAR(cl), cons(SYM_(BEGIN), CDR(cl)), rest));
}

static value rewrite_case(value form)
{
    value k = fresh_symbol("case-key");
    value clauses_rev = NIL;
    for (value l = CDR(CDR(form)); is_pair(l); l = CDR(l)) {
        value cl = CAR(l);
        if (!is_pair(cl))
            syntax_error("case: bad clause", form);
        value test = CAR(cl) == SYM_(ELSE) ? SYM_(ELSE)
                     : list3(g("%memv"), k, list2(SYM_(QUOTE), CAR(cl)));
        value body = CDR(cl);
        if (is_pair(body) && CAR(body) == SYM_(ARROW))
            body = cons(list2(nth(body, 1, form), k), NIL);
        clauses_rev = cons(cons(test, body), clauses_rev);
    }
    value cond = cons(SYM_(COND), list_reverse(clauses_rev));
    return list3(SYM_(LET), cons(list2(k, nth(form, 1, form)), NIL), cond);
}

/* (do ((var init step)...) (test res...) body...) */
static value rewrite_do(value form)
{
    value loop = fresh_symbol("do-loop");
    value bindings_rev = NIL, steps_rev = NIL;
    for (value l = nth(form, 1, form); is_pair(l); l = CDR(l)) {
        value b = CAR(l);
        if (!is_pair(b) || !is_symbol(CAR(b)))
            syntax_error("do: bad binding", form);
        bindings_rev = cons(list2(CAR(b), nth(b, 1, form)), bindings_rev);
        steps_rev = cons(is_pair(CDR(CDR(b))) ? CAR(CDR(CDR(b))) : CAR(b), steps_rev);
    }
    value end = nth(form, 2, form);
    if (!is_pair(end))
        syntax_error("do: bad end clause", form);
    value again = cons(loop, list_reverse(steps_rev));
    value body = cons(SYM_(BEGIN), list_reverse(cons(again, list_reverse(CDR(CDR(CDR(form)))))));
    value done = CDR(end) == NIL ? UNSPEC : cons(SYM_(BEGIN), CDR(end));
    value iff = cons(SYM_(IF), list3(CAR(end), done, body));
    return cons(SYM_(LET), list3(loop, list_reverse(bindings_rev), iff));
}

static value quasi(value x, int depth)
{
    if (!is_pair(x)) {
        if (is_vector(x)) {
            value l = NIL;
            for (size_t i = obj_len(x); i-- > 0;)
                l = cons(VEC(x)[i], l);
            return list2(g("%list->vector"), quasi(l, depth));
        }
        return is_symbol(x) || x == NIL ? list2(SYM_(QUOTE), x) : x;
    }
    if (CAR(x) == SYM_(UNQUOTE)) {
        if (depth == 1)
            return nth(x, 1, x);
        return list3(g("%list"), list2(SYM_(QUOTE), SYM_(UNQUOTE)), quasi(nth(x, 1, x), depth - 1));
    }
    if (CAR(x) == SYM_(QUASIQUOTE))
        return list3(g("%list"), list2(SYM_(QUOTE), SYM_(QUASIQUOTE)), quasi(nth(x, 1, x), depth + 1));
    if (is_form(CAR(x), SYM_(UNQUOTE_SPLICING)) && depth == 1)
        return list3(g("%append"), nth(CAR(x), 1, x), quasi(CDR(x), depth));
    return list3(g("%cons"), quasi(CAR(x), depth), quasi(CDR(x), depth));
}

static value quoted(value v) { return list2(SYM_(QUOTE), v); }
static value define_lambda(value name, value params, value body)
{
    return list3(SYM_(DEFINE), name, list3(SYM_(LAMBDA), params, body));
}

/* (define-record-type name (ctor field...) pred (field accessor [modifier])...)
 * into definitions of procedures over the %record primitives */
static value rewrite_record(value form)
{
    value name = nth(form, 1, form), ctor = nth(form, 2, form), pred = nth(form, 3, form);
    value specs = CDR(CDR(CDR(CDR(form))));
    value fields_rev = NIL;
    for (value l = specs; is_pair(l); l = CDR(l))
        fields_rev = cons(is_pair(CAR(l)) ? CAR(CAR(l)) : CAR(l), fields_rev);
    value x = intern("record"), v = intern("value");
    value defs_rev = cons(list3(SYM_(DEFINE), name,
                                list3(g("%record-type"), quoted(name), quoted(list_reverse(fields_rev)))),
                          NIL);
    if (is_pair(ctor))
        defs_rev = cons(define_lambda(CAR(ctor), CDR(ctor),
                                      cons(g("%record-make"), cons(name, cons(quoted(CDR(ctor)), CDR(ctor))))),
                        defs_rev);
    if (is_symbol(pred))
        defs_rev = cons(define_lambda(pred, cons(x, NIL), list3(g("%record?"), x, name)), defs_rev);
    for (value l = specs; is_pair(l); l = CDR(l)) {
        value spec = CAR(l);
        if (!is_pair(spec) || !is_pair(CDR(spec)))
            continue;
        value field = quoted(CAR(spec));
        defs_rev = cons(define_lambda(CAR(CDR(spec)), cons(x, NIL),
                                      cons(g("%record-ref"), list3(x, name, field))),
                        defs_rev);
        if (is_pair(CDR(CDR(spec))))
            defs_rev = cons(define_lambda(CAR(CDR(CDR(spec))), list2(x, v),
                                          cons(g("%record-set!"), cons(x, list3(name, field, v)))),
                            defs_rev);
    }
    return cons(SYM_(BEGIN), list_reverse(defs_rev));
}

static value comp_call(value x, value scope)
{
    int64_t n = list_length(x);
    if (n < 0)
        syntax_error("a call is not a proper list", x);
    value c = code(OP_CALL, (size_t)n);
    for (int64_t i = 1; i <= n; i++, x = CDR(x))
        VEC(c)[i] = comp(CAR(x), scope, FALSE_V);
    return c;
}

static value comp_logic(int op, value args, value scope, value form)
{
    int64_t n = list_length(args);
    if (n < 0)
        syntax_error("bad syntax", form);
    if (n == 0)
        return code_const(op == OP_AND ? TRUE_V : FALSE_V);
    if (n == 1)
        return comp(CAR(args), scope, FALSE_V);
    value c = code(op, (size_t)n);
    for (int64_t i = 1; i <= n; i++, args = CDR(args))
        VEC(c)[i] = comp(CAR(args), scope, FALSE_V);
    return c;
}

/* Special forms are recognized by name unless the name is bound locally. */
static value comp(value x, value scope, value name)
{
    check_stack();
    if (is_symbol(x))
        return comp_ref(x, scope);
    if (!is_pair(x)) {
        if (x == NIL)
            syntax_error("() is not an expression (quote it: '())", x);
        return code_const(x);
    }
    value head = CAR(x);
    int64_t d, i;
    if (!is_symbol(head) || lookup(scope, head, &d, &i))
        return comp_call(x, scope);
    if (head == SYM_(QUOTE))
        return code_const(nth(x, 1, x));
    if (head == SYM_(IF)) {
        value rest = CDR(CDR(CDR(x)));
        return comp_if(nth(x, 1, x), nth(x, 2, x), is_pair(rest) ? CAR(rest) : UNSPEC, scope);
    }
    if (head == SYM_(DEFINE)) {
        value expr, target = define_target(x, &expr);
        if (lookup(scope, target, &d, &i))
            return comp_set(target, expr, scope, x);
        value c = code(OP_DEFINE, 2);
        VEC(c)[1] = target;
        VEC(c)[2] = comp(expr, scope, target);
        return c;
    }
    if (head == SYM_(SET))
        return comp_set(nth(x, 1, x), nth(x, 2, x), scope, x);
    if (head == SYM_(LAMBDA))
        return comp_lambda(nth(x, 1, x), CDR(CDR(x)), scope, name, x);
    if (head == SYM_(NAMED_LAMBDA)) {
        value spec = nth(x, 1, x);
        if (!is_pair(spec))
            syntax_error("named-lambda: bad syntax", x);
        return comp_lambda(CDR(spec), CDR(CDR(x)), scope, CAR(spec), x);
    }
    if (head == SYM_(BEGIN))
        return CDR(x) == NIL ? code_const(UNSPEC) : comp_seq(CDR(x), scope, x);
    if (head == SYM_(LET))
        return comp_let(x, scope);
    if (head == SYM_(LET_STAR))
        return comp_let_star(x, scope);
    if (head == SYM_(LETREC) || head == SYM_(LETREC_STAR))
        return comp_letrec(x, scope);
    if (head == SYM_(COND))
        return comp(rewrite_cond(CDR(x), x), scope, name);
    if (head == SYM_(CASE))
        return comp(rewrite_case(x), scope, name);
    if (head == SYM_(AND))
        return comp_logic(OP_AND, CDR(x), scope, x);
    if (head == SYM_(OR))
        return comp_logic(OP_OR, CDR(x), scope, x);
    if (head == SYM_(WHEN) || head == SYM_(UNLESS)) {
        value body = cons(SYM_(BEGIN), CDR(CDR(x)));
        value test = nth(x, 1, x);
        return head == SYM_(WHEN) ? comp_if(test, body, UNSPEC, scope)
                                  : comp_if(test, UNSPEC, body, scope);
    }
    if (head == SYM_(DO))
        return comp(rewrite_do(x), scope, name);
    if (head == SYM_(QUASIQUOTE))
        return comp(quasi(nth(x, 1, x), 1), scope, name);
    if (head == SYM_(DELAY)) {
        value c = code(OP_DELAY, 1);
        VEC(c)[1] = comp_lambda(NIL, CDR(x), scope, FALSE_V, x);
        return c;
    }
    if (head == SYM_(DEFINE_RECORD))
        return comp(rewrite_record(x), scope, name);
    return comp_call(x, scope);
}

value compile(value expr) { return comp(expr, NIL, FALSE_V); }

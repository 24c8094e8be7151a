/* eval.c -- running code trees.  Design: doc/design/scheme.md ("Evaluation").
 *
 * eval loops instead of recursing for every expression in tail position
 * (if's branches, a sequence's last, a call's body), so tail calls take no
 * C stack.  Frames are T_FRAME vectors: slot 0 the parent, then the
 * variables.  Heap objects held in C locals stay put: the collectors scan
 * the C stack conservatively (mem.h).
 */
#include <string.h>

#include "mem.h"
#include "scheme.h"

#define LAMBDA_NPARAMS(l) fix_val(VEC(l)[1])
#define LAMBDA_REST(l) (VEC(l)[2] != make_fix(0))
#define LAMBDA_SIZE(l) fix_val(VEC(l)[3])
#define LAMBDA_BODY(l) (VEC(l)[4])
#define LAMBDA_NAME(l) (VEC(l)[5])

static value make_closure(value lambda, value env)
{
    struct closure *c = mem_alloc(T_CLOSURE, sizeof *c, 0);
    c->code = lambda;
    c->env = env;
    return (value)c;
}

static value new_frame(int64_t size, value parent)
{
    value f = make_obj(T_FRAME, 1 + (size_t)size);
    VEC(f)[0] = parent;
    for (int64_t i = 1; i <= size; i++)
        VEC(f)[i] = UNBOUND;
    return f;
}

static __attribute__((noreturn)) void arity_error(value fn, int argc)
{
    value name = is_type(fn, T_CLOSURE) ? LAMBDA_NAME(((struct closure *)fn)->code)
                                        : ((struct prim *)fn)->name;
    scm_errorv("wrong number of arguments", list2(name == FALSE_V ? fn : name, make_fix(argc)));
}

/* A closure's frame with its arguments bound. */
static value bind_args(value fn, int argc, value *argv)
{
    value lambda = ((struct closure *)fn)->code;
    int64_t n = LAMBDA_NPARAMS(lambda);
    if (argc < n || (argc > n && !LAMBDA_REST(lambda)))
        arity_error(fn, argc);
    value frame = new_frame(LAMBDA_SIZE(lambda), ((struct closure *)fn)->env);
    for (int64_t i = 0; i < n; i++)
        VEC(frame)[1 + i] = argv[i];
    if (LAMBDA_REST(lambda)) {
        value rest = NIL;
        for (int i = argc; i-- > n;)
            rest = cons(argv[i], rest);
        VEC(frame)[1 + n] = rest;
    }
    return frame;
}

static value call_prim(value fn, int argc, value *argv)
{
    const struct prim_def *p = &prim_table[fix_val(((struct prim *)fn)->index)];
    if (argc < p->min_args || (p->max_args >= 0 && argc > p->max_args))
        arity_error(fn, argc);
    return p->fn(argc, argv);
}

/* An escape continuation: jump back to its call/cc, if still there. */
static __attribute__((noreturn)) void throw_to(value k, int argc, value *argv)
{
    struct cont *c = (struct cont *)k;
    struct escape *target = (struct escape *)(uintptr_t)fix_val(c->depth);
    if (c->serial == FALSE_V)
        scm_error("continuation called after its call/cc returned (only escapes are supported)",
                  DEFAULT_V);
    /* find the frame first: a continuation from another process (an image)
     * names no frame here, and must not kill the live ones on the way */
    struct escape *e = escapes;
    while (e && e != target)
        e = e->prev;
    if (!e)
        scm_error("continuation is no longer live", DEFAULT_V);
    for (e = escapes; e != target; e = e->prev)
        if (e->cont)
            ((struct cont *)e->cont)->serial = FALSE_V;
    target->result = argc == 1 ? argv[0] : make_values(argc, argv);
    escapes = target;
    longjmp(target->jb, 1);
}

value make_values(int n, value *v)
{
    value r = make_obj(T_VALUES, (size_t)n);
    memcpy(VEC(r), v, (size_t)n * sizeof(value));
    return r;
}

static value apply_spread(value fn, int argc, value *argv);

value apply(value fn, int argc, value *argv)
{
    if (is_type(fn, T_CLOSURE)) {
        value frame = bind_args(fn, argc, argv);
        return eval(LAMBDA_BODY(((struct closure *)fn)->code), frame);
    }
    if (fn == roots[R_APPLY])
        return apply_spread(fn, argc, argv);
    if (is_type(fn, T_PRIM))
        return call_prim(fn, argc, argv);
    if (is_type(fn, T_CONT))
        throw_to(fn, argc, argv);
    scm_error("not a procedure", fn);
}

/* (apply f a ... list) */
static value apply_spread(value fn, int argc, value *argv)
{
    if (argc < 2)
        arity_error(fn, argc);
    int64_t extra = list_length(argv[argc - 1]);
    if (extra < 0)
        scm_error("apply: last argument is not a list", argv[argc - 1]);
    int n = argc - 2 + (int)extra;
    value spread[n > 0 ? n : 1];
    memcpy(spread, argv + 1, sizeof(value) * (size_t)(argc - 2));
    value l = argv[argc - 1];
    for (int i = argc - 2; i < n; i++, l = CDR(l))
        spread[i] = CAR(l);
    return apply(argv[0], n, spread);
}

static __attribute__((noreturn)) void unbound(value sym)
{
    scm_error("unbound variable", sym);
}

static value local_frame(value env, int64_t depth)
{
    for (; depth > 0; depth--)
        env = VEC(env)[0];
    return env;
}

value eval(value c, value env)
{
    check_stack();
    for (;;) {
        value *f = VEC(c);
        switch (fix_val(f[0])) {
        case OP_CONST:
            return f[1];
        case OP_LOCAL: {
            value v = VEC(local_frame(env, fix_val(f[1])))[1 + fix_val(f[2])];
            if (v == UNBOUND)
                scm_error("variable used before its definition", DEFAULT_V);
            return v;
        }
        case OP_GLOBAL: {
            value v = SYM(f[1])->global;
            if (v == UNBOUND)
                unbound(f[1]);
            return v;
        }
        case OP_SET_LOCAL: {
            value v = eval(f[3], env);
            VEC(local_frame(env, fix_val(f[1])))[1 + fix_val(f[2])] = v;
            return UNSPEC;
        }
        case OP_SET_GLOBAL: {
            value v = eval(f[2], env);
            if (SYM(f[1])->global == UNBOUND)
                scm_error("set! of an undefined variable", f[1]);
            SYM(f[1])->global = v;
            return UNSPEC;
        }
        case OP_DEFINE:
            SYM(f[1])->global = eval(f[2], env);
            return UNSPEC;
        case OP_IF:
            c = eval(f[1], env) != FALSE_V ? f[2] : f[3];
            continue;
        case OP_LAMBDA:
            return make_closure(c, env);
        case OP_SEQ: {
            size_t n = obj_len(c);
            for (size_t i = 1; i + 1 < n; i++)
                eval(f[i], env);
            c = f[n - 1];
            continue;
        }
        case OP_AND:
        case OP_OR: {
            size_t n = obj_len(c);
            int is_and = fix_val(f[0]) == OP_AND;
            size_t i = 1;
            for (; i + 1 < n; i++) {
                value v = eval(f[i], env);
                if ((v == FALSE_V) == is_and)
                    return v;
            }
            c = f[i];
            continue;
        }
        case OP_LET: {
            size_t n = obj_len(c) - 3;
            value frame = new_frame(fix_val(f[1]), env);
            for (size_t i = 0; i < n; i++) {
                value v = eval(f[3 + i], env);
                VEC(frame)[1 + i] = v;
            }
            env = frame;
            c = f[2];
            continue;
        }
        case OP_DELAY: {
            struct promise *p = mem_alloc(T_PROMISE, sizeof *p, 0);
            p->done = FALSE_V;
            p->val = make_closure(f[1], env);
            return (value)p;
        }
        case OP_CALL: {
            int argc = (int)obj_len(c) - 2;
            value fn = eval(f[1], env);
            value argv[argc > 0 ? argc : 1];
            for (int i = 0; i < argc; i++)
                argv[i] = eval(f[2 + i], env);
            if (fn == roots[R_APPLY])
                return apply_spread(fn, argc, argv);
            if (!is_type(fn, T_CLOSURE))
                return apply(fn, argc, argv);
            env = bind_args(fn, argc, argv);
            c = LAMBDA_BODY(((struct closure *)fn)->code);
            continue;
        }
        default:
            scm_error("corrupt code", c);
        }
    }
}

value eval_toplevel(value expr) { return eval(compile(expr), NIL); }

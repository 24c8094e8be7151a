/* value.h -- how vmgc-scheme represents Scheme values.
 * Design: doc/design/scheme.md ("Values").
 *
 * A value is one machine word.  Heap objects are pointers to their first
 * word; everything else has bit 62 or bit 63 set, which no user-space
 * address has, so every word of an object can be declared a pointer slot
 * (VMGC_LAYOUT_ALL_POINTERS): the collector leaves a word alone when it is
 * not an address inside the heap.
 *   bit 63 set         fixnum, 63-bit two's complement in bits 0..62
 *   bits 63..62 = 01   immediate: low byte the kind, the rest its payload;
 *                      an object's first word (its tag) is one too
 *   otherwise          pointer to a heap object
 */
#ifndef SCHEME_VALUE_H
#define SCHEME_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef uintptr_t value;

#define FIX_BIT ((value)1 << 63)
#define IMM_BIT ((value)1 << 62)
#define FIX_MAX (((int64_t)1 << 62) - 1)
#define FIX_MIN (-((int64_t)1 << 62))

static inline int is_fixnum(value v) { return (v & FIX_BIT) != 0; }
static inline int is_imm(value v) { return (v >> 62) == 1; }
static inline int is_ptr(value v) { return (v >> 62) == 0 && v != 0; }
static inline value make_fix(int64_t n) { return (value)n | FIX_BIT; }
static inline int64_t fix_val(value v) { return (int64_t)(v << 1) >> 1; }
static inline int fix_fits(int64_t n) { return n >= FIX_MIN && n <= FIX_MAX; }

/* Immediate kinds (the low byte of an immediate). */
enum imm_kind {
    IK_FALSE = 1,
    IK_TRUE,
    IK_NIL,
    IK_UNSPEC,
    IK_EOF,
    IK_UNBOUND, /* a global without a value; a letrec variable before its init */
    IK_DEFAULT, /* an optional argument not given */
    IK_CHAR,
    IK_TAG = 0x40 /* and up: an object's tag word, kind = IK_TAG + object type */
};

#define MAKE_IMM(kind, payload) (IMM_BIT | ((value)(payload) << 8) | (value)(kind))
#define FALSE_V MAKE_IMM(IK_FALSE, 0)
#define TRUE_V MAKE_IMM(IK_TRUE, 0)
#define NIL MAKE_IMM(IK_NIL, 0)
#define UNSPEC MAKE_IMM(IK_UNSPEC, 0)
#define EOF_V MAKE_IMM(IK_EOF, 0)
#define UNBOUND MAKE_IMM(IK_UNBOUND, 0)
#define DEFAULT_V MAKE_IMM(IK_DEFAULT, 0)

static inline unsigned imm_kind(value v) { return (unsigned)(v & 0xff); }
static inline uint64_t imm_payload(value v) { return (v & ~IMM_BIT) >> 8; }
static inline value make_char(uint32_t c) { return MAKE_IMM(IK_CHAR, c); }
static inline int is_char(value v) { return is_imm(v) && imm_kind(v) == IK_CHAR; }
static inline uint32_t char_val(value v) { return (uint32_t)imm_payload(v); }
static inline value make_bool(int b) { return b ? TRUE_V : FALSE_V; }

/* Object types.  Each is a vmgc type of its own (named "scheme-<name>"),
 * so an image lists its objects by Scheme type. */
enum obj_type {
    T_PAIR,
    T_VECTOR,
    T_STRING,   /* bytes, no pointers */
    T_FLONUM,   /* a double, no pointers */
    T_SYMBOL,
    T_CLOSURE,
    T_PRIM,
    T_FRAME,    /* a lexical environment frame */
    T_CODE,     /* a compiled expression (compile.c) */
    T_TABLE,    /* a hash table */
    T_ENTRY,    /* one entry of a hash table's chain */
    T_PORT,
    T_CONT,     /* an escape continuation */
    T_VALUES,   /* multiple values */
    T_PROMISE,
    T_RECORD,
    T_COUNT
};

/* Every object starts with its tag: its type and a length (elements for a
 * vector, a frame or code, bytes for a string). */
struct obj {
    value tag;
};
#define MAKE_TAG(type, len) MAKE_IMM(IK_TAG + (type), (len))
static inline unsigned obj_type(value v) { return imm_kind(((struct obj *)v)->tag) - IK_TAG; }
static inline uint64_t obj_len(value v) { return imm_payload(((struct obj *)v)->tag); }
static inline int is_type(value v, unsigned t) { return is_ptr(v) && obj_type(v) == t; }

struct pair { value tag, car, cdr; };
struct vector { value tag, items[]; };       /* also frames, code and records */
struct string { value tag; char bytes[]; };  /* len bytes and a NUL */
struct flonum { value tag; double d; };
struct symbol { value tag, name, global, hash; };
struct closure { value tag, code, env; };    /* code: an OP_LAMBDA node */
struct prim { value tag, index, name; };     /* index into the build's primitive table */
struct table { value tag, buckets, count, kind; };
struct entry { value tag, key, val, next; }; /* weak tables: key holds the ephemeron */
struct port { value tag, kind, handle, buf, pos, line; };
struct cont { value tag, depth, serial; };
struct promise { value tag, done, val; };

#define CAR(v) (((struct pair *)(v))->car)
#define CDR(v) (((struct pair *)(v))->cdr)
#define VEC(v) (((struct vector *)(v))->items)
#define STR(v) (((struct string *)(v))->bytes)
#define FLO(v) (((struct flonum *)(v))->d)
#define SYM(v) ((struct symbol *)(v))

static inline int is_pair(value v) { return is_type(v, T_PAIR); }
static inline int is_symbol(value v) { return is_type(v, T_SYMBOL); }
static inline int is_string(value v) { return is_type(v, T_STRING); }
static inline int is_vector(value v) { return is_type(v, T_VECTOR); }
static inline int is_flonum(value v) { return is_type(v, T_FLONUM); }
static inline int is_number(value v) { return is_fixnum(v) || is_flonum(v); }
static inline int is_procedure(value v)
{
    return is_ptr(v) && (obj_type(v) == T_CLOSURE || obj_type(v) == T_PRIM || obj_type(v) == T_CONT);
}

#endif

/* A check of an LMDB data file (format 1, LMDB 0.9) before LMDB maps it.
 *
 * LMDB trusts its file: it reads pages through a memory map, so a damaged page number, node
 * offset or size makes it touch memory past the end of the file (SIGBUS) or outside the map
 * (SIGSEGV), and some damage trips an assertion (abort). Reading the same structures here
 * with pread, and refusing what LMDB could not walk safely, turns any of that into an error
 * naming the database.
 *
 * What LMDB reads, and so what is checked, when a read-only cursor walks the main tree with
 * MDB_FIRST and MDB_NEXT: both meta pages (it picks the one with the larger transaction id;
 * the page size, the last page and the main tree's root, depth, flags and count come from
 * it); from the root down, branch pages (each child's page number; LMDB asserts that a
 * branch of the main tree has at least two keys) and leaf pages (each node's key and, for a
 * value in overflow pages, the page number of its first page and its size). It reads
 * neither the free list nor the overflow pages' headers. The layout (lmdb's mdb.c):
 *   page header, 16 bytes: u64 pgno, u16 pad, u16 flags, u16 lower, u16 upper;
 *     then u16 node offsets (lower - 16) / 2 of them, nodes between upper and the page end
 *   meta, after the header: u32 magic 0xBEEFC0DE, u32 version 1, u64 address,
 *     u64 mapsize, two trees (free, main) of 48 bytes: u32 pad (the free tree's is the page
 *     size), u16 flags, u16 depth, u64 branch, leaf and overflow pages, u64 entries,
 *     u64 root (~0 when empty); then u64 last page, u64 transaction id
 *   node: u16 lo, u16 hi, u16 flags, u16 key size, key; a branch's child is
 *     lo | hi << 16 | flags << 32; a leaf's value size is lo | hi << 16, the value follows
 *     the key or, with flag 1 (big data), a u64 page number does and the value starts 16
 *     bytes into that page.
 * Cost: one read of each branch and leaf page (a few percent of a database of images,
 * whose values sit in overflow pages); see BENCHMARKS.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lmdb_check.h"

enum {
    PAGE_HEADER = 16,
    META_BYTES = 136,
    P_BRANCH = 0x01, P_LEAF = 0x02, P_OVERFLOW = 0x04, P_META = 0x08, P_LEAF2 = 0x20,
    P_SUBP = 0x40,
    P_TYPE = P_BRANCH | P_LEAF | P_OVERFLOW | P_META | P_LEAF2 | P_SUBP,
    F_BIGDATA = 0x01,
    NODE_HEADER = 8,
    MAX_KEY = 511,       /* LMDB's MDB_MAXKEYSIZE */
    MAX_DEPTH = 32,      /* LMDB's CURSOR_STACK */
    MIN_PAGE = 512, MAX_PAGE = 32768
};
#define MAGIC 0xBEEFC0DEu
#define NO_ROOT UINT64_MAX

struct meta {
    uint32_t psize;
    uint16_t flags, depth; /* of the main tree */
    uint64_t entries, root, last_pg, txnid;
};

struct checker {
    const char *db;
    int fd;
    uint64_t size, psize, npages;
    uint8_t *seen; /* a bit a page: reached already */
    uint8_t *page;
    uint64_t entries;
};

static uint16_t u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static uint32_t u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static enum anet_status damaged(const struct checker *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum anet_status damaged(const struct checker *c, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return anet_fail(ANET_ERR_FORMAT, "'%s' is damaged: %s", c->db, why);
}

static enum anet_status read_at(const struct checker *c, uint8_t *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(c->fd, buf + done, n - done, (off_t)(off + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0)
            return anet_fail(ANET_ERR_IO, "cannot read '%s/data.mdb': %s", c->db, strerror(errno));
        if (got == 0) return damaged(c, "data.mdb ends at byte %llu", (unsigned long long)(off + done));
        done += (size_t)got;
    }
    return ANET_OK;
}

/* Meta page i, found as LMDB finds it: the first at 0, the second one page size on. */
static enum anet_status read_meta(const struct checker *c, int i, uint64_t off, struct meta *m)
{
    uint8_t b[PAGE_HEADER + META_BYTES];
    enum anet_status s = read_at(c, b, sizeof b, off);
    if (s) return s;
    const uint8_t *mm = b + PAGE_HEADER;
    if (!(u16(b + 10) & P_META) || u32(mm) != MAGIC)
        return anet_fail(ANET_ERR_FORMAT, "'%s': not an LMDB database (meta page %d)", c->db, i);
    if (u32(mm + 4) != 1)
        return anet_fail(ANET_ERR_FORMAT, "'%s': LMDB data format %u, not 1", c->db, u32(mm + 4));
    m->psize = u32(mm + 24);
    m->flags = u16(mm + 72 + 4);
    m->depth = u16(mm + 72 + 6);
    m->entries = u64(mm + 72 + 32);
    m->root = u64(mm + 72 + 40);
    m->last_pg = u64(mm + 120);
    m->txnid = u64(mm + 128);
    return ANET_OK;
}

/* The meta LMDB will use, and the page geometry it implies. */
static enum anet_status check_metas(struct checker *c, struct meta *use)
{
    struct meta m[2];
    enum anet_status s = read_meta(c, 0, 0, &m[0]);
    if (s) return s;
    uint32_t ps = m[0].psize;
    if (ps < MIN_PAGE || ps > MAX_PAGE || (ps & (ps - 1)))
        return damaged(c, "page size %u", ps);
    if ((s = read_meta(c, 1, ps, &m[1]))) return s;
    if (m[1].psize != ps) return damaged(c, "the meta pages disagree on the page size");
    *use = m[m[1].txnid > m[0].txnid];
    c->psize = ps;
    if (c->size / ps < 2) return damaged(c, "data.mdb is shorter than two pages");
    if (use->last_pg < 1 || use->last_pg >= c->size / ps)
        return damaged(c, "its last page, %llu, is past the end of data.mdb (%llu pages)",
                       (unsigned long long)use->last_pg, (unsigned long long)(c->size / ps));
    c->npages = use->last_pg + 1;
    if (use->flags)
        return anet_fail(ANET_ERR_FORMAT, "'%s': LMDB tree flags 0x%x (sorted duplicates or "
                         "integer keys): not a database of Datum records", c->db, use->flags);
    if (use->root == NO_ROOT) {
        if (use->entries || use->depth) return damaged(c, "an empty tree with records");
        return ANET_OK;
    }
    if (use->root < 2 || use->root >= c->npages)
        return damaged(c, "root page %llu", (unsigned long long)use->root);
    if (use->depth < 1 || use->depth > MAX_DEPTH) return damaged(c, "tree depth %u", use->depth);
    return ANET_OK;
}

/* A leaf node: its key and value inside the page, or a value in overflow pages that ends
 * inside the file. */
static enum anet_status check_leaf_node(const struct checker *c, uint64_t pg, unsigned i,
                                        const uint8_t *node, size_t room)
{
    uint32_t dsize = (uint32_t)u16(node) | (uint32_t)u16(node + 2) << 16;
    uint16_t flags = u16(node + 4), ksize = u16(node + 6);
    if (flags & ~F_BIGDATA) return damaged(c, "page %llu, record %u: node flags 0x%x",
                                           (unsigned long long)pg, i, flags);
    if (ksize > MAX_KEY || NODE_HEADER + (size_t)ksize > room)
        return damaged(c, "page %llu, record %u: key of %u bytes", (unsigned long long)pg, i, ksize);
    room -= NODE_HEADER + ksize;
    if (!(flags & F_BIGDATA)) {
        if (dsize > room)
            return damaged(c, "page %llu, record %u: value of %u bytes", (unsigned long long)pg,
                           i, dsize);
        return ANET_OK;
    }
    if (room < 8) return damaged(c, "page %llu, record %u: cut overflow page number",
                                 (unsigned long long)pg, i);
    uint64_t ov = u64(node + NODE_HEADER + ksize);
    uint64_t limit = c->npages * c->psize; /* bytes LMDB may address */
    if (ov < 2 || ov >= c->npages || ov * c->psize + PAGE_HEADER + (uint64_t)dsize > limit)
        return damaged(c, "page %llu, record %u: value of %u bytes at page %llu",
                       (unsigned long long)pg, i, dsize, (unsigned long long)ov);
    return ANET_OK;
}

/* The pages of one level of the tree. */
struct pages {
    uint64_t *pg;
    size_t n, cap;
};

/* Every page is reached once at most, so a level never holds more than the file has. */
static enum anet_status add_page(const struct checker *c, struct pages *v, uint64_t pg)
{
    if (v->n >= c->npages) return damaged(c, "more tree pages than the file holds");
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        uint64_t *p = realloc(v->pg, cap * sizeof *p);
        if (!p) return anet_fail(ANET_ERR_NOMEM, "out of memory checking '%s'", c->db);
        v->pg = p, v->cap = cap;
    }
    v->pg[v->n++] = pg;
    return ANET_OK;
}

/* One branch or leaf page: header, offsets and nodes; a branch's children go to next. */
static enum anet_status check_page(struct checker *c, uint64_t pg, int leaf, struct pages *next)
{
    if (c->seen[pg / 8] & (1u << (pg % 8)))
        return damaged(c, "page %llu is reached twice", (unsigned long long)pg);
    c->seen[pg / 8] |= (uint8_t)(1u << (pg % 8));
    enum anet_status s = read_at(c, c->page, c->psize, pg * c->psize);
    if (s) return s;
    const uint8_t *p = c->page;
    uint16_t type = u16(p + 10) & P_TYPE, lower = u16(p + 12), upper = u16(p + 14);
    if (u64(p) != pg || type != (leaf ? P_LEAF : P_BRANCH))
        return damaged(c, "page %llu is not the %s page the tree leads to",
                       (unsigned long long)pg, leaf ? "leaf" : "branch");
    if (lower < PAGE_HEADER || (lower & 1) || lower > upper || upper > c->psize)
        return damaged(c, "page %llu: bounds %u..%u", (unsigned long long)pg, lower, upper);
    unsigned keys = (lower - PAGE_HEADER) / 2u;
    if (keys < (leaf ? 1u : 2u))
        return damaged(c, "page %llu: %u keys", (unsigned long long)pg, keys);
    for (unsigned i = 0; i < keys; i++) {
        uint16_t off = u16(p + PAGE_HEADER + 2 * i);
        if (off < upper || (size_t)off + NODE_HEADER > c->psize)
            return damaged(c, "page %llu: node %u at offset %u", (unsigned long long)pg, i, off);
        const uint8_t *node = p + off;
        size_t room = c->psize - off;
        if (leaf) {
            if ((s = check_leaf_node(c, pg, i, node, room))) return s;
            continue;
        }
        uint16_t ksize = u16(node + 6);
        if (ksize > MAX_KEY || NODE_HEADER + (size_t)ksize > room)
            return damaged(c, "page %llu, node %u: key of %u bytes", (unsigned long long)pg, i,
                           ksize);
        uint64_t child = (uint64_t)u16(node) | (uint64_t)u16(node + 2) << 16 |
                         (uint64_t)u16(node + 4) << 32;
        if (child < 2 || child >= c->npages)
            return damaged(c, "page %llu, node %u: child page %llu", (unsigned long long)pg, i,
                           (unsigned long long)child);
        if ((s = add_page(c, next, child))) return s;
    }
    if (leaf) c->entries += keys;
    return ANET_OK;
}

/* The tree level by level: every page of a level is a branch, the last level's leaves. */
static enum anet_status check_tree(struct checker *c, const struct meta *m)
{
    struct pages level = {0}, next = {0};
    enum anet_status s = add_page(c, &level, m->root);
    for (unsigned d = 1; d <= m->depth && !s; d++) {
        for (size_t i = 0; i < level.n && !s; i++)
            s = check_page(c, level.pg[i], d == m->depth, &next);
        free(level.pg);
        level = next;
        next = (struct pages){0};
    }
    free(level.pg);
    if (!s && c->entries != m->entries)
        s = damaged(c, "it counts %llu records but its leaves hold %llu",
                    (unsigned long long)m->entries, (unsigned long long)c->entries);
    return s;
}

enum anet_status anet_lmdb_check(const char *db, const char *file, uint64_t *entries,
                                 uint64_t *file_size)
{
    struct checker c = {.db = db};
    c.fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (c.fd < 0) return anet_fail(ANET_ERR_IO, "cannot open '%s': %s", file, strerror(errno));
    struct stat st;
    enum anet_status s = ANET_OK;
    if (fstat(c.fd, &st) != 0)
        s = anet_fail(ANET_ERR_IO, "cannot read '%s': %s", file, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = anet_fail(ANET_ERR_FORMAT, "'%s': not an LMDB database (data.mdb is not a file)", db);
    c.size = (uint64_t)st.st_size;
    struct meta m = {0};
    if (!s) s = check_metas(&c, &m);
    if (!s && m.root != NO_ROOT) {
        c.seen = calloc(c.npages / 8 + 1, 1);
        c.page = malloc(c.psize);
        if (!c.seen || !c.page) s = anet_fail(ANET_ERR_NOMEM, "out of memory checking '%s'", db);
        else s = check_tree(&c, &m);
    }
    free(c.seen);
    free(c.page);
    close(c.fd);
    if (!s) *entries = m.entries, *file_size = c.size;
    return s;
}

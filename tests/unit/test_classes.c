/* The class table: both file forms, Windows line ends, blank lines, duplicates and bad
 * lines named by line, lookups in a given (unsorted) order, from_names, and a write-read
 * round trip. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "alexnet/data.h"
#include "test.h"

static char dir[] = "/tmp/anet-classes-XXXXXX";

/* Writes text to a file in the test directory; returns its path (static buffer). */
static const char *file_with(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "test: cannot write '%s': %s\n", path, strerror(errno));
        abort();
    }
    return path;
}

static int detail_is(const char *path, const char *rest)
{
    char want[1024];
    snprintf(want, sizeof want, "%s%s", path, rest);
    return !strcmp(anet_error_detail(), want);
}

static int is_zero(const struct anet_classes *c)
{
    return c->count == 0 && !c->wnid && !c->words && !c->by_name;
}

static void test_synset_form(void)
{
    const char *p = file_with("synset_words.txt",
                              "n01440764 tench, Tinca tinca\r\n"
                              "\r\n"
                              "n01443537\tgoldfish, Carassius auratus  \r\n"
                              "   \t \r\n"
                              "n01484850     great white shark\r\n"
                              "n01491361\r\n"
                              "n01494475 \r\n");
    struct anet_classes c;
    enum anet_status s = anet_classes_read(p, &c);
    T_OK(s == ANET_OK && c.count == 5, "synset file with CRLF and blank lines: %d classes (%s)",
         c.count, anet_error_detail());
    if (s) return;
    T_OK(!strcmp(c.wnid[0], "n01440764") && !strcmp(c.words[0], "tench, Tinca tinca") &&
             !strcmp(c.wnid[1], "n01443537") &&
             !strcmp(c.words[1], "goldfish, Carassius auratus") &&
             !strcmp(c.words[2], "great white shark"),
         "wnid and words split at the first run of white space; \\r and trailing blanks gone");
    T_OK(!strcmp(c.wnid[3], "n01491361") && !strcmp(c.words[3], "") &&
             !strcmp(c.wnid[4], "n01494475") && !strcmp(c.words[4], ""),
         "a line with only a wnid has words \"\"");
    anet_classes_free(&c);
    T_OK(is_zero(&c), "free leaves a zeroed table");
}

static void test_tsv_form(void)
{
    const char *p = file_with("classes.tsv",
                              "#index\twnid\twords\n"
                              "0\tn02\tsecond, really\n"
                              "1\tn01\t\n"
                              "\n"
                              "2\tn03\twords\twith a tab\n"
                              "3\tn04\n");
    struct anet_classes c;
    enum anet_status s = anet_classes_read(p, &c);
    T_OK(s == ANET_OK && c.count == 4 && !strcmp(c.wnid[0], "n02") &&
             !strcmp(c.words[0], "second, really") && !strcmp(c.wnid[1], "n01") &&
             !strcmp(c.words[1], "") && !strcmp(c.words[2], "words\twith a tab") &&
             !strcmp(c.wnid[3], "n04") && !strcmp(c.words[3], ""),
         "classes.tsv: order kept, empty words, a tab in words, no words column (%s)",
         anet_error_detail());
    if (!s) anet_classes_free(&c);

    p = file_with("bom.txt", "\xEF\xBB\xBFn01 one\nn02 two\n");
    s = anet_classes_read(p, &c);
    T_OK(s == ANET_OK && c.count == 2 && !strcmp(c.wnid[0], "n01"),
         "a UTF-8 byte-order mark is skipped (%s)", anet_error_detail());
    if (!s) anet_classes_free(&c);
}

static void test_errors(void)
{
    static const struct { const char *text, *says; } bad[] = {
        {"n01 a\nn02 b\n\nn03 c\nn02 again\n", ":5: duplicate class 'n02' (first on line 2)"},
        {"n01 a\r\nn01\r\n", ":2: duplicate class 'n01' (first on line 1)"},
        {"#index\twnid\twords\nx\tn01\ta\n", ":2: bad index 'x'"},
        {"#index\twnid\twords\n0\tn01\ta\n2\tn02\tb\n", ":3: index 2 out of order (expected 1)"},
        {"#index\twnid\twords\n-0\tn01\ta\n", ":2: bad index '-0'"},
        {"#index\twnid\twords\n 0\tn01\ta\n", ":2: bad index ' 0'"},
        {"#index\twnid\twords\n0 n01 a\n", ":2: expected 'index<TAB>wnid<TAB>words'"},
        {"#index\twnid\twords\n0\tn01\ta\n1\t\tb\n", ":3: empty class name"},
        {"#index\twnid\twords\n0\tn01\t\n1\tn01\t\n", ":3: duplicate class 'n01' (first on line 2)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = file_with("bad.txt", bad[i].text);
        struct anet_classes c;
        enum anet_status s = anet_classes_read(p, &c);
        T_OK(s == ANET_ERR_FORMAT && detail_is(p, bad[i].says) && is_zero(&c),
             "refused with '%s' (%s)", bad[i].says, anet_error_detail());
        anet_classes_free(&c);
    }
    struct anet_classes c;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing.txt", dir);
    char want[700];
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", missing);
    T_OK(anet_classes_read(missing, &c) == ANET_ERR_IO && !strcmp(anet_error_detail(), want),
         "a missing file: %s", anet_error_detail());
}

/* A given order that is not sorted, and a table of 1000 shuffled names. */
static void test_find(void)
{
    const char *p = file_with("order.txt", "n03 c\nn01 a\nn02 b\n");
    struct anet_classes c;
    if (anet_classes_read(p, &c)) {
        T_OK(0, "read order.txt: %s", anet_error_detail());
        return;
    }
    T_OK(anet_classes_find(&c, "n03") == 0 && anet_classes_find(&c, "n01") == 1 &&
             anet_classes_find(&c, "n02") == 2 && anet_classes_find(&c, "n04") == -1 &&
             anet_classes_find(&c, "n00") == -1 && anet_classes_find(&c, "") == -1 &&
             anet_classes_find(&c, "n0") == -1,
         "find in an unsorted file order");
    anet_classes_free(&c);

    enum { N = 1000 };
    char *text = malloc(N * 32), *q = text;
    int perm[N];
    for (int i = 0; i < N; i++) perm[i] = i;
    t_seed(3);
    for (int i = N - 1; i > 0; i--) {
        int j = (int)t_uniform(0, i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (int i = 0; i < N; i++) q += sprintf(q, "n%08d class %d\n", perm[i] * 7, i);
    p = file_with("shuffled.txt", text);
    free(text);
    if (anet_classes_read(p, &c)) {
        T_OK(0, "read shuffled.txt: %s", anet_error_detail());
        return;
    }
    int right = 0;
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "n%08d", perm[i] * 7);
        right += anet_classes_find(&c, name) == i;
        snprintf(name, sizeof name, "n%08d", perm[i] * 7 + 1);
        right += anet_classes_find(&c, name) == -1;
    }
    T_OK(right == 2 * N, "1000 shuffled classes: every one found at its line, absent ones not");

    /* a table built by hand has no index: find searches it linearly */
    struct anet_classes hand = {.count = c.count, .wnid = c.wnid, .words = c.words};
    right = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "n%08d", perm[i] * 7);
        right += anet_classes_find(&hand, name) == i;
    }
    T_OK(right == N, "a table built by hand (by_name NULL) is searched too");
    anet_classes_free(&c);
}

static void test_from_names(void)
{
    char *names[] = {"n02", "n10", "n01", "n02", "b", "n10"};
    struct anet_classes c;
    enum anet_status s = anet_classes_from_names(names, 6, &c);
    T_OK(s == ANET_OK && c.count == 4 && !strcmp(c.wnid[0], "b") && !strcmp(c.wnid[1], "n01") &&
             !strcmp(c.wnid[2], "n02") && !strcmp(c.wnid[3], "n10") && !strcmp(c.words[2], ""),
         "from_names sorts (strcmp) and removes duplicates");
    T_OK(s == ANET_OK && anet_classes_find(&c, "n10") == 3 && anet_classes_find(&c, "b") == 0 &&
             anet_classes_find(&c, "n03") == -1,
         "find in a from_names table");
    T_OK(names[0][1] == '0' && !strcmp(names[1], "n10"), "the names given are left alone");
    if (!s) anet_classes_free(&c);

    s = anet_classes_from_names(names, 0, &c);
    T_OK(s == ANET_OK && c.count == 0 && anet_classes_find(&c, "n01") == -1, "no names: no classes");
    anet_classes_free(&c);
    char *empty[] = {"n01", ""};
    T_OK(anet_classes_from_names(empty, 2, &c) == ANET_ERR_INVALID && is_zero(&c),
         "an empty name refused: %s", anet_error_detail());
}

static void test_round_trip(void)
{
    const char *p = file_with("in.txt", "n9 nine, 9\nn1\tone\twith tab\nn5\n");
    struct anet_classes a, b;
    if (anet_classes_read(p, &a)) {
        T_OK(0, "read in.txt: %s", anet_error_detail());
        return;
    }
    char out[600];
    snprintf(out, sizeof out, "%s/out.tsv", dir);
    FILE *f = fopen(out, "w");
    enum anet_status s = anet_classes_write(f, &a);
    fclose(f);
    f = fopen(out, "r");
    char head[64] = "";
    if (!fgets(head, sizeof head, f)) head[0] = 0;
    fclose(f);
    T_OK(s == ANET_OK && !strcmp(head, "#index\twnid\twords\n"), "write: the header line");
    anet_error_clear();
    s = anet_classes_read(out, &b);
    int same = s == ANET_OK && a.count == b.count;
    for (int i = 0; same && i < a.count; i++)
        same = !strcmp(a.wnid[i], b.wnid[i]) && !strcmp(a.words[i], b.words[i]);
    T_OK(same, "write then read gives the same table (%s)", anet_error_detail());
    if (!s) anet_classes_free(&b);
    anet_classes_free(&a);

    char *nl[] = {"bad\nname"};
    if (!anet_classes_from_names(nl, 1, &a)) {
        f = tmpfile();
        T_OK(anet_classes_write(f, &a) == ANET_ERR_INVALID, "a name with a line break is not "
                                                            "written: %s", anet_error_detail());
        fclose(f);
        anet_classes_free(&a);
    }
}

static void remove_dir(void)
{
    const char *names[] = {"synset_words.txt", "classes.tsv", "bom.txt", "bad.txt",
                           "order.txt", "shuffled.txt", "in.txt", "out.tsv"};
    char p[600];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        T_OK(0, "mkdtemp: %s", strerror(errno));
        return t_done();
    }
    test_synset_form();
    test_tsv_form();
    test_errors();
    test_find();
    test_from_names();
    test_round_trip();
    remove_dir();
    return t_done();
}

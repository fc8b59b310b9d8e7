/* Data parallelism across processes (alexnet/dist.h): MPI for the job, its collectives on
 * the host, and a backend's own (NCCL on GPUs) for the gradients where it has them. The
 * one place that knows whether this build has MPI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alexnet/dist.h"
#ifdef ANET_MPI
#include <mpi.h>
#endif

struct anet_dist {
    int rank, size, local_rank, local_size;
    int mpi;                   /* MPI_Init was called here */
    struct anet_backend *be;   /* the backend connected for gradients */
    int nccl;                  /* its all-reduce serves the gradients */
    float *staging;            /* host memory for a backend without it */
    size_t staging_floats;
    char text[256];
#ifdef ANET_MPI
    MPI_Comm comm;
    MPI_Request pending[16]; /* sums started and not yet finished */
    int npending;
#endif
};

/* A launcher's word for the number of processes it started (0: none said). */
static int launched_size(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    return 0;
}

static void describe(struct anet_dist *d, const char *transport)
{
    if (d->size == 1) snprintf(d->text, sizeof d->text, "one process");
    else snprintf(d->text, sizeof d->text, "%.200s, %d processes", transport, d->size);
}

#ifdef ANET_MPI
static enum anet_status mpi_failed(int err, const char *call)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", err);
    return anet_fail(ANET_ERR_IO, "%s: %s", call, text);
}
#define MPI_CHECK(call)                                  \
    do {                                                 \
        int e_ = (call);                                 \
        if (e_ != MPI_SUCCESS) return mpi_failed(e_, #call); \
    } while (0)

/* "Open MPI v4.1.4", in the caller's buf of 64 bytes. */
static const char *mpi_library(char buf[64])
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS) return "MPI";
    v[strcspn(v, ",\n")] = 0;
    snprintf(buf, 64, "%.63s", v);
    return buf;
}
#endif

enum anet_status anet_dist_open(int *argc, char ***argv, struct anet_dist **out)
{
    *out = NULL;
    struct anet_dist *d = calloc(1, sizeof *d);
    if (!d) return anet_fail(ANET_ERR_NOMEM, "out of memory");
    d->size = d->local_size = 1;
#ifdef ANET_MPI
    if (launched_size() > 0) {
        int provided, e = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (e != MPI_SUCCESS) return free(d), mpi_failed(e, "MPI_Init_thread");
        d->mpi = 1;
        /* failures come back as codes, named in the messages, not as an abort */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
        MPI_Comm_rank(d->comm, &d->rank);
        MPI_Comm_size(d->comm, &d->size);
        MPI_Comm local;
        MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local);
        MPI_Comm_rank(local, &d->local_rank);
        MPI_Comm_size(local, &d->local_size);
        MPI_Comm_free(&local);
        char t[160], lib[64];
        snprintf(t, sizeof t, "MPI_Allreduce (%s)", mpi_library(lib));
        describe(d, t);
        *out = d;
        return ANET_OK;
    }
#else
    (void)argc, (void)argv;
    if (launched_size() > 1) {
        free(d);
        return anet_fail(ANET_ERR_UNSUPPORTED, "launched as one of %d processes, but built "
                         "without MPI (make MPI=0): build with Open MPI (libopenmpi-dev) for "
                         "data parallelism", launched_size());
    }
#endif
    describe(d, "");
    *out = d;
    return ANET_OK;
}

int anet_dist_rank(const struct anet_dist *d) { return d ? d->rank : 0; }
int anet_dist_size(const struct anet_dist *d) { return d ? d->size : 1; }
int anet_dist_local_rank(const struct anet_dist *d) { return d ? d->local_rank : 0; }
int anet_dist_local_size(const struct anet_dist *d) { return d ? d->local_size : 1; }
const char *anet_dist_describe(const struct anet_dist *d) { return d ? d->text : "one process"; }

#ifdef ANET_MPI
/* Whether every rank's first lane is a GPU of its own: (machine, GPU) pairs all differ. */
static int gpus_unshared(struct anet_dist *d, struct anet_backend *b)
{
    char host[MPI_MAX_PROCESSOR_NAME + 16] = {0};
    int len = 0;
    MPI_Get_processor_name(host, &len);
    snprintf(host + len, sizeof host - (size_t)len, "#%d", anet_backend_lane_gpu(b, 0));
    char *all = calloc((size_t)d->size, sizeof host);
    if (!all) return 0;
    int fine = MPI_Allgather(host, sizeof host, MPI_CHAR, all, sizeof host, MPI_CHAR,
                             d->comm) == MPI_SUCCESS;
    for (int i = 0; fine && i < d->size; i++)
        for (int j = i + 1; fine && j < d->size; j++)
            fine = strcmp(all + (size_t)i * sizeof host, all + (size_t)j * sizeof host) != 0;
    free(all);
    return fine;
}
#endif

enum anet_status anet_dist_connect(struct anet_dist *d, struct anet_backend *b)
{
    if (!d || d->size == 1) return ANET_OK;
    d->be = b;
#ifdef ANET_MPI
    char t[200], lib[64];
    if (b->host_memory) {
        snprintf(t, sizeof t, "MPI_Allreduce (%s)", mpi_library(lib));
        describe(d, t);
        return ANET_OK;
    }
    const char *why = "NCCL is not in this build";
    if (b->ops->comm_init) {
        why = "two ranks share a GPU";
        if (gpus_unshared(d, b)) {
            /* a communicator for each lane: lane l of every rank together */
            enum anet_status s = ANET_OK;
            for (int l = 0; l < b->lanes && !s; l++) {
                unsigned char id[ANET_COMM_ID_BYTES];
                if (d->rank == 0) s = b->ops->comm_id(b, id);
                int ok = anet_dist_first_failure(d, !s) < 0;
                if (!ok) return s ? s : anet_fail(ANET_ERR_DEVICE, "rank 0 could not make a "
                                                  "NCCL id");
                MPI_CHECK(MPI_Bcast(id, sizeof id, MPI_BYTE, 0, d->comm));
                s = b->ops->comm_init(b, l, id, d->rank, d->size);
                int first = anet_dist_first_failure(d, !s);
                if (first >= 0 && !s)
                    s = anet_fail(ANET_ERR_DEVICE, "rank %d could not join NCCL", first);
            }
            if (s) return s;
            d->nccl = 1;
            snprintf(t, sizeof t, "%.60s over MPI, a GPU each", b->ops->comm_name(b));
            describe(d, t);
            return ANET_OK;
        }
    }
    snprintf(t, sizeof t, "MPI_Allreduce through host memory (%s; %s)", why, mpi_library(lib));
    describe(d, t);
    return ANET_OK;
#else
    return ANET_OK;
#endif
}

#ifdef ANET_MPI
/* A span of device memory summed through host memory: down, MPI, up. */
static enum anet_status sum_staged(struct anet_dist *d, struct anet_backend *b,
                                   const struct anet_span *sp)
{
    if (d->staging_floats < sp->count) {
        if (d->staging) b->ops->host_free(b, d->staging);
        d->staging = b->ops->host_alloc(b, sp->count * sizeof(float));
        d->staging_floats = d->staging ? sp->count : 0;
        if (!d->staging) return anet_fail(ANET_ERR_NOMEM, "no host memory to sum %zu gradients",
                                          sp->count);
    }
    b->ops->use(b, sp->lane);
    b->ops->download(b, d->staging, sp->data, sp->count * sizeof(float));
    enum anet_status s = b->ops->error(b);
    if (s) return s;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, d->staging, (int)sp->count, MPI_FLOAT, MPI_SUM,
                            d->comm));
    b->ops->upload(b, sp->data, d->staging, sp->count * sizeof(float));
    return b->ops->error(b);
}
#endif

enum anet_status anet_dist_sum_gradients(struct anet_dist *d, struct anet_backend *b,
                                         const struct anet_span *spans, int count)
{
    if (!d || d->size == 1) return ANET_OK;
#ifdef ANET_MPI
    for (int i = 0; i < count; i++) {
        const struct anet_span *sp = &spans[i];
        if (sp->count > (size_t)0x7fffffff)
            return anet_fail(ANET_ERR_UNSUPPORTED, "%zu gradients in one block", sp->count);
        if (b->host_memory) {
            MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, sp->data, (int)sp->count, MPI_FLOAT, MPI_SUM,
                                    d->comm));
        } else if (d->nccl) {
            b->ops->use(b, sp->lane);
            b->ops->allreduce(b, sp->data, sp->count);
        } else {
            enum anet_status s = sum_staged(d, b, sp);
            if (s) return s;
        }
    }
    b->ops->use(b, spans[0].lane);
    return b->ops->error(b);
#else
    (void)b, (void)spans, (void)count;
    return ANET_OK;
#endif
}

enum anet_status anet_dist_start_sum(struct anet_dist *d, float *data, size_t count)
{
    if (!d || d->size == 1 || !count) return ANET_OK;
#ifdef ANET_MPI
    if (d->npending == (int)(sizeof d->pending / sizeof *d->pending) || count > 0x7fffffff)
        return anet_fail(ANET_ERR_INTERNAL, "too many sums at once");
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data, (int)count, MPI_FLOAT, MPI_SUM, d->comm,
                             &d->pending[d->npending]));
    d->npending++;
#else
    (void)data;
#endif
    return ANET_OK;
}

void anet_dist_progress(struct anet_dist *d)
{
#ifdef ANET_MPI
    int done;
    if (d && d->npending) MPI_Testall(d->npending, d->pending, &done, MPI_STATUSES_IGNORE);
#else
    (void)d;
#endif
}

enum anet_status anet_dist_finish(struct anet_dist *d)
{
#ifdef ANET_MPI
    if (!d || !d->npending) return ANET_OK;
    int n = d->npending;
    d->npending = 0;
    MPI_CHECK(MPI_Waitall(n, d->pending, MPI_STATUSES_IGNORE));
#else
    (void)d;
#endif
    return ANET_OK;
}

enum anet_status anet_dist_sum(struct anet_dist *d, double *v, int n)
{
    if (!d || d->size == 1) return ANET_OK;
#ifdef ANET_MPI
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, d->comm));
#else
    (void)v, (void)n;
#endif
    return ANET_OK;
}

enum anet_status anet_dist_broadcast(struct anet_dist *d, void *buf, size_t bytes)
{
    if (!d || d->size == 1) return ANET_OK;
#ifdef ANET_MPI
    for (size_t at = 0; at < bytes;) { /* in pieces an int can count */
        size_t piece = bytes - at < ((size_t)1 << 30) ? bytes - at : (size_t)1 << 30;
        MPI_CHECK(MPI_Bcast((char *)buf + at, (int)piece, MPI_BYTE, 0, d->comm));
        at += piece;
    }
#else
    (void)buf, (void)bytes;
#endif
    return ANET_OK;
}

int anet_dist_same(struct anet_dist *d, uint64_t v)
{
    if (!d || d->size == 1) return 1;
#ifdef ANET_MPI
    uint64_t lo = v, hi = v;
    if (MPI_Allreduce(&v, &lo, 1, MPI_UINT64_T, MPI_MIN, d->comm) != MPI_SUCCESS ||
        MPI_Allreduce(&v, &hi, 1, MPI_UINT64_T, MPI_MAX, d->comm) != MPI_SUCCESS)
        return 0;
    return lo == hi;
#else
    return 1;
#endif
}

int anet_dist_max(struct anet_dist *d, int v)
{
    if (!d || d->size == 1) return v;
#ifdef ANET_MPI
    int most = v;
    if (MPI_Allreduce(&v, &most, 1, MPI_INT, MPI_MAX, d->comm) != MPI_SUCCESS) return v;
    return most;
#else
    return v;
#endif
}

int anet_dist_first_failure(struct anet_dist *d, int ok)
{
    if (!d || d->size == 1) return ok ? -1 : 0;
#ifdef ANET_MPI
    int mine = ok ? d->size : d->rank, first = mine;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm) != MPI_SUCCESS) return d->rank;
    return first < d->size ? first : -1;
#else
    return ok ? -1 : 0;
#endif
}

void anet_dist_close(struct anet_dist *d)
{
    if (!d) return;
    if (d->staging && d->be) d->be->ops->host_free(d->be, d->staging);
#ifdef ANET_MPI
    if (d->mpi) {
        MPI_Comm_free(&d->comm);
        MPI_Finalize();
    }
#endif
    free(d);
}

_Noreturn void anet_dist_abort(struct anet_dist *d, int code)
{
#ifdef ANET_MPI
    if (d && d->mpi) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)d;
#endif
    exit(code);
}

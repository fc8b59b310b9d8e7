/* Sums across processes on the GPU with NCCL (alexnet/dist.h makes the job and hands the
 * id around over MPI): a communicator for each lane, all-reduce on the lane's stream, in
 * the order the ops were issued there, so the update that follows reads the sum. A build
 * without NCCL leaves the table's entries NULL and the sums go through host memory. */
#include <stdio.h>
#include "common.cuh"
#ifdef ANET_NCCL
#include <nccl.h>

static int nccl_ok(struct anet_cuda *cx, ncclResult_t r, const char *call, const char *file,
                   int line)
{
    if (r == ncclSuccess) return 1;
    return anet_cuda_fail_call(cx, call, ncclGetErrorString(r), file, line);
}
#define NCCL(cx, call) nccl_ok((cx), (call), #call, __FILE__, __LINE__)

static enum anet_status comm_id(struct anet_backend *b, void *id)
{
    struct anet_cuda *cx = cuda_of(b);
    ncclUniqueId u;
    if (NCCL(cx, ncclGetUniqueId(&u))) memcpy(id, &u, sizeof u);
    return anet_cuda_error(cx);
}

static enum anet_status comm_init(struct anet_backend *b, int lane, const void *id, int rank,
                                  int size)
{
    struct anet_cuda *cx = cuda_of(b);
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    anet_cuda_use(cx, lane);
    anet_cuda_enter(cx);
    ncclComm_t c = NULL;
    if (anet_cuda_ok(cx) && NCCL(cx, ncclCommInitRank(&c, size, u, rank))) cx->comm[lane] = c;
    anet_cuda_use(cx, 0);
    return anet_cuda_error(cx);
}

static void allreduce(struct anet_backend *b, float *data, size_t count)
{
    struct anet_cuda *cx = cuda_of(b);
    anet_cuda_enter(cx);
    int lane = (int)(cx->cur - cx->lane);
    if (!anet_cuda_ok(cx)) return;
    if (!cx->comm[lane]) {
        anet_cuda_fail_msg(cx, "an all-reduce on a lane without a communicator", __FILE__,
                           __LINE__);
        return;
    }
    NCCL(cx, ncclAllReduce(data, data, count, ncclFloat, ncclSum, (ncclComm_t)cx->comm[lane],
                           cx->cur->stream));
}

static const char *comm_name(struct anet_backend *b)
{
    (void)b;
    static const char name[] = "NCCL " ANET_STR(NCCL_MAJOR) "." ANET_STR(NCCL_MINOR) "."
        ANET_STR(NCCL_PATCH);
    return name;
}

void anet_cuda_comm_table(struct anet_backend_ops *o)
{
    o->comm_id = comm_id, o->comm_init = comm_init, o->allreduce = allreduce;
    o->comm_name = comm_name;
}

void anet_cuda_comm_free(struct anet_cuda *cx)
{
    for (int l = 0; l < ANET_MAX_LANES; l++)
        if (cx->comm[l]) {
            NCCL(cx, ncclCommDestroy((ncclComm_t)cx->comm[l]));
            cx->comm[l] = NULL;
        }
}
#else
void anet_cuda_comm_table(struct anet_backend_ops *o) { (void)o; }
void anet_cuda_comm_free(struct anet_cuda *cx) { (void)cx; }
#endif

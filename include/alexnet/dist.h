/* Data parallelism across processes: the ranks of an MPI job (Open MPI's mpirun, or srun),
 * each computing its share of every global batch, their gradients summed before every
 * update so that every rank holds the same weights.
 *
 * The transport is the field's: on the CPU, MPI_Allreduce in place over the one block of
 * gradients; on GPUs, NCCL's all-reduce on the compute lane's stream, its communicators
 * made from an id that rank 0 broadcasts over MPI, one GPU a rank; where NCCL cannot serve
 * (a build without it, two ranks on one GPU), MPI_Allreduce through host memory. A build
 * without MPI (make MPI=0) runs one process, and refuses to be launched as several. */
#ifndef ANET_DIST_H
#define ANET_DIST_H

#include <stddef.h>
#include <stdint.h>
#include "backend.h"
#include "model.h"
#include "status.h"

struct anet_dist;

/* Joins the job: with MPI, MPI_Init and this process's rank; without a launcher, one rank
 * of one. ANET_ERR_UNSUPPORTED for a build without MPI that a launcher started as one of
 * several processes. */
enum anet_status anet_dist_open(int *argc, char ***argv, struct anet_dist **out);
int anet_dist_rank(const struct anet_dist *d);
int anet_dist_size(const struct anet_dist *d);
int anet_dist_local_rank(const struct anet_dist *d); /* among the ranks on this machine */
int anet_dist_local_size(const struct anet_dist *d);
/* "one process", or the transport and the job: "MPI_Allreduce (Open MPI v4.1.4), 2
 * processes", "NCCL 2.28 over MPI, 8 processes, a GPU each", "MPI_Allreduce through host
 * memory (two ranks share a GPU), 2 processes". */
const char *anet_dist_describe(const struct anet_dist *d);

/* Prepares the sum of the gradients of models on backend b: NCCL communicators for its
 * lanes where NCCL can serve, else host buffers for MPI. Collective: every rank calls it. */
enum anet_status anet_dist_connect(struct anet_dist *d, struct anet_backend *b);
/* Sums the spans (anet_model_gradients) across the ranks, in place. Collective. */
enum anet_status anet_dist_sum_gradients(struct anet_dist *d, struct anet_backend *b,
                                         const struct anet_span *spans, int count);
/* The same sums started layer by layer while backward goes on (host memory only: a CPU
 * backend): start sums count floats in place with MPI_Iallreduce, progress lets MPI move
 * what it can, finish waits for every sum started. Every rank starts the same sums in the
 * same order. */
enum anet_status anet_dist_start_sum(struct anet_dist *d, float *data, size_t count);
void anet_dist_progress(struct anet_dist *d);
enum anet_status anet_dist_finish(struct anet_dist *d);
/* Sums n doubles across the ranks, in place. Collective. */
enum anet_status anet_dist_sum(struct anet_dist *d, double *v, int n);
/* Rank 0's bytes to every rank. Collective. */
enum anet_status anet_dist_broadcast(struct anet_dist *d, void *buf, size_t bytes);
/* 1 when every rank's v is the same (a checksum), else 0. Collective. */
int anet_dist_same(struct anet_dist *d, uint64_t v);
/* The largest v of every rank. Collective. */
int anet_dist_max(struct anet_dist *d, int v);
/* The lowest rank whose ok is 0, or -1 when every rank's is 1. Collective. */
int anet_dist_first_failure(struct anet_dist *d, int ok);

/* Leaves the job: MPI_Finalize. */
void anet_dist_close(struct anet_dist *d);
/* Ends the whole job now, every rank, with this exit code (MPI_Abort): for a failure one
 * rank met alone while the others may wait for it in a collective. */
_Noreturn void anet_dist_abort(struct anet_dist *d, int code);

#endif

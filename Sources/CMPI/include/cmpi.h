// cmpi.h — the only view of MPI that Swift gets.
//
// Plain C over OpenMPI: no MPI type, handle or macro crosses this header. Every function
// returns 0 on success or an MPI error code; cmpi_error_string() turns a code into MPI's text.
// The shim keeps one private duplicate of MPI_COMM_WORLD (created by cmpi_init) and a
// node-local communicator split from it; all collectives run on the private one.
// Like swift-numerics' shims, this is an implementation detail, not a stable API.
#ifndef CMPI_H
#define CMPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Initialises MPI (MPI_Init_thread, FUNNELED) unless it already is, duplicates
/// MPI_COMM_WORLD and splits the node-local communicator. Errors return instead of aborting.
int cmpi_init(void);
/// Frees the communicators; finalises MPI only if cmpi_init initialised it.
int cmpi_finalize(void);
/// 1 once cmpi_init succeeded and cmpi_finalize has not run.
int cmpi_is_ready(void);

int cmpi_rank(int *rank);
int cmpi_size(int *size);
int cmpi_local_rank(int *rank);   // rank among the processes sharing this node's memory
int cmpi_local_size(int *size);

// In-place allreduce over the private world communicator.
int cmpi_allreduce_sum_f32(float *buffer, int64_t count);
int cmpi_allreduce_sum_f64(double *buffer, int64_t count);
int cmpi_allreduce_max_f32(float *buffer, int64_t count);
int cmpi_allreduce_max_f64(double *buffer, int64_t count);
int cmpi_allreduce_min_f64(double *buffer, int64_t count);

/// Broadcast of raw bytes from `root`; counts above 2^31 − 1 are sent in chunks.
int cmpi_broadcast_bytes(void *buffer, int64_t count, int root);
/// Gathers `count` bytes from every rank into `receive` (size × count bytes) on `root`.
int cmpi_gather_bytes(const void *send, void *receive, int64_t count, int root);
/// Gathers `count` bytes from every rank into `receive` (size × count bytes, in rank order) on
/// every rank.
int cmpi_allgather_bytes(const void *send, void *receive, int64_t count);

int cmpi_barrier(void);
/// Ends every process of the job with `code`. Does not return on success.
int cmpi_abort(int code);
double cmpi_wtime(void);

/// MPI_Get_library_version into `out` (NUL-terminated, at most `capacity` bytes).
int cmpi_library_version(char *out, int capacity);
/// MPI_Error_string for `code` into `out` (NUL-terminated).
void cmpi_error_string(int code, char *out, int capacity);

#ifdef __cplusplus
}
#endif
#endif
